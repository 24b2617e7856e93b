//! Internal events: one small struct per notable occurrence, whose [`InternalEvent::emit`] writes
//! the log line (with structured fields) and updates the metrics together, so the two never drift
//! apart (the model is Vector's `src/internal_events/`).
//!
//! Log levels follow Vector's rules: ERROR needs an operator, WARN was recovered from, and
//! nothing that happens once per message is logged above DEBUG unless it went wrong. Metric
//! names come from [`super::names`] only; labels stay low-cardinality (never an id).

use super::names;
use std::time::Duration;

/// Something worth observing: it logs and counts in one call.
pub trait InternalEvent {
    /// Writes the log line and updates the metrics.
    fn emit(&self);
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn observe_processing(consumer: &str, elapsed: Duration) {
    metrics::histogram!(names::EVENT_PROCESSING_SECONDS.name, "consumer" => consumer.to_owned())
        .record(elapsed.as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// Bus: the consume loop and the producer.

/// A consumer's handler succeeded; the event's offset is stored.
#[derive(Debug)]
pub struct EventHandled<'a> {
    /// Consumer name (`validate`, `enforce`, …).
    pub consumer: &'a str,
    /// The event id.
    pub event_id: &'a str,
    /// How long the handler run took.
    pub elapsed: Duration,
}

impl InternalEvent for EventHandled<'_> {
    fn emit(&self) {
        tracing::debug!(
            consumer = self.consumer,
            event = self.event_id,
            elapsed_ms = millis(self.elapsed),
            message = "event handled"
        );
        metrics::counter!(names::EVENTS_HANDLED.name, "consumer" => self.consumer.to_owned())
            .increment(1);
        observe_processing(self.consumer, self.elapsed);
    }
}

/// A batch's handler failed (or panicked): nothing of it is kept (its transaction rolled back),
/// and each of its events is handled on its own, so that only the event at fault is retried or
/// quarantined.
#[derive(Debug)]
pub struct BatchFellBack<'a> {
    /// Consumer name.
    pub consumer: &'a str,
    /// Events in the batch.
    pub events: usize,
    /// Why the batch failed.
    pub error: &'a str,
}

impl InternalEvent for BatchFellBack<'_> {
    fn emit(&self) {
        tracing::warn!(
            consumer = self.consumer,
            events = self.events,
            error = self.error,
            message = "batch failed; handling its events one at a time"
        );
        metrics::counter!(names::BATCHES_FELL_BACK.name, "consumer" => self.consumer.to_owned())
            .increment(1);
    }
}

/// A handler failed permanently: the event is skipped and its offset stored.
#[derive(Debug)]
pub struct EventFailed<'a> {
    /// Consumer name.
    pub consumer: &'a str,
    /// The event id.
    pub event_id: &'a str,
    /// Why.
    pub error: &'a anyhow::Error,
    /// How long the handler run took.
    pub elapsed: Duration,
}

impl InternalEvent for EventFailed<'_> {
    fn emit(&self) {
        tracing::error!(
            consumer = self.consumer,
            event = self.event_id,
            error = %format!("{:#}", self.error),
            elapsed_ms = millis(self.elapsed),
            message = "event failed permanently; skipped"
        );
        metrics::counter!(names::EVENTS_FAILED.name, "consumer" => self.consumer.to_owned())
            .increment(1);
        observe_processing(self.consumer, self.elapsed);
    }
}

/// A handler failed transiently: the event is retried after `retry_in`, offset not stored.
#[derive(Debug)]
pub struct EventRetried<'a> {
    /// Consumer name.
    pub consumer: &'a str,
    /// The event id.
    pub event_id: &'a str,
    /// Why.
    pub error: &'a anyhow::Error,
    /// Back-off before the next run.
    pub retry_in: Duration,
    /// How long the failed handler run took.
    pub elapsed: Duration,
}

impl InternalEvent for EventRetried<'_> {
    fn emit(&self) {
        tracing::warn!(
            consumer = self.consumer,
            event = self.event_id,
            error = %format!("{:#}", self.error),
            retry_in_ms = millis(self.retry_in),
            elapsed_ms = millis(self.elapsed),
            message = "transient failure; retrying"
        );
        metrics::counter!(names::EVENTS_RETRIED.name, "consumer" => self.consumer.to_owned())
            .increment(1);
        observe_processing(self.consumer, self.elapsed);
    }
}

/// A message that is not an event envelope (no payload, or not the envelope's JSON): skipped.
#[derive(Debug)]
pub struct EventUndecodable<'a> {
    /// Consumer name.
    pub consumer: &'a str,
    /// The JSON error, or `None` for a message without payload.
    pub error: Option<&'a serde_json::Error>,
}

impl InternalEvent for EventUndecodable<'_> {
    fn emit(&self) {
        let problem = self
            .error
            .map_or_else(|| "no payload".to_owned(), ToString::to_string);
        tracing::error!(
            consumer = self.consumer,
            problem,
            message = "undecodable event set aside"
        );
        metrics::counter!(names::BUS_EVENTS_UNDECODABLE.name, "consumer" => self.consumer.to_owned())
            .increment(1);
    }
}

/// A consumer set an event aside (quarantine) and moved on.
#[derive(Debug)]
pub struct EventQuarantined<'a> {
    /// Consumer (stage) name.
    pub consumer: &'a str,
    /// Event id, when readable.
    pub event_id: Option<&'a str>,
    /// permanent, undecodable, panic, retries-exhausted.
    pub reason: &'a str,
    /// The last error.
    pub error: &'a str,
    /// Attempts made.
    pub attempts: u32,
    /// Its quarantine id.
    pub quarantine_id: i64,
}

impl InternalEvent for EventQuarantined<'_> {
    fn emit(&self) {
        tracing::error!(
            consumer = self.consumer,
            event = self.event_id,
            reason = self.reason,
            error = self.error,
            attempts = self.attempts,
            quarantine_id = self.quarantine_id,
            message = "event quarantined; the consumer moves on"
        );
        metrics::counter!(names::QUARANTINED.name, "stage" => self.consumer.to_owned(), "reason" => self.reason.to_owned())
            .increment(1);
    }
}

/// How long the event a consumer is retrying has been failing (0: retrying nothing).
#[derive(Debug)]
pub struct RetryingAge<'a> {
    /// Consumer name.
    pub consumer: &'a str,
    /// Since the first failure.
    pub age: Duration,
}

impl InternalEvent for RetryingAge<'_> {
    fn emit(&self) {
        metrics::gauge!(names::CONSUMER_RETRYING_AGE.name, "consumer" => self.consumer.to_owned())
            .set(self.age.as_secs_f64());
    }
}

/// Recording what a consumer is retrying (for the operators' overview) failed; the retry goes on.
#[derive(Debug)]
pub struct RetryStateNotSaved<'a> {
    /// Consumer name.
    pub consumer: &'a str,
    /// Why.
    pub error: &'a str,
}

impl InternalEvent for RetryStateNotSaved<'_> {
    fn emit(&self) {
        tracing::debug!(
            consumer = self.consumer,
            error = self.error,
            message = "could not record the retry for the overview"
        );
    }
}

/// The gateway measured one consumer group for the operators' overview.
#[derive(Debug)]
pub struct ConsumerMeasured<'a> {
    /// Consumer group (unprefixed).
    pub group: &'a str,
    /// Broker-side lag; `None` when the broker did not answer (the gauge keeps its last value).
    pub lag: Option<i64>,
    /// Seconds the oldest unprocessed event has waited.
    pub oldest_unprocessed_age_s: Option<i64>,
    /// Red on the overview.
    pub stuck: bool,
}

impl InternalEvent for ConsumerMeasured<'_> {
    fn emit(&self) {
        if self.stuck {
            tracing::debug!(
                group = self.group,
                lag = self.lag,
                age_s = self.oldest_unprocessed_age_s,
                message = "consumer group stuck"
            );
        }
        if let Some(lag) = self.lag {
            metrics::gauge!(names::CONSUMER_LAG.name, "group" => self.group.to_owned())
                .set(lag as f64);
        }
        metrics::gauge!(names::CONSUMER_OLDEST_UNPROCESSED_AGE.name, "group" => self.group.to_owned())
            .set(self.oldest_unprocessed_age_s.unwrap_or(0) as f64);
        metrics::gauge!(names::CONSUMER_STUCK.name, "group" => self.group.to_owned())
            .set(if self.stuck { 1.0 } else { 0.0 });
    }
}

/// The gateway counted the receipt records in one status.
#[derive(Debug)]
pub struct RecordsCounted<'a> {
    /// The status.
    pub status: &'a str,
    /// Records in it.
    pub count: i64,
}

impl InternalEvent for RecordsCounted<'_> {
    fn emit(&self) {
        metrics::gauge!(names::RECORDS_BY_STATUS.name, "status" => self.status.to_owned())
            .set(self.count as f64);
    }
}

/// The gateway measured webhook delivery for the operators' overview.
#[derive(Debug)]
pub struct WebhooksMeasured {
    /// Receivers failing as a whole now.
    pub receivers_failing: i64,
    /// Deliveries waiting.
    pub deliveries_pending: i64,
}

impl InternalEvent for WebhooksMeasured {
    fn emit(&self) {
        metrics::gauge!(names::WEBHOOK_RECEIVERS_FAILING.name).set(self.receivers_failing as f64);
        metrics::gauge!(names::WEBHOOK_DELIVERIES_PENDING.name).set(self.deliveries_pending as f64);
    }
}

/// The gateway checked whether a dependency (bus, store, index) answers.
#[derive(Debug)]
pub struct DependencyChecked<'a> {
    /// `bus`, `store` or `index`.
    pub dependency: &'a str,
    /// It answered.
    pub up: bool,
}

impl InternalEvent for DependencyChecked<'_> {
    fn emit(&self) {
        if !self.up {
            tracing::debug!(dependency = self.dependency, message = "dependency down");
        }
        metrics::gauge!(names::DEPENDENCY_UP.name, "dependency" => self.dependency.to_owned())
            .set(if self.up { 1.0 } else { 0.0 });
    }
}

/// Setting an event aside failed (the store is down): the consumer keeps it and tries again.
#[derive(Debug)]
pub struct QuarantineFailed<'a> {
    /// Consumer name.
    pub consumer: &'a str,
    /// Why.
    pub error: &'a dyn std::error::Error,
}

impl InternalEvent for QuarantineFailed<'_> {
    fn emit(&self) {
        tracing::warn!(
            consumer = self.consumer,
            error = %self.error,
            message = "could not set the event aside; retrying"
        );
    }
}

/// Receiving from the broker failed; the loop tries again after a pause.
#[derive(Debug)]
pub struct ReceiveFailed<'a> {
    /// Consumer name.
    pub consumer: &'a str,
    /// librdkafka's error.
    pub error: &'a rdkafka::error::KafkaError,
}

impl InternalEvent for ReceiveFailed<'_> {
    fn emit(&self) {
        tracing::warn!(consumer = self.consumer, error = %self.error, message = "receive failed");
        metrics::counter!(names::BUS_RECEIVE_ERRORS.name, "consumer" => self.consumer.to_owned())
            .increment(1);
    }
}

/// The broker acknowledged `count` events on `topic`.
#[derive(Debug)]
pub struct EventsProduced<'a> {
    /// Topic name without the prefix.
    pub topic: &'a str,
    /// How many.
    pub count: usize,
}

impl InternalEvent for EventsProduced<'_> {
    fn emit(&self) {
        tracing::debug!(
            topic = self.topic,
            count = self.count,
            message = "events produced"
        );
        metrics::counter!(names::BUS_EVENTS_PRODUCED.name, "topic" => self.topic.to_owned())
            .increment(self.count as u64);
    }
}

/// The outbox relay could not send an event; it stays queued and is sent on a later round.
#[derive(Debug)]
pub struct OutboxSendFailed<'a> {
    /// The bus error.
    pub error: &'a crate::bus::BusError,
}

impl InternalEvent for OutboxSendFailed<'_> {
    fn emit(&self) {
        tracing::warn!(error = %self.error, message = "outbox relay: send failed; will retry");
        metrics::counter!(names::OUTBOX_SEND_FAILURES.name).increment(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Ingest.

/// A document was stored and its `received` event is on the bus.
#[derive(Debug)]
pub struct DocumentReceived<'a> {
    /// Receipt id.
    pub receipt: &'a str,
    /// Records in it.
    pub records: usize,
}

impl InternalEvent for DocumentReceived<'_> {
    fn emit(&self) {
        tracing::debug!(
            receipt = self.receipt,
            records = self.records,
            message = "document received"
        );
        metrics::counter!(names::DOCUMENTS_RECEIVED.name).increment(1);
        metrics::counter!(names::RECORDS_RECEIVED.name).increment(self.records as u64);
    }
}

/// A well-formed document was refused (503) because the store was unavailable (the bus is not needed to accept).
#[derive(Debug)]
pub struct DocumentNotAccepted<'a> {
    /// Why.
    pub error: &'a anyhow::Error,
}

impl InternalEvent for DocumentNotAccepted<'_> {
    fn emit(&self) {
        tracing::error!(
            error = %format!("{:#}", self.error),
            message = "document not accepted: store unavailable"
        );
        metrics::counter!(names::DOCUMENTS_NOT_ACCEPTED.name).increment(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Validate.

/// A stored document could not be parsed: rejected whole.
#[derive(Debug)]
pub struct DocumentUnreadable<'a> {
    /// Receipt id.
    pub receipt: &'a str,
    /// The document rule that failed (low-cardinality: a rule code).
    pub rule: &'a str,
}

impl InternalEvent for DocumentUnreadable<'_> {
    fn emit(&self) {
        tracing::debug!(
            receipt = self.receipt,
            rule = self.rule,
            message = "document unreadable; rejected"
        );
        metrics::counter!(names::DOCUMENTS_UNREADABLE.name, "rule" => self.rule.to_owned())
            .increment(1);
    }
}

/// A record passed validation.
#[derive(Debug)]
pub struct RecordValid<'a> {
    /// Receipt id.
    pub receipt: &'a str,
    /// Position in the document.
    pub index: i32,
    /// The notice it became.
    pub notice_id: &'a str,
}

impl InternalEvent for RecordValid<'_> {
    fn emit(&self) {
        tracing::debug!(
            receipt = self.receipt,
            index = self.index,
            notice = self.notice_id,
            message = "record valid"
        );
        metrics::counter!(names::RECORDS_VALID.name).increment(1);
    }
}

/// A record failed validation.
#[derive(Debug)]
pub struct RecordInvalid<'a> {
    /// Receipt id.
    pub receipt: &'a str,
    /// Position in the document.
    pub index: i32,
    /// Its table code.
    pub table: &'a str,
}

impl InternalEvent for RecordInvalid<'_> {
    fn emit(&self) {
        tracing::debug!(
            receipt = self.receipt,
            index = self.index,
            table = self.table,
            message = "record invalid"
        );
        metrics::counter!(names::RECORDS_INVALID.name, "table" => self.table.to_owned())
            .increment(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Enforce (defined here; `services/enforce` emits them).

/// The period engine judged a notice.
#[derive(Debug)]
pub struct NoticeJudged<'a> {
    /// Notice id.
    pub notice_id: &'a str,
    /// publish, hold, park, reject, invalid.
    pub outcome: &'a str,
}

impl InternalEvent for NoticeJudged<'_> {
    fn emit(&self) {
        tracing::debug!(
            notice = self.notice_id,
            outcome = self.outcome,
            message = "notice judged"
        );
        metrics::counter!(names::NOTICES_JUDGED.name, "outcome" => self.outcome.to_owned())
            .increment(1);
    }
}

/// A notice already known arrived again (an identical re-send).
#[derive(Debug)]
pub struct NoticeDuplicate<'a> {
    /// Notice id.
    pub notice_id: &'a str,
}

impl InternalEvent for NoticeDuplicate<'_> {
    fn emit(&self) {
        tracing::debug!(notice = self.notice_id, message = "duplicate notice");
        metrics::counter!(names::NOTICES_DUPLICATE.name).increment(1);
    }
}

/// A held notice's hold timer fired and the notice is published.
#[derive(Debug)]
pub struct HoldReleased<'a> {
    /// Notice id.
    pub notice_id: &'a str,
}

impl InternalEvent for HoldReleased<'_> {
    fn emit(&self) {
        tracing::debug!(notice = self.notice_id, message = "hold released");
        metrics::counter!(names::HOLDS_RELEASED.name).increment(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Publish (defined here; `services/publish` emits it).

/// An entry was appended to the feed store (not a redelivery).
#[derive(Debug)]
pub struct FeedEntryAppended<'a> {
    /// Entry (event) id.
    pub entry_id: &'a str,
    /// `notice.published`, `window.closed`, …
    pub event_type: &'a str,
}

impl InternalEvent for FeedEntryAppended<'_> {
    fn emit(&self) {
        tracing::debug!(
            entry = self.entry_id,
            event_type = self.event_type,
            message = "feed entry appended"
        );
        metrics::counter!(names::FEED_ENTRIES.name, "type" => self.event_type.to_owned())
            .increment(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Gateway (defined here; `services/gateway` emits them).

/// A feed writer dropped characters XML 1.0 cannot carry from a document it was about to serve.
/// Validation removes them from notices (`TEXT-CHARS`), so this is a bug elsewhere.
#[derive(Debug)]
pub struct FeedCharsDropped<'a> {
    /// What was dropped (`U+000B ×2`).
    pub removed: &'a str,
}

impl InternalEvent for FeedCharsDropped<'_> {
    fn emit(&self) {
        tracing::error!(
            removed = self.removed,
            message = "characters XML 1.0 cannot carry reached a feed writer; dropped"
        );
        metrics::counter!(names::FEED_CHARS_DROPPED.name).increment(1);
    }
}

/// A feed page was served.
#[derive(Debug)]
pub struct FeedPageServed {
    /// From a rendered page kept in memory (else queried and rendered).
    pub from_memory: bool,
}

impl InternalEvent for FeedPageServed {
    fn emit(&self) {
        let from = if self.from_memory { "memory" } else { "store" };
        metrics::counter!(names::FEED_PAGES.name, "from" => from).increment(1);
    }
}

/// A client opened the event stream.
#[derive(Debug)]
pub struct StreamClientConnected;

impl InternalEvent for StreamClientConnected {
    fn emit(&self) {
        tracing::debug!(message = "stream client connected");
        metrics::counter!(names::STREAM_CONNECTIONS.name).increment(1);
    }
}

/// A stream client fell behind the live buffer and was dropped (it resumes with Last-Event-ID).
#[derive(Debug)]
pub struct StreamClientDropped {
    /// Entries it missed.
    pub lagged: u64,
}

impl InternalEvent for StreamClientDropped {
    fn emit(&self) {
        tracing::info!(lagged = self.lagged, message = "slow stream client dropped");
        metrics::counter!(names::STREAM_CLIENTS_DROPPED.name).increment(1);
    }
}

/// The fan-out queued deliveries for a subscription.
#[derive(Debug)]
pub struct WebhookDeliveriesQueued<'a> {
    /// Subscription id.
    pub subscription_id: &'a str,
    /// How many.
    pub count: usize,
}

impl InternalEvent for WebhookDeliveriesQueued<'_> {
    fn emit(&self) {
        tracing::debug!(
            subscription = self.subscription_id,
            count = self.count,
            message = "webhook deliveries queued"
        );
        metrics::counter!(names::WEBHOOK_DELIVERIES_QUEUED.name).increment(self.count as u64);
    }
}

/// A webhook answered 2xx.
#[derive(Debug)]
pub struct WebhookDelivered<'a> {
    /// Delivery id.
    pub delivery_id: &'a str,
    /// HTTP status.
    pub status: u16,
}

impl InternalEvent for WebhookDelivered<'_> {
    fn emit(&self) {
        tracing::debug!(
            delivery = self.delivery_id,
            status = self.status,
            message = "webhook delivered"
        );
        metrics::counter!(names::WEBHOOK_DELIVERIES.name, "outcome" => "delivered").increment(1);
    }
}

/// A webhook attempt failed; the delivery is retried later (or given up, see
/// [`WebhookGivenUp`]).
#[derive(Debug)]
pub struct WebhookAttemptFailed<'a> {
    /// Delivery id.
    pub delivery_id: &'a str,
    /// Attempts made, this one included.
    pub attempts: i32,
    /// What went wrong.
    pub error: &'a str,
}

impl InternalEvent for WebhookAttemptFailed<'_> {
    fn emit(&self) {
        tracing::info!(
            delivery = self.delivery_id,
            attempts = self.attempts,
            error = self.error,
            message = "webhook attempt failed"
        );
        metrics::counter!(names::WEBHOOK_DELIVERIES.name, "outcome" => "failed_attempt")
            .increment(1);
    }
}

/// A webhook delivery was given up after the retry horizon.
#[derive(Debug)]
pub struct WebhookGivenUp<'a> {
    /// Delivery id.
    pub delivery_id: &'a str,
    /// Attempts made.
    pub attempts: i32,
}

impl InternalEvent for WebhookGivenUp<'_> {
    fn emit(&self) {
        tracing::warn!(
            delivery = self.delivery_id,
            attempts = self.attempts,
            message = "webhook delivery given up"
        );
        metrics::counter!(names::WEBHOOK_DELIVERIES_GIVEN_UP.name).increment(1);
    }
}

/// A subscription's receiver failed as a whole: all its deliveries wait (a circuit breaker).
#[derive(Debug)]
pub struct WebhookReceiverPaused<'a> {
    /// Subscription id.
    pub subscription_id: &'a str,
    /// Its failures in a row, this one included.
    pub consecutive_failures: i32,
    /// How long its deliveries wait, in ms.
    pub paused_ms: i64,
    /// Its deliveries given up because the pause carried them past the horizon.
    pub given_up: u64,
}

impl InternalEvent for WebhookReceiverPaused<'_> {
    fn emit(&self) {
        tracing::warn!(
            subscription = self.subscription_id,
            consecutive_failures = self.consecutive_failures,
            paused_ms = self.paused_ms,
            given_up = self.given_up,
            message = "webhook receiver failing: its deliveries are paused"
        );
        metrics::counter!(names::WEBHOOK_RECEIVER_PAUSES.name).increment(1);
        if self.given_up > 0 {
            metrics::counter!(names::WEBHOOK_DELIVERIES_GIVEN_UP.name).increment(self.given_up);
        }
    }
}

/// A client over its rate limit was refused (429).
#[derive(Debug)]
pub struct RateLimited {
    /// Seconds until it may ask again.
    pub retry_after_s: u64,
}

impl InternalEvent for RateLimited {
    fn emit(&self) {
        tracing::info!(
            retry_after_s = self.retry_after_s,
            message = "request over the client's rate limit refused"
        );
        metrics::counter!(names::HTTP_RATE_LIMITED.name).increment(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Process.

/// Tasks still running when the shutdown deadline passed were aborted.
#[derive(Debug)]
pub struct TasksAborted<'a> {
    /// Names of the aborted tasks.
    pub tasks: &'a [&'a str],
    /// The deadline that passed.
    pub deadline: Duration,
}

impl InternalEvent for TasksAborted<'_> {
    fn emit(&self) {
        tracing::warn!(
            aborted = self.tasks.len(),
            tasks = ?self.tasks,
            deadline_secs = self.deadline.as_secs_f64(),
            message = "shutdown deadline passed; aborting tasks"
        );
        metrics::counter!(names::SHUTDOWN_TASKS_ABORTED.name).increment(self.tasks.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Emits every event once into a private Prometheus recorder built like the process-wide
    /// one, and returns what `/metrics` would show.
    fn render_all() -> String {
        let recorder = super::super::builder().build_recorder();
        let handle = recorder.handle();
        let error = anyhow::anyhow!("boom");
        let json = serde_json::from_str::<u8>("x").expect_err("not JSON");
        let kafka = rdkafka::error::KafkaError::Canceled;
        let bus = crate::bus::BusError::Kafka(rdkafka::error::KafkaError::Canceled);
        let d = Duration::from_millis(12);
        let events: Vec<Box<dyn InternalEvent>> = vec![
            Box::new(EventHandled {
                consumer: "c",
                event_id: "e",
                elapsed: d,
            }),
            Box::new(EventFailed {
                consumer: "c",
                event_id: "e",
                error: &error,
                elapsed: d,
            }),
            Box::new(EventRetried {
                consumer: "c",
                event_id: "e",
                error: &error,
                retry_in: d,
                elapsed: d,
            }),
            Box::new(BatchFellBack {
                consumer: "c",
                events: 3,
                error: "boom",
            }),
            Box::new(EventUndecodable {
                consumer: "c",
                error: Some(&json),
            }),
            Box::new(ReceiveFailed {
                consumer: "c",
                error: &kafka,
            }),
            Box::new(EventsProduced {
                topic: "t",
                count: 2,
            }),
            Box::new(OutboxSendFailed { error: &bus }),
            Box::new(DocumentReceived {
                receipt: "r",
                records: 3,
            }),
            Box::new(DocumentNotAccepted { error: &error }),
            Box::new(DocumentUnreadable {
                receipt: "r",
                rule: "doc.syntax",
            }),
            Box::new(RecordValid {
                receipt: "r",
                index: 0,
                notice_id: "n",
            }),
            Box::new(RecordInvalid {
                receipt: "r",
                index: 1,
                table: "T",
            }),
            Box::new(NoticeJudged {
                notice_id: "n",
                outcome: "publish",
            }),
            Box::new(NoticeDuplicate { notice_id: "n" }),
            Box::new(HoldReleased { notice_id: "n" }),
            Box::new(FeedEntryAppended {
                entry_id: "e",
                event_type: "notice.published",
            }),
            Box::new(FeedCharsDropped {
                removed: "U+000B ×1",
            }),
            Box::new(FeedPageServed { from_memory: true }),
            Box::new(EventQuarantined {
                consumer: "validate",
                event_id: Some("e"),
                reason: "permanent",
                error: "x",
                attempts: 1,
                quarantine_id: 1,
            }),
            Box::new(RetryingAge {
                consumer: "validate",
                age: Duration::from_secs(3),
            }),
            Box::new(StreamClientConnected),
            Box::new(StreamClientDropped { lagged: 5 }),
            Box::new(WebhookDeliveriesQueued {
                subscription_id: "s",
                count: 2,
            }),
            Box::new(WebhookDelivered {
                delivery_id: "d",
                status: 204,
            }),
            Box::new(WebhookAttemptFailed {
                delivery_id: "d",
                attempts: 1,
                error: "500",
            }),
            Box::new(WebhookGivenUp {
                delivery_id: "d",
                attempts: 9,
            }),
            Box::new(WebhookReceiverPaused {
                subscription_id: "s",
                consecutive_failures: 3,
                paused_ms: 4_000,
                given_up: 2,
            }),
            Box::new(TasksAborted {
                tasks: &["publish"],
                deadline: d,
            }),
            Box::new(RateLimited { retry_after_s: 1 }),
            Box::new(ConsumerMeasured {
                group: "gongshi-validate",
                lag: Some(2),
                oldest_unprocessed_age_s: Some(40),
                stuck: true,
            }),
            Box::new(RecordsCounted {
                status: "published",
                count: 3,
            }),
            Box::new(DependencyChecked {
                dependency: "bus",
                up: true,
            }),
            Box::new(WebhooksMeasured {
                receivers_failing: 1,
                deliveries_pending: 4,
            }),
        ];
        metrics::with_local_recorder(&recorder, || {
            names::describe();
            for event in &events {
                event.emit();
            }
        });
        handle.render()
    }

    #[test]
    fn every_metric_is_listed_described_and_emitted_by_some_event() {
        let text = render_all();
        let listed: BTreeSet<&str> = names::ALL.iter().map(|m| m.name).collect();
        let mut rendered = BTreeSet::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| listed.contains(f)))
                .unwrap_or(name);
            assert!(listed.contains(family), "{family} is not in names::ALL");
            rendered.insert(family.to_owned());
        }
        for m in names::ALL {
            assert!(rendered.contains(m.name), "no event emits {}", m.name);
            assert!(
                text.contains(&format!("# HELP {} {}", m.name, m.help)),
                "no HELP for {}:\n{text}",
                m.name
            );
        }
    }

    #[test]
    fn processing_time_is_a_histogram_with_buckets() {
        let text = render_all();
        assert!(
            text.contains("# TYPE gongshi_event_processing_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("gongshi_event_processing_seconds_bucket{consumer=\"c\",le=\"0.025\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("gongshi_events_handled_total{consumer=\"c\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gongshi_webhook_deliveries_total{outcome=\"failed_attempt\"} 1"),
            "{text}"
        );
    }
}

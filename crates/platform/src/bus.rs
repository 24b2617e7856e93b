//! The Kafka bus: an idempotent producer (`enable.idempotence`, `acks=all`) whose `publish`
//! returns only once the broker has the event, and an at-least-once consumer loop that stores a
//! message's offset only after its handler's effect succeeded, retries transient failures with
//! back-off, sets aside (quarantines) what it cannot process so nothing behind it waits, and stops
//! between messages. Topic names, the envelope and the event types are
//! `gongshi_domain::events`, re-exported here.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

// Topic names, the envelope and the event types live with the events themselves.
pub use gongshi_domain::events::{Envelope, Event, EventError, topics};

pub mod lag;

/// One consuming stage of the pipeline: its name (logs, metrics, quarantine, retries), its
/// consumer group (unprefixed) and the topic it consumes. The services consume with these, and
/// the operators' overview measures their lag with the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The stage's name: `validate`, `enforce`, `publish`.
    pub name: &'static str,
    /// Its consumer group (without the topic prefix).
    pub group: &'static str,
    /// The topic it consumes (without the topic prefix).
    pub topic: &'static str,
}

/// The validate stage: `gongshi-validate` on the received topic.
pub const VALIDATE: Stage = Stage {
    name: "validate",
    group: "gongshi-validate",
    topic: topics::RECEIVED,
};
/// The enforce stage: `gongshi-enforce` on the valid topic.
pub const ENFORCE: Stage = Stage {
    name: "enforce",
    group: "gongshi-enforce",
    topic: topics::VALID,
};
/// The publish stage: `gongshi-publish` on the public topic.
pub const PUBLISH: Stage = Stage {
    name: "publish",
    group: "gongshi-publish",
    topic: topics::PUBLIC,
};
/// Every consuming stage, in pipeline order.
pub const STAGES: [Stage; 3] = [VALIDATE, ENFORCE, PUBLISH];

use crate::store::quarantine::{NewQuarantine, Reason};
use crate::store::{self, Store, StoreError};
use crate::telemetry::InternalEvent as _;
use crate::telemetry::events::{
    BatchFellBack, EventFailed, EventHandled, EventQuarantined, EventRetried, EventUndecodable,
    EventsProduced, QuarantineFailed, ReceiveFailed, RetryStateNotSaved, RetryingAge,
};
use chrono::{DateTime, Utc};

/// How a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// An outage (database, broker, index): retried with back-off, offset not stored.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// The event can never be handled: logged and counted, offset stored so processing moves on.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
}

impl From<StoreError> for HandlerError {
    /// A store failure that retrying cannot cure (the database refused the data, stored data does
    /// not fit its type) is permanent; every other one is transient.
    fn from(e: StoreError) -> Self {
        if e.is_permanent() {
            HandlerError::Permanent(e.into())
        } else {
            HandlerError::Transient(e.into())
        }
    }
}

impl From<sqlx::Error> for HandlerError {
    /// Classified as the store classifies it (see [`StoreError::is_permanent`]).
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl From<EventError> for HandlerError {
    /// An event that does not decode never will: permanent.
    fn from(e: EventError) -> Self {
        HandlerError::Permanent(e.into())
    }
}

impl From<BusError> for HandlerError {
    /// Classified by [`BusError::is_permanent`]: an event the broker refuses for its size never
    /// fits; every other bus failure is an outage.
    fn from(e: BusError) -> Self {
        if e.is_permanent() {
            HandlerError::Permanent(e.into())
        } else {
            HandlerError::Transient(e.into())
        }
    }
}

/// A bus failure.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// librdkafka said no.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// An envelope that is not JSON.
    #[error("envelope: {0}")]
    Json(#[from] serde_json::Error),
}

impl BusError {
    /// Whether sending again cannot succeed: the producer or the broker refused the message for
    /// its size (`MSG_SIZE_TOO_LARGE`, `RECORD_LIST_TOO_LARGE`, `INVALID_MSG_SIZE`: a topic
    /// created before with a smaller `max.message.bytes` than [`MAX_MESSAGE_BYTES`]), or the
    /// envelope is not JSON.
    pub fn is_permanent(&self) -> bool {
        use rdkafka::types::RDKafkaErrorCode as Code;
        match self {
            BusError::Kafka(e) => matches!(
                e.rdkafka_error_code(),
                Some(
                    Code::MessageSizeTooLarge
                        | Code::MessageBatchTooLarge
                        | Code::InvalidMessageSize
                )
            ),
            BusError::Json(_) => true,
        }
    }
}

/// Warns of each existing topic that takes events of fewer than [`MAX_MESSAGE_BYTES`] bytes (a
/// description the broker does not give is skipped: this only warns).
async fn warn_of_small_topics(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[String],
    opts: &AdminOptions,
) {
    let specs: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let Ok(described) = admin.describe_configs(&specs, opts).await else {
        return;
    };
    for (topic, config) in topics.iter().zip(described) {
        let limit = config.ok().and_then(|c| {
            c.get("max.message.bytes")
                .and_then(|e| e.value.as_deref()?.parse::<usize>().ok())
        });
        if let Some(limit) = limit.filter(|l| *l < MAX_MESSAGE_BYTES) {
            tracing::warn!(
                topic = %topic,
                max_message_bytes = limit,
                wanted = MAX_MESSAGE_BYTES,
                message = "topic takes smaller events than gongshi sends; a larger one is quarantined \
                           at relay until max.message.bytes is raised (kafka-configs --alter \
                           --add-config max.message.bytes=16777216)"
            );
        }
    }
}

/// The largest event the bus carries, in bytes: the producer's `message.max.bytes` and the
/// `max.message.bytes` of the topics gongshi creates. Kafka's default (1 MiB) is less than the
/// `valid` or `public` event of one record of a 2 MiB document (ingest's default limit), which
/// would be accepted, then refused by the broker. Ingest's document limit is held to a quarter of
/// this: a record's canonical JSON (text escaped, codes and labels added) stays well under four
/// times its bytes in the document.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The producer side of the bus, and the factory for consumers.
#[derive(Clone)]
pub struct Bus {
    brokers: String,
    prefix: String,
    producer: FutureProducer,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("brokers", &self.brokers)
            .finish_non_exhaustive()
    }
}

impl Bus {
    /// An idempotent producer (`acks=all`) for `brokers`; `prefix` goes before every topic and
    /// consumer-group name.
    pub fn connect(brokers: &str, prefix: &str) -> Result<Bus, BusError> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // A produce request per 2 ms at most while events flow. Longer is not cheaper for the
            // broker: at 500 notices/s, 5 ms left the local broker's CPU where it was (44–45 % of
            // a core against 44–46 %), and 10 ms lowered the bulk throughput.
            .set("linger.ms", "2")
            .set("message.timeout.ms", "30000")
            .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
            .create()?;
        Ok(Bus {
            brokers: brokers.to_owned(),
            prefix: prefix.to_owned(),
            producer,
        })
    }

    /// The gongshi name of a broker-side topic name (the prefix taken off).
    pub fn unprefixed<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(self.prefix.as_str()).unwrap_or(name)
    }

    /// Re-sends a quarantined event an operator retries (`gongshi quarantine retry`, the console's
    /// `retry`) to the topic it came from, as it was delivered, keyed as its envelope says.
    pub async fn redrive(
        &self,
        redrive: &crate::store::quarantine::Redrive,
    ) -> Result<(), BusError> {
        let key = serde_json::from_slice::<Envelope>(&redrive.message)
            .ok()
            .map(|e| e.key);
        self.publish_raw(&redrive.row.topic, key.as_deref(), &redrive.message)
            .await
    }

    /// Sends message bytes as they are (a quarantined event being retried) to `topic` with `key`,
    /// and waits until the broker has them.
    pub async fn publish_raw(
        &self,
        topic: &str,
        key: Option<&str>,
        body: &[u8],
    ) -> Result<(), BusError> {
        let name = self.name(topic);
        let mut record = FutureRecord::<str, [u8]>::to(&name).payload(body);
        if let Some(key) = key {
            record = record.key(key);
        }
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| BusError::Kafka(e))?;
        Ok(())
    }

    /// The broker-side name of a topic (or group).
    pub fn name(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// Creates missing topics, each carrying events up to [`MAX_MESSAGE_BYTES`]; existing ones
    /// are left as they are (a topic created with the broker's default takes events up to that),
    /// with a warning for each that takes less: an event it refuses is quarantined by the outbox
    /// relay (stage `relay`) until an operator raises the topic's `max.message.bytes`.
    pub async fn ensure_topics(
        &self,
        names: &[&str],
        partitions: i32,
        replication: i32,
    ) -> Result<(), BusError> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()?;
        let full: Vec<String> = names.iter().map(|n| self.name(n)).collect();
        let max_message_bytes = MAX_MESSAGE_BYTES.to_string();
        let new: Vec<NewTopic<'_>> = full
            .iter()
            .map(|n| {
                NewTopic::new(n, partitions, TopicReplication::Fixed(replication))
                    .set("max.message.bytes", &max_message_bytes)
            })
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let mut existing: Vec<String> = Vec::new();
        for result in admin.create_topics(&new, &opts).await? {
            match result {
                Ok(_) => {}
                Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => existing.push(topic),
                Err((topic, code)) => {
                    return Err(BusError::Kafka(rdkafka::error::KafkaError::AdminOp(code)))
                        .inspect_err(|_| {
                            tracing::error!(topic, ?code, message = "topic creation failed")
                        });
                }
            }
        }
        warn_of_small_topics(&admin, &existing, &opts).await;
        Ok(())
    }

    /// Sends an event and waits until the broker has it (all in-sync replicas).
    pub async fn publish(&self, topic: &str, event: &Envelope) -> Result<(), BusError> {
        let body = serde_json::to_vec(event)?;
        let name = self.name(topic);
        let record = FutureRecord::to(&name)
            .key(event.key.as_bytes())
            .payload(&body);
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| BusError::Kafka(e))?;
        EventsProduced { topic, count: 1 }.emit();
        Ok(())
    }

    /// Sends a typed event to its own topic ([`Event::TOPIC`]) and waits until the broker has it.
    pub async fn send<E: Event>(&self, event: &E) -> Result<(), BusError> {
        self.publish(E::TOPIC, &event.envelope()).await
    }

    /// Sends several events to one topic at once (all queued, then all awaited), for the cost of
    /// about one round trip; fails if any delivery failed.
    pub async fn publish_many(&self, topic: &str, events: &[Envelope]) -> Result<(), BusError> {
        self.queue_many(topic, events)?.delivered().await?;
        Ok(())
    }

    /// Hands several events for one topic to the producer without waiting for the broker: the
    /// returned [`Acks`] resolve once it has them all. A stage returns them from its batch handler
    /// ([`consume_batches`]), which goes on with the next batch meanwhile and stores the batch's
    /// offsets only after. Fails at once only when the producer's own queue refuses an event.
    pub fn queue_many(&self, topic: &str, events: &[Envelope]) -> Result<Acks, BusError> {
        if events.is_empty() {
            return Ok(Acks::none());
        }
        let name = self.name(topic);
        let mut deliveries = Vec::with_capacity(events.len());
        for event in events {
            let body = serde_json::to_vec(event)?;
            let record = FutureRecord::to(&name)
                .key(event.key.as_bytes())
                .payload(&body);
            match self.producer.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((e, _)) => return Err(BusError::Kafka(e)),
            }
        }
        Ok(Acks {
            deliveries,
            produced: vec![(topic.to_owned(), events.len())],
            effects: Vec::new(),
        })
    }

    /// Whether the broker answers (for readiness).
    pub async fn ping(&self) -> bool {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, Duration::from_secs(3))
                .is_ok()
        })
        .await
        .unwrap_or(false)
    }

    /// A consumer in `group` subscribed to `topics`, storing offsets only when told to.
    pub fn consumer(&self, group: &str, topics: &[&str]) -> Result<StreamConsumer, BusError> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", self.name(group))
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            // How long the broker may hold a fetch open for new events. Every fetch that finds
            // nothing costs the broker reads while it waits (nisshi checks its log again at half
            // the time left), and every fetch that returns costs a round trip, so a shorter wait
            // is not a faster pipeline: measured at 500 single-notice documents/s, ingest→feed
            // p99 was 0.64–0.87 s at 50 ms and 0.34–0.44 s at 100 ms (0.48–0.57 s at 250 ms); at
            // 50 documents/s, 154 ms at 50 and 145 ms at 100. Measured again once the stages had
            // become cheaper: 25 ms raised the broker from 46–48 % to 56–59 % of a core at 500
            // notices/s, and the p99 was no better (394–468 ms against 311–512 ms, alternated).
            .set("fetch.wait.max.ms", "100")
            .create()?;
        let names: Vec<String> = topics.iter().map(|t| self.name(t)).collect();
        consumer.subscribe(&names.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(consumer)
    }
}

/// What a consumer does with an event it cannot process: it sets it aside in the store's
/// quarantine (`store::quarantine`) with its error, stage and attempts, marks the records it
/// concerns `quarantined`, stores its offset and moves on, so that no single event stops the
/// events behind it.
#[derive(Debug, Clone)]
pub struct Quarantine {
    /// Where events are set aside, and whose health tells an outage from a poison event.
    pub store: Store,
    /// Whose health tells an outage from a poison event; re-sends retried events.
    pub bus: Bus,
    /// Transient failures of one event, each while the store and the broker answered, before it
    /// is set aside. Failures during an outage do not count: an outage is waited out.
    pub after_healthy_failures: u32,
}

impl Quarantine {
    /// Five failures while everything else answered (about 3 s of back-off): long enough for a
    /// brief hiccup, short enough that a poison event delays the events behind it by seconds.
    pub const AFTER_HEALTHY_FAILURES: u32 = 5;

    /// The default policy over a store and a bus.
    pub fn new(store: Store, bus: Bus) -> Quarantine {
        Quarantine {
            store,
            bus,
            after_healthy_failures: Quarantine::AFTER_HEALTHY_FAILURES,
        }
    }

    /// Whether the store and the broker both answer now.
    async fn healthy(&self) -> bool {
        let (store, bus) = tokio::join!(self.store.ping(), self.bus.ping());
        store && bus
    }
}

/// What a handled batch still waits for before its offsets may be stored: the broker's
/// acknowledgements of the events it sent ([`Bus::queue_many`]), and any other effect it started
/// ([`Acks::effect`]: an index commit). Dropping it recalls nothing; only [`Acks::wait`] learns
/// whether they all arrived.
#[must_use = "a batch's effects are known to have happened only once waited for"]
#[derive(Default)]
pub struct Acks {
    deliveries: Vec<rdkafka::producer::DeliveryFuture>,
    /// (unprefixed topic, events) for the produced-events counter, counted once acknowledged.
    produced: Vec<(String, usize)>,
    effects: Vec<Effect>,
}

/// An effect a batch started, resolved with its outcome.
type Effect = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

impl std::fmt::Debug for Acks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acks")
            .field("deliveries", &self.deliveries.len())
            .field("produced", &self.produced)
            .field("effects", &self.effects.len())
            .finish()
    }
}

impl Acks {
    /// Nothing to wait for: what a batch handler that sent nothing returns.
    pub fn none() -> Acks {
        Acks::default()
    }

    /// An effect other than sending that the batch started and that must finish before its
    /// offsets are stored (publish's index commit, on the indexers' own thread).
    pub fn effect(done: impl Future<Output = anyhow::Result<()>> + Send + 'static) -> Acks {
        Acks {
            effects: vec![Box::pin(done)],
            ..Acks::default()
        }
    }

    /// These and `other`'s.
    pub fn and(mut self, other: Acks) -> Acks {
        self.deliveries.extend(other.deliveries);
        self.produced.extend(other.produced);
        self.effects.extend(other.effects);
        self
    }

    /// Waits until the broker has acknowledged every event and every effect has finished;
    /// fails (transiently) if any delivery or effect failed.
    pub async fn wait(self) -> Result<(), HandlerError> {
        let effects = self.delivered().await?;
        for effect in effects {
            effect.await.map_err(HandlerError::Transient)?;
        }
        Ok(())
    }

    /// Waits for the deliveries alone, counts them, and hands back the other effects.
    async fn delivered(self) -> Result<Vec<Effect>, BusError> {
        for delivery in self.deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(BusError::Kafka(e)),
                Err(_) => return Err(BusError::Kafka(rdkafka::error::KafkaError::Canceled)),
            }
        }
        for (topic, count) in &self.produced {
            EventsProduced {
                topic,
                count: *count,
            }
            .emit();
        }
        Ok(self.effects)
    }
}

/// How one run of a handler ended.
enum Attempt {
    Done,
    Failed(HandlerError),
    Panicked(String),
}

/// Runs `handler` on every event of `consumer` in partition order until `shutdown`: the offset
/// of a message is stored only after its handler succeeded or the event was set aside. Transient
/// failures are retried with exponential back-off (up to 30 s); an event that fails permanently,
/// cannot be decoded, panics its handler, or fails transiently [`Quarantine::after_healthy_failures`]
/// times while the store and the broker answer, is quarantined. An outage (store or broker down)
/// is waited out without quarantining anything.
pub async fn consume<F, Fut>(
    consumer: StreamConsumer,
    name: &str,
    quarantine: &Quarantine,
    shutdown: CancellationToken,
    handler: F,
) -> Result<(), BusError>
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    let one_at_a_time = |_: Vec<Envelope>| std::future::ready(Ok(Acks::none()));
    consume_batches(
        consumer,
        name,
        quarantine,
        shutdown,
        1,
        one_at_a_time,
        handler,
    )
    .await
}

/// Like [`consume`], but the events already waiting in the consumer (up to `max_batch`, never
/// waiting for more) go to `batch` together, so that a stage can apply them in one transaction
/// and one commit instead of one each.
///
/// `batch` returns the [`Acks`] of the events it sent. The loop does not wait for them: it takes
/// the next batch while the broker acknowledges this one, and stores a batch's offsets only once
/// its acknowledgements are in, in order (up to [`MAX_IN_FLIGHT`] batches in flight; an earlier
/// one is settled before a later one's offsets). When `batch` fails or panics its effects must be gone
/// (the handler's transaction rolled back, its writes idempotent), and each event goes through
/// `handler` alone, with the same retries and quarantine as [`consume`]: a bad event costs its
/// batch one slower pass and stops nothing. A batch whose events the broker refused goes through
/// `handler` the same way (its effects were committed and are idempotent). A batch holding a
/// message that is not an envelope skips `batch`.
pub async fn consume_batches<B, BFut, F, Fut>(
    consumer: StreamConsumer,
    name: &str,
    quarantine: &Quarantine,
    shutdown: CancellationToken,
    max_batch: usize,
    batch: B,
    handler: F,
) -> Result<(), BusError>
where
    B: Fn(Vec<Envelope>) -> BFut,
    BFut: Future<Output = Result<Acks, HandlerError>>,
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    use futures::FutureExt as _;
    let stage = Settle {
        consumer: &consumer,
        name,
        quarantine,
        shutdown: &shutdown,
        handler: &handler,
    };
    // Batches handled whose acknowledgements are still to come, oldest first.
    let mut in_flight: VecDeque<InFlight<'_>> = VecDeque::new();
    loop {
        let first = tokio::select! {
            () = shutdown.cancelled() => break,
            m = consumer.recv() => m,
            // The oldest batch in flight is acknowledged: store its offsets now.
            acked = acknowledged(&mut in_flight), if !in_flight.is_empty() => {
                if let Some(done) = in_flight.pop_front()
                    && !stage.settle(done, acked).await?
                {
                    return Ok(());
                }
                continue;
            }
        };
        let first = match first {
            Ok(m) => m,
            Err(e) => {
                ReceiveFailed {
                    consumer: name,
                    error: &e,
                }
                .emit();
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut messages = vec![first];
        // Only what has already arrived: a batch never waits for its last event.
        while messages.len() < max_batch {
            match consumer.recv().now_or_never() {
                Some(Ok(m)) => messages.push(m),
                Some(Err(e)) => {
                    ReceiveFailed {
                        consumer: name,
                        error: &e,
                    }
                    .emit();
                    break;
                }
                None => break,
            }
        }
        let envelopes: Option<Vec<Envelope>> = messages
            .iter()
            .map(|m| serde_json::from_slice(m.payload().unwrap_or_default()).ok())
            .collect();
        if max_batch > 1
            && let Some(envelopes) = envelopes
        {
            let started = tokio::time::Instant::now();
            let ids: Vec<String> = envelopes.iter().map(|e| e.id.clone()).collect();
            let outcome = std::panic::AssertUnwindSafe(batch(envelopes))
                .catch_unwind()
                .await;
            let error = match outcome {
                Ok(Ok(acks)) => {
                    in_flight.push_back(InFlight {
                        // Each event's share of the batch's time.
                        elapsed: started.elapsed() / u32::try_from(ids.len()).unwrap_or(1),
                        messages,
                        ids,
                        acks: Box::pin(acks.wait()),
                    });
                    // A bounded number in flight: past it, the oldest is waited for.
                    while in_flight.len() > MAX_IN_FLIGHT {
                        if let Some(oldest) = in_flight.pop_front()
                            && !stage.wait_and_settle(oldest).await?
                        {
                            return Ok(());
                        }
                    }
                    continue;
                }
                Ok(Err(e)) => e.to_string(),
                Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
            };
            BatchFellBack {
                consumer: name,
                events: ids.len(),
                error: &error,
            }
            .emit();
        }
        // One at a time; what is in flight settles first, so offsets are stored in order.
        while let Some(earlier) = in_flight.pop_front() {
            if !stage.wait_and_settle(earlier).await? {
                return Ok(());
            }
        }
        if !stage.one_at_a_time(&messages).await? {
            return Ok(());
        }
    }
    while let Some(earlier) = in_flight.pop_front() {
        if !stage.wait_and_settle(earlier).await? {
            break;
        }
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last commit is also fine (NoOffset).
        tracing::debug!(consumer = name, error = %e, message = "final commit");
    }
    Ok(())
}

/// A batch handled and committed whose events the broker has yet to acknowledge.
struct InFlight<'c> {
    messages: Vec<rdkafka::message::BorrowedMessage<'c>>,
    ids: Vec<String>,
    /// Each event's share of the handler's time.
    elapsed: Duration,
    acks: std::pin::Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>,
}

/// The oldest in-flight batch's acknowledgements; never resolves when there is none.
async fn acknowledged(in_flight: &mut VecDeque<InFlight<'_>>) -> Result<(), HandlerError> {
    match in_flight.front_mut() {
        Some(batch) => (&mut batch.acks).await,
        None => std::future::pending().await,
    }
}

/// Batches a stage may have handled ahead of the broker's acknowledgements: enough to cover an
/// acknowledgement several batches long, few enough that a broker that stops answering stops
/// the stage soon (the producer's own queue bounds the events).
const MAX_IN_FLIGHT: usize = 8;

/// What settling a batch needs from [`consume_batches`].
struct Settle<'a, F> {
    consumer: &'a StreamConsumer,
    name: &'a str,
    quarantine: &'a Quarantine,
    shutdown: &'a CancellationToken,
    handler: &'a F,
}

impl<F, Fut> Settle<'_, F>
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    /// Waits for a batch's acknowledgements, then [`Settle::settle`]s it.
    async fn wait_and_settle(&self, mut batch: InFlight<'_>) -> Result<bool, BusError> {
        let acked = (&mut batch.acks).await;
        self.settle(batch, acked).await
    }

    /// Stores the offsets of a batch the broker acknowledged; one it did not goes through the
    /// handler one event at a time. False when shutdown came first.
    async fn settle(
        &self,
        batch: InFlight<'_>,
        acked: Result<(), HandlerError>,
    ) -> Result<bool, BusError> {
        match acked {
            Ok(()) => {
                for (message, id) in batch.messages.iter().zip(&batch.ids) {
                    EventHandled {
                        consumer: self.name,
                        event_id: id,
                        elapsed: batch.elapsed,
                    }
                    .emit();
                    store_offset(self.consumer, self.name, message)?;
                }
                Ok(true)
            }
            Err(e) => {
                BatchFellBack {
                    consumer: self.name,
                    events: batch.ids.len(),
                    error: &format!("not acknowledged: {e}"),
                }
                .emit();
                self.one_at_a_time(&batch.messages).await
            }
        }
    }

    /// Runs the handler on each message in turn ([`consume_one`]); false when shutdown came first.
    async fn one_at_a_time(
        &self,
        messages: &[rdkafka::message::BorrowedMessage<'_>],
    ) -> Result<bool, BusError> {
        for message in messages {
            if !consume_one(
                self.consumer,
                self.name,
                self.quarantine,
                self.shutdown,
                self.handler,
                message,
            )
            .await?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Stores a handled message's offset. A partition the group took away since the message came
/// (the broker was away longer than the session, and the group dropped this consumer) refuses
/// it: the partition's owner gets the message again from the last committed offset and its
/// effects are idempotent, so that is said and passed over, not fatal to the stage.
fn store_offset(
    consumer: &StreamConsumer,
    name: &str,
    message: &rdkafka::message::BorrowedMessage<'_>,
) -> Result<(), BusError> {
    match consumer.store_offset_from_message(message) {
        Err(rdkafka::error::KafkaError::StoreOffset(RDKafkaErrorCode::State)) => {
            tracing::warn!(
                consumer = name,
                topic = message.topic(),
                partition = message.partition(),
                offset = message.offset(),
                message = "offset not stored: the partition is no longer assigned here; its owner gets the event again"
            );
            Ok(())
        }
        stored => Ok(stored?),
    }
}

/// Runs `handler` on one message until it succeeds or is set aside, and stores its offset; false
/// when shutdown came first (the offset is then not stored, and the next run meets the event
/// again).
async fn consume_one<F, Fut>(
    consumer: &StreamConsumer,
    name: &str,
    quarantine: &Quarantine,
    shutdown: &CancellationToken,
    handler: &F,
    message: &rdkafka::message::BorrowedMessage<'_>,
) -> Result<bool, BusError>
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    use futures::FutureExt as _;
    let span = tracing::info_span!(
        "message",
        consumer = name,
        topic = message.topic(),
        partition = message.partition(),
        offset = message.offset(),
        event = tracing::field::Empty
    );
    let bytes = message.payload().unwrap_or_default();
    let place = Place {
        consumer: name,
        topic: quarantine.bus.unprefixed(message.topic()),
        partition: message.partition(),
        offset: message.offset(),
        message: bytes,
    };
    let envelope: Envelope = match serde_json::from_slice(bytes) {
        Ok(e) => e,
        Err(e) => {
            span.in_scope(|| {
                EventUndecodable {
                    consumer: name,
                    error: Some(&e),
                }
                .emit();
            });
            let failure = Failure {
                envelope: None,
                reason: Reason::Undecodable,
                error: format!("not an event envelope: {e}"),
                attempts: 1,
                first_failed_at: Utc::now(),
            };
            if !set_aside(quarantine, &place, &failure, shutdown).await {
                return Ok(false);
            }
            store_offset(consumer, name, message)?;
            return Ok(true);
        }
    };
    span.record("event", envelope.id.as_str());
    let mut backoff = Duration::from_millis(200);
    let mut attempts = 0u32;
    let mut healthy_failures = 0u32;
    let mut first_failed_at = None;
    // Whether `consumer_retries` has a row for this event (cleared once it is done with).
    let mut retry_recorded = false;
    let first_failed = tokio::time::Instant::now();
    loop {
        attempts += 1;
        let started = tokio::time::Instant::now();
        let attempt = std::panic::AssertUnwindSafe(handler(envelope.clone()))
            .catch_unwind()
            .instrument(span.clone())
            .await
            .map_or_else(
                |panic| Attempt::Panicked(panic_message(panic.as_ref())),
                |r| r.map_or_else(Attempt::Failed, |()| Attempt::Done),
            );
        let elapsed = started.elapsed();
        if !matches!(attempt, Attempt::Done) {
            first_failed_at.get_or_insert_with(Utc::now);
        }
        let failure = |reason: Reason, error: String| Failure {
            envelope: Some(&envelope),
            reason,
            error,
            attempts,
            first_failed_at: first_failed_at.unwrap_or_else(Utc::now),
        };
        let aside = match attempt {
            Attempt::Done => {
                EventHandled {
                    consumer: name,
                    event_id: &envelope.id,
                    elapsed,
                }
                .emit();
                None
            }
            Attempt::Failed(HandlerError::Permanent(e)) => {
                EventFailed {
                    consumer: name,
                    event_id: &envelope.id,
                    error: &e,
                    elapsed,
                }
                .emit();
                Some(failure(Reason::Permanent, format!("{e:#}")))
            }
            Attempt::Panicked(what) => {
                Some(failure(Reason::Panic, format!("handler panicked: {what}")))
            }
            Attempt::Failed(HandlerError::Transient(e)) => {
                EventRetried {
                    consumer: name,
                    event_id: &envelope.id,
                    error: &e,
                    retry_in: backoff,
                    elapsed,
                }
                .emit();
                RetryingAge {
                    consumer: name,
                    age: first_failed.elapsed(),
                }
                .emit();
                let failing = store::retries::Failing {
                    consumer: name,
                    topic: place.topic,
                    partition: place.partition,
                    offset: place.offset,
                    event_id: &envelope.id,
                    error: &format!("{e:#}"),
                    attempts,
                    first_failed_at: first_failed_at.unwrap_or_else(Utc::now),
                };
                retry_recorded |= save_retry_state(name, || {
                    store::retries::failed(&quarantine.store.pool, &failing)
                })
                .await;
                // Only failures while everything else answers count against the event.
                if quarantine.healthy().await {
                    healthy_failures += 1;
                }
                if healthy_failures >= quarantine.after_healthy_failures {
                    Some(failure(
                        Reason::RetriesExhausted,
                        format!(
                            "{healthy_failures} transient failures while the store and the broker answered; last: {e:#}"
                        ),
                    ))
                } else {
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            // The effect did not happen: leave the offset so the next run redoes it.
                            let _ = consumer.commit_consumer_state(CommitMode::Sync);
                            return Ok(false);
                        }
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
        };
        if let Some(failure) = aside
            && !set_aside(quarantine, &place, &failure, shutdown).await
        {
            return Ok(false);
        }
        store_offset(consumer, name, message)?;
        if retry_recorded {
            save_retry_state(name, || {
                store::retries::cleared(&quarantine.store.pool, name, place.topic, place.partition)
            })
            .await;
        }
        if first_failed_at.is_some() {
            RetryingAge {
                consumer: name,
                age: Duration::ZERO,
            }
            .emit();
        }
        return Ok(true);
    }
}

/// Writes what a consumer is retrying (`store::retries`) for the operators' overview: best effort,
/// bounded to one second so that an outage of the store never slows the retry loop; true when
/// written.
async fn save_retry_state<F, Fut>(consumer: &str, write: F) -> bool
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    match tokio::time::timeout(Duration::from_secs(1), write()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            RetryStateNotSaved {
                consumer,
                error: &e.to_string(),
            }
            .emit();
            false
        }
        Err(_) => {
            RetryStateNotSaved {
                consumer,
                error: "the store did not answer within 1 s",
            }
            .emit();
            false
        }
    }
}

/// Where a message came from.
struct Place<'a> {
    consumer: &'a str,
    topic: &'a str,
    partition: i32,
    offset: i64,
    message: &'a [u8],
}

/// Why and how an event failed.
struct Failure<'a> {
    envelope: Option<&'a Envelope>,
    reason: Reason,
    error: String,
    attempts: u32,
    first_failed_at: DateTime<Utc>,
}

/// Quarantines the event, retrying the store until it takes it; false when shutdown came first
/// (the offset is then not stored, and the next run meets the event again).
async fn set_aside(
    quarantine: &Quarantine,
    place: &Place<'_>,
    failure: &Failure<'_>,
    shutdown: &CancellationToken,
) -> bool {
    let subject = failure.envelope.map(Envelope::subject).unwrap_or_default();
    let entry = NewQuarantine {
        stage: place.consumer,
        topic: place.topic,
        partition: place.partition,
        offset: place.offset,
        message: place.message,
        event_id: failure.envelope.map(|e| e.id.as_str()),
        event_type: failure.envelope.map(|e| e.event_type.as_str()),
        receipt_id: subject.receipt.as_deref(),
        record_index: subject.index,
        notice_id: subject.notice_id.as_deref(),
        reason: failure.reason,
        error: &failure.error,
        attempts: failure.attempts,
        first_failed_at: failure.first_failed_at,
    };
    let mut backoff = Duration::from_millis(200);
    loop {
        match store::quarantine::put(&quarantine.store.pool, &entry).await {
            Ok(quarantine_id) => {
                EventQuarantined {
                    consumer: place.consumer,
                    event_id: entry.event_id,
                    reason: failure.reason.as_str(),
                    error: &failure.error,
                    attempts: failure.attempts,
                    quarantine_id,
                }
                .emit();
                return true;
            }
            Err(e) => {
                QuarantineFailed {
                    consumer: place.consumer,
                    error: &e,
                }
                .emit();
                tokio::select! {
                    () = shutdown.cancelled() => return false,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// The message of a panic payload (`panic!` with a string or a format).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode as Code;

    #[test]
    fn a_message_refused_for_its_size_is_permanent_and_an_outage_is_not() {
        let refused = BusError::Kafka(KafkaError::MessageProduction(Code::MessageSizeTooLarge));
        assert!(refused.is_permanent());
        assert!(matches!(
            HandlerError::from(refused),
            HandlerError::Permanent(_)
        ));
        for outage in [
            Code::BrokerTransportFailure,
            Code::MessageTimedOut,
            Code::NotLeaderForPartition,
        ] {
            let e = BusError::Kafka(KafkaError::MessageProduction(outage));
            assert!(!e.is_permanent(), "{outage:?}");
            assert!(matches!(HandlerError::from(e), HandlerError::Transient(_)));
        }
    }
}

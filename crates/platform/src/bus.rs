//! The Kafka bus: topic names in one place, the event envelope, an idempotent producer
//! (`enable.idempotence`, `acks=all`) whose `publish` returns only once the broker has the event,
//! and an at-least-once consumer loop that stores a message's offset only after its handler's
//! effect succeeded, retries transient failures with back-off, and stops between messages.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

// Topic names, the envelope and the event types live with the events themselves.
pub use gongshi_domain::events::{Envelope, Event, EventError, topics};

use crate::store::StoreError;
use crate::telemetry::InternalEvent as _;
use crate::telemetry::events::{
    EventFailed, EventHandled, EventRetried, EventUndecodable, EventsProduced, ReceiveFailed,
};

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
    fn from(e: BusError) -> Self {
        HandlerError::Transient(e.into())
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
            .set("linger.ms", "2")
            .set("message.timeout.ms", "30000")
            .create()?;
        Ok(Bus {
            brokers: brokers.to_owned(),
            prefix: prefix.to_owned(),
            producer,
        })
    }

    /// The broker-side name of a topic (or group).
    pub fn name(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// Creates missing topics; existing ones are left as they are.
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
        let new: Vec<NewTopic<'_>> = full
            .iter()
            .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(replication)))
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.create_topics(&new, &opts).await? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(BusError::Kafka(rdkafka::error::KafkaError::AdminOp(code)))
                        .inspect_err(|_| {
                            tracing::error!(topic, ?code, message = "topic creation failed")
                        });
                }
            }
        }
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
        let name = self.name(topic);
        let bodies: Vec<Vec<u8>> = events
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<_, _>>()?;
        let mut deliveries = Vec::with_capacity(events.len());
        for (event, body) in events.iter().zip(&bodies) {
            let record = FutureRecord::to(&name)
                .key(event.key.as_bytes())
                .payload(body);
            match self.producer.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((e, _)) => return Err(BusError::Kafka(e)),
            }
        }
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(BusError::Kafka(e)),
                Err(_) => return Err(BusError::Kafka(rdkafka::error::KafkaError::Canceled)),
            }
        }
        EventsProduced {
            topic,
            count: events.len(),
        }
        .emit();
        Ok(())
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
            // Long-poll briefly: a stage waits at most this long for its next event.
            .set("fetch.wait.max.ms", "50")
            .create()?;
        let names: Vec<String> = topics.iter().map(|t| self.name(t)).collect();
        consumer.subscribe(&names.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(consumer)
    }
}

/// Runs `handler` on every event of `consumer` in partition order until `shutdown`: the offset
/// of a message is stored only after its handler succeeded; transient failures are retried with
/// exponential back-off (up to 30 s) without storing; permanent ones are logged and skipped.
pub async fn consume<F, Fut>(
    consumer: StreamConsumer,
    name: &str,
    shutdown: CancellationToken,
    handler: F,
) -> Result<(), BusError>
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => break,
            m = consumer.recv() => m,
        };
        let message = match message {
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
        let span = tracing::info_span!(
            "message",
            consumer = name,
            topic = message.topic(),
            partition = message.partition(),
            offset = message.offset(),
            event = tracing::field::Empty
        );
        let envelope: Envelope = match message.payload().map(serde_json::from_slice) {
            Some(Ok(e)) => e,
            other => {
                let error = other.and_then(Result::err);
                span.in_scope(|| {
                    EventUndecodable {
                        consumer: name,
                        error: error.as_ref(),
                    }
                    .emit();
                });
                consumer.store_offset_from_message(&message)?;
                continue;
            }
        };
        span.record("event", envelope.id.as_str());
        let mut backoff = Duration::from_millis(200);
        loop {
            let started = tokio::time::Instant::now();
            let result = handler(envelope.clone()).instrument(span.clone()).await;
            let elapsed = started.elapsed();
            match result {
                Ok(()) => {
                    consumer.store_offset_from_message(&message)?;
                    EventHandled {
                        consumer: name,
                        event_id: &envelope.id,
                        elapsed,
                    }
                    .emit();
                    break;
                }
                Err(HandlerError::Permanent(e)) => {
                    EventFailed {
                        consumer: name,
                        event_id: &envelope.id,
                        error: &e,
                        elapsed,
                    }
                    .emit();
                    consumer.store_offset_from_message(&message)?;
                    break;
                }
                Err(HandlerError::Transient(e)) => {
                    EventRetried {
                        consumer: name,
                        event_id: &envelope.id,
                        error: &e,
                        retry_in: backoff,
                        elapsed,
                    }
                    .emit();
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            // The effect did not happen: leave the offset so the next run redoes it.
                            let _ = consumer.commit_consumer_state(CommitMode::Sync);
                            return Ok(());
                        }
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last commit is also fine (NoOffset).
        tracing::debug!(consumer = name, error = %e, message = "final commit");
    }
    Ok(())
}

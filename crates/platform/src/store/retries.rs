//! What each consumer is retrying now (`consumer_retries`): the consume loop
//! ([`crate::bus::consume`]) records every transient failure of an event here and clears it when
//! the event is handled or set aside, so the operators' overview can name the event that holds a
//! consumer back, its error and its attempts.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};

/// A transient failure of one event, as the consume loop saw it.
#[derive(Debug, Clone)]
pub struct Failing<'a> {
    /// The consumer (stage): `validate`, `enforce`, `publish`.
    pub consumer: &'a str,
    /// The topic (unprefixed), partition and offset of the event.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The event id.
    pub event_id: &'a str,
    /// The last error.
    pub error: &'a str,
    /// Attempts so far.
    pub attempts: u32,
    /// When the first attempt failed.
    pub first_failed_at: DateTime<Utc>,
}

/// An event a consumer is retrying, as operators see it.
#[derive(Debug, Clone, Serialize)]
pub struct Retrying {
    /// The consumer (stage).
    pub consumer: String,
    /// Topic (unprefixed).
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset of the event.
    pub offset: i64,
    /// The event id.
    pub event_id: Option<String>,
    /// The last error.
    pub error: String,
    /// Attempts so far.
    pub attempts: i32,
    /// First failure.
    pub first_failed_at: DateTime<Utc>,
    /// Last failure.
    pub last_failed_at: DateTime<Utc>,
}

/// Text PostgreSQL accepts: U+0000 (refused in `text`) shown as `\0`.
fn storable(s: &str) -> String {
    s.replace('\0', "\\0")
}

/// Records (or updates) the event `f.consumer` is retrying on its partition.
pub async fn failed(pool: &PgPool, f: &Failing<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO consumer_retries (consumer, topic, kafka_partition, kafka_offset, event_id, error, attempts, \
           first_failed_at, last_failed_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8, now()) \
         ON CONFLICT (consumer, topic, kafka_partition) DO UPDATE SET kafka_offset = EXCLUDED.kafka_offset, \
           event_id = EXCLUDED.event_id, error = EXCLUDED.error, attempts = EXCLUDED.attempts, \
           first_failed_at = EXCLUDED.first_failed_at, last_failed_at = now()",
    )
    .bind(f.consumer)
    .bind(f.topic)
    .bind(f.partition)
    .bind(f.offset)
    .bind(storable(f.event_id))
    .bind(storable(f.error))
    .bind(i32::try_from(f.attempts).unwrap_or(i32::MAX))
    .bind(f.first_failed_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Clears what `consumer` was retrying on `topic`/`partition` (the event was handled or set aside).
pub async fn cleared(
    pool: &PgPool,
    consumer: &str,
    topic: &str,
    partition: i32,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM consumer_retries WHERE consumer = $1 AND topic = $2 AND kafka_partition = $3",
    )
    .bind(consumer)
    .bind(topic)
    .bind(partition)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every event some consumer is retrying, oldest failure first.
pub async fn list(pool: &PgPool) -> Result<Vec<Retrying>, StoreError> {
    let rows = sqlx::query(
        "SELECT consumer, topic, kafka_partition, kafka_offset, event_id, error, attempts, first_failed_at, \
           last_failed_at FROM consumer_retries ORDER BY first_failed_at",
    )
    .fetch_all(pool)
    .await?;
    let retrying = rows
        .iter()
        .map(|r| {
            Ok(Retrying {
                consumer: r.try_get("consumer")?,
                topic: r.try_get("topic")?,
                partition: r.try_get("kafka_partition")?,
                offset: r.try_get("kafka_offset")?,
                event_id: r.try_get("event_id")?,
                error: r.try_get("error")?,
                attempts: r.try_get("attempts")?,
                first_failed_at: r.try_get("first_failed_at")?,
                last_failed_at: r.try_get("last_failed_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(retrying)
}

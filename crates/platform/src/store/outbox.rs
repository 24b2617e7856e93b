//! The transactional outbox: events written in the same transaction as the state that decided
//! them, then relayed to the bus.

use super::StoreError;
use crate::bus::{Bus, Envelope};
use crate::telemetry::InternalEvent as _;
use crate::telemetry::events::OutboxSendFailed;
use sqlx::{PgConnection, PgPool, Row};

/// Queues an event in the caller's transaction (a repeated id is ignored).
pub async fn enqueue(
    tx: &mut PgConnection,
    topic: &str,
    event: &Envelope,
) -> Result<(), StoreError> {
    enqueue_many(tx, topic, std::slice::from_ref(event)).await
}

/// Queues events for one topic in the caller's transaction, in one statement; they are relayed
/// in the order given (a repeated id, stored or in `events`, is ignored: the first one stays).
pub async fn enqueue_many(
    tx: &mut PgConnection,
    topic: &str,
    events: &[Envelope],
) -> Result<(), StoreError> {
    insert(tx, topic, events, None).await
}

/// Queues events that their writer sends itself as soon as its transaction commits, then
/// removes with [`remove_sent`]: the relay leaves them alone for `grace` and sends only what is
/// still queued after it (the writer died before the broker acknowledged, or the broker was away).
/// This is ingest's path: its answer waits for the commit, not for the broker.
pub async fn enqueue_for_writer(
    tx: &mut PgConnection,
    topic: &str,
    events: &[Envelope],
    grace: std::time::Duration,
) -> Result<(), StoreError> {
    insert(tx, topic, events, Some(grace)).await
}

/// Removes events their writer sent and the broker acknowledged ([`enqueue_for_writer`]).
pub async fn remove_sent(pool: &PgPool, event_ids: &[String]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM outbox WHERE event_id = ANY($1)")
        .bind(event_ids)
        .execute(pool)
        .await?;
    Ok(())
}

async fn insert(
    tx: &mut PgConnection,
    topic: &str,
    events: &[Envelope],
    grace: Option<std::time::Duration>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let grace_ms = grace.map(|g| i64::try_from(g.as_millis()).unwrap_or(i64::MAX));
    sqlx::query(
        // `ord` (an identity) is drawn in the sorted order: the relay's order.
        "INSERT INTO outbox (event_id, topic, envelope, relay_after) \
         SELECT event_id, $1, envelope, clock_timestamp() + $4::float8 * interval '1 millisecond' FROM \
           (SELECT DISTINCT ON (event_id) event_id, envelope, ord \
            FROM UNNEST($2::text[], $3::jsonb[]) WITH ORDINALITY AS u(event_id, envelope, ord) \
            ORDER BY event_id, ord) AS firsts \
         ORDER BY ord \
         ON CONFLICT DO NOTHING",
    )
    .bind(topic)
    .bind(events.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
    .bind(events.iter().map(sqlx::types::Json).collect::<Vec<_>>())
    .bind(grace_ms)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sends queued events in order and removes them; returns how many were sent. Events are sent
/// 200 at a time, each run of one topic at once ([`Bus::publish_many`]: queued together, then
/// awaited). A send failure rolls its run back: its events stay queued for the next call
/// (consumers dedupe repeats). Events their writer sends itself wait out their grace
/// ([`enqueue_for_writer`]).
pub async fn relay(pool: &PgPool, bus: &Bus) -> Result<usize, StoreError> {
    let mut sent = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query(
            "SELECT event_id, topic, envelope FROM outbox \
             WHERE relay_after IS NULL OR relay_after <= clock_timestamp() \
             ORDER BY ord LIMIT 200 FOR UPDATE SKIP LOCKED",
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(sent);
        }
        let mut queued: Vec<(String, String, Envelope)> = Vec::with_capacity(rows.len());
        for row in &rows {
            let envelope: sqlx::types::Json<Envelope> = row.try_get("envelope")?;
            queued.push((row.try_get("event_id")?, row.try_get("topic")?, envelope.0));
        }
        let mut done: Vec<&str> = Vec::with_capacity(queued.len());
        for run in queued.chunk_by(|a, b| a.1 == b.1) {
            let events: Vec<Envelope> = run.iter().map(|(_, _, e)| e.clone()).collect();
            if let Err(e) = bus.publish_many(&run[0].1, &events).await {
                OutboxSendFailed { error: &e }.emit();
                break;
            }
            done.extend(run.iter().map(|(id, _, _)| id.as_str()));
        }
        sqlx::query("DELETE FROM outbox WHERE event_id = ANY($1)")
            .bind(&done)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        sent += done.len();
        if done.len() < rows.len() {
            return Err(StoreError::RelayIncomplete {
                sent: done.len(),
                queued: rows.len(),
            });
        }
    }
}

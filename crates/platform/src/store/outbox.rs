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
    sqlx::query(
        "INSERT INTO outbox (event_id, topic, envelope) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(&event.id)
    .bind(topic)
    .bind(sqlx::types::Json(event))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sends queued events in order and removes them; returns how many were sent. Events are sent
/// 200 at a time, each run of one topic at once ([`Bus::publish_many`]: queued together, then
/// awaited). A send failure rolls its run back: its events stay queued for the next call
/// (consumers dedupe repeats).
pub async fn relay(pool: &PgPool, bus: &Bus) -> Result<usize, StoreError> {
    let mut sent = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query(
            "SELECT event_id, topic, envelope FROM outbox ORDER BY created_at, event_id LIMIT 200 FOR UPDATE SKIP LOCKED",
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

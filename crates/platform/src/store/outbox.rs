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

/// Sends queued events in order and removes them; returns how many were sent. A send failure
/// rolls the batch back: its events stay queued for the next call (consumers dedupe repeats).
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
        let mut done: Vec<String> = Vec::with_capacity(rows.len());
        for row in &rows {
            let topic: String = row.try_get("topic")?;
            let envelope: sqlx::types::Json<Envelope> = row.try_get("envelope")?;
            if let Err(e) = bus.publish(&topic, &envelope.0).await {
                OutboxSendFailed { error: &e }.emit();
                break;
            }
            done.push(row.try_get("event_id")?);
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

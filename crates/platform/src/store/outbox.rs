//! The transactional outbox: events written in the same transaction as the state that decided
//! them, then relayed to the bus.

use super::StoreError;
use super::quarantine::{self, NewQuarantine, Reason};
use crate::bus::{Bus, BusError, Envelope};
use crate::telemetry::InternalEvent as _;
use crate::telemetry::events::{EventQuarantined, OutboxSendFailed};
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

/// One queued event.
struct Queued {
    event_id: String,
    topic: String,
    /// Its place in the queue (the quarantine's offset when the broker refuses it).
    ord: i64,
    envelope: Envelope,
}

/// Sends queued events in order and removes them; returns how many left the queue. Events are
/// sent 200 at a time, each run of one topic at once ([`Bus::publish_many`]: queued together,
/// then awaited). A send failure rolls its run back: its events stay queued for the next call
/// (consumers dedupe repeats). Events their writer sends itself wait out their grace
/// ([`enqueue_for_writer`]).
///
/// An event the broker refuses for good ([`BusError::is_permanent`]: larger than its topic
/// takes) would hold every event behind it for ever: its run is sent again one event at a time,
/// and each refused event is set aside ([`quarantine::RELAY_STAGE`]) in the same transaction that
/// removes it from the queue, its records `quarantined`. The operator's retry sends it to its
/// topic once the topic takes it.
pub async fn relay(pool: &PgPool, bus: &Bus) -> Result<usize, StoreError> {
    Ok(relay_from(pool, bus, 0).await?.sent)
}

/// What [`relay_from`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    /// Events that left the queue.
    pub sent: usize,
    /// Where the next pass for new events may start: the last place (`ord`) it read.
    pub next: i64,
}

/// [`relay`] of the events queued after place `after` (`ord`; 0 for the whole queue). A stage
/// woken by its own commits relays from where its last pass ended: the head of the queue is a
/// run of rows deleted since, dead until vacuum, and a scan from the start read every one of them
/// each time (at 500 notices/s the relay's query was 28 % of PostgreSQL's time, 3.8 ms a call).
/// A pass from a place skips what committed behind it meanwhile (another transaction's lower
/// place, an event locked by another relay, a writer's event after its grace): the caller makes
/// a whole pass (`0`) every tick as well.
pub async fn relay_from(pool: &PgPool, bus: &Bus, after: i64) -> Result<Relayed, StoreError> {
    let mut sent = 0;
    let mut after = after;
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query(
            "SELECT event_id, topic, ord, envelope FROM outbox \
             WHERE ord > $1 AND (relay_after IS NULL OR relay_after <= clock_timestamp()) \
             ORDER BY ord LIMIT 200 FOR UPDATE SKIP LOCKED",
        )
        .bind(after)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(Relayed { sent, next: after });
        }
        let mut queued: Vec<Queued> = Vec::with_capacity(rows.len());
        for row in &rows {
            let envelope: sqlx::types::Json<Envelope> = row.try_get("envelope")?;
            queued.push(Queued {
                event_id: row.try_get("event_id")?,
                topic: row.try_get("topic")?,
                ord: row.try_get("ord")?,
                envelope: envelope.0,
            });
        }
        let mut done: Vec<&str> = Vec::with_capacity(queued.len());
        for run in queued.chunk_by(|a, b| a.topic == b.topic) {
            let events: Vec<Envelope> = run.iter().map(|q| q.envelope.clone()).collect();
            match bus.publish_many(&run[0].topic, &events).await {
                Ok(()) => done.extend(run.iter().map(|q| q.event_id.as_str())),
                Err(e) if e.is_permanent() => {
                    let (left, complete) = send_alone(&mut tx, bus, run).await?;
                    done.extend(left);
                    if !complete {
                        break;
                    }
                }
                Err(e) => {
                    OutboxSendFailed { error: &e }.emit();
                    break;
                }
            }
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
        after = queued.last().map_or(after, |q| q.ord);
    }
}

/// Sends `run` one event at a time, quarantining each the broker refuses for good. Returns the
/// ids that left the queue (sent or set aside), and whether the whole run did (a transient
/// failure stops it: the rest stay queued, in order).
async fn send_alone<'q>(
    tx: &mut PgConnection,
    bus: &Bus,
    run: &'q [Queued],
) -> Result<(Vec<&'q str>, bool), StoreError> {
    let mut left = Vec::with_capacity(run.len());
    for q in run {
        match bus
            .publish_many(&q.topic, std::slice::from_ref(&q.envelope))
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_permanent() => set_aside(tx, q, &e).await?,
            Err(e) => {
                OutboxSendFailed { error: &e }.emit();
                return Ok((left, false));
            }
        }
        left.push(q.event_id.as_str());
    }
    Ok((left, true))
}

/// Quarantines a queued event the broker refused for good.
async fn set_aside(tx: &mut PgConnection, q: &Queued, error: &BusError) -> Result<(), StoreError> {
    let message = serde_json::to_vec(&q.envelope).unwrap_or_default();
    let subject = q.envelope.subject();
    let error = error.to_string();
    let entry = NewQuarantine {
        stage: quarantine::RELAY_STAGE,
        topic: &q.topic,
        partition: -1,
        offset: q.ord,
        message: &message,
        event_id: Some(&q.event_id),
        event_type: Some(&q.envelope.event_type),
        receipt_id: subject.receipt.as_deref(),
        record_index: subject.index,
        notice_id: subject.notice_id.as_deref(),
        reason: Reason::Permanent,
        error: &error,
        attempts: 1,
        first_failed_at: chrono::Utc::now(),
    };
    // Its records wait for the event (`received`; `held` for a held notice's release): they
    // show `quarantined` until it is retried.
    let quarantine_id = quarantine::put_in(tx, &entry, &["received", "held"]).await?;
    EventQuarantined {
        consumer: quarantine::RELAY_STAGE,
        event_id: entry.event_id,
        reason: Reason::Permanent.as_str(),
        error: &error,
        attempts: 1,
        quarantine_id,
    }
    .emit();
    Ok(())
}

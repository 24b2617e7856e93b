//! Quarantine (隔离): events a consumer set aside so that nothing behind them waits, and the
//! operator's actions on them — `retry` re-drives one through the same stage, `discard` ends it.
//! A quarantined event's receipt records show `quarantined` (`GET /v1/receipts/{id}`); a
//! discarded one's show `discarded`.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};

/// Why an event was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The handler failed in a way retrying cannot mend (the database refused the data, an event
    /// that does not have its type's shape).
    Permanent,
    /// The message is not an event envelope at all.
    Undecodable,
    /// The handler panicked (a bug).
    Panic,
    /// Transient failures beyond the bound while the store and the broker answered: the event
    /// itself is the problem.
    RetriesExhausted,
}

impl Reason {
    /// Its name in the store, metrics and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Permanent => "permanent",
            Reason::Undecodable => "undecodable",
            Reason::Panic => "panic",
            Reason::RetriesExhausted => "retries-exhausted",
        }
    }
}

/// An event to set aside.
#[derive(Debug, Clone)]
pub struct NewQuarantine<'a> {
    /// The consumer (stage) that failed.
    pub stage: &'a str,
    /// The topic it came from (unprefixed).
    pub topic: &'a str,
    /// Its partition and offset.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The message bytes as delivered.
    pub message: &'a [u8],
    /// Event id, type, receipt, record index and notice, as far as the envelope could be read.
    pub event_id: Option<&'a str>,
    /// Event type.
    pub event_type: Option<&'a str>,
    /// The receipt of the document it concerns.
    pub receipt_id: Option<&'a str>,
    /// The record within that document.
    pub record_index: Option<i32>,
    /// The notice it concerns.
    pub notice_id: Option<&'a str>,
    /// Why.
    pub reason: Reason,
    /// The last error.
    pub error: &'a str,
    /// Attempts made.
    pub attempts: u32,
    /// When the first attempt failed.
    pub first_failed_at: DateTime<Utc>,
}

/// A quarantined event as operators see it.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantineRow {
    /// Its id (for `retry` and `discard`).
    pub quarantine_id: i64,
    /// The stage that failed.
    pub stage: String,
    /// The topic it came from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Event id, when readable.
    pub event_id: Option<String>,
    /// Event type, when readable.
    pub event_type: Option<String>,
    /// Its receipt.
    pub receipt_id: Option<String>,
    /// Its record in that receipt.
    pub record_index: Option<i32>,
    /// Its notice.
    pub notice_id: Option<String>,
    /// permanent, undecodable, panic, retries-exhausted.
    pub reason: String,
    /// The last error.
    pub error: String,
    /// Attempts made.
    pub attempts: i32,
    /// First failure.
    pub first_failed_at: DateTime<Utc>,
    /// Set aside at.
    pub quarantined_at: DateTime<Utc>,
    /// quarantined, retried, discarded.
    pub state: String,
    /// Who resolved it, and why.
    pub resolved_by: Option<String>,
    /// The operator's reason.
    pub resolution_reason: Option<String>,
}

/// Text PostgreSQL accepts: U+0000 (refused in `text`) shown as `\0`.
fn storable(s: &str) -> String {
    s.replace('\0', "\\0")
}

/// The stage of events the outbox relay could not hand to the broker: refused for good (a topic
/// whose `max.message.bytes` is below the event's size). Their topic is where they were going; a
/// retry sends them there.
pub const RELAY_STAGE: &str = "relay";

/// Sets an event aside and marks its receipt records `quarantined` (the record named, else every
/// record of the receipt still `received`, else the records of its notice), in one transaction.
/// Returns the quarantine id.
pub async fn put(pool: &PgPool, q: &NewQuarantine<'_>) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await?;
    let id = put_in(&mut tx, q, &["received"]).await?;
    tx.commit().await?;
    Ok(id)
}

/// [`put`] in the caller's transaction, moving the records the event concerns from any status of
/// `from` (the outbox relay's `notice.published` of a held notice finds its records `held`).
pub(crate) async fn put_in(
    tx: &mut sqlx::PgConnection,
    q: &NewQuarantine<'_>,
    from: &[&str],
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO quarantine (stage, topic, kafka_partition, kafka_offset, message, event_id, event_type, \
           receipt_id, record_index, notice_id, reason, error, attempts, first_failed_at, quarantined_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14, clock_timestamp()) RETURNING quarantine_id",
    )
    .bind(q.stage)
    .bind(q.topic)
    .bind(q.partition)
    .bind(q.offset)
    .bind(q.message)
    .bind(q.event_id.map(storable))
    .bind(q.event_type.map(storable))
    .bind(q.receipt_id.map(storable))
    .bind(q.record_index)
    .bind(q.notice_id.map(storable))
    .bind(q.reason.as_str())
    .bind(storable(q.error))
    .bind(i32::try_from(q.attempts).unwrap_or(i32::MAX))
    .bind(q.first_failed_at)
    .fetch_one(&mut *tx)
    .await?;
    set_records(
        tx,
        q.receipt_id,
        q.record_index,
        q.notice_id,
        "quarantined",
        from,
    )
    .await?;
    Ok(id)
}

/// Moves the receipt records an event concerns from any status of `from` to `to`: the record
/// named, else every record of the receipt, else the records of its notice. Returns the records
/// moved (receipt, index).
async fn set_records(
    tx: &mut sqlx::PgConnection,
    receipt_id: Option<&str>,
    record_index: Option<i32>,
    notice_id: Option<&str>,
    to: &str,
    from: &[&str],
) -> Result<Vec<(String, i32)>, StoreError> {
    // $1 (and $2): which records; the statuses follow.
    let (which, receipt, index, notice) = match (receipt_id, record_index, notice_id) {
        (Some(r), Some(i), _) => ("receipt_id = $1 AND idx = $2", Some(r), Some(i), None),
        (Some(r), None, _) => ("receipt_id = $1", Some(r), None, None),
        (None, _, Some(n)) => ("notice_id = $1", None, None, Some(n)),
        (None, _, None) => return Ok(Vec::new()),
    };
    let next = if index.is_some() { 3 } else { 2 };
    let lock = format!("SELECT 1 FROM receipt_records WHERE {which} FOR UPDATE");
    let update = format!(
        "UPDATE receipt_records SET status = ${}, updated_at = now() WHERE {which} AND status = ANY(${}) \
         RETURNING receipt_id, idx",
        next,
        next + 1
    );
    // The records are locked before their status is compared: a statement's snapshot alone does
    // not see a concurrent transaction's change of status (a row whose old status does not match
    // is skipped, not waited for). The console's retry re-sends the event before its commit, so
    // the stage can quarantine the event again while the records still read `quarantined` in the
    // stage's snapshot; waiting on the lock first lets the update see `received`.
    let mut moved = Vec::new();
    for (sql, moves) in [(lock, false), (update, true)] {
        let mut query = sqlx::query(&sql).bind(receipt.or(notice).map(storable));
        if let Some(i) = index {
            query = query.bind(i);
        }
        if moves {
            query = query.bind(to).bind(from);
        }
        for row in query.fetch_all(&mut *tx).await? {
            if moves {
                moved.push((row.try_get("receipt_id")?, row.try_get("idx")?));
            }
        }
    }
    Ok(moved)
}

const COLUMNS: &str = "quarantine_id, stage, topic, kafka_partition, kafka_offset, event_id, event_type, receipt_id, \
     record_index, notice_id, reason, error, attempts, first_failed_at, quarantined_at, state, resolved_by, \
     resolution_reason";

fn row(r: &sqlx::postgres::PgRow) -> Result<QuarantineRow, sqlx::Error> {
    Ok(QuarantineRow {
        quarantine_id: r.try_get("quarantine_id")?,
        stage: r.try_get("stage")?,
        topic: r.try_get("topic")?,
        partition: r.try_get("kafka_partition")?,
        offset: r.try_get("kafka_offset")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        receipt_id: r.try_get("receipt_id")?,
        record_index: r.try_get("record_index")?,
        notice_id: r.try_get("notice_id")?,
        reason: r.try_get("reason")?,
        error: r.try_get("error")?,
        attempts: r.try_get("attempts")?,
        first_failed_at: r.try_get("first_failed_at")?,
        quarantined_at: r.try_get("quarantined_at")?,
        state: r.try_get("state")?,
        resolved_by: r.try_get("resolved_by")?,
        resolution_reason: r.try_get("resolution_reason")?,
    })
}

/// Quarantined events, newest first; `state` filters (`quarantined`, `retried`, `discarded`).
pub async fn list(
    pool: &PgPool,
    state: Option<&str>,
    limit: i64,
) -> Result<Vec<QuarantineRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM quarantine WHERE ($1::text IS NULL OR state = $1) \
         ORDER BY quarantine_id DESC LIMIT $2"
    ))
    .bind(state)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

/// How many events each stage has in quarantine now, by reason.
pub async fn open_counts(pool: &PgPool) -> Result<Vec<(String, String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT stage, reason, count(*) AS n FROM quarantine WHERE state = 'quarantined' \
         GROUP BY stage, reason ORDER BY stage, reason",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("stage")?, r.try_get("reason")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// What a retry re-sends: the topic and the message bytes.
#[derive(Debug, Clone)]
pub struct Redrive {
    /// The quarantined event.
    pub row: QuarantineRow,
    /// The message as delivered.
    pub message: Vec<u8>,
    /// The receipt records the resolution moved (receipt, index), for the audit log.
    pub records: Vec<(String, i32)>,
}

/// A discarded `notice.published` that the relay set aside never reached the public, but
/// enforcement recorded its notice as published in its procedures: queues the decision that
/// withdraws it there ([`NoticeDecided::quarantine_id`]), in the transaction that discards it.
/// Any other discarded event needs nothing more.
///
/// [`NoticeDecided::quarantine_id`]: gongshi_domain::events::NoticeDecided::quarantine_id
async fn withdraw_unsent_publication(
    tx: &mut sqlx::PgConnection,
    quarantined: &QuarantineRow,
    message: &[u8],
    operator: &str,
    reason: &str,
) -> Result<(), StoreError> {
    use gongshi_domain::events::{Decision, Event as _, NoticeDecided, NoticePublished};
    if quarantined.stage != RELAY_STAGE
        || quarantined.event_type.as_deref() != Some(NoticePublished::TYPE)
    {
        return Ok(());
    }
    let published = serde_json::from_slice::<crate::bus::Envelope>(message)
        .ok()
        .and_then(|envelope| envelope.decode::<NoticePublished>().ok());
    let Some(published) = published else {
        // Only the relay quarantines here, from its own outbox rows: always an envelope.
        tracing::warn!(
            quarantine = quarantined.quarantine_id,
            message = "discarded publication is not a notice.published envelope; enforcement keeps the notice"
        );
        return Ok(());
    };
    let decided = NoticeDecided {
        decision: Decision::Discard,
        notice_id: published.notice_id.clone(),
        procedure: published.procedure.to_string(),
        receipt: quarantined.receipt_id.clone().unwrap_or_default(),
        index: quarantined.record_index.unwrap_or(0),
        rules: Vec::new(),
        decided_by: operator.to_owned(),
        reason: reason.to_owned(),
        audit_id: 0,
        quarantine_id: Some(quarantined.quarantine_id),
    };
    super::outbox::enqueue(tx, NoticeDecided::TOPIC, &decided.envelope()).await
}

/// Ends a quarantine (`retried` or `discarded`) by `operator` with `reason`, moving its receipt
/// records to `received` (a retry: the stage handles it again) or `discarded`. Returns what to
/// re-send, or `None` when there is no open quarantine with that id. The caller re-sends the
/// message after this commits: a re-sent event that fails again is quarantined anew.
///
/// Runs in the caller's transaction, which writes the action's audit entries in it too (the
/// console, `gongshi quarantine`); the caller commits, then re-sends. Discarding a publication
/// the relay set aside also queues its withdrawal from enforcement (a `notice.decided`).
pub async fn resolve_in(
    tx: &mut sqlx::PgConnection,
    quarantine_id: i64,
    retry: bool,
    operator: &str,
    reason: &str,
) -> Result<Option<Redrive>, StoreError> {
    let found = sqlx::query(&format!(
        "SELECT {COLUMNS}, message FROM quarantine WHERE quarantine_id = $1 AND state = 'quarantined' FOR UPDATE"
    ))
    .bind(quarantine_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let quarantined = row(&found)?;
    let message: Vec<u8> = found.try_get("message")?;
    let state = if retry { "retried" } else { "discarded" };
    sqlx::query(
        "UPDATE quarantine SET state = $2, resolved_at = now(), resolved_by = $3, resolution_reason = $4 \
         WHERE quarantine_id = $1",
    )
    .bind(quarantine_id)
    .bind(state)
    .bind(storable(operator))
    .bind(storable(reason))
    .execute(&mut *tx)
    .await?;
    let records = set_records(
        tx,
        quarantined.receipt_id.as_deref(),
        quarantined.record_index,
        quarantined.notice_id.as_deref(),
        if retry { "received" } else { "discarded" },
        &["quarantined"],
    )
    .await?;
    if !retry {
        withdraw_unsent_publication(tx, &quarantined, &message, operator, reason).await?;
    }
    Ok(Some(Redrive {
        row: quarantined,
        message,
        records,
    }))
}

//! The legal clocks operators watch: legal windows about to close (from the enforce service's
//! durable window timers), held notices with their release times, and parked notices with the
//! stage they wait for. Each list is read a page at a time (`limit`, `offset`) with its total, so
//! that a console page never claims a truncated list is the whole.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgPool, Row};

/// A legal window of a published notice that has not closed yet.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Closing {
    /// The notice.
    pub notice_id: String,
    /// Window name: `documents`, `bid`, `publicity`, `announcement`, `challenge`.
    pub window: String,
    /// When it closes by law (the timer's due instant).
    pub closes_at: DateTime<Utc>,
    /// The notice's title.
    pub title: String,
    /// Procedure key (`platform/project/section`).
    pub procedure: String,
    /// The notice's stage (`tender`, …), when the timer carries it.
    pub kind: Option<String>,
    /// GB/T 2260 region code, when known.
    pub region: Option<String>,
}

/// Windows of published notices that close in `[from, until)`, soonest first: at most `limit` of
/// them from the `offset`-th, and how many there are in all. A held notice's windows are timed
/// too (its hold may end before they close), but it is not public: it is listed as held.
pub async fn closing(
    pool: &PgPool,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Closing>, i64), StoreError> {
    // One `FROM … WHERE` for both statements, as literals so that they are prepared once.
    macro_rules! open_windows {
        () => {
            " FROM timers t JOIN notices n ON n.notice_id = t.notice_id AND n.status = 'published' \
              WHERE t.kind = 'window' AND t.fired_at IS NULL AND t.due_at >= $1 AND t.due_at < $2"
        };
    }
    let total = sqlx::query_scalar(concat!("SELECT count(*)", open_windows!()))
        .bind(from)
        .bind(until)
        .fetch_one(pool);
    let rows = sqlx::query(concat!(
        "SELECT t.notice_id, t.due_at, t.payload",
        open_windows!(),
        " ORDER BY t.due_at, t.notice_id LIMIT $3 OFFSET $4"
    ))
    .bind(from)
    .bind(until)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool);
    let (total, rows) = tokio::try_join!(total, rows)?;
    let text = |p: &Value, k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    let rows = rows
        .iter()
        .map(|r| {
            let payload: Value = r.try_get("payload")?;
            Ok(Closing {
                notice_id: r.try_get("notice_id")?,
                closes_at: r.try_get("due_at")?,
                window: text(&payload, "window").unwrap_or_default(),
                title: text(&payload, "title").unwrap_or_default(),
                procedure: text(&payload, "procedure").unwrap_or_default(),
                kind: text(&payload, "kind"),
                region: text(&payload, "region"),
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((rows, total))
}

/// A notice that is held or parked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Waiting {
    /// The notice.
    pub notice_id: String,
    /// Its title.
    pub title: String,
    /// Procedure key.
    pub procedure: String,
    /// Its stage (`tender`, `candidates`, …).
    pub kind: String,
    /// works / procurement.
    pub regime: String,
    /// GB/T 2260 region code, when known.
    pub region: Option<String>,
    /// When gongshi first saw it.
    pub since: DateTime<Utc>,
    /// Seconds it has waited (database time: a pipeline fact, not a legal one).
    pub waited_s: i64,
    /// Held: when it publishes by itself.
    pub hold_until: Option<DateTime<Utc>>,
    /// Parked: the stage it waits for (`tender`, `candidates`, …).
    pub awaiting: Option<String>,
    /// Its receipt and record, for the operator's record page.
    pub receipt: Option<String>,
    /// The record's index in that receipt.
    pub index: Option<i32>,
}

/// How many notices are in `status` (`held` or `parked`), and how many of those gongshi first saw
/// more than `older_than_s` seconds ago (database time, as [`Waiting::waited_s`]).
pub async fn waiting_counts(
    pool: &PgPool,
    status: &str,
    older_than_s: i64,
) -> Result<(i64, i64), StoreError> {
    Ok(sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE first_seen < now() - make_interval(secs => $2)) \
         FROM notices WHERE status = $1",
    )
    .bind(status)
    .bind(older_than_s as f64)
    .fetch_one(pool)
    .await?)
}

/// Notices in `status` (`held` or `parked`): held ones soonest release first, parked ones
/// longest waiting first; at most `limit` of them from the `offset`-th.
pub async fn waiting(
    pool: &PgPool,
    status: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<Waiting>, StoreError> {
    let rows = sqlx::query(
        "SELECT n.notice_id, n.procedure_key, n.kind, n.regime, n.notice->>'title' AS title, \
                n.notice->>'region' AS region, n.first_seen, n.hold_until, n.outcome->>'awaiting' AS awaiting, \
                EXTRACT(EPOCH FROM (now() - n.first_seen))::bigint AS waited_s, rr.receipt_id, rr.idx \
         FROM notices n \
         LEFT JOIN LATERAL (SELECT receipt_id, idx FROM receipt_records r WHERE r.notice_id = n.notice_id \
                            ORDER BY updated_at DESC LIMIT 1) rr ON true \
         WHERE n.status = $1 \
         ORDER BY CASE WHEN $1 = 'held' THEN n.hold_until END, n.first_seen, n.notice_id LIMIT $2 OFFSET $3",
    )
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(Waiting {
                notice_id: r.try_get("notice_id")?,
                title: r.try_get::<Option<String>, _>("title")?.unwrap_or_default(),
                procedure: r.try_get("procedure_key")?,
                kind: r.try_get("kind")?,
                regime: r.try_get("regime")?,
                region: r.try_get("region")?,
                since: r.try_get("first_seen")?,
                waited_s: r.try_get("waited_s")?,
                hold_until: r.try_get("hold_until")?,
                awaiting: r.try_get("awaiting")?,
                receipt: r.try_get("receipt_id")?,
                index: r.try_get("idx")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

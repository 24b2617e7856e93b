//! The feed store: one entry per published notice or window event, with a global sequence
//! (`seq`), and what filters need denormalised beside it (see [`crate::feed_filter`]).
//!
//! **Commit order = sequence order.** A `bigserial` is assigned at insert, but transactions
//! commit in any order: a reader could see seq 105 while 104 is still uncommitted, page past it,
//! and never see 104. [`append`] therefore takes one transaction-level advisory lock before it
//! draws a sequence number, so appends are serialised: the next appender draws its number only
//! after the previous one has committed (PostgreSQL releases the lock after the commit is
//! visible). Every committed entry is thus visible before any higher one, and a reader who has
//! seen seq N has seen (or filtered away) every entry below N. The publish service appends a
//! batch of entries in one transaction, so the lock is held once per batch, not per entry.

use super::StoreError;
use crate::feed_filter::{EntryFacts, FeedFilter};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

/// The advisory lock key that serialises appends (an arbitrary constant: "gongshi feed").
const APPEND_LOCK: i64 = 0x676f_6e67_7368_6946;

/// One entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// The event id (stable, dedupes redeliveries).
    pub entry_id: &'a str,
    /// Its notice.
    pub notice_id: &'a str,
    /// Its procedure.
    pub procedure_key: &'a str,
    /// `notice.published` or `window.closed`.
    pub event_type: &'a str,
    /// The whole event envelope.
    pub entry: &'a Value,
    /// What filters read.
    pub facts: &'a EntryFacts,
}

/// Appends an entry in the caller's transaction, serialised with every other append (see the
/// module doc); a repeated `entry_id` is ignored (returns false).
pub async fn append(conn: &mut PgConnection, e: &NewEntry<'_>) -> Result<bool, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut *conn)
        .await?;
    let f = e.facts;
    let done = sqlx::query(
        // `published_at` (feeds' Last-Modified) is taken under the lock, not at transaction start
        // (`now()`), so it grows with `seq`.
        "INSERT INTO feed_entries (entry_id, notice_id, procedure_key, event_type, entry, kind, category, region, \
           status, title, entry_at, search_text, published_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12, clock_timestamp()) \
         ON CONFLICT (entry_id) DO NOTHING",
    )
    .bind(e.entry_id)
    .bind(e.notice_id)
    .bind(e.procedure_key)
    .bind(e.event_type)
    .bind(e.entry)
    .bind(&f.kind)
    .bind(&f.category)
    .bind(&f.region)
    .bind(&f.status)
    .bind(&f.title)
    .bind(f.at)
    .bind(&f.search_text)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Appends `entries` in order in the caller's transaction with one statement (the append lock
/// taken once, see the module doc); their `seq`s follow the order of `entries`. Returns, for
/// each entry, whether it is new: an `entry_id` stored before, or earlier in `entries`, is
/// ignored (false).
pub async fn append_many(
    conn: &mut PgConnection,
    entries: &[NewEntry<'_>],
) -> Result<Vec<bool>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut *conn)
        .await?;
    let column = |f: fn(&NewEntry<'_>) -> Option<String>| entries.iter().map(f).collect::<Vec<_>>();
    let stored: Vec<String> = sqlx::query_scalar(
        // Rows are numbered in the order the sorted SELECT yields them, so `seq` follows `ord`;
        // `published_at` is taken under the lock (see `append`).
        "INSERT INTO feed_entries (entry_id, notice_id, procedure_key, event_type, entry, kind, category, region, \
           status, title, entry_at, search_text, published_at) \
         SELECT entry_id, notice_id, procedure_key, event_type, entry, kind, category, region, status, title, \
           entry_at, search_text, clock_timestamp() \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[], \
           $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[]) WITH ORDINALITY \
           AS u(entry_id, notice_id, procedure_key, event_type, entry, kind, category, region, status, title, \
           entry_at, search_text, ord) \
         ORDER BY ord \
         ON CONFLICT (entry_id) DO NOTHING \
         RETURNING entry_id",
    )
    .bind(column(|e| Some(e.entry_id.to_owned())))
    .bind(column(|e| Some(e.notice_id.to_owned())))
    .bind(column(|e| Some(e.procedure_key.to_owned())))
    .bind(column(|e| Some(e.event_type.to_owned())))
    .bind(entries.iter().map(|e| e.entry.clone()).collect::<Vec<Value>>())
    .bind(column(|e| e.facts.kind.clone()))
    .bind(column(|e| e.facts.category.clone()))
    .bind(column(|e| e.facts.region.clone()))
    .bind(column(|e| e.facts.status.clone()))
    .bind(column(|e| Some(e.facts.title.clone())))
    .bind(entries.iter().map(|e| e.facts.at).collect::<Vec<_>>())
    .bind(column(|e| Some(e.facts.search_text.clone())))
    .fetch_all(&mut *conn)
    .await?;
    let mut new: std::collections::HashSet<String> = stored.into_iter().collect();
    // `remove`: of two entries with one id in `entries`, only the first is new.
    Ok(entries.iter().map(|e| new.remove(e.entry_id)).collect())
}

/// The facts of the `notice.published` entries of `notice_ids`, by notice id (window events
/// inherit them); a notice the feed has not published is absent.
pub async fn published_facts_of(
    conn: &mut PgConnection,
    notice_ids: &[&str],
) -> Result<std::collections::HashMap<String, EntryFacts>, StoreError> {
    if notice_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT ON (notice_id) {COLUMNS} FROM feed_entries \
         WHERE notice_id = ANY($1) AND event_type = 'notice.published' ORDER BY notice_id, seq"
    ))
    .bind(notice_ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| row_from(r).map(|r| (r.notice_id, r.facts)))
        .collect()
}

/// The PostgreSQL notification channel on which the store tells readers the feed's new head
/// (payload: the highest `seq`) after every commit that appended entries. A trigger sends it
/// (migration `20261201020000_feed_announce.sql`), so no appender can forget to.
pub const NOTIFY_CHANNEL: &str = "gongshi_feed";

/// The highest sequence number in the feed store (0 when empty).
pub async fn last_seq(pool: &sqlx::PgPool) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM feed_entries")
            .fetch_one(pool)
            .await?,
    )
}

/// Up to `limit` entries with `after < seq <= up_to`, in sequence order, as (seq, entry).
pub async fn entries_between(
    pool: &sqlx::PgPool,
    after: i64,
    up_to: i64,
    limit: i64,
) -> Result<Vec<(i64, Value)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT seq, entry FROM feed_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
    )
    .bind(after)
    .bind(up_to)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The facts of a notice's `notice.published` entry (window events inherit them).
pub async fn published_facts(
    conn: &mut PgConnection,
    notice_id: &str,
) -> Result<Option<EntryFacts>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM feed_entries WHERE notice_id = $1 AND event_type = 'notice.published' \
         ORDER BY seq LIMIT 1"
    ))
    .bind(notice_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref()
        .map(|r| row_from(r).map(|r| r.facts))
        .transpose()
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    /// Global sequence.
    pub seq: i64,
    /// Stable entry id.
    pub entry_id: String,
    /// Its notice.
    pub notice_id: String,
    /// Its procedure.
    pub procedure_key: String,
    /// `notice.published` or `window.closed`.
    pub event_type: String,
    /// The event envelope.
    pub entry: Value,
    /// What filters read.
    pub facts: EntryFacts,
    /// When the store took it (feeds' Last-Modified).
    pub stored_at: DateTime<Utc>,
}

const COLUMNS: &str = "seq, entry_id, notice_id, procedure_key, event_type, entry, kind, category, region, status, \
                       title, entry_at, search_text, published_at";

fn row_from(r: &PgRow) -> Result<FeedRow, StoreError> {
    Ok(FeedRow {
        seq: r.try_get("seq")?,
        entry_id: r.try_get("entry_id")?,
        notice_id: r.try_get("notice_id")?,
        procedure_key: r.try_get("procedure_key")?,
        event_type: r.try_get("event_type")?,
        entry: r.try_get("entry")?,
        facts: EntryFacts {
            kind: r.try_get("kind")?,
            category: r.try_get("category")?,
            region: r.try_get("region")?,
            status: r.try_get("status")?,
            title: r.try_get("title")?,
            at: r.try_get("entry_at")?,
            search_text: r.try_get("search_text")?,
        },
        stored_at: r.try_get("published_at")?,
    })
}

/// Adds `filter` as SQL conditions: the twin of [`FeedFilter::matches`].
fn push_filter(q: &mut QueryBuilder<'_, Postgres>, filter: &FeedFilter) {
    if let Some(v) = &filter.kind {
        q.push(" AND kind = ").push_bind(v.clone());
    }
    if let Some(v) = &filter.category {
        q.push(" AND category = ").push_bind(v.clone());
    }
    if let Some(v) = &filter.status {
        q.push(" AND status = ").push_bind(v.clone());
    }
    if let Some(v) = &filter.region {
        // Digits only (checked by FeedFilter::parse), so no LIKE escaping is needed.
        q.push(" AND region LIKE ").push_bind(format!("{v}%"));
    }
    if let Some(v) = filter.from {
        q.push(" AND entry_at >= ").push_bind(v);
    }
    if let Some(v) = filter.to {
        q.push(" AND entry_at <= ").push_bind(v);
    }
    for term in filter.terms() {
        q.push(" AND strpos(search_text, ")
            .push_bind(term)
            .push(") > 0");
    }
}

/// Which slice of the feed a page shows (defined with the cursor that names it).
pub use gongshi_domain::feed_cursor::Window;

/// Up to `limit` matching entries of `window`, newest first.
pub async fn page(
    pool: &PgPool,
    filter: &FeedFilter,
    window: Window,
    limit: i64,
) -> Result<Vec<FeedRow>, StoreError> {
    let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM feed_entries WHERE TRUE"));
    push_filter(&mut q, filter);
    let ascending = match window {
        Window::Newest => false,
        Window::Before(seq) => {
            q.push(" AND seq < ").push_bind(seq);
            false
        }
        Window::After(seq) => {
            q.push(" AND seq > ").push_bind(seq);
            true
        }
    };
    q.push(if ascending {
        " ORDER BY seq ASC"
    } else {
        " ORDER BY seq DESC"
    });
    q.push(" LIMIT ").push_bind(limit);
    let rows = q.build().fetch_all(pool).await?;
    let mut out = rows.iter().map(row_from).collect::<Result<Vec<_>, _>>()?;
    if ascending {
        out.reverse();
    }
    Ok(out)
}

/// Up to `limit` matching entries with `after < seq <= upto`, oldest first (stream replay,
/// subscription fan-out).
pub async fn since(
    conn: &mut PgConnection,
    filter: &FeedFilter,
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<Vec<FeedRow>, StoreError> {
    let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM feed_entries WHERE seq > "));
    q.push_bind(after).push(" AND seq <= ").push_bind(upto);
    push_filter(&mut q, filter);
    q.push(" ORDER BY seq ASC LIMIT ").push_bind(limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter().map(row_from).collect()
}

/// The highest committed seq (0 for an empty feed). Because appends are serialised, every entry
/// up to it is visible to any later statement.
pub async fn head(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(max(seq), 0)::bigint FROM feed_entries")
            .fetch_one(&mut *conn)
            .await?,
    )
}

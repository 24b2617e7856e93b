//! Notices, procedure state and durable timers: what the enforcement service decides and the
//! gateway shows.

use super::StoreError;
use chrono::{DateTime, Utc};
use gongshi_domain::period::ProcedureState;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};

/// A notice row as enforcement writes it.
#[derive(Debug, Clone)]
pub struct NoticeRow<'a> {
    /// Notice id.
    pub notice_id: &'a str,
    /// `platform/project/section` of its first section.
    pub procedure_key: &'a str,
    /// Platform code.
    pub platform: &'a str,
    /// Project code.
    pub project: &'a str,
    /// Section code.
    pub section: &'a str,
    /// Table code.
    pub table_code: &'a str,
    /// Kind (tender, amendment, …).
    pub kind: &'a str,
    /// works / procurement.
    pub regime: &'a str,
    /// Content hash.
    pub content_hash: &'a str,
    /// DATA_TIMESTAMP.
    pub data_timestamp: Option<DateTime<Utc>>,
    /// published, held, parked, rejected.
    pub status: &'a str,
    /// The verdict (outcome, findings, windows).
    pub outcome: Value,
    /// The notice (public canonical record and typed body).
    pub notice: Value,
    /// For held notices.
    pub hold_until: Option<DateTime<Utc>>,
}

/// The status of a known notice, or `None`.
pub async fn status(
    conn: &mut PgConnection,
    notice_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT status FROM notices WHERE notice_id = $1")
            .bind(notice_id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Which of `notice_ids` have a row (in any status).
pub async fn known(
    conn: &mut PgConnection,
    notice_ids: &[&str],
) -> Result<std::collections::HashSet<String>, StoreError> {
    if notice_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT notice_id FROM notices WHERE notice_id = ANY($1)")
            .bind(notice_ids)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Inserts or updates a notice's row. A row published for the first time is stamped with
/// `published_at` (the transaction's start) and the next `published_seq` (publication order): call
/// it with the notice's procedures locked ([`lock_procedure`]), so that the numbers of one
/// procedure's notices follow the order in which they were published.
pub async fn upsert(conn: &mut PgConnection, row: &NoticeRow<'_>) -> Result<(), StoreError> {
    upsert_many(conn, std::slice::from_ref(row)).await
}

/// [`upsert`] for several notices in one statement. A notice published here takes its place in
/// publication order (`published_seq`) in the order of `rows`; a notice id may appear once.
pub async fn upsert_many(
    conn: &mut PgConnection,
    rows: &[NoticeRow<'_>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&NoticeRow<'_>) -> String| rows.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        // Sorted by `ord` before the sequence is drawn, so `published_seq` follows `rows`.
        "INSERT INTO notices (notice_id, procedure_key, platform, project, section, table_code, kind, regime, \
           content_hash, data_timestamp, status, outcome, notice, hold_until, published_at, published_seq) \
         SELECT notice_id, procedure_key, platform, project, section, table_code, kind, regime, content_hash, \
           data_timestamp, status, outcome, notice, hold_until, \
           CASE WHEN status = 'published' THEN now() END, \
           CASE WHEN status = 'published' THEN nextval('notices_publication_seq') END \
         FROM (SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::text[], $12::jsonb[], $13::jsonb[], \
             $14::timestamptz[]) WITH ORDINALITY \
             AS u(notice_id, procedure_key, platform, project, section, table_code, kind, regime, content_hash, \
               data_timestamp, status, outcome, notice, hold_until, ord) \
           ORDER BY ord) AS sorted \
         ORDER BY ord \
         ON CONFLICT (notice_id) DO UPDATE SET status = EXCLUDED.status, outcome = EXCLUDED.outcome, \
           hold_until = EXCLUDED.hold_until, updated_at = now(), \
           published_at = COALESCE(notices.published_at, EXCLUDED.published_at), \
           published_seq = COALESCE(notices.published_seq, EXCLUDED.published_seq)",
    )
    .bind(text(|r| r.notice_id.to_owned()))
    .bind(text(|r| r.procedure_key.to_owned()))
    .bind(text(|r| r.platform.to_owned()))
    .bind(text(|r| r.project.to_owned()))
    .bind(text(|r| r.section.to_owned()))
    .bind(text(|r| r.table_code.to_owned()))
    .bind(text(|r| r.kind.to_owned()))
    .bind(text(|r| r.regime.to_owned()))
    .bind(text(|r| r.content_hash.to_owned()))
    .bind(rows.iter().map(|r| r.data_timestamp).collect::<Vec<_>>())
    .bind(text(|r| r.status.to_owned()))
    .bind(rows.iter().map(|r| r.outcome.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.notice.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.hold_until).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets a notice's status (published stamps `published_at` and `published_seq` once: call it with
/// the notice's procedures locked, as for [`upsert`]).
pub async fn set_status(
    conn: &mut PgConnection,
    notice_id: &str,
    status: &str,
) -> Result<(), StoreError> {
    if status == "published" {
        return set_published(conn, &[notice_id]).await;
    }
    // A discarded notice is public nowhere: a publication the broker refused had stamped it.
    sqlx::query(
        "UPDATE notices SET status = $2, updated_at = now(), \
           published_at = CASE WHEN $2 = 'discarded' THEN NULL ELSE published_at END, \
           published_seq = CASE WHEN $2 = 'discarded' THEN NULL ELSE published_seq END \
         WHERE notice_id = $1",
    )
    .bind(notice_id)
    .bind(status)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks `notice_ids` published with one statement, stamping each once: `published_at` (the
/// transaction's start) and `published_seq`, which numbers the notices published for the first
/// time in the order of `notice_ids` (publication order). Call it with their procedures locked,
/// as for [`upsert`].
///
/// A notice already published and stamped is left as it is, not rewritten: the publish service
/// calls this for every `notice.published` event, and enforce has stamped almost all of them in
/// the transaction that published them. Rewriting such a row cost a new row version and an entry
/// in each of the table's six indexes per notice, for no change.
pub async fn set_published(conn: &mut PgConnection, notice_ids: &[&str]) -> Result<(), StoreError> {
    if notice_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        // The sequence is drawn in the sorted subquery's order, only for the notices that change.
        "WITH wanted AS ( \
           SELECT n.notice_id AS id, min(u.ord) AS ord \
           FROM unnest($1::text[]) WITH ORDINALITY AS u(id, ord) \
           JOIN notices n ON n.notice_id = u.id \
           WHERE n.status <> 'published' OR n.published_seq IS NULL \
           GROUP BY n.notice_id), \
         numbered AS ( \
           SELECT id, nextval('notices_publication_seq') AS seq \
           FROM (SELECT id, ord FROM wanted ORDER BY ord) ordered) \
         UPDATE notices n SET status = 'published', updated_at = now(), \
           published_at = COALESCE(n.published_at, now()), \
           published_seq = COALESCE(n.published_seq, numbered.seq) \
         FROM numbered WHERE n.notice_id = numbered.id",
    )
    .bind(notice_ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Keeps the private canonical records (personal fields included) of valid notices, in one
/// statement: (notice id, canonical record); the first record of an id stays.
pub async fn store_private_many(
    conn: &mut PgConnection,
    records: &[(&str, &Value)],
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO notices_private (notice_id, canonical) \
         SELECT id, canonical FROM UNNEST($1::text[], $2::jsonb[]) AS u(id, canonical) \
         ON CONFLICT (notice_id) DO NOTHING",
    )
    .bind(
        records
            .iter()
            .map(|(id, _)| (*id).to_owned())
            .collect::<Vec<_>>(),
    )
    .bind(
        records
            .iter()
            .map(|(_, c)| (*c).clone())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Locks and loads a procedure's state (empty when new).
pub async fn lock_procedure(
    conn: &mut PgConnection,
    key: &gongshi_domain::ProcedureKey,
) -> Result<ProcedureState, StoreError> {
    let mut states = lock_procedures(conn, std::slice::from_ref(key)).await?;
    // The row was just inserted when missing, so it is there unless the database lost it.
    states
        .pop()
        .ok_or_else(|| StoreError::from(sqlx::Error::RowNotFound))
}

/// Locks and loads the states of `keys` (empty when new), in at most two statements: one state
/// per distinct key, sorted by key. Rows are created and locked in key order, the order every writer
/// of several procedures takes them in, so two writers never wait on each other.
pub async fn lock_procedures(
    conn: &mut PgConnection,
    keys: &[gongshi_domain::ProcedureKey],
) -> Result<Vec<ProcedureState>, StoreError> {
    let mut keys: Vec<&gongshi_domain::ProcedureKey> = keys.iter().collect();
    keys.sort_by_cached_key(|k| k.to_string());
    keys.dedup_by_key(|k| k.to_string());
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
    let empty: Vec<sqlx::types::Json<ProcedureState>> = keys
        .iter()
        .map(|k| sqlx::types::Json(ProcedureState::new((*k).clone())))
        .collect();
    // A row this statement creates is this transaction's until it commits, so it needs no lock
    // of its own; only the rows that were there already are locked next (a lock is a WAL record
    // and a row write).
    let created: std::collections::HashSet<String> = sqlx::query_scalar(
        "INSERT INTO procedures (procedure_key, state) \
         SELECT k, s FROM UNNEST($1::text[], $2::jsonb[]) WITH ORDINALITY AS u(k, s, ord) ORDER BY ord \
         ON CONFLICT DO NOTHING RETURNING procedure_key",
    )
    .bind(&names)
    .bind(&empty)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let existing: Vec<&String> = names.iter().filter(|n| !created.contains(*n)).collect();
    let mut stored: std::collections::HashMap<String, ProcedureState> = if existing.is_empty() {
        Default::default()
    } else {
        let rows: Vec<(String, sqlx::types::Json<ProcedureState>)> = sqlx::query_as(
            "SELECT procedure_key, state FROM procedures WHERE procedure_key = ANY($1) \
             ORDER BY procedure_key FOR UPDATE",
        )
        .bind(&existing)
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter().map(|(k, s)| (k, s.0)).collect()
    };
    names
        .iter()
        .zip(empty)
        .map(|(name, empty)| {
            if created.contains(name) {
                Ok(empty.0)
            } else {
                stored
                    .remove(name)
                    .ok_or_else(|| StoreError::from(sqlx::Error::RowNotFound))
            }
        })
        .collect()
}

/// Whether an objection (异议) or complaint (投诉) of the procedure `key` (`platform/project/
/// section`) is open ([`ProcedureState::open_disputes`]); false for an unknown procedure. Only
/// the fact leaves the store, never the objection.
pub async fn dispute_open(pool: &PgPool, key: &str) -> Result<bool, StoreError> {
    let state: Option<sqlx::types::Json<ProcedureState>> =
        sqlx::query_scalar("SELECT state FROM procedures WHERE procedure_key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?;
    Ok(state.is_some_and(|s| !s.0.open_disputes().is_empty()))
}

/// Saves a procedure's state.
pub async fn save_procedure(
    conn: &mut PgConnection,
    state: &ProcedureState,
) -> Result<(), StoreError> {
    save_procedures(conn, &[state]).await
}

/// Saves procedures' states in one statement (a key may appear once).
pub async fn save_procedures(
    conn: &mut PgConnection,
    states: &[&ProcedureState],
) -> Result<(), StoreError> {
    if states.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE procedures SET state = u.state, updated_at = now() \
         FROM UNNEST($1::text[], $2::jsonb[]) AS u(procedure_key, state) \
         WHERE procedures.procedure_key = u.procedure_key",
    )
    .bind(states.iter().map(|s| s.key.to_string()).collect::<Vec<_>>())
    .bind(states.iter().map(sqlx::types::Json).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A notice waiting in a procedure, as [`waiting_in`] finds it.
#[derive(Debug, Clone)]
pub struct WaitingNotice {
    /// Notice id.
    pub notice_id: String,
    /// Its `procedure_key` column (`platform/project/section` of its first section).
    pub procedure_key: String,
    /// When the store first saw it: waiting notices are judged again oldest first.
    pub first_seen: DateTime<Utc>,
    /// The stored notice document.
    pub notice: Value,
}

/// Notices of these procedures (by their `procedure_key`) waiting to be judged again, oldest
/// first (`first_seen`, then notice id), locked: parked ones (awaiting their parent stage) and
/// held ones with no `hold_until` (suspended by an open objection or complaint).
pub async fn waiting_in(
    conn: &mut PgConnection,
    keys: &[String],
) -> Result<Vec<WaitingNotice>, StoreError> {
    let rows = sqlx::query(
        "SELECT notice_id, procedure_key, first_seen, notice FROM notices \
         WHERE (status = 'parked' OR (status = 'held' AND hold_until IS NULL)) \
         AND procedure_key = ANY($1) \
         ORDER BY first_seen, notice_id FOR UPDATE",
    )
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WaitingNotice {
                notice_id: r.try_get("notice_id")?,
                procedure_key: r.try_get("procedure_key")?,
                first_seen: r.try_get("first_seen")?,
                notice: r.try_get("notice")?,
            })
        })
        .collect()
}

/// A parked notice's kind, the stage it awaits (its verdict's `awaiting`), and the notices of
/// that stage in its procedure that gongshi holds unpublished (parked, held or rejected), as
/// (notice id, status): what an operator's release of it must not jump ahead of.
pub async fn parked_parent(
    pool: &PgPool,
    notice_id: &str,
) -> Result<(Option<String>, Option<String>, Vec<(String, String)>), StoreError> {
    let Some(row) = sqlx::query(
        "SELECT kind, procedure_key, outcome->>'awaiting' AS awaiting FROM notices WHERE notice_id = $1",
    )
    .bind(notice_id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok((None, None, Vec::new()));
    };
    let kind: String = row.try_get("kind")?;
    let awaiting: Option<String> = row.try_get("awaiting")?;
    let key: String = row.try_get("procedure_key")?;
    let parents = match &awaiting {
        Some(stage) => {
            sqlx::query_as(
                "SELECT notice_id, status FROM notices WHERE procedure_key = $1 AND kind = $2 \
             AND status IN ('parked', 'held', 'rejected') ORDER BY first_seen",
            )
            .bind(&key)
            .bind(stage)
            .fetch_all(pool)
            .await?
        }
        None => Vec::new(),
    };
    Ok((Some(kind), awaiting, parents))
}

/// The stored notice document of a notice id.
pub async fn notice_json(
    conn: &mut PgConnection,
    notice_id: &str,
) -> Result<Option<Value>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT notice FROM notices WHERE notice_id = $1")
            .bind(notice_id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// The stored verdict (`outcome`: outcome, findings, windows) of a notice id, or `None` for an
/// unknown notice.
pub async fn outcome(
    conn: &mut PgConnection,
    notice_id: &str,
) -> Result<Option<Value>, StoreError> {
    let outcome = sqlx::query_scalar("SELECT outcome FROM notices WHERE notice_id = $1")
        .bind(notice_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(outcome)
}

/// Replaces one window of a notice's stored verdict (a listing that extended itself).
pub async fn set_window(
    conn: &mut PgConnection,
    notice_id: &str,
    name: &str,
    window: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE notices SET outcome = jsonb_set(outcome, ARRAY['windows', $2], $3), \
         updated_at = now() WHERE notice_id = $1",
    )
    .bind(notice_id)
    .bind(name)
    .bind(window)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A durable timer to add.
#[derive(Debug, Clone)]
pub struct NewTimer {
    /// Timer id (a repeated id is ignored).
    pub timer_id: String,
    /// `hold` or `window`.
    pub kind: &'static str,
    /// Its notice.
    pub notice_id: String,
    /// When it falls due.
    pub due_at: DateTime<Utc>,
    /// What it keeps until then (a window timer's window).
    pub payload: Value,
}

/// Adds a durable timer (a repeated id is ignored).
pub async fn add_timer(conn: &mut PgConnection, timer: &NewTimer) -> Result<(), StoreError> {
    add_timers(conn, std::slice::from_ref(timer)).await
}

/// Adds durable timers in one statement (a repeated id, stored or in `timers`, is ignored: the
/// first one stays).
pub async fn add_timers(conn: &mut PgConnection, timers: &[NewTimer]) -> Result<(), StoreError> {
    if timers.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO timers (timer_id, kind, notice_id, due_at, payload) \
         SELECT DISTINCT ON (timer_id) timer_id, kind, notice_id, due_at, payload \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[]) WITH ORDINALITY \
           AS u(timer_id, kind, notice_id, due_at, payload, ord) \
         ORDER BY timer_id, ord \
         ON CONFLICT DO NOTHING",
    )
    .bind(timers.iter().map(|t| t.timer_id.clone()).collect::<Vec<_>>())
    .bind(timers.iter().map(|t| t.kind.to_owned()).collect::<Vec<_>>())
    .bind(timers.iter().map(|t| t.notice_id.clone()).collect::<Vec<_>>())
    .bind(timers.iter().map(|t| t.due_at).collect::<Vec<_>>())
    .bind(timers.iter().map(|t| t.payload.clone()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A timer that is due.
#[derive(Debug, Clone)]
pub struct DueTimer {
    /// Timer id.
    pub timer_id: String,
    /// hold or window.
    pub kind: String,
    /// Its notice.
    pub notice_id: String,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// Extra data (window name).
    pub payload: Value,
}

/// Locks up to `limit` timers due at `now` that no other instance holds, in due order; at one
/// instant windows close before holds end (a candidate publicity closes, then the award held
/// for it is published), as the feed then reads.
pub async fn due_timers(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DueTimer>, StoreError> {
    let rows = sqlx::query(
        "SELECT timer_id, kind, notice_id, due_at, payload FROM timers WHERE fired_at IS NULL AND due_at <= $1 \
         ORDER BY due_at, kind = 'hold', timer_id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DueTimer {
                timer_id: r.try_get("timer_id")?,
                kind: r.try_get("kind")?,
                notice_id: r.try_get("notice_id")?,
                due_at: r.try_get("due_at")?,
                payload: r.try_get("payload")?,
            })
        })
        .collect()
}

/// Removes a notice's pending timers (its hold and its windows): an operator discarded it.
pub async fn cancel_timers(conn: &mut PgConnection, notice_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM timers WHERE notice_id = $1 AND fired_at IS NULL")
        .bind(notice_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks a timer fired.
pub async fn fire_timer(conn: &mut PgConnection, timer_id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE timers SET fired_at = now() WHERE timer_id = $1")
        .bind(timer_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A notice as the gateway shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublicNotice {
    /// Notice id.
    pub notice_id: String,
    /// Procedure key.
    pub procedure_key: String,
    /// Table code.
    pub table: String,
    /// Kind.
    pub kind: String,
    /// published, held, …
    pub status: String,
    /// The verdict (findings, windows).
    pub outcome: Value,
    /// The notice (public canonical record).
    pub notice: Value,
    /// When it was published.
    pub published_at: Option<DateTime<Utc>>,
    /// Its place in publication order (see the `publication_sequence` migration): within a
    /// procedure, strictly increasing in the order gongshi published its notices.
    pub published_seq: Option<i64>,
    /// DATA_TIMESTAMP.
    pub data_timestamp: Option<DateTime<Utc>>,
}

fn public_from(r: &sqlx::postgres::PgRow) -> Result<PublicNotice, StoreError> {
    Ok(PublicNotice {
        notice_id: r.try_get("notice_id")?,
        procedure_key: r.try_get("procedure_key")?,
        table: r.try_get("table_code")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        outcome: r.try_get("outcome")?,
        notice: r.try_get("notice")?,
        published_at: r.try_get("published_at")?,
        published_seq: r.try_get("published_seq")?,
        data_timestamp: r.try_get("data_timestamp")?,
    })
}

const PUBLIC_COLUMNS: &str = "notice_id, procedure_key, table_code, kind, status, outcome, notice, published_at, published_seq, data_timestamp";

/// A published notice by id.
pub async fn published(pool: &PgPool, notice_id: &str) -> Result<Option<PublicNotice>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {PUBLIC_COLUMNS} FROM notices WHERE notice_id = $1 AND published_at IS NOT NULL"
    ))
    .bind(notice_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(public_from).transpose()
}

/// Published notices by id (the hits of a search page), in no particular order; unknown or
/// unpublished ids are left out.
pub async fn published_many(
    pool: &PgPool,
    notice_ids: &[String],
) -> Result<Vec<PublicNotice>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {PUBLIC_COLUMNS} FROM notices WHERE notice_id = ANY($1) AND published_at IS NOT NULL"
    ))
    .bind(notice_ids)
    .fetch_all(pool)
    .await?;
    rows.iter().map(public_from).collect()
}

/// The published notices of the tender stage (tenders and their amendments) of these projects
/// (`platform/project`), in publication order: where a later stage's notice lacks the project's
/// name or buyer, its tender has them; an amendment may have moved a tender's deadline.
pub async fn tender_stages_of(
    pool: &PgPool,
    projects: &[String],
) -> Result<Vec<PublicNotice>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {PUBLIC_COLUMNS} FROM notices WHERE published_at IS NOT NULL AND kind IN ('tender', 'amendment') \
         AND platform || '/' || project = ANY($1) ORDER BY published_seq, published_at, notice_id"
    ))
    .bind(projects)
    .fetch_all(pool)
    .await?;
    rows.iter().map(public_from).collect()
}

/// Publication order (`published_seq`) of the notices `ids` that have one.
pub async fn published_seqs(
    tx: &mut sqlx::PgConnection,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT notice_id, published_seq FROM notices \
         WHERE notice_id = ANY($1) AND published_seq IS NOT NULL",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Every published notice of a procedure (any of whose sections is this one), in publication order
/// (`published_seq`).
pub async fn of_procedure(pool: &PgPool, key: &str) -> Result<Vec<PublicNotice>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {PUBLIC_COLUMNS} FROM notices WHERE published_at IS NOT NULL AND \
         (procedure_key = $1 OR notice->'procedures' @> jsonb_build_array(jsonb_build_object( \
            'platform', split_part($1, '/', 1), 'project', split_part($1, '/', 2), 'section', split_part($1, '/', 3)))) \
         ORDER BY published_seq, published_at, notice_id"
    ))
    .bind(key)
    .fetch_all(pool)
    .await?;
    rows.iter().map(public_from).collect()
}

/// Published notices in publication order with `published_at` in `[from, to]`, after the
/// `(published_at, notice_id)` cursor, at most `limit`, of the categories `regimes` (the OCDS
/// export's pages: procurement categories only).
///
/// `published_at` is the publishing transaction's start time, so a transaction still running may
/// yet commit a notice stamped before one already visible: only notices stamped before the oldest
/// running transaction began are served, and a cursor never passes a notice that appears later.
pub async fn published_page(
    pool: &PgPool,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: Option<(DateTime<Utc>, &str)>,
    limit: i64,
    regimes: &[&str],
) -> Result<Vec<PublicNotice>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {PUBLIC_COLUMNS} FROM notices WHERE published_at IS NOT NULL \
         AND regime = ANY($6) \
         AND ($1::timestamptz IS NULL OR published_at >= $1) \
         AND ($2::timestamptz IS NULL OR published_at <= $2) \
         AND ($3::timestamptz IS NULL OR (published_at, notice_id) > ($3, $4::text)) \
         AND published_at < (SELECT COALESCE(min(xact_start), now()) FROM pg_stat_activity \
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL) \
         ORDER BY published_at, notice_id LIMIT $5"
    ))
    .bind(from)
    .bind(to)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .bind(regimes)
    .fetch_all(pool)
    .await?;
    rows.iter().map(public_from).collect()
}

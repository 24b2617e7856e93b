//! The operators' console's own state: browser sessions (`operator_sessions`) and the append-only
//! audit log of operator actions (`operator_audit`; the table refuses UPDATE and DELETE).

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgPool, Row};

/// A signed-in session as the console reads it back.
#[derive(Debug, Clone)]
pub struct Session {
    /// The operator's name (from `GONGSHI_OPERATOR_TOKENS`).
    pub operator: String,
    /// SHA-256 hex of the token the operator signed in with.
    pub token_digest: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session under the SHA-256 hex of its id (`session_hash`).
pub async fn create_session(
    pool: &PgPool,
    session_hash: &str,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO operator_sessions (session_hash, operator, token_digest, csrf, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(session_hash)
    .bind(&session.operator)
    .bind(&session.token_digest)
    .bind(&session.csrf)
    .bind(now)
    .bind(session.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The session with that hash if it has not expired at `now`; expired sessions are deleted on
/// the way (so the table holds only live ones and those nobody came back to).
pub async fn session(
    pool: &PgPool,
    session_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    sqlx::query("DELETE FROM operator_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    let row = sqlx::query(
        "SELECT operator, token_digest, csrf, expires_at FROM operator_sessions WHERE session_hash = $1",
    )
    .bind(session_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Session {
            operator: r.try_get("operator")?,
            token_digest: r.try_get("token_digest")?,
            csrf: r.try_get("csrf")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Ends a session (sign-out).
pub async fn delete_session(pool: &PgPool, session_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM operator_sessions WHERE session_hash = $1")
        .bind(session_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// An operator action to log.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    /// Who.
    pub operator: &'a str,
    /// `retry`, `release` or `discard`.
    pub action: &'a str,
    /// The record's receipt.
    pub receipt: &'a str,
    /// The record in it.
    pub index: i32,
    /// The operator's reason.
    pub reason: &'a str,
    /// The record's status before the action.
    pub before: &'a str,
    /// Its status after (as the action leaves it: `received` while a retried or released record
    /// travels through the pipeline again, `discarded`, …).
    pub after: &'a str,
    /// What else the action named (rules released, quarantine id).
    pub detail: Value,
}

/// One audit entry as `GET /ops/api/audit` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Its id (ascending with time).
    pub id: i64,
    /// When (UTC, RFC 3339).
    pub at: DateTime<Utc>,
    /// Who.
    pub operator: String,
    /// `retry`, `release` or `discard`.
    pub action: String,
    /// The record's receipt.
    pub receipt: String,
    /// The record in it.
    pub index: i32,
    /// The operator's reason.
    pub reason: String,
    /// Status before.
    pub before: String,
    /// Status after.
    pub after: String,
    /// What else the action named.
    pub detail: Value,
}

/// Appends an entry inside the caller's transaction (the action and its audit entry commit
/// together or not at all).
pub async fn append(
    conn: &mut sqlx::PgConnection,
    entry: &NewAuditEntry<'_>,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO operator_audit (operator, action, receipt_id, record_index, reason, before, after, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING audit_id",
    )
    .bind(entry.operator)
    .bind(entry.action)
    .bind(entry.receipt)
    .bind(entry.index)
    .bind(entry.reason)
    .bind(entry.before)
    .bind(entry.after)
    .bind(&entry.detail)
    .fetch_one(conn)
    .await?)
}

const AUDIT_COLUMNS: &str =
    "audit_id, at, operator, action, receipt_id, record_index, reason, before, after, detail";

fn audit_row(r: &sqlx::postgres::PgRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        id: r.try_get("audit_id")?,
        at: r.try_get("at")?,
        operator: r.try_get("operator")?,
        action: r.try_get("action")?,
        receipt: r.try_get("receipt_id")?,
        index: r.try_get("record_index")?,
        reason: r.try_get("reason")?,
        before: r.try_get("before")?,
        after: r.try_get("after")?,
        detail: r.try_get("detail")?,
    })
}

/// Audit entries newest first, `limit` from `offset`, with the total count.
pub async fn audit(
    pool: &PgPool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditEntry>, i64), StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {AUDIT_COLUMNS} FROM operator_audit ORDER BY audit_id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM operator_audit")
        .fetch_one(pool)
        .await?;
    Ok((rows.iter().map(audit_row).collect::<Result<_, _>>()?, total))
}

/// Every audit entry of one record, oldest first (its history on the record page).
pub async fn audit_of_record(
    pool: &PgPool,
    receipt: &str,
    index: i32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {AUDIT_COLUMNS} FROM operator_audit WHERE receipt_id = $1 AND record_index = $2 \
         ORDER BY audit_id"
    ))
    .bind(receipt)
    .bind(index)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(audit_row).collect::<Result<_, _>>()?)
}

//! The feed store: one entry per published notice or window event, with a global sequence.

use serde_json::Value;
use sqlx::PgConnection;

/// Appends an entry; a repeated `entry_id` is ignored (returns false).
pub async fn append(
    conn: &mut PgConnection,
    entry_id: &str,
    notice_id: &str,
    procedure_key: &str,
    event_type: &str,
    entry: &Value,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO feed_entries (entry_id, notice_id, procedure_key, event_type, entry) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (entry_id) DO NOTHING",
    )
    .bind(entry_id)
    .bind(notice_id)
    .bind(procedure_key)
    .bind(event_type)
    .bind(entry)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The highest sequence number in the feed store (0 when empty).
pub async fn last_seq(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM feed_entries")
        .fetch_one(pool)
        .await
}

/// Up to `limit` entries with `after < seq <= up_to`, in sequence order, as (seq, entry).
pub async fn entries_between(
    pool: &sqlx::PgPool,
    after: i64,
    up_to: i64,
    limit: i64,
) -> Result<Vec<(i64, Value)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, entry FROM feed_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
    )
    .bind(after)
    .bind(up_to)
    .bind(limit)
    .fetch_all(pool)
    .await
}

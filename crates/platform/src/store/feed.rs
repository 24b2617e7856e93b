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

//! Planner statistics for the tables the pipeline writes in bulk.
//!
//! A table PostgreSQL has never analyzed is planned blind: with no statistics, an equality on
//! `receipt_records.notice_id` is taken to match 0.5 % of the table, so the batch update of a
//! notice's records joins by scanning the whole table. Autovacuum analyzes a table once it has
//! changed enough, but visits each database only every `autovacuum_naptime` (a minute by
//! default): a fresh deployment's first minute of backfill ran at half speed, its updates
//! reading tens of millions of rows (`scripts/bench/all` on a fresh database: 2,230 scans of
//! `receipt_records` reading 107 M rows for 50,000 notices). [`analyze_unplanned`] analyzes
//! those tables as soon as they hold enough rows; autovacuum keeps their statistics from then on.

use super::StoreError;
use sqlx::PgPool;

/// The tables whose statistics the pipeline's batch statements depend on.
pub const BULK_TABLES: [&str; 6] = [
    "receipt_records",
    "receipts",
    "notices",
    "procedures",
    "feed_entries",
    "processed_events",
];

/// Rows a never-analyzed table must hold before it is analyzed here (below that, a whole-table
/// scan costs no more than the index would).
pub const ANALYZE_FROM_ROWS: i64 = 2_000;

/// Analyzes each of [`BULK_TABLES`] that was never analyzed (by anyone) and holds at least
/// [`ANALYZE_FROM_ROWS`] rows; returns the tables analyzed. Cheap when there is nothing to do:
/// one read of `pg_stat_user_tables`.
pub async fn analyze_unplanned(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_stat_user_tables \
         WHERE schemaname = current_schema() AND relname = ANY($1) \
           AND last_analyze IS NULL AND last_autoanalyze IS NULL \
           AND n_live_tup + n_dead_tup >= $2",
    )
    .bind(BULK_TABLES)
    .bind(ANALYZE_FROM_ROWS)
    .fetch_all(pool)
    .await?;
    let mut analyzed = Vec::new();
    // Names from the constant list, never from elsewhere, go into the statement.
    for table in BULK_TABLES
        .into_iter()
        .filter(|t| due.iter().any(|d| d == t))
    {
        sqlx::query(&format!("ANALYZE {table}"))
            .execute(pool)
            .await?;
        analyzed.push(table.to_owned());
    }
    Ok(analyzed)
}

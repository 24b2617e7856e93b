//! The PostgreSQL store (sqlx): migrations under `crates/platform/migrations/`, and one module per
//! group of tables. Queries are plain SQL checked by the cross-service tests against a real
//! server. The store owns the SQL: services call these functions, and every one of them fails
//! with a [`StoreError`] that says whether retrying can help.

pub mod clocks;
mod error;
pub mod feed;
pub mod notices;
pub mod operators;
pub mod outbox;
pub mod overview;
pub mod quarantine;
pub mod receipts;
pub mod records;
pub mod report;
pub mod retries;
pub mod subscriptions;

pub use error::StoreError;

use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// A connection pool with the schema migrated.
#[derive(Debug, Clone)]
pub struct Store {
    /// The pool; services run their own queries through the modules of this one.
    pub pool: PgPool,
}

impl Store {
    /// Connects and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool })
    }

    /// Whether the database answers (for readiness).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Records that `consumer` applied `event_id`; false when it already had (a redelivery).
pub async fn first_time(
    tx: &mut sqlx::PgConnection,
    consumer: &str,
    event_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

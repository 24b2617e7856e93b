//! What the operators' overview reads from the store: records by receipt status, and records
//! received and notices published per minute.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use std::collections::BTreeMap;

/// How many receipt records are in each status (`received`, `published`, `invalid`, …), over
/// every record ever received.
pub async fn status_counts(pool: &PgPool) -> Result<BTreeMap<String, i64>, StoreError> {
    let rows = sqlx::query("SELECT status, count(*) AS n FROM receipt_records GROUP BY status")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// One minute of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Minute {
    /// The minute's start.
    pub at: DateTime<Utc>,
    /// Records received in it (records of the documents whose receipt time falls in it).
    pub received: i64,
    /// Notices published in it (`notice.published` entries appended to the feed store).
    pub published: i64,
}

/// Every minute from `since`'s minute to `until`'s, oldest first, with the records received and
/// notices published in each (zero when none). Times are the database's (when the receipt and the
/// feed entry were written), not the pipeline's legal clock.
pub async fn per_minute(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Minute>, StoreError> {
    let rows = sqlx::query(
        "WITH m AS (SELECT generate_series(date_trunc('minute', $1::timestamptz), \
                                             date_trunc('minute', $2::timestamptz), interval '1 minute') AS at), \
              r AS (SELECT date_trunc('minute', rc.received_at) AS at, count(*) AS n \
                    FROM receipts rc JOIN receipt_records rr USING (receipt_id) \
                    WHERE rc.received_at >= date_trunc('minute', $1::timestamptz) AND rc.received_at <= $2 GROUP BY 1), \
              p AS (SELECT date_trunc('minute', published_at) AS at, count(*) AS n FROM feed_entries \
                    WHERE event_type = 'notice.published' AND published_at >= date_trunc('minute', $1::timestamptz) \
                      AND published_at <= $2 GROUP BY 1) \
         SELECT m.at, COALESCE(r.n, 0) AS received, COALESCE(p.n, 0) AS published \
         FROM m LEFT JOIN r USING (at) LEFT JOIN p USING (at) ORDER BY m.at",
    )
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(Minute {
                at: r.try_get("at")?,
                received: r.try_get("received")?,
                published: r.try_get("published")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

//! What the publication report (政务公开工作年度报告 figures) reads from the store: the notices
//! published in a period with their kind, category, region, notice time, receipt time and WARN
//! rules, and the rule findings of the records received in a period.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};

/// One notice gongshi published, as the feed store has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedNotice {
    /// The notice.
    pub notice_id: String,
    /// Its table code (which rules apply to it).
    pub table: String,
    /// Its stage: `tender`, `amendment`, `candidates`, `award`, `termination`.
    pub kind: String,
    /// `works` or `procurement`.
    pub category: String,
    /// GB/T 2260 region code, when known.
    pub region: Option<String>,
    /// The notice's own time (the platform's send or publicity start time), when it has one.
    pub sent_at: Option<DateTime<Utc>>,
    /// When gongshi first received a record of it.
    pub received_at: Option<DateTime<Utc>>,
    /// When gongshi published it (the feed entry's time).
    pub published_at: DateTime<Utc>,
    /// Rule ids of its WARN findings (published with the notice).
    pub warnings: Vec<String>,
    /// The fields its public record carries: a rule between two of them applies only when both
    /// are there (W8 needs `EVALUATION_REPORT_TIME`).
    pub fields: Vec<String>,
}

/// Every notice published (a `notice.published` feed entry) in `[from, until)`, in publication
/// order.
pub async fn published(
    pool: &PgPool,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<PublishedNotice>, StoreError> {
    let rows = sqlx::query(
        "SELECT f.notice_id, COALESCE(f.entry->'payload'->>'table', '') AS table_code, COALESCE(f.kind, '') AS kind, \
                COALESCE(f.category, '') AS category, f.region, f.published_at, \
                (f.entry->'payload'->>'sent_at')::timestamptz AS sent_at, \
                COALESCE(ARRAY(SELECT jsonb_array_elements_text(COALESCE(f.entry->'payload'->'warnings', '[]'))), '{}') AS warnings, \
                COALESCE(ARRAY(SELECT jsonb_object_keys(CASE jsonb_typeof(f.entry->'payload'->'record') \
                  WHEN 'object' THEN f.entry->'payload'->'record' ELSE '{}'::jsonb END)), '{}') AS fields, \
                (SELECT min(rc.received_at) FROM receipt_records rr JOIN receipts rc USING (receipt_id) \
                 WHERE rr.notice_id = f.notice_id) AS received_at \
         FROM feed_entries f \
         WHERE f.event_type = 'notice.published' AND f.published_at >= $1 AND f.published_at < $2 \
         ORDER BY f.seq",
    )
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(PublishedNotice {
                notice_id: r.try_get("notice_id")?,
                table: r.try_get("table_code")?,
                kind: r.try_get("kind")?,
                category: r.try_get("category")?,
                region: r.try_get("region")?,
                sent_at: r.try_get("sent_at")?,
                received_at: r.try_get("received_at")?,
                published_at: r.try_get("published_at")?,
                warnings: r.try_get("warnings")?,
                fields: r.try_get("fields")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// How many records received in a period have a finding of one rule, in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violations {
    /// Rule id.
    pub rule: String,
    /// GB/T 2260 region code of the record's notice, else its procedure's tender's, else the
    /// one a record that never became a notice gives; `None` when none is known.
    pub region: Option<String>,
    /// Records.
    pub count: i64,
}

/// Rule violations of the records received in `[from, until)`: every ERROR finding (the record
/// was refused or rejected for it) and every WARN finding (published with a warning), counted once
/// per record and rule, by rule and region. INFO findings (a future send time, a parked notice)
/// are decisions, not violations.
pub async fn violations(
    pool: &PgPool,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Violations>, StoreError> {
    let rows = sqlx::query(
        "SELECT v.rule, v.region, count(*) AS n FROM ( \
           SELECT DISTINCT rr.receipt_id, rr.idx, f->>'rule' AS rule, \
             COALESCE(n.notice->>'region', \
               (SELECT t.notice->>'region' FROM notices t WHERE t.procedure_key = n.procedure_key \
                  AND t.kind = 'tender' AND t.notice->>'region' IS NOT NULL LIMIT 1), \
               rr.subject->>'region') AS region \
           FROM receipt_records rr JOIN receipts rc USING (receipt_id) \
           LEFT JOIN notices n ON n.notice_id = rr.notice_id \
           CROSS JOIN LATERAL jsonb_array_elements(rr.errors || rr.warnings) f \
           WHERE rc.received_at >= $1 AND rc.received_at < $2 AND jsonb_typeof(f) = 'object' \
             AND f->>'rule' IS NOT NULL AND COALESCE(f->>'severity', 'ERROR') IN ('ERROR', 'WARN') \
         ) v GROUP BY v.rule, v.region ORDER BY n DESC, v.rule, v.region",
    )
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(Violations {
                rule: r.try_get("rule")?,
                region: r.try_get("region")?,
                count: r.try_get("n")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

//! Records across receipts, as the operators' console lists them (`/ops/api/records`): filtered
//! by status, failed rule, platform and day of receipt, newest first, with what an operator needs
//! to decide (the procedure and title when the record became a notice, the open quarantine's
//! error when it is quarantined).

use super::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgPool, Row};

/// Which records to list; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Receipt status (`invalid`, `rejected`, `quarantined`, `held`, `parked`, …).
    pub status: Option<String>,
    /// A rule among the record's errors (`BID-DOC-PERIOD`, …).
    pub rule: Option<String>,
    /// The notice's platform code (records that became notices only).
    pub platform: Option<String>,
    /// Received on or after this day (Beijing time).
    pub from: Option<NaiveDate>,
    /// Received on or before this day (Beijing time).
    pub to: Option<NaiveDate>,
    /// The order.
    pub sort: RecordSort,
}

/// How the list is ordered; each ties on arrival (newest first), then position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordSort {
    /// Newest arrival first (the default).
    #[default]
    Newest,
    /// Oldest arrival first (what has waited longest).
    Oldest,
    /// By status, then newest.
    Status,
    /// By table code, then newest.
    Table,
    /// By when its status last changed, most recent first.
    Updated,
}

impl RecordSort {
    /// Reads `-received_at`, `received_at`, `status`, `table`, `-updated_at`.
    pub fn parse(s: &str) -> Option<RecordSort> {
        match s {
            "-received_at" => Some(RecordSort::Newest),
            "received_at" => Some(RecordSort::Oldest),
            "status" => Some(RecordSort::Status),
            "table" => Some(RecordSort::Table),
            "-updated_at" => Some(RecordSort::Updated),
            _ => None,
        }
    }

    /// Its query value.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordSort::Newest => "-received_at",
            RecordSort::Oldest => "received_at",
            RecordSort::Status => "status",
            RecordSort::Table => "table",
            RecordSort::Updated => "-updated_at",
        }
    }

    fn order_by(self) -> &'static str {
        match self {
            RecordSort::Newest => "r.received_at DESC, rr.receipt_id DESC, rr.idx",
            RecordSort::Oldest => "r.received_at, rr.receipt_id, rr.idx",
            RecordSort::Status => "rr.status, r.received_at DESC, rr.receipt_id DESC, rr.idx",
            RecordSort::Table => "rr.table_code, r.received_at DESC, rr.receipt_id DESC, rr.idx",
            RecordSort::Updated => "rr.updated_at DESC, rr.receipt_id DESC, rr.idx",
        }
    }
}

/// One record as the console lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordRow {
    /// The document's receipt.
    pub receipt: String,
    /// The record in it (from 0).
    pub index: i32,
    /// Its table code.
    pub table: String,
    /// The procedure key, when it became a notice.
    pub procedure: Option<String>,
    /// The notice's title, when it became one; else the title it gives, when readable.
    pub title: Option<String>,
    /// The notice's id, when it became one.
    pub notice_id: Option<String>,
    /// Its receipt status.
    pub status: String,
    /// Errors (`rule`, `path`, `message`, `evidence`, …) as validation and enforcement gave them.
    pub errors: Value,
    /// Warnings.
    pub warnings: Value,
    /// When a held record is due.
    pub hold_until: Option<DateTime<Utc>>,
    /// When its document arrived.
    pub received_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
    /// For a quarantined record: the open quarantine's id, stage and error.
    pub quarantine: Option<Value>,
}

const SELECT: &str = "SELECT rr.receipt_id, rr.idx, rr.table_code, rr.status, rr.notice_id, rr.errors, \
     rr.warnings, rr.hold_until, rr.updated_at, r.received_at, COALESCE(n.procedure_key, rr.subject->>'procedure') AS procedure_key, \
     COALESCE(n.notice->>'title', rr.subject->>'title') AS title, \
     q.quarantine AS quarantine \
     FROM receipt_records rr JOIN receipts r USING (receipt_id) \
     LEFT JOIN notices n ON n.notice_id = rr.notice_id \
     LEFT JOIN LATERAL (SELECT jsonb_build_object('id', quarantine_id, 'stage', stage, 'reason', reason, \
         'error', error, 'attempts', attempts, 'event_type', event_type, 'quarantined_at', quarantined_at, \
         'record_index', record_index) AS quarantine \
         FROM quarantine WHERE state = 'quarantined' AND ((receipt_id = rr.receipt_id \
         AND (record_index = rr.idx OR record_index IS NULL)) \
         OR (receipt_id IS NULL AND notice_id = rr.notice_id)) ORDER BY quarantine_id DESC LIMIT 1) q ON true";

const WHERE: &str = "WHERE ($1::text IS NULL OR rr.status = $1) \
     AND ($2::text IS NULL OR rr.errors @> jsonb_build_array(jsonb_build_object('rule', $2::text))) \
     AND ($3::text IS NULL OR COALESCE(n.platform, split_part(rr.subject->>'procedure', '/', 1)) = $3) \
     AND ($4::date IS NULL OR r.received_at >= ($4::date::timestamp AT TIME ZONE 'Asia/Shanghai')) \
     AND ($5::date IS NULL OR r.received_at < (($5::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))";

fn record_row(r: &sqlx::postgres::PgRow) -> Result<RecordRow, sqlx::Error> {
    Ok(RecordRow {
        receipt: r.try_get("receipt_id")?,
        index: r.try_get("idx")?,
        table: r.try_get("table_code")?,
        procedure: r.try_get("procedure_key")?,
        title: r.try_get("title")?,
        notice_id: r.try_get("notice_id")?,
        status: r.try_get("status")?,
        errors: r.try_get("errors")?,
        warnings: r.try_get("warnings")?,
        hold_until: r.try_get("hold_until")?,
        received_at: r.try_get("received_at")?,
        updated_at: r.try_get("updated_at")?,
        quarantine: r.try_get("quarantine")?,
    })
}

/// Records matching `filter` in its order, `limit` from `offset`, with the number matching in all.
pub async fn list(
    pool: &PgPool,
    filter: &RecordFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<RecordRow>, i64), StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT} {WHERE} ORDER BY {} LIMIT $6 OFFSET $7",
        filter.sort.order_by()
    ))
    .bind(filter.status.as_deref())
    .bind(filter.rule.as_deref())
    .bind(filter.platform.as_deref())
    .bind(filter.from)
    .bind(filter.to)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM receipt_records rr JOIN receipts r USING (receipt_id) \
         LEFT JOIN notices n ON n.notice_id = rr.notice_id {WHERE}"
    ))
    .bind(filter.status.as_deref())
    .bind(filter.rule.as_deref())
    .bind(filter.platform.as_deref())
    .bind(filter.from)
    .bind(filter.to)
    .fetch_one(pool)
    .await?;
    Ok((
        rows.iter().map(record_row).collect::<Result<_, _>>()?,
        total,
    ))
}

/// One record, `None` when the receipt has no such record.
pub async fn get(
    pool: &PgPool,
    receipt: &str,
    index: i32,
) -> Result<Option<RecordRow>, StoreError> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE rr.receipt_id = $1 AND rr.idx = $2"
    ))
    .bind(receipt)
    .bind(index)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(record_row).transpose()?)
}

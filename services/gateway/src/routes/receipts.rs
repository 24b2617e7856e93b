//! `GET /v1/receipts/{receipt}`: where a document's records are, as the pipeline's services
//! record it in the store.

use crate::Gateway;
use crate::routes::{plausible_id, store_error};
use axum::Json;
use axum::extract::{Path, State};
use gongshi_platform::store::receipts::{self, RecordStatus};
use gongshi_platform::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Where a document's records are.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    /// Receipt id.
    pub receipt: String,
    /// One entry per record, in document order.
    pub records: Vec<ReceiptRecord>,
}

/// A record's state (`spec/api.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordState {
    /// Read, not yet validated.
    Received,
    /// Failed schema, parse or identifier checks.
    Invalid,
    /// Failed a period rule.
    Rejected,
    /// Waiting for its parent stage.
    Parked,
    /// Held until it may be published.
    Held,
    /// Published.
    Published,
    /// Same content as a notice already accepted.
    Duplicate,
    /// Set aside with its error: the pipeline could not process it.
    Quarantined,
    /// An operator decided it is never published.
    Discarded,
    /// An objection (异议) or complaint (投诉): recorded into its procedure (where, while open,
    /// it holds the next stage), never published. An addition to the list in `spec/api.md`.
    Recorded,
}

/// One record of a receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptRecord {
    /// Position in the document.
    pub index: i32,
    /// Table code, e.g. `TENDER_ANNOUNCEMENT`.
    pub table: String,
    /// Where the record is.
    pub status: RecordState,
    /// The notice it became, when valid.
    pub notice_id: Option<String>,
    /// Errors: rule id, JSON pointer of the field, message naming the field code, its Chinese
    /// label and the rule's citation (as the services stored them).
    #[schema(value_type = Vec<RuleMessage>)]
    pub errors: Value,
    /// Warnings.
    #[schema(value_type = Vec<RuleMessage>)]
    pub warnings: Value,
    /// When a held record will be published.
    pub hold_until: Option<chrono::DateTime<chrono::Utc>>,
}

/// A rule's finding on a record, as validate and enforce store it (the answer passes the stored
/// JSON through; this describes it).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct RuleMessage {
    /// Rule id (rules.md, or SCHEMA-*/DOC-*/USCC-* of our own).
    pub rule: String,
    /// JSON pointer of the field.
    pub path: Option<String>,
    /// Message.
    pub message: String,
}

impl TryFrom<RecordStatus> for ReceiptRecord {
    type Error = String;

    fn try_from(r: RecordStatus) -> Result<Self, String> {
        let status = serde_json::from_value(Value::String(r.status.clone()))
            .map_err(|_| format!("record {} has an unknown status '{}'", r.index, r.status))?;
        Ok(ReceiptRecord {
            index: r.index,
            table: r.table,
            status,
            notice_id: r.notice_id,
            errors: r.errors,
            warnings: r.warnings,
            hold_until: r.hold_until,
        })
    }
}

/// `GET /v1/receipts/{receipt}`.
#[utoipa::path(get, path = "/v1/receipts/{receipt}", tag = "ingest",
    params(("receipt" = String, Path, description = "Receipt id from `POST /v1/notices`")),
    responses(
        (status = 200, description = "The document's records", body = Receipt),
        (status = 404, description = "No such receipt", body = gongshi_platform::api_error::ErrorBody)))]
pub(crate) async fn receipt(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
) -> Result<Json<Receipt>, ApiError> {
    if !plausible_id(&id) {
        return Err(ApiError::new(
            ErrorCode::ReceiptNotFound,
            "没有这个回执 (no such receipt)",
        ));
    }
    let Some(records) = receipts::records(&gw.store.pool, &id)
        .await
        .map_err(store_error)?
    else {
        return Err(ApiError::new(
            ErrorCode::ReceiptNotFound,
            format!("没有回执 {id} (no such receipt)"),
        ));
    };
    let records = records
        .into_iter()
        .map(ReceiptRecord::try_from)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            tracing::error!(error = %e, message = "receipt record not shown");
            ApiError::new(ErrorCode::Internal, e)
        })?;
    Ok(Json(Receipt {
        receipt: id,
        records,
    }))
}

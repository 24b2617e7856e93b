//! Records to act on: `GET /ops/api/records` and `/ops/records` (the list, filtered by status,
//! rule, platform and day), `GET /ops/api/records/{receipt}/{index}` and
//! `/ops/records/{receipt}/{index}` (one record with its raw document, its errors explained —
//! field code with its Chinese label, evidence, legal basis — and its audit history), and the
//! actions: `POST /ops/api/records/{receipt}/{index}/{action}` (JSON) and the page's form
//! `POST /ops/records/{receipt}/{index}/{action}`.

use crate::Gateway;
use crate::ops::actions::{self, Action, ActionRequest, ActionResult};
use crate::ops::auth::Operator;
use crate::pages::{self, format};
use crate::routes::store_error;
use askama::Template;
use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use gongshi_domain::Schemas;
use gongshi_domain::rules::{Catalogue, Stage};
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::store::operators::{self, AuditEntry};
use gongshi_platform::store::receipts;
use gongshi_platform::store::records::{self, RecordFilter, RecordRow, RecordSort};
use gongshi_platform::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Records per page.
const PER_PAGE: i64 = 50;
/// The last page asked for that is taken as asked (beyond it, the offset would overflow).
pub(crate) const MAX_PAGE: i64 = 1_000_000;

/// Every receipt status with its Chinese label, in the order the console shows counts (the one
/// table of labels: pages, tabs and the overview read it).
pub const STATUSES: [(&str, &str); 10] = [
    ("received", "处理中"),
    ("published", "已发布"),
    ("held", "暂缓发布"),
    ("parked", "等待前序公告"),
    ("invalid", "校验未通过"),
    ("rejected", "违反规则被拒"),
    ("quarantined", "已隔离"),
    ("discarded", "已作废"),
    ("duplicate", "重复"),
    // An objection or complaint: recorded into its procedure, never published.
    ("recorded", "已登记（异议/投诉，不公开）"),
];

/// The statuses an operator acts on, in the order the console offers them.
pub const ACTIONABLE: [&str; 5] = ["quarantined", "invalid", "rejected", "held", "parked"];

/// The Chinese label of a receipt status.
pub fn status_label(status: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|(s, _)| *s == status)
        .map_or("未知状态", |(_, label)| label)
}

/// The list's query.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    rule: Option<String>,
    platform: Option<String>,
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn date(name: &str, s: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    non_empty(s)
        .map(|d| {
            NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("{name} 应为 YYYY-MM-DD 格式的日期，收到 '{d}' (expected a date)"),
                )
            })
        })
        .transpose()
}

impl ListQuery {
    fn filter(&self) -> Result<RecordFilter, ApiError> {
        Ok(RecordFilter {
            status: non_empty(&self.status),
            rule: non_empty(&self.rule),
            platform: non_empty(&self.platform),
            from: date("from", &self.from)?,
            to: date("to", &self.to)?,
            sort: match non_empty(&self.sort) {
                None => RecordSort::default(),
                Some(s) => RecordSort::parse(&s).ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::BadRequest,
                        format!(
                            "sort 应为 -received_at、received_at、status、table 或 -updated_at，收到 '{s}' (unknown order)"
                        ),
                    )
                })?,
            },
        })
    }

    fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, MAX_PAGE)
    }
}

/// A page of records.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordPage {
    /// This page (from 1).
    pub page: i64,
    /// Records per page.
    pub per_page: i64,
    /// Records matching in all.
    pub total: i64,
    /// The records, newest first.
    pub records: Vec<RecordRow>,
}

async fn list(gw: &Gateway, q: &ListQuery) -> Result<RecordPage, ApiError> {
    let filter = q.filter()?;
    let page = q.page();
    let (rows, total) = records::list(&gw.store.pool, &filter, PER_PAGE, (page - 1) * PER_PAGE)
        .await
        .map_err(store_error)?;
    Ok(RecordPage {
        page,
        per_page: PER_PAGE,
        total,
        records: rows,
    })
}

/// `GET /ops/api/records`.
#[utoipa::path(get, path = "/ops/api/records", tag = "operators", operation_id = "ops_records",
    params(("status" = Option<String>, Query, description = "Receipt status: invalid, rejected, quarantined, held, parked, …"),
        ("rule" = Option<String>, Query, description = "A rule among the record's errors"),
        ("platform" = Option<String>, Query, description = "The notice's platform code"),
        ("from" = Option<String>, Query, description = "Received on or after (YYYY-MM-DD, Beijing time)"),
        ("to" = Option<String>, Query, description = "Received on or before (YYYY-MM-DD, Beijing time)"),
        ("sort" = Option<String>, Query, description = "-received_at (default), received_at, status, table, -updated_at"),
        ("page" = Option<i64>, Query, description = "Page, from 1 (50 records a page)")),
    responses((status = 200, body = RecordPage),
        (status = 400, description = "A bad date or order", body = ErrorBody),
        (status = 401, description = "No operator credentials", body = ErrorBody)),
    security(("operator" = [])))]
pub(crate) async fn api_list(
    _op: Operator,
    State(gw): State<Gateway>,
    Query(q): Query<ListQuery>,
) -> Result<Json<RecordPage>, ApiError> {
    Ok(Json(list(&gw, &q).await?))
}

/// One error of a record, explained.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExplainedError {
    /// The rule id.
    pub rule: String,
    /// The rule's Chinese title.
    pub title: Option<String>,
    /// The JSON Pointer of the field.
    pub path: String,
    /// `FIELD_CODE 中文名` of the field.
    pub field: Option<String>,
    /// The message.
    pub message: String,
    /// The figures behind it.
    pub evidence: Option<Value>,
    /// The evidence in one line (`4 个工作日 < 5`), when it has counted days and a limit.
    pub evidence_text: Option<String>,
    /// The legal basis.
    pub legal_basis: Option<String>,
}

/// The raw document as text.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RawDocument {
    /// The content type it was sent with.
    pub content_type: Option<String>,
    /// Its size in bytes.
    pub size_bytes: usize,
    /// Its text, decoded from its declared encoding (GBK shown as text), or a note when it cannot
    /// be decoded.
    pub text: String,
}

/// `GET /ops/api/records/{receipt}/{index}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordDetail {
    /// The record.
    pub record: RecordRow,
    /// Its errors explained.
    pub errors: Vec<ExplainedError>,
    /// Its document.
    pub document: RawDocument,
    /// The actions that apply to its status.
    pub actions: Vec<Action>,
    /// Its audit history, oldest first.
    pub audit: Vec<AuditEntry>,
}

/// The evidence of a counted-period finding in one line, as `period::checks` records it
/// (`counted`, `required`, `unit`, `limit_date`): `4 个工作日 < 5` for a minimum period
/// (`min_period`), `3 日，末日为节假日，期限顺延至 2025-04-07` for one long enough whose last day is a
/// holiday, `12 日 > 10` for a publication delay (`max_delay`).
fn evidence_text(evidence: &Value, check: Option<&str>) -> Option<String> {
    let counted = evidence.get("counted").and_then(Value::as_u64)?;
    let required = evidence.get("required").and_then(Value::as_u64)?;
    let unit = match evidence.get("unit").and_then(Value::as_str) {
        Some("working") => "个工作日",
        _ => "日",
    };
    if check == Some("max_delay") {
        return Some(format!("{counted} {unit} > {required}"));
    }
    match evidence.get("limit_date").and_then(Value::as_str) {
        // Enough days, but the last one is a holiday: the end rolls on to a working day.
        Some(limit) if counted >= required => Some(format!(
            "{counted} {unit}，末日为节假日，期限顺延至 {limit}"
        )),
        _ => Some(format!("{counted} {unit} < {required}")),
    }
}

fn explain(table: &str, errors: &Value) -> Vec<ExplainedError> {
    let schemas = Schemas::embedded();
    let catalogue = Catalogue::embedded();
    let spec = schemas.table(table);
    errors
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let text = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let rule = text("rule");
            let path = text("path");
            let def = catalogue.get(&rule);
            let evidence = e.get("evidence").filter(|v| !v.is_null()).cloned();
            ExplainedError {
                field: spec
                    .filter(|_| path.starts_with('/'))
                    .map(|t| schemas.label_at(t, &path)),
                title: def.map(|d| d.title.clone()),
                legal_basis: def.map(|d| d.citation.clone()),
                evidence_text: evidence
                    .as_ref()
                    .and_then(|e| evidence_text(e, def.and_then(|d| d.check.as_deref()))),
                evidence,
                message: text("message"),
                rule,
                path,
            }
        })
        .collect()
}

/// Whether a path segment can be a receipt id (UUIDs, and the ids tests and imports give):
/// anything else is not found without asking the store, and never reaches a redirect URL.
pub(crate) fn plausible_receipt(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn no_record(receipt: &str, index: i32) -> ApiError {
    ApiError::new(
        ErrorCode::RecordNotFound,
        format!("没有记录 {receipt}#{index} (no such record)"),
    )
}

async fn detail(gw: &Gateway, receipt: &str, index: i32) -> Result<RecordDetail, ApiError> {
    if !plausible_receipt(receipt) {
        return Err(no_record(receipt, index));
    }
    let pool = &gw.store.pool;
    let record = records::get(pool, receipt, index)
        .await
        .map_err(store_error)?
        .ok_or_else(|| no_record(receipt, index))?;
    let bytes = receipts::document(pool, receipt)
        .await
        .map_err(store_error)?
        .unwrap_or_default();
    let text = match gongshi_domain::parse::decode(&bytes) {
        Ok(text) => text.into_owned(),
        Err(e) => format!(
            "（原始文件无法按声明的编码解码：{e}；以下为按 UTF-8 宽松解码的内容）\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    };
    let content_type = receipts::content_type(pool, receipt)
        .await
        .map_err(store_error)?;
    let audit = operators::audit_of_record(pool, receipt, index)
        .await
        .map_err(store_error)?;
    Ok(RecordDetail {
        errors: explain(&record.table, &record.errors),
        actions: Action::applicable_to(&record),
        document: RawDocument {
            content_type,
            size_bytes: bytes.len(),
            text,
        },
        audit,
        record,
    })
}

/// `GET /ops/api/records/{receipt}/{index}`.
#[utoipa::path(get, path = "/ops/api/records/{receipt}/{index}", tag = "operators", operation_id = "ops_record",
    params(("receipt" = String, Path), ("index" = i32, Path)),
    responses((status = 200, body = RecordDetail),
        (status = 401, description = "No operator credentials", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody)),
    security(("operator" = [])))]
pub(crate) async fn api_detail(
    _op: Operator,
    State(gw): State<Gateway>,
    Path((receipt, index)): Path<(String, i32)>,
) -> Result<Json<RecordDetail>, ApiError> {
    Ok(Json(detail(&gw, &receipt, index).await?))
}

fn action_of(s: &str) -> Result<Action, ApiError> {
    Action::parse(s).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("没有操作 '{s}'：可用 retry、release、discard (no such action)"),
        )
    })
}

/// `POST /ops/api/records/{receipt}/{index}/{action}`: JSON `{"reason", "rules"?}`; a browser
/// session sends its CSRF token in `X-CSRF-Token`.
#[utoipa::path(post, path = "/ops/api/records/{receipt}/{index}/{action}", tag = "operators", operation_id = "ops_record_action",
    params(("receipt" = String, Path), ("index" = i32, Path),
        ("action" = String, Path, description = "retry, release or discard")),
    request_body = ActionRequest,
    responses((status = 200, body = ActionResult),
        (status = 400, description = "No reason of at least 4 characters", body = ErrorBody),
        (status = 401, description = "No operator credentials", body = ErrorBody),
        (status = 403, description = "A browser session without its CSRF token", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
        (status = 409, description = "The action does not apply to the record's status", body = ErrorBody)),
    security(("operator" = [])))]
pub(crate) async fn api_act(
    op: Operator,
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path((receipt, index, action)): Path<(String, i32, String)>,
    body: axum::body::Bytes,
) -> Result<Json<ActionResult>, ApiError> {
    // Read here rather than by axum's extractor, whose refusal of a body without `reason` is a
    // 422: every malformed body is the same 400 `bad-request`.
    let request: ActionRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "请求体应为 JSON 对象，含至少 4 个字符的 reason (the body must be a JSON object with a reason of at least 4 characters): {e}"
        ))
    })?;
    op.check_csrf(headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))?;
    let action = action_of(&action)?;
    Ok(Json(
        actions::act(
            &gw.store,
            Some(&gw.bus),
            &op.name,
            &receipt,
            index,
            action,
            &request,
        )
        .await?,
    ))
}

/// The list page.
#[derive(Template)]
#[template(path = "ops/records.html")]
struct RecordsPage<'a> {
    op: &'a Operator,
    q: &'a ListQuery,
    page: RecordPage,
    statuses: Vec<(&'static str, &'static str)>,
    pages: i64,
    query_without_page: String,
    filters_only: String,
    sort: &'static str,
}

impl RecordsPage<'_> {
    fn label(&self, status: &str) -> &'static str {
        status_label(status)
    }
    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        format::beijing(*at)
    }
    /// What the 问题 column says of a record: its first error, else its open quarantine, else
    /// for a held or parked record the finding that holds or parks it (a hold-and-park rule of
    /// the catalogue, stage `publication`: S1, S2, W11, OBJECTION-HOLD, which are warnings, not
    /// errors, so the column was empty for every parked record).
    fn problem(&self, r: &RecordRow) -> String {
        let finding = |e: &Value| {
            format!(
                "{} {}",
                e.get("rule").and_then(Value::as_str).unwrap_or_default(),
                e.get("message").and_then(Value::as_str).unwrap_or_default()
            )
        };
        if let Some(e) = r.errors.as_array().and_then(|a| a.first()) {
            return finding(e);
        }
        if let Some(q) = &r.quarantine {
            return format!(
                "{} 阶段：{}",
                q.get("stage").and_then(Value::as_str).unwrap_or_default(),
                q.get("error").and_then(Value::as_str).unwrap_or_default()
            );
        }
        if !matches!(r.status.as_str(), "held" | "parked") {
            return String::new();
        }
        let catalogue = Catalogue::embedded();
        r.warnings
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| {
                w.get("rule")
                    .and_then(Value::as_str)
                    .and_then(|rule| catalogue.get(rule))
                    .is_some_and(|d| d.stage == Stage::Publication)
            })
            .map(finding)
            .unwrap_or_default()
    }
    fn selected(&self, status: &str) -> bool {
        self.q.status.as_deref() == Some(status)
    }
    fn value<'b>(&self, v: &'b Option<String>) -> &'b str {
        v.as_deref().unwrap_or_default()
    }
    /// A column header that sorts by `key` (and back, for arrival time).
    fn sort_link(&self, key: &str, label: &str) -> String {
        let next = if key == "received_at" && self.sort == "-received_at" {
            "received_at"
        } else if key == "received_at" {
            "-received_at"
        } else {
            key
        };
        let mark = match (key, self.sort) {
            ("received_at", "-received_at") => " ↓",
            ("received_at", "received_at") => " ↑",
            (k, s) if k == s || s.trim_start_matches('-') == k => " ↓",
            _ => "",
        };
        format!(
            "<a href=\"/ops/records?{}&amp;sort={next}\">{label}{mark}</a>",
            self.filters_only.replace('&', "&amp;")
        )
    }
}

/// `GET /ops/records`.
pub(crate) async fn page_list(
    op: Operator,
    State(gw): State<Gateway>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let page = list(&gw, &q).await?;
    let pages = ((page.total + PER_PAGE - 1) / PER_PAGE).max(1);
    let sort = q.filter()?.sort.as_str();
    let filters = [
        ("status", q.status.as_deref().unwrap_or_default()),
        ("rule", q.rule.as_deref().unwrap_or_default()),
        ("platform", q.platform.as_deref().unwrap_or_default()),
        ("from", q.from.as_deref().unwrap_or_default()),
        ("to", q.to.as_deref().unwrap_or_default()),
    ];
    let filters_only = serde_urlencoded::to_string(filters).unwrap_or_default();
    let query_without_page = format!("{filters_only}&sort={sort}");
    let view = RecordsPage {
        op: &op,
        q: &q,
        page,
        statuses: ACTIONABLE.iter().map(|s| (*s, status_label(s))).collect(),
        pages,
        query_without_page,
        filters_only,
        sort,
    };
    Ok(pages::html(StatusCode::OK, &view))
}

/// The record page.
#[derive(Template)]
#[template(path = "ops/record.html")]
struct RecordPageView<'a> {
    op: &'a Operator,
    d: RecordDetail,
    /// The audit entry of the action just done (from `?done=<audit id>`, shown only when it is
    /// this record's: a link cannot make the page claim an action that did not happen).
    done: Option<AuditEntry>,
    /// Why the action just tried was refused.
    error: Option<String>,
    min_reason: usize,
}

impl RecordPageView<'_> {
    fn label(&self, status: &str) -> &'static str {
        status_label(status)
    }
    fn action_label(&self, action: &str) -> &'static str {
        Action::parse(action).map_or("操作", Action::label)
    }
    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        format::beijing(*at)
    }
    fn json(&self, v: &Value) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }
}

/// `?done=<audit id>` after a form action.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Flash {
    done: Option<i64>,
}

/// `GET /ops/records/{receipt}/{index}`.
pub(crate) async fn page_detail(
    op: Operator,
    State(gw): State<Gateway>,
    Path((receipt, index)): Path<(String, i32)>,
    Query(flash): Query<Flash>,
) -> Result<Response, ApiError> {
    let d = detail(&gw, &receipt, index).await?;
    let done = flash
        .done
        .and_then(|id| d.audit.iter().find(|a| a.id == id).cloned());
    let view = RecordPageView {
        op: &op,
        d,
        done,
        error: None,
        min_reason: actions::MIN_REASON_CHARS,
    };
    Ok(pages::html(StatusCode::OK, &view))
}

/// The action form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    csrf: Option<String>,
    reason: String,
}

/// `POST /ops/records/{receipt}/{index}/{action}` (the record page's forms): acts, then back to
/// the record page saying what happened (or why not).
pub(crate) async fn page_act(
    op: Operator,
    State(gw): State<Gateway>,
    Path((receipt, index, action)): Path<(String, i32, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, ApiError> {
    op.check_csrf(form.csrf.as_deref())?;
    let action = action_of(&action)?;
    if !plausible_receipt(&receipt) {
        return Err(no_record(&receipt, index));
    }
    let request = ActionRequest {
        reason: form.reason,
        rules: None,
    };
    match actions::act(
        &gw.store,
        Some(&gw.bus),
        &op.name,
        &receipt,
        index,
        action,
        &request,
    )
    .await
    {
        // Post/redirect/get: the record page names the audit entry, which it looks up itself.
        Ok(done) => Ok(Redirect::to(&format!(
            "/ops/records/{receipt}/{index}?done={}",
            done.audit_id
        ))
        .into_response()),
        // Refused: the record page again, saying why, with the refusal's status.
        Err(e) => {
            let d = detail(&gw, &receipt, index).await?;
            let view = RecordPageView {
                op: &op,
                d,
                done: None,
                error: Some(e.message().to_owned()),
                min_reason: actions::MIN_REASON_CHARS,
            };
            Ok(pages::html(e.status(), &view))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::evidence_text;
    use serde_json::json;

    #[test]
    fn counted_periods_read_as_one_line() {
        let min = Some("min_period");
        assert_eq!(
            evidence_text(
                &json!({"counted": 4, "required": 5, "unit": "working", "limit_date": "2025-04-09"}),
                min
            )
            .as_deref(),
            Some("4 个工作日 < 5")
        );
        // Enough days, the last a holiday: not "3 日 < 3".
        assert_eq!(
            evidence_text(
                &json!({"counted": 3, "required": 3, "unit": "calendar", "limit_date": "2025-04-07"}),
                min
            )
            .as_deref(),
            Some("3 日，末日为节假日，期限顺延至 2025-04-07")
        );
        assert_eq!(
            evidence_text(
                &json!({"counted": 12, "required": 10, "unit": "calendar"}),
                Some("max_delay")
            )
            .as_deref(),
            Some("12 日 > 10")
        );
    }
}

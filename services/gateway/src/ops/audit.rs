//! The audit log: `GET /ops/api/audit?page=N` and `/ops/audit` — every operator action, newest
//! first (the table is append-only).

use crate::Gateway;
use crate::ops::auth::Operator;
use crate::ops::records::status_label;
use crate::pages::{self, format};
use crate::routes::store_error;
use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use gongshi_platform::ApiError;
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::store::operators::{self, AuditEntry};
use serde::{Deserialize, Serialize};

/// Entries per page.
const PER_PAGE: i64 = 50;

/// `?page=N`.
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    page: Option<i64>,
}

/// A page of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// This page (from 1).
    pub page: i64,
    /// Entries per page.
    pub per_page: i64,
    /// Entries in all.
    pub total: i64,
    /// The entries, newest first.
    pub entries: Vec<AuditEntry>,
}

async fn page_of(gw: &Gateway, q: &PageQuery) -> Result<AuditPage, ApiError> {
    let page = q.page.unwrap_or(1).clamp(1, crate::ops::records::MAX_PAGE);
    let (entries, total) = operators::audit(&gw.store.pool, PER_PAGE, (page - 1) * PER_PAGE)
        .await
        .map_err(store_error)?;
    Ok(AuditPage {
        page,
        per_page: PER_PAGE,
        total,
        entries,
    })
}

/// `GET /ops/api/audit`.
#[utoipa::path(get, path = "/ops/api/audit", tag = "operators", operation_id = "ops_audit",
    params(("page" = Option<i64>, Query, description = "Page, from 1 (50 entries a page)")),
    responses((status = 200, body = AuditPage), (status = 401, description = "No operator credentials", body = ErrorBody)),
    security(("operator" = [])))]
pub(crate) async fn api_audit(
    _op: Operator,
    State(gw): State<Gateway>,
    Query(q): Query<PageQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(page_of(&gw, &q).await?))
}

/// The audit page.
#[derive(Template)]
#[template(path = "ops/audit.html")]
struct AuditView<'a> {
    op: &'a Operator,
    page: AuditPage,
    pages: i64,
}

impl AuditView<'_> {
    fn label(&self, status: &str) -> &'static str {
        status_label(status)
    }
    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        format::beijing(*at)
    }
    fn action(&self, a: &str) -> &'static str {
        crate::ops::actions::Action::parse(a).map_or("未知操作", |a| a.label())
    }
}

/// `GET /ops/audit`.
pub(crate) async fn page(
    op: Operator,
    State(gw): State<Gateway>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let page = page_of(&gw, &q).await?;
    let pages = ((page.total + PER_PAGE - 1) / PER_PAGE).max(1);
    Ok(pages::html(
        StatusCode::OK,
        &AuditView {
            op: &op,
            page,
            pages,
        },
    ))
}

//! `GET /v1/export/ocds`: an OCDS 1.1 release package of published notices (mapping in
//! `gongshi_domain::ocds`), oldest first, filtered by publish date (`from`, `to`, parsed as in
//! search), in pages of `limit` (default 100, at most 500) followed through `links.next` /
//! the `Link: rel="next"` header (an opaque `cursor`). 404 `no-releases` when nothing matches, as
//! a package must hold at least one release.

use crate::Gateway;
use crate::ocds::{cursor_of, encode, parse_cursor, releases_of};
use crate::routes::{base_url, store_error};
use crate::views::{version_links, version_order};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gongshi_domain::ProcedureKey;
use gongshi_domain::ocds::{self, PackageMeta};
use gongshi_domain::values::datetime::{self, DateOnly};
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::store::notices;
use gongshi_platform::{ApiError, ErrorCode};
use serde::Deserialize;
use std::collections::HashMap;
use utoipa::IntoParams;

/// Query parameters of `GET /v1/export/ocds`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Published at or after (RFC 3339, `yyyy-MM-dd HH:mm` or a date, Beijing time).
    pub from: Option<String>,
    /// Published before (a date means the end of that day).
    pub to: Option<String>,
    /// Releases per page, 1..=500 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Opaque cursor from `links.next`.
    pub cursor: Option<String>,
}

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 500;

fn instant(
    name: &str,
    value: &Option<String>,
    mode: DateOnly,
) -> Result<Option<DateTime<Utc>>, String> {
    match value.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => datetime::parse(s, mode)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| format!("{name}: {e}")),
    }
}

/// `GET /v1/export/ocds`: one page of the export.
#[utoipa::path(get, path = "/v1/export/ocds", operation_id = "export_ocds", tag = "notices",
    params(ExportParams),
    responses(
        (status = 200, description = "An OCDS 1.1 release package (oldest first; `links.next` and a `Link: rel=\"next\"` header lead to the next page)", body = Value),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 404, description = "No release in range (`no-releases`)", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody)))]
pub(crate) async fn export(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    uri: Uri,
    Query(p): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let from = instant("from", &p.from, DateOnly::StartOfDay).map_err(ApiError::bad_request)?;
    let to = instant("to", &p.to, DateOnly::EndOfDay).map_err(ApiError::bad_request)?;
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: 应为 1 至 {MAX_LIMIT} (must be 1..={MAX_LIMIT})"
        )));
    }
    let after = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match parse_cursor(c) {
            Some(a) => Some(a),
            None => {
                return Err(ApiError::bad_request(format!(
                    "cursor: '{c}' 无效 (invalid cursor)"
                )));
            }
        },
    };
    let pool = &gw.store.pool;
    let mut page = notices::published_page(
        pool,
        from,
        to,
        after.as_ref().map(|(t, id)| (*t, id.as_str())),
        limit + 1,
    )
    .await
    .map_err(store_error)?;
    let more = page.len() as i64 > limit;
    page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let Some(last) = page.last() else {
        return Err(ApiError::new(
            ErrorCode::NoReleases,
            "此时间范围内没有已发布的公告 (no published notices in this range)",
        ));
    };
    // Versions (tender or tenderUpdate, award or awardUpdate) are per procedure: load each
    // procedure's notices once.
    let mut chains: HashMap<String, HashMap<String, usize>> = HashMap::new();
    let mut releases = Vec::new();
    for n in &page {
        let procedures: Vec<ProcedureKey> =
            serde_json::from_value(n.notice["procedures"].clone()).unwrap_or_default();
        for key in &procedures {
            let k = key.to_string();
            if !chains.contains_key(&k) {
                let mut siblings = notices::of_procedure(pool, &k).await.map_err(store_error)?;
                version_order(&mut siblings);
                let versions = version_links(&siblings)
                    .into_iter()
                    .map(|(id, link)| (id, link.version))
                    .collect();
                chains.insert(k.clone(), versions);
            }
            let version = chains
                .get(&k)
                .and_then(|c| c.get(&n.notice_id))
                .copied()
                .unwrap_or(1);
            releases.extend(releases_of(&gw, n, key, version));
        }
    }
    let base = base_url(&gw, &headers);
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let next = if more {
        cursor_of(last).map(|c| {
            let mut url = format!("{base}/v1/export/ocds?limit={limit}&cursor={}", encode(&c));
            for (name, v) in [("from", &p.from), ("to", &p.to)] {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    url.push_str(&format!("&{name}={}", encode(v)));
                }
            }
            url
        })
    } else {
        None
    };
    let published_date = last
        .published_at
        .map(|t| datetime::canonical(&t.with_timezone(&datetime::shanghai())))
        .unwrap_or_default();
    let package = ocds::package(
        &PackageMeta {
            uri: format!("{base}/v1/export/ocds{query}"),
            publisher: gw.config.ocds.publisher.clone(),
            published_date,
            next: next.clone(),
        },
        releases,
    );
    let mut response = Json(package).into_response();
    if let Some(link) = next.and_then(|n| format!("<{n}>; rel=\"next\"").parse().ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

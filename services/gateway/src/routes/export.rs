//! `GET /v1/export/ocds`: an OCDS 1.1 release package of published notices (mapping in
//! `gongshi_domain::ocds`), oldest first, filtered by publish date (`from`, `to`, parsed as in
//! search), in pages of `limit` (default 100, at most 500) followed through `links.next` /
//! the `Link: rel="next"` header (an opaque `cursor`). 404 `no-releases` when nothing matches, as
//! a package must hold at least one release. Only works and procurement notices are exported:
//! land, mining-right and state-owned property sales are disposals, which OCDS (a standard for
//! public procurement) does not model (`gongshi_domain::Regime::is_procurement`).
//!
//! `GET /v1/export/ocds/records?ocid=A&ocid=B`: an OCDS 1.1 record package, one record per ocid
//! asked for (at most 100, in the order asked; an ocid repeated counts once): every release of
//! the procedure embedded in date order and its compiled release (the OCDS merge routine,
//! `gongshi_domain::ocds::merge`). 400 without an ocid or with too many; ocids with no published
//! notice are left out, and 404 `no-releases` when none has one.

use crate::Gateway;
use crate::ocds::{History, cursor_of, encode, parse_cursor};
use crate::routes::{base_url, plausible_id, store_error};
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
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

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
    // Land, mining and property notices are disposals, not procurement: not in OCDS
    // (`Regime::is_procurement`).
    let regimes: Vec<&str> = gongshi_domain::Regime::ALL
        .into_iter()
        .filter(|r| r.is_procurement())
        .map(gongshi_domain::Regime::as_str)
        .collect();
    let mut page = notices::published_page(
        pool,
        from,
        to,
        after.as_ref().map(|(t, id)| (*t, id.as_str())),
        limit + 1,
        &regimes,
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
    // Versions (tender or tenderUpdate, award or awardUpdate) and release dates (strictly
    // increasing in publication order) are per procedure: load each procedure's notices once.
    let mut histories: HashMap<String, History> = HashMap::new();
    let mut releases = Vec::new();
    for n in &page {
        let procedures: Vec<ProcedureKey> =
            serde_json::from_value(n.notice["procedures"].clone()).unwrap_or_default();
        for key in &procedures {
            let k = key.to_string();
            if !histories.contains_key(&k) {
                let history = History::load(pool, key).await.map_err(store_error)?;
                histories.insert(k.clone(), history);
            }
            if let Some(history) = histories.get(&k) {
                releases.extend(history.releases_of(&gw, n, key));
            }
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

/// Query parameters of `GET /v1/export/ocds/records` (described here; read as a list of pairs so
/// that `ocid` can repeat).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordParams {
    /// The ocids of the records, one parameter each (`?ocid=A&ocid=B`), 1 to 100. A procedure's
    /// ocid is in its view (`GET /v1/procedures/{platform}/{project}/{section}`) and its releases.
    #[param(min_items = 1, max_items = 100)]
    pub ocid: Vec<String>,
}

const MAX_OCIDS: usize = 100;

/// An OCDS 1.1 record package (record-package-schema.json).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordPackage {
    /// This package's URI (the request's URL).
    pub uri: String,
    /// `1.1`.
    pub version: String,
    /// When the newest release in it was published (RFC 3339).
    pub published_date: String,
    /// The publisher (`GONGSHI_OCDS_PUBLISHER`).
    pub publisher: Publisher,
    /// The OCDS extensions used (the bids extension).
    pub extensions: Vec<String>,
    /// One record per ocid asked for that has releases.
    pub records: Vec<Record>,
}

/// The publisher of a package.
#[derive(Debug, Serialize, ToSchema)]
pub struct Publisher {
    /// Name.
    pub name: String,
}

/// An OCDS record: one contracting process (one procedure: platform, project, section).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The Open Contracting ID.
    pub ocid: String,
    /// Every release of the ocid, embedded, oldest first (dates strictly increase in the order
    /// gongshi published them).
    #[schema(value_type = Vec<Object>)]
    pub releases: Vec<Value>,
    /// The current state: the releases merged by the OCDS merge routine, `tag` `["compiled"]`.
    #[schema(value_type = Object)]
    pub compiled_release: Value,
}

/// `GET /v1/export/ocds/records`: the record package of the ocids asked for.
#[utoipa::path(get, path = "/v1/export/ocds/records", operation_id = "export_ocds_records", tag = "notices",
    params(RecordParams),
    responses(
        (status = 200, description = "An OCDS 1.1 record package: per ocid, its releases (embedded, in date order) and the compiled release", body = RecordPackage),
        (status = 400, description = "No ocid, or more than 100", body = ErrorBody),
        (status = 404, description = "No published notice for any of the ocids (`no-releases`)", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody)))]
pub(crate) async fn records(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    uri: Uri,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<RecordPackage>, ApiError> {
    let mut ocids: Vec<String> = Vec::new();
    for (name, value) in pairs {
        if name == "ocid" && !ocids.contains(&value) {
            ocids.push(value);
        }
    }
    if ocids.is_empty() {
        return Err(ApiError::bad_request(
            "ocid: 至少需要一个 ocid (at least one ocid is required: ?ocid=…)",
        ));
    }
    if ocids.len() > MAX_OCIDS {
        return Err(ApiError::bad_request(format!(
            "ocid: 最多 {MAX_OCIDS} 个 (at most {MAX_OCIDS} ocids)"
        )));
    }
    let pool = &gw.store.pool;
    let mut records = Vec::new();
    let mut newest: Option<String> = None;
    for text in &ocids {
        // An ocid of another prefix, or not one gongshi makes, has no releases here.
        let Some(key) = ocds::procedure_of(&gw.config.ocds.prefix, text).filter(|k| {
            [&k.platform, &k.project, &k.section]
                .iter()
                .all(|s| plausible_id(s))
        }) else {
            continue;
        };
        let history = History::load(pool, &key).await.map_err(store_error)?;
        let releases = history.releases(&gw, &key);
        let Some(record) = ocds::record(&releases) else {
            continue;
        };
        let Value::Object(mut record) = record else {
            continue;
        };
        let compiled = record.remove("compiledRelease").unwrap_or_default();
        if let Some(date) = compiled["date"].as_str()
            && newest.as_deref().is_none_or(|n| n < date)
        {
            newest = Some(date.to_owned());
        }
        records.push(Record {
            ocid: text.clone(),
            releases: match record.remove("releases") {
                Some(Value::Array(list)) => list,
                _ => Vec::new(),
            },
            compiled_release: compiled,
        });
    }
    let Some(published_date) = newest else {
        return Err(ApiError::new(
            ErrorCode::NoReleases,
            "这些 ocid 没有已发布的公告 (no published notices for these ocids)",
        ));
    };
    let base = base_url(&gw, &headers);
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    Ok(Json(RecordPackage {
        uri: format!("{base}/v1/export/ocds/records{query}"),
        version: "1.1".into(),
        published_date,
        publisher: Publisher {
            name: gw.config.ocds.publisher.clone(),
        },
        extensions: vec![ocds::BIDS_EXTENSION.into()],
        records,
    }))
}

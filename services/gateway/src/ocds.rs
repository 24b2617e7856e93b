//! `GET /v1/export/ocds`: an OCDS 1.1 release package of published notices (mapping in
//! `gongshi_domain::ocds`), oldest first, filtered by publish date (`from`, `to`, parsed as in
//! search), in pages of `limit` (default 100, at most 500) followed through `links.next` /
//! the `Link: rel="next"` header (an opaque `cursor`). 404 `no-releases` when nothing matches, as
//! a package must hold at least one release.

use crate::views::{kind_of, version_links, version_order};
use crate::{Gateway, bad_request, store_error};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gongshi_domain::ocds::{self, PackageMeta, PublishedNotice};
use gongshi_domain::period::Window;
use gongshi_domain::values::datetime::{self, DateOnly};
use gongshi_domain::{ProcedureKey, Regime};
use gongshi_ingest::error;
use gongshi_platform::store::notices::{self, PublicNotice};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// OCDS export settings.
#[derive(Debug, Clone, clap::Args)]
pub struct OcdsConfig {
    /// ocid prefix of OCDS releases. Register one with the Open Contracting Partnership; the
    /// default is a placeholder.
    #[arg(long = "ocds-prefix", env = "GONGSHI_OCDS_PREFIX", default_value = ocds::PLACEHOLDER_PREFIX)]
    pub prefix: String,
    /// Publisher name in OCDS release packages.
    #[arg(
        long = "ocds-publisher",
        env = "GONGSHI_OCDS_PUBLISHER",
        default_value = "公共资源交易中心 (placeholder publisher: set GONGSHI_OCDS_PUBLISHER)"
    )]
    pub publisher: String,
}

impl Default for OcdsConfig {
    fn default() -> Self {
        OcdsConfig {
            prefix: ocds::PLACEHOLDER_PREFIX.into(),
            publisher: "公共资源交易中心 (placeholder publisher: set GONGSHI_OCDS_PUBLISHER)"
                .into(),
        }
    }
}

/// Query parameters of `GET /v1/export/ocds`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ExportParams {
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
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

/// `<published_at in µs>_<notice id>`: the last release of a page.
fn cursor_of(n: &PublicNotice) -> Option<String> {
    n.published_at
        .map(|t| format!("{}_{}", t.timestamp_micros(), n.notice_id))
}

fn parse_cursor(cursor: &str) -> Option<(DateTime<Utc>, String)> {
    let (micros, id) = cursor.split_once('_')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| (at, id.to_owned()))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// One page of the export: notices, and whether more follow.
pub(crate) async fn export(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    uri: Uri,
    Query(p): Query<ExportParams>,
) -> Response {
    let from = match instant("from", &p.from, DateOnly::StartOfDay) {
        Ok(v) => v,
        Err(m) => return bad_request(m),
    };
    let to = match instant("to", &p.to, DateOnly::EndOfDay) {
        Ok(v) => v,
        Err(m) => return bad_request(m),
    };
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return bad_request(format!(
            "limit: 应为 1 至 {MAX_LIMIT} (must be 1..={MAX_LIMIT})"
        ));
    }
    let after = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match parse_cursor(c) {
            Some(a) => Some(a),
            None => return bad_request(format!("cursor: '{c}' 无效 (invalid cursor)")),
        },
    };
    let pool = &gw.store.pool;
    let mut page = match notices::published_page(
        pool,
        from,
        to,
        after.as_ref().map(|(t, id)| (*t, id.as_str())),
        limit + 1,
    )
    .await
    {
        Ok(page) => page,
        Err(e) => return store_error(&e),
    };
    let more = page.len() as i64 > limit;
    page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let Some(last) = page.last() else {
        return error(
            StatusCode::NOT_FOUND,
            "no-releases",
            "此时间范围内没有已发布的公告 (no published notices in this range)",
        );
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
                let mut siblings = match notices::of_procedure(pool, &k).await {
                    Ok(s) => s,
                    Err(e) => return store_error(&e),
                };
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
    let base = crate::base_url(&gw, &headers);
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
    response
}

/// The release of one stored notice in one of its procedures.
fn releases_of(gw: &Gateway, n: &PublicNotice, key: &ProcedureKey, version: usize) -> Vec<Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let record = n.notice["canonical"]
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
    let windows: BTreeMap<String, Window> =
        serde_json::from_value(n.outcome["windows"].clone()).unwrap_or_default();
    let regime: Regime =
        serde_json::from_value(n.notice["regime"].clone()).unwrap_or(Regime::Works);
    let Some(published_at) = n.published_at else {
        return Vec::new();
    };
    ocds::releases(
        &gw.config.ocds.prefix,
        &PublishedNotice {
            notice_id: &n.notice_id,
            table: &n.table,
            kind: kind_of(&n.kind),
            regime,
            procedures: std::slice::from_ref(key),
            title: n.notice["title"].as_str().unwrap_or_default(),
            record,
            windows: &windows,
            published_at,
            version,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let at = DateTime::from_timestamp_micros(1_741_000_000_123_456).expect("instant");
        let c = format!("{}_{}", at.timestamp_micros(), "0123abcd");
        assert_eq!(parse_cursor(&c), Some((at, "0123abcd".into())));
        for junk in ["", "x_0123", "123_", "123_zz", "123"] {
            assert_eq!(parse_cursor(junk), None, "{junk}");
        }
        assert_eq!(
            encode("2025-03-01T00:00+08:00"),
            "2025-03-01T00%3A00%2B08%3A00"
        );
    }
}

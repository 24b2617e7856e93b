//! `GET /feeds/notices.atom|.rss|.json`: published notices and window events, newest first,
//! with search's filters plus `q`, paged by an opaque cursor over the feed store's global
//! sequence, and `ETag`/`Last-Modified` revalidation.
//!
//! Paging never skips or repeats an entry: appends are serialised so sequence order is commit
//! order (see `gongshi_platform::store::feed`), every page is a strict `seq` range, `next`
//! continues strictly below the page's oldest seq and `previous` strictly above its newest.

mod atom;
pub mod cursor;
pub mod item;
mod json_feed;
mod page;
mod rss;

use crate::Gateway;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gongshi_ingest::error;
use gongshi_platform::feed_filter::{FeedFilter, FilterParams};
use gongshi_platform::store::feed::{self, Window};
use item::Item;
use page::{Links, Page};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Entries per page unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 50;
/// The most entries a page holds.
const MAX_LIMIT: i64 = 200;

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Atom 1.0.
    Atom,
    /// RSS 2.0.
    Rss,
    /// JSON Feed 1.1.
    Json,
}

impl Format {
    fn path(self) -> &'static str {
        match self {
            Format::Atom => "/feeds/notices.atom",
            Format::Rss => "/feeds/notices.rss",
            Format::Json => "/feeds/notices.json",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// Query parameters of the feeds: the filters, a cursor and a page size.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeedQuery {
    /// Filters (as in search).
    #[serde(flatten)]
    pub filter: FilterParams,
    /// Opaque cursor from a previous page's links.
    pub cursor: Option<String>,
    /// Entries per page (1..=200).
    pub limit: Option<String>,
}

impl FeedQuery {
    /// The filter parameters as query pairs, in a fixed order (for links and feed ids).
    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let f = &self.filter;
        [
            ("kind", &f.kind),
            ("category", &f.category),
            ("region", &f.region),
            ("status", &f.status),
            ("from", &f.from),
            ("to", &f.to),
            ("q", &f.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (k, v.to_owned()))
        })
        .collect()
    }
}

fn url_with(base: &str, path: &str, pairs: &[(&str, String)]) -> String {
    match reqwest::Url::parse(&format!("{base}{path}")) {
        Ok(mut url) => {
            if !pairs.is_empty() {
                url.query_pairs_mut()
                    .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            }
            url.to_string()
        }
        Err(_) => format!("{base}{path}"),
    }
}

fn bad_request(code: &str, message: String) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

/// `GET /feeds/notices.atom`.
pub async fn atom(state: State<Gateway>, headers: HeaderMap, q: Query<FeedQuery>) -> Response {
    serve(state, headers, q, Format::Atom).await
}

/// `GET /feeds/notices.rss`.
pub async fn rss(state: State<Gateway>, headers: HeaderMap, q: Query<FeedQuery>) -> Response {
    serve(state, headers, q, Format::Rss).await
}

/// `GET /feeds/notices.json`.
pub async fn json(state: State<Gateway>, headers: HeaderMap, q: Query<FeedQuery>) -> Response {
    serve(state, headers, q, Format::Json).await
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Whether the client's copy is current: `If-None-Match` decides when present (RFC 9110
/// §13.1.3), else `If-Modified-Since` at one-second precision.
fn not_modified(headers: &HeaderMap, etag: &str, last_modified: Option<DateTime<Utc>>) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok());
    match (since, last_modified) {
        (Some(since), Some(lm)) => lm.timestamp() <= since.timestamp(),
        _ => false,
    }
}

async fn serve(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Query(query): Query<FeedQuery>,
    format: Format,
) -> Response {
    let filter = match FeedFilter::parse(&query.filter) {
        Ok(f) => f,
        Err(message) => return bad_request("bad-request", message),
    };
    let limit = match query
        .limit
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return bad_request(
                    "bad-request",
                    format!("limit: '{s}' 应为 1..={MAX_LIMIT} (entries per page)"),
                );
            }
        },
    };
    let window = match query.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
        None => Window::Newest,
        Some(c) => match cursor::decode(c) {
            Ok(w) => w,
            Err(message) => return bad_request("bad-cursor", message),
        },
    };
    // One more than asked tells whether the page has a neighbour beyond it.
    let mut rows = match feed::page(&gw.store.pool, &filter, window, limit + 1).await {
        Ok(rows) => rows,
        Err(e) => return crate::store_error(&e),
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut more_older = false;
    let mut more_newer = false;
    if rows.len() > limit {
        match window {
            // An `after` page holds the oldest entries above its bound: drop the newest.
            Window::After(_) => {
                rows.remove(0);
                more_newer = true;
            }
            _ => {
                rows.truncate(limit);
                more_older = true;
            }
        }
    }
    let base = crate::base_url(&gw, &headers);
    let mut pairs = query.filter_pairs();
    if let Some(l) = query
        .limit
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        pairs.push(("limit", l.to_owned()));
    }
    let link = |w: Window| {
        let mut p = pairs.clone();
        if let Some(c) = cursor::encode(w) {
            p.push(("cursor", c));
        }
        url_with(&base, format.path(), &p)
    };
    let (newest, oldest) = (rows.first().map(|r| r.seq), rows.last().map(|r| r.seq));
    let next = match (oldest, window) {
        (Some(oldest), Window::After(_)) => Some(link(Window::Before(oldest))),
        (Some(oldest), _) if more_older => Some(link(Window::Before(oldest))),
        _ => None,
    };
    let previous = Some(match (newest, window) {
        (Some(newest), _) => link(Window::After(newest)),
        // Nothing matched: newer entries are those above the bound asked for.
        (None, Window::Newest) => link(Window::After(0)),
        (None, Window::Before(seq)) => link(Window::After(seq.saturating_sub(1))),
        (None, Window::After(seq)) => link(Window::After(seq)),
    });
    let last_modified = rows.iter().map(|r| r.stored_at).max();
    // The page is fully determined by the base URL, the format, the query, the entries it holds
    // (immutable once stored) and whether it has neighbours.
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "{base}\n{}\n{pairs:?}\n{window:?}\n{more_older}{more_newer}\n",
        format.path()
    ));
    for r in &rows {
        hasher.update(r.seq.to_be_bytes());
    }
    let etag = format!("\"{}\"", hex::encode(&hasher.finalize()[..16]));
    let mut response_headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, v);
    }
    if let Some(lm) = last_modified
        && let Ok(v) = HeaderValue::from_str(&http_date(lm))
    {
        response_headers.insert(header::LAST_MODIFIED, v);
    }
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if not_modified(&headers, &etag, last_modified) {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    let feed_pairs = query.filter_pairs();
    let page = Page {
        feed_id: format!(
            "tag:gongshi.invalid,2026:feeds/notices{}",
            url_with("http://x", "/", &feed_pairs)
                .strip_prefix("http://x/")
                .unwrap_or_default()
        ),
        title: "gongshi 公示：公告与期限事件 (notices and window events)".into(),
        items: rows.iter().map(|r| Item::from_row(r, &base)).collect(),
        links: Links {
            this: link(window),
            first: link(Window::Newest),
            next,
            previous,
            home: format!("{base}/v1/search"),
        },
        updated: last_modified.unwrap_or(DateTime::UNIX_EPOCH),
    };
    let body = match format {
        Format::Atom => atom::render(&page),
        Format::Rss => rss::render(&page),
        Format::Json => json_feed::render(&page).to_string(),
    };
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    (StatusCode::OK, response_headers, body).into_response()
}

//! `GET /feeds/notices.atom|.rss|.json`: published notices and window events, newest first,
//! with search's filters plus `q`, paged by an opaque cursor over the feed store's global
//! sequence, and `ETag`/`Last-Modified` revalidation. The formats are rendered in `feeds`.
//!
//! Paging never skips or repeats an entry: appends are serialised so sequence order is commit
//! order (see `gongshi_platform::store::feed`), every page is a strict `seq` range, `next`
//! continues strictly below the page's oldest seq and `previous` strictly above its newest.

use crate::Gateway;
use crate::feeds::cache::{Lookup, RenderedPage};
use crate::feeds::item::Item;
use crate::feeds::page::{Links, Page};
use crate::feeds::{self, cursor};
use crate::routes::{base_url, store_error};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::feed_filter::{FeedFilter, FilterParams};
use gongshi_platform::store::feed::{self, Window};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::FeedPageServed;
use gongshi_platform::{ApiError, ErrorCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use utoipa::IntoParams;

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

/// Query parameters of the feeds: the filters, a cursor and a page size. (Its parameters are
/// documented as [`FilterParams`] plus its own paging.)
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Filters (as in search).
    #[serde(flatten)]
    #[param(ignore)]
    pub filter: FilterParams,
    /// Opaque cursor from a page's `next` or `previous` link.
    pub cursor: Option<String>,
    /// Entries per page, 1..=200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
}

impl FeedQuery {
    /// The filter parameters as query pairs, in a fixed order (for links and feed ids).
    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let f = &self.filter;
        super::present_pairs([
            ("kind", &f.kind),
            ("category", &f.category),
            ("region", &f.region),
            ("status", &f.status),
            ("from", &f.from),
            ("to", &f.to),
            ("q", &f.q),
        ])
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

/// One feed format's handler: the same parameters and answers, its own media type.
macro_rules! feed_route {
    ($name:ident, $op:literal, $format:expr, $path:literal, $media:literal, $body:ty) => {
        #[doc = concat!("`GET ", $path, "`.")]
        #[utoipa::path(get, path = $path, operation_id = $op, tag = "feeds",
            params(
                FilterParams,
                FeedQuery,
                ("If-None-Match" = Option<String>, Header, description = "ETag of a page already held"),
                ("If-Modified-Since" = Option<String>, Header, description = "Last-Modified of a page already held")),
            responses(
                (status = 200, description = "A page of entries, newest first, with first/next/previous links", content_type = $media, body = $body),
                (status = 304, description = "Not modified since the ETag or date sent"),
                (status = 400, description = "A parameter is malformed", body = ErrorBody)))]
        pub(crate) async fn $name(
            state: State<Gateway>,
            headers: HeaderMap,
            q: Query<FeedQuery>,
        ) -> Response {
            serve(state, headers, q, $format).await
        }
    };
}

feed_route!(
    atom,
    "feed_atom",
    Format::Atom,
    "/feeds/notices.atom",
    "application/atom+xml",
    String
);
feed_route!(
    rss,
    "feed_rss",
    Format::Rss,
    "/feeds/notices.rss",
    "application/rss+xml",
    String
);
feed_route!(
    json,
    "feed_json",
    Format::Json,
    "/feeds/notices.json",
    "application/feed+json",
    Value
);

async fn serve(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Query(query): Query<FeedQuery>,
    format: Format,
) -> Response {
    let filter = match FeedFilter::parse(&query.filter) {
        Ok(f) => f,
        Err(message) => return ApiError::bad_request(message).into_response(),
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
                return ApiError::bad_request(format!(
                    "limit: '{s}' 应为 1..={MAX_LIMIT} (entries per page)"
                ))
                .into_response();
            }
        },
    };
    let window = match query.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
        None => Window::Newest,
        Some(c) => match cursor::decode(c) {
            Ok(w) => w,
            Err(message) => return ApiError::new(ErrorCode::BadCursor, message).into_response(),
        },
    };
    let base = base_url(&gw, &headers);
    let mut pairs = query.filter_pairs();
    if let Some(l) = query
        .limit
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        pairs.push(("limit", l.to_owned()));
    }
    // Everything the page depends on besides the store's rows.
    let key = format!("{}\n{base}\n{pairs:?}\n{window:?}", format.path());
    let head = match gw.feed_pages.lookup(&key) {
        Lookup::Hit(page) => {
            FeedPageServed { from_memory: true }.emit();
            return page.respond(&headers);
        }
        Lookup::Miss { head } => head,
    };
    // One more than asked tells whether the page has a neighbour beyond it.
    let mut rows = match feed::page(&gw.store.pool, &filter, window, limit + 1).await {
        Ok(rows) => rows,
        Err(e) => return store_error(e).into_response(),
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
            home: format!("{base}/search"),
        },
        updated: last_modified.unwrap_or(DateTime::UNIX_EPOCH),
    };
    let body = match format {
        Format::Atom => feeds::atom::render(&page),
        Format::Rss => feeds::rss::render(&page),
        Format::Json => feeds::json_feed::render(&page).to_string(),
    };
    let rendered = Arc::new(RenderedPage {
        etag,
        last_modified,
        content_type: format.content_type(),
        body: body.into(),
    });
    if let Some(head) = head {
        // No later entry can change a page strictly below a seq the head had reached, nor a full
        // page above a bound (see feeds::cache).
        let lasting = match window {
            Window::Newest => false,
            Window::Before(seq) => seq <= head.saturating_add(1),
            Window::After(_) => more_newer,
        };
        gw.feed_pages
            .keep(key, head, lasting, Arc::clone(&rendered));
    }
    FeedPageServed { from_memory: false }.emit();
    rendered.respond(&headers)
}

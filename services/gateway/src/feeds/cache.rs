//! Rendered feed pages, kept in memory and served again while they are still true, so that a
//! feed polled by crawlers and bidders every minute costs a hash lookup per request, not a query
//! and a rendering.
//!
//! A page is keyed by everything that determines it (format, base URL, filters, limit, cursor)
//! and tagged with the feed head ([`FeedHead`]) read *before* its rows were: every entry up to
//! that head was visible to the page's query. It is served again
//! - while the head is still the one it was rendered at, or
//! - forever, when no later entry can change it (*lasting*): a page strictly below a seq that the
//!   head had reached (`Before`), or a full page above a bound (`After` with a neighbour beyond
//!   it). Entries are immutable once stored and appends only ever draw higher seqs
//!   (`gongshi_platform::store::feed`), so such a page reads the same rows every time.
//!
//! While the head is unknown (at start, or with the notification connection down) nothing is
//! served from memory. A page is at most as stale as the notification of the commit that changed
//! it takes to arrive (the same connection's round trip, typically well under a millisecond).

use super::head::FeedHead;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// One page as served: its validators, media type and body.
#[derive(Debug)]
pub struct RenderedPage {
    /// The strong ETag, quoted.
    pub etag: String,
    /// The newest entry's store time (`Last-Modified`), none for an empty page.
    pub last_modified: Option<DateTime<Utc>>,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The document.
    pub body: Bytes,
}

impl RenderedPage {
    /// The answer to a request with `request`'s headers: 304 when the client's copy is current,
    /// else 200 with the page. Both carry `ETag`, `Last-Modified` and `Cache-Control: no-cache`.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            headers.insert(header::ETAG, v);
        }
        if let Some(lm) = self.last_modified
            && let Ok(v) = HeaderValue::from_str(&http_date(lm))
        {
            headers.insert(header::LAST_MODIFIED, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if not_modified(request, &self.etag, self.last_modified) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        (StatusCode::OK, headers, self.body.clone()).into_response()
    }
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

#[derive(Debug)]
struct Kept {
    /// The head read before the page's rows.
    head: i64,
    /// No later entry can change the page.
    lasting: bool,
    page: Arc<RenderedPage>,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A page still true: serve it.
    Hit(Arc<RenderedPage>),
    /// Render the page; if `head` is known, [`PageCache::keep`] it tagged with that head.
    Miss {
        /// The head to tag the new page with, read before its rows are.
        head: Option<i64>,
    },
}

/// The gateway's rendered feed pages, bounded by their bytes (least recently used go first).
#[derive(Debug, Clone)]
pub struct PageCache {
    head: FeedHead,
    pages: Option<moka::sync::Cache<String, Arc<Kept>>>,
}

impl Default for PageCache {
    /// Keeps nothing.
    fn default() -> PageCache {
        PageCache::new(FeedHead::new(), 0)
    }
}

impl PageCache {
    /// A cache of at most `capacity_bytes` of page bodies, valid against `head`; 0 keeps nothing.
    pub fn new(head: FeedHead, capacity_bytes: u64) -> PageCache {
        let pages = (capacity_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|key: &String, kept: &Arc<Kept>| {
                    u32::try_from(key.len() + kept.page.body.len() + kept.page.etag.len())
                        .unwrap_or(u32::MAX)
                })
                .build()
        });
        PageCache { head, pages }
    }

    /// The head the cache validates against (the gateway follows it, see [`FeedHead::follow`]).
    pub fn head(&self) -> &FeedHead {
        &self.head
    }

    /// The page kept under `key` if it is still true, else the head to tag a fresh one with.
    pub fn lookup(&self, key: &str) -> Lookup {
        let head = self.head.current();
        if let (Some(now), Some(pages)) = (head, &self.pages)
            && let Some(kept) = pages.get(key)
            && (kept.lasting || kept.head == now)
        {
            return Lookup::Hit(Arc::clone(&kept.page));
        }
        Lookup::Miss { head }
    }

    /// Keeps `page`, rendered from rows read after the head was `head`; `lasting` when no later
    /// entry can change it (see the module doc).
    pub fn keep(&self, key: String, head: i64, lasting: bool, page: Arc<RenderedPage>) {
        if let Some(pages) = &self.pages {
            pages.insert(
                key,
                Arc::new(Kept {
                    head,
                    lasting,
                    page,
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(etag: &str) -> Arc<RenderedPage> {
        Arc::new(RenderedPage {
            etag: format!("\"{etag}\""),
            last_modified: None,
            content_type: "application/atom+xml; charset=utf-8",
            body: Bytes::from_static(b"<feed/>"),
        })
    }

    #[test]
    fn nothing_is_served_while_the_head_is_unknown() {
        let head = FeedHead::new();
        let cache = PageCache::new(head.clone(), 1 << 20);
        cache.keep("k".into(), 7, true, page("a"));
        assert!(matches!(cache.lookup("k"), Lookup::Miss { head: None }));
    }

    #[test]
    fn a_page_lives_as_long_as_its_head_unless_it_lasts() {
        let head = FeedHead::new();
        let cache = PageCache::new(head.clone(), 1 << 20);
        head.advance(7);
        cache.keep("newest".into(), 7, false, page("n"));
        cache.keep("older".into(), 7, true, page("o"));
        assert!(matches!(cache.lookup("newest"), Lookup::Hit(p) if p.etag == "\"n\""));
        head.advance(8);
        assert!(matches!(
            cache.lookup("newest"),
            Lookup::Miss { head: Some(8) }
        ));
        assert!(matches!(cache.lookup("older"), Lookup::Hit(p) if p.etag == "\"o\""));
    }

    #[test]
    fn a_zero_capacity_keeps_nothing() {
        let head = FeedHead::new();
        head.advance(1);
        let cache = PageCache::new(head, 0);
        cache.keep("k".into(), 1, true, page("a"));
        assert!(matches!(cache.lookup("k"), Lookup::Miss { head: Some(1) }));
    }
}

//! Rendered feed pages kept in memory, so that a feed polled every minute by crawlers and
//! bidders costs a database query only when something new was published.
//!
//! A page is fully determined by its request (format, base URL, filters, limit, cursor) and by
//! the feed store's entries, which never change once stored; only new entries can change a page.
//! So each page is kept with the feed's head (the highest `seq` the process-wide tail,
//! `stream::live`, has seen) as it was *before* the page was read, and is served again while the
//! head has not moved. The tail polls every `GONGSHI_FEED_POLL_MS`, so a cached page lags the
//! store by at most one poll, as the stream does. Without a running tail (no head known) nothing
//! is cached.
//!
//! Memory is bounded by the rendered bytes (`GONGSHI_FEED_CACHE_MB`); the least recently served
//! pages go first.

use chrono::{DateTime, Utc};
use lru::LruCache;
use std::sync::{Arc, Mutex};

/// One rendered page and what revalidation needs.
#[derive(Debug)]
pub struct CachedPage {
    /// The feed's head when the page was read: valid while the head is still this.
    pub head: i64,
    /// Its `ETag` (quoted).
    pub etag: String,
    /// Its `Last-Modified`: the newest entry's storage time, if any.
    pub last_modified: Option<DateTime<Utc>>,
    /// The rendered document.
    pub body: axum::body::Bytes,
}

#[derive(Debug)]
struct Pages {
    pages: LruCache<String, Arc<CachedPage>>,
    bytes: usize,
}

/// Rendered pages by request key, bounded by their total size in bytes.
#[derive(Debug)]
pub struct PageCache {
    pages: Mutex<Pages>,
    budget: usize,
}

impl PageCache {
    /// A cache holding at most `budget` bytes of rendered pages (0: caches nothing).
    pub fn new(budget: usize) -> PageCache {
        PageCache {
            pages: Mutex::new(Pages {
                pages: LruCache::unbounded(),
                bytes: 0,
            }),
            budget,
        }
    }

    /// The page kept for `key`, if it was read at feed head `head`. A page of an older head is
    /// dropped: it can never be served again.
    pub fn get(&self, key: &str, head: i64) -> Option<Arc<CachedPage>> {
        let mut p = self.pages.lock().ok()?;
        let page = p.pages.get(key)?.clone();
        if page.head == head {
            return Some(page);
        }
        p.pages.pop(key);
        p.bytes -= page.body.len();
        None
    }

    /// Keeps `page` for `key`, evicting the least recently served pages beyond the budget. A
    /// page larger than the whole budget is not kept.
    pub fn put(&self, key: String, page: CachedPage) {
        let size = page.body.len();
        if size > self.budget {
            return;
        }
        let Ok(mut p) = self.pages.lock() else {
            return;
        };
        if let Some(old) = p.pages.put(key, Arc::new(page)) {
            p.bytes -= old.body.len();
        }
        p.bytes += size;
        while p.bytes > self.budget {
            match p.pages.pop_lru() {
                Some((_, evicted)) => p.bytes -= evicted.body.len(),
                None => break,
            }
        }
    }

    /// Pages held and their total size in bytes.
    pub fn usage(&self) -> (usize, usize) {
        self.pages
            .lock()
            .map_or((0, 0), |p| (p.pages.len(), p.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(head: i64, body: &str) -> CachedPage {
        CachedPage {
            head,
            etag: format!("\"{head}\""),
            last_modified: None,
            body: axum::body::Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    #[test]
    fn a_page_is_served_only_at_the_head_it_was_read_at() {
        let cache = PageCache::new(1024);
        cache.put("atom?".into(), page(7, "seven"));
        assert_eq!(
            cache.get("atom?", 7).map(|p| p.body.clone()),
            Some("seven".into())
        );
        assert!(cache.get("json?", 7).is_none(), "another request");
        assert!(cache.get("atom?", 8).is_none(), "the head moved on");
        assert_eq!(cache.usage(), (0, 0), "a stale page is dropped at once");
    }

    #[test]
    fn the_byte_budget_evicts_the_least_recently_served() {
        let cache = PageCache::new(10);
        cache.put("a".into(), page(1, "aaaa"));
        cache.put("b".into(), page(1, "bbbb"));
        assert!(cache.get("a", 1).is_some());
        cache.put("c".into(), page(1, "cccc"));
        assert!(cache.get("b", 1).is_none(), "b was served least recently");
        assert!(cache.get("a", 1).is_some() && cache.get("c", 1).is_some());
        assert_eq!(cache.usage(), (2, 8));
        cache.put("a".into(), page(1, "aa"));
        assert_eq!(
            cache.usage(),
            (2, 6),
            "a replaced page gives its bytes back"
        );
        cache.put("huge".into(), page(1, "0123456789ab"));
        assert!(cache.get("huge", 1).is_none(), "larger than the budget");
        assert_eq!(cache.usage(), (2, 6));
    }
}

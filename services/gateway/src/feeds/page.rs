//! A rendered-format-independent feed page: its items, its paging links and its dates.

use super::item::Item;
use chrono::{DateTime, Utc};

/// Paging links (RFC 5005 paged feeds: `first` is the newest page, `next` goes to older
/// entries, `previous` to newer ones).
#[derive(Debug, Clone)]
pub struct Links {
    /// This page.
    pub this: String,
    /// The newest page (no cursor).
    pub first: String,
    /// Older entries.
    pub next: Option<String>,
    /// Newer entries: poll it to get what arrived after this page, exactly once.
    pub previous: Option<String>,
    /// The notices' HTML-free home (the API root).
    pub home: String,
}

/// One page of a feed.
#[derive(Debug, Clone)]
pub struct Page {
    /// Stable feed id (a tag URI naming the filters).
    pub feed_id: String,
    /// Feed title.
    pub title: String,
    /// Newest first.
    pub items: Vec<Item>,
    /// Links.
    pub links: Links,
    /// When the page's newest entry was stored (epoch for an empty page).
    pub updated: DateTime<Utc>,
}

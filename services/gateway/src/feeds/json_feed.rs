//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>) rendering; `schemas/feeds/jsonfeed-1.1.schema.json`
//! states the structure the tests check it against.

use super::page::Page;
use serde_json::{Value, json};

/// The page as a JSON Feed document.
pub fn render(page: &Page) -> Value {
    let mut feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": page.title,
        "home_page_url": page.links.home,
        // The feed itself (its newest page), not this page: what a reader subscribes to.
        "feed_url": page.links.first,
        "description": "已发布的公告与期限事件 (published notices and window events)",
        "language": "zh-CN",
        "authors": [{"name": "gongshi 公示"}],
        "items": page.items.iter().map(|i| i.json()).collect::<Vec<_>>(),
        "_gongshi": {"this_url": page.links.this, "previous_url": page.links.previous},
    });
    if let Some(next) = &page.links.next {
        feed["next_url"] = json!(next);
    }
    feed
}

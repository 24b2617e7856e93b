//! One feed entry as the public sees it, whatever the format (Atom, RSS, JSON Feed, the event
//! stream, webhook bodies). Built only from public fields: the title, the notice's body text
//! (personal fields were stripped before publication and are not read here anyway), codes and
//! dates.

use chrono::{DateTime, FixedOffset, Utc};
use gongshi_domain::events::PublicEvent;
use gongshi_domain::values::datetime::Instant;
use gongshi_platform::store::feed::FeedRow;
use serde_json::{Value, json};

/// Entries ids are tag URIs (RFC 4151): stable whatever host serves the feed.
const ID_PREFIX: &str = "tag:gongshi.invalid,2026:feed/";

/// Beijing time: dates in feeds are shown as the notices state them.
pub fn beijing(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(8 * 3600).map_or_else(|| t.fixed_offset(), |o| t.with_timezone(&o))
}

/// A public feed item.
#[derive(Debug, Clone)]
pub struct Item {
    /// Global sequence (the stream's event id).
    pub seq: i64,
    /// Stable id (a tag URI).
    pub id: String,
    /// The event id behind it.
    pub entry_id: String,
    /// `notice.published` or `window.closed`.
    pub event_type: String,
    /// Its notice.
    pub notice_id: String,
    /// The notice's page for people, `/notices/{id}`, absolute (the entry's alternate link).
    pub url: String,
    /// Its JSON, `/v1/notices/{id}`, absolute (the entry's related link).
    pub json_url: String,
    /// Its legal windows in words, for a published notice (`投标截止 2025-03-25 09:30`): what a
    /// bidder's feed reader shows as the entry's summary.
    pub deadlines: Option<String>,
    /// Title (a window event names the window).
    pub title: String,
    /// Plain text: the notice's body, or what the window event means.
    pub text: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Kind of the notice.
    pub kind: Option<String>,
    /// works / procurement.
    pub category: Option<String>,
    /// GB/T 2260 code.
    pub region: Option<String>,
    /// Status the entry leaves the notice in.
    pub status: Option<String>,
    /// The window, for window events.
    pub window: Option<String>,
    /// For a new version of a notice: the notice it replaces and its own version number.
    pub replaces: Option<(String, usize)>,
}

/// A legal window's name in Chinese (`bid` → 投标截止, …).
pub(crate) fn window_label(window: &str) -> &'static str {
    match window {
        "documents" => "招标文件获取期结束",
        "bid" => "投标截止",
        "publicity" => "公示期结束",
        "announcement" => "公告期结束",
        "challenge" => "质疑期结束",
        _ => "期限结束",
    }
}

/// The notice a published notice replaces, and its version ([`NoticePublished::replaces`]).
///
/// [`NoticePublished::replaces`]: gongshi_domain::events::NoticePublished::replaces
fn replaces(event: &Option<PublicEvent>) -> Option<(String, usize)> {
    match event {
        Some(PublicEvent::Published(n)) => n
            .replaces
            .as_ref()
            .map(|r| (r.notice_id.clone(), r.version)),
        _ => None,
    }
}

/// An instant as the event carried it (RFC 3339, +08:00).
fn as_sent(t: &Instant) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| t.to_rfc3339())
}

impl Item {
    /// The public view of a stored entry; `base` is the gateway's public URL.
    pub fn from_row(row: &FeedRow, base: &str) -> Item {
        let event = PublicEvent::from_payload(&row.entry_id, &row.event_type, &row.entry["payload"])
            .inspect_err(|e| tracing::warn!(seq = row.seq, error = %e, message = "feed entry shown without its event's details"))
            .ok();
        let deadlines = match &event {
            Some(PublicEvent::Published(n)) => {
                let sentences: Vec<String> = gongshi_domain::period::clocks(
                    &gongshi_domain::period::Engine::embedded(),
                    &n.windows,
                    &n.table,
                    &n.record,
                    n.region.as_deref(),
                    n.regime,
                    row.facts.at,
                )
                .into_iter()
                .map(|c| c.sentence)
                .collect();
                (!sentences.is_empty()).then(|| sentences.join("；"))
            }
            _ => None,
        };
        let (title, text, window) = match &event {
            Some(PublicEvent::WindowClosed(w)) => {
                // A closing in some sections only says which: the notice is still open in others.
                let label = match w.only_sections() {
                    Some(sections) => format!(
                        "{}（标段 {}）",
                        window_label(&w.window),
                        sections.join("、")
                    ),
                    None => window_label(&w.window).to_owned(),
                };
                (
                    format!("{label}：{}", row.facts.title),
                    format!(
                        "{label}（{} window closed）：{} — {}",
                        w.window,
                        as_sent(&w.start),
                        as_sent(&w.end)
                    ),
                    Some(w.window.clone()),
                )
            }
            published => {
                let body = match published {
                    Some(PublicEvent::Published(n)) => n.body(),
                    _ => "",
                };
                let text = if body.trim().is_empty() {
                    row.facts.title.clone()
                } else {
                    body.to_owned()
                };
                // A re-sent notice often keeps its title word for word: the entry says it is a
                // new version, so a reader can tell it from the one it replaces.
                let title = match replaces(&event) {
                    Some((_, version)) => format!("【第{version}版】{}", row.facts.title),
                    None => row.facts.title.clone(),
                };
                (title, text, None)
            }
        };
        Item {
            seq: row.seq,
            id: format!("{ID_PREFIX}{}", row.entry_id),
            entry_id: row.entry_id.clone(),
            event_type: row.event_type.clone(),
            notice_id: row.notice_id.clone(),
            url: format!("{base}/notices/{}", row.notice_id),
            json_url: format!("{base}/v1/notices/{}", row.notice_id),
            deadlines,
            title,
            text,
            at: row.facts.at,
            kind: row.facts.kind.clone(),
            category: row.facts.category.clone(),
            region: row.facts.region.clone(),
            status: row.facts.status.clone(),
            window,
            replaces: replaces(&event),
        }
    }

    /// Category terms (kind, category, region, status) for Atom/RSS categories and JSON tags.
    pub fn tags(&self) -> Vec<String> {
        [&self.kind, &self.category, &self.region, &self.status]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// The entry's text with its deadlines first, for formats with one text field (RSS
    /// `description`): `投标截止 2025-03-25 09:30\n\n…`.
    pub fn text_with_deadlines(&self) -> String {
        match &self.deadlines {
            Some(d) => format!("{d}\n\n{}", self.text),
            None => self.text.clone(),
        }
    }

    /// The item as a JSON Feed 1.1 item: `url` the notice's page, `external_url` its JSON,
    /// `summary` its deadlines; gongshi's fields under the `_gongshi` extension (JSON Feed
    /// §"Extensions": keys starting with an underscore).
    pub fn json(&self) -> Value {
        let mut item = json!({
            "id": self.id,
            "url": self.url,
            "external_url": self.json_url,
            "title": self.title,
            "content_text": self.text,
            "date_published": beijing(self.at).to_rfc3339(),
            "tags": self.tags(),
            "_gongshi": {
                "seq": self.seq,
                "entry_id": self.entry_id,
                "type": self.event_type,
                "notice_id": self.notice_id,
                "kind": self.kind,
                "category": self.category,
                "region": self.region,
                "status": self.status,
                "window": self.window,
                "json_url": self.json_url,
            },
        });
        if let Some((notice_id, version)) = &self.replaces {
            item["_gongshi"]["replaces"] = json!(notice_id);
            item["_gongshi"]["version"] = json!(version);
        }
        if let Some(d) = &self.deadlines {
            item["summary"] = Value::String(d.clone());
        }
        item
    }
}

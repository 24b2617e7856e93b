//! One definition of "this feed entry matches this saved search", shared by the feeds (as SQL,
//! `store::feed`), the event stream and webhook subscriptions (in memory, [`FeedFilter::matches`]),
//! so the three surfaces always agree.
//!
//! Filters are those of `GET /v1/search`: `kind`, `category` (works/procurement), `region` (GB/T
//! 2260 prefix), `status`, `from`/`to` and `q`. For a feed entry they mean:
//! - `status` is the notice's lifecycle status *as the entry leaves it*: a tender or amendment
//!   published → `open`, candidates → `publicity`, award → `awarded`, termination → `terminated`;
//!   a closed `bid` or `publicity` window → `closed`; other windows leave the published status.
//! - `from`/`to` bound the entry's instant ([`EntryFacts::at`]): the publication of a notice, the
//!   closing of a window.
//! - `q`: every whitespace-separated term must occur in the entry's title, body or codes
//!   (project, section, procedure key), after traditional characters are made simplified and
//!   letters lower-cased — a substring match, like search's character-bigram field.

use chrono::{DateTime, Utc};
use gongshi_domain::values::datetime::{self, DateOnly};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Kinds a `kind` filter may name.
pub const KINDS: &[&str] = &["tender", "amendment", "candidates", "award", "termination"];
/// Categories a `category` filter may name.
pub const CATEGORIES: &[&str] = &["works", "procurement"];
/// Statuses a `status` filter may name.
pub const STATUSES: &[&str] = &["open", "publicity", "closed", "awarded", "terminated"];

/// A saved search over feed entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FeedFilter {
    /// Notice kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// works / procurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// GB/T 2260 prefix (2, 4 or 6 digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Status the entry leaves the notice in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Entries at or after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Entries at or before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Free text: every term must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

/// The filters as a client sends them (query string or JSON body), before checking: the
/// filters of the feeds, the stream and subscriptions (and, with its own paging, of search).
#[derive(Debug, Clone, Default, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// tender, amendment, candidates, award, termination.
    #[param(pattern = "^(tender|amendment|candidates|award|termination)?$")]
    #[schema(pattern = "^(tender|amendment|candidates|award|termination)?$")]
    pub kind: Option<String>,
    /// works or procurement.
    #[param(pattern = "^(works|procurement)?$")]
    #[schema(pattern = "^(works|procurement)?$")]
    pub category: Option<String>,
    /// GB/T 2260 prefix: 2, 4 or 6 digits (`32` is all of Jiangsu).
    #[param(pattern = "^([0-9]{2}){0,3}$")]
    #[schema(pattern = "^([0-9]{2}){0,3}$")]
    pub region: Option<String>,
    /// The status the entry leaves its notice in: open, publicity, closed, awarded, terminated.
    pub status: Option<String>,
    /// Entry instant at or after (RFC 3339 or a date, Beijing time).
    pub from: Option<String>,
    /// Entry instant up to (a date means the end of that day).
    pub to: Option<String>,
    /// Every term must occur in title, body or codes (traditional script folded to simplified).
    pub q: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn one_of(name: &str, v: &Option<String>, allowed: &[&str]) -> Result<Option<String>, String> {
    match given(v) {
        None => Ok(None),
        Some(s) if allowed.contains(&s) => Ok(Some(s.to_owned())),
        Some(s) => Err(format!(
            "{name}: '{s}' 应为 {} 之一 (must be one of them)",
            allowed.join("、")
        )),
    }
}

impl FeedFilter {
    /// Checks and converts client parameters; the error is a message for the client.
    pub fn parse(p: &FilterParams) -> Result<FeedFilter, String> {
        let instant = |name: &str, v: &Option<String>, mode: DateOnly| match given(v) {
            None => Ok(None),
            Some(s) => datetime::parse(s, mode)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| format!("{name}: {e}")),
        };
        let region = match given(&p.region) {
            None => None,
            Some(r)
                if r.len() <= 6 && r.len() % 2 == 0 && r.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some(r.to_owned())
            }
            Some(r) => {
                return Err(format!(
                    "region: '{r}' 应为 2、4 或 6 位行政区划代码前缀 (a GB/T 2260 prefix)"
                ));
            }
        };
        let q = given(&p.q).map(str::to_owned);
        if q.as_deref().is_some_and(|q| q.chars().count() > 200) {
            return Err("q: 最多 200 个字符 (at most 200 characters)".into());
        }
        Ok(FeedFilter {
            kind: one_of("kind", &p.kind, KINDS)?,
            category: one_of("category", &p.category, CATEGORIES)?,
            region,
            status: one_of("status", &p.status, STATUSES)?,
            from: instant("from", &p.from, DateOnly::StartOfDay)?,
            to: instant("to", &p.to, DateOnly::EndOfDay)?,
            q,
        })
    }

    /// The query terms, normalised as [`normalise`] does the entry text.
    pub fn terms(&self) -> Vec<String> {
        self.q
            .as_deref()
            .map(|q| normalise(q).split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Whether an entry matches (the in-memory twin of `store::feed`'s SQL).
    pub fn matches(&self, e: &EntryFacts) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        eq(&self.kind, &e.kind)
            && eq(&self.category, &e.category)
            && eq(&self.status, &e.status)
            && self.region.as_ref().is_none_or(|prefix| {
                e.region
                    .as_deref()
                    .is_some_and(|r| r.starts_with(prefix.as_str()))
            })
            && self.from.is_none_or(|from| e.at >= from)
            && self.to.is_none_or(|to| e.at <= to)
            && self
                .terms()
                .iter()
                .all(|t| e.search_text.contains(t.as_str()))
    }
}

/// Text as `q` matches it: traditional characters simplified, letters lower-cased.
pub fn normalise(text: &str) -> String {
    crate::search::to_simplified(text).to_lowercase()
}

/// What filters read of one feed entry (stored beside it in `feed_entries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryFacts {
    /// The notice's kind.
    pub kind: Option<String>,
    /// works / procurement.
    pub category: Option<String>,
    /// GB/T 2260 code.
    pub region: Option<String>,
    /// The status the entry leaves the notice in.
    pub status: Option<String>,
    /// The notice's title.
    pub title: String,
    /// When the entry happened.
    pub at: DateTime<Utc>,
    /// Normalised title, body and codes.
    pub search_text: String,
}

/// The status a published notice of `kind` starts in.
pub fn published_status(kind: &str) -> &'static str {
    match kind {
        "candidates" => "publicity",
        "award" => "awarded",
        "termination" => "terminated",
        _ => "open",
    }
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The notice's body text from a `notice.published` payload (the table's body field).
pub fn body_text(payload: &Value) -> String {
    payload["table"]
        .as_str()
        .and_then(|t| gongshi_domain::Schemas::embedded().table(t))
        .and_then(|table| table.body_field.as_deref())
        .and_then(|f| payload["record"][f].as_str())
        .unwrap_or_default()
        .to_owned()
}

impl EntryFacts {
    /// Facts of a `notice.published` event payload; `fallback_at` when it names no instant.
    pub fn of_published(payload: &Value, fallback_at: DateTime<Utc>) -> EntryFacts {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let title = text(&payload["title"]).unwrap_or_default();
        let procedure = &payload["procedure"];
        let mut searchable = vec![title.clone(), body_text(payload)];
        if let (Some(pl), Some(pr), Some(se)) = (
            procedure["platform"].as_str(),
            procedure["project"].as_str(),
            procedure["section"].as_str(),
        ) {
            searchable.push(format!("{pl}/{pr}/{se}"));
            searchable.push(pr.to_owned());
        }
        for p in payload["procedures"].as_array().into_iter().flatten() {
            if let Some(section) = p["section"].as_str() {
                searchable.push(section.to_owned());
            }
        }
        let kind = text(&payload["kind"]);
        EntryFacts {
            status: kind.as_deref().map(|k| published_status(k).to_owned()),
            kind,
            category: text(&payload["regime"]),
            region: text(&payload["region"]),
            title,
            at: instant(&payload["published_at"]).unwrap_or(fallback_at),
            search_text: normalise(&searchable.join("\n")),
        }
    }

    /// Facts of a notice as the `notices` table keeps it (a window event of a notice that has no
    /// published entry). Only public fields are read: kind, regime, title, region, codes, and
    /// the table's body field.
    pub fn of_notice(notice: &Value, fallback_at: DateTime<Utc>) -> EntryFacts {
        let payload = serde_json::json!({
            "kind": notice["kind"], "regime": notice["regime"], "title": notice["title"],
            "region": notice["region"], "procedure": notice["procedure"],
            "procedures": notice["procedures"], "table": notice["table"],
            "record": notice["canonical"],
        });
        EntryFacts::of_published(&payload, fallback_at)
    }

    /// Facts of a `window.closed` event payload, inheriting from its notice's published entry.
    pub fn of_window(
        payload: &Value,
        notice: Option<&EntryFacts>,
        fallback_at: DateTime<Utc>,
    ) -> EntryFacts {
        let window = payload["window"].as_str().unwrap_or_default();
        let status = if matches!(window, "bid" | "publicity") {
            Some("closed".to_owned())
        } else {
            notice.and_then(|n| n.status.clone())
        };
        let title = notice
            .map(|n| n.title.clone())
            .or_else(|| payload["title"].as_str().map(str::to_owned))
            .unwrap_or_default();
        EntryFacts {
            kind: notice.and_then(|n| n.kind.clone()),
            category: notice.and_then(|n| n.category.clone()),
            region: notice.and_then(|n| n.region.clone()),
            status,
            search_text: notice.map_or_else(|| normalise(&title), |n| n.search_text.clone()),
            title,
            at: instant(&payload["closed_at"]).unwrap_or(fallback_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> EntryFacts {
        EntryFacts::of_published(
            &serde_json::json!({
                "kind": "tender", "regime": "works", "region": "320300", "title": "徐州市三環東路工程施工招標公告",
                "procedure": {"platform": "JSGGZY", "project": "E3203010319005778", "section": "E3203010319005778001"},
                "published_at": "2025-03-03T01:00:00Z",
            }),
            Utc::now(),
        )
    }

    fn filter(p: FilterParams) -> FeedFilter {
        FeedFilter::parse(&p).expect("valid filter")
    }

    #[test]
    fn filters_match_like_search() {
        let f = facts();
        assert_eq!(f.status.as_deref(), Some("open"));
        assert!(filter(FilterParams::default()).matches(&f));
        for (p, want) in [
            (
                FilterParams {
                    region: Some("32".into()),
                    ..Default::default()
                },
                true,
            ),
            (
                FilterParams {
                    region: Some("3201".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                FilterParams {
                    kind: Some("award".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                FilterParams {
                    q: Some("三环 招标".into()),
                    ..Default::default()
                },
                true,
            ),
            (
                FilterParams {
                    q: Some("e3203010319005778".into()),
                    ..Default::default()
                },
                true,
            ),
            (
                FilterParams {
                    q: Some("三环 采购".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                FilterParams {
                    from: Some("2025-03-03".into()),
                    ..Default::default()
                },
                true,
            ),
            (
                FilterParams {
                    to: Some("2025-03-02".into()),
                    ..Default::default()
                },
                false,
            ),
        ] {
            assert_eq!(filter(p.clone()).matches(&f), want, "{p:?}");
        }
    }

    #[test]
    fn bad_filters_are_refused() {
        for p in [
            FilterParams {
                kind: Some("x".into()),
                ..Default::default()
            },
            FilterParams {
                region: Some("3".into()),
                ..Default::default()
            },
            FilterParams {
                from: Some("yesterday".into()),
                ..Default::default()
            },
        ] {
            assert!(FeedFilter::parse(&p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn a_closed_window_inherits_the_notice() {
        let n = facts();
        let w = EntryFacts::of_window(
            &serde_json::json!({"window": "bid", "closed_at": "2025-03-25T01:30:00Z"}),
            Some(&n),
            Utc::now(),
        );
        assert_eq!(
            (w.status.as_deref(), w.region.as_deref(), w.title.as_str()),
            (Some("closed"), Some("320300"), n.title.as_str())
        );
    }
}

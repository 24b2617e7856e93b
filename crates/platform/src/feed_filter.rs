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
use gongshi_domain::events::{NoticePublished, PublicFacts, WindowClosed};
use gongshi_domain::lifecycle::Status;
use gongshi_domain::values::datetime::{self, DateOnly};
use gongshi_domain::{Kind, Regime};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Kinds a `kind` filter may name (the domain's [`Kind`]s).
pub const KINDS: [&str; 5] = {
    let k = Kind::ALL;
    [
        k[0].as_str(),
        k[1].as_str(),
        k[2].as_str(),
        k[3].as_str(),
        k[4].as_str(),
    ]
};
/// Categories a `category` filter may name (the domain's [`Regime`]s).
pub const CATEGORIES: [&str; Regime::ALL.len()] = {
    let r = Regime::ALL;
    let mut names = [""; Regime::ALL.len()];
    let mut i = 0;
    while i < r.len() {
        names[i] = r[i].as_str();
        i += 1;
    }
    names
};
/// Statuses a `status` filter may name (the domain's lifecycle [`Status`]es).
pub const STATUSES: [&str; 5] = {
    let s = Status::ALL;
    [
        s[0].as_str(),
        s[1].as_str(),
        s[2].as_str(),
        s[3].as_str(),
        s[4].as_str(),
    ]
};

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
        // No notice's text holds one (content hygiene strips them), and PostgreSQL refuses a NUL
        // in a query parameter: answered here, not as a store outage.
        if let Some(c) = q
            .as_deref()
            .and_then(|q| q.chars().find(|c| c.is_control()))
        {
            return Err(format!(
                "q: 不能含控制字符 U+{:04X} (no control characters)",
                u32::from(c)
            ));
        }
        let from = instant("from", &p.from, DateOnly::StartOfDay)?;
        let to = instant("to", &p.to, DateOnly::EndOfDay)?;
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(format!(
                "to: {} 早于 from: {}，没有公告能落在其间 (to is before from: nothing could match)",
                given(&p.to).unwrap_or_default(),
                given(&p.from).unwrap_or_default()
            ));
        }
        Ok(FeedFilter {
            kind: one_of("kind", &p.kind, &KINDS)?,
            category: one_of("category", &p.category, &CATEGORIES)?,
            region,
            status: one_of("status", &p.status, &STATUSES)?,
            from,
            to,
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

impl EntryFacts {
    /// Facts of a published notice (the domain's one projection, [`NoticePublished::facts`]).
    pub fn of_published(notice: &NoticePublished) -> EntryFacts {
        EntryFacts::of_facts(&notice.facts())
    }

    /// Entry facts of a notice's public facts.
    pub fn of_facts(f: &PublicFacts) -> EntryFacts {
        let mut searchable = vec![f.title.clone(), f.body.clone()];
        searchable.extend(f.codes.iter().cloned());
        EntryFacts {
            kind: Some(f.kind.as_str().to_owned()),
            category: Some(f.regime.as_str().to_owned()),
            region: f.region.clone(),
            status: Some(f.status.as_str().to_owned()),
            title: f.title.clone(),
            at: f.published_at,
            search_text: normalise(&searchable.join("\n")),
        }
    }

    /// Facts of a closed window: filtered like its notice, whose published entry's facts are
    /// `notice` (kind, region, title and text inherited); without one (a window that closed
    /// before its notice reached the feed), what the event itself carries.
    pub fn of_window(window: &WindowClosed, notice: Option<&EntryFacts>) -> EntryFacts {
        let status = window
            .leaves_notice()
            .map(|s| s.as_str().to_owned())
            .or_else(|| notice.and_then(|n| n.status.clone()));
        let Some(n) = notice else {
            let project = window.procedure.split('/').nth(1).unwrap_or_default();
            return EntryFacts {
                kind: window.kind.map(|k| k.as_str().to_owned()),
                category: window.regime.map(|r| r.as_str().to_owned()),
                region: window.region.clone(),
                status,
                title: window.title.clone(),
                at: window.closed_at,
                search_text: normalise(&[&window.title, &window.procedure, project].join("\n")),
            };
        };
        EntryFacts {
            kind: n.kind.clone(),
            category: n.category.clone(),
            region: n.region.clone(),
            status,
            title: n.title.clone(),
            at: window.closed_at,
            search_text: n.search_text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published() -> NoticePublished {
        serde_json::from_value(serde_json::json!({
            "notice_id": "0123456789abcdef0123456789abcdef", "table": "TENDER_ANN_QUA_INQUERY_ANN",
            "kind": "tender", "regime": "works", "region": "320300", "title": "徐州市三環東路工程施工招標公告",
            "procedure": {"platform": "JSGGZY", "project": "E3203010319005778", "section": "E3203010319005778001"},
            "procedures": [{"platform": "JSGGZY", "project": "E3203010319005778", "section": "E3203010319005778001"}],
            "sent_at": null, "published_at": "2025-03-03T01:00:00Z", "record": {}, "windows": {}, "warnings": [],
        }))
        .expect("a notice.published payload")
    }

    fn facts() -> EntryFacts {
        EntryFacts::of_published(&published())
    }

    fn filter(p: FilterParams) -> FeedFilter {
        FeedFilter::parse(&p).expect("valid filter")
    }

    #[test]
    fn a_control_character_in_q_is_refused_naming_q() {
        for q in ["a\u{0}b", "\u{7}", "道路\u{1}桥"] {
            let e = FeedFilter::parse(&FilterParams {
                q: Some(q.into()),
                ..Default::default()
            })
            .expect_err("refused");
            assert!(e.starts_with("q: "), "{e}");
        }
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
            // A saved search that could never match anything.
            FilterParams {
                from: Some("2026-01-01".into()),
                to: Some("2025-01-01".into()),
                ..Default::default()
            },
        ] {
            assert!(FeedFilter::parse(&p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn a_closed_window_inherits_the_notice() {
        let n = facts();
        let w: WindowClosed = serde_json::from_value(serde_json::json!({
            "notice_id": "0123456789abcdef0123456789abcdef", "window": "bid",
            "start": "2025-03-03T09:00:00+08:00", "end": "2025-03-25T09:30:00+08:00",
            "procedure": "JSGGZY/E3203010319005778/E3203010319005778001", "title": "别的标题",
            "closed_at": "2025-03-25T01:30:00Z",
        }))
        .expect("a window.closed payload");
        let inherited = EntryFacts::of_window(&w, Some(&n));
        assert_eq!(
            (
                inherited.status.as_deref(),
                inherited.region.as_deref(),
                inherited.title.as_str()
            ),
            (Some("closed"), Some("320300"), n.title.as_str())
        );
        // Without a published entry, the event's own facts (and an old event without them).
        let alone = EntryFacts::of_window(&w, None);
        assert_eq!(
            (
                alone.status.as_deref(),
                alone.kind.as_deref(),
                alone.title.as_str()
            ),
            (Some("closed"), None, "别的标题")
        );
        assert!(alone.search_text.contains("e3203010319005778"));
    }
}

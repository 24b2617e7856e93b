//! Search behind one trait. Tantivy (embedded, with a jieba Chinese segmenter) is the default;
//! other engines implement the same trait and must pass the same conformance suite
//! (`conformance::run`).

mod config;
pub mod conformance;
pub mod generated;
mod meili_index;
mod tantivy_index;

pub use config::{Access, SearchConfig};
pub use meili_index::{MeiliConfig, MeiliIndex};

pub use tantivy_index::TantivyIndex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A published notice as the index keeps it (personal data already stripped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchDoc {
    /// Notice id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Codes typed into the box find the notice: project, section, procedure codes.
    pub codes: Vec<String>,
    /// tender, amendment, candidates, award, termination.
    pub kind: String,
    /// works, procurement, land, mining or property (`Regime::as_str`).
    pub category: String,
    /// GB/T 2260 code, when known.
    pub region: Option<String>,
    /// open, publicity, closed, awarded, terminated; for a notice of several sections, the most
    /// open of `sections`.
    pub status: String,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// Its bid or response deadline, when it has one.
    pub deadline: Option<DateTime<Utc>>,
    /// A notice of several sections (标段): its status in each section's procedure.
    pub sections: Sections,
}

/// A notice's status in each section's procedure, by procedure key (`platform/project/section`):
/// empty for a notice of one procedure, whose status is the notice's.
pub type Sections = BTreeMap<String, String>;

/// A change of an indexed notice's status (a window closed, an award or termination published),
/// and of its deadline when another notice of its stage moved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// Notice id.
    pub id: String,
    /// Its status: open, publicity, closed, awarded, terminated.
    pub status: String,
    /// Its status in each of its sections, when it has several.
    pub sections: Sections,
    /// Its deadline in force when a later notice of its stage moved it (an amendment postponing
    /// the tender's bid deadline, a re-sent version changing it): what `deadline` in hits and
    /// `Sort::Deadline` then use. `None` leaves the indexed deadline as it is.
    pub deadline: Option<DateTime<Utc>>,
}

impl From<&gongshi_domain::events::PublicFacts> for SearchDoc {
    /// The search document of a published notice (the domain's one projection).
    fn from(f: &gongshi_domain::events::PublicFacts) -> Self {
        SearchDoc {
            id: f.notice_id.clone(),
            title: f.title.clone(),
            body: f.body.clone(),
            codes: f.codes.clone(),
            kind: f.kind.as_str().to_owned(),
            category: f.regime.as_str().to_owned(),
            region: f.region.clone(),
            status: f.status.as_str().to_owned(),
            published_at: f.published_at,
            deadline: f.deadline,
            sections: Sections::new(),
        }
    }
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    /// Best match first (newest first without a query).
    #[default]
    Relevance,
    /// Newest publication first (`-published`).
    PublishedDesc,
    /// Nearest deadline first (`deadline`); notices without one last.
    Deadline,
}

/// A search request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Free text (every word must match), or a code.
    pub q: Option<String>,
    /// Kind filter.
    pub kind: Option<String>,
    /// works / procurement.
    pub category: Option<String>,
    /// GB/T 2260 prefix: `32` is Jiangsu, `3203` Xuzhou.
    pub region: Option<String>,
    /// Status filter.
    pub status: Option<String>,
    /// Published at or after.
    pub from: Option<DateTime<Utc>>,
    /// Published at or before (inclusive, as the feeds' `to`).
    pub to: Option<DateTime<Utc>>,
    /// Order.
    pub sort: Sort,
    /// 1-based page.
    pub page: usize,
    /// Hits per page.
    pub per_page: usize,
}

/// One hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// Notice id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Body excerpt with matches in `<em>`.
    pub snippet: String,
    /// Kind.
    pub kind: String,
    /// Region code.
    pub region: Option<String>,
    /// Status.
    pub status: String,
    /// Published.
    pub published_at: DateTime<Utc>,
    /// Deadline.
    pub deadline: Option<DateTime<Utc>>,
    /// A notice of several sections (标段): its status in each section's procedure, by
    /// procedure key (`status` is the most open of them). Absent for a notice of one procedure.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sections: Sections,
}

/// A page of results with facet counts over every match (not just the page).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Matches in all.
    pub total: usize,
    /// This page.
    pub hits: Vec<SearchHit>,
    /// Matches by kind.
    pub facets_kind: BTreeMap<String, u64>,
    /// Matches by province (two-digit GB/T 2260 prefix).
    pub facets_region: BTreeMap<String, u64>,
}

/// A search engine behind gongshi. Every write is idempotent (keyed by notice id).
pub trait SearchIndex: Send + Sync + std::fmt::Debug {
    /// Adds or replaces a notice.
    fn upsert(&self, doc: &SearchDoc) -> anyhow::Result<()>;
    /// Adds or replaces several notices (one commit where the engine allows).
    fn upsert_many(&self, docs: &[SearchDoc]) -> anyhow::Result<()> {
        docs.iter().try_for_each(|d| self.upsert(d))
    }
    /// Changes a notice's status (publicity closed, awarded, terminated) and its sections';
    /// unknown ids are ignored.
    fn set_status(&self, change: &StatusChange) -> anyhow::Result<()>;
    /// Adds or replaces `docs` and applies `statuses` (ids not among `docs`, unknown ids
    /// ignored), with one commit where the engine allows: how a batch of feed entries reaches
    /// the index.
    fn apply_changes(&self, docs: &[SearchDoc], statuses: &[StatusChange]) -> anyhow::Result<()> {
        self.upsert_many(docs)?;
        statuses.iter().try_for_each(|c| self.set_status(c))
    }
    /// Removes a notice.
    fn delete(&self, id: &str) -> anyhow::Result<()>;
    /// Removes every notice (before a rebuild from the feed store).
    fn clear(&self) -> anyhow::Result<()>;
    /// Searches.
    fn search(&self, query: &SearchQuery) -> anyhow::Result<SearchResults>;
    /// The notices that carry `code` among their codes (any case), at most `limit`, in no set
    /// order and without snippets: a procedure key names its procedure's notices, which the
    /// publish stage reads on every closing, award and amendment. By default a search for it;
    /// an engine with an exact lookup spares the text analysis, scoring and facets.
    fn with_code(&self, code: &str, limit: usize) -> anyhow::Result<Vec<SearchHit>> {
        let q = SearchQuery {
            q: Some(code.to_owned()),
            page: 1,
            per_page: limit,
            ..SearchQuery::default()
        };
        Ok(self.search(&q)?.hits)
    }
    /// Whether the engine answers.
    fn health(&self) -> bool;
}

/// Traditional characters in a query or a notice are searched as simplified ones.
pub fn to_simplified(text: &str) -> String {
    zhconv::zhconv(text, zhconv::Variant::ZhHans)
}

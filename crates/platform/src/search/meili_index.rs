//! Meilisearch behind [`SearchIndex`], for deployments that run a search cluster of their own.
//!
//! What Meilisearch does differently by default, and how this adapter makes it behave like the
//! embedded engine (the conformance suite checks both):
//! - partial matching: every search sends `matchingStrategy: all`, so every word must match;
//! - traditional script: Meilisearch's Chinese segmenter does not fold 繁体 to 简体, so the adapter
//!   indexes simplified copies of title and body (`title_s`, `body_s`) and simplifies the query;
//! - typo tolerance: a project code one digit away from another would match it, so typos are off
//!   for `codes` and for numbers;
//! - asynchronous writes: every write waits for its task, and a failed task is an error;
//! - capped totals: `pagination.maxTotalHits` is raised so `total` and paging are exact;
//! - region prefixes: each document carries every prefix of its GB/T 2260 code (`32`, `3203`,
//!   `320303`) as a filterable list, and its province for the facet.
//!
//! The [`SearchIndex`] trait is synchronous (the embedded engine is); this adapter runs the async
//! SDK on a small runtime of its own and waits for the answer, so it may be called from any thread,
//! an async worker included.

use super::{
    SearchDoc, SearchHit, SearchIndex, SearchQuery, SearchResults, Sections, Sort, StatusChange,
    to_simplified,
};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use meilisearch_sdk::client::Client;
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode};
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{PaginationSetting, Settings, TypoToleranceSettings};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// The highest total a search reports exactly (Meilisearch's default is 1,000).
const MAX_TOTAL_HITS: usize = 100_000_000;

/// How to reach a Meilisearch index.
#[derive(Debug, Clone)]
pub struct MeiliConfig {
    /// Base URL, e.g. `http://127.0.0.1:7700`.
    pub url: String,
    /// API key (the master key or a key allowed to write the index), if the server has one.
    pub key: Option<String>,
    /// Index uid.
    pub index: String,
    /// How long a write may wait for its task.
    pub task_timeout: Duration,
}

/// A notice as stored in Meilisearch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MeiliDoc {
    id: String,
    title: String,
    /// Simplified title and body: what is searched (the title's copy is not displayed).
    #[serde(default)]
    title_s: String,
    body_s: String,
    codes: Vec<String>,
    kind: String,
    category: String,
    region: Option<String>,
    /// Every prefix of the region code, for prefix filters.
    regions: Vec<String>,
    /// Two-digit province code, for the facet.
    province: Option<String>,
    status: String,
    /// Unix milliseconds (filterable and sortable numbers).
    published_at: i64,
    deadline: Option<i64>,
    /// Its status in each of its sections, when it has several (neither searched nor filtered).
    #[serde(default)]
    sections: Sections,
}

impl MeiliDoc {
    /// The hit it makes, with `snippet`.
    fn hit(&self, snippet: String) -> SearchHit {
        SearchHit {
            id: self.id.clone(),
            title: self.title.clone(),
            snippet,
            kind: self.kind.clone(),
            region: self.region.clone(),
            status: self.status.clone(),
            published_at: instant(self.published_at),
            deadline: self.deadline.map(instant),
            sections: self.sections.clone(),
        }
    }

    fn from_doc(d: &SearchDoc) -> MeiliDoc {
        let region = d.region.clone().filter(|r| !r.is_empty());
        let regions = region
            .as_deref()
            .map(|r| {
                (2..=r.len())
                    .step_by(2)
                    .filter_map(|n| r.get(..n).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        MeiliDoc {
            id: d.id.clone(),
            title: d.title.clone(),
            title_s: to_simplified(&d.title),
            body_s: to_simplified(&d.body),
            codes: d.codes.clone(),
            kind: d.kind.clone(),
            category: d.category.clone(),
            province: region
                .as_deref()
                .and_then(|r| r.get(..2))
                .map(str::to_owned),
            region,
            regions,
            status: d.status.clone(),
            published_at: d.published_at.timestamp_millis(),
            deadline: d.deadline.map(|t| t.timestamp_millis()),
            sections: d.sections.clone(),
        }
    }
}

/// The document's id, status, sections and a moved deadline only: what a status change rewrites
/// (a partial update replaces the top-level fields it names, `sections` whole).
#[derive(Debug, Serialize)]
struct StatusPatch<'a> {
    id: &'a str,
    status: &'a str,
    sections: &'a Sections,
    /// Epoch milliseconds, as [`MeiliDoc`] keeps it; absent leaves the deadline as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<i64>,
}

/// A Meilisearch index of published notices.
pub struct MeiliIndex {
    client: Client,
    index: Index,
    config: MeiliConfig,
    /// Runs the SDK's futures; shut down in the background on drop, so dropping the index inside
    /// an async context is allowed.
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for MeiliIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeiliIndex")
            .field("url", &self.config.url)
            .field("index", &self.config.index)
            .finish_non_exhaustive()
    }
}

impl Drop for MeiliIndex {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn settings() -> Settings {
    Settings::new()
        .with_searchable_attributes(["title_s", "body_s", "codes"])
        .with_filterable_attributes([
            "codes",
            "kind",
            "category",
            "regions",
            "province",
            "status",
            "published_at",
        ])
        .with_sortable_attributes(["published_at", "deadline"])
        .with_displayed_attributes([
            "id",
            "title",
            "body_s",
            "codes",
            "kind",
            "category",
            "region",
            "regions",
            "province",
            "status",
            "published_at",
            "deadline",
        ])
        .with_typo_tolerance(TypoToleranceSettings {
            disable_on_attributes: Some(vec!["codes".to_owned()]),
            disable_on_numbers: Some(true),
            ..TypoToleranceSettings::default()
        })
        .with_pagination(PaginationSetting {
            max_total_hits: MAX_TOTAL_HITS,
        })
        .with_max_values_per_facet(1000)
}

/// A value inside a Meilisearch filter expression, quoted and escaped.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The filter expression of a query's filters (empty when there are none).
fn filter_of(q: &SearchQuery) -> String {
    let mut parts = Vec::new();
    let mut eq = |attribute: &str, value: &Option<String>| {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{attribute} = {}", quoted(v)));
        }
    };
    eq("kind", &q.kind);
    eq("category", &q.category);
    eq("status", &q.status);
    eq("regions", &q.region);
    if let Some(from) = q.from {
        parts.push(format!("published_at >= {}", from.timestamp_millis()));
    }
    if let Some(to) = q.to {
        parts.push(format!("published_at <= {}", to.timestamp_millis()));
    }
    parts.join(" AND ")
}

fn instant(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

impl MeiliIndex {
    /// Whether any document passes `filter` (one search for no text, one hit).
    fn matches(&self, filter: &str) -> anyhow::Result<bool> {
        let (index, filter) = (self.index.clone(), filter.to_owned());
        let found = self.run(async move {
            index
                .search()
                .with_limit(1)
                .with_filter(&filter)
                .execute::<MeiliDoc>()
                .await
        })??;
        Ok(!found.hits.is_empty())
    }

    /// Connects, creates the index if it is missing and applies its settings (waiting for both).
    pub fn connect(config: MeiliConfig) -> anyhow::Result<MeiliIndex> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("meilisearch")
            .enable_all()
            .build()?;
        let client = Client::new(config.url.clone(), config.key.clone())
            .with_context(|| format!("meilisearch client for {}", config.url))?;
        let index = client.index(config.index.clone());
        let this = MeiliIndex {
            client,
            index,
            config,
            runtime: Some(runtime),
        };
        let (client, uid) = (this.client.clone(), this.config.index.clone());
        let created = this.run(async move { client.create_index(uid, Some("id")).await })??;
        match this.wait(created) {
            Ok(()) => {}
            Err(e) if e.to_string().contains("index_already_exists") => {}
            Err(e) => return Err(e.context("creating the meilisearch index")),
        }
        let index = this.index.clone();
        let task = this.run(async move { index.set_settings(&settings()).await })??;
        this.wait(task)
            .context("applying meilisearch index settings")?;
        Ok(this)
    }

    /// Runs a future on the adapter's runtime and waits for its output on this thread.
    fn run<T, F>(&self, fut: F) -> anyhow::Result<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let rt = self
            .runtime
            .as_ref()
            .context("meilisearch runtime is shut down")?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            // The receiver only goes away if the caller did; nothing to report then.
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| anyhow::anyhow!("meilisearch request was abandoned"))
    }

    /// Waits for a task; a failed task is an error naming Meilisearch's code and message.
    fn wait(&self, task: TaskInfo) -> anyhow::Result<()> {
        let client = self.client.clone();
        let timeout = self.config.task_timeout;
        let done = self.run(async move {
            task.wait_for_completion(&client, Some(Duration::from_millis(20)), Some(timeout))
                .await
        })??;
        match done {
            Task::Succeeded { .. } => Ok(()),
            Task::Failed { content } => Err(anyhow::anyhow!(
                "meilisearch task {} failed: {} ({})",
                content.task.uid,
                content.error.error_message,
                content.error.error_code
            )),
            other => Err(anyhow::anyhow!(
                "meilisearch task {} did not finish",
                other.get_uid()
            )),
        }
    }

    /// Storage the Meilisearch server uses, in bytes (`usedDatabaseSize` of `/stats`: every index
    /// on the server, without LMDB's claimed but unused space).
    pub fn used_database_size(&self) -> anyhow::Result<u64> {
        let client = self.client.clone();
        let stats = self.run(async move { client.get_stats().await })??;
        Ok(u64::try_from(stats.used_database_size)?)
    }

    fn exists(&self, id: &str) -> anyhow::Result<bool> {
        let (index, id) = (self.index.clone(), id.to_owned());
        let found = self.run(async move {
            index
                .get_document::<serde_json::Value>(&id)
                .await
                .map(|_| ())
        })?;
        match found {
            Ok(()) => Ok(true),
            Err(MeiliError::Meilisearch(e)) if e.error_code == ErrorCode::DocumentNotFound => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl SearchIndex for MeiliIndex {
    fn upsert(&self, doc: &SearchDoc) -> anyhow::Result<()> {
        self.upsert_many(std::slice::from_ref(doc))
    }

    fn upsert_many(&self, docs: &[SearchDoc]) -> anyhow::Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let batch: Vec<MeiliDoc> = docs.iter().map(MeiliDoc::from_doc).collect();
        let index = self.index.clone();
        let task = self.run(async move { index.add_or_replace(&batch, Some("id")).await })??;
        self.wait(task)
    }

    fn set_status(&self, change: &StatusChange) -> anyhow::Result<()> {
        // A partial update of an unknown id would create a document holding only a status.
        if !self.exists(&change.id)? {
            return Ok(());
        }
        let index = self.index.clone();
        let patch = [serde_json::to_value(StatusPatch {
            id: &change.id,
            status: &change.status,
            sections: &change.sections,
            deadline: change.deadline.map(|t| t.timestamp_millis()),
        })?];
        let task = self.run(async move { index.add_or_update(&patch, Some("id")).await })??;
        self.wait(task)
    }

    fn delete(&self, id: &str) -> anyhow::Result<()> {
        let (index, id) = (self.index.clone(), id.to_owned());
        let task = self.run(async move { index.delete_document(id).await })??;
        self.wait(task)
    }

    fn clear(&self) -> anyhow::Result<()> {
        let index = self.index.clone();
        let task = self.run(async move { index.delete_all_documents().await })??;
        self.wait(task)
    }

    fn search(&self, q: &SearchQuery) -> anyhow::Result<SearchResults> {
        let mut text =
            q.q.as_deref()
                .map(|s| to_simplified(s.trim()))
                .filter(|s| !s.is_empty());
        let mut filter = filter_of(q);
        // A query that is a code some notice carries finds exactly those notices, newest first
        // (as the embedded engine does): as a word it would also match codes it is a prefix of.
        if let Some(code) = text
            .as_deref()
            .filter(|t| !t.contains(char::is_whitespace))
            .map(|t| format!("codes = {}", quoted(t)))
            && self.matches(&code)?
        {
            text = None;
            filter = if filter.is_empty() {
                code
            } else {
                format!("{code} AND {filter}")
            };
        }
        let sort: Option<&'static str> = match q.sort {
            Sort::Relevance if text.is_some() => None,
            Sort::Relevance | Sort::PublishedDesc => Some("published_at:desc"),
            Sort::Deadline => Some("deadline:asc"),
        };
        let per_page = q.per_page.clamp(1, 100);
        let page = q.page.max(1);
        let index = self.index.clone();
        let found = self.run(async move {
            let sort_by: Vec<&str> = sort.into_iter().collect();
            let mut s = index.search();
            s.with_page(page)
                .with_hits_per_page(per_page)
                .with_matching_strategy(MatchingStrategies::ALL)
                .with_facets(Selectors::Some(&["kind", "province"]))
                .with_attributes_to_crop(Selectors::Some(&[("body_s", Some(60))]))
                .with_attributes_to_highlight(Selectors::Some(&["body_s"]))
                .with_highlight_pre_tag("<em>")
                .with_highlight_post_tag("</em>");
            if let Some(text) = text.as_deref() {
                s.with_query(text);
            }
            if !filter.is_empty() {
                s.with_filter(&filter);
            }
            if !sort_by.is_empty() {
                s.with_sort(&sort_by);
            }
            s.execute::<MeiliDoc>().await
        })??;
        let facet = |name: &str| -> BTreeMap<String, u64> {
            found
                .facet_distribution
                .as_ref()
                .and_then(|f| f.get(name))
                .map(|counts| {
                    counts
                        .iter()
                        .map(|(k, n)| (k.clone(), u64::try_from(*n).unwrap_or(u64::MAX)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let hits = found
            .hits
            .iter()
            .map(|h| {
                let d = &h.result;
                let snippet = h
                    .formatted_result
                    .as_ref()
                    .and_then(|f| f.get("body_s"))
                    .and_then(|v| v.as_str())
                    .map_or_else(|| d.body_s.chars().take(120).collect(), str::to_owned);
                d.hit(snippet)
            })
            .collect();
        Ok(SearchResults {
            total: found
                .total_hits
                .or(found.estimated_total_hits)
                .unwrap_or_default(),
            hits,
            facets_kind: facet("kind"),
            facets_region: facet("province"),
        })
    }

    fn with_code(&self, code: &str, limit: usize) -> anyhow::Result<Vec<SearchHit>> {
        let filter = format!("codes = {}", quoted(code));
        let index = self.index.clone();
        let found = self.run(async move {
            index
                .search()
                .with_limit(limit.max(1))
                .with_filter(&filter)
                .execute::<MeiliDoc>()
                .await
        })??;
        Ok(found
            .hits
            .iter()
            .map(|h| h.result.hit(String::new()))
            .collect())
    }

    fn health(&self) -> bool {
        let client = self.client.clone();
        self.run(async move { client.is_healthy().await })
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_quoted_and_joined() {
        let q = SearchQuery {
            kind: Some("tender".into()),
            region: Some("3203".into()),
            status: Some("a\"b".into()),
            from: DateTime::from_timestamp_millis(1000),
            ..SearchQuery::default()
        };
        assert_eq!(
            filter_of(&q),
            r#"kind = "tender" AND status = "a\"b" AND regions = "3203" AND published_at >= 1000"#
        );
        assert_eq!(filter_of(&SearchQuery::default()), "");
    }

    #[test]
    fn documents_carry_every_region_prefix_and_simplified_text() {
        let d = MeiliDoc::from_doc(&SearchDoc {
            id: "x".into(),
            title: "醫院".into(),
            body: "監理".into(),
            codes: vec![],
            kind: "tender".into(),
            category: "works".into(),
            region: Some("320303".into()),
            status: "open".into(),
            published_at: DateTime::from_timestamp_millis(0).unwrap_or_default(),
            deadline: None,
            sections: Sections::new(),
        });
        assert_eq!(d.regions, ["32", "3203", "320303"]);
        assert_eq!(d.province.as_deref(), Some("32"));
        assert_eq!((d.title_s.as_str(), d.body_s.as_str()), ("医院", "监理"));
        assert_eq!(d.title, "醫院");
    }
}

//! Keeping a search index in step with the feed. What an entry does to the index is decided by
//! one pure function, [`effects`], used both live ([`SearchIndexer`]) and when rebuilding from the
//! feed store ([`crate::reindex`]), so the two cannot disagree.

use crate::Indexer;
use gongshi_platform::Envelope;
use gongshi_platform::search::{SearchDoc, SearchIndex, SearchQuery};
use std::sync::Arc;

/// One change to the index.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Add or replace a notice.
    Upsert(SearchDoc),
    /// Change an indexed notice's status.
    SetStatus {
        /// Notice id.
        id: String,
        /// New status.
        status: &'static str,
    },
}

/// A notice of the entry's procedure as the index holds it: id and status.
pub type Indexed = (String, String);

/// The search document of a `notice.published` payload, `None` when it lacks what an index needs.
pub fn notice_doc(payload: &serde_json::Value) -> Option<SearchDoc> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let table = gongshi_domain::Schemas::embedded().table(payload["table"].as_str()?)?;
    let record = &payload["record"];
    let body = table
        .body_field
        .as_deref()
        .and_then(|f| text(&record[f]))
        .unwrap_or_default();
    let procedure = &payload["procedure"];
    let mut codes = vec![
        format!(
            "{}/{}/{}",
            procedure["platform"].as_str()?,
            procedure["project"].as_str()?,
            procedure["section"].as_str()?
        ),
        procedure["project"].as_str()?.to_owned(),
    ];
    for p in payload["procedures"].as_array().into_iter().flatten() {
        if let Some(section) = p["section"].as_str() {
            codes.push(section.to_owned());
        }
    }
    let kind = payload["kind"].as_str()?.to_owned();
    let instant = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    Some(SearchDoc {
        id: payload["notice_id"].as_str()?.to_owned(),
        title: payload["title"].as_str().unwrap_or_default().to_owned(),
        body,
        codes,
        status: gongshi_platform::feed_filter::published_status(&kind).to_owned(),
        kind,
        category: payload["regime"].as_str().unwrap_or_default().to_owned(),
        region: text(&payload["region"]),
        published_at: instant(&payload["published_at"])?,
        deadline: instant(&payload["windows"]["bid"]["end"]),
    })
}

/// What `entry` does to the index. `procedure` gives the procedure's notices as indexed now; it is
/// called only for the entries that need it (an award, a termination, a closed window).
pub fn effects(
    entry: &Envelope,
    procedure: &mut dyn FnMut() -> anyhow::Result<Vec<Indexed>>,
) -> anyhow::Result<Vec<Effect>> {
    let payload = &entry.payload;
    match entry.event_type.as_str() {
        "notice.published" => {
            let Some(doc) = notice_doc(payload) else {
                tracing::warn!(event = %entry.id, message = "published event without indexable fields");
                return Ok(Vec::new());
            };
            // An award or termination settles every notice of its procedure.
            let settles = match doc.kind.as_str() {
                "award" => Some("awarded"),
                "termination" => Some("terminated"),
                _ => None,
            };
            let own_id = doc.id.clone();
            let mut out = vec![Effect::Upsert(doc)];
            if let Some(status) = settles {
                out.extend(
                    procedure()?
                        .into_iter()
                        .filter(|(id, current)| *id != own_id && current != status)
                        .map(|(id, _)| Effect::SetStatus { id, status }),
                );
            }
            Ok(out)
        }
        "window.closed" => {
            let window = payload["window"].as_str().unwrap_or_default();
            let Some(id) = payload["notice_id"].as_str() else {
                return Ok(Vec::new());
            };
            if !matches!(window, "bid" | "publicity") {
                return Ok(Vec::new());
            }
            // A later award or termination has already set the final status.
            let open = procedure()?.into_iter().any(|(indexed, status)| {
                indexed == id && !matches!(status.as_str(), "awarded" | "terminated" | "closed")
            });
            Ok(if open {
                vec![Effect::SetStatus {
                    id: id.to_owned(),
                    status: "closed",
                }]
            } else {
                Vec::new()
            })
        }
        _ => Ok(Vec::new()),
    }
}

/// Keeps a search index in step with the feed: published notices are upserted, and status
/// changes (a window closed, an award or termination published) update the procedure's notices.
#[derive(Debug, Clone)]
pub struct SearchIndexer {
    /// The index.
    pub index: Arc<dyn SearchIndex>,
}

impl SearchIndexer {
    /// The procedure's notices as the index holds them (found by the procedure key, which every
    /// notice carries among its codes).
    fn procedure(&self, procedure_key: &str) -> anyhow::Result<Vec<Indexed>> {
        let q = SearchQuery {
            q: Some(procedure_key.to_owned()),
            page: 1,
            per_page: 100,
            ..Default::default()
        };
        Ok(self
            .index
            .search(&q)?
            .hits
            .into_iter()
            .map(|h| (h.id, h.status))
            .collect())
    }
}

impl Indexer for SearchIndexer {
    fn apply(&self, entry: &Envelope) -> anyhow::Result<()> {
        for effect in effects(entry, &mut || self.procedure(&entry.key))? {
            match effect {
                Effect::Upsert(doc) => self.index.upsert(&doc)?,
                Effect::SetStatus { id, status } => self.index.set_status(&id, status)?,
            }
        }
        Ok(())
    }
}

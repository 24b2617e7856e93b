//! Keeping a search index in step with the feed. What an entry does to the index is decided by
//! one pure function, [`effects`], used both live ([`SearchIndexer`]) and when rebuilding from the
//! feed store ([`crate::reindex`]), so the two cannot disagree.

use crate::Indexer;
use gongshi_domain::events::{NoticePublished, PublicEvent};
use gongshi_domain::lifecycle::Status;
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

/// The search document of a published notice.
pub fn notice_doc(notice: &NoticePublished) -> SearchDoc {
    SearchDoc::from(&notice.facts())
}

/// What `event` does to the index. `procedure` gives the procedure's notices as indexed now; it
/// is called only for the events that need it (an award, a termination, a closed window).
pub fn effects(
    event: &PublicEvent,
    procedure: &mut dyn FnMut() -> anyhow::Result<Vec<Indexed>>,
) -> anyhow::Result<Vec<Effect>> {
    match event {
        PublicEvent::Published(notice) => {
            let doc = notice_doc(notice);
            let own_id = doc.id.clone();
            let mut out = vec![Effect::Upsert(doc)];
            // An award or termination settles every notice of its procedure.
            if let Some(status) = Status::settled_by(notice.kind) {
                let status = status.as_str();
                out.extend(
                    procedure()?
                        .into_iter()
                        .filter(|(id, current)| *id != own_id && current != status)
                        .map(|(id, _)| Effect::SetStatus { id, status }),
                );
            }
            Ok(out)
        }
        PublicEvent::WindowClosed(window) => {
            let Some(status) = window.status() else {
                return Ok(Vec::new());
            };
            // A later award or termination (or an earlier closing) has already set the status.
            let open = procedure()?.into_iter().any(|(indexed, current)| {
                indexed == window.notice_id && Status::parse(&current).is_none_or(Status::may_close)
            });
            Ok(if open {
                vec![Effect::SetStatus {
                    id: window.notice_id.clone(),
                    status: status.as_str(),
                }]
            } else {
                Vec::new()
            })
        }
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
    fn apply(&self, event: &PublicEvent) -> anyhow::Result<()> {
        for effect in effects(event, &mut || self.procedure(&event.key()))? {
            match effect {
                Effect::Upsert(doc) => self.index.upsert(&doc)?,
                Effect::SetStatus { id, status } => self.index.set_status(&id, status)?,
            }
        }
        Ok(())
    }
}

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
            // The window closes its stage: the notice that set the window in force, and the
            // notices of the procedure it held open with it (the tender an amendment moved the
            // deadline of, a re-sent version). A later award or termination (or an earlier
            // closing) has already set theirs, and nothing reopens them.
            let held = Status::held_by(&window.window);
            Ok(procedure()?
                .into_iter()
                .filter(|(id, current)| {
                    let current = Status::parse(current);
                    if *id == window.notice_id {
                        current.is_none_or(Status::may_close)
                    } else {
                        current.is_some() && current == held
                    }
                })
                .map(|(id, _)| Effect::SetStatus {
                    id,
                    status: status.as_str(),
                })
                .collect())
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
        self.apply_batch(std::slice::from_ref(event))
    }

    /// The batch's effects, folded into one set of changes for one commit. An event sees the
    /// index as the events before it in the batch left it: a procedure's notices are the
    /// committed ones overlaid with the batch's own documents and status changes.
    fn apply_batch(&self, events: &[PublicEvent]) -> anyhow::Result<()> {
        let mut batch = Pending::default();
        for event in events {
            let key = event.key();
            let mut procedure = || {
                let committed = self.procedure(&key)?;
                Ok(batch.overlay(&key, committed))
            };
            for effect in effects(event, &mut procedure)? {
                match effect {
                    Effect::Upsert(doc) => batch.upsert(&key, doc),
                    Effect::SetStatus { id, status } => batch.set_status(id, status),
                }
            }
        }
        self.index.apply_changes(&batch.docs, &batch.statuses)
    }
}

/// A batch's changes not yet committed to the index: whole documents (added or replaced by the
/// batch, their status changes applied to them) and status changes of committed documents.
#[derive(Debug, Default)]
struct Pending {
    /// Documents to add or replace, in the order first touched.
    docs: Vec<SearchDoc>,
    /// The procedure key each of `docs` was added under.
    doc_keys: Vec<String>,
    /// Status changes of documents the batch did not add: (id, status), last one wins.
    statuses: Vec<(String, String)>,
}

impl Pending {
    fn upsert(&mut self, key: &str, doc: SearchDoc) {
        // A status set earlier in the batch on a committed copy is superseded by the new document.
        self.statuses.retain(|(id, _)| *id != doc.id);
        match self.docs.iter().position(|d| d.id == doc.id) {
            Some(i) => self.docs[i] = doc,
            None => {
                self.docs.push(doc);
                self.doc_keys.push(key.to_owned());
            }
        }
    }

    fn set_status(&mut self, id: String, status: &str) {
        if let Some(doc) = self.docs.iter_mut().find(|d| d.id == id) {
            status.clone_into(&mut doc.status);
        } else if let Some(i) = self.statuses.iter().position(|(known, _)| *known == id) {
            status.clone_into(&mut self.statuses[i].1);
        } else {
            self.statuses.push((id, status.to_owned()));
        }
    }

    /// The procedure `key`'s notices as the batch leaves them: `committed` with this batch's
    /// statuses, plus the notices the batch added to the procedure.
    fn overlay(&self, key: &str, committed: Vec<Indexed>) -> Vec<Indexed> {
        let mut out = committed;
        for (id, status) in &mut out {
            if let Some(doc) = self.docs.iter().find(|d| d.id == *id) {
                status.clone_from(&doc.status);
            } else if let Some((_, s)) = self.statuses.iter().find(|(known, _)| known == id) {
                status.clone_from(s);
            }
        }
        for (doc, doc_key) in self.docs.iter().zip(&self.doc_keys) {
            if doc_key == key && !out.iter().any(|(id, _)| *id == doc.id) {
                out.push((doc.id.clone(), doc.status.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gongshi_platform::search::{SearchIndex, TantivyIndex};
    use serde_json::json;

    /// A `notice.published` of `kind` in procedure JSGGZY/`project`/`project`001.
    fn published(id: &str, kind: &str, project: &str) -> PublicEvent {
        let procedure =
            json!({"platform": "JSGGZY", "project": project, "section": format!("{project}001")});
        let payload = json!({
            "notice_id": id, "table": "TENDER_ANN_QUA_INQUERY_ANN", "kind": kind,
            "regime": "works", "region": "320300", "title": format!("{kind} {id}"), "sent_at": null,
            "published_at": "2025-03-03T01:00:00Z", "procedure": procedure,
            "procedures": [procedure], "record": {}, "windows": {}, "warnings": [],
        });
        PublicEvent::from_payload(id, "notice.published", &payload).expect("a published payload")
    }

    fn closed(id: &str, window: &str, project: &str) -> PublicEvent {
        let payload = json!({
            "notice_id": id, "window": window,
            "start": "2025-03-03T09:00:00+08:00", "end": "2025-03-24T09:00:00+08:00",
            "procedure": format!("JSGGZY/{project}/{project}001"), "title": "",
            "closed_at": "2025-03-24T01:00:00Z",
        });
        PublicEvent::from_payload(id, "window.closed", &payload).expect("a window payload")
    }

    /// Every indexed notice as (id, status), sorted.
    fn statuses(index: &dyn SearchIndex) -> Vec<(String, String)> {
        let q = SearchQuery {
            page: 1,
            per_page: 100,
            ..Default::default()
        };
        let mut all: Vec<_> = index
            .search(&q)
            .expect("search")
            .hits
            .into_iter()
            .map(|h| (h.id, h.status))
            .collect();
        all.sort();
        all
    }

    /// Two procedures: A is tendered, its bid window closes, candidates and the award follow
    /// (a late window closing of the tender must not reopen it); B is tendered and terminated.
    fn history() -> Vec<PublicEvent> {
        vec![
            published("a1", "tender", "A"),
            published("b1", "tender", "B"),
            closed("a1", "bid", "A"),
            published("a2", "candidates", "A"),
            closed("a2", "publicity", "A"),
            published("a3", "award", "A"),
            closed("a1", "bid", "A"),
            published("b2", "termination", "B"),
        ]
    }

    #[test]
    fn the_deadline_in_force_closes_the_tender_with_its_amendment_but_not_the_candidates() {
        let index = indexer();
        for e in [
            published("c1", "tender", "C"),
            published("c2", "amendment", "C"),
            published("c3", "candidates", "C"),
            published("d1", "tender", "D"),
        ] {
            index.apply(&e).expect("apply");
        }
        // The amendment moved the bid deadline: its window is the one that closes.
        index.apply(&closed("c2", "bid", "C")).expect("apply");
        assert_eq!(
            statuses(index.index.as_ref()),
            [
                ("c1", "closed"),
                ("c2", "closed"),
                ("c3", "publicity"),
                ("d1", "open"),
            ]
            .map(|(id, s)| (id.to_owned(), s.to_owned()))
        );
    }

    fn indexer() -> SearchIndexer {
        SearchIndexer {
            index: Arc::new(TantivyIndex::in_memory().expect("an in-memory index")),
        }
    }

    #[test]
    fn a_batch_leaves_the_index_as_its_events_one_at_a_time_do() {
        let events = history();
        let one_at_a_time = indexer();
        for e in &events {
            one_at_a_time.apply(e).expect("apply");
        }
        let expected = statuses(one_at_a_time.index.as_ref());
        assert_eq!(
            expected,
            [
                ("a1", "awarded"),
                ("a2", "awarded"),
                ("a3", "awarded"),
                ("b1", "terminated"),
                ("b2", "terminated"),
            ]
            .map(|(id, s)| (id.to_owned(), s.to_owned())),
            "the history settles both procedures"
        );
        // Every way of cutting the history into batches of one size: a batch must see what the
        // batches before it committed and what its own earlier events did.
        for size in 2..=events.len() {
            let batched = indexer();
            for batch in events.chunks(size) {
                batched.apply_batch(batch).expect("apply a batch");
            }
            assert_eq!(
                statuses(batched.index.as_ref()),
                expected,
                "batches of {size}"
            );
        }
    }
}

//! Keeping a search index in step with the feed. What an entry does to the index is decided by
//! one pure function, [`effects`], used both live ([`SearchIndexer`]) and when rebuilding from the
//! feed store ([`crate::reindex`]), so the two cannot disagree.

use crate::Indexer;
use chrono::{DateTime, Utc};
use gongshi_domain::Kind;
use gongshi_domain::diff::stage_of;
use gongshi_domain::events::{NoticePublished, PublicEvent};
use gongshi_domain::lifecycle::Status;
use gongshi_platform::search::{SearchDoc, SearchIndex, Sections, StatusChange};
use std::collections::HashSet;
use std::sync::Arc;

/// One change to the index.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Add or replace a notice.
    Upsert(SearchDoc),
    /// Change an indexed notice's status (and its sections').
    SetStatus(StatusChange),
}

/// A notice of the entry's procedure as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed {
    /// Notice id.
    pub id: String,
    /// Its kind (tender, amendment, candidates, award, termination).
    pub kind: String,
    /// Its status.
    pub status: String,
    /// Its status in each section's procedure, when it has several sections.
    pub sections: Sections,
    /// Its deadline as indexed.
    pub deadline: Option<DateTime<Utc>>,
}

impl Indexed {
    /// A change of its status in procedure `key` by `rule` (which gives the new status of the
    /// current one, `None` for no change). A notice of one procedure (no sections) changes whole;
    /// a notice of several changes in `key` only, and then stands where its most open section
    /// does ([`Status::most_open`]). Returns whether it changed.
    fn change(&mut self, key: &str, rule: impl Fn(Option<Status>) -> Option<Status>) -> bool {
        if self.sections.is_empty() {
            let Some(to) = rule(Status::parse(&self.status)) else {
                return false;
            };
            to.as_str().clone_into(&mut self.status);
            return true;
        }
        // A notice found by a procedure it does not list (its text named the key) keeps its
        // sections as they are.
        let Some(section) = self.sections.get_mut(key) else {
            return false;
        };
        let Some(to) = rule(Status::parse(section)) else {
            return false;
        };
        to.as_str().clone_into(section);
        if let Some(most_open) =
            Status::most_open(self.sections.values().filter_map(|s| Status::parse(s)))
        {
            most_open.as_str().clone_into(&mut self.status);
        }
        true
    }
}

/// The search document of a published notice: for a notice of several sections, its status in
/// each as publication left it ([`NoticePublished::status_in`]).
pub fn notice_doc(notice: &NoticePublished) -> SearchDoc {
    let mut doc = SearchDoc::from(&notice.facts());
    let sections: Sections = notice
        .procedures
        .iter()
        .map(|p| {
            let key = p.to_string();
            let status = notice.status_in(&key).as_str().to_owned();
            (key, status)
        })
        .collect();
    if sections.len() > 1 {
        doc.sections = sections;
    }
    doc
}

/// The procedures an indexed document is found under: its sections', or `key` (the procedure
/// of the entry that added it) for a notice of one procedure.
pub fn procedures_of(doc: &SearchDoc, key: &str) -> Vec<String> {
    if doc.sections.is_empty() {
        vec![key.to_owned()]
    } else {
        doc.sections.keys().cloned().collect()
    }
}

/// The status changes of one entry, each notice changed once however many of its procedures
/// the entry touches.
#[derive(Debug, Default)]
struct Changes {
    notices: Vec<Indexed>,
    /// The notices whose deadline the entry moved.
    moved: HashSet<String>,
}

impl Changes {
    /// Changes `notice` (or its copy already changed by this entry) in procedure `key`.
    fn change(
        &mut self,
        notice: Indexed,
        key: &str,
        rule: impl Fn(Option<Status>) -> Option<Status>,
    ) {
        match self.notices.iter_mut().find(|n| n.id == notice.id) {
            Some(known) => {
                known.change(key, rule);
            }
            None => {
                let mut notice = notice;
                if notice.change(key, rule) {
                    self.notices.push(notice);
                }
            }
        }
    }

    /// Moves the deadline of `notice` (or of its copy already changed by this entry) to
    /// `deadline`.
    fn move_deadline(&mut self, notice: Indexed, deadline: DateTime<Utc>) {
        match self.notices.iter_mut().find(|n| n.id == notice.id) {
            Some(known) if known.deadline != Some(deadline) => {
                known.deadline = Some(deadline);
                self.moved.insert(known.id.clone());
            }
            Some(_) => {}
            None if notice.deadline != Some(deadline) => {
                self.moved.insert(notice.id.clone());
                self.notices.push(Indexed {
                    deadline: Some(deadline),
                    ..notice
                });
            }
            None => {}
        }
    }

    fn effects(self) -> impl Iterator<Item = Effect> {
        let moved = self.moved;
        self.notices.into_iter().map(move |n| {
            Effect::SetStatus(StatusChange {
                deadline: n.deadline.filter(|_| moved.contains(&n.id)),
                id: n.id,
                status: n.status,
                sections: n.sections,
            })
        })
    }
}

/// What `event` does to the index. `procedure` gives a procedure's notices as indexed now, by
/// procedure key; it is called only for the events that need it (an award, a termination, a
/// closed window), once for each procedure the event touches.
pub fn effects(
    event: &PublicEvent,
    procedure: &mut dyn FnMut(&str) -> anyhow::Result<Vec<Indexed>>,
) -> anyhow::Result<Vec<Effect>> {
    let mut changes = Changes::default();
    match event {
        PublicEvent::Published(notice) => {
            let doc = notice_doc(notice);
            // An award or termination settles every notice of each of its procedures (in that
            // section: a tender of two sections whose first is terminated stays open).
            // An award or termination notice keeps its own status, as the API says
            // (`Status::at`): a termination after an award does not make the award terminated.
            let kind: Kind = notice.kind;
            let is_settling =
                |n: &Indexed| Kind::parse(&n.kind).is_some_and(|k| Status::settled_by(k).is_some());
            if Status::settled_by(kind).is_some() {
                for key in procedures_of(&doc, &event.key()) {
                    for n in procedure(&key)? {
                        if n.id != doc.id && !is_settling(&n) {
                            changes.change(n, &key, |current| match current {
                                Some(current) => current.settled(kind),
                                None => Status::settled_by(kind),
                            });
                        }
                    }
                }
            }
            // Candidates close the tender stage in their sections: no more bids once they are
            // out, whatever deadline a late amendment set (`Status::at`'s later stage).
            if kind == Kind::Candidates {
                for key in procedures_of(&doc, &event.key()) {
                    for n in procedure(&key)? {
                        let earlier =
                            Kind::parse(&n.kind).is_some_and(|k| stage_of(k) == Kind::Tender);
                        if earlier {
                            changes.change(n, &key, |current| {
                                (current == Some(Status::Open)).then_some(Status::Closed)
                            });
                        }
                    }
                }
            }
            // A window of its stage that still runs when it is published reopens the notices of
            // the stage that an earlier closing of that window closed: an amendment postponing a
            // deadline that had passed by the time it reached gongshi (sent before it, received
            // after), or a tender re-sent with a later deadline after the old one closed it. The
            // API and the pages count from the window in force alike (`Status::at`), and the
            // window's own closing closes them again. Only where the notice itself is held by
            // it: not in a section already settled or past this stage. Only the tender stage
            // looks (its notices move deadlines), at the cost of one exact lookup by procedure
            // key (`SearchIndex::with_code`) per notice whose window runs.
            let stage = stage_of(kind);
            let reopening = if stage == Kind::Tender {
                notice.windows.iter().collect()
            } else {
                Vec::new()
            };
            for (name, window) in reopening {
                let Some(held) = Status::held_by(name) else {
                    continue;
                };
                if window.end.with_timezone(&chrono::Utc) <= notice.published_at {
                    continue;
                }
                for key in procedures_of(&doc, &event.key()) {
                    if notice.status_in(&key) != held {
                        continue;
                    }
                    for n in procedure(&key)? {
                        let same_stage = Kind::parse(&n.kind).is_some_and(|k| stage_of(k) == stage);
                        if n.id != doc.id && same_stage {
                            changes.change(n, &key, |current| {
                                (current == Some(Status::Closed)).then_some(held)
                            });
                        }
                    }
                }
            }
            // The bid deadline in force that a notice of the tender stage carries (its own, an
            // amendment's postponement, a re-sent version's new one) is the deadline of the
            // stage's tender notices too: search sorts and shows them by it, as `next_deadline`
            // and the pages do. Only a tender whose every section the notice names: a tender of
            // two sections whose amendment moved one keeps its own deadline, still in force for
            // the other. Amendments keep the deadline each states.
            if let Some(bid) = notice.windows.get("bid").filter(|_| stage == Kind::Tender) {
                let deadline = bid.end.with_timezone(&chrono::Utc);
                let keys = procedures_of(&doc, &event.key());
                for key in &keys {
                    for n in procedure(key)? {
                        let covered =
                            n.sections.is_empty() || n.sections.keys().all(|k| keys.contains(k));
                        if n.id != doc.id && n.kind == Kind::Tender.as_str() && covered {
                            changes.move_deadline(n, deadline);
                        }
                    }
                }
            }
            Ok(std::iter::once(Effect::Upsert(doc))
                .chain(changes.effects())
                .collect())
        }
        PublicEvent::WindowClosed(window) => {
            let Some(to) = window.status() else {
                return Ok(Vec::new());
            };
            // The window closes its stage, in each procedure where it was in force: the notice
            // that set the window, and the notices of the procedure it held open with it (the
            // tender an amendment moved the deadline of, a re-sent version). A later award or
            // termination (or an earlier closing) has already set theirs, and nothing reopens
            // them.
            let held = Status::held_by(&window.window);
            for key in window.closes_in() {
                for n in procedure(key)? {
                    let own = n.id == window.notice_id;
                    changes.change(n, key, |current| {
                        let closes = if own {
                            current.is_none_or(Status::may_close)
                        } else {
                            current.is_some() && current == held
                        };
                        closes.then_some(to)
                    });
                }
            }
            Ok(changes.effects().collect())
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
        Ok(self
            .index
            .with_code(procedure_key, 100)?
            .into_iter()
            .map(|h| Indexed {
                id: h.id,
                kind: h.kind,
                status: h.status,
                sections: h.sections,
                deadline: h.deadline,
            })
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
            let mut procedure = |key: &str| {
                let committed = self.procedure(key)?;
                Ok(batch.overlay(key, committed))
            };
            for effect in effects(event, &mut procedure)? {
                match effect {
                    Effect::Upsert(doc) => batch.upsert(&event.key(), doc),
                    Effect::SetStatus(change) => batch.set_status(change),
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
    /// The procedures each of `docs` is found under ([`procedures_of`]).
    doc_keys: Vec<Vec<String>>,
    /// Status changes of documents the batch did not add, last one wins.
    statuses: Vec<StatusChange>,
}

impl Pending {
    fn upsert(&mut self, key: &str, doc: SearchDoc) {
        // A status set earlier in the batch on a committed copy is superseded by the new document.
        self.statuses.retain(|c| c.id != doc.id);
        let keys = procedures_of(&doc, key);
        match self.docs.iter().position(|d| d.id == doc.id) {
            Some(i) => {
                self.docs[i] = doc;
                self.doc_keys[i] = keys;
            }
            None => {
                self.docs.push(doc);
                self.doc_keys.push(keys);
            }
        }
    }

    fn set_status(&mut self, change: StatusChange) {
        if let Some(doc) = self.docs.iter_mut().find(|d| d.id == change.id) {
            doc.status = change.status;
            doc.sections = change.sections;
            doc.deadline = change.deadline.or(doc.deadline);
        } else if let Some(known) = self.statuses.iter_mut().find(|c| c.id == change.id) {
            *known = StatusChange {
                deadline: change.deadline.or(known.deadline),
                ..change
            };
        } else {
            self.statuses.push(change);
        }
    }

    /// The procedure `key`'s notices as the batch leaves them: `committed` with this batch's
    /// statuses, plus the notices the batch added to the procedure.
    fn overlay(&self, key: &str, committed: Vec<Indexed>) -> Vec<Indexed> {
        let mut out = committed;
        for n in &mut out {
            if let Some(doc) = self.docs.iter().find(|d| d.id == n.id) {
                n.status.clone_from(&doc.status);
                n.sections.clone_from(&doc.sections);
                n.deadline = doc.deadline;
            } else if let Some(c) = self.statuses.iter().find(|c| c.id == n.id) {
                n.status.clone_from(&c.status);
                n.sections.clone_from(&c.sections);
                n.deadline = c.deadline.or(n.deadline);
            }
        }
        for (doc, keys) in self.docs.iter().zip(&self.doc_keys) {
            if keys.iter().any(|k| k == key) && !out.iter().any(|n| n.id == doc.id) {
                out.push(Indexed {
                    id: doc.id.clone(),
                    kind: doc.kind.clone(),
                    status: doc.status.clone(),
                    sections: doc.sections.clone(),
                    deadline: doc.deadline,
                });
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gongshi_platform::search::{SearchIndex, SearchQuery, TantivyIndex};
    use serde_json::json;

    /// A `notice.published` of `kind` in procedure JSGGZY/`project`/`project`001.
    fn published(id: &str, kind: &str, project: &str) -> PublicEvent {
        published_in(id, kind, project, &["001"])
    }

    /// A `notice.published` of `kind` for `sections` of `project` (JSGGZY/`project`/`project`NNN).
    fn published_in(id: &str, kind: &str, project: &str, sections: &[&str]) -> PublicEvent {
        let procedures: Vec<_> = sections
            .iter()
            .map(|s| json!({"platform": "JSGGZY", "project": project, "section": format!("{project}{s}")}))
            .collect();
        let payload = json!({
            "notice_id": id, "table": "TENDER_ANN_QUA_INQUERY_ANN", "kind": kind,
            "regime": "works", "region": "320300", "title": format!("{kind} {id}"), "sent_at": null,
            "published_at": "2025-03-03T01:00:00Z", "procedure": procedures[0],
            "procedures": procedures, "record": {}, "windows": {}, "warnings": [],
        });
        PublicEvent::from_payload(id, "notice.published", &payload).expect("a published payload")
    }

    /// A `notice.published` of `kind` in JSGGZY/`project`/`project`001, published at
    /// `published_at` with a `window` that ends at `end`.
    fn published_with_window(
        id: &str,
        kind: &str,
        project: &str,
        published_at: &str,
        (window, end): (&str, &str),
    ) -> PublicEvent {
        let PublicEvent::Published(notice) = published(id, kind, project) else {
            unreachable!("published() builds a notice.published")
        };
        let mut payload = serde_json::to_value(&*notice).expect("a payload");
        payload["published_at"] = json!(published_at);
        payload["windows"] = json!({window: {"start": "2025-03-03T09:00:00+08:00", "end": end}});
        PublicEvent::from_payload(id, "notice.published", &payload).expect("a published payload")
    }

    #[test]
    fn a_postponement_received_after_the_old_deadline_reopens_the_tender_until_the_new_one() {
        let index = indexer();
        for e in [
            published("t", "tender", "P"),
            published("c", "candidates", "Q"),
            closed("t", "bid", "P"),
            closed("c", "publicity", "Q"),
            // Sent before 03-25, received after it: bids close on 04-01 now.
            published_with_window(
                "a",
                "amendment",
                "P",
                "2025-03-26T01:00:00Z",
                ("bid", "2025-04-01T09:30:00+08:00"),
            ),
        ] {
            index.apply(&e).expect("apply");
        }
        assert_eq!(
            statuses(index.index.as_ref()),
            pairs(&[("a", "open"), ("c", "closed"), ("t", "open")])
        );
        // A notice published after its window ended reopens nothing; another stage's window
        // does not reopen the tender, and candidates close the tender stage (a2, still open by
        // its own deadline: no more bids once the candidates are out).
        for e in [
            closed("a", "bid", "P"),
            published_with_window(
                "a2",
                "amendment",
                "P",
                "2025-04-02T01:00:00Z",
                ("bid", "2025-04-01T09:30:00+08:00"),
            ),
            published_with_window(
                "c2",
                "candidates",
                "P",
                "2025-04-02T01:00:00Z",
                ("publicity", "2025-04-08T09:30:00+08:00"),
            ),
        ] {
            index.apply(&e).expect("apply");
        }
        assert_eq!(
            statuses(index.index.as_ref()),
            pairs(&[
                ("a", "closed"),
                ("a2", "closed"),
                ("c", "closed"),
                ("c2", "publicity"),
                ("t", "closed"),
            ])
        );
    }

    /// The closing of notice `id`'s `window`, as events from before `procedures` was carried
    /// had it: in JSGGZY/`project`/`project`001 only.
    fn closed(id: &str, window: &str, project: &str) -> PublicEvent {
        let payload = json!({
            "notice_id": id, "window": window,
            "start": "2025-03-03T09:00:00+08:00", "end": "2025-03-24T09:00:00+08:00",
            "procedure": format!("JSGGZY/{project}/{project}001"), "title": "",
            "closed_at": "2025-03-24T01:00:00Z",
        });
        PublicEvent::from_payload(id, "window.closed", &payload).expect("a window payload")
    }

    /// The closing of notice `id`'s `window` in `sections` of `project`, where it was in force.
    fn closed_in(id: &str, window: &str, project: &str, sections: &[&str]) -> PublicEvent {
        let procedures: Vec<String> = sections
            .iter()
            .map(|s| format!("JSGGZY/{project}/{project}{s}"))
            .collect();
        let payload = json!({
            "notice_id": id, "window": window,
            "start": "2025-03-03T09:00:00+08:00", "end": "2025-03-24T09:00:00+08:00",
            "procedure": procedures[0], "procedures": procedures, "title": "",
            "closed_at": "2025-03-24T01:00:00Z",
        });
        PublicEvent::from_payload(id, "window.closed", &payload).expect("a window payload")
    }

    /// Indexed notice `id`'s status and its sections' (section code → status), by search.
    pub(crate) fn sections_of(
        index: &dyn SearchIndex,
        id: &str,
    ) -> (String, Vec<(String, String)>) {
        let q = SearchQuery {
            page: 1,
            per_page: 100,
            ..Default::default()
        };
        let hit = index
            .search(&q)
            .expect("search")
            .hits
            .into_iter()
            .find(|h| h.id == id)
            .unwrap_or_else(|| panic!("{id} is indexed"));
        let sections = hit
            .sections
            .into_iter()
            .map(|(key, s)| (key.rsplit('/').next().unwrap_or_default().to_owned(), s))
            .collect();
        (hit.status, sections)
    }

    /// Indexed notice `id`'s deadline, by search.
    pub(crate) fn deadline_of(index: &dyn SearchIndex, id: &str) -> Option<DateTime<Utc>> {
        let q = SearchQuery {
            page: 1,
            per_page: 100,
            ..Default::default()
        };
        index
            .search(&q)
            .expect("search")
            .hits
            .into_iter()
            .find(|h| h.id == id)
            .unwrap_or_else(|| panic!("{id} is indexed"))
            .deadline
    }

    #[test]
    fn a_postponement_moves_the_deadline_search_sorts_its_tender_by() {
        use gongshi_platform::search::Sort;
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().expect("an instant"));
        let index = indexer();
        let with_bid = |event: PublicEvent, end: &str| {
            let PublicEvent::Published(notice) = event else {
                unreachable!("a notice.published")
            };
            let mut payload = serde_json::to_value(&*notice).expect("a payload");
            payload["windows"] = json!({"bid": {"start": "2025-03-03T09:00:00+08:00", "end": end}});
            PublicEvent::from_payload(&notice.notice_id, "notice.published", &payload)
                .expect("a published payload")
        };
        let bid = |id, kind, project, end| {
            published_with_window(id, kind, project, "2025-03-03T01:00:00Z", ("bid", end))
        };
        for e in [
            bid("t", "tender", "P", "2025-03-25T09:30:00+08:00"),
            bid("u", "tender", "U", "2025-03-28T09:30:00+08:00"),
            bid("a", "amendment", "P", "2025-04-01T09:30:00+08:00"),
            // A tender of two sections whose amendment moves one keeps its own deadline.
            with_bid(
                published_in("v", "tender", "V", &["001", "002"]),
                "2025-03-26T09:30:00+08:00",
            ),
            with_bid(
                published_in("w", "amendment", "V", &["001"]),
                "2025-04-05T09:30:00+08:00",
            ),
        ] {
            index.apply(&e).expect("apply");
        }
        let by_deadline = SearchQuery {
            kind: Some("tender".into()),
            sort: Sort::Deadline,
            page: 1,
            per_page: 10,
            ..Default::default()
        };
        let order: Vec<String> = index
            .index
            .search(&by_deadline)
            .expect("search")
            .hits
            .into_iter()
            .filter(|h| h.deadline.is_some())
            .map(|h| h.id)
            .collect();
        assert_eq!(order, ["v", "u", "t"]);
        assert_eq!(
            deadline_of(index.index.as_ref(), "v"),
            at("2025-03-26T01:30:00Z")
        );
        assert_eq!(
            deadline_of(index.index.as_ref(), "t"),
            at("2025-04-01T01:30:00Z")
        );
        assert_eq!(
            deadline_of(index.index.as_ref(), "a"),
            at("2025-04-01T01:30:00Z")
        );
        assert_eq!(
            deadline_of(index.index.as_ref(), "u"),
            at("2025-03-28T01:30:00Z")
        );
        // A later status change (the deadline closing) keeps the moved deadline.
        index.apply(&closed("a", "bid", "P")).expect("apply");
        assert_eq!(sections_of(index.index.as_ref(), "t").0, "closed");
        assert_eq!(
            deadline_of(index.index.as_ref(), "t"),
            at("2025-04-01T01:30:00Z")
        );
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn a_termination_of_one_section_leaves_a_tender_of_two_open_in_the_other() {
        let index = indexer();
        index
            .apply(&published_in("t", "tender", "P", &["001", "002"]))
            .expect("apply");
        index
            .apply(&published_in("x", "termination", "P", &["001"]))
            .expect("apply");
        assert_eq!(
            sections_of(index.index.as_ref(), "t"),
            (
                "open".to_owned(),
                pairs(&[("P001", "terminated"), ("P002", "open")])
            )
        );
        let open = SearchQuery {
            status: Some("open".into()),
            page: 1,
            per_page: 10,
            ..Default::default()
        };
        let found = index.index.search(&open).expect("search");
        assert_eq!(
            found.hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["t"]
        );
        // An award of the other section: a section awarded outranks one terminated.
        index
            .apply(&published_in("w", "award", "P", &["002"]))
            .expect("apply");
        assert_eq!(
            sections_of(index.index.as_ref(), "t"),
            (
                "awarded".to_owned(),
                pairs(&[("P001", "terminated"), ("P002", "awarded")])
            )
        );
        // A termination of both sections ends it; a later award of one does not undo that.
        index
            .apply(&published_in("y", "termination", "P", &["001", "002"]))
            .expect("apply");
        index
            .apply(&published_in("z", "award", "P", &["001"]))
            .expect("apply");
        assert_eq!(
            sections_of(index.index.as_ref(), "t"),
            (
                "terminated".to_owned(),
                pairs(&[("P001", "terminated"), ("P002", "terminated")])
            )
        );
        // An award notice stays the award it is, as the API says: a termination after it
        // settles the procedure's other notices.
        assert_eq!(sections_of(index.index.as_ref(), "w").0, "awarded");
        assert_eq!(sections_of(index.index.as_ref(), "x").0, "terminated");
    }

    #[test]
    fn a_deadline_moved_for_one_section_keeps_the_tender_open_until_the_new_one() {
        let index = indexer();
        for e in [
            published_in("t", "tender", "P", &["001", "002"]),
            published_in("a", "amendment", "P", &["001"]),
            // The tender's deadline, still in force for 002 only.
            closed_in("t", "bid", "P", &["002"]),
        ] {
            index.apply(&e).expect("apply");
        }
        assert_eq!(
            sections_of(index.index.as_ref(), "t"),
            (
                "open".to_owned(),
                pairs(&[("P001", "open"), ("P002", "closed")])
            )
        );
        assert_eq!(sections_of(index.index.as_ref(), "a").0, "open");
        // The amendment's deadline closes 001: the tender with it.
        index
            .apply(&closed_in("a", "bid", "P", &["001"]))
            .expect("apply");
        assert_eq!(
            sections_of(index.index.as_ref(), "t"),
            (
                "closed".to_owned(),
                pairs(&[("P001", "closed"), ("P002", "closed")])
            )
        );
        assert_eq!(sections_of(index.index.as_ref(), "a").0, "closed");
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

    /// Three procedures' histories, interleaved: A is tendered, its bid window closes,
    /// candidates and the award follow (a late window closing of the tender must not reopen it);
    /// B is tendered and terminated; C is tendered for two sections, 001's deadline is moved,
    /// 002 closes and is terminated, then 001 closes and is awarded; D's tender closes and a
    /// postponement received after its deadline reopens it.
    pub(crate) fn history() -> Vec<PublicEvent> {
        vec![
            published("a1", "tender", "A"),
            published_in("c1", "tender", "C", &["001", "002"]),
            published("b1", "tender", "B"),
            published_in("c2", "amendment", "C", &["001"]),
            closed("a1", "bid", "A"),
            closed_in("c1", "bid", "C", &["002"]),
            published("a2", "candidates", "A"),
            published_in("c3", "termination", "C", &["002"]),
            closed("a2", "publicity", "A"),
            published("a3", "award", "A"),
            closed_in("c2", "bid", "C", &["001"]),
            closed("a1", "bid", "A"),
            published("d1", "tender", "D"),
            published("b2", "termination", "B"),
            closed("d1", "bid", "D"),
            published_in("c4", "award", "C", &["001"]),
            published_with_window(
                "d2",
                "amendment",
                "D",
                "2025-03-26T01:00:00Z",
                ("bid", "2025-04-01T09:30:00+08:00"),
            ),
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

    pub(crate) fn indexer() -> SearchIndexer {
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
                ("c1", "awarded"),
                ("c2", "awarded"),
                ("c3", "terminated"),
                ("c4", "awarded"),
                ("d1", "open"),
                ("d2", "open"),
            ]
            .map(|(id, s)| (id.to_owned(), s.to_owned())),
            "the history settles every procedure"
        );
        // Every way of cutting the history into batches of one size: a batch must see what the
        // batches before it committed and what its own earlier events did.
        let whole = |index: &dyn SearchIndex| {
            [
                "a1", "a2", "a3", "b1", "b2", "c1", "c2", "c3", "c4", "d1", "d2",
            ]
            .map(|id| (id, sections_of(index, id)))
        };
        let expected_whole = whole(one_at_a_time.index.as_ref());
        for size in 2..=events.len() {
            let batched = indexer();
            for batch in events.chunks(size) {
                batched.apply_batch(batch).expect("apply a batch");
            }
            assert_eq!(
                whole(batched.index.as_ref()),
                expected_whole,
                "batches of {size}"
            );
        }
    }
}

//! What the engine knows of one procedure: its accepted stages, in arrival order. Serialisable so
//! the enforcement service can keep it in PostgreSQL and hand it back.

use super::Window;
use crate::notice::{Notice, NoticeBody, ProcedureKey};
use crate::schema::Kind;
use crate::values::datetime::Instant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// Published.
    Published,
    /// Accepted, to be published at its hold instant.
    Held,
    /// Waiting for its parent stage.
    AwaitingParent,
    /// Failed an ERROR rule.
    Rejected,
    /// An objection or complaint, recorded (never published).
    Recorded,
}

/// One notice of the procedure, as the rules need it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    /// Notice id.
    pub notice_id: String,
    /// Stage kind.
    pub kind: Kind,
    /// Status.
    pub status: StageStatus,
    /// Region code of the notice.
    pub region: Option<String>,
    /// When it was (to be) published.
    pub sent_at: Option<Instant>,
    /// Version order.
    pub data_timestamp: Option<Instant>,
    /// Its computed windows.
    pub windows: BTreeMap<String, Window>,
    /// Typed fields.
    pub body: NoticeBody,
}

impl Stage {
    /// Counts for parent checks and derived facts: published or held (not parked or rejected).
    pub fn accepted(&self) -> bool {
        matches!(self.status, StageStatus::Published | StageStatus::Held)
    }
}

/// The known state of one procedure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcedureState {
    /// Its key.
    pub key: ProcedureKey,
    /// Its stages in arrival order.
    pub stages: Vec<Stage>,
}

impl ProcedureState {
    /// An empty procedure.
    pub fn new(key: ProcedureKey) -> Self {
        Self {
            key,
            stages: Vec::new(),
        }
    }

    /// Adds or replaces (same notice id) a stage.
    pub fn record(
        &mut self,
        notice: &Notice,
        status: StageStatus,
        windows: BTreeMap<String, Window>,
    ) {
        let stage = Stage {
            notice_id: notice.id.clone(),
            kind: notice.kind,
            status,
            region: notice.region.clone(),
            sent_at: notice.sent_at,
            data_timestamp: notice.data_timestamp,
            windows,
            body: notice.body.clone(),
        };
        match self.stages.iter_mut().find(|s| s.notice_id == notice.id) {
            Some(existing) => *existing = stage,
            None => self.stages.push(stage),
        }
    }

    fn accepted(&self, kind: Kind) -> impl Iterator<Item = &Stage> {
        self.stages
            .iter()
            .filter(move |s| s.kind == kind && s.accepted())
    }

    /// Whether an accepted stage of `kind` exists.
    pub fn has(&self, kind: Kind) -> bool {
        self.accepted(kind).next().is_some()
    }

    /// The region of the procedure (from its tender notice, else any stage that has one).
    pub fn region(&self) -> Option<&str> {
        self.accepted(Kind::Tender)
            .chain(self.stages.iter())
            .find_map(|s| s.region.as_deref())
    }

    /// The bid deadline in force: the tender notice's, moved by later amendments.
    pub fn bid_deadline(&self) -> Option<Instant> {
        let mut deadline = None;
        for s in self.stages.iter().filter(|s| s.accepted()) {
            match &s.body {
                NoticeBody::WorksTender(t) if t.bulletin_type == "1" => {
                    deadline = Some(t.bid_doc_refer_end_time)
                }
                NoticeBody::WorksAmendment(a) => {
                    if let Some(d) = a.bid_doc_refer_end_time {
                        deadline = Some(d);
                    }
                }
                NoticeBody::ProcurementTender(t) => deadline = Some(t.bid_closing_time),
                NoticeBody::ProcurementAmendment(a) if a.is_postpone == "1" => {
                    if let Some(d) = a.post_bid_closing_time {
                        deadline = Some(d);
                    }
                }
                _ => {}
            }
        }
        deadline
    }

    /// Whether window `window` of the published notice `notice_id` is the one in force: no notice
    /// of its stage (a tender with its re-sent versions and amendments, [`crate::diff::stage_of`])
    /// published after it sets a window of that name. A moved bid deadline or a re-sent notice
    /// replaces the window; the replaced one never closes anything. True for a notice this
    /// procedure does not know (nothing replaces what is not here).
    pub fn window_in_force(&self, notice_id: &str, window: &str) -> bool {
        let published = |s: &&Stage| s.status == StageStatus::Published;
        let Some(at) = self.stages.iter().position(|s| s.notice_id == notice_id) else {
            return true;
        };
        let stage = crate::diff::stage_of(self.stages[at].kind);
        !self.stages[at + 1..]
            .iter()
            .filter(published)
            .any(|s| crate::diff::stage_of(s.kind) == stage && s.windows.contains_key(window))
    }

    /// The objections and complaints of the procedure still open: recorded, and no recorded
    /// version of the same one (same `OBJECTIONG_GUID` / `COMPLAINT_DATE`) carries an answer.
    pub fn open_disputes(&self) -> Vec<crate::notice::Dispute> {
        let recorded: Vec<crate::notice::Dispute> = self
            .stages
            .iter()
            .filter(|s| s.status == StageStatus::Recorded)
            .filter_map(|s| s.body.dispute())
            .collect();
        let mut open: Vec<crate::notice::Dispute> = Vec::new();
        for d in &recorded {
            let answered = recorded
                .iter()
                .any(|other| other.key == d.key && other.answered_at.is_some());
            if !answered && !open.iter().any(|o| o.key == d.key) {
                open.push(d.clone());
            }
        }
        open
    }

    /// The latest accepted candidate publicity.
    pub fn candidates(&self) -> Option<&crate::notice::WorksCandidates> {
        self.accepted(Kind::Candidates)
            .filter_map(|s| match &s.body {
                NoticeBody::WorksCandidates(c) => Some(c),
                _ => None,
            })
            .last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::Disposal;
    use chrono::TimeZone as _;

    fn stage(id: &str, kind: Kind, status: StageStatus, windows: &[(&str, u32)]) -> Stage {
        let tz = crate::values::datetime::shanghai();
        Stage {
            notice_id: id.into(),
            kind,
            status,
            region: None,
            sent_at: None,
            data_timestamp: None,
            windows: windows
                .iter()
                .map(|(name, day)| {
                    let start = tz.with_ymd_and_hms(2025, 7, 1, 9, 0, 0).unwrap();
                    let end = tz.with_ymd_and_hms(2025, 7, *day, 9, 30, 0).unwrap();
                    ((*name).to_owned(), Window { start, end })
                })
                .collect(),
            body: NoticeBody::Disposal(Disposal {
                table: "LAND_TRANS_ANN".into(),
            }),
        }
    }

    fn procedure(stages: Vec<Stage>) -> ProcedureState {
        ProcedureState {
            key: ProcedureKey {
                platform: "JSGGZY".into(),
                project: "P".into(),
                section: "S".into(),
            },
            stages,
        }
    }

    #[test]
    fn an_amendment_moving_the_deadline_replaces_the_tender_s_bid_window_only() {
        use StageStatus::*;
        let p = procedure(vec![
            stage(
                "tender",
                Kind::Tender,
                Published,
                &[("documents", 8), ("bid", 22)],
            ),
            stage("amendment", Kind::Amendment, Published, &[("bid", 29)]),
            stage(
                "candidates",
                Kind::Candidates,
                Published,
                &[("publicity", 31)],
            ),
        ]);
        assert!(!p.window_in_force("tender", "bid"));
        assert!(p.window_in_force("tender", "documents"));
        assert!(p.window_in_force("amendment", "bid"));
        assert!(p.window_in_force("candidates", "publicity"));
        assert!(p.window_in_force("unknown", "bid"));
    }

    #[test]
    fn a_re_sent_notice_replaces_its_windows_once_published() {
        use StageStatus::*;
        let held = procedure(vec![
            stage("v1", Kind::Tender, Published, &[("bid", 22)]),
            stage("v2", Kind::Tender, Held, &[("bid", 25)]),
        ]);
        assert!(
            held.window_in_force("v1", "bid"),
            "a held version replaces nothing yet"
        );
        let published = procedure(vec![
            stage("v1", Kind::Tender, Published, &[("bid", 22)]),
            stage("v2", Kind::Tender, Published, &[("bid", 25)]),
            stage("award", Kind::Award, Published, &[("bid", 30)]),
        ]);
        assert!(!published.window_in_force("v1", "bid"));
        assert!(
            published.window_in_force("v2", "bid"),
            "another stage's window of the same name replaces nothing"
        );
    }
}

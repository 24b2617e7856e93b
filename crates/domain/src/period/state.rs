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

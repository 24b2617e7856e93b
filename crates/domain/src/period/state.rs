//! What the engine knows of one procedure: its accepted stages, in arrival order. Serialisable so
//! the enforcement service can keep it in PostgreSQL and hand it back.

use super::Window;
use super::in_force::{Setting, windows_in_force};
use crate::lifecycle::Status;
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

    /// The bid deadline in force: the tender notice's, moved by later amendments. A re-sent
    /// tender that restates its own earlier deadline leaves an amendment's in force, as
    /// [`super::in_force`] does with the bid window.
    pub fn bid_deadline(&self) -> Option<Instant> {
        let mut deadline = None;
        // The deadline each tender table last stated.
        let mut stated: BTreeMap<&str, Instant> = BTreeMap::new();
        for s in self.stages.iter().filter(|s| s.accepted()) {
            let (set, tender) = match &s.body {
                NoticeBody::WorksTender(t) if t.bulletin_type == "1" => {
                    (Some(t.bid_doc_refer_end_time), true)
                }
                NoticeBody::WorksAmendment(a) => (a.bid_doc_refer_end_time, false),
                NoticeBody::ProcurementTender(t) => (Some(t.bid_closing_time), true),
                NoticeBody::ProcurementAmendment(a) if a.is_postpone == "1" => {
                    (a.post_bid_closing_time, false)
                }
                _ => (None, false),
            };
            let Some(set) = set else { continue };
            let restated = tender && stated.insert(s.body.table(), set) == Some(set);
            if !restated {
                deadline = Some(set);
            }
        }
        deadline
    }

    /// The procedure's published notices, and `also` when it is not published yet, in arrival
    /// order as the windows-in-force rule reads them ([`super::in_force`]), with their stages.
    fn settings<'a>(&'a self, also: &str) -> (Vec<&'a Stage>, Vec<Setting<'a>>) {
        let stages: Vec<&Stage> = self
            .stages
            .iter()
            .filter(|s| s.status == StageStatus::Published || s.notice_id == also)
            .collect();
        let settings = stages
            .iter()
            .map(|s| Setting {
                table: s.body.table(),
                kind: s.kind,
                windows: &s.windows,
            })
            .collect();
        (stages, settings)
    }

    /// Whether window `window` of the notice `notice_id` is the one in force
    /// ([`super::in_force`]): no later notice of its stage (a tender with its re-sent versions
    /// and amendments, [`crate::diff::stage_of`]) replaced it. A moved bid deadline replaces the
    /// window, and so does a re-sent version unless it only restates its own earlier window; the
    /// replaced one never closes anything. True for a notice this procedure does not know, or a
    /// window it does not have (nothing replaces what is not here).
    pub fn window_in_force(&self, notice_id: &str, window: &str) -> bool {
        let (stages, settings) = self.settings(notice_id);
        let Some(index) = stages.iter().position(|s| s.notice_id == notice_id) else {
            return true;
        };
        windows_in_force(&settings)
            .of(index)
            .get(window)
            .is_none_or(|f| f.set_by == index)
    }

    /// The windows of published notice `notice_id` as they stand in force in this procedure
    /// ([`super::in_force`]): a re-send restating its deadline has the postponement's. `None`
    /// when it is not a published notice of the procedure.
    pub fn windows_of(&self, notice_id: &str) -> Option<BTreeMap<String, Window>> {
        let (stages, settings) = self.settings("");
        let index = stages.iter().position(|s| s.notice_id == notice_id)?;
        Some(
            windows_in_force(&settings)
                .of(index)
                .into_iter()
                .map(|(name, f)| (name, f.window))
                .collect(),
        )
    }

    /// Where published notice `notice_id` stands in this procedure at `at` ([`Status::at`]):
    /// its windows as they stand in force ([`Self::windows_of`]), among the procedure's published
    /// notices. `None` when it is not a published notice of the procedure.
    pub fn status_of(&self, notice_id: &str, at: chrono::DateTime<chrono::Utc>) -> Option<Status> {
        self.standing_of(notice_id, at).map(|(status, _)| status)
    }

    /// [`Self::status_of`] with the windows it stands by ([`Self::windows_of`]), folded once:
    /// what a publication says of its notice.
    pub fn standing_of(
        &self,
        notice_id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<(Status, BTreeMap<String, Window>)> {
        let windows = self.windows_of(notice_id)?;
        // Only its round counts (a re-tender after a termination is not terminated by it).
        let round = self.round_of(notice_id)?;
        let own = round.iter().find(|s| s.notice_id == notice_id)?;
        let kinds: Vec<Kind> = round
            .iter()
            .filter(|s| s.notice_id != notice_id)
            .map(|s| s.kind)
            .collect();
        Some((Status::at(own.kind, &windows, &kinds, at), windows))
    }

    /// The version published notice `notice_id` follows: the latest notice of its table published
    /// before it in its round (a tender re-sent, candidates re-sent with a longer publicity), with
    /// how many of the table the round has up to it (2 for the first re-send). `None` for the
    /// first of its table, and for amendments: each 澄清/更正 is an announcement of its own, named
    /// as such in its title, not a corrected copy of the one before.
    pub fn previous_version(&self, notice_id: &str) -> Option<(&str, usize)> {
        let round = self.round_of(notice_id)?;
        let at = round.iter().position(|s| s.notice_id == notice_id)?;
        let own = round[at];
        if own.kind == Kind::Amendment {
            return None;
        }
        let earlier: Vec<&&Stage> = round[..at]
            .iter()
            .filter(|s| {
                s.kind == own.kind
                    && std::mem::discriminant(&s.body) == std::mem::discriminant(&own.body)
            })
            .collect();
        earlier
            .last()
            .map(|previous| (previous.notice_id.as_str(), earlier.len() + 1))
    }

    /// The published stages of published notice `notice_id`'s round, in arrival order, itself
    /// among them ([`crate::lifecycle::round_of`]: a re-tender after a termination opens a new
    /// round). `None` when it is not a published notice of the procedure.
    pub fn round_of(&self, notice_id: &str) -> Option<Vec<&Stage>> {
        let published: Vec<&Stage> = self
            .stages
            .iter()
            .filter(|s| s.status == StageStatus::Published)
            .collect();
        let index = published.iter().position(|s| s.notice_id == notice_id)?;
        let sent: Vec<(Kind, Option<Instant>)> =
            published.iter().map(|s| (s.kind, s.sent_at)).collect();
        Some(published[crate::lifecycle::round_of(&sent, index)].to_vec())
    }

    /// The published awards and terminations of the procedure: what settles it.
    pub fn settling(&self) -> impl Iterator<Item = &Stage> {
        self.stages.iter().filter(|s| {
            s.status == StageStatus::Published && matches!(s.kind, Kind::Award | Kind::Termination)
        })
    }

    /// The objections and complaints of the procedure still open: those whose newest recorded
    /// version (by `DATA_TIMESTAMP`, then arrival; of the same one: same `OBJECTIONG_GUID` /
    /// `COMPLAINT_DATE`) carries no answer. An answer older than the open version it would
    /// answer (a stale re-delivery) does not close it; a newer version without the answer
    /// opens it again. At equal timestamps the answered version counts.
    pub fn open_disputes(&self) -> Vec<crate::notice::Dispute> {
        // Version order: DATA_TIMESTAMP, answered, arrival.
        type Order = (Option<Instant>, bool, usize);
        // The newest version of each dispute, in first-seen order.
        let mut newest: Vec<(Order, crate::notice::Dispute)> = Vec::new();
        for (i, s) in self.stages.iter().enumerate() {
            if s.status != StageStatus::Recorded {
                continue;
            }
            let Some(d) = s.body.dispute() else { continue };
            let order = (s.data_timestamp, d.answered_at.is_some(), i);
            match newest.iter_mut().find(|(_, known)| known.key == d.key) {
                Some(known) if order > known.0 => *known = (order, d),
                Some(_) => {}
                None => newest.push((order, d)),
            }
        }
        newest
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| d.answered_at.is_none())
            .collect()
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

    /// 12:00 Beijing time on day `day` of July 2025, the month the stages' windows are in.
    fn noon(day: u32) -> chrono::DateTime<chrono::Utc> {
        crate::values::datetime::shanghai()
            .with_ymd_and_hms(2025, 7, day, 12, 0, 0)
            .unwrap()
            .with_timezone(&chrono::Utc)
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

    #[test]
    fn a_re_sent_notice_follows_the_latest_of_its_table_in_its_round() {
        use StageStatus::*;
        let sent = |mut s: Stage, day: u32| {
            s.sent_at = Some(
                crate::values::datetime::shanghai()
                    .with_ymd_and_hms(2025, 7, day, 9, 0, 0)
                    .unwrap(),
            );
            s
        };
        let p = procedure(vec![
            sent(stage("v1", Kind::Tender, Published, &[("bid", 22)]), 1),
            sent(stage("a1", Kind::Amendment, Published, &[("bid", 25)]), 3),
            sent(stage("a2", Kind::Amendment, Published, &[("bid", 26)]), 4),
            sent(stage("held", Kind::Tender, Held, &[("bid", 27)]), 5),
            sent(stage("v2", Kind::Tender, Published, &[("bid", 29)]), 6),
            sent(stage("end", Kind::Termination, Published, &[]), 10),
            sent(stage("again", Kind::Tender, Published, &[("bid", 31)]), 12),
        ]);
        assert_eq!(p.previous_version("v1"), None);
        assert_eq!(
            p.previous_version("v2"),
            Some(("v1", 2)),
            "not the held one"
        );
        assert_eq!(p.previous_version("a2"), None, "an amendment is its own");
        assert_eq!(p.previous_version("end"), None);
        assert_eq!(
            p.previous_version("again"),
            None,
            "a re-tender after a termination opens a round of its own"
        );
        assert_eq!(p.previous_version("held"), None, "not published");
    }

    #[test]
    fn a_re_sent_tender_restating_its_deadline_leaves_a_postponement_in_force() {
        use crate::lifecycle::Status;
        use StageStatus::Published;
        let at = noon;
        let p = procedure(vec![
            stage("v1", Kind::Tender, Published, &[("bid", 22)]),
            stage("a", Kind::Amendment, Published, &[("bid", 29)]),
            stage("v2", Kind::Tender, Published, &[("bid", 22)]),
        ]);
        assert!(p.window_in_force("a", "bid"));
        assert!(!p.window_in_force("v2", "bid") && !p.window_in_force("v1", "bid"));
        assert_eq!(p.status_of("v2", at(25)), Some(Status::Open));
        assert_eq!(p.status_of("v2", at(30)), Some(Status::Closed));
    }

    #[test]
    fn a_notice_stands_by_its_window_in_force_its_procedure_s_settling_and_later_stages() {
        use crate::lifecycle::Status;
        use StageStatus::Published;
        let at = noon;
        let tender = || stage("t", Kind::Tender, Published, &[("bid", 22)]);
        let moved = || stage("a", Kind::Amendment, Published, &[("bid", 29)]);
        // The tender's deadline moved to 07-29: open on 07-25, closed on 07-30.
        let p = procedure(vec![tender(), moved()]);
        assert_eq!(p.status_of("t", at(25)), Some(Status::Open));
        assert_eq!(p.status_of("t", at(30)), Some(Status::Closed));
        // An amendment whose own deadline had passed when it arrived is closed from the start.
        assert_eq!(p.status_of("a", at(30)), Some(Status::Closed));
        // A section terminated, or awarded: an amendment published there stands settled.
        let terminated = procedure(vec![
            tender(),
            stage("x", Kind::Termination, Published, &[]),
            moved(),
        ]);
        assert_eq!(terminated.status_of("a", at(25)), Some(Status::Terminated));
        let awarded = procedure(vec![
            tender(),
            stage("w", Kind::Award, Published, &[]),
            moved(),
        ]);
        assert_eq!(awarded.status_of("a", at(25)), Some(Status::Awarded));
        // Candidates are out: a late postponement does not reopen the tender stage.
        let candidates = procedure(vec![
            tender(),
            stage("c", Kind::Candidates, Published, &[("publicity", 28)]),
            moved(),
        ]);
        assert_eq!(candidates.status_of("a", at(25)), Some(Status::Closed));
        assert_eq!(candidates.status_of("t", at(25)), Some(Status::Closed));
        assert_eq!(candidates.status_of("c", at(25)), Some(Status::Publicity));
        // Not a published notice of the procedure.
        let held = procedure(vec![stage(
            "h",
            Kind::Tender,
            StageStatus::Held,
            &[("bid", 22)],
        )]);
        assert_eq!(held.status_of("h", at(20)), None);
        assert_eq!(p.status_of("nobody", at(20)), None);
    }
}

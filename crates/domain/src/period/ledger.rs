//! An in-memory ledger of procedures: judges notices in arrival order, records them into their
//! procedures' state, and re-judges parked notices when their parent stage arrives. `gongshi
//! check` uses it offline; the enforcement service keeps the same state in PostgreSQL and calls
//! the same steps ([`procedure_keys`], [`judge_into`], [`releases_parked`]), so the two cannot
//! drift apart.

use super::{Engine, Outcome, ProcedureState, StageStatus, Verdict};
use crate::notice::{Notice, ProcedureKey};
use crate::values::datetime::Instant;
use std::collections::HashMap;

/// Procedures by key, plus the notices parked in them.
#[derive(Debug, Default)]
pub struct Ledger {
    procedures: HashMap<ProcedureKey, ProcedureState>,
    parked: Vec<(usize, Notice)>,
}

/// A verdict for the notice with the given arrival index.
pub type Judged = (usize, Verdict);

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of a procedure, if any notice named it.
    pub fn procedure(&self, key: &ProcedureKey) -> Option<&ProcedureState> {
        self.procedures.get(key)
    }

    /// Judges `notice` (arrival `index`) at `now` and records it. Returns its verdict first, then
    /// new verdicts of parked notices that its arrival released.
    pub fn submit(
        &mut self,
        engine: &Engine<'_>,
        index: usize,
        notice: Notice,
        now: Instant,
    ) -> Vec<Judged> {
        let verdict = self.judge_and_record(engine, &notice, now);
        let accepted = releases_parked(verdict.outcome);
        let parked = waits(&verdict);
        let mut out = vec![(index, verdict)];
        if parked {
            self.parked.push((index, notice));
        } else if accepted {
            out.extend(self.release(engine, now));
        }
        out
    }

    fn judge_and_record(&mut self, engine: &Engine<'_>, notice: &Notice, now: Instant) -> Verdict {
        let mut states: Vec<ProcedureState> = procedure_keys(notice)
            .into_iter()
            .map(|key| {
                self.procedures
                    .remove(&key)
                    .unwrap_or_else(|| ProcedureState::new(key))
            })
            .collect();
        let verdict = judge_into(engine, notice, &mut states, now);
        for state in states {
            self.procedures.insert(state.key.clone(), state);
        }
        verdict
    }

    /// Re-judges parked notices until none changes (a released candidate publicity can in turn
    /// release an award).
    fn release(&mut self, engine: &Engine<'_>, now: Instant) -> Vec<Judged> {
        let mut out = Vec::new();
        loop {
            let mut progressed = false;
            let parked = std::mem::take(&mut self.parked);
            for (index, notice) in parked {
                let verdict = self.judge_and_record(engine, &notice, now);
                if waits(&verdict) {
                    self.parked.push((index, notice));
                } else {
                    progressed = true;
                    out.push((index, verdict));
                }
            }
            if !progressed {
                return out;
            }
        }
    }
}

/// The procedures a notice is judged against, sorted and without repeats (the enforcement service
/// locks them in this order, so two notices never wait on each other).
pub fn procedure_keys(notice: &Notice) -> Vec<ProcedureKey> {
    let mut keys = notice.procedures.clone();
    keys.sort();
    keys.dedup();
    keys
}

/// The stage status a verdict gives its notice in each of its procedures.
pub fn stage_status(outcome: Outcome) -> StageStatus {
    match outcome {
        Outcome::Publish => StageStatus::Published,
        Outcome::Hold => StageStatus::Held,
        Outcome::Park => StageStatus::AwaitingParent,
        Outcome::Record => StageStatus::Recorded,
        Outcome::Reject | Outcome::Invalid => StageStatus::Rejected,
    }
}

/// Whether a verdict may release notices waiting behind it: an accepted stage (published or
/// held) is a parent, and a recorded objection or complaint may be the answer a suspended stage
/// waits for.
pub fn releases_parked(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Publish | Outcome::Hold | Outcome::Record)
}

/// Whether a verdict leaves its notice waiting to be judged again when its procedure changes:
/// parked (parent unknown), or held with no instant to publish at (an open objection or complaint
/// suspends its procedure: see [`Verdict::suspended`]).
pub fn waits(verdict: &Verdict) -> bool {
    verdict.outcome == Outcome::Park || verdict.suspended()
}

/// Judges `notice` at `now` against `states` (the states of [`procedure_keys`], in any order) and
/// records it into each of them with its stage status and windows.
pub fn judge_into(
    engine: &Engine<'_>,
    notice: &Notice,
    states: &mut [ProcedureState],
    now: Instant,
) -> Verdict {
    let verdict = engine.judge(notice, &states.iter().collect::<Vec<_>>(), now);
    let status = stage_status(verdict.outcome);
    for state in states.iter_mut() {
        state.record(notice, status, verdict.windows.clone());
    }
    verdict
}

//! An in-memory ledger of procedures: judges notices in arrival order, records them into their
//! procedures' state, and re-judges parked notices when their parent stage arrives. `gongshi
//! check` uses it offline; the enforcement service keeps the same state in PostgreSQL.

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
        let accepted = matches!(verdict.outcome, Outcome::Publish | Outcome::Hold);
        let parked = verdict.outcome == Outcome::Park;
        let mut out = vec![(index, verdict)];
        if parked {
            self.parked.push((index, notice));
        } else if accepted {
            out.extend(self.release(engine, now));
        }
        out
    }

    fn judge_and_record(&mut self, engine: &Engine<'_>, notice: &Notice, now: Instant) -> Verdict {
        for key in &notice.procedures {
            self.procedures
                .entry(key.clone())
                .or_insert_with(|| ProcedureState::new(key.clone()));
        }
        let states: Vec<&ProcedureState> = notice
            .procedures
            .iter()
            .filter_map(|k| self.procedures.get(k))
            .collect();
        let verdict = engine.judge(notice, &states, now);
        let status = match verdict.outcome {
            Outcome::Publish => StageStatus::Published,
            Outcome::Hold => StageStatus::Held,
            Outcome::Park => StageStatus::AwaitingParent,
            Outcome::Reject | Outcome::Invalid => StageStatus::Rejected,
        };
        for key in &notice.procedures {
            if let Some(state) = self.procedures.get_mut(key) {
                state.record(notice, status, verdict.windows.clone());
            }
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
                if verdict.outcome == Outcome::Park {
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

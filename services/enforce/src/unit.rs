//! What one transaction of the enforce service has decided but not yet written.
//!
//! Judging a notice reads its procedures' states and the notices waiting in them, and writes
//! states, the notice row, timers, an outbox event and receipt statuses. Done statement by
//! statement that is about seven round trips per notice, and the round trips, not the judging,
//! were the service's time. A [`Unit`] reads what a batch needs in a few statements, keeps every
//! effect in memory (later notices of the batch see the earlier ones' effects there, exactly as
//! they would in the store), and [`Unit::flush`] writes them in one statement per table.
//!
//! The rule that keeps it true: inside a transaction that has a unit, procedure states are taken
//! from it and given back to it, and notices are recorded through it. Anything written to the
//! transaction directly (an operator's decision) is written after a [`Unit::flush`], and followed
//! by another flush and [`Unit::forget_waiting`].

use chrono::{DateTime, Utc};
use gongshi_domain::period::{ProcedureState, Verdict};
use gongshi_domain::{Notice, ProcedureKey};
use gongshi_platform::bus::Envelope;
use gongshi_platform::bus::topics;
use gongshi_platform::store::notices::{self, NewTimer, NoticeRow};
use gongshi_platform::store::receipts::{self, NoticeUpdate, RecordUpdate};
use gongshi_platform::store::{self, StoreError};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Effects decided in one transaction, written by [`Unit::flush`].
#[derive(Default)]
pub(crate) struct Unit {
    /// Procedure states locked in this transaction, by key; the newest version of each.
    states: HashMap<String, ProcedureState>,
    /// Keys whose state changed since the last flush.
    changed: BTreeSet<String>,
    waiting: Waiting,
    /// Notice rows to upsert, in the order of their last change (`None`: moved to the end).
    notices: Vec<Option<PendingNotice>>,
    /// Where each notice id is in `notices`.
    notice_at: HashMap<String, usize>,
    timers: Vec<NewTimer>,
    /// Events for the `public` topic, in the order decided.
    public: Vec<Envelope>,
    /// Receipt updates in the order decided.
    receipts: Vec<ReceiptUpdate>,
}

/// The notices waiting (parked, or held without an instant) in the procedures this transaction
/// has looked at, by the notice's `procedure_key`.
#[derive(Default)]
struct Waiting {
    /// `procedure_key` values whose waiting notices are all in `notices` (read and locked).
    loaded: HashSet<String>,
    notices: HashMap<String, WaitingNotice>,
}

struct WaitingNotice {
    /// Judged again oldest first, as [`notices::waiting_in`] orders them: stored ones by
    /// `first_seen` and id, then the ones this transaction made wait (the store stamps them all
    /// with its start) by id.
    order: (bool, DateTime<Utc>, String),
    procedure_key: String,
    notice: Notice,
}

struct PendingNotice {
    procedure_key: String,
    status: &'static str,
    outcome: Value,
    notice_json: Value,
    hold_until: Option<DateTime<Utc>>,
    notice: Notice,
}

enum ReceiptUpdate {
    Record(RecordUpdate),
    Notice(NoticeUpdate),
}

/// Whether a notice row with this status waits to be judged again ([`notices::waiting_in`]'s
/// condition).
fn waits_in_store(status: &str, hold_until: Option<DateTime<Utc>>) -> bool {
    status == "parked" || (status == "held" && hold_until.is_none())
}

impl Unit {
    /// Reads and locks, in three statements, what judging `notices` will read: their procedures'
    /// states and the notices waiting in their procedures.
    pub(crate) async fn preload(
        &mut self,
        tx: &mut PgConnection,
        notices: &[&Notice],
    ) -> Result<(), StoreError> {
        let keys: Vec<ProcedureKey> = notices
            .iter()
            .flat_map(|n| n.procedures.iter().cloned())
            .collect();
        let states = self.take_states(tx, &keys).await?;
        self.put_states(states, false);
        let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
        self.load_waiting(tx, &names).await
    }

    /// The states of `keys` (sorted, without repeats), taken out of the unit: read and locked
    /// from the store the first time, then the unit's own. Give them back with
    /// [`Unit::put_states`].
    pub(crate) async fn take_states(
        &mut self,
        tx: &mut PgConnection,
        keys: &[ProcedureKey],
    ) -> Result<Vec<ProcedureState>, StoreError> {
        let mut names: Vec<String> = keys.iter().map(ToString::to_string).collect();
        names.sort();
        names.dedup();
        let missing: Vec<ProcedureKey> = keys
            .iter()
            .filter(|k| !self.states.contains_key(&k.to_string()))
            .cloned()
            .collect();
        for state in notices::lock_procedures(tx, &missing).await? {
            self.states.insert(state.key.to_string(), state);
        }
        names
            .iter()
            .map(|name| {
                self.states
                    .remove(name)
                    .ok_or_else(|| StoreError::from(sqlx::Error::RowNotFound))
            })
            .collect()
    }

    /// Gives states back to the unit; `changed` ones are saved by the next flush.
    pub(crate) fn put_states(&mut self, states: Vec<ProcedureState>, changed: bool) {
        for state in states {
            let key = state.key.to_string();
            if changed {
                self.changed.insert(key.clone());
            }
            self.states.insert(key, state);
        }
    }

    async fn load_waiting(
        &mut self,
        tx: &mut PgConnection,
        keys: &[String],
    ) -> Result<(), StoreError> {
        let missing: Vec<String> = keys
            .iter()
            .filter(|k| !self.waiting.loaded.contains(*k))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for row in notices::waiting_in(tx, &missing).await? {
            // What this transaction recorded for the notice is newer than the store's row.
            if self.notice_at.contains_key(&row.notice_id)
                || self.waiting.notices.contains_key(&row.notice_id)
            {
                continue;
            }
            match serde_json::from_value::<Notice>(row.notice) {
                Ok(notice) => {
                    self.waiting.notices.insert(
                        row.notice_id.clone(),
                        WaitingNotice {
                            order: (false, row.first_seen, row.notice_id),
                            procedure_key: row.procedure_key,
                            notice,
                        },
                    );
                }
                Err(e) => {
                    tracing::error!(notice = %row.notice_id, error = %e, message = "parked notice unreadable")
                }
            }
        }
        self.waiting.loaded.extend(missing);
        Ok(())
    }

    /// The notices waiting in procedures `keys` (by their `procedure_key`), oldest first.
    pub(crate) async fn waiting_in(
        &mut self,
        tx: &mut PgConnection,
        keys: &[String],
    ) -> Result<Vec<Notice>, StoreError> {
        self.load_waiting(tx, keys).await?;
        let mut found: Vec<&WaitingNotice> = self
            .waiting
            .notices
            .values()
            .filter(|w| keys.contains(&w.procedure_key))
            .collect();
        found.sort_by(|a, b| a.order.cmp(&b.order));
        Ok(found.into_iter().map(|w| w.notice.clone()).collect())
    }

    /// Forgets the waiting notices read so far: the transaction changed notices directly.
    pub(crate) fn forget_waiting(&mut self) {
        self.waiting = Waiting::default();
    }

    /// Records a notice's row with its verdict and status (upserted by the next flush).
    pub(crate) fn record_notice(
        &mut self,
        notice: &Notice,
        verdict: &Verdict,
        status: &'static str,
    ) {
        let hold_until = verdict.hold_until.map(|h| h.with_timezone(&Utc));
        if waits_in_store(status, hold_until) {
            let order = match self.waiting.notices.remove(&notice.id) {
                Some(w) => w.order,
                None => (true, DateTime::<Utc>::MIN_UTC, notice.id.clone()),
            };
            self.waiting.notices.insert(
                notice.id.clone(),
                WaitingNotice {
                    order,
                    procedure_key: notice.procedure.to_string(),
                    notice: notice.clone(),
                },
            );
        } else {
            self.waiting.notices.remove(&notice.id);
        }
        let pending = PendingNotice {
            procedure_key: notice.procedure.to_string(),
            status,
            outcome: serde_json::to_value(verdict).unwrap_or(Value::Null),
            notice_json: serde_json::to_value(notice).unwrap_or(Value::Null),
            hold_until,
            notice: notice.clone(),
        };
        // Its last change decides its place: a notice published here takes its place in
        // publication order after the notices published before it in this transaction.
        if let Some(at) = self.notice_at.remove(&notice.id) {
            self.notices[at] = None;
        }
        self.notice_at.insert(notice.id.clone(), self.notices.len());
        self.notices.push(Some(pending));
    }

    /// The stored verdict (`outcome`) of notice `notice_id`: as this transaction recorded it,
    /// else as the store has it.
    pub(crate) async fn outcome(
        &self,
        tx: &mut PgConnection,
        notice_id: &str,
    ) -> Result<Option<Value>, StoreError> {
        if let Some(pending) = self
            .notice_at
            .get(notice_id)
            .and_then(|&at| self.notices[at].as_ref())
        {
            return Ok(Some(pending.outcome.clone()));
        }
        notices::outcome(tx, notice_id).await
    }

    /// Queues an event for the `public` topic (through the outbox).
    pub(crate) fn publish(&mut self, event: Envelope) {
        self.public.push(event);
    }

    /// Adds a durable timer.
    pub(crate) fn add_timer(&mut self, timer: NewTimer) {
        self.timers.push(timer);
    }

    /// Sets one record's status.
    pub(crate) fn set_record(&mut self, update: RecordUpdate) {
        self.receipts.push(ReceiptUpdate::Record(update));
    }

    /// Sets the status of every record that became a notice.
    pub(crate) fn set_notice_records(&mut self, update: NoticeUpdate) {
        self.receipts.push(ReceiptUpdate::Notice(update));
    }

    /// Writes every effect recorded since the last flush: one statement per table, and two per
    /// run of receipt updates that commute (the common case is a single run).
    pub(crate) async fn flush(&mut self, tx: &mut PgConnection) -> Result<(), StoreError> {
        let changed: Vec<&ProcedureState> = self
            .changed
            .iter()
            .filter_map(|k| self.states.get(k))
            .collect();
        notices::save_procedures(tx, &changed).await?;
        self.changed.clear();
        let pending: Vec<PendingNotice> = self.notices.drain(..).flatten().collect();
        self.notice_at.clear();
        let rows: Vec<NoticeRow<'_>> = pending
            .iter()
            .map(|p| NoticeRow {
                notice_id: &p.notice.id,
                procedure_key: &p.procedure_key,
                platform: &p.notice.procedure.platform,
                project: &p.notice.procedure.project,
                section: &p.notice.procedure.section,
                table_code: &p.notice.table,
                kind: p.notice.kind.as_str(),
                regime: p.notice.regime.as_str(),
                content_hash: &p.notice.content_hash,
                data_timestamp: p.notice.data_timestamp.map(|t| t.with_timezone(&Utc)),
                status: p.status,
                outcome: p.outcome.clone(),
                notice: p.notice_json.clone(),
                hold_until: p.hold_until,
            })
            .collect();
        notices::upsert_many(tx, &rows).await?;
        notices::add_timers(tx, &self.timers).await?;
        self.timers.clear();
        store::outbox::enqueue_many(tx, topics::PUBLIC, &self.public).await?;
        self.public.clear();
        for run in runs(std::mem::take(&mut self.receipts)) {
            receipts::set_statuses(tx, &run.records).await?;
            receipts::set_statuses_by_notice(tx, &run.notices).await?;
        }
        Ok(())
    }
}

/// Receipt updates that touch disjoint records: their two statements commute, with each other
/// and within themselves.
#[derive(Default)]
struct Run {
    records: Vec<RecordUpdate>,
    notices: Vec<NoticeUpdate>,
    /// (receipt, index) of each record update.
    record_targets: HashSet<(String, i32)>,
    /// The notice each record update makes its record (or keeps), when it names one.
    record_notices: HashSet<String>,
    /// The notice of each notice update: it moves every record of that notice.
    notice_targets: HashSet<String>,
}

impl Run {
    /// Whether `update` touches no record another update of this run touches. A record update
    /// that names no notice may keep one of the run's notices, so it joins only a run without
    /// notice updates.
    fn fits(&self, update: &ReceiptUpdate) -> bool {
        match update {
            ReceiptUpdate::Record(u) => {
                !self.record_targets.contains(&(u.receipt_id.clone(), u.idx))
                    && match &u.notice_id {
                        Some(id) => !self.notice_targets.contains(id),
                        None => self.notices.is_empty(),
                    }
            }
            ReceiptUpdate::Notice(u) => {
                !self.notice_targets.contains(&u.notice_id)
                    && !self.record_notices.contains(&u.notice_id)
                    && self.records.iter().all(|r| r.notice_id.is_some())
            }
        }
    }

    fn push(&mut self, update: ReceiptUpdate) {
        match update {
            ReceiptUpdate::Record(u) => {
                self.record_targets.insert((u.receipt_id.clone(), u.idx));
                if let Some(id) = &u.notice_id {
                    self.record_notices.insert(id.clone());
                }
                self.records.push(u);
            }
            ReceiptUpdate::Notice(u) => {
                self.notice_targets.insert(u.notice_id.clone());
                self.notices.push(u);
            }
        }
    }
}

/// Receipt updates cut into runs that two statements each can apply (the record updates, then
/// the notice updates): updates that touch disjoint records commute, so only an update that
/// touches a record an earlier update of the run touches (the same record, or a record of the
/// same notice) starts a new run; runs apply in order.
fn runs(updates: Vec<ReceiptUpdate>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for update in updates {
        if !runs.last().is_some_and(|run| run.fits(&update)) {
            runs.push(Run::default());
        }
        if let Some(run) = runs.last_mut() {
            run.push(update);
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(receipt: &str, idx: i32, notice: Option<&str>) -> ReceiptUpdate {
        ReceiptUpdate::Record(RecordUpdate {
            receipt_id: receipt.into(),
            idx,
            status: "parked".into(),
            notice_id: notice.map(str::to_owned),
            errors: Value::Null,
            warnings: Value::Null,
            hold_until: None,
            subject: None,
        })
    }

    fn notice(id: &str) -> ReceiptUpdate {
        ReceiptUpdate::Notice(NoticeUpdate {
            notice_id: id.into(),
            status: "received".into(),
            hold_until: None,
            errors: None,
            warnings: None,
        })
    }

    /// (record updates, notice updates) of each run.
    fn shape(runs: &[Run]) -> Vec<(usize, usize)> {
        runs.iter()
            .map(|r| (r.records.len(), r.notices.len()))
            .collect()
    }

    #[test]
    fn updates_of_disjoint_records_share_a_run_whatever_their_kind() {
        let updates = vec![
            record("a", 0, Some("A0")),
            notice("N1"),
            record("a", 1, Some("A1")),
            notice("N2"),
            record("b", 0, Some("B0")),
        ];
        assert_eq!(shape(&runs(updates)), [(3, 2)]);
    }

    #[test]
    fn an_update_touching_a_record_touched_before_starts_a_new_run() {
        // The same record twice; the same notice twice.
        let updates = vec![
            record("a", 0, Some("A")),
            record("a", 0, Some("A")),
            notice("N"),
            notice("N"),
        ];
        assert_eq!(shape(&runs(updates)), [(1, 0), (1, 1), (0, 1)]);
        // A record made a notice's, then that notice's records moved (a notice judged, then
        // released): the move must see the record, and a later record of it the move's result.
        let updates = vec![
            record("a", 0, Some("N")),
            notice("N"),
            record("b", 0, Some("N")),
        ];
        assert_eq!(shape(&runs(updates)), [(1, 0), (0, 1), (1, 0)]);
        // A notice's records moved, then one of them set.
        let updates = vec![notice("N"), record("a", 0, Some("N"))];
        assert_eq!(shape(&runs(updates)), [(0, 1), (1, 0)]);
    }

    #[test]
    fn a_record_update_naming_no_notice_never_shares_a_run_with_notice_updates() {
        let updates = vec![notice("N"), record("a", 0, None), notice("M")];
        assert_eq!(shape(&runs(updates)), [(0, 1), (1, 0), (0, 1)]);
    }
}

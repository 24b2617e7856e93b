//! The enforce service: applies the period engine to every valid notice with its procedures'
//! state from PostgreSQL, and decides publish, hold, park or reject. Decisions, state, durable
//! timers and the events they cause are written in one transaction (events through the outbox),
//! so a crash anywhere loses nothing and repeats nothing. Holds and window closings are timers
//! polled with `FOR UPDATE SKIP LOCKED`; parked notices are re-judged when a parent arrives.

use chrono::{DateTime, Utc};
use gongshi_domain::diff;
use gongshi_domain::events::{
    Decision, Event as _, NoticeDecided, NoticePublished, NoticeValid, Replaces, WindowClosed,
};
use gongshi_domain::finding::Release;
use gongshi_domain::lifecycle::Status;
use gongshi_domain::period::{
    Engine, Outcome, ProcedureState, StageStatus, Verdict, extended_listing, judge_into,
    procedure_keys, releases_parked, waits,
};
use gongshi_domain::values::datetime::{Instant, shanghai};
use gongshi_domain::{Kind, Notice, Regime};
use gongshi_platform::bus::{self, Acks, Quarantine, topics};
use gongshi_platform::store;
use gongshi_platform::store::notices::{self, NewTimer};
use gongshi_platform::store::receipts::{NoticeUpdate, RecordUpdate};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::{HoldReleased, NoticeDuplicate, NoticeJudged};
use gongshi_platform::{Bus, Clock, Envelope, HandlerError, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use unit::Unit;

mod unit;

/// Consumer group of the enforce service.
pub const GROUP: &str = gongshi_platform::bus::ENFORCE.group;

/// The service's parts.
#[derive(Debug, Clone)]
pub struct Enforce {
    /// Store.
    pub store: Store,
    /// Bus.
    pub bus: Bus,
    /// Clock.
    pub clock: Clock,
    /// How often timers and the outbox are polled.
    pub tick: Duration,
}

/// How often enforce looks for bulk tables PostgreSQL has not analyzed yet.
const STATISTICS_EVERY: Duration = Duration::from_secs(5);

/// Analyzes the pipeline's bulk tables once they hold rows but have no statistics
/// ([`store::statistics`]), every [`STATISTICS_EVERY`], until `shutdown`. Enforce runs it: its
/// batch updates are what a blind plan slows most.
async fn statistics_loop(store: &Store, shutdown: CancellationToken) {
    loop {
        match store::statistics::analyze_unplanned(&store.pool).await {
            Ok(tables) if !tables.is_empty() => {
                tracing::info!(tables = ?tables, message = "analyzed tables without planner statistics");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, message = "could not analyze tables without planner statistics")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(STATISTICS_EVERY) => {}
        }
    }
}

impl Enforce {
    /// Runs the consumer, the timer loop, the outbox relay and the statistics loop until
    /// `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let consumer = self.bus.consumer(GROUP, &[topics::VALID])?;
        tracing::info!(message = "enforce consuming", topic = topics::VALID);
        // One relay for the process, woken after every commit that queued events: what a batch
        // decided reaches `public` without waiting for the tick, and the next batch is judged
        // while the broker acknowledges the last one's. One relay, so events leave in the
        // order they were queued.
        let relay_wanted = Arc::new(Notify::new());
        let relay = {
            let this = self.clone();
            let wanted = relay_wanted.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { this.relay_loop(&wanted, shutdown).await })
        };
        let timers = {
            let this = self.clone();
            let wanted = relay_wanted.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { this.timer_loop(&wanted, shutdown).await })
        };
        let statistics = {
            let store = self.store.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { statistics_loop(&store, shutdown).await })
        };
        let this = self.clone();
        let quarantine = Quarantine::new(self.store.clone(), self.bus.clone());
        bus::consume_batches(
            consumer,
            bus::ENFORCE.name,
            &quarantine,
            shutdown.clone(),
            Enforce::MAX_BATCH,
            |events| {
                let this = this.clone();
                let wanted = relay_wanted.clone();
                async move {
                    this.handle_batch(&events).await?;
                    wanted.notify_one();
                    // Its events leave through the outbox relay.
                    Ok(Acks::none())
                }
            },
            |event| {
                let this = this.clone();
                let wanted = relay_wanted.clone();
                async move {
                    this.handle(&event).await?;
                    wanted.notify_one();
                    Ok(())
                }
            },
        )
        .await?;
        shutdown.cancel();
        timers.await??;
        relay.await?;
        statistics.await?;
        Ok(())
    }

    /// Relays the outbox whenever woken, from where its last pass ended (what this stage just
    /// committed; [`store::outbox::relay_from`]), and the whole queue every tick, woken or not
    /// (what a pass from a place skips, what a failed relay left), until `shutdown`; then the
    /// whole queue once more.
    async fn relay_loop(self, wanted: &Notify, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(self.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next = 0;
        loop {
            let from = tokio::select! {
                () = shutdown.cancelled() => break,
                () = wanted.notified() => next,
                _ = ticks.tick() => 0,
            };
            // Places only grow: a whole pass that found little leaves the cursor where it was.
            next = self.relay(from).await.map_or(0, |read| read.max(next));
        }
        self.relay(0).await;
    }

    /// Relays the outbox after place `from`; returns the last place it read, or `None` after a
    /// failure (the next pass then reads the whole queue).
    async fn relay(&self, from: i64) -> Option<i64> {
        match store::outbox::relay_from(&self.store.pool, &self.bus, from).await {
            Ok(relayed) => Some(relayed.next),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), message = "outbox relay incomplete; retried on the next tick");
                None
            }
        }
    }

    async fn timer_loop(self, relay: &Notify, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            let fired = match self.fire_due_timers().await {
                Ok(fired) => fired,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), message = "timer tick failed; retrying");
                    0
                }
            };
            if fired > 0 {
                relay.notify_one();
            }
            // A full round means more are due (a backlog after downtime, or a day's holds ending
            // together): fire the next round now, not a tick later.
            if fired == Enforce::TIMERS_PER_ROUND && !shutdown.is_cancelled() {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.tick) => {}
            }
        }
    }

    /// Due timers fired in one transaction, at most.
    pub const TIMERS_PER_ROUND: usize = 100;

    /// Events judged in one transaction, at most: enough to take a commit's cost off each event,
    /// few enough that the batch's procedure locks are held for milliseconds.
    pub const MAX_BATCH: usize = 128;

    /// Handles one event of the `valid` topic: a valid notice, or an operator's decision.
    pub async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        self.handle_batch(std::slice::from_ref(event)).await
    }

    /// Handles events of the `valid` topic in order, in one transaction (one commit for all);
    /// an error leaves nothing of the batch in the store. Each event sees the state the events
    /// before it left, as if handled one at a time.
    ///
    /// What the batch reads is read up front in a few statements (which events are new, which
    /// notices are known, the procedures and the notices waiting in them); what it writes is
    /// kept in a [`Unit`] and written at the end, one statement per table.
    pub async fn handle_batch(&self, events: &[Envelope]) -> Result<(), HandlerError> {
        let now = self.clock.now();
        let engine = Engine::embedded();
        let mut tx = self.store.pool.begin().await?;
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let fresh = store::first_times(&mut tx, "enforce", &ids).await?;
        let mut work = Vec::with_capacity(events.len());
        for (event, fresh) in events.iter().zip(fresh) {
            work.push(if !fresh {
                Work::Repeat
            } else if event.event_type == NoticeDecided::TYPE {
                Work::Decide(event)
            } else {
                Work::Judge(Box::new(event.decode::<NoticeValid>()?))
            });
        }
        let valid: Vec<&Notice> = work
            .iter()
            .filter_map(|w| match w {
                Work::Judge(v) => Some(&v.notice),
                _ => None,
            })
            .collect();
        let notice_ids: Vec<&str> = valid.iter().map(|n| n.id.as_str()).collect();
        let mut known = notices::known(&mut tx, &notice_ids).await?;
        let mut unit = Unit::default();
        unit.preload(&mut tx, &valid).await?;
        let mut done = Vec::with_capacity(events.len());
        for work in work {
            done.push(match work {
                Work::Repeat => Done::Nothing,
                Work::Judge(valid) => {
                    judge(&mut unit, &mut tx, &engine, *valid, &mut known, now).await?
                }
                Work::Decide(event) => {
                    // A decision reads and writes the store directly: it sees the batch so far,
                    // and what it changed is read again.
                    unit.flush(&mut tx).await?;
                    let done = self.decide(&mut unit, &mut tx, &engine, event, now).await?;
                    unit.flush(&mut tx).await?;
                    unit.forget_waiting();
                    done
                }
            });
        }
        unit.flush(&mut tx).await?;
        tx.commit().await?;
        done.iter().for_each(Done::report);
        Ok(())
    }

    /// Applies an operator's decision (seen for the first time) on a notice this service holds,
    /// parked or rejected:
    /// `release` publishes it now with the overridden findings saying who released it and why
    /// (its windows, timers and parked children follow as for any publication); `discard` takes
    /// it out of its procedures for good — also a notice published here whose publication the
    /// broker refused and an operator discarded ([`NoticeDecided::quarantine_id`]): it never
    /// reached the public, and its procedures no longer count it. A decision on a notice in any
    /// other status changes nothing (it moved on before the decision arrived) and is logged.
    async fn decide(
        &self,
        unit: &mut Unit,
        tx: &mut PgConnection,
        engine: &Engine<'_>,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Done, HandlerError> {
        let decided: NoticeDecided = event.decode()?;
        let keys = match notices::notice_json(tx, &decided.notice_id).await? {
            Some(doc) => serde_json::from_value::<Notice>(doc)
                .map(|n| procedure_keys(&n))
                .map_err(|e| HandlerError::Permanent(e.into()))?,
            None => Vec::new(),
        };
        // Procedures first, then the notice row: the order every other writer locks in.
        let mut states = unit.take_states(tx, &keys).await?;
        let status = notices::status(tx, &decided.notice_id).await?;
        let applies = match decided.decision {
            Decision::Release => matches!(status.as_deref(), Some("held" | "rejected" | "parked")),
            Decision::Discard => {
                matches!(status.as_deref(), Some("held" | "rejected" | "parked"))
                    // A publication the broker refused, discarded: it never reached the public.
                    || (status.as_deref() == Some("published") && decided.quarantine_id.is_some())
            }
        };
        if !applies {
            tracing::warn!(notice = %decided.notice_id, status = ?status, decision = ?decided.decision,
                message = "operator decision does not apply to the notice's status; nothing changed");
            unit.put_states(states, false);
            settle_receipt(tx, &decided.notice_id, status.as_deref()).await?;
            not_applied(tx, &decided, status.as_deref()).await?;
            return Ok(Done::Nothing);
        }
        match decided.decision {
            Decision::Discard => {
                for state in &mut states {
                    state.stages.retain(|s| s.notice_id != decided.notice_id);
                }
                unit.put_states(states, true);
                notices::set_status(tx, &decided.notice_id, "discarded").await?;
                notices::cancel_timers(tx, &decided.notice_id).await?;
                store::receipts::set_status_by_notice(tx, &decided.notice_id, "discarded", None)
                    .await?;
            }
            Decision::Release => {
                let doc = notices::notice_json(tx, &decided.notice_id)
                    .await?
                    .unwrap_or(Value::Null);
                let notice: Notice =
                    serde_json::from_value(doc).map_err(|e| HandlerError::Permanent(e.into()))?;
                let outcome = notices::outcome(tx, &decided.notice_id)
                    .await?
                    .unwrap_or(Value::Null);
                let verdict: Verdict = serde_json::from_value(outcome)
                    .map_err(|e| HandlerError::Permanent(e.into()))?;
                let release = Release {
                    released_by: decided.decided_by.clone(),
                    reason: decided.reason.clone(),
                };
                let verdict = verdict.released(&decided.rules, &release);
                if verdict.outcome != Outcome::Publish {
                    tracing::warn!(notice = %decided.notice_id, message = "released notice still blocked by other rules");
                    unit.put_states(states, false);
                    settle_receipt(tx, &decided.notice_id, status.as_deref()).await?;
                    return Ok(Done::Nothing);
                }
                for state in &mut states {
                    if let Some(stage) = state.stages.iter_mut().find(|s| s.notice_id == notice.id)
                    {
                        stage.status = StageStatus::Published;
                    }
                }
                let region = notice
                    .region
                    .clone()
                    .or_else(|| states.iter().find_map(|s| s.region().map(str::to_owned)));
                let standing = Standing::of(&states, &notice, &verdict, now);
                unit.put_states(states, true);
                unit.record_notice(&notice, &verdict, status_of(verdict.outcome));
                schedule(unit, &notice, &verdict, region, standing, now);
                unit.set_notice_records(notice_update(&notice.id, &verdict));
                release_parked(unit, tx, engine, &notice, now).await?;
            }
        }
        Ok(Done::Decided(decided))
    }

    /// Fires due timers: a hold judges its notice again ([`release_hold`]); window ends announce
    /// themselves.
    pub async fn fire_due_timers(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let engine = Engine::embedded();
        let mut tx = self.store.pool.begin().await?;
        let due = notices::due_timers(&mut tx, now, Enforce::TIMERS_PER_ROUND as i64).await?;
        for timer in &due {
            match timer.kind.as_str() {
                "hold" => release_hold(&mut tx, &engine, &timer.notice_id, now).await?,
                // Only a published notice's windows are announced (a discarded or still held
                // notice's are not the public's).
                "window"
                    if notices::status(&mut tx, &timer.notice_id).await?.as_deref()
                        != Some("published") =>
                {
                    tracing::info!(timer = %timer.timer_id, message = "window of an unpublished notice; not announced");
                }
                "window" => {
                    match closing_of(&mut tx, &timer.notice_id, &timer.payload, timer.due_at)
                        .await?
                    {
                        closing if closing.procedures.is_empty() => {
                            tracing::info!(timer = %timer.timer_id, message = "window replaced by a later notice of its stage; not announced");
                        }
                        _ if extend_listing(&mut tx, &timer.notice_id, &timer.payload).await? => {}
                        closing => {
                            let closed =
                                serde_json::from_value::<WindowTimer>(timer.payload.clone())
                                    .map(|t| t.closed(&timer.notice_id, timer.due_at, closing));
                            match closed {
                                Ok(event) => {
                                    store::outbox::enqueue(
                                        &mut tx,
                                        topics::PUBLIC,
                                        &event.envelope(),
                                    )
                                    .await?;
                                }
                                // Written by this service; unreadable means a bug, not an outage.
                                Err(e) => tracing::error!(timer = %timer.timer_id, error = %e,
                                message = "window timer unreadable; not announced"),
                            }
                        }
                    }
                }
                other => {
                    tracing::error!(kind = other, timer = %timer.timer_id, message = "unknown timer kind")
                }
            }
            notices::fire_timer(&mut tx, &timer.timer_id).await?;
        }
        tx.commit().await?;
        Ok(due.len())
    }
}

/// Where a window timer that fell due closes: the procedures in which its window is still the
/// one in force ([`window_in_force`](gongshi_domain::period::ProcedureState::window_in_force))
/// and which had not moved past its stage when the notice was published (awarded, terminated,
/// candidates out), the timer's own first, and where that leaves the notice over all its
/// procedures.
struct Closing {
    /// Empty when a later notice of its stage replaced the window everywhere (an amendment moved
    /// the bid deadline, a re-sent notice set its windows anew): the window in force has a timer
    /// of its own, and announcing the replaced one would tell every subscriber that bids closed
    /// while they are still open. A tender of several sections whose amendment moved one
    /// section's deadline closes for the others only; publish closes the notice in these.
    procedures: Vec<String>,
    /// The notice's status at the closing over all its procedures ([`Status::most_open`]):
    /// closed where the window closes, as it stands in the others (still `open` while another
    /// section's moved deadline runs). `None` for a window whose closing changes no status.
    notice_status: Option<Status>,
}

/// The [`Closing`] of a window timer of `notice_id` due at `due_at`. The procedures are locked as
/// a judging transaction locks them, so a notice judged meanwhile is seen whole or not at all.
async fn closing_of(
    tx: &mut PgConnection,
    notice_id: &str,
    payload: &Value,
    due_at: DateTime<Utc>,
) -> anyhow::Result<Closing> {
    let own = payload["procedure"].as_str().unwrap_or_default().to_owned();
    let whole = |procedures| Closing {
        procedures,
        notice_status: None,
    };
    let Some(window) = payload["window"].as_str() else {
        return Ok(whole(vec![own]));
    };
    let Some(doc) = notices::notice_json(tx, notice_id).await? else {
        return Ok(whole(vec![own]));
    };
    let notice: Notice = serde_json::from_value(doc)?;
    let states = notices::lock_procedures(tx, &procedure_keys(&notice)).await?;
    // A window that holds the notice open (or in publicity) announces nothing in a section that
    // had moved past its stage when the notice was published, by publication order: awarded or
    // terminated, or its candidates out (a deadline a re-send or a late amendment set after them
    // is no deadline a bidder can meet; their stage closed when they came). A later stage
    // published after the notice leaves its closing to be announced.
    let stage = diff::stage_rank(diff::stage_of(notice.kind));
    let past_stage = |s: &gongshi_domain::period::Stage| {
        s.status == StageStatus::Published
            && s.kind != Kind::Objection
            && diff::stage_rank(diff::stage_of(s.kind)) > stage
    };
    let mut ids: Vec<&str> = vec![notice_id];
    ids.extend(states.iter().flat_map(|s| {
        s.stages
            .iter()
            .filter(|x| past_stage(x))
            .map(|x| x.notice_id.as_str())
    }));
    let seqs = notices::published_seqs(tx, &ids).await?;
    // Within its round: a termination before a re-tender does not silence the re-tender's deadline.
    let moved_on_before = |state: &ProcedureState| {
        let Some(own) = seqs.get(notice_id) else {
            return false;
        };
        state.round_of(notice_id).is_some_and(|round| {
            round
                .iter()
                .filter(|x| past_stage(x))
                .any(|x| seqs.get(&x.notice_id).is_some_and(|seq| seq < own))
        })
    };
    let mut in_force: Vec<String> = states
        .iter()
        .filter(|state| state.window_in_force(notice_id, window))
        .filter(|state| Status::held_by(window).is_none() || !moved_on_before(state))
        .map(|state| state.key.to_string())
        .collect();
    // The timer's own procedure first: the closing is announced there when it can be.
    if let Some(i) = in_force.iter().position(|k| *k == own) {
        in_force[..=i].rotate_right(1);
    }
    // Closed where it closes (or awarded, terminated: a later stage published before the closing
    // settles it there, as the API says), as it stands elsewhere (open while a moved deadline
    // runs there).
    let notice_status = Status::after_window(window).and_then(|closed| {
        let standing = statuses_in(&states, notice_id, due_at);
        let each = in_force
            .iter()
            .map(|key| match standing.get(key) {
                Some(status) if !status.may_close() => *status,
                _ => closed,
            })
            .chain(
                standing
                    .iter()
                    .filter(|(key, _)| !in_force.contains(key))
                    .map(|(_, status)| *status),
            );
        Status::most_open(each)
    });
    Ok(Closing {
        procedures: in_force,
        notice_status,
    })
}

/// When a `listing` window falls due: extends it instead of closing it when the listing extends
/// itself and no result has come ([`extended_listing`]): the notice's stored window moves to the
/// new end and a timer is set for it. Returns whether it extended.
async fn extend_listing(
    tx: &mut PgConnection,
    notice_id: &str,
    payload: &Value,
) -> anyhow::Result<bool> {
    let Ok(timer) = serde_json::from_value::<WindowTimer>(payload.clone()) else {
        return Ok(false);
    };
    if timer.window != "listing" {
        return Ok(false);
    }
    let Some(doc) = notices::notice_json(tx, notice_id).await? else {
        return Ok(false);
    };
    let notice: Notice = serde_json::from_value(doc)?;
    let mut states = Vec::new();
    for key in &procedure_keys(&notice) {
        states.push(notices::lock_procedure(tx, key).await?);
    }
    let window = gongshi_domain::period::Window {
        start: timer.start,
        end: timer.end,
    };
    let engine = Engine::embedded();
    let extended = match extended_listing(
        &engine,
        &notice,
        &states.iter().collect::<Vec<_>>(),
        &window,
        timer.region.as_deref(),
    ) {
        Ok(Some(w)) => w,
        Ok(None) => return Ok(false),
        Err(e) => {
            tracing::warn!(notice = %notice_id, year = e.0,
                message = "listing extension needs a calendar year gongshi lacks; the window closes");
            return Ok(false);
        }
    };
    notices::set_window(tx, notice_id, "listing", &serde_json::to_value(extended)?).await?;
    let next = WindowTimer {
        end: extended.end,
        ..timer
    };
    let timer = NewTimer {
        timer_id: format!("window:{notice_id}:listing:{}", extended.end.timestamp()),
        kind: "window",
        notice_id: notice_id.to_owned(),
        due_at: extended.end.with_timezone(&Utc),
        payload: serde_json::to_value(&next)?,
    };
    notices::add_timer(tx, &timer).await?;
    tracing::info!(notice = %notice_id, until = %extended.end,
        message = "listing extended itself (是否自动延期): no result yet");
    Ok(true)
}

/// What handling one event did, reported once its transaction has committed (a batch that
/// rolls back reports nothing).
enum Done {
    /// Nothing new: a repeated event, or a decision that no longer applies.
    Nothing,
    /// The notice id was known already.
    Duplicate(String),
    /// The notice was judged.
    Judged {
        /// The notice.
        notice_id: String,
        /// `publish`, `hold`, `park` or `reject`.
        outcome: &'static str,
    },
    /// An operator's decision was applied.
    Decided(NoticeDecided),
}

impl Done {
    fn report(&self) {
        match self {
            Done::Nothing => {}
            Done::Duplicate(notice_id) => NoticeDuplicate { notice_id }.emit(),
            Done::Judged { notice_id, outcome } => NoticeJudged { notice_id, outcome }.emit(),
            Done::Decided(decided) => {
                tracing::info!(notice = %decided.notice_id, decision = ?decided.decision,
                    operator = %decided.decided_by, message = "operator decision applied");
            }
        }
    }
}

fn status_of(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Publish => "published",
        Outcome::Hold => "held",
        Outcome::Park => "parked",
        Outcome::Record => "recorded",
        Outcome::Reject | Outcome::Invalid => "rejected",
    }
}

/// One event of a batch, once its first reading is done.
enum Work<'a> {
    /// Seen before: nothing to do.
    Repeat,
    /// A valid notice to judge.
    Judge(Box<NoticeValid>),
    /// An operator's decision.
    Decide(&'a Envelope),
}

/// Judges one valid notice, seen for the first time: publish, hold, park or reject, or
/// `duplicate` when its notice id is `known` already (in the store, or judged earlier in the
/// batch; a judged notice joins `known`).
async fn judge(
    unit: &mut Unit,
    tx: &mut PgConnection,
    engine: &Engine<'_>,
    valid: NoticeValid,
    known: &mut std::collections::HashSet<String>,
    now: DateTime<Utc>,
) -> Result<Done, HandlerError> {
    let NoticeValid {
        receipt,
        index: idx,
        notice,
        warnings,
    } = valid;
    let warnings =
        serde_json::to_value(&warnings).map_err(|e| HandlerError::Permanent(e.into()))?;
    if known.contains(&notice.id) {
        // A duplicate of a refused notice says why it was refused: the platform re-sending it
        // learns it is still refused, not just "duplicate".
        let errors = match unit.outcome(tx, &notice.id).await? {
            Some(outcome) => serde_json::from_value::<Verdict>(outcome)
                .map(|v| findings_json(&v, true))
                .unwrap_or_else(|_| json!([])),
            None => json!([]),
        };
        unit.set_record(RecordUpdate {
            receipt_id: receipt,
            idx,
            status: "duplicate".into(),
            notice_id: Some(notice.id.clone()),
            errors,
            warnings,
            hold_until: None,
            subject: None,
        });
        return Ok(Done::Duplicate(notice.id));
    }
    let verdict = judge_and_record(unit, tx, engine, &notice, None, now).await?;
    known.insert(notice.id.clone());
    unit.set_record(receipt_update(
        receipt, idx, &notice.id, &verdict, &warnings,
    ));
    if releases_parked(verdict.outcome) {
        release_parked(unit, tx, engine, &notice, now).await?;
    }
    Ok(Done::Judged {
        outcome: verdict.outcome.as_str(),
        notice_id: notice.id,
    })
}

/// Judges a notice against its procedures (locked), and records in `unit` their new state, the
/// notice row, its timers, and its publication when published now. `held` is the verdict of a
/// held notice judged again when its hold ends: the reasons it was held are kept
/// ([`Verdict::keeping_hold_reasons`]).
async fn judge_and_record(
    unit: &mut Unit,
    tx: &mut PgConnection,
    engine: &Engine<'_>,
    notice: &Notice,
    held: Option<&Verdict>,
    now: DateTime<Utc>,
) -> Result<Verdict, store::StoreError> {
    let mut states = unit.take_states(tx, &procedure_keys(notice)).await?;
    let mut verdict = judge_into(engine, notice, &mut states, now.with_timezone(&shanghai()));
    if let Some(held) = held {
        verdict = verdict.keeping_hold_reasons(held);
    }
    // A notice without its own REGION_CODE belongs to its procedure's region (from the tender).
    let region = notice
        .region
        .clone()
        .or_else(|| states.iter().find_map(|s| s.region().map(str::to_owned)));
    let standing = Standing::of(&states, notice, &verdict, now);
    unit.put_states(states, true);
    unit.record_notice(notice, &verdict, status_of(verdict.outcome));
    schedule(unit, notice, &verdict, region, standing, now);
    Ok(verdict)
}

/// Puts a notice's receipt records back to the notice's own status after an operator decision
/// that did not apply (the console marked them in flight): what the notice is, its records say.
async fn settle_receipt(
    tx: &mut PgConnection,
    notice_id: &str,
    status: Option<&str>,
) -> Result<(), store::StoreError> {
    let Some(status) = status else {
        return Ok(());
    };
    let hold_until = if status == "held" {
        notices::outcome(tx, notice_id)
            .await?
            .and_then(|o| serde_json::from_value::<Verdict>(o).ok())
            .and_then(|v| v.hold_until)
            .map(|h| h.with_timezone(&Utc))
    } else {
        None
    };
    store::receipts::set_status_by_notice(tx, notice_id, status, hold_until).await
}

/// Says in the audit log that an operator's decision came too late: the notice moved on
/// before it arrived (its parent arrived and published it, or its hold ended), so the entry the
/// console wrote ("parked → discarded") is followed by one saying what happened instead. Not for
/// a decision on a quarantine (no operator entry of its own to answer).
async fn not_applied(
    tx: &mut PgConnection,
    decided: &NoticeDecided,
    status: Option<&str>,
) -> Result<(), store::StoreError> {
    if decided.audit_id == 0 {
        return Ok(());
    }
    let status = status.unwrap_or("unknown");
    store::operators::append(
        tx,
        &store::operators::NewAuditEntry {
            operator: &decided.decided_by,
            action: decided.decision.as_str(),
            receipt: &decided.receipt,
            index: decided.index,
            reason: &format!(
                "未执行：公告在此操作（审计 #{}）到达前已变为 {status}，操作未生效 \
                 (not applied: the notice had moved on before the decision arrived)",
                decided.audit_id
            ),
            before: status,
            after: status,
            detail: serde_json::json!({"not_applied": decided.audit_id}),
        },
    )
    .await?;
    Ok(())
}

/// Where a published notice stands in its procedures, as its `notice.published` event says.
struct Standing {
    /// Its status in each procedure ([`NoticePublished::statuses`]).
    statuses: BTreeMap<String, Status>,
    /// Its windows as they stand in force: each replaced alike in all its procedures by another
    /// notice of its stage (a re-sent tender restating its deadline has the postponement's bid
    /// window), else its own. The feed entry and the search document show the deadline a bidder
    /// must meet; the timers stay on the notice's own windows.
    windows: BTreeMap<String, gongshi_domain::period::Window>,
    /// The version it follows in its first procedure ([`NoticePublished::replaces`]).
    replaces: Option<Replaces>,
}

impl Standing {
    /// `notice` (recorded as published in `states`, its procedures) with its `verdict`.
    fn of(
        states: &[ProcedureState],
        notice: &Notice,
        verdict: &Verdict,
        now: DateTime<Utc>,
    ) -> Standing {
        let notice_id = notice.id.as_str();
        let first = states.iter().find(|s| s.key == notice.procedure);
        let replaces = first.and_then(|first| {
            first
                .previous_version(notice_id)
                .map(|(previous, version)| Replaces {
                    notice_id: previous.to_owned(),
                    version,
                })
        });
        let mut statuses = BTreeMap::new();
        let mut each = Vec::with_capacity(states.len());
        for state in states {
            if let Some((status, windows)) = state.standing_of(notice_id, now) {
                statuses.insert(state.key.to_string(), status);
                each.push(windows);
            }
        }
        let windows = verdict
            .windows
            .iter()
            .map(|(name, own)| {
                let first = each.first().and_then(|w| w.get(name));
                let alike = each.iter().all(|w| w.get(name) == first);
                let window = match first {
                    Some(in_force) if alike => *in_force,
                    _ => *own,
                };
                (name.clone(), window)
            })
            .collect();
        Standing {
            statuses,
            windows,
            replaces,
        }
    }

    /// Puts it on the notice's publication.
    fn carry(self, event: &mut NoticePublished) {
        event.statuses = self.statuses;
        event.windows = self.windows;
        event.replaces = self.replaces;
    }
}

/// Where published notice `notice_id` stands at `now` in each of `states` (its procedures, with
/// it recorded as published): what its `notice.published` event carries
/// ([`NoticePublished::statuses`]).
fn statuses_in(
    states: &[ProcedureState],
    notice_id: &str,
    now: DateTime<Utc>,
) -> BTreeMap<String, Status> {
    states
        .iter()
        .filter_map(|state| Some((state.key.to_string(), state.status_of(notice_id, now)?)))
        .collect()
}

/// What a verdict sets going: a publication queued in the outbox (with the notice's `statuses`
/// in its procedures), a hold's timer, and the timers of the legal windows that close after
/// `now`.
fn schedule(
    unit: &mut Unit,
    notice: &Notice,
    verdict: &Verdict,
    region: Option<String>,
    standing: Standing,
    now: DateTime<Utc>,
) {
    let procedure = notice.procedure.to_string();
    let hold_until = verdict.hold_until.map(|h| h.with_timezone(&Utc));
    match verdict.outcome {
        Outcome::Publish => {
            let mut event = NoticePublished::new(notice, verdict, now, region.clone());
            standing.carry(&mut event);
            unit.publish(event.envelope());
        }
        Outcome::Hold => {
            if let Some(due) = hold_until {
                unit.add_timer(NewTimer {
                    // The instant in the id: a notice held again (judged again when its hold ended, or
                    // released from a suspension) gets a timer of its own, not the fired one's id.
                    timer_id: format!("hold:{}:{}", notice.id, due.timestamp()),
                    kind: "hold",
                    notice_id: notice.id.clone(),
                    due_at: due,
                    payload: json!({}),
                });
            }
        }
        _ => {}
    }
    if releases_parked(verdict.outcome) {
        for (name, window) in &verdict.windows {
            let end = window.end.with_timezone(&Utc);
            if end > now {
                let payload = WindowTimer {
                    window: name.clone(),
                    start: window.start,
                    end: window.end,
                    procedure: procedure.clone(),
                    title: notice.title.clone(),
                    kind: Some(notice.kind),
                    regime: Some(notice.regime),
                    region: region.clone(),
                };
                unit.add_timer(NewTimer {
                    timer_id: format!("window:{}:{name}", notice.id),
                    kind: "window",
                    notice_id: notice.id.clone(),
                    due_at: end,
                    payload: serde_json::to_value(&payload).unwrap_or(Value::Null),
                });
            }
        }
    }
}

/// A verdict's ERROR findings (`errors`) or the others as a receipt record lists them; a
/// released one says who released it and why (`released`), as validation's do.
fn findings_json(verdict: &Verdict, errors: bool) -> Value {
    Value::Array(
        verdict
            .findings
            .iter()
            .filter(|f| f.is_error() == errors)
            .map(|f| {
                let mut finding = json!({"rule": f.rule, "path": f.path, "message": f.message, "severity": f.severity, "evidence": f.evidence});
                if let Some(released) = &f.released {
                    finding["released"] = json!(released);
                }
                finding
            })
            .collect(),
    )
}

/// A judged record's receipt status: the verdict's errors, and its warnings after the
/// validator's.
fn receipt_update(
    receipt: String,
    idx: i32,
    notice_id: &str,
    verdict: &Verdict,
    warnings: &Value,
) -> RecordUpdate {
    let mut all_warnings = warnings.as_array().cloned().unwrap_or_default();
    if let Value::Array(more) = findings_json(verdict, false) {
        all_warnings.extend(more);
    }
    // A published notice becomes `published` once the feed has it (the publish service).
    let status = match verdict.outcome {
        Outcome::Publish => "received",
        other => status_of(other),
    };
    RecordUpdate {
        receipt_id: receipt,
        idx,
        status: status.into(),
        notice_id: Some(notice_id.to_owned()),
        errors: findings_json(verdict, true),
        warnings: Value::Array(all_warnings),
        hold_until: verdict.hold_until.map(|h| h.with_timezone(&Utc)),
        subject: None,
    }
}

/// What a notice judged again (a parked notice released, a held one whose hold ended, a notice
/// an operator released) makes of its receipt records: its status (`received` until the feed has
/// it, when published), its hold instant, the errors that refuse it (none once published: a
/// released error is a warning naming who released it and why), and the warnings that arose.
fn notice_update(notice_id: &str, verdict: &Verdict) -> NoticeUpdate {
    let status = match verdict.outcome {
        Outcome::Publish => "received",
        other => status_of(other),
    };
    NoticeUpdate {
        notice_id: notice_id.to_owned(),
        status: status.into(),
        hold_until: verdict.hold_until.map(|h| h.with_timezone(&Utc)),
        errors: Some(findings_json(verdict, true)),
        warnings: Some(findings_json(verdict, false)),
    }
}

/// A held notice whose hold instant has come (`notice_id`, its hold timer due at `now`), judged
/// again against its procedures as they stand now, with them locked: what happened while it was
/// held decides, not what stood when it was held. Candidates held until their publicity start
/// are refused (W10) if an amendment or a re-sent tender moved the bid deadline past it
/// meanwhile; a notice whose procedure an objection suspended meanwhile waits for the answer;
/// an award whose candidates' publicity was extended is held again to the new end. Published,
/// it goes out as any publication does; refused, the notice and its records are `rejected` with
/// the findings, and an operator can release it as any refused notice. A notice no longer held
/// (released or discarded by an operator meanwhile) is left as it is.
async fn release_hold(
    tx: &mut PgConnection,
    engine: &Engine<'_>,
    notice_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(doc) = notices::notice_json(tx, notice_id).await? else {
        return Ok(());
    };
    let notice: Notice = serde_json::from_value(doc)?;
    let mut unit = Unit::default();
    // Procedures locked before the status is read: an operator's decision on the same notice
    // (`decide`) takes the same locks, so one of them sees the other's result.
    let states = unit.take_states(tx, &procedure_keys(&notice)).await?;
    unit.put_states(states, false);
    if notices::status(tx, &notice.id).await?.as_deref() != Some("held") {
        return Ok(());
    }
    let held: Verdict = match notices::outcome(tx, &notice.id).await? {
        Some(outcome) => serde_json::from_value(outcome)?,
        None => anyhow::bail!("held notice {} has no outcome", notice.id),
    };
    let verdict = judge_and_record(&mut unit, tx, engine, &notice, Some(&held), now).await?;
    unit.set_notice_records(notice_update(&notice.id, &verdict));
    unit.flush(tx).await?;
    match verdict.outcome {
        Outcome::Publish => HoldReleased {
            notice_id: &notice.id,
        }
        .emit(),
        outcome => {
            tracing::warn!(notice = %notice.id, outcome = outcome.as_str(),
                errors = %findings_json(&verdict, true),
                message = "held notice judged again when its hold ended: not published")
        }
    }
    Ok(())
}

/// Re-judges the notices waiting in this notice's procedures until none moves: parked ones
/// (their parent may have come) and held ones with no instant (an objection or complaint may
/// have been answered).
async fn release_parked(
    unit: &mut Unit,
    tx: &mut PgConnection,
    engine: &Engine<'_>,
    notice: &Notice,
    now: DateTime<Utc>,
) -> Result<(), store::StoreError> {
    let keys: Vec<String> = notice.procedures.iter().map(ToString::to_string).collect();
    loop {
        let mut progressed = false;
        for parked in unit.waiting_in(tx, &keys).await? {
            let verdict = judge_and_record(unit, tx, engine, &parked, None, now).await?;
            if !waits(&verdict) {
                progressed = true;
                unit.set_notice_records(notice_update(&parked.id, &verdict));
                tracing::info!(notice = %parked.id, outcome = verdict.outcome.as_str(), message = "parked notice released");
            }
        }
        if !progressed {
            return Ok(());
        }
    }
}

/// What a window timer keeps until its window closes: what the `window.closed` event will say.
#[derive(Debug, Serialize, Deserialize)]
struct WindowTimer {
    window: String,
    start: Instant,
    end: Instant,
    procedure: String,
    title: String,
    // Absent in timers written before window events carried them.
    #[serde(default)]
    kind: Option<Kind>,
    #[serde(default)]
    regime: Option<Regime>,
    #[serde(default)]
    region: Option<String>,
}

impl WindowTimer {
    /// The event of its `closing` (in the procedures where the window is in force; not empty),
    /// announced in the first of them.
    fn closed(self, notice_id: &str, closed_at: DateTime<Utc>, closing: Closing) -> WindowClosed {
        let procedures = closing.procedures;
        WindowClosed {
            notice_id: notice_id.to_owned(),
            window: self.window,
            start: self.start,
            end: self.end,
            procedure: procedures.first().cloned().unwrap_or(self.procedure),
            procedures,
            notice_status: closing.notice_status,
            title: self.title,
            closed_at,
            kind: self.kind,
            regime: self.regime,
            region: self.region,
        }
    }
}

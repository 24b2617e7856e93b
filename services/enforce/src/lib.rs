//! The enforce service: applies the period engine to every valid notice with its procedures'
//! state from PostgreSQL, and decides publish, hold, park or reject. Decisions, state, durable
//! timers and the events they cause are written in one transaction (events through the outbox),
//! so a crash anywhere loses nothing and repeats nothing. Holds and window closings are timers
//! polled with `FOR UPDATE SKIP LOCKED`; parked notices are re-judged when a parent arrives.

use chrono::{DateTime, Utc};
use gongshi_domain::events::{
    Decision, Event as _, NoticeDecided, NoticePublished, NoticeValid, WindowClosed,
};
use gongshi_domain::finding::Release;
use gongshi_domain::period::{
    Engine, Outcome, StageStatus, Verdict, extended_listing, judge_into, procedure_keys,
    releases_parked, waits,
};
use gongshi_domain::values::datetime::{Instant, shanghai};
use gongshi_domain::{Kind, Notice, Regime};
use gongshi_platform::bus::{self, Quarantine, topics};
use gongshi_platform::store::{self, notices};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::{HoldReleased, NoticeDuplicate, NoticeJudged};
use gongshi_platform::{Bus, Clock, Envelope, HandlerError, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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

impl Enforce {
    /// Runs the consumer, the timer loop and the outbox relay until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let consumer = self.bus.consumer(GROUP, &[topics::VALID])?;
        tracing::info!(message = "enforce consuming", topic = topics::VALID);
        let timers = {
            let this = self.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { this.timer_loop(shutdown).await })
        };
        let this = self.clone();
        let quarantine = Quarantine::new(self.store.clone(), self.bus.clone());
        // The outbox is relayed after each batch (and each lone event): what a batch decided
        // reaches `public` without waiting for the timer tick.
        bus::consume_batches(
            consumer,
            bus::ENFORCE.name,
            &quarantine,
            shutdown.clone(),
            Enforce::MAX_BATCH,
            |events| {
                let this = this.clone();
                async move { this.handle_and_relay(&events).await }
            },
            |event| {
                let this = this.clone();
                async move { this.handle_and_relay(std::slice::from_ref(&event)).await }
            },
        )
        .await?;
        shutdown.cancel();
        timers.await??;
        Ok(())
    }

    /// [`Enforce::handle_batch`], then the outbox relayed.
    async fn handle_and_relay(&self, events: &[Envelope]) -> Result<(), HandlerError> {
        self.handle_batch(events).await?;
        self.relay().await;
        Ok(())
    }

    async fn relay(&self) {
        if let Err(e) = store::outbox::relay(&self.store.pool, &self.bus).await {
            tracing::warn!(error = %format!("{e:#}"), message = "outbox relay incomplete; retried on the next tick");
        }
    }

    async fn timer_loop(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            let fired = match self.fire_due_timers().await {
                Ok(fired) => fired,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), message = "timer tick failed; retrying");
                    0
                }
            };
            self.relay().await;
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
    pub async fn handle_batch(&self, events: &[Envelope]) -> Result<(), HandlerError> {
        let now = self.clock.now();
        let engine = Engine::embedded();
        let mut tx = self.store.pool.begin().await?;
        // Read for the whole batch in two statements, then kept up to date as the batch goes:
        // which events are new, and which of its notices the store knows already.
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let fresh = store::first_times(&mut tx, "enforce", &ids).await?;
        let notice_ids: Vec<&str> = events
            .iter()
            .filter(|e| e.event_type != NoticeDecided::TYPE)
            .filter_map(|e| NoticeValid::notice_id_in(&e.payload))
            .collect();
        let mut known = notices::known(&mut tx, &notice_ids).await?;
        let mut done = Vec::with_capacity(events.len());
        for (event, fresh) in events.iter().zip(fresh) {
            done.push(if !fresh {
                Done::Nothing
            } else if event.event_type == NoticeDecided::TYPE {
                self.decide(&mut tx, &engine, event, now).await?
            } else {
                self.judge(&mut tx, &engine, event, &mut known, now).await?
            });
        }
        tx.commit().await?;
        done.iter().for_each(Done::report);
        Ok(())
    }

    /// Judges one valid notice, seen for the first time, in `tx`: publish, hold, park or reject,
    /// or `duplicate` when its notice id is `known` already (in the store, or judged earlier in
    /// the batch; a judged notice joins `known`).
    async fn judge(
        &self,
        tx: &mut PgConnection,
        engine: &Engine<'_>,
        event: &Envelope,
        known: &mut std::collections::HashSet<String>,
        now: DateTime<Utc>,
    ) -> Result<Done, HandlerError> {
        let NoticeValid {
            receipt,
            index: idx,
            notice,
            warnings,
        } = event.decode()?;
        let warnings =
            serde_json::to_value(&warnings).map_err(|e| HandlerError::Permanent(e.into()))?;
        if known.contains(&notice.id) {
            store::receipts::set_status(
                tx,
                &receipt,
                idx,
                "duplicate",
                Some(&notice.id),
                &json!([]),
                &warnings,
                None,
            )
            .await?;
            return Ok(Done::Duplicate(notice.id));
        }
        let verdict = judge_and_record(tx, engine, &notice, now).await?;
        known.insert(notice.id.clone());
        record_receipt(tx, &receipt, idx, &notice.id, &verdict, &warnings).await?;
        if releases_parked(verdict.outcome) {
            release_parked(tx, engine, &notice, now).await?;
        }
        Ok(Done::Judged {
            outcome: verdict.outcome.as_str(),
            notice_id: notice.id,
        })
    }

    /// Applies an operator's decision (seen for the first time) on a notice this service holds,
    /// parked or rejected:
    /// `release` publishes it now with the overridden findings saying who released it and why
    /// (its windows, timers and parked children follow as for any publication); `discard` takes
    /// it out of its procedures for good. A decision on a notice in any other status changes
    /// nothing (it moved on before the decision arrived) and is logged.
    async fn decide(
        &self,
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
        let mut states = Vec::new();
        for key in &keys {
            states.push(notices::lock_procedure(tx, key).await?);
        }
        let status = notices::status(tx, &decided.notice_id).await?;
        let applies = match decided.decision {
            Decision::Release => matches!(status.as_deref(), Some("held" | "rejected")),
            Decision::Discard => matches!(status.as_deref(), Some("held" | "rejected" | "parked")),
        };
        if !applies {
            tracing::warn!(notice = %decided.notice_id, status = ?status, decision = ?decided.decision,
                message = "operator decision does not apply to the notice's status; nothing changed");
            settle_receipt(tx, &decided.notice_id, status.as_deref()).await?;
            return Ok(Done::Nothing);
        }
        match decided.decision {
            Decision::Discard => {
                for state in &mut states {
                    state.stages.retain(|s| s.notice_id != decided.notice_id);
                    notices::save_procedure(tx, state).await?;
                }
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
                    settle_receipt(tx, &decided.notice_id, status.as_deref()).await?;
                    return Ok(Done::Nothing);
                }
                for state in &mut states {
                    if let Some(stage) = state.stages.iter_mut().find(|s| s.notice_id == notice.id)
                    {
                        stage.status = StageStatus::Published;
                    }
                    notices::save_procedure(tx, state).await?;
                }
                let region = notice
                    .region
                    .clone()
                    .or_else(|| states.iter().find_map(|s| s.region().map(str::to_owned)));
                record_notice(tx, &notice, &verdict).await?;
                schedule(tx, &notice, &verdict, region, now).await?;
                store::receipts::set_status_by_notice(tx, &notice.id, "received", None).await?;
                release_parked(tx, engine, &notice, now).await?;
            }
        }
        Ok(Done::Decided(decided))
    }

    /// Fires due timers: holds publish their notice; window ends announce themselves.
    pub async fn fire_due_timers(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let mut tx = self.store.pool.begin().await?;
        let due = notices::due_timers(&mut tx, now, Enforce::TIMERS_PER_ROUND as i64).await?;
        for timer in &due {
            match timer.kind.as_str() {
                "hold" => {
                    if let Some(doc) = notices::notice_json(&mut tx, &timer.notice_id).await? {
                        let notice: Notice = serde_json::from_value(doc)?;
                        // Procedures locked before the status is read: an operator's decision on
                        // the same notice (`decide`) takes the same locks, so one of them sees
                        // the other's result.
                        let mut states = Vec::new();
                        for key in &procedure_keys(&notice) {
                            states.push(notices::lock_procedure(&mut tx, key).await?);
                        }
                        if notices::status(&mut tx, &notice.id).await?.as_deref() == Some("held") {
                            let mut region = notice.region.clone();
                            for state in &mut states {
                                if let Some(stage) =
                                    state.stages.iter_mut().find(|s| s.notice_id == notice.id)
                                {
                                    stage.status = StageStatus::Published;
                                }
                                region = region.or_else(|| state.region().map(str::to_owned));
                                notices::save_procedure(&mut tx, state).await?;
                            }
                            // Stamped with its procedures locked: its place in publication order.
                            notices::set_status(&mut tx, &notice.id, "published").await?;
                            let outcome =
                                notices::outcome(&mut tx, &notice.id)
                                    .await?
                                    .ok_or_else(|| {
                                        anyhow::anyhow!("held notice {} has no outcome", notice.id)
                                    })?;
                            let verdict: Verdict = serde_json::from_value(outcome)?;
                            let event = NoticePublished::new(&notice, &verdict, now, region);
                            store::outbox::enqueue(&mut tx, topics::PUBLIC, &event.envelope())
                                .await?;
                            HoldReleased {
                                notice_id: &notice.id,
                            }
                            .emit();
                        }
                    }
                }
                // Only a published notice's windows are announced (a discarded or still held
                // notice's are not the public's).
                "window"
                    if notices::status(&mut tx, &timer.notice_id).await?.as_deref()
                        != Some("published") =>
                {
                    tracing::info!(timer = %timer.timer_id, message = "window of an unpublished notice; not announced");
                }
                "window" if extend_listing(&mut tx, &timer.notice_id, &timer.payload).await? => {}
                "window" => {
                    let closed = serde_json::from_value::<WindowTimer>(timer.payload.clone())
                        .map(|t| t.closed(&timer.notice_id, timer.due_at));
                    match closed {
                        Ok(event) => {
                            store::outbox::enqueue(&mut tx, topics::PUBLIC, &event.envelope())
                                .await?;
                        }
                        // Written by this service; unreadable means a bug, not an outage.
                        Err(e) => tracing::error!(timer = %timer.timer_id, error = %e,
                            message = "window timer unreadable; not announced"),
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
    notices::add_timer(
        tx,
        &format!("window:{notice_id}:listing:{}", extended.end.timestamp()),
        "window",
        notice_id,
        extended.end.with_timezone(&Utc),
        &serde_json::to_value(&next)?,
    )
    .await?;
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

/// Judges a notice against its locked procedures, saves their state, the notice row, its timers,
/// and queues its publication when published now.
async fn judge_and_record(
    tx: &mut PgConnection,
    engine: &Engine<'_>,
    notice: &Notice,
    now: DateTime<Utc>,
) -> Result<Verdict, store::StoreError> {
    let mut states = Vec::new();
    for key in procedure_keys(notice) {
        states.push(notices::lock_procedure(tx, &key).await?);
    }
    let verdict = judge_into(engine, notice, &mut states, now.with_timezone(&shanghai()));
    for state in &states {
        notices::save_procedure(tx, state).await?;
    }
    // A notice without its own REGION_CODE belongs to its procedure's region (from the tender).
    let region = notice
        .region
        .clone()
        .or_else(|| states.iter().find_map(|s| s.region().map(str::to_owned)));
    record_notice(tx, notice, &verdict).await?;
    schedule(tx, notice, &verdict, region, now).await?;
    Ok(verdict)
}

/// Saves the notice's row with its verdict (status from the outcome).
async fn record_notice(
    tx: &mut PgConnection,
    notice: &Notice,
    verdict: &Verdict,
) -> Result<(), store::StoreError> {
    let verdict_json = serde_json::to_value(verdict).unwrap_or(Value::Null);
    let notice_json = serde_json::to_value(notice).unwrap_or(Value::Null);
    let procedure = notice.procedure.to_string();
    notices::upsert(
        tx,
        &notices::NoticeRow {
            notice_id: &notice.id,
            procedure_key: &procedure,
            platform: &notice.procedure.platform,
            project: &notice.procedure.project,
            section: &notice.procedure.section,
            table_code: &notice.table,
            kind: notice.kind.as_str(),
            regime: notice.regime.as_str(),
            content_hash: &notice.content_hash,
            data_timestamp: notice.data_timestamp.map(|t| t.with_timezone(&Utc)),
            status: status_of(verdict.outcome),
            outcome: verdict_json,
            notice: notice_json,
            hold_until: verdict.hold_until.map(|h| h.with_timezone(&Utc)),
        },
    )
    .await
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

/// What a verdict sets going: a publication queued in the outbox, a hold's timer, and the timers
/// of the legal windows that close after `now`.
async fn schedule(
    tx: &mut PgConnection,
    notice: &Notice,
    verdict: &Verdict,
    region: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), store::StoreError> {
    let procedure = notice.procedure.to_string();
    let hold_until = verdict.hold_until.map(|h| h.with_timezone(&Utc));
    match verdict.outcome {
        Outcome::Publish => {
            let event = NoticePublished::new(notice, verdict, now, region.clone());
            store::outbox::enqueue(tx, topics::PUBLIC, &event.envelope()).await?
        }
        Outcome::Hold => {
            if let Some(due) = hold_until {
                notices::add_timer(
                    tx,
                    &format!("hold:{}", notice.id),
                    "hold",
                    &notice.id,
                    due,
                    &json!({}),
                )
                .await?;
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
                let payload = serde_json::to_value(&payload).unwrap_or(Value::Null);
                notices::add_timer(
                    tx,
                    &format!("window:{}:{name}", notice.id),
                    "window",
                    &notice.id,
                    end,
                    &payload,
                )
                .await?;
            }
        }
    }
    Ok(())
}

fn findings_json(verdict: &Verdict, errors: bool) -> Value {
    Value::Array(
        verdict
            .findings
            .iter()
            .filter(|f| f.is_error() == errors)
            .map(|f| json!({"rule": f.rule, "path": f.path, "message": f.message, "severity": f.severity, "evidence": f.evidence}))
            .collect(),
    )
}

async fn record_receipt(
    tx: &mut PgConnection,
    receipt: &str,
    idx: i32,
    notice_id: &str,
    verdict: &Verdict,
    warnings: &Value,
) -> Result<(), store::StoreError> {
    let mut all_warnings = warnings.as_array().cloned().unwrap_or_default();
    if let Value::Array(more) = findings_json(verdict, false) {
        all_warnings.extend(more);
    }
    // A published notice becomes `published` once the feed has it (the publish service).
    let status = match verdict.outcome {
        Outcome::Publish => "received",
        other => status_of(other),
    };
    store::receipts::set_status(
        tx,
        receipt,
        idx,
        status,
        Some(notice_id),
        &findings_json(verdict, true),
        &Value::Array(all_warnings),
        verdict.hold_until.map(|h| h.with_timezone(&Utc)),
    )
    .await
}

/// Re-judges the notices waiting in this notice's procedures until none moves: parked ones
/// (their parent may have come) and held ones with no instant (an objection or complaint may
/// have been answered).
async fn release_parked(
    tx: &mut PgConnection,
    engine: &Engine<'_>,
    notice: &Notice,
    now: DateTime<Utc>,
) -> Result<(), store::StoreError> {
    let keys: Vec<String> = notice.procedures.iter().map(ToString::to_string).collect();
    loop {
        let mut progressed = false;
        for (notice_id, doc) in notices::waiting_in(tx, &keys).await? {
            let Ok(parked) = serde_json::from_value::<Notice>(doc) else {
                tracing::error!(notice = %notice_id, message = "parked notice unreadable");
                continue;
            };
            let verdict = judge_and_record(tx, engine, &parked, now).await?;
            if !waits(&verdict) {
                progressed = true;
                let status = match verdict.outcome {
                    Outcome::Publish => "received",
                    other => status_of(other),
                };
                store::receipts::set_status_by_notice(
                    tx,
                    &parked.id,
                    status,
                    verdict.hold_until.map(|h| h.with_timezone(&Utc)),
                )
                .await?;
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
    fn closed(self, notice_id: &str, closed_at: DateTime<Utc>) -> WindowClosed {
        WindowClosed {
            notice_id: notice_id.to_owned(),
            window: self.window,
            start: self.start,
            end: self.end,
            procedure: self.procedure,
            title: self.title,
            closed_at,
            kind: self.kind,
            regime: self.regime,
            region: self.region,
        }
    }
}

//! The overview (`GET /ops/` and `GET /ops/api/overview`): records received and published per
//! minute (a chart of the last 24 hours), records by receipt status, per consumer group its lag
//! from the broker, the age of its oldest unprocessed event and the event it is retrying with
//! the error, the health of the bus, the store and the search index, and webhook delivery
//! (订阅推送): deliveries waiting and given up, and the receivers failing now.
//!
//! Whether a consumer is stuck is decided once, in [`ConsumerState::of`], for the JSON and the
//! page alike: retrying an event, or an unprocessed event older than [`STUCK_AFTER_S`], is red.
//! Times here are wall-clock times (the pipeline's throughput), not the legal clock.

use crate::Gateway;
use crate::ops::auth::Operator;
use crate::ops::chart::{self, LineChart, Series};
use crate::pages::{self, format};
use crate::routes::health;
use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Timelike as _, Utc};
use gongshi_platform::bus::{self, lag::GroupLag};
use gongshi_platform::store::{overview::Minute, retries::Retrying, subscriptions};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::{
    ConsumerMeasured, DependencyChecked, RecordsCounted, WebhooksMeasured,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// An unprocessed event this old (seconds) makes its consumer red: stuck. A consumer keeps up in
/// well under a second, and a poison event is set aside within seconds, so half a minute of
/// waiting is an outage or a hang — shown red well within the minute the console promises.
pub const STUCK_AFTER_S: i64 = 30;

/// An unprocessed event this old (seconds) makes its consumer amber: behind. Committed offsets
/// trail the consumers by up to a second, so younger lag is normal.
pub const BEHIND_AFTER_S: i64 = 5;

/// Minutes averaged for `rates`.
const RATE_MINUTES: usize = 5;

use crate::ops::records::STATUSES;

/// `GET /ops/api/overview`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// When this was measured (wall clock).
    pub now: DateTime<Utc>,
    /// Receipt records by status, over every record ever received (every status listed, 0 when
    /// none); empty when the store could not count them.
    pub counts: BTreeMap<String, i64>,
    /// Throughput over the last five minutes.
    pub rates: Rates,
    /// Per consumer group of the pipeline, in pipeline order.
    pub consumers: Vec<Consumer>,
    /// What the pipeline depends on.
    pub health: DependencyHealth,
    /// Webhook delivery; `null` when the store could not say.
    pub webhooks: Option<Webhooks>,
}

/// Webhook delivery (订阅推送) over every live subscription. A failing receiver is its
/// subscriber's to mend (`PATCH /v1/subscriptions/{id}`); many failing at once points at the
/// gateway's own egress.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Webhooks {
    /// Live subscriptions.
    pub subscriptions: i64,
    /// Deliveries waiting for a first or further attempt.
    pub pending: i64,
    /// Seconds since the oldest waiting delivery was queued; `null` when none waits.
    pub oldest_pending_age_s: Option<i64>,
    /// Deliveries given up and not queued again since (`POST /v1/subscriptions/{id}/redeliver`).
    pub failed: i64,
    /// Receivers failing now, in all.
    pub failing_total: i64,
    /// The longest-failing of them (at most 20).
    pub failing: Vec<FailingReceiver>,
}

/// A subscription whose receiver is failing as a whole.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FailingReceiver {
    /// Subscription id.
    pub subscription_id: String,
    /// The receiver's origin (scheme, host, port): its path may hold the bidder's credentials.
    pub receiver: String,
    /// Failures in a row.
    pub consecutive_failures: i32,
    /// Since when.
    pub failing_since: Option<DateTime<Utc>>,
    /// No delivery is sent before this instant.
    pub paused_until: Option<DateTime<Utc>>,
    /// Its deliveries waiting.
    pub pending: i64,
    /// What went wrong last (any URL in it cut to its origin).
    pub last_error: Option<String>,
}

impl Webhooks {
    fn of(s: subscriptions::Summary, now: DateTime<Utc>) -> Webhooks {
        Webhooks {
            subscriptions: s.subscriptions,
            pending: s.pending,
            oldest_pending_age_s: s
                .oldest_pending_at
                .map(|at| (now - at).num_seconds().max(0)),
            failed: s.failed,
            failing_total: s.failing_total,
            failing: s
                .failing
                .into_iter()
                .map(|f| FailingReceiver {
                    receiver: crate::subscriptions::receiver_origin(&f.webhook_url),
                    subscription_id: f.subscription_id,
                    consecutive_failures: f.receiver.consecutive_failures,
                    failing_since: f.receiver.failing_since,
                    paused_until: f.receiver.paused_until,
                    pending: f.pending,
                    last_error: f
                        .receiver
                        .last_error
                        .as_deref()
                        .map(crate::subscriptions::origins_only),
                })
                .collect(),
        }
    }
}

/// Records per minute, averaged over the last five minutes; `null` when the store could not say.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct Rates {
    /// Records received per minute.
    pub received_per_min: Option<f64>,
    /// Notices published per minute.
    pub published_per_min: Option<f64>,
}

/// One consumer group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Consumer {
    /// Consumer group (without the deployment's topic prefix).
    pub group: String,
    /// The topic it consumes (without the prefix).
    pub topic: String,
    /// The stage (`validate`, `enforce`, `publish`).
    pub stage: String,
    /// Events produced but not yet processed, from the broker; `null` when the broker did not
    /// answer.
    pub lag: Option<i64>,
    /// Seconds since the oldest unprocessed event was produced (or, when the broker did not
    /// answer, since the retried event first failed); `null` when nothing waits.
    pub oldest_unprocessed_age_s: Option<i64>,
    /// The event it is retrying now, or `null`.
    pub retrying: Option<Retry>,
    /// `ok`, `behind`, `stuck` or `unknown` (see [`ConsumerState`]).
    pub state: ConsumerState,
}

/// The event a consumer is retrying.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Retry {
    /// The event id.
    pub event: Option<String>,
    /// The last error.
    pub error: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When it first failed.
    pub since: DateTime<Utc>,
}

/// How a consumer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsumerState {
    /// Keeping up.
    Ok,
    /// Events have waited more than [`BEHIND_AFTER_S`].
    Behind,
    /// Retrying an event, or an event has waited more than [`STUCK_AFTER_S`]: red.
    Stuck,
    /// The broker did not say, and nothing is being retried.
    Unknown,
}

impl ConsumerState {
    /// The one rule for the console's colours.
    pub fn of(lag: Option<i64>, age_s: Option<i64>, retrying: bool) -> ConsumerState {
        let age = age_s.unwrap_or(0);
        if retrying || age >= STUCK_AFTER_S {
            ConsumerState::Stuck
        } else if lag.is_none() {
            ConsumerState::Unknown
        } else if lag.unwrap_or(0) > 0 && age >= BEHIND_AFTER_S {
            ConsumerState::Behind
        } else {
            ConsumerState::Ok
        }
    }

    /// Its Chinese label.
    pub fn label(self) -> &'static str {
        match self {
            ConsumerState::Ok => "正常",
            ConsumerState::Behind => "积压",
            ConsumerState::Stuck => "卡住",
            ConsumerState::Unknown => "未知",
        }
    }

    /// Its CSS class (`ok`, `warn`, `bad`).
    pub fn class(self) -> &'static str {
        match self {
            ConsumerState::Ok => "ok",
            ConsumerState::Behind | ConsumerState::Unknown => "warn",
            ConsumerState::Stuck => "bad",
        }
    }
}

/// Whether what the pipeline depends on answers.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct DependencyHealth {
    /// The broker answers.
    pub bus: bool,
    /// PostgreSQL answers.
    pub store: bool,
    /// The search index answers; `null` when this process has none.
    pub index: Option<bool>,
}

/// One consumer's view from its broker-side lag and what the store says it retries.
fn consumer(
    stage: &bus::Stage,
    lag: Option<&GroupLag>,
    retries: &[Retrying],
    now: DateTime<Utc>,
) -> Consumer {
    // A retry row is current while its event is still unprocessed by the group.
    let retrying = retries
        .iter()
        .filter(|r| r.consumer == stage.name && r.topic == stage.topic)
        .filter(|r| lag.is_none_or(|l| l.unprocessed(r.partition, r.offset)))
        .min_by_key(|r| r.first_failed_at);
    let oldest = lag
        .and_then(GroupLag::oldest_unprocessed_at)
        .or(retrying.map(|r| r.first_failed_at));
    let age = oldest.map(|at| (now - at).num_seconds().max(0));
    let lag_total = lag.map(GroupLag::lag);
    Consumer {
        group: stage.group.to_owned(),
        topic: stage.topic.to_owned(),
        stage: stage.name.to_owned(),
        lag: lag_total,
        oldest_unprocessed_age_s: age,
        state: ConsumerState::of(lag_total, age, retrying.is_some()),
        retrying: retrying.map(|r| Retry {
            event: r.event_id.clone(),
            error: r.error.clone(),
            attempts: r.attempts,
            since: r.first_failed_at,
        }),
    }
}

/// The average per minute of the last [`RATE_MINUTES`] minutes of `series`.
fn rate(series: &[Minute], value: impl Fn(&Minute) -> i64) -> f64 {
    let tail = &series[series.len().saturating_sub(RATE_MINUTES)..];
    let sum: i64 = tail.iter().map(value).sum();
    sum as f64 / RATE_MINUTES as f64
}

/// A store read the overview can do without: logged, and `None`. The overview is what an
/// operator looks at when something breaks, so one failing query must not blank the page.
fn soft<T>(what: &str, r: Result<T, gongshi_platform::store::StoreError>) -> Option<T> {
    r.inspect_err(|e| tracing::warn!(error = %e, what, message = "overview: store read failed"))
        .ok()
}

/// Measures the overview now, and sets the overview's gauges on `/metrics` to what it found
/// (`gongshi_consumer_*`, `gongshi_records`, `gongshi_dependency_up`). What the store cannot say
/// is left out (counts empty, rates `null`, no retrying known) rather than failing the whole.
pub async fn measure(gw: &Gateway) -> Overview {
    let now = Utc::now();
    let pool = &gw.store.pool;
    let lags = futures::future::join_all(
        bus::STAGES
            .iter()
            .map(|s| async move { gw.bus.group_lag(s.group, s.topic).await.ok() }),
    );
    let since = now - Duration::minutes(RATE_MINUTES as i64 - 1);
    let (counts, recent, retries, webhooks, lags, readiness, index) = tokio::join!(
        gongshi_platform::store::overview::status_counts(pool),
        gongshi_platform::store::overview::per_minute(pool, since, now),
        gongshi_platform::store::retries::list(pool),
        subscriptions::summary(pool),
        lags,
        health::readiness(gw),
        health::index_health(gw),
    );
    let dependencies = [
        ("bus", Some(readiness.bus)),
        ("store", Some(readiness.store)),
        ("index", index),
    ];
    for (dependency, up) in dependencies {
        if let Some(up) = up {
            DependencyChecked { dependency, up }.emit();
        }
    }
    let recent = soft("rates", recent);
    let retries = soft("retries", retries).unwrap_or_default();
    let counts: BTreeMap<String, i64> = soft("counts", counts)
        .map(|found| {
            let mut all: BTreeMap<String, i64> =
                STATUSES.iter().map(|(s, _)| ((*s).to_owned(), 0)).collect();
            all.extend(found);
            all
        })
        .unwrap_or_default();
    for (status, count) in &counts {
        RecordsCounted {
            status,
            count: *count,
        }
        .emit();
    }
    let consumers: Vec<Consumer> = bus::STAGES
        .iter()
        .zip(&lags)
        .map(|(stage, lag)| consumer(stage, lag.as_ref(), &retries, now))
        .collect();
    for c in &consumers {
        ConsumerMeasured {
            group: &c.group,
            lag: c.lag,
            oldest_unprocessed_age_s: c.oldest_unprocessed_age_s,
            stuck: c.state == ConsumerState::Stuck,
        }
        .emit();
    }
    let webhooks = soft("webhooks", webhooks).map(|w| Webhooks::of(w, now));
    if let Some(w) = &webhooks {
        WebhooksMeasured {
            receivers_failing: w.failing_total,
            deliveries_pending: w.pending,
        }
        .emit();
    }
    Overview {
        now,
        counts,
        rates: Rates {
            received_per_min: recent.as_deref().map(|r| rate(r, |m| m.received)),
            published_per_min: recent.as_deref().map(|r| rate(r, |m| m.published)),
        },
        consumers,
        health: DependencyHealth {
            bus: readiness.bus,
            store: readiness.store,
            index,
        },
        webhooks,
    }
}

/// `GET /ops/api/overview`: the overview as JSON (401 without an operator).
#[utoipa::path(get, path = "/ops/api/overview", tag = "operators", operation_id = "ops_overview",
    responses((status = 200, body = Overview),
        (status = 401, description = "No operator credentials", body = gongshi_platform::api_error::ErrorBody)),
    security(("operator" = [])))]
pub async fn api(_op: Operator, State(gw): State<Gateway>) -> Json<Overview> {
    Json(measure(&gw).await)
}

/// The overview page.
#[derive(Template)]
#[template(path = "ops/overview.html")]
struct OverviewPage {
    op: Operator,
    measured_at: String,
    statuses: Vec<StatusRow>,
    rates: Rates,
    consumers: Vec<ConsumerRow>,
    health: Vec<HealthRow>,
    hour_chart: LineChart,
    day_chart: LineChart,
    stuck: usize,
    received_24h: i64,
    published_24h: i64,
    webhooks: Option<WebhooksRow>,
}

struct WebhooksRow {
    w: Webhooks,
    oldest_pending: String,
    failing: Vec<FailingRow>,
}

struct FailingRow {
    f: FailingReceiver,
    since: String,
    paused_until: String,
}

struct StatusRow {
    status: &'static str,
    label: &'static str,
    /// `None` when the store could not count.
    count: Option<i64>,
    /// Whether an operator has something to do about records in this status.
    attention: bool,
}

struct ConsumerRow {
    c: Consumer,
    age: String,
    since: String,
}

struct HealthRow {
    label: &'static str,
    state: &'static str,
    class: &'static str,
}

/// Seconds as people read them: `45 秒`, `3 分 20 秒`, `2 小时 5 分`.
pub(crate) fn duration_zh(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 60 {
        format!("{s} 秒")
    } else if s < 3600 {
        format!("{} 分 {} 秒", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{} 小时 {} 分", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} 天 {} 小时", s / 86_400, (s % 86_400) / 3600)
    }
}

/// Minutes summed into buckets of `per` minutes, each as a per-minute average.
fn bucketed(series: &[Minute], per: usize, value: impl Fn(&Minute) -> i64) -> Vec<f64> {
    series
        .chunks(per)
        .map(|c| c.iter().map(&value).sum::<i64>() as f64 / c.len() as f64)
        .collect()
}

/// A minute's start as Beijing wall time (`09:30`).
fn hhmm(at: DateTime<Utc>) -> String {
    (at + Duration::hours(8)).format("%H:%M").to_string()
}

/// The last hour minute by minute, labelled every ten minutes.
fn hour_chart(series: &[Minute]) -> LineChart {
    let hour = &series[series.len().saturating_sub(60)..];
    let values = |f: fn(&Minute) -> i64| hour.iter().map(|m| f(m) as f64).collect::<Vec<_>>();
    let (received, published) = (values(|m| m.received), values(|m| m.published));
    let labels: Vec<(usize, String)> = hour
        .iter()
        .enumerate()
        .filter(|(_, m)| m.at.minute().is_multiple_of(10))
        .map(|(i, m)| (i, hhmm(m.at)))
        .collect();
    chart::line_chart(
        "最近 1 小时每分钟接收记录数与发布公告数",
        &[
            Series {
                label: "接收记录/分钟",
                class: "s-received",
                values: &received,
            },
            Series {
                label: "发布公告/分钟",
                class: "s-published",
                values: &published,
            },
        ],
        &labels,
        640,
        220,
    )
}

/// The last 24 hours in five-minute buckets (per-minute averages), labelled every three hours.
fn day_chart(series: &[Minute]) -> LineChart {
    const PER: usize = 5;
    let received = bucketed(series, PER, |m| m.received);
    let published = bucketed(series, PER, |m| m.published);
    let labels: Vec<(usize, String)> = series
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            let bj = m.at + Duration::hours(8);
            bj.minute() == 0 && bj.hour().is_multiple_of(3)
        })
        .map(|(i, m)| (i / PER, hhmm(m.at)))
        .collect();
    chart::line_chart(
        "最近 24 小时每分钟接收记录数与发布公告数（5 分钟平均）",
        &[
            Series {
                label: "接收记录/分钟",
                class: "s-received",
                values: &received,
            },
            Series {
                label: "发布公告/分钟",
                class: "s-published",
                values: &published,
            },
        ],
        &labels,
        640,
        220,
    )
}

/// `GET /ops/`: the overview page (auto-refreshes every 15 s).
pub async fn page(op: Operator, State(gw): State<Gateway>) -> Response {
    let now = Utc::now();
    let (overview, series) = tokio::join!(
        measure(&gw),
        gongshi_platform::store::overview::per_minute(
            &gw.store.pool,
            now - Duration::hours(24),
            now
        )
    );
    let series = soft("chart", series).unwrap_or_default();
    let hour_chart = hour_chart(&series);
    let day_chart = day_chart(&series);
    let statuses = STATUSES
        .iter()
        .map(|(status, label)| StatusRow {
            status,
            label,
            count: overview.counts.get(*status).copied(),
            attention: matches!(
                *status,
                "invalid" | "rejected" | "quarantined" | "parked" | "held"
            ) && overview.counts.get(*status).is_some_and(|n| *n > 0),
        })
        .collect();
    let yes_no = |ok: Option<bool>| match ok {
        Some(true) => ("正常", "ok"),
        Some(false) => ("不可用", "bad"),
        None => ("不在本进程", "muted"),
    };
    let health = [
        ("消息总线 (Kafka)", Some(overview.health.bus)),
        ("数据库 (PostgreSQL)", Some(overview.health.store)),
        ("搜索索引", overview.health.index),
    ]
    .into_iter()
    .map(|(label, ok)| {
        let (state, class) = yes_no(ok);
        HealthRow {
            label,
            state,
            class,
        }
    })
    .collect();
    let stuck = overview
        .consumers
        .iter()
        .filter(|c| c.state == ConsumerState::Stuck)
        .count();
    let consumers = overview
        .consumers
        .iter()
        .map(|c| ConsumerRow {
            age: c
                .oldest_unprocessed_age_s
                .map_or_else(|| "—".to_owned(), duration_zh),
            since: c
                .retrying
                .as_ref()
                .map(|r| format::beijing(r.since))
                .unwrap_or_default(),
            c: c.clone(),
        })
        .collect();
    pages::html(
        StatusCode::OK,
        &OverviewPage {
            op,
            measured_at: format::beijing(overview.now),
            statuses,
            rates: overview.rates,
            consumers,
            health,
            hour_chart,
            day_chart,
            stuck,
            received_24h: series.iter().map(|m| m.received).sum(),
            published_24h: series.iter().map(|m| m.published).sum(),
            webhooks: overview.webhooks.map(|w| WebhooksRow {
                oldest_pending: w
                    .oldest_pending_age_s
                    .map_or_else(|| "—".to_owned(), duration_zh),
                failing: w
                    .failing
                    .iter()
                    .map(|f| FailingRow {
                        since: f.failing_since.map(format::beijing).unwrap_or_default(),
                        paused_until: f.paused_until.map(format::beijing).unwrap_or_default(),
                        f: f.clone(),
                    })
                    .collect(),
                w,
            }),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retrying_or_a_half_minute_old_event_is_red() {
        use ConsumerState::*;
        assert_eq!(ConsumerState::of(Some(0), None, false), Ok);
        assert_eq!(ConsumerState::of(Some(3), Some(1), false), Ok);
        assert_eq!(ConsumerState::of(Some(3), Some(6), false), Behind);
        assert_eq!(ConsumerState::of(Some(1), Some(30), false), Stuck);
        assert_eq!(ConsumerState::of(Some(1), Some(0), true), Stuck);
        assert_eq!(ConsumerState::of(None, None, false), Unknown);
        assert_eq!(ConsumerState::of(None, None, true), Stuck);
    }

    #[test]
    fn durations_read_in_chinese() {
        assert_eq!(duration_zh(45), "45 秒");
        assert_eq!(duration_zh(200), "3 分 20 秒");
        assert_eq!(duration_zh(7500), "2 小时 5 分");
        assert_eq!(duration_zh(90_000), "1 天 1 小时");
    }
}

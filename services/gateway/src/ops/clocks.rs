//! The legal clocks (`GET /ops/clocks`, JSON twin `GET /ops/api/clocks`): legal windows closing
//! today and this week (bid deadlines, publicity ends, challenge periods — the enforce service's
//! window timers), held notices with their release times, and parked notices with the stage they
//! wait for and for how long; a notice parked longer than `GONGSHI_OPS_PARKED_FLAG_DAYS`
//! (default 7 calendar days) is flagged.
//!
//! "Today" and "this week" (Monday to Sunday) are Beijing dates of the pipeline's legal clock;
//! how long a notice has waited is wall-clock time.

use crate::Gateway;
use crate::feeds::item::window_label;
use crate::ops::auth::Operator;
use crate::ops::overview::duration_zh;
use crate::ops::report::kind_name;
use crate::pages::{self, format};
use crate::routes::store_error;
use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use chrono::{DateTime, Datelike as _, Duration, FixedOffset, NaiveTime, TimeZone as _, Utc};
use gongshi_platform::ApiError;
use gongshi_platform::store::clocks::{self as store, Closing, Waiting};
use serde::Serialize;

/// Rows listed per table at most.
const LIMIT: i64 = 500;

/// `GET /ops/api/clocks`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Clocks {
    /// The legal clock's now.
    pub now: DateTime<Utc>,
    /// End of today (Beijing), exclusive.
    pub today_until: DateTime<Utc>,
    /// End of this week (Sunday, Beijing), exclusive.
    pub week_until: DateTime<Utc>,
    /// Windows closing from now to the end of today, soonest first.
    pub closing_today: Vec<Closing>,
    /// Windows closing after today and before the end of the week.
    pub closing_this_week: Vec<Closing>,
    /// Held notices, soonest release first.
    pub held: Vec<Waiting>,
    /// Parked notices, longest waiting first.
    pub parked: Vec<ParkedNotice>,
    /// Parked longer than this many days is flagged.
    pub parked_flag_days: u32,
}

/// A parked notice and whether it has waited too long.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParkedNotice {
    /// The notice.
    #[serde(flatten)]
    pub notice: Waiting,
    /// Parked longer than the configured days.
    pub flagged: bool,
}

/// Beijing time.
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// The ends (exclusive) of `now`'s Beijing day and of its Monday-to-Sunday week.
pub fn today_and_week_ends(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(&beijing()).date_naive();
    let midnight = |d: chrono::NaiveDate| {
        beijing()
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .single()
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let tomorrow = local + Duration::days(1);
    let days_to_monday = 7 - i64::from(local.weekday().num_days_from_monday());
    (
        midnight(tomorrow),
        midnight(local + Duration::days(days_to_monday)),
    )
}

async fn gather(gw: &Gateway) -> Result<Clocks, ApiError> {
    let now = gw.clock.now();
    let (today_until, week_until) = today_and_week_ends(now);
    let pool = &gw.store.pool;
    let (closing, held, parked) = tokio::join!(
        store::closing(pool, now, week_until, LIMIT),
        store::waiting(pool, "held", LIMIT),
        store::waiting(pool, "parked", LIMIT),
    );
    let (today, week): (Vec<_>, Vec<_>) = closing
        .map_err(store_error)?
        .into_iter()
        .partition(|c| c.closes_at < today_until);
    let days = gw.config.ops_parked_flag_days;
    let flag_after_s = i64::from(days) * 86_400;
    Ok(Clocks {
        now,
        today_until,
        week_until,
        closing_today: today,
        closing_this_week: week,
        held: held.map_err(store_error)?,
        parked: parked
            .map_err(store_error)?
            .into_iter()
            .map(|notice| ParkedNotice {
                flagged: notice.waited_s > flag_after_s,
                notice,
            })
            .collect(),
        parked_flag_days: days,
    })
}

/// `GET /ops/api/clocks`: the legal clocks as JSON (401 without an operator).
#[utoipa::path(get, path = "/ops/api/clocks", tag = "operators", operation_id = "ops_clocks",
    responses((status = 200, body = Clocks),
        (status = 401, description = "No operator credentials", body = gongshi_platform::api_error::ErrorBody)),
    security(("operator" = [])))]
pub async fn api(_op: Operator, State(gw): State<Gateway>) -> Result<Json<Clocks>, ApiError> {
    Ok(Json(gather(&gw).await?))
}

#[derive(Template)]
#[template(path = "ops/clocks.html")]
struct ClocksPage {
    op: Operator,
    now: String,
    today: Vec<ClosingRow>,
    week: Vec<ClosingRow>,
    held: Vec<WaitingRow>,
    parked: Vec<WaitingRow>,
    flag_days: u32,
    flagged: usize,
}

struct ClosingRow {
    notice_id: String,
    window: &'static str,
    closes_at: String,
    left: String,
    title: String,
    procedure: String,
    region: String,
}

struct WaitingRow {
    title: String,
    procedure: String,
    region: String,
    since: String,
    waited: String,
    hold_until: String,
    awaiting: String,
    flagged: bool,
    record: Option<String>,
}

fn closing_row(c: Closing, now: DateTime<Utc>) -> ClosingRow {
    ClosingRow {
        window: window_label(&c.window),
        closes_at: format::beijing(c.closes_at),
        left: duration_zh((c.closes_at - now).num_seconds()),
        region: c.region.as_deref().map(format::region).unwrap_or_default(),
        notice_id: c.notice_id,
        title: c.title,
        procedure: c.procedure,
    }
}

fn waiting_row(w: Waiting, flagged: bool) -> WaitingRow {
    WaitingRow {
        region: w.region.as_deref().map(format::region).unwrap_or_default(),
        since: format::beijing(w.since),
        waited: duration_zh(w.waited_s),
        hold_until: w.hold_until.map(format::beijing).unwrap_or_default(),
        awaiting: w
            .awaiting
            .as_deref()
            .map_or_else(|| "上一阶段公告".to_owned(), kind_name),
        record: w
            .receipt
            .as_ref()
            .zip(w.index)
            .map(|(r, i)| format!("/ops/records/{r}/{i}")),
        flagged,
        title: w.title,
        procedure: w.procedure,
    }
}

/// `GET /ops/clocks`: the legal clocks page.
pub async fn page(op: Operator, State(gw): State<Gateway>) -> Response {
    let clocks = match gather(&gw).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let now = clocks.now;
    let flagged = clocks.parked.iter().filter(|p| p.flagged).count();
    pages::html(
        StatusCode::OK,
        &ClocksPage {
            op,
            now: format::beijing(now),
            today: clocks
                .closing_today
                .into_iter()
                .map(|c| closing_row(c, now))
                .collect(),
            week: clocks
                .closing_this_week
                .into_iter()
                .map(|c| closing_row(c, now))
                .collect(),
            held: clocks
                .held
                .into_iter()
                .map(|w| waiting_row(w, false))
                .collect(),
            parked: clocks
                .parked
                .into_iter()
                .map(|p| waiting_row(p.notice, p.flagged))
                .collect(),
            flag_days: clocks.parked_flag_days,
            flagged,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_and_this_week_end_at_beijing_midnights() {
        // Wednesday 2025-03-05 10:00 Beijing.
        let now = DateTime::parse_from_rfc3339("2025-03-05T10:00:00+08:00")
            .expect("time")
            .with_timezone(&Utc);
        let (today, week) = today_and_week_ends(now);
        assert_eq!(today.to_rfc3339(), "2025-03-05T16:00:00+00:00");
        assert_eq!(week.to_rfc3339(), "2025-03-09T16:00:00+00:00");
        // Sunday night: the week ends at midnight.
        let sunday = DateTime::parse_from_rfc3339("2025-03-09T23:00:00+08:00")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(today_and_week_ends(sunday), (week, week));
    }
}

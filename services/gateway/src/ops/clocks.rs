//! The legal clocks (`GET /ops/clocks`, JSON twin `GET /ops/api/clocks`): legal windows closing
//! today and this week (bid deadlines, publicity ends, challenge periods — the enforce service's
//! window timers), held notices with their release times, and parked notices with the stage they
//! wait for and for how long; a notice parked longer than `GONGSHI_OPS_PARKED_FLAG_DAYS`
//! (default 7 calendar days) is flagged.
//!
//! The overview shows each list's first [`OVERVIEW_ROWS`] rows beside its true total; every list
//! pages on its own at `GET /ops/clocks/{table}?page=N&per_page=M` (JSON twin
//! `GET /ops/api/clocks/{table}`), `table` one of [`ClockTable`]'s slugs.
//!
//! "Today" and "this week" (Monday to Sunday) are Beijing dates of the pipeline's legal clock;
//! how long a notice has waited is wall-clock time.

use crate::Gateway;
use crate::feeds::item::window_label;
use crate::ops::auth::Operator;
use crate::ops::overview::duration_zh;
use crate::ops::records::MAX_PAGE;
use crate::ops::report::kind_name;
use crate::pages::{self, format};
use crate::routes::{store_error, whole_number};
use askama::Template;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use chrono::{DateTime, Datelike as _, Duration, FixedOffset, NaiveTime, TimeZone as _, Utc};
use gongshi_platform::store::clocks::{self as store, Closing, Waiting};
use gongshi_platform::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

/// Rows of each list on the overview (`/ops/clocks`, `/ops/api/clocks`).
pub const OVERVIEW_ROWS: i64 = 20;
/// Rows per page of one list when the query names none.
const PER_PAGE: i64 = 50;
/// Most rows per page a query may ask for.
const MAX_PER_PAGE: i64 = 500;

/// One of the clocks' lists, as its path segment names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClockTable {
    /// `today`: windows closing from now to the end of today.
    Today,
    /// `week`: windows closing after today and before the end of the week.
    Week,
    /// `held`: held notices, soonest release first.
    Held,
    /// `parked`: parked notices, longest waiting first.
    Parked,
}

impl ClockTable {
    /// Every list, in the overview's order.
    pub const ALL: [Self; 4] = [Self::Today, Self::Week, Self::Held, Self::Parked];

    /// The path segment (`today`, `week`, `held`, `parked`).
    pub fn slug(self) -> &'static str {
        match self {
            Self::Today => "today",
            Self::Week => "week",
            Self::Held => "held",
            Self::Parked => "parked",
        }
    }

    /// The list's Chinese heading.
    pub fn name(self) -> &'static str {
        match self {
            Self::Today => "今天截止",
            Self::Week => "本周截止",
            Self::Held => "暂缓发布",
            Self::Parked => "待前序公告",
        }
    }

    /// The list a path segment names, or the message saying which ones there are.
    fn parse(slug: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|t| t.slug() == slug).ok_or_else(|| {
            format!(
                "没有名为 '{slug}' 的时限列表，应为 today（今天截止）、week（本周截止）、held（暂缓发布）或 parked（待前序公告） (unknown clocks table)"
            )
        })
    }
}

/// How many rows each list holds in all (the overview shows the first [`OVERVIEW_ROWS`]).
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct ClockTotals {
    /// Windows closing today.
    pub closing_today: i64,
    /// Windows closing later this week.
    pub closing_this_week: i64,
    /// Held notices.
    pub held: i64,
    /// Parked notices.
    pub parked: i64,
    /// Parked notices waiting longer than the flag's days.
    pub parked_flagged: i64,
}

/// `GET /ops/api/clocks`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Clocks {
    /// The legal clock's now.
    pub now: DateTime<Utc>,
    /// End of today (Beijing), exclusive.
    pub today_until: DateTime<Utc>,
    /// End of this week (Sunday, Beijing), exclusive.
    pub week_until: DateTime<Utc>,
    /// Windows closing from now to the end of today, soonest first (the first
    /// [`OVERVIEW_ROWS`]; `totals.closing_today` in all).
    pub closing_today: Vec<Closing>,
    /// Windows closing after today and before the end of the week (the first
    /// [`OVERVIEW_ROWS`]).
    pub closing_this_week: Vec<Closing>,
    /// Held notices, soonest release first (the first [`OVERVIEW_ROWS`]).
    pub held: Vec<Waiting>,
    /// Parked notices, longest waiting first (the first [`OVERVIEW_ROWS`]).
    pub parked: Vec<ParkedNotice>,
    /// How many each list holds in all; the rest at `/ops/api/clocks/{table}`.
    pub totals: ClockTotals,
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

/// The rows of one list's page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ClockRows {
    /// `today`, `week`.
    Closing(Vec<Closing>),
    /// `held`.
    Held(Vec<Waiting>),
    /// `parked`.
    Parked(Vec<ParkedNotice>),
}

/// `GET /ops/api/clocks/{table}`: one page of one list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClockPage {
    /// The list.
    pub table: ClockTable,
    /// The legal clock's now.
    pub now: DateTime<Utc>,
    /// This page (from 1).
    pub page: i64,
    /// Rows per page.
    pub per_page: i64,
    /// Rows of the list in all.
    pub total: i64,
    /// This page's rows, in the list's order.
    pub rows: ClockRows,
    /// Parked longer than this many days is flagged.
    pub parked_flag_days: u32,
}

/// `?page=N&per_page=M` of a list, as sent: both whole numbers, both optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    /// Page, from 1 (default 1; below 1 is 1).
    pub page: Option<String>,
    /// Rows per page, 1 to 500 (default 50; outside, the nearer bound).
    pub per_page: Option<String>,
}

impl PageQuery {
    /// (page, rows per page), clamped to their ranges; a value that is not a whole number is an
    /// error that names the parameter and what it got. An empty value is no value.
    fn parse(&self) -> Result<(i64, i64), String> {
        let number = |name: &str, value: &Option<String>| whole_number(name, value.as_deref());
        let page = number("page", &self.page)?.unwrap_or(1).clamp(1, MAX_PAGE);
        let per_page = number("per_page", &self.per_page)?
            .unwrap_or(PER_PAGE)
            .clamp(1, MAX_PER_PAGE);
        Ok((page, per_page))
    }
}

/// What a query the extractor refused (a parameter twice, say) is told.
fn query_problem(e: &QueryRejection) -> String {
    format!("查询参数有误：每个参数只能出现一次，page 和 per_page 应为整数 (bad query: {e})")
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

/// The clock's now with the ends of today and of the week.
struct Now {
    now: DateTime<Utc>,
    today_until: DateTime<Utc>,
    week_until: DateTime<Utc>,
}

impl Now {
    fn of(gw: &Gateway) -> Self {
        let now = gw.clock.now();
        let (today_until, week_until) = today_and_week_ends(now);
        Self {
            now,
            today_until,
            week_until,
        }
    }
}

/// Seconds after which a parked notice is flagged.
fn flag_after_s(gw: &Gateway) -> i64 {
    i64::from(gw.config.ops_parked_flag_days) * 86_400
}

/// A page of one list: its rows, how many the list holds, and how many of those are flagged
/// (parked longer than the flag's days; 0 for the other lists).
struct ListPage {
    rows: ClockRows,
    total: i64,
    flagged: i64,
}

/// `limit` rows of `table` from the `offset`-th, with the list's counts.
async fn list_page(
    gw: &Gateway,
    at: &Now,
    table: ClockTable,
    limit: i64,
    offset: i64,
) -> Result<ListPage, ApiError> {
    let pool = &gw.store.pool;
    let flag_after = flag_after_s(gw);
    let waiting = |status| async move {
        tokio::try_join!(
            store::waiting(pool, status, limit, offset),
            store::waiting_counts(pool, status, flag_after),
        )
        .map_err(store_error)
    };
    Ok(match table {
        ClockTable::Today | ClockTable::Week => {
            let (from, until) = if table == ClockTable::Today {
                (at.now, at.today_until)
            } else {
                (at.today_until.max(at.now), at.week_until)
            };
            let (rows, total) = store::closing(pool, from, until, limit, offset)
                .await
                .map_err(store_error)?;
            ListPage {
                rows: ClockRows::Closing(rows),
                total,
                flagged: 0,
            }
        }
        ClockTable::Held => {
            let (rows, (total, _)) = waiting("held").await?;
            ListPage {
                rows: ClockRows::Held(rows),
                total,
                flagged: 0,
            }
        }
        ClockTable::Parked => {
            let (rows, (total, flagged)) = waiting("parked").await?;
            let rows = rows
                .into_iter()
                .map(|notice| ParkedNotice {
                    flagged: notice.waited_s > flag_after,
                    notice,
                })
                .collect();
            ListPage {
                rows: ClockRows::Parked(rows),
                total,
                flagged,
            }
        }
    })
}

async fn gather(gw: &Gateway) -> Result<Clocks, ApiError> {
    let at = Now::of(gw);
    let first = |table| list_page(gw, &at, table, OVERVIEW_ROWS, 0);
    let (today, week, held, parked) = tokio::try_join!(
        first(ClockTable::Today),
        first(ClockTable::Week),
        first(ClockTable::Held),
        first(ClockTable::Parked),
    )?;
    let totals = ClockTotals {
        closing_today: today.total,
        closing_this_week: week.total,
        held: held.total,
        parked: parked.total,
        parked_flagged: parked.flagged,
    };
    let closing = |rows| match rows {
        ClockRows::Closing(rows) => rows,
        ClockRows::Held(_) | ClockRows::Parked(_) => Vec::new(),
    };
    Ok(Clocks {
        now: at.now,
        today_until: at.today_until,
        week_until: at.week_until,
        closing_today: closing(today.rows),
        closing_this_week: closing(week.rows),
        held: match held.rows {
            ClockRows::Held(rows) => rows,
            ClockRows::Closing(_) | ClockRows::Parked(_) => Vec::new(),
        },
        parked: match parked.rows {
            ClockRows::Parked(rows) => rows,
            ClockRows::Closing(_) | ClockRows::Held(_) => Vec::new(),
        },
        totals,
        parked_flag_days: gw.config.ops_parked_flag_days,
    })
}

async fn gather_page(
    gw: &Gateway,
    table: ClockTable,
    (page, per_page): (i64, i64),
) -> Result<ClockPage, ApiError> {
    let at = Now::of(gw);
    let list = list_page(gw, &at, table, per_page, (page - 1) * per_page).await?;
    Ok(ClockPage {
        table,
        now: at.now,
        page,
        per_page,
        total: list.total,
        rows: list.rows,
        parked_flag_days: gw.config.ops_parked_flag_days,
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

/// `GET /ops/api/clocks/{table}`: one page of one list (404 for an unknown list).
#[utoipa::path(get, path = "/ops/api/clocks/{table}", tag = "operators", operation_id = "ops_clocks_table",
    params(("table" = String, Path, description = "today, week, held or parked"),
        ("page" = Option<i64>, Query, description = "Page, from 1"),
        ("per_page" = Option<i64>, Query, description = "Rows per page, 1 to 500 (default 50)")),
    responses((status = 200, body = ClockPage),
        (status = 400, description = "page or per_page is not a whole number, or is sent twice", body = gongshi_platform::api_error::ErrorBody),
        (status = 401, description = "No operator credentials", body = gongshi_platform::api_error::ErrorBody),
        (status = 404, description = "No such list", body = gongshi_platform::api_error::ErrorBody)),
    security(("operator" = [])))]
pub async fn api_table(
    _op: Operator,
    State(gw): State<Gateway>,
    Path(table): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<ClockPage>, ApiError> {
    let (table, paging) = requested(&table, query)?;
    Ok(Json(gather_page(&gw, table, paging).await?))
}

/// The list and the page a request names: 404 for an unknown list, 400 for a page number that
/// is not one (or a parameter sent twice).
fn requested(
    table: &str,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<(ClockTable, (i64, i64)), ApiError> {
    let table = ClockTable::parse(table).map_err(|m| ApiError::new(ErrorCode::NotFound, m))?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(query_problem(&e)))?;
    Ok((table, q.parse().map_err(ApiError::bad_request)?))
}

/// A list as the pages show it: heading, rows, and how many there are in all.
struct TableView {
    table: ClockTable,
    total: i64,
    closing: Vec<ClosingRow>,
    waiting: Vec<WaitingRow>,
}

impl TableView {
    fn new(table: ClockTable, rows: ClockRows, total: i64, now: DateTime<Utc>) -> Self {
        let (closing, waiting) = match rows {
            ClockRows::Closing(rows) => (
                rows.into_iter().map(|c| closing_row(c, now)).collect(),
                Vec::new(),
            ),
            ClockRows::Held(rows) => (
                Vec::new(),
                rows.into_iter().map(|w| waiting_row(w, false)).collect(),
            ),
            ClockRows::Parked(rows) => (
                Vec::new(),
                rows.into_iter()
                    .map(|p| waiting_row(p.notice, p.flagged))
                    .collect(),
            ),
        };
        Self {
            table,
            total,
            closing,
            waiting,
        }
    }

    fn shown(&self) -> usize {
        self.closing.len() + self.waiting.len()
    }

    /// Whether the list holds more than it shows.
    fn more(&self) -> bool {
        i64::try_from(self.shown()).is_ok_and(|shown| shown < self.total)
    }

    fn is_closing(&self) -> bool {
        matches!(self.table, ClockTable::Today | ClockTable::Week)
    }

    fn is_parked(&self) -> bool {
        self.table == ClockTable::Parked
    }

    /// What to say when the list is empty.
    fn empty(&self) -> &'static str {
        match self.table {
            ClockTable::Today => "今天没有截止的法定期限。",
            ClockTable::Week => "本周其余日子没有截止的法定期限。",
            ClockTable::Held => "没有暂缓发布的公告。",
            ClockTable::Parked => "没有待前序的公告。",
        }
    }
}

#[derive(Template)]
#[template(path = "ops/clocks.html")]
struct ClocksPage {
    op: Operator,
    now: String,
    tables: Vec<TableView>,
    flag_days: u32,
    flagged: i64,
}

#[derive(Template)]
#[template(path = "ops/clocks_table.html")]
struct ClockTablePage {
    op: Operator,
    now: String,
    view: TableView,
    page: i64,
    pages: i64,
    per_page: i64,
    flag_days: u32,
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
    let t = clocks.totals;
    let tables = vec![
        TableView::new(
            ClockTable::Today,
            ClockRows::Closing(clocks.closing_today),
            t.closing_today,
            now,
        ),
        TableView::new(
            ClockTable::Week,
            ClockRows::Closing(clocks.closing_this_week),
            t.closing_this_week,
            now,
        ),
        TableView::new(ClockTable::Held, ClockRows::Held(clocks.held), t.held, now),
        TableView::new(
            ClockTable::Parked,
            ClockRows::Parked(clocks.parked),
            t.parked,
            now,
        ),
    ];
    pages::html(
        StatusCode::OK,
        &ClocksPage {
            op,
            now: format::beijing(now),
            tables,
            flag_days: clocks.parked_flag_days,
            flagged: t.parked_flagged,
        },
    )
}

/// `GET /ops/clocks/{table}`: one list, paged (an unknown list or a malformed page number is an
/// error page, `ops::error_page`).
pub async fn page_table(
    op: Operator,
    State(gw): State<Gateway>,
    Path(table): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (table, paging) = requested(&table, query)?;
    let p = gather_page(&gw, table, paging).await?;
    let pages = ((p.total + p.per_page - 1) / p.per_page).max(1);
    Ok(pages::html(
        StatusCode::OK,
        &ClockTablePage {
            op,
            now: format::beijing(p.now),
            view: TableView::new(p.table, p.rows, p.total, p.now),
            page: p.page,
            pages,
            per_page: p.per_page,
            flag_days: p.parked_flag_days,
        },
    ))
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

//! Counting periods as rules.md "Counting" says: Asia/Shanghai instants; the start day is not
//! counted (民法典 art.201); the last day runs to 24:00, so an end at exactly 00:00 belongs to the
//! day before; a minimum period whose last day is a holiday or rest day ends on the first working
//! day after it (art.203); working days come from the calendar, and a year without one makes the
//! answer unknown rather than guessed.

use super::calendar::{Calendar, UnknownYear};
use crate::values::datetime::{Instant, shanghai};
use chrono::{Days, NaiveDate, NaiveTime, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

/// Calendar days (日) or working days (工作日).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DayUnit {
    /// 日: calendar days.
    Calendar,
    /// 工作日: working days.
    Working,
}

impl DayUnit {
    /// Chinese word for the unit.
    pub fn zh(self) -> &'static str {
        match self {
            DayUnit::Calendar => "日",
            DayUnit::Working => "个工作日",
        }
    }
}

/// The local (Asia/Shanghai) date of an instant.
pub fn local_date(instant: &Instant) -> NaiveDate {
    instant.with_timezone(&shanghai()).date_naive()
}

/// The day an end or deadline falls on: its date, or the day before when it is exactly 00:00
/// (an end at 24:00 of a day is written as 00:00 of the next).
pub fn end_date(instant: &Instant) -> NaiveDate {
    let local = instant.with_timezone(&shanghai());
    let date = local.date_naive();
    if local.time() == NaiveTime::MIN {
        date.pred_opt().unwrap_or(date)
    } else {
        date
    }
}

/// 24:00 of `date`, as an instant (00:00 of the next day).
pub fn end_of_day(date: NaiveDate) -> Instant {
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    shanghai()
        .from_local_datetime(&next.and_time(NaiveTime::MIN))
        .single()
        .unwrap_or_else(|| shanghai().from_utc_datetime(&next.and_time(NaiveTime::MIN)))
}

/// Whether an instant is exactly midnight (a date-only end).
pub fn is_midnight(instant: &Instant) -> bool {
    let t = instant.with_timezone(&shanghai()).time();
    t.hour() == 0 && t.minute() == 0 && t.second() == 0
}

/// The arithmetic behind a minimum-period or maximum-delay check, kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// Date the period starts from (not counted).
    pub start_date: NaiveDate,
    /// Day the end falls on.
    pub end_date: NaiveDate,
    /// Days (of the unit) counted after the start date up to and including the end day.
    pub counted: u32,
    /// Days required.
    pub required: u32,
    /// The unit.
    pub unit: DayUnit,
    /// Minimum periods: the earliest end day allowed (after any roll-forward past holidays);
    /// maximum delays: the latest day allowed.
    pub limit_date: NaiveDate,
    /// Whether the rule is met.
    pub met: bool,
}

/// Is a period from `start` to `end` at least `n` days (of `unit`)?
pub fn min_period(
    cal: &Calendar,
    start: &Instant,
    end: &Instant,
    n: u32,
    unit: DayUnit,
) -> Result<Count, UnknownYear> {
    let start_date = local_date(start);
    let end_d = end_date(end);
    let (counted, limit_date) = match unit {
        DayUnit::Calendar => {
            let counted = days_between(start_date, end_d);
            let last = add_days(start_date, n);
            // Whether the rule is met needs the calendar only up to the end (an unknown year
            // later makes no answer uncertain); the earliest lawful end a refusal names is the
            // first working day from the nominal last day (民法典 第二百零三条), looked up further
            // when that year is known, else the nominal day.
            let earliest = if end_d < last {
                cal.working_day_on_or_after(last).unwrap_or(last)
            } else {
                match first_working_day_upto(cal, last, end_d)? {
                    Some(day) => day,
                    None => cal
                        .working_day_on_or_after(end_d + Days::new(1))
                        .unwrap_or(end_d + Days::new(1)),
                }
            };
            (counted, earliest)
        }
        DayUnit::Working => {
            let limit = cal.add_working_days(start_date, n);
            let counted = cal.working_days_between(start_date, end_d);
            match (counted, limit) {
                (Ok(c), Ok(l)) => (c, l),
                // The count alone decides when the year of the limit is unknown but the end is
                // earlier than any possible limit (n working days need at least n days).
                (Ok(c), Err(_)) if c < n => (c, end_d),
                (Err(e), _) | (_, Err(e)) => return Err(e),
            }
        }
    };
    let met = match unit {
        DayUnit::Calendar => end_d >= limit_date,
        DayUnit::Working => counted >= n,
    };
    Ok(Count {
        start_date,
        end_date: end_d,
        counted,
        required: n,
        unit,
        limit_date,
        met,
    })
}

/// Is `later` at most `n` days (of `unit`) after `earlier`? For calendar days the last allowed
/// day rolls forward past holidays (art.203).
pub fn max_delay(
    cal: &Calendar,
    earlier: &Instant,
    later: &Instant,
    n: u32,
    unit: DayUnit,
) -> Result<Count, UnknownYear> {
    let start_date = local_date(earlier);
    let end_d = local_date(later);
    let (counted, latest) = match unit {
        DayUnit::Calendar => {
            let last = add_days(start_date, n);
            let latest = if end_d <= last {
                last
            } else {
                cal.working_day_on_or_after(last)?
            };
            (days_between(start_date, end_d), latest)
        }
        DayUnit::Working => (
            cal.working_days_between(start_date, end_d)?,
            cal.add_working_days(start_date, n)?,
        ),
    };
    Ok(Count {
        start_date,
        end_date: end_d,
        counted,
        required: n,
        unit,
        limit_date: latest,
        met: end_d <= latest,
    })
}

/// The end of a window of `n` working days starting at `start`: 24:00 of the n-th working day
/// after the start date.
pub fn working_window_end(cal: &Calendar, start: &Instant, n: u32) -> Result<Instant, UnknownYear> {
    Ok(end_of_day(cal.add_working_days(local_date(start), n)?))
}

/// The first working day in `[from, upto]`, or the day after `upto` when there is none in range
/// (enough to know the end is too early without looking further).
fn first_working_day_upto(
    cal: &Calendar,
    from: NaiveDate,
    upto: NaiveDate,
) -> Result<Option<NaiveDate>, UnknownYear> {
    let mut d = from;
    while d <= upto {
        if cal.is_working_day(d)? {
            return Ok(Some(d));
        }
        d = d.succ_opt().ok_or(UnknownYear(0))?;
    }
    Ok(None)
}

/// The date `n` days after `date` (saturating at the calendar's end).
fn add_days(date: NaiveDate, n: u32) -> NaiveDate {
    date.checked_add_days(Days::new(u64::from(n)))
        .unwrap_or(date)
}

/// Whole days from `a` to `b` (0 when `b` ≤ `a`).
pub fn days_between(a: NaiveDate, b: NaiveDate) -> u32 {
    u32::try_from((b - a).num_days().max(0)).unwrap_or(u32::MAX)
}

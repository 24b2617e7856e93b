//! The working-day calendar: Monday–Friday, minus statutory holidays, plus make-up working days
//! (调休), one data file per year (`calendar/<year>.toml`) from the State Council's yearly notice.
//! A date in a year with no file is never guessed: callers get [`UnknownYear`].

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/calendar_files.rs"));

/// A date whose year has no calendar file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} 年的工作日历（国务院办公厅节假日安排通知）尚未收录 (no working-day calendar for {0})")]
pub struct UnknownYear(pub i32);

#[derive(Debug, Deserialize)]
struct YearFile {
    year: i32,
    source: String,
    #[serde(default)]
    holiday: Vec<HolidayRange>,
    #[serde(default)]
    workday: Vec<Workday>,
}

#[derive(Debug, Deserialize)]
struct HolidayRange {
    name: String,
    from: NaiveDate,
    to: NaiveDate,
}

#[derive(Debug, Deserialize)]
struct Workday {
    date: NaiveDate,
}

/// One year's holidays and make-up working days.
#[derive(Debug, Clone, Default)]
pub struct Year {
    /// The notice it transcribes.
    pub source: String,
    holidays: BTreeMap<NaiveDate, String>,
    workdays: HashSet<NaiveDate>,
}

/// A loaded calendar.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

/// A calendar file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("calendar {file}: {message}")]
pub struct CalendarError {
    file: String,
    message: String,
}

impl Calendar {
    /// The calendar files compiled in.
    pub fn embedded() -> &'static Calendar {
        static CAL: OnceLock<Calendar> = OnceLock::new();
        CAL.get_or_init(|| {
            let mut cal = Calendar::default();
            for (name, text) in CALENDAR_FILES {
                if let Err(e) = cal.add_file(name, text) {
                    // Compiled-in data checked by the tests: a failure is a build defect.
                    panic!("{e}");
                }
            }
            cal
        })
    }

    /// Adds one year's file, checking it: a make-up working day falls on a weekend, no date is both.
    pub fn add_file(&mut self, name: &str, text: &str) -> Result<(), CalendarError> {
        let err = |message: String| CalendarError {
            file: name.to_owned(),
            message,
        };
        let file: YearFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut year = Year {
            source: file.source,
            ..Year::default()
        };
        for h in file.holiday {
            if h.to < h.from {
                return Err(err(format!("holiday {} ends before it starts", h.name)));
            }
            let mut d = h.from;
            while d <= h.to {
                year.holidays.insert(d, h.name.clone());
                d = d.succ_opt().ok_or_else(|| err("date overflow".into()))?;
            }
        }
        for w in file.workday {
            if !matches!(w.date.weekday(), Weekday::Sat | Weekday::Sun) {
                return Err(err(format!(
                    "make-up working day {} is not a weekend day",
                    w.date
                )));
            }
            if year.holidays.contains_key(&w.date) {
                return Err(err(format!(
                    "{} is both a holiday and a working day",
                    w.date
                )));
            }
            year.workdays.insert(w.date);
        }
        if self.years.insert(file.year, year).is_some() {
            return Err(err(format!("year {} given twice", file.year)));
        }
        Ok(())
    }

    /// Years with a file.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, UnknownYear> {
        let year = self
            .years
            .get(&date.year())
            .ok_or(UnknownYear(date.year()))?;
        if year.workdays.contains(&date) {
            return Ok(true);
        }
        if year.holidays.contains_key(&date) {
            return Ok(false);
        }
        Ok(!matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
    }

    /// The statutory holiday `date` falls in, if any.
    pub fn holiday_name(&self, date: NaiveDate) -> Option<&str> {
        self.years
            .get(&date.year())
            .and_then(|y| y.holidays.get(&date))
            .map(String::as_str)
    }

    /// The first working day on or after `date` (民法典 art.203 roll-forward).
    pub fn working_day_on_or_after(&self, date: NaiveDate) -> Result<NaiveDate, UnknownYear> {
        let mut d = date;
        while !self.is_working_day(d)? {
            d = next(d)?;
        }
        Ok(d)
    }

    /// The `n`-th working day after `date` (the start day is not counted).
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, UnknownYear> {
        let mut d = date;
        let mut left = n;
        while left > 0 {
            d = next(d)?;
            if self.is_working_day(d)? {
                left -= 1;
            }
        }
        Ok(d)
    }

    /// Working days after `start` up to and including `end` (0 when `end` ≤ `start`).
    pub fn working_days_between(
        &self,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<u32, UnknownYear> {
        let mut count = 0;
        let mut d = start;
        while d < end {
            d = next(d)?;
            if self.is_working_day(d)? {
                count += 1;
            }
        }
        Ok(count)
    }
}

fn next(d: NaiveDate) -> Result<NaiveDate, UnknownYear> {
    d.checked_add_days(Days::new(1))
        .ok_or(UnknownYear(d.year()))
}

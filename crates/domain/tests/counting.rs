//! Period arithmetic against rules.md "Counting": the worked examples, the calendar's 调休, and
//! properties that must hold for any dates.

use chrono::{Datelike, Days, NaiveDate};
use gongshi_domain::period::Calendar;
use gongshi_domain::period::counting::{self, DayUnit};
use gongshi_domain::values::datetime::{self, DateOnly, Instant};
use proptest::prelude::*;

fn at(s: &str) -> Instant {
    datetime::parse(s, DateOnly::StartOfDay).expect("instant")
}

fn end(s: &str) -> Instant {
    datetime::parse(s, DateOnly::EndOfDay).expect("instant")
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

#[test]
fn the_examples_of_rules_md() {
    let cal = Calendar::embedded();
    // Documents from 2021-06-23 09:00 and a bid deadline of 2021-07-14 10:30 give 21 days.
    let c = counting::min_period(
        cal,
        &at("2021-06-23 09:00"),
        &at("2021-07-14 10:30"),
        20,
        DayUnit::Calendar,
    );
    // 2021 has no calendar file: the count is still exact, and only the roll-forward needs one.
    match c {
        Ok(c) => assert_eq!(c.counted, 21),
        Err(e) => assert_eq!(e.0, 2021),
    }
    assert_eq!(counting::days_between(d("2021-06-23"), d("2021-07-14")), 21);
    // A publicity from 2021-07-16 09:00 to 2021-07-19 18:00 gives 3 days.
    assert_eq!(counting::end_date(&at("2021-07-19 18:00")), d("2021-07-19"));
    assert_eq!(
        counting::days_between(d("2021-07-16"), counting::end_date(&at("2021-07-19 18:00"))),
        3
    );
    // An end at exactly 00:00 belongs to the day before.
    assert_eq!(counting::end_date(&end("2021-07-19")), d("2021-07-19"));
    assert_eq!(counting::end_date(&at("2021-07-20 00:00")), d("2021-07-19"));
}

#[test]
fn the_2025_and_2026_calendars_hold_the_state_council_dates() {
    let cal = Calendar::embedded();
    for year in [2024, 2025, 2026] {
        assert!(cal.years().any(|y| y == year), "no calendar for {year}");
    }
    // 2025: National Day and Mid-Autumn 10-01..10-08; Sunday 09-28 and Saturday 10-11 worked.
    for day in 1..=8 {
        assert_eq!(
            cal.is_working_day(d(&format!("2025-10-0{day}"))),
            Ok(false),
            "2025-10-0{day}"
        );
    }
    assert_eq!(cal.is_working_day(d("2025-09-28")), Ok(true));
    assert_eq!(cal.is_working_day(d("2025-10-11")), Ok(true));
    assert_eq!(
        cal.is_working_day(d("2025-10-12")),
        Ok(false),
        "an ordinary Sunday"
    );
    assert_eq!(
        cal.is_working_day(d("2025-01-26")),
        Ok(true),
        "Sunday before 春节"
    );
    // 2026: 春节 02-15..02-23, make-up days 02-14 and 02-28.
    assert_eq!(cal.is_working_day(d("2026-02-16")), Ok(false));
    assert_eq!(cal.is_working_day(d("2026-02-14")), Ok(true));
    assert_eq!(cal.is_working_day(d("2026-02-28")), Ok(true));
    // No file, no guess.
    assert!(cal.is_working_day(d("2031-03-03")).is_err());
}

#[test]
fn working_day_counts_across_national_day_2025() {
    let cal = Calendar::embedded();
    // After Monday 09-29: 09-30, then 10-09 is the next working day.
    assert_eq!(
        cal.add_working_days(d("2025-09-29"), 2),
        Ok(d("2025-10-09"))
    );
    assert_eq!(
        cal.working_days_between(d("2025-09-29"), d("2025-10-09")),
        Ok(2)
    );
    // From Wednesday 09-24 to Tuesday 09-30, five working days thanks to Sunday 09-28.
    assert_eq!(
        cal.working_days_between(d("2025-09-24"), d("2025-09-30")),
        Ok(5)
    );
    // A 5-working-day window from 2025-09-29 09:00: 09-30, 10-09, 10-10, Saturday 10-11 (make-up),
    // 10-13, so it ends at 24:00 of 10-13.
    assert_eq!(
        datetime::canonical(
            &counting::working_window_end(cal, &at("2025-09-29 09:00"), 5).expect("known year")
        ),
        "2025-10-14T00:00:00+08:00"
    );
}

#[test]
fn a_minimum_period_ending_in_a_holiday_rolls_forward() {
    let cal = Calendar::embedded();
    // 20 days from 2025-04-14 end on 05-04, inside 劳动节 (05-01..05): the period runs to 05-06.
    let c = counting::min_period(
        cal,
        &at("2025-04-14 09:00"),
        &at("2025-05-05 09:30"),
        20,
        DayUnit::Calendar,
    )
    .expect("known");
    assert_eq!(
        (c.counted, c.limit_date, c.met),
        (21, d("2025-05-06"), false)
    );
    let c = counting::min_period(
        cal,
        &at("2025-04-14 09:00"),
        &at("2025-05-06 09:30"),
        20,
        DayUnit::Calendar,
    )
    .expect("known");
    assert!(c.met);
}

fn known_date() -> impl Strategy<Value = NaiveDate> {
    (0i64..(365 * 2 + 300)).prop_map(|n| d("2024-01-01") + chrono::Duration::days(n))
}

proptest! {
    #[test]
    fn the_end_of_an_n_working_day_window_is_a_working_day_with_exactly_n_before_it(start in known_date(), n in 1u32..15) {
        let cal = Calendar::embedded();
        let last = cal.add_working_days(start, n).expect("inside the calendar");
        prop_assert_eq!(cal.is_working_day(last), Ok(true));
        prop_assert_eq!(cal.working_days_between(start, last), Ok(n));
        let before = last.pred_opt().expect("date");
        prop_assert_eq!(cal.working_days_between(start, before), Ok(n - 1));
    }

    #[test]
    fn minimum_period_checks_are_monotone_in_the_end(start in known_date(), len in 0u64..40, extra in 0u64..20, n in 1u32..25, working in any::<bool>()) {
        let cal = Calendar::embedded();
        let unit = if working { DayUnit::Working } else { DayUnit::Calendar };
        let s = at(&format!("{} 09:00", start));
        let e1 = start.checked_add_days(Days::new(len)).expect("date");
        let e2 = e1.checked_add_days(Days::new(extra)).expect("date");
        prop_assume!(e2.year() <= 2026 && e2 <= d("2026-11-30"));
        let a = counting::min_period(cal, &s, &at(&format!("{e1} 18:00")), n, unit).expect("known");
        let b = counting::min_period(cal, &s, &at(&format!("{e2} 18:00")), n, unit).expect("known");
        prop_assert!(!a.met || b.met, "met at {} but not at the later {}", e1, e2);
        prop_assert!(a.counted <= b.counted);
    }

    #[test]
    fn a_calendar_day_period_is_met_only_when_enough_days_are_counted(start in known_date(), len in 0u64..40, n in 1u32..25) {
        let cal = Calendar::embedded();
        let e = start.checked_add_days(Days::new(len)).expect("date");
        prop_assume!(e <= d("2026-11-30"));
        let c = counting::min_period(cal, &at(&format!("{start} 09:00")), &at(&format!("{e} 18:00")), n, DayUnit::Calendar).expect("known");
        prop_assert_eq!(c.counted as u64, len);
        if c.met { prop_assert!(c.counted >= n); }
        if c.counted >= n && cal.is_working_day(start + chrono::Duration::days(i64::from(n))) == Ok(true) { prop_assert!(c.met); }
    }
}

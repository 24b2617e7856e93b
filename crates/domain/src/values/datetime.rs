//! Date-times on the wire: `yyyy-MM-dd HH:mm:ss`, `yyyy-MM-dd HH:mm`, `yyyy-MM-dd`, or RFC 3339.
//! Values without an offset are Asia/Shanghai local time (UTC+8 all year since 1991, so a fixed
//! offset is exact for every date a notice can carry). A date-only value is 00:00 of that day when
//! it starts something and 24:00 (00:00 of the next day) when it ends a period.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// An instant in Asia/Shanghai time.
pub type Instant = DateTime<FixedOffset>;

/// Asia/Shanghai as a fixed offset (UTC+8; China has had no daylight saving time since 1991).
pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("8 hours is a valid offset"))
}

/// Whether a date-only value marks the start (00:00) or the end (24:00) of its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOnly {
    /// `2025-06-01` means 2025-06-01 00:00.
    StartOfDay,
    /// `2025-06-01` means 2025-06-01 24:00, i.e. 2025-06-02 00:00.
    EndOfDay,
}

/// Parses a wire date-time into an instant at +08:00, truncated to whole seconds. The year is
/// four digits on the wire and stays within 0000–9999 at +08:00, so that [`canonical`] text reads
/// back as the same instant.
pub fn parse(text: &str, date_only: DateOnly) -> Result<Instant, String> {
    let s = text.trim();
    // chrono's `%Y` also reads a sign and any number of digits (`-025`, `+12021`); no wire form has
    // them, and their canonical text would not read back.
    let b = s.as_bytes();
    let four_digit_year = b.len() > 4 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-';
    if !four_digit_year {
        return Err(not_a_date_time(s));
    }
    let instant = parse_forms(s, date_only)?;
    if !(0..=9999).contains(&chrono::Datelike::year(&instant)) {
        return Err(format!(
            "'{s}' 超出可表示的日期范围 (date out of range: years 0000 to 9999 in Beijing time)"
        ));
    }
    Ok(instant)
}

fn not_a_date_time(s: &str) -> String {
    format!(
        "'{s}' 不是可识别的日期时间，应为 yyyy-MM-dd HH:mm:ss、yyyy-MM-dd HH:mm、yyyy-MM-dd 或 RFC 3339 \
         (not a date-time in a form of wire-format.md)"
    )
}

fn parse_forms(s: &str, date_only: DateOnly) -> Result<Instant, String> {
    let tz = shanghai();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(truncate_seconds(dt.with_timezone(&tz)));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return local(naive);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && s.len() == 10
    {
        let day = match date_only {
            DateOnly::StartOfDay => date,
            DateOnly::EndOfDay => date
                .checked_add_days(Days::new(1))
                .ok_or_else(|| format!("'{s}' 超出可表示的日期范围 (date out of range)"))?,
        };
        return local(day.and_time(NaiveTime::MIN));
    }
    Err(not_a_date_time(s))
}

fn local(naive: NaiveDateTime) -> Result<Instant, String> {
    shanghai()
        .from_local_datetime(&naive)
        .single()
        .map(truncate_seconds)
        .ok_or_else(|| format!("'{naive}' 不是有效的北京时间 (not a valid local time)"))
}

fn truncate_seconds(dt: Instant) -> Instant {
    dt.with_timezone(&shanghai())
        .checked_sub_signed(chrono::TimeDelta::nanoseconds(i64::from(
            chrono::Timelike::nanosecond(&dt),
        )))
        .unwrap_or(dt)
}

/// The canonical text of an instant: RFC 3339 at +08:00, whole seconds.
pub fn canonical(instant: &Instant) -> String {
    instant
        .with_timezone(&shanghai())
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str, d: DateOnly) -> String {
        canonical(&parse(s, d).expect("parses"))
    }

    #[test]
    fn every_wire_form_is_read_as_shanghai_time() {
        assert_eq!(
            c("2021-06-23 09:00:00", DateOnly::StartOfDay),
            "2021-06-23T09:00:00+08:00"
        );
        assert_eq!(
            c("2021-06-23 09:00", DateOnly::StartOfDay),
            "2021-06-23T09:00:00+08:00"
        );
        assert_eq!(
            c("2021-06-23", DateOnly::StartOfDay),
            "2021-06-23T00:00:00+08:00"
        );
        assert_eq!(
            c("2021-06-23T01:00:00Z", DateOnly::StartOfDay),
            "2021-06-23T09:00:00+08:00"
        );
        assert_eq!(
            c("2021-06-23T09:00:00+08:00", DateOnly::EndOfDay),
            "2021-06-23T09:00:00+08:00"
        );
        assert_eq!(
            c("2021-06-23 09:00:00.750", DateOnly::StartOfDay),
            "2021-06-23T09:00:00+08:00"
        );
    }

    #[test]
    fn a_date_only_end_is_midnight_after_that_day() {
        assert_eq!(
            c("2021-06-30", DateOnly::EndOfDay),
            "2021-07-01T00:00:00+08:00"
        );
        assert_eq!(
            c("2024-12-31", DateOnly::EndOfDay),
            "2025-01-01T00:00:00+08:00"
        );
    }

    /// Found by fuzzing (`datetime`): chrono's `%Y` read `-025-10-09` as the year -25, whose
    /// canonical text `-0025-10-09T00:00:00+08:00` did not read back; an end-of-day or an offset
    /// could likewise carry a year out of four digits.
    #[test]
    fn years_are_four_digits_and_stay_within_them() {
        for bad in [
            "-025-10-09",
            "+2021-06-23",
            "12021-06-23",
            "-2021-06-23 09:00",
            "0000-01-01T00:00:00+14:00",
        ] {
            assert!(parse(bad, DateOnly::StartOfDay).is_err(), "{bad}");
        }
        assert!(parse("9999-12-31", DateOnly::EndOfDay).is_err());
        assert_eq!(
            c("9999-12-31", DateOnly::StartOfDay),
            "9999-12-31T00:00:00+08:00"
        );
        assert_eq!(
            c("0000-01-01 08:00", DateOnly::StartOfDay),
            "0000-01-01T08:00:00+08:00"
        );
    }

    #[test]
    fn other_forms_are_refused_not_guessed() {
        for bad in [
            "2021/06/23",
            "23-06-2021",
            "2021-6-3",
            "2021-02-30",
            "明天",
            "",
            "2021-06-23 25:00",
        ] {
            assert!(
                parse(bad, DateOnly::StartOfDay).is_err(),
                "{bad} should be refused"
            );
        }
    }
}

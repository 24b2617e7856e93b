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
    if let Some(naive) = common_form(s) {
        return local(naive);
    }
    if s.len() == 10
        && let Some(date) = common_date(s)
    {
        return date_only_instant(s, date, date_only);
    }
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
        return date_only_instant(s, date, date_only);
    }
    Err(not_a_date_time(s))
}

/// A date-only value: 00:00 of `date`, or 24:00 when it ends something.
fn date_only_instant(s: &str, date: NaiveDate, date_only: DateOnly) -> Result<Instant, String> {
    let day = match date_only {
        DateOnly::StartOfDay => date,
        DateOnly::EndOfDay => date
            .checked_add_days(Days::new(1))
            .ok_or_else(|| format!("'{s}' 超出可表示的日期范围 (date out of range)"))?,
    };
    local(day.and_time(NaiveTime::MIN))
}

/// `yyyy-MM-dd HH:mm:ss` or `yyyy-MM-dd HH:mm`, the forms nearly every platform sends, read by
/// position (chrono's format parser costs more than the rest of the field); `None` for anything
/// else, which the general forms then read.
fn common_form(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    let seconds = match b.len() {
        19 if b[16] == b':' => digits(b, 17, 2)?,
        16 => 0,
        _ => return None,
    };
    if b[10] != b' ' || b[13] != b':' {
        return None;
    }
    let time = NaiveTime::from_hms_opt(digits(b, 11, 2)?, digits(b, 14, 2)?, seconds)?;
    Some(common_date(s)?.and_time(time))
}

/// The `yyyy-MM-dd` that starts `s`, read by position.
fn common_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let year = i32::try_from(digits(b, 0, 4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(b, 5, 2)?, digits(b, 8, 2)?)
}

/// The decimal number written by the `len` ASCII digits at `from`.
fn digits(b: &[u8], from: usize, len: usize) -> Option<u32> {
    b.get(from..from + len)?.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
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
    use chrono::{Datelike, Timelike};
    // Written digit by digit: chrono's `format` re-parses its format string on every call, and
    // this runs for every date-time of every record.
    fn digits(out: &mut String, n: u32, width: u32) {
        for place in (0..width).rev() {
            let digit = n / 10u32.pow(place) % 10;
            out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
        }
    }
    let local = instant.with_timezone(&shanghai());
    // Years 0000–9999 (`parse` keeps to them); another year needs chrono's sign and digits.
    let Some(year) = u32::try_from(local.year()).ok().filter(|y| *y <= 9999) else {
        return local.format("%Y-%m-%dT%H:%M:%S%:z").to_string();
    };
    let mut out = String::with_capacity(25);
    digits(&mut out, year, 4);
    for (separator, n) in [
        ('-', local.month()),
        ('-', local.day()),
        ('T', local.hour()),
        (':', local.minute()),
        (':', local.second()),
    ] {
        out.push(separator);
        digits(&mut out, n, 2);
    }
    out.push_str("+08:00");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str, d: DateOnly) -> String {
        canonical(&parse(s, d).expect("parses"))
    }

    #[test]
    fn the_common_forms_read_by_position_agree_with_chrono() {
        for text in [
            "2021-06-23 09:00:00",
            "2021-06-23 09:00",
            "0000-01-01 00:00",
            "9999-12-31 23:59:59",
            "2024-02-29 12:30:45",
        ] {
            let by_chrono = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok());
            assert_eq!(common_form(text), by_chrono, "{text}");
        }
        for text in ["2021-06-23", "0000-01-01", "2024-02-29"] {
            let by_chrono = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
            assert_eq!(common_date(text), by_chrono, "{text}");
        }
        for text in [
            "2023-02-29",
            "2021-13-01",
            "2021-6-23",
            "2021/06/23",
            "21-06-23",
        ] {
            assert_eq!(common_date(text), None, "{text}");
        }
        // Not a common form, or not a date: left to the general forms (which refuse these).
        for text in [
            "2023-02-29 09:00:00",
            "2021-06-23 24:00:00",
            "2021-06-23 09:60",
            "2021-06-23T09:00:00",
            "2021-6-23 09:00:00",
            "2021-06-23 09:00:0",
            "２０２１-06-23 09:00",
            "2021-06-23 09:00:00.5",
        ] {
            assert_eq!(common_form(text), None, "{text}");
        }
    }

    #[test]
    fn canonical_text_is_rfc_3339_at_plus_eight() {
        let by_chrono = |i: &Instant| {
            i.with_timezone(&shanghai())
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        };
        let instant = DateTime::parse_from_rfc3339("0987-03-04T22:05:09Z").expect("parses");
        assert_eq!(canonical(&instant), "0987-03-05T06:05:09+08:00");
        for text in [
            "0000-01-01T00:00:00+08:00",
            "2025-12-31T23:59:59+08:00",
            "9999-12-31T15:59:59Z",
            "9999-12-31T23:59:59Z",
        ] {
            let instant = DateTime::parse_from_rfc3339(text).expect("parses");
            assert_eq!(canonical(&instant), by_chrono(&instant), "{text}");
        }
        let far = shanghai()
            .with_ymd_and_hms(12021, 1, 2, 3, 4, 5)
            .single()
            .expect("a valid instant");
        assert_eq!(canonical(&far), by_chrono(&far));
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

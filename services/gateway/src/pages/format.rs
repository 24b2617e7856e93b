//! How values are shown to people on the HTML pages: amounts in 元 and 万元, instants in Beijing
//! time, regions by name (GB/T 2260). One place for each, so that every page says it the same way.

use chrono::{DateTime, Utc};
use gongshi_domain::codes::region_name;
use gongshi_domain::values::datetime::shanghai;
use rust_decimal::{Decimal, RoundingStrategy};

/// An amount in 元 as people read it: `3,865,000.00 元（386.50 万元）`, 元 to the 分 and 万元 to
/// the 元 (four places), rounded half away from zero as a person would; amounts under 10,000 元
/// are shown in 元 only (`9,800.00 元`), and an amount under 1 元 with a fraction of a 分 exactly
/// as given (`0.004 元`, `0.005 元`): rounding would make it another price, or none.
pub fn yuan(amount: Decimal) -> String {
    let round =
        |d: Decimal, dp| d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    let cents = round(amount, 2);
    let yuan = if cents != amount && amount.abs() < Decimal::ONE {
        grouped(amount.normalize(), 2)
    } else {
        grouped(cents, 2)
    };
    if amount.abs() < Decimal::from(10_000) {
        return format!("{yuan} 元");
    }
    let wan = grouped(round(amount / Decimal::from(10_000), 4).normalize(), 2);
    format!("{yuan} 元（{wan} 万元）")
}

/// `value` with thousands separators and at least `min_dp` decimal places (written out, so a
/// 28-digit amount, which has no room left for more places, still gets them).
fn grouped(value: Decimal, min_dp: u32) -> String {
    let v = value;
    let text = v.abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = format!("{frac:0<width$}", width = min_dp as usize);
    let mut out = String::with_capacity(text.len() + int.len() / 3 + 1);
    if v.is_sign_negative() && !v.is_zero() {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    out
}

/// An instant in Beijing time to the minute: `2025-03-25 09:30`.
pub fn beijing(at: DateTime<Utc>) -> String {
    at.with_timezone(&shanghai())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A date in Beijing time: `2025-03-25`.
pub fn beijing_date(at: DateTime<Utc>) -> String {
    at.with_timezone(&shanghai()).format("%Y-%m-%d").to_string()
}

/// A GB/T 2260 code as the names of its province, prefecture and county, as people write an
/// address: `652822` → `新疆维吾尔自治区 巴音郭楞蒙古自治州 轮台县`. Levels the table lacks (a
/// municipality's districts have no prefecture entry) are left out; an unknown code is shown as
/// itself with a note, never guessed.
pub fn region(code: &str) -> String {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{code}（未知行政区划代码）");
    }
    let levels = [
        format!("{}0000", &code[..2]),
        format!("{}00", &code[..4]),
        code.to_owned(),
    ];
    let mut names: Vec<&str> = Vec::with_capacity(3);
    for level in &levels {
        if let Some(name) = region_name(level)
            && names.last() != Some(&name)
        {
            names.push(name);
        }
    }
    if region_name(code).is_none() {
        return if names.is_empty() {
            format!("{code}（未知行政区划代码）")
        } else {
            format!("{}（{code}，代码表中没有）", names.join(" "))
        };
    }
    names.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::str::FromStr;

    #[test]
    fn amounts_in_yuan_and_wan_yuan() {
        let d = |s| Decimal::from_str(s).expect("a decimal");
        assert_eq!(yuan(d("3865000")), "3,865,000.00 元（386.50 万元）");
        assert_eq!(yuan(d("12345.678")), "12,345.68 元（1.2346 万元）");
        assert_eq!(yuan(d("9800")), "9,800.00 元");
        assert_eq!(yuan(d("0")), "0.00 元");
        // Under 1 分: as given, not a price of nothing.
        assert_eq!(yuan(d("0.004")), "0.004 元");
        assert_eq!(yuan(d("0.005")), "0.005 元");
        assert_eq!(yuan(d("0.50")), "0.50 元");
        assert_eq!(yuan(d("1.005")), "1.01 元");
        // 28 digits leave a Decimal no room for a second place: written out all the same.
        assert_eq!(
            yuan(d("123456789012345678901234567.5")),
            "123,456,789,012,345,678,901,234,567.50 元（12,345,678,901,234,567,890,123.4568 万元）"
        );
        assert_eq!(
            yuan(d("123456789.5")),
            "123,456,789.50 元（12,345.679 万元）"
        );
    }

    #[test]
    fn instants_in_beijing_time() {
        let at = Utc
            .with_ymd_and_hms(2025, 3, 25, 1, 30, 0)
            .single()
            .expect("an instant");
        assert_eq!(beijing(at), "2025-03-25 09:30");
        let late = Utc
            .with_ymd_and_hms(2025, 3, 24, 16, 0, 0)
            .single()
            .expect("an instant");
        assert_eq!(beijing_date(late), "2025-03-25");
    }

    #[test]
    fn regions_by_name_at_every_level() {
        assert_eq!(
            region("652822"),
            "新疆维吾尔自治区 巴音郭楞蒙古自治州 轮台县"
        );
        assert_eq!(region("320000"), "江苏省");
        assert_eq!(region("110101"), "北京市 东城区");
        assert_eq!(region("32x"), "32x（未知行政区划代码）");
        assert!(
            region("329999").contains("代码表中没有"),
            "{}",
            region("329999")
        );
    }
}

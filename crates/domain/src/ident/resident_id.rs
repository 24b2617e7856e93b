//! 公民身份号码 (GB 11643-1999, the 18-digit 居民身份证号码): six digits of the GB/T 2260 region of
//! first registration, the birth date `YYYYMMDD`, a three-digit sequence, and a check character by
//! ISO 7064 MOD 11-2 (`0`–`9` or `X`).
//!
//! A natural person (自然人) can win a procurement, and platforms put the person's identity number
//! in the supplier-code field. Such a number is personal data: wherever a party-code field holds
//! one it is treated like `PROJECT_LEAD_ID` (kept in the private store, never published).

use chrono::{Datelike as _, NaiveDate};

/// ISO 7064 MOD 11-2 weights of the first 17 digits (GB 11643-1999 §6.2).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each weighted sum modulo 11.
const CHECK: [u8; 11] = *b"10X98765432";

/// Whether `code` is a valid 公民身份号码: 17 digits and a check character that matches, a birth
/// date that exists (1900 or later), and a first registration in a GB/T 2260 province.
///
/// Only the province (the first two digits) is required to be a current GB/T 2260 code: the
/// county of first registration may since have been abolished or renumbered, and its people's
/// numbers are still personal data. (A 统一社会信用代码 that happens to pass all three checks is
/// then withheld too: publishing a person's number is the worse mistake.)
pub fn is_resident_id(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let digit = |i: usize| u32::from(b[i] - b'0');
    let sum: u32 = (0..17).map(|i| digit(i) * WEIGHTS[i]).sum();
    // `sum % 11` is below 11, so the index is in range.
    let expected = CHECK[(sum % 11) as usize];
    if b[17].to_ascii_uppercase() != expected {
        return false;
    }
    let number = |range: std::ops::Range<usize>| code[range].parse::<u32>().ok();
    let birth = match (number(6..10), number(10..12), number(12..14)) {
        (Some(y), Some(m), Some(d)) => i32::try_from(y)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, m, d)),
        _ => None,
    };
    let province = format!("{}0000", &code[..2]);
    birth.is_some_and(|d| d.year_ce().1 >= 1900) && crate::codes::region_name(&province).is_some()
}

/// The number with its middle hidden (`320106**********9X`), for messages: enough for an operator
/// to find the field, not enough to identify the person.
pub fn masked(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..6], &chars[chars.len() - 2..]);
    format!(
        "{}{}{}",
        head.iter().collect::<String>(),
        "*".repeat(chars.len() - 8),
        tail.iter().collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check character of the first 17 digits, computed here independently of the module.
    fn with_check(first17: &str) -> String {
        let sum: u32 = first17
            .bytes()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
        format!("{first17}{check}")
    }

    #[test]
    fn the_case_number_is_a_resident_id() {
        // shared/cases/natural_person_supplier_id.json (invented).
        assert!(is_resident_id("32010619000101469X"));
        assert!(is_resident_id("32010619000101469x"));
        assert_eq!(masked("32010619000101469X"), "320106**********9X");
    }

    #[test]
    fn check_date_and_province_are_all_required() {
        let good = with_check("11010519491231002");
        assert!(is_resident_id(&good));
        // Any other check character fails.
        for c in "0123456789X".chars().filter(|c| !good.ends_with(*c)) {
            assert!(!is_resident_id(&format!("{}{c}", &good[..17])), "{c}");
        }
        // A date that does not exist, or before 1900.
        assert!(!is_resident_id(&with_check("11010519490231002")));
        assert!(!is_resident_id(&with_check("11010518991231002")));
        // No province 99.
        assert!(!is_resident_id(&with_check("99010519491231002")));
        // An abolished county of a real province still counts (320100 and 320199 alike).
        assert!(is_resident_id(&with_check("32019919800101123")));
    }

    #[test]
    fn organisation_codes_are_not_resident_ids() {
        for code in [
            "91320300MA1MXK7Q09",
            "913203001234567",
            "",
            "1234567890123456789",
        ] {
            assert!(!is_resident_id(code), "{code}");
        }
    }
}

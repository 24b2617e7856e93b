//! Amounts: exact decimals, normalised to 元 by their unit field.

use rust_decimal::Decimal;
use std::str::FromStr;

/// The unit an amount was sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// 元 (code 1).
    Yuan,
    /// 万元 = 10,000 元 (code 2).
    TenThousandYuan,
}

impl Unit {
    /// Reads a unit field: `元`, `万元`, or the codes `1` / `2`.
    pub fn parse(text: &str) -> Option<Unit> {
        match text.trim() {
            "元" | "1" | "人民币元" => Some(Unit::Yuan),
            "万元" | "2" | "人民币万元" => Some(Unit::TenThousandYuan),
            _ => None,
        }
    }

    fn factor(self) -> Decimal {
        match self {
            Unit::Yuan => Decimal::ONE,
            Unit::TenThousandYuan => Decimal::from(10_000),
        }
    }
}

/// Parses decimal text (thousands separators allowed when well placed) without any float step.
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let s = crate::values::text::fold_full_width(text.trim());
    let plain = if s.contains(',') {
        if !well_grouped(&s) {
            return Err(format!(
                "'{s}' 的千分位分隔不正确 (misplaced thousands separators)"
            ));
        }
        std::borrow::Cow::Owned(s.replace(',', ""))
    } else {
        s
    };
    if plain.is_empty()
        || !plain
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
    {
        return Err(format!("'{plain}' 不是十进制数 (not a decimal number)"));
    }
    Decimal::from_str(&plain)
        .map_err(|e| format!("'{plain}' 不是十进制数 (not a decimal number: {e})"))
}

fn well_grouped(s: &str) -> bool {
    let int_part = s.split('.').next().unwrap_or("");
    let int_part = int_part.trim_start_matches(['-', '+']);
    let mut groups = int_part.split(',');
    let first_ok = groups
        .next()
        .is_some_and(|g| (1..=3).contains(&g.len()) && g.chars().all(|c| c.is_ascii_digit()));
    first_ok
        && groups.all(|g| g.len() == 3 && g.chars().all(|c| c.is_ascii_digit()))
        && !s.split('.').nth(1).is_some_and(|frac| frac.contains(','))
}

/// Converts an amount in `unit` to 元, normalised (no trailing zeros) so equal amounts hash alike.
pub fn to_yuan(amount: Decimal, unit: Unit) -> Option<Decimal> {
    amount.checked_mul(unit.factor()).map(|d| d.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wan_yuan_becomes_exact_yuan() {
        let d = parse_decimal("1153.17").expect("decimal");
        assert_eq!(
            to_yuan(d, Unit::TenThousandYuan).expect("fits").to_string(),
            "11531700"
        );
        let d = parse_decimal("33751823.010000").expect("decimal");
        assert_eq!(
            to_yuan(d, Unit::Yuan).expect("fits").to_string(),
            "33751823.01"
        );
    }

    #[test]
    fn separators_and_garbage() {
        assert_eq!(
            parse_decimal("1,234,567.5").expect("ok").to_string(),
            "1234567.5"
        );
        assert!(parse_decimal("12,34").is_err());
        assert!(parse_decimal("壹佰元").is_err());
        assert!(parse_decimal("1e5").is_err());
        assert!(parse_decimal("").is_err());
    }

    #[test]
    fn units_by_name_or_code() {
        assert_eq!(Unit::parse("万元"), Some(Unit::TenThousandYuan));
        assert_eq!(Unit::parse("2"), Some(Unit::TenThousandYuan));
        assert_eq!(Unit::parse("1"), Some(Unit::Yuan));
        assert_eq!(Unit::parse("美元"), None);
    }
}

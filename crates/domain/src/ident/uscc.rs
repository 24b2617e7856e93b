//! 统一社会信用代码 (GB 32100-2015): 18 characters from a 31-symbol alphabet; the last is a
//! check character over the first 17 with weights 3^(i-1) mod 31. Positions 9–17 embed a GB 11714
//! organisation code with its own check character.

/// The GB 32100 alphabet: digits and capitals without I, O, S, V, Z; a symbol's value is its index.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Why a code is not a valid USCC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsccProblem {
    /// Not 18 characters long (an old 注册号 or organisation code): not a USCC at all.
    NotEighteen(usize),
    /// A character outside the alphabet at a 1-based position.
    BadCharacter {
        /// 1-based position.
        position: usize,
        /// The character.
        ch: char,
    },
    /// The check character does not match.
    CheckCharacter {
        /// What it should be.
        expected: char,
        /// What was sent.
        found: char,
    },
}

/// A USCC that passed its check character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uscc<'a> {
    /// Positions 3–8: the registering authority's GB/T 2260 region.
    pub region: &'a str,
    /// Whether positions 9–17 pass the GB 11714 organisation-code check.
    pub org_code_valid: bool,
}

fn value(c: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|a| *a == c)
        .and_then(|i| u32::try_from(i).ok())
}

/// The check character for 17 leading characters, if they are all in the alphabet.
pub fn check_character(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (b, w) in bytes.iter().zip(WEIGHTS) {
        sum += value(*b)? * w;
    }
    let index = (31 - sum % 31) % 31;
    ALPHABET
        .get(usize::try_from(index).ok()?)
        .map(|b| char::from(*b))
}

/// Checks a normalised (half-width, upper-case) code.
pub fn check(code: &str) -> Result<Uscc<'_>, UsccProblem> {
    let len = code.chars().count();
    if len != 18 {
        return Err(UsccProblem::NotEighteen(len));
    }
    for (i, ch) in code.chars().enumerate() {
        if !ch.is_ascii() || value(ch as u8).is_none() {
            return Err(UsccProblem::BadCharacter {
                position: i + 1,
                ch,
            });
        }
    }
    // All 18 characters are ASCII from here on, so byte slicing is safe.
    let expected = check_character(&code[..17]).ok_or(UsccProblem::BadCharacter {
        position: 1,
        ch: '?',
    })?;
    let found = char::from(code.as_bytes()[17]);
    if expected != found {
        return Err(UsccProblem::CheckCharacter { expected, found });
    }
    Ok(Uscc {
        region: &code[2..8],
        org_code_valid: org_code_valid(&code[8..17]),
    })
}

/// GB 11714-1997: 8 body characters (0–9 → 0–9, A–Z → 10–35) and a check character,
/// `11 − (Σ mod 11)` with 10 → `X`, 11 → `0`.
pub fn org_code_valid(code9: &str) -> bool {
    let bytes = code9.as_bytes();
    if bytes.len() != 9 {
        return false;
    }
    let mut sum = 0u32;
    for (b, w) in bytes[..8].iter().zip(ORG_WEIGHTS) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        sum += v * w;
    }
    let expected = match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        r => b'0' + u8::try_from(r).unwrap_or(0),
    };
    bytes[8] == expected
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real codes from published notices and registries.
    const REAL: &[&str] = &[
        "9113082810924237XA", // winner in a Hebei award notice (domain.md §4.1)
        "91110000100010433L", // a Beijing-registered central SOE, as printed in its public notices
    ];

    #[test]
    fn real_codes_pass() {
        for code in REAL {
            let parsed = check(code).unwrap_or_else(|e| panic!("{code}: {e:?}"));
            assert_eq!(parsed.region.len(), 6);
        }
        assert!(check("9113082810924237XA").expect("valid").org_code_valid);
        assert_eq!(check("9113082810924237XA").expect("valid").region, "130828");
    }

    #[test]
    fn every_one_character_corruption_of_a_real_code_is_caught() {
        let code = "9113082810924237XA";
        for pos in 0..18 {
            for &sub in ALPHABET.iter() {
                let mut bytes = code.as_bytes().to_vec();
                if bytes[pos] == sub {
                    continue;
                }
                bytes[pos] = sub;
                let corrupted = String::from_utf8(bytes).expect("ascii");
                assert!(check(&corrupted).is_err(), "{corrupted} passed");
            }
        }
    }

    #[test]
    fn the_check_error_names_the_expected_character() {
        assert_eq!(
            check("9113082810924237XB"),
            Err(UsccProblem::CheckCharacter {
                expected: 'A',
                found: 'B'
            })
        );
    }

    #[test]
    fn letters_outside_the_alphabet_and_short_codes() {
        assert!(matches!(
            check("9113082810924237IA"),
            Err(UsccProblem::BadCharacter {
                position: 17,
                ch: 'I'
            })
        ));
        assert_eq!(check("110108000000016"), Err(UsccProblem::NotEighteen(15)));
        assert!(matches!(
            check("９１１３０８２８１０９２４２３７ＸＡ"),
            Err(UsccProblem::BadCharacter { .. })
        ));
    }

    #[test]
    fn embedded_organisation_code() {
        assert!(org_code_valid("10924237X"));
        assert!(!org_code_valid("109242371"));
    }
}

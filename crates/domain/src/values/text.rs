//! Text folding shared by code fields, and the characters text may hold at all.

use std::borrow::Cow;

/// Folds full-width ASCII (U+FF01–U+FF5E) and the ideographic space to their half-width forms,
/// and drops zero-width characters (U+200B–U+200D, U+2060, U+FEFF). Platforms fed by Chinese
/// input methods often send `９１３２…` or `Ｅ３２０…` in code fields, and text pasted from web
/// pages carries invisible zero-width spaces: `002\u{200B}` is section `002`, not another one.
/// Borrows `s` when there is nothing to fold (the common case).
pub fn fold_full_width(s: &str) -> Cow<'_, str> {
    let zero_width = |c: char| matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}');
    let folds = |c: char| matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}') || zero_width(c);
    if s.is_ascii() || !s.chars().any(folds) {
        return Cow::Borrowed(s);
    }
    s.chars()
        .filter(|&c| !zero_width(c))
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect::<String>()
        .into()
}

/// Trims white space including the ideographic space; `None` when nothing is left, because an
/// empty element means "absent" on the wire.
pub fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
    (!t.is_empty()).then_some(t)
}

/// Splits a multi-valued code field on `;` `,` and their full-width forms, dropping empty parts.
pub fn split_codes(s: &str) -> Vec<String> {
    s.split([';', ',', '；', '，', '、'])
        .filter_map(non_empty)
        .map(|part| fold_full_width(part).trim().to_owned())
        .filter(|part| !part.is_empty())
        .collect()
}

/// Whether `c` is a character XML 1.0 may carry (the `Char` production, XML 1.0 Fifth Edition
/// §2.2: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF). Atom and RSS are XML, so
/// text outside this set can never be published: U+0000 and the other C0 controls, U+FFFE, U+FFFF.
/// (Surrogates are not `char`s; a JSON document's lone surrogate escapes are read as U+FFFF.)
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `name` matches XML 1.0's `Name` production (§2.3): a `NameStartChar` then
/// `NameChar`s. Element names become table and field codes, so a name with a NUL, a control
/// character or a quote in it must never get that far.
pub fn is_xml_name(name: &str) -> bool {
    fn start(c: char) -> bool {
        matches!(c,
            ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
            | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
            | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
            | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
            | '\u{10000}'..='\u{EFFFF}')
    }
    // Field and table codes are ASCII: decide those without decoding characters.
    if let Some((&first, rest)) = name.as_bytes().split_first()
        && name.is_ascii()
    {
        return matches!(first, b':' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
            && rest.iter().all(|b| {
                matches!(b, b':' | b'A'..=b'Z' | b'_' | b'a'..=b'z' | b'-' | b'.' | b'0'..=b'9')
            });
    }
    let mut chars = name.chars();
    chars.next().is_some_and(start)
        && chars.all(|c| {
            start(c)
                || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
        })
}

/// Whether every character of `text` is one XML 1.0 may carry ([`is_xml_char`]), read as bytes:
/// in UTF-8 the only characters outside the set are the C0 controls other than tab, LF and CR
/// (single bytes below 0x20) and U+FFFE, U+FFFF (`EF BF BE`, `EF BF BF`).
pub fn all_xml_chars(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Branch-free over every byte (so it vectorises), then the rare `EF` lead bytes one by one.
    let control = bytes.iter().fold(false, |found, &b| {
        found | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r'))
    });
    !control
        && memchr::memchr_iter(0xEF, bytes).all(|i| {
            !(bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)))
        })
}

/// Whether `c` is a bidirectional embedding, override or isolate control (U+202A–U+202E,
/// U+2066–U+2069, Unicode UAX #9 §2): invisible, it reorders how the text after it is shown, so a
/// deadline or an amount can be made to read as another (the "Trojan Source" attack,
/// CVE-2021-42574). No notice needs one: Chinese text runs left to right.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `text` holds a bidirectional control ([`is_bidi_control`]). Their UTF-8 starts with
/// `E2 80` or `E2 81`; only the rare `E2` lead bytes are looked at.
pub fn has_bidi_controls(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(0xE2, bytes).any(|i| {
        matches!(
            (bytes.get(i + 1), bytes.get(i + 2)),
            (Some(0x80), Some(0xAA..=0xAE)) | (Some(0x81), Some(0xA6..=0xA9))
        )
    })
}

/// `text` without the characters no notice may publish: those XML 1.0 cannot carry
/// ([`is_xml_char`]) and bidirectional controls ([`is_bidi_control`]); `None` when there were none
/// (the common case allocates nothing). `xml_chars_only` says the text came from an XML parser
/// and cannot hold the former.
pub fn without_unpublishable(text: &str, xml_chars_only: bool) -> Option<(String, Removed)> {
    if (xml_chars_only || all_xml_chars(text)) && !has_bidi_controls(text) {
        return None;
    }
    let mut removed = Removed::default();
    let kept = text
        .chars()
        .filter(|&c| {
            let keep = is_xml_char(c) && !is_bidi_control(c);
            if !keep {
                removed.add(c);
            }
            keep
        })
        .collect();
    Some((kept, removed))
}

/// Characters removed from a text: each code point with how often it occurred, in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed(pub Vec<(char, usize)>);

impl Removed {
    /// Nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn add(&mut self, c: char) {
        match self.0.iter_mut().find(|(seen, _)| *seen == c) {
            Some((_, n)) => *n += 1,
            None => self.0.push((c, 1)),
        }
    }

    /// Merges another text's removals into these.
    pub fn extend(&mut self, other: Removed) {
        for (c, n) in other.0 {
            for _ in 0..n {
                self.add(c);
            }
        }
    }
}

impl std::fmt::Display for Removed {
    /// `U+0000 ×1、U+000B ×2`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (c, n)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("、")?;
            }
            write!(f, "U+{:04X} ×{n}", u32::from(*c))?;
        }
        Ok(())
    }
}

/// `text` without the characters XML 1.0 cannot carry, and what was removed; `None` when the
/// text was clean (the common case allocates nothing).
pub fn without_non_xml(text: &str) -> Option<(String, Removed)> {
    if all_xml_chars(text) {
        return None;
    }
    let mut removed = Removed::default();
    let kept = text
        .chars()
        .filter(|&c| {
            let keep = is_xml_char(c);
            if !keep {
                removed.add(c);
            }
            keep
        })
        .collect();
    Some((kept, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidirectional_controls_are_found_and_removed_and_nothing_else() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            let text = format!("投标截止{c}52:90 03-2025");
            assert!(has_bidi_controls(&text), "{c:?}");
            let (kept, removed) = without_unpublishable(&text, true).expect("removed");
            assert_eq!(kept, "投标截止52:90 03-2025");
            assert_eq!(removed.0, [(c, 1)]);
        }
        // Quotes, dashes and marks share the E2 lead byte and stay.
        for text in ["“引号”—破折号…", "\u{200E}\u{200F}\u{2029}", "中文", ""] {
            assert!(!has_bidi_controls(text), "{text:?}");
            assert_eq!(without_unpublishable(text, false), None, "{text:?}");
        }
        let (kept, removed) = without_unpublishable("a\u{0}b\u{202E}c", false).expect("removed");
        assert_eq!(kept, "abc");
        assert_eq!(removed.0, [('\u{0}', 1), ('\u{202E}', 1)]);
    }

    #[test]
    fn folds_full_width_digits_and_letters() {
        assert_eq!(fold_full_width("９１１３ＡＢ"), "9113AB");
        assert_eq!(fold_full_width("中文"), "中文");
        assert_eq!(fold_full_width("E3203\u{200B}002\u{FEFF}"), "E3203002");
        assert_eq!(split_codes("001;002\u{200B}"), ["001", "002"]);
    }

    #[test]
    fn splits_on_both_separators() {
        assert_eq!(
            split_codes("A001; A002,A003；；"),
            vec!["A001", "A002", "A003"]
        );
        assert!(split_codes(" ; ").is_empty());
    }

    #[test]
    fn xml_chars_are_the_xml_1_0_char_production() {
        for c in (0u32..0x20).filter_map(char::from_u32) {
            assert_eq!(
                is_xml_char(c),
                matches!(c, '\t' | '\n' | '\r'),
                "U+{:04X}",
                c as u32
            );
        }
        for c in ['\u{FFFE}', '\u{FFFF}'] {
            assert!(!is_xml_char(c));
        }
        for c in [
            ' ',
            '中',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFD}',
            '\u{10000}',
            '\u{10FFFF}',
            '\u{7F}',
        ] {
            assert!(is_xml_char(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn the_byte_scan_agrees_with_the_char_production() {
        let samples = [
            "招标公告\t第一标段\n",
            "\u{FFFD}\u{FFFE}",
            "\u{EFFF}\u{FFFF}x",
            "a\u{0}",
            "\u{1F600}\u{E000}\u{D7FF}",
            "\u{FEFF}\u{FFBF}",
            "\u{7F}\u{85}",
        ];
        for text in samples {
            assert_eq!(
                all_xml_chars(text),
                text.chars().all(is_xml_char),
                "{text:?}"
            );
        }
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let text = c.to_string();
            assert_eq!(
                all_xml_chars(&text),
                is_xml_char(c),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn ascii_names_are_decided_as_the_production_says() {
        for name in ["TENDER_PROJECT_CODE", "a-b.c:d", "_x1"] {
            assert!(is_xml_name(name), "{name}");
        }
        for name in ["", "1ABC", "-A", "A B", "A\"", "A/B", ".A"] {
            assert!(!is_xml_name(name), "{name:?}");
        }
        assert!(is_xml_name("招标"));
    }

    #[test]
    fn removes_and_reports_what_it_removed() {
        assert_eq!(without_non_xml("招标公告\t第一标段\n"), None);
        let (kept, removed) = without_non_xml("招\u{0}标\u{b}\u{b}公告\u{FFFF}").expect("dirty");
        assert_eq!(kept, "招标公告");
        assert_eq!(removed.to_string(), "U+0000 ×1、U+000B ×2、U+FFFF ×1");
    }
}

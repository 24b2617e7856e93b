//! Text folding shared by code fields.

/// Folds full-width ASCII (U+FF01–U+FF5E) and the ideographic space to their half-width forms.
/// Platforms fed by Chinese input methods often send `９１３２…` or `Ｅ３２０…` in code fields.
pub fn fold_full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_digits_and_letters() {
        assert_eq!(fold_full_width("９１１３ＡＢ"), "9113AB");
        assert_eq!(fold_full_width("中文"), "中文");
    }

    #[test]
    fn splits_on_both_separators() {
        assert_eq!(
            split_codes("A001; A002,A003；；"),
            vec!["A001", "A002", "A003"]
        );
        assert!(split_codes(" ; ").is_empty());
    }
}

//! Bad input never panics: random bytes, truncated and mutated documents all come back as an
//! error or as records with findings.

use gongshi_domain::rules::Catalogue;
use gongshi_domain::{Document, Limits, Schemas, check_record};
use proptest::prelude::*;

const SAMPLE_XML: &str = include_str!("../../../examples/notices/works-procedure.xml");
const SAMPLE_JSON: &str = include_str!("../../../examples/notices/procurement-result.json");

/// Parses and, when the document is accepted, checks every record: must not panic.
fn exercise(bytes: &[u8]) -> bool {
    match Document::parse(bytes, Limits::default()) {
        Ok(doc) => {
            for raw in doc.records() {
                let _ = check_record(Schemas::embedded(), Catalogue::embedded(), &raw);
            }
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_give_an_error_or_records(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn every_truncation_of_a_batch_is_refused_whole(cut in 0usize..SAMPLE_XML.len()) {
        let mut cut = cut;
        while !SAMPLE_XML.is_char_boundary(cut) { cut -= 1; }
        // Any proper prefix that ends before the closing </BATCH> is not well-formed.
        if cut < SAMPLE_XML.trim_end().len() - "</BATCH>".len() {
            prop_assert!(!exercise(&SAMPLE_XML.as_bytes()[..cut]), "prefix of {cut} bytes accepted");
        }
    }

    #[test]
    fn truncated_json_is_refused(cut in 0usize..SAMPLE_JSON.trim_end().len()) {
        let mut cut = cut;
        while !SAMPLE_JSON.is_char_boundary(cut) { cut -= 1; }
        prop_assert!(!exercise(&SAMPLE_JSON.as_bytes()[..cut]));
    }

    #[test]
    fn mutated_documents_never_panic(pos in 0usize..4096, byte in any::<u8>(), doc in prop_oneof![Just(SAMPLE_XML), Just(SAMPLE_JSON)]) {
        let mut bytes = doc.as_bytes().to_vec();
        let pos = pos % bytes.len();
        bytes[pos] = byte;
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_field_values_never_panic(value in "\\PC{0,40}", field in prop_oneof![
        Just("BID_AMOUNT"), Just("NOTICE_SEND_TIME"), Just("WIN_BIDDER_CODE"), Just("REGION_CODE"),
        Just("PRICE_UNIT"), Just("BID_SECTION_CODE"), Just("DATA_TIMESTAMP")]) {
        let escaped = value.replace('&', "&amp;").replace('<', "&lt;");
        let doc = format!("<WIN_RESULT_ANNO><{field}>{escaped}</{field}></WIN_RESULT_ANNO>");
        exercise(doc.as_bytes());
    }
}

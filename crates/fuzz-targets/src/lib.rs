//! The bodies of gongshi's fuzz targets. `fuzz/fuzz_targets/<name>.rs` (run by `cargo fuzz` and
//! `scripts/fuzz`) and the replay test (`tests/replay.rs`, which feeds every file of
//! `fuzz/corpus/<name>/` through the same function under plain `cargo test`) both call these, so
//! what CI replays is exactly what was fuzzed.
//!
//! Each target takes arbitrary bytes, must not panic, and asserts with `assert!` the properties
//! that are cheap to check: a panic here is a finding.

use gongshi_domain::feed_cursor::{self, Window};
use gongshi_domain::parse::{RawField, RawRecord, RawValue, decode};
use gongshi_domain::values::amount::{self, Unit};
use gongshi_domain::values::datetime::{self, DateOnly};
use gongshi_domain::{Document, Limits, parse::Format};
use rust_decimal::Decimal;

/// A fuzz target: a name (its folder under `fuzz/corpus/`) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by the name of its `cargo fuzz` binary and corpus folder.
pub const TARGETS: &[Target] = &[
    ("xml_reader", xml_reader),
    ("json_reader", json_reader),
    ("encoding", encoding),
    ("datetime", datetime),
    ("amount", amount),
    ("feed_cursor", feed_cursor),
];

/// Limits small enough that the fuzzer explores the limit checks too, and large enough for every
/// seed document.
fn limits() -> Limits {
    Limits {
        max_document_bytes: 256 * 1024,
        ..Limits::default()
    }
}

/// The XML reader, both passes: the first (`Document::parse`, which proves the whole document
/// well-formed) and the second (`records`, which must then yield exactly as many records and
/// cannot fail half-way). A document read is written back as XML and read again: the same records
/// must come back, so nothing the reader keeps depends on how the document was spelt.
pub fn xml_reader(data: &[u8]) {
    let Ok(doc) = Document::parse(data, limits()) else {
        return;
    };
    if doc.format() != Format::Xml {
        return;
    }
    let records = doc.records();
    assert_eq!(
        records.len(),
        doc.record_count(),
        "the second pass yields what the first counted"
    );
    assert!(records.iter().all(|r| !r.table.is_empty()));
    let mut again = String::new();
    if records.len() == 1 && records[0].table != "BATCH" {
        write_record(&mut again, &records[0]);
    } else {
        again.push_str("<BATCH>");
        for record in &records {
            write_record(&mut again, record);
        }
        again.push_str("</BATCH>");
    }
    let reread = Document::parse(
        again.as_bytes(),
        Limits {
            max_document_bytes: usize::MAX,
            ..limits()
        },
    )
    .unwrap_or_else(|e| panic!("records written back do not read again: {e}\n{again}"));
    assert_eq!(
        without_lines(reread.records()),
        without_lines(records),
        "records written back read differently:\n{again}"
    );
}

/// The JSON reader: a document read has as many records as its shape check counted, each with a
/// table code.
pub fn json_reader(data: &[u8]) {
    let Ok(doc) = Document::parse(data, limits()) else {
        return;
    };
    if doc.format() != Format::Json {
        return;
    }
    let records = doc.records();
    assert_eq!(records.len(), doc.record_count());
    assert!(records.iter().all(|r| !r.table.trim().is_empty()));
}

/// Encoding detection: bytes that are UTF-8 already, with no byte-order mark and no XML
/// declaration naming another encoding, come back unchanged; a UTF-8 byte-order mark is dropped.
pub fn encoding(data: &[u8]) {
    let decoded = decode(data);
    let declares = data.starts_with(b"<?xml")
        && data[..data.len().min(200)]
            .windows(8)
            .any(|w| w == b"encoding");
    if let Some(rest) = data.strip_prefix(b"\xEF\xBB\xBF") {
        if let Ok(plain) = std::str::from_utf8(rest) {
            assert_eq!(decoded.as_deref(), Ok(plain), "a UTF-8 BOM is dropped");
        } else {
            assert!(
                decoded.is_err(),
                "invalid UTF-8 after a UTF-8 BOM is refused"
            );
        }
    } else if !declares && !data.starts_with(b"\xFE\xFF") && !data.starts_with(b"\xFF\xFE") {
        match std::str::from_utf8(data) {
            Ok(plain) => assert_eq!(decoded.as_deref(), Ok(plain), "UTF-8 is kept as sent"),
            Err(_) => assert!(decoded.is_err(), "invalid UTF-8 is refused, not repaired"),
        }
    }
}

/// The date-time parser: every value read is at +08:00 in whole seconds, its canonical text
/// reads back as the same instant, and a date-only end is the start of the same value or exactly
/// one day later.
pub fn datetime(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let start = datetime::parse(text, DateOnly::StartOfDay);
    let end = datetime::parse(text, DateOnly::EndOfDay);
    for instant in [&start, &end].into_iter().flatten() {
        assert_eq!(instant.offset().local_minus_utc(), 8 * 3600);
        assert_eq!(chrono::Timelike::nanosecond(instant), 0);
        let canonical = datetime::canonical(instant);
        assert_eq!(
            datetime::parse(&canonical, DateOnly::StartOfDay).as_ref(),
            Ok(instant),
            "canonical text {canonical} of {text:?} does not read back"
        );
    }
    match (&start, &end) {
        (Ok(s), Ok(e)) => {
            let gap = *e - *s;
            assert!(
                gap == chrono::TimeDelta::zero() || gap == chrono::TimeDelta::days(1),
                "{text:?}: start {s}, end {e}"
            );
        }
        (Err(_), Err(_)) => {}
        // Only the day after the last representable date may fail as an end.
        (Ok(_), Err(_)) => {}
        (Err(_), Ok(e)) => panic!("{text:?} reads as an end ({e}) but not as a start"),
    }
}

/// The amount parser: a parsed amount prints as text that parses to the same amount (so a
/// canonical notice re-read keeps its value), and the conversion to 元 is exact and normalised.
pub fn amount(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Unit::parse(text);
    let Ok(value) = amount::parse_decimal(text) else {
        return;
    };
    let printed = value.to_string();
    assert_eq!(
        amount::parse_decimal(&printed),
        Ok(value),
        "{text:?} printed as {printed}"
    );
    for unit in [Unit::Yuan, Unit::TenThousandYuan] {
        let Some(yuan) = amount::to_yuan(value, unit) else {
            continue;
        };
        assert_eq!(yuan, yuan.normalize());
        let factor = if unit == Unit::Yuan {
            Decimal::ONE
        } else {
            Decimal::from(10_000)
        };
        assert_eq!(
            yuan.checked_div(factor),
            Some(value),
            "{text:?} in {unit:?}"
        );
        assert_eq!(amount::parse_decimal(&yuan.to_string()), Ok(yuan));
    }
}

/// The feed cursor decoder: a cursor that decodes re-encodes to itself (one window, one cursor),
/// and never to the newest page, which has no cursor.
pub fn feed_cursor(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(window) = feed_cursor::decode(text) else {
        return;
    };
    assert_ne!(window, Window::Newest);
    assert_eq!(
        feed_cursor::encode(window).as_deref(),
        Some(text.trim()),
        "{text:?} decodes to {window:?}"
    );
}

/// Writes a record as the data standard's XML, escaping what text needs (a carriage return as a
/// reference, since a literal one would be read as a line end).
fn write_record(out: &mut String, record: &RawRecord) {
    out.push('<');
    out.push_str(&record.table);
    out.push('>');
    for RawField { name, value } in &record.fields {
        let RawValue::Text(text) = value else {
            panic!("the XML reader yields only text fields");
        };
        out.push('<');
        out.push_str(name);
        out.push('>');
        for c in text.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '\r' => out.push_str("&#13;"),
                other => out.push(other),
            }
        }
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    for child in &record.children {
        write_record(out, child);
    }
    out.push_str("</");
    out.push_str(&record.table);
    out.push('>');
}

fn without_lines(mut records: Vec<RawRecord>) -> Vec<RawRecord> {
    fn clear(record: &mut RawRecord) {
        record.line = 0;
        record.children.iter_mut().for_each(clear);
    }
    records.iter_mut().for_each(clear);
    records
}

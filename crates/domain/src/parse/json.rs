//! The JSON form: an object, or an array of objects, with the field codes as keys plus
//! `"TABLE": "<table code>"`. Nested sub-records are arrays (or single objects) under their table
//! code, e.g. `"TENDER_CANDIDATE": [{…}, …]`.

use super::{DocumentError, RawField, RawRecord, RawValue};
use crate::values::text::is_xml_name;
use serde_json::Value;

/// Parses JSON text, reporting syntax errors with line and column. A lone surrogate escape
/// (`\uD800` without its pair: legal JSON text, RFC 8259 §8.2, but no character) is read as U+FFFF,
/// which validation then removes with a `TEXT-CHARS` warning naming the field.
pub fn parse(text: &str) -> Result<Value, DocumentError> {
    let text = lone_surrogates_as_ffff(text);
    serde_json::from_str(&text).map_err(|e| DocumentError::Json {
        line: e.line(),
        column: e.column(),
        message: format!("JSON 格式错误 (malformed JSON): {e}"),
    })
}

/// `text` with every `\uXXXX` escape of a surrogate that is not half of a pair replaced by
/// `\uFFFF` (escapes keep their length, so line and column of later errors do not move).
fn lone_surrogates_as_ffff(text: &str) -> std::borrow::Cow<'_, str> {
    fn escape_at(b: &[u8], i: usize) -> Option<u16> {
        let hex = b.get(i..i + 6)?;
        if hex[0] != b'\\' || hex[1] != b'u' {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    }
    let b = text.as_bytes();
    if !text.contains("\\u") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match escape_at(b, i) {
            Some(0xD800..=0xDBFF) => {
                let paired =
                    escape_at(b, i + 6).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low));
                if paired {
                    i += 12;
                } else {
                    out.push_str(&text[last..i]);
                    out.push_str("\\uFFFF");
                    i += 6;
                    last = i;
                }
            }
            Some(0xDC00..=0xDFFF) => {
                out.push_str(&text[last..i]);
                out.push_str("\\uFFFF");
                i += 6;
                last = i;
            }
            // Any other escape (including `\\`) is skipped whole, so `\\uD800` stays text.
            _ => i += 2,
        }
    }
    if last == 0 {
        return std::borrow::Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    std::borrow::Cow::Owned(out)
}

fn shape_error(message: String) -> DocumentError {
    DocumentError::Json {
        line: 0,
        column: 0,
        message,
    }
}

/// Checks the document's shape and counts its records.
pub fn record_count(value: &Value) -> Result<usize, DocumentError> {
    let objects: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for (index, item) in objects.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(shape_error(format!(
                "第 {index} 项不是对象 (item {index} is not an object)"
            )));
        };
        match map.get("TABLE") {
            // A table code is an element name in the standard's XML, and nothing else can be
            // one: a NUL or a space in it would otherwise reach the store's record rows.
            Some(Value::String(t)) if is_xml_name(t.trim()) => {}
            Some(Value::String(t)) if !t.trim().is_empty() => {
                return Err(shape_error(format!(
                    "第 {index} 项的 \"TABLE\" {t:?} 不是表代码 (item {index}: \"TABLE\" is not a table code; a table code is an XML element name, such as TENDER_ANN_QUA_INQUERY_ANN)"
                )));
            }
            _ => {
                return Err(shape_error(format!(
                    "第 {index} 项缺少 \"TABLE\" 表代码 (item {index} lacks its \"TABLE\" code)"
                )));
            }
        }
    }
    Ok(objects.len())
}

/// Hands each top-level record to `visit`. The shape must have been checked by `record_count`.
pub fn records(value: &Value, visit: &mut impl FnMut(RawRecord)) {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for item in items {
        if let Value::Object(map) = item {
            let table = map.get("TABLE").and_then(Value::as_str).unwrap_or_default();
            visit(record(table, map));
        }
    }
}

fn record(table: &str, map: &serde_json::Map<String, Value>) -> RawRecord {
    let mut out = RawRecord {
        table: table.trim().to_owned(),
        ..RawRecord::default()
    };
    for (key, value) in map {
        if key == "TABLE" {
            continue;
        }
        match value {
            Value::Null => {}
            Value::Object(child) if key == "extra" => {
                // Our own canonical form carries unknown fields under "extra": read them back as
                // the fields they were.
                for (k, v) in child {
                    if let Some(v) = scalar_or_list(v) {
                        out.fields.push(RawField {
                            name: k.clone(),
                            value: v,
                        });
                    }
                }
            }
            Value::Object(child) => out.children.push(record(key, child)),
            Value::Array(items) if items.iter().any(Value::is_object) => {
                for item in items {
                    if let Value::Object(child) = item {
                        out.children.push(record(key, child));
                    }
                }
            }
            other => {
                if let Some(v) = scalar_or_list(other) {
                    out.fields.push(RawField {
                        name: key.clone(),
                        value: v,
                    });
                }
            }
        }
    }
    out
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        // Numbers keep the text serde_json prints; amounts beyond 15 significant digits should be
        // sent as strings.
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        _ => None,
    }
}

fn scalar_or_list(value: &Value) -> Option<RawValue> {
    match value {
        Value::Array(items) => Some(RawValue::List(
            items.iter().filter_map(scalar_text).collect(),
        )),
        other => scalar_text(other).map(RawValue::Text),
    }
}

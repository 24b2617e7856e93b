//! The JSON form: an object, or an array of objects, with the field codes as keys plus
//! `"TABLE": "<table code>"`. Nested sub-records are arrays (or single objects) under their table
//! code, e.g. `"TENDER_CANDIDATE": [{…}, …]`.

use super::{DocumentError, RawField, RawRecord, RawValue};
use serde_json::Value;

/// Parses JSON text, reporting syntax errors with line and column.
pub fn parse(text: &str) -> Result<Value, DocumentError> {
    serde_json::from_str(text).map_err(|e| DocumentError::Json {
        line: e.line(),
        column: e.column(),
        message: format!("JSON 格式错误 (malformed JSON): {e}"),
    })
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
            Some(Value::String(t)) if !t.trim().is_empty() => {}
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

//! From a raw record to its canonical JSON: every value read by the type its schema gives it.
//! Unknown fields go to `extra` (with a warning); values that cannot be read are kept as sent,
//! with an error naming the field, so the operator sees what the platform sent.

use crate::finding::{Finding, pointer_child};
use crate::parse::{RawField, RawRecord, RawValue};
use crate::rules::Catalogue;
use crate::schema::{FieldSpec, FieldType, Schemas, TableSpec};
use crate::values::amount::{self, Unit};
use crate::values::datetime::{self, DateOnly};
use crate::values::text::{
    Removed, fold_full_width, non_empty, split_codes, without_unpublishable,
};
use serde_json::{Map, Value};

/// Reads `raw` as a record of `table`; `path` is the record's JSON Pointer ("" at top level).
pub fn normalize(
    schemas: &Schemas,
    catalogue: &Catalogue,
    table: &TableSpec,
    raw: &RawRecord,
    path: &str,
    findings: &mut Vec<Finding>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut extra = Map::new();
    // Fields seen so far: the table's by position, unknown ones by name (rare).
    let mut seen = vec![false; table.field_count()];
    let mut seen_unknown: Vec<String> = Vec::new();

    for sent in &raw.fields {
        // Text no output can carry, or that would show readers another text (bidirectional
        // controls), is removed here, once, with a warning naming the field.
        let cleaned = clean_field(sent, raw.xml_chars_only);
        let field = cleaned.as_ref().map_or(sent, |(f, _)| f);
        let position = table.position(&field.name);
        // Paths and labels are only written into findings: built when one is raised.
        let field_path = || pointer_child(path, &field.name);
        let extra_path = || pointer_child(&pointer_child(path, "extra"), &field.name);
        if let Some((_, removed)) = &cleaned {
            findings.push(catalogue.finding(
                "TEXT-CHARS",
                if position.is_some() { field_path() } else { extra_path() },
                format!(
                    "{} 含有公告无法发布的字符，已删除：{removed} (characters outside XML 1.0 or bidirectional controls removed; a lone surrogate escape in JSON counts as U+FFFF)",
                    table.labelled(&field.name)
                ),
            ));
        }
        let repeated = match position {
            Some(i) => std::mem::replace(&mut seen[i], true),
            None if seen_unknown.contains(&field.name) => true,
            None => {
                seen_unknown.push(field.name.clone());
                false
            }
        };
        if repeated {
            findings.push(catalogue.finding(
                "FIELD-REPEATED",
                field_path(),
                format!(
                    "{} 出现多次，无法确定取值 (field sent more than once)",
                    table.labelled(&field.name)
                ),
            ));
            continue;
        }
        let Some(spec) = position.and_then(|i| table.field_at(i)) else {
            findings.push(catalogue.finding(
                "FIELD-UNKNOWN",
                extra_path(),
                format!(
                    "{} 不是 {} {} 的字段，已原样保留在 extra 中 (unknown field kept)",
                    field.name, table.code, table.title
                ),
            ));
            extra.insert(field.name.clone(), raw_json(&field.value));
            continue;
        };
        let value = match (&spec.ty, &field.value) {
            (FieldType::CodeList, RawValue::Text(t)) => {
                let codes = split_codes(t);
                (!codes.is_empty())
                    .then(|| Value::Array(codes.into_iter().map(Value::String).collect()))
            }
            (FieldType::CodeList, RawValue::List(items)) => {
                let codes: Vec<Value> = items
                    .iter()
                    .filter_map(|s| non_empty(s))
                    .map(|s| Value::String(fold_full_width(s).into_owned()))
                    .collect();
                (!codes.is_empty()).then_some(Value::Array(codes))
            }
            (_, RawValue::List(items)) => {
                findings.push(catalogue.finding(
                    "FIELD-LIST",
                    field_path(),
                    format!(
                        "{} 是单值字段，却给出了 {} 个值 (list for a single-valued field)",
                        table.labelled(&field.name),
                        items.len()
                    ),
                ));
                Some(raw_json(&field.value))
            }
            (_, RawValue::Text(text)) => {
                let Some(text) = non_empty(text) else {
                    continue;
                };
                Some(read_scalar(
                    catalogue, table, raw, spec, text, path, findings,
                ))
            }
        };
        if let Some(v) = value {
            out.insert(field.name.clone(), v);
        }
    }

    // Amounts whose unit field is absent: the amount is kept, and the error names both fields.
    for spec in table.fields() {
        if spec.ty == FieldType::Amount
            && out.contains_key(&spec.code)
            && let Some(unit_field) = &spec.unit_field
            && !out.contains_key(unit_field)
        {
            findings.push(catalogue.finding(
                "AMOUNT-UNIT-MISSING",
                pointer_child(path, &spec.code),
                format!(
                    "{} 没有单位：缺少 {} (amount without its unit)",
                    table.labelled(&spec.code),
                    table.labelled(unit_field)
                ),
            ));
        }
    }

    for child in &raw.children {
        match table.field(&child.table).map(|f| &f.ty) {
            Some(FieldType::Records(sub)) => {
                let Some(sub_table) = schemas.table(sub) else {
                    continue;
                };
                let list = out
                    .entry(child.table.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    let child_path =
                        pointer_child(&pointer_child(path, &child.table), &items.len().to_string());
                    let record =
                        normalize(schemas, catalogue, sub_table, child, &child_path, findings);
                    items.push(Value::Object(record));
                }
            }
            _ => {
                findings.push(catalogue.finding(
                    "FIELD-UNKNOWN",
                    pointer_child(&pointer_child(path, "extra"), &child.table),
                    format!(
                        "子记录 {} 不属于 {} {}，已原样保留在 extra 中 (unknown sub-record kept)",
                        child.table, table.code, table.title
                    ),
                ));
                let entry = extra
                    .entry(child.table.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry {
                    items.push(raw_record_json(child));
                }
            }
        }
    }

    if !extra.is_empty() {
        out.insert("extra".into(), Value::Object(extra));
    }
    out
}

/// Reads one text value of field `spec`; `path` is the record's JSON Pointer.
fn read_scalar(
    catalogue: &Catalogue,
    table: &TableSpec,
    raw: &RawRecord,
    spec: &FieldSpec,
    text: &str,
    path: &str,
    findings: &mut Vec<Finding>,
) -> Value {
    let mut fail = |rule: &str, detail: String| {
        findings.push(catalogue.finding(
            rule,
            pointer_child(path, &spec.code),
            format!("{}: {detail}", table.labelled(&spec.code)),
        ));
        Value::String(text.to_owned())
    };
    match &spec.ty {
        FieldType::Text => Value::String(text.to_owned()),
        FieldType::Code | FieldType::Region => {
            let folded = fold_full_width(text);
            let folded = folded.trim();
            match spec.code_table.as_deref() {
                Some(ct) => match crate::codes::lookup(ct, folded) {
                    Some(name) => Value::String(name.to_owned()),
                    None => fail(
                        "FIELD-CODE-TABLE",
                        format!("'{folded}' 不在代码表 {ct} 中 (not in code table)"),
                    ),
                },
                None => Value::String(folded.to_owned()),
            }
        }
        FieldType::PartyCode => Value::String(fold_full_width(text).trim().to_ascii_uppercase()),
        FieldType::CodeList => {
            Value::Array(split_codes(text).into_iter().map(Value::String).collect())
        }
        FieldType::DateTime | FieldType::DateTimeEnd => {
            let mode = if spec.ty == FieldType::DateTimeEnd {
                DateOnly::EndOfDay
            } else {
                DateOnly::StartOfDay
            };
            match datetime::parse(text, mode) {
                Ok(instant) => Value::String(datetime::canonical(&instant)),
                Err(reason) => fail("FIELD-DATETIME", reason),
            }
        }
        FieldType::Amount => {
            let decimal = match amount::parse_decimal(text) {
                Ok(d) => d,
                Err(reason) => return fail("FIELD-AMOUNT", reason),
            };
            if decimal.is_sign_negative() && !decimal.is_zero() {
                return fail(
                    "AMOUNT-NEGATIVE",
                    format!("'{text}' 为负数 (negative amount)"),
                );
            }
            let unit = spec
                .unit_field
                .as_deref()
                .and_then(|u| raw.text(u))
                .and_then(non_empty)
                .and_then(Unit::parse);
            match unit {
                Some(u) => match amount::to_yuan(decimal, u) {
                    Some(yuan) => Value::String(yuan.to_string()),
                    // Kept as given, the amount would be read in 元 as its unit field now says:
                    // 10,000 times too small for an amount in 万元.
                    None => fail(
                        "FIELD-AMOUNT",
                        format!("'{text}' 换算为元超出可表示的范围 (too large to convert to 元)"),
                    ),
                },
                // Missing or unknown unit: reported once, at the unit or by the pass above.
                None => Value::String(decimal.normalize().to_string()),
            }
        }
        FieldType::Unit => match Unit::parse(text) {
            Some(_) => Value::String("元".into()),
            None => fail(
                "AMOUNT-UNIT-UNKNOWN",
                format!("'{text}' 不是 元/万元 (或代码 1/2) (unknown unit)"),
            ),
        },
        FieldType::Flag => match text {
            "1" | "是" | "true" | "Y" | "y" => Value::String("1".into()),
            "0" | "否" | "false" | "N" | "n" => Value::String("0".into()),
            other => fail(
                "FIELD-FLAG",
                format!("'{other}' 应为 0 或 1 (expected 0 or 1)"),
            ),
        },
        FieldType::Integer => {
            let folded = fold_full_width(text);
            match folded.trim().parse::<u64>() {
                Ok(n) => Value::String(n.to_string()),
                Err(_) => fail(
                    "FIELD-INTEGER",
                    format!("'{text}' 不是整数 (not a whole number)"),
                ),
            }
        }
        FieldType::Records(_) => fail(
            "FIELD-LIST",
            "应为子记录，却是文本 (expected sub-records, got text)".into(),
        ),
    }
}

/// The field with its name and value(s) cleaned of characters XML 1.0 cannot carry, and what
/// was removed; `None` when it was clean.
fn clean_field(field: &RawField, xml_chars_only: bool) -> Option<(RawField, Removed)> {
    let mut removed = Removed::default();
    let mut clean = |text: &str| {
        without_unpublishable(text, xml_chars_only).map(|(kept, r)| {
            removed.extend(r);
            kept
        })
    };
    let name = clean(&field.name);
    let value = match &field.value {
        RawValue::Text(t) => clean(t).map(RawValue::Text),
        // A list is copied only when an item needs cleaning (the common case: none).
        RawValue::List(items) => items
            .iter()
            .any(|i| without_unpublishable(i, xml_chars_only).is_some())
            .then(|| {
                RawValue::List(
                    items
                        .iter()
                        .map(|i| clean(i).unwrap_or_else(|| i.clone()))
                        .collect(),
                )
            }),
    };
    // The common case: nothing to remove, and nothing copied.
    if name.is_none() && value.is_none() {
        return None;
    }
    let field = RawField {
        name: name.unwrap_or_else(|| field.name.clone()),
        value: value.unwrap_or_else(|| field.value.clone()),
    };
    Some((field, removed))
}

fn raw_json(value: &RawValue) -> Value {
    match value {
        RawValue::Text(t) => Value::String(t.clone()),
        RawValue::List(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
    }
}

fn raw_record_json(record: &RawRecord) -> Value {
    let mut map = Map::new();
    for f in &record.fields {
        map.insert(f.name.clone(), raw_json(&f.value));
    }
    for c in &record.children {
        let entry = map
            .entry(c.table.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = entry {
            items.push(raw_record_json(c));
        }
    }
    Value::Object(map)
}

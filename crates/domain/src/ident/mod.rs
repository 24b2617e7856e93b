//! Identifier checks: 统一社会信用代码 (GB 32100-2015), 公民身份号码 (GB 11643-1999) in party-code
//! fields, and GB/T 2260 region codes, applied to every field whose schema type is `party_code` or
//! `region`, in sub-records too.

pub mod resident_id;
pub mod uscc;

use crate::finding::{Finding, pointer_child};
use crate::rules::Catalogue;
use crate::schema::{FieldType, Schemas, TableSpec};
use serde_json::{Map, Value};

/// Checks the identifiers of a canonical record, appending findings.
pub fn check(
    schemas: &Schemas,
    catalogue: &Catalogue,
    table: &TableSpec,
    record: &Map<String, Value>,
    path: &str,
    findings: &mut Vec<Finding>,
) {
    // Only these field types carry identifiers: the others are not looked up at all.
    let carries_identifiers = |ty: &FieldType| {
        matches!(
            ty,
            FieldType::PartyCode | FieldType::Region | FieldType::Records(_)
        )
    };
    for spec in table.fields().filter(|f| carries_identifiers(&f.ty)) {
        let Some(value) = record.get(&spec.code) else {
            continue;
        };
        // Paths and labels are only written into findings: built when one is raised.
        let field_path = || pointer_child(path, &spec.code);
        let label = || table.labelled(&spec.code);
        match (&spec.ty, value) {
            (FieldType::PartyCode, Value::String(code)) => {
                for (rule, detail) in party_code_problems(code) {
                    findings.push(catalogue.finding(
                        rule,
                        field_path(),
                        format!("{} {detail}", label()),
                    ));
                }
            }
            (FieldType::Region, Value::String(code))
                if code.len() == 6
                    && code.bytes().all(|b| b.is_ascii_digit())
                    && crate::codes::region_name(code).is_none() =>
            {
                findings.push(catalogue.finding(
                    "REGION-UNKNOWN",
                    field_path(),
                    format!(
                        "{} '{code}' 不在 GB/T 2260 行政区划代码表（{}）中 (unknown region code)",
                        label(),
                        crate::codes::REGION_TABLE_REVISION
                    ),
                ));
            }
            (FieldType::Records(sub), Value::Array(items)) => {
                if let Some(sub_table) = schemas.table(sub) {
                    for (i, item) in items.iter().enumerate() {
                        if let Value::Object(child) = item {
                            let child_path = pointer_child(&field_path(), &i.to_string());
                            check(schemas, catalogue, sub_table, child, &child_path, findings);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Checks the codes that make a notice's procedure keys (`PLATFORM_CODE`, the project code, each
/// section code): none may contain `/` (the key's separator) or be `.` or `..` (a dot segment,
/// which every URL parser removes from the procedure's address). Appends `CODE-ADDRESS` findings.
pub fn check_key_codes(
    catalogue: &Catalogue,
    table: &TableSpec,
    record: &Map<String, Value>,
    findings: &mut Vec<Finding>,
) {
    let fields = [
        Some("PLATFORM_CODE"),
        table.project_field.as_deref(),
        table.sections_field.as_deref(),
    ];
    for field in fields.into_iter().flatten() {
        let values: Vec<(String, &str)> = match record.get(field) {
            Some(Value::String(s)) => vec![(pointer_child("", field), s.as_str())],
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let path = pointer_child(&pointer_child("", field), &i.to_string());
                    Some((path, v.as_str()?))
                })
                .collect(),
            _ => continue,
        };
        for (path, code) in values {
            if code.contains('/') || code == "." || code == ".." {
                findings.push(catalogue.finding(
                    "CODE-ADDRESS",
                    path,
                    format!(
                        "{} '{code}' 不能含“/”，也不能是“.”或“..” (a procedure code may not contain '/' or be a dot segment)",
                        table.labelled(field)
                    ),
                ));
            }
        }
    }
}

/// What is wrong with a party code, as (rule, message after the field's label); empty for most
/// codes, so that the caller builds a path and a label only for a finding.
fn party_code_problems(code: &str) -> Vec<(&'static str, String)> {
    use uscc::UsccProblem;
    // A natural person's identity number is personal data, not an organisation code: it is
    // withheld from every public output (`notice::strip_personal`), and not checked as a USCC.
    if resident_id::is_resident_id(code) {
        return vec![(
            "PARTY-PERSONAL-ID",
            format!(
                "'{}' 是公民身份号码（自然人），按个人信息处理：保存在内部，不公开；主体名称照常公开 (a resident identity number: personal data, withheld from every public output)",
                resident_id::masked(code)
            ),
        )];
    }
    let mut problems = Vec::new();
    match uscc::check(code) {
        Ok(parsed) => {
            if !parsed.org_code_valid {
                problems.push((
                    "USCC-ORG-CHECK",
                    format!("'{code}' 第9–17位组织机构代码校验码不符 (embedded organisation code check fails)"),
                ));
            }
            if crate::codes::region_name(parsed.region).is_none() {
                problems.push((
                    "USCC-REGION",
                    format!("'{code}' 第3–8位 '{}' 不是现行行政区划代码 (registration region not in current GB/T 2260)", parsed.region),
                ));
            }
        }
        Err(UsccProblem::NotEighteen(len)) => problems.push((
            "USCC-NOT-18",
            format!("'{code}' 为 {len} 位，不是统一社会信用代码，未校验 (not a USCC; kept as given)"),
        )),
        Err(UsccProblem::BadCharacter { position, ch }) => problems.push((
            "USCC-CHARSET",
            format!("'{code}' 第 {position} 位 '{ch}' 不是统一社会信用代码允许的字符 (character not allowed)"),
        )),
        Err(UsccProblem::CheckCharacter { expected, found }) => problems.push((
            "USCC-CHECK",
            format!("'{code}' 校验码应为 {expected}，实为 {found} (check character wrong)"),
        )),
    }
    problems
}

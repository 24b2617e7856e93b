//! Compiled releases by the OCDS 1.1 merge routine
//! (<https://standard.open-contracting.org/1.1/en/schema/merging/>), for record packages.
//!
//! - Releases are merged oldest first (by `date`).
//! - Fields marked `"omitWhenMerged": true` in the release schema (`id`, `date`, `tag`) are
//!   dropped; the compiled release gets its own: `tag` `["compiled"]`, `date` of the newest
//!   release, `id` `{ocid}-{date}` (as the reference implementation, ocdsmerge, does).
//! - An object's fields merge one by one: `null` removes the field, a field not yet there is
//!   added, a field already there is merged again by these rules.
//! - A literal (string, number, boolean) replaces the older value; so does an array that holds
//!   anything but objects, and an array the schema marks as a *whole list* (`"wholeListMerge":
//!   true`, items of a type other than `object`, or object items without an `id` property).
//! - Any other array of objects is merged by identifier: an object whose `id` is already in the
//!   array merges into that object, any other object is appended (an object without `id` never
//!   matches, so it is appended).
//!
//! Which paths are whole lists and which fields are omitted is read from the official
//! dereferenced release schema by [`MergeRules::from_schema`]; [`OMIT_WHEN_MERGED`] and
//! [`WHOLE_LIST_MERGE`] are those rules for OCDS 1.1.5, and a test proves they equal what
//! `../shared/ocds-1.1.5/dereferenced-release-schema.json` says. A path is the field names from
//! the release's root joined by `/`, arrays transparent (`tender/items/additionalClassifications`).
//! Fields outside the core schema (the bids extension's `bids/details`) follow the array rules
//! by their content.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// Fields with `"omitWhenMerged": true` in the OCDS 1.1.5 release schema.
pub const OMIT_WHEN_MERGED: &[&str] = &["date", "id", "tag"];

/// Array fields merged as a whole list in OCDS 1.1.5 (`wholeListMerge`, non-object items, or
/// object items without `id`), from the dereferenced release schema.
pub const WHOLE_LIST_MERGE: &[&str] = &[
    "awards/amendment/changes",
    "awards/amendments/changes",
    "awards/items/additionalClassifications",
    "awards/suppliers/additionalIdentifiers",
    "buyer/additionalIdentifiers",
    "contracts/amendment/changes",
    "contracts/amendments/changes",
    "contracts/implementation/transactions/payee/additionalIdentifiers",
    "contracts/implementation/transactions/payer/additionalIdentifiers",
    "contracts/items/additionalClassifications",
    "contracts/relatedProcesses/relationship",
    "parties/additionalIdentifiers",
    "parties/roles",
    "relatedProcesses/relationship",
    "tag",
    "tender/additionalProcurementCategories",
    "tender/amendment/changes",
    "tender/amendments/changes",
    "tender/items/additionalClassifications",
    "tender/procuringEntity/additionalIdentifiers",
    "tender/submissionMethod",
    "tender/tenderers/additionalIdentifiers",
];

/// Which fields a merge omits and which arrays it replaces whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRules {
    /// Paths of `omitWhenMerged` fields.
    pub omit: BTreeSet<String>,
    /// Paths of arrays merged as a whole list.
    pub whole_list: BTreeSet<String>,
}

impl MergeRules {
    /// The rules of OCDS 1.1.5 ([`OMIT_WHEN_MERGED`], [`WHOLE_LIST_MERGE`]).
    pub fn ocds_1_1_5() -> &'static MergeRules {
        static RULES: std::sync::OnceLock<MergeRules> = std::sync::OnceLock::new();
        RULES.get_or_init(|| MergeRules {
            omit: OMIT_WHEN_MERGED.iter().map(|s| (*s).to_owned()).collect(),
            whole_list: WHOLE_LIST_MERGE.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    /// The rules a dereferenced release schema declares (every `$ref` inlined, as the official
    /// `dereferenced-release-schema.json`).
    pub fn from_schema(schema: &Value) -> MergeRules {
        let mut rules = MergeRules {
            omit: BTreeSet::new(),
            whole_list: BTreeSet::new(),
        };
        walk(schema, "", &mut rules, 0);
        rules
    }
}

fn types(node: &Value) -> Vec<&str> {
    match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn walk(node: &Value, path: &str, rules: &mut MergeRules, depth: usize) {
    // The release schema nests a dozen levels; anything deeper would be a cycle.
    if depth > 32 {
        return;
    }
    if node.get("omitWhenMerged") == Some(&Value::Bool(true)) {
        rules.omit.insert(path.to_owned());
    }
    let child = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}/{name}")
        }
    };
    if types(node).contains(&"array") {
        let items = node.get("items").unwrap_or(&Value::Null);
        let item_types = types(items);
        let whole = node.get("wholeListMerge") == Some(&Value::Bool(true))
            || item_types.iter().any(|t| *t != "object")
            || (item_types.contains(&"object")
                && items
                    .get("properties")
                    .and_then(Value::as_object)
                    .is_some_and(|p| !p.contains_key("id")));
        if whole {
            rules.whole_list.insert(path.to_owned());
        }
        if let Some(properties) = items.get("properties").and_then(Value::as_object) {
            for (name, sub) in properties {
                walk(sub, &child(name), rules, depth + 1);
            }
        }
    }
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            walk(sub, &child(name), rules, depth + 1);
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}/{name}")
    }
}

fn merge_object(
    out: &mut Map<String, Value>,
    input: &Map<String, Value>,
    path: &str,
    rules: &MergeRules,
) {
    for (name, value) in input {
        let here = join(path, name);
        if rules.omit.contains(&here) {
            continue;
        }
        if value.is_null() {
            out.remove(name);
            continue;
        }
        let slot = out.entry(name.clone()).or_insert(Value::Null);
        merge_value(slot, value, &here, rules);
    }
}

fn merge_value(out: &mut Value, input: &Value, path: &str, rules: &MergeRules) {
    match input {
        Value::Object(fields) => {
            if !out.is_object() {
                *out = Value::Object(Map::new());
            }
            if let Value::Object(o) = out {
                merge_object(o, fields, path, rules);
            }
        }
        Value::Array(items)
            if items.iter().all(Value::is_object) && !rules.whole_list.contains(path) =>
        {
            if !out.is_array() {
                *out = Value::Array(Vec::new());
            }
            let Value::Array(list) = out else { return };
            for item in items {
                let Value::Object(fields) = item else {
                    continue;
                };
                let id = fields.get("id").filter(|id| !id.is_null());
                let existing = id.and_then(|id| list.iter_mut().find(|o| o.get("id") == Some(id)));
                match existing {
                    Some(o) => merge_value(o, item, path, rules),
                    None => {
                        let mut fresh = Value::Null;
                        merge_value(&mut fresh, item, path, rules);
                        list.push(fresh);
                    }
                }
            }
        }
        // Literals and whole lists.
        other => *out = other.clone(),
    }
}

fn instant(release: &Value) -> Option<DateTime<FixedOffset>> {
    release["date"]
        .as_str()
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
}

/// The releases of one ocid in merge order: by `date` (parsed; a release without a readable date
/// first), stable for equal dates.
pub fn sorted(releases: &[Value]) -> Vec<Value> {
    let mut out = releases.to_vec();
    out.sort_by_key(instant);
    out
}

/// The compiled release of one ocid's releases (any order), or `None` when there are none.
pub fn compile(releases: &[Value], rules: &MergeRules) -> Option<Value> {
    let releases = sorted(releases);
    let last = releases.last()?;
    let mut out = Map::new();
    for release in &releases {
        if let Value::Object(fields) = release {
            merge_object(&mut out, fields, "", rules);
        }
    }
    let ocid = last["ocid"].as_str().unwrap_or_default().to_owned();
    let date = last["date"].as_str().unwrap_or_default().to_owned();
    out.insert("id".into(), json!(format!("{ocid}-{date}")));
    out.insert("date".into(), json!(date));
    out.insert("tag".into(), json!(["compiled"]));
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> &'static MergeRules {
        MergeRules::ocds_1_1_5()
    }

    fn release(id: &str, date: &str, body: Value) -> Value {
        let mut r = json!({"ocid": "ocds-x-1", "id": id, "date": date, "tag": ["tender"],
                           "initiationType": "tender"});
        for (k, v) in body.as_object().expect("object") {
            r[k] = v.clone();
        }
        r
    }

    #[test]
    fn the_table_equals_the_official_schema() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/ocds-1.1.5/dereferenced-release-schema.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (../shared next to the repository)", path.display())
        });
        let schema: Value = serde_json::from_str(&text).expect("schema JSON");
        assert_eq!(&MergeRules::from_schema(&schema), rules());
    }

    #[test]
    fn later_values_win_and_metadata_is_the_compiled_releases_own() {
        let a = release(
            "1",
            "2025-03-03T09:00:00.000+08:00",
            json!({"tender": {"id": "T", "title": "旧", "status": "active"}}),
        );
        let b = release(
            "2",
            "2025-03-03T09:00:00.001+08:00",
            json!({"tender": {"id": "T", "title": "新"}}),
        );
        // Order of the input does not matter: dates do.
        let c = compile(&[b, a], rules()).expect("compiled");
        assert_eq!(
            c,
            json!({"ocid": "ocds-x-1", "initiationType": "tender",
                   "tender": {"id": "T", "title": "新", "status": "active"},
                   "id": "ocds-x-1-2025-03-03T09:00:00.001+08:00",
                   "date": "2025-03-03T09:00:00.001+08:00", "tag": ["compiled"]})
        );
        assert_eq!(compile(&[], rules()), None);
    }

    #[test]
    fn arrays_of_objects_merge_by_id() {
        let a = release(
            "1",
            "2025-03-01T00:00:00+08:00",
            json!({
                "awards": [{"id": "A1", "status": "pending", "suppliers": [{"id": "S1", "name": "甲"}]}],
                "parties": [{"id": "S1", "name": "甲", "roles": ["tenderer"]}, {"id": "S2", "name": "乙", "roles": ["tenderer"]}]
            }),
        );
        let b = release(
            "2",
            "2025-03-02T00:00:00+08:00",
            json!({
                "awards": [{"id": "A1", "status": "active", "value": {"amount": 1.0, "currency": "CNY"}}, {"id": "A2", "status": "pending"}],
                "parties": [{"id": "S1", "roles": ["supplier"]}]
            }),
        );
        let c = compile(&[a, b], rules()).expect("compiled");
        assert_eq!(
            c["awards"],
            json!([{"id": "A1", "status": "active", "suppliers": [{"id": "S1", "name": "甲"}],
                    "value": {"amount": 1.0, "currency": "CNY"}},
                   {"id": "A2", "status": "pending"}])
        );
        // `roles` is a list of strings: replaced whole, not merged.
        assert_eq!(
            c["parties"],
            json!([{"id": "S1", "name": "甲", "roles": ["supplier"]}, {"id": "S2", "name": "乙", "roles": ["tenderer"]}])
        );
    }

    #[test]
    fn whole_lists_are_replaced() {
        let a = release(
            "1",
            "2025-03-01T00:00:00+08:00",
            json!({
                "parties": [{"id": "P", "additionalIdentifiers": [{"scheme": "X", "id": "1"}, {"scheme": "Y", "id": "2"}]}],
                "tender": {"id": "T", "amendments": [{"id": "M", "changes": [{"property": "a"}, {"property": "b"}]}]}
            }),
        );
        let b = release(
            "2",
            "2025-03-02T00:00:00+08:00",
            json!({
                "parties": [{"id": "P", "additionalIdentifiers": [{"scheme": "Z", "id": "1"}]}],
                "tender": {"id": "T", "amendments": [{"id": "M", "changes": [{"property": "c"}]}]}
            }),
        );
        let c = compile(&[a, b], rules()).expect("compiled");
        // wholeListMerge: true
        assert_eq!(
            c["parties"][0]["additionalIdentifiers"],
            json!([{"scheme": "Z", "id": "1"}])
        );
        // object items without an `id` property in the schema
        assert_eq!(
            c["tender"]["amendments"][0]["changes"],
            json!([{"property": "c"}])
        );
    }

    #[test]
    fn null_removes_and_omitted_fields_stay_out() {
        let a = release(
            "1",
            "2025-03-01T00:00:00+08:00",
            json!({
                "tender": {"id": "T", "description": "说明", "tenderPeriod": {"startDate": "2025-03-01T00:00:00+08:00", "endDate": "2025-03-25T09:30:00+08:00"}},
                "buyer": {"id": "B", "name": "买方"}
            }),
        );
        let b = release(
            "2",
            "2025-03-02T00:00:00+08:00",
            json!({
                "tender": {"id": "T", "description": null, "tenderPeriod": {"endDate": "2025-03-31T09:30:00+08:00"}},
                "buyer": null,
                "awards": [{"id": "A", "title": "x", "description": null}]
            }),
        );
        let c = compile(&[a, b], rules()).expect("compiled");
        assert_eq!(
            c["tender"],
            json!({"id": "T", "tenderPeriod": {"startDate": "2025-03-01T00:00:00+08:00", "endDate": "2025-03-31T09:30:00+08:00"}})
        );
        assert!(c.get("buyer").is_none(), "{c}");
        // A null inside a new object is not copied.
        assert_eq!(c["awards"], json!([{"id": "A", "title": "x"}]));
        assert_eq!(c["tag"], json!(["compiled"]));
    }

    #[test]
    fn objects_without_id_are_appended() {
        let a = release(
            "1",
            "2025-03-01T00:00:00+08:00",
            json!({"bids": {"details": [{"id": "b1", "status": "valid"}]},
            "tender": {"id": "T", "documents": [{"title": "无编号"}]}}),
        );
        let b = release(
            "2",
            "2025-03-02T00:00:00+08:00",
            json!({"bids": {"details": [{"id": "b1", "rank": 1}]},
            "tender": {"id": "T", "documents": [{"title": "无编号"}]}}),
        );
        let c = compile(&[a, b], rules()).expect("compiled");
        // Outside the core schema (bids extension): objects with ids merge by id.
        assert_eq!(
            c["bids"]["details"],
            json!([{"id": "b1", "status": "valid", "rank": 1}])
        );
        assert_eq!(c["tender"]["documents"].as_array().map(Vec::len), Some(2));
    }
}

//! Runs every fixture under `rules/fixtures/`: each case is a sequence of records (bases from
//! `bases.json` with fields overridden) judged in order at a fixed `now`; the last record's
//! findings must include the fixture's rule (`fires`) or not (`silent`), with the outcome, hold
//! and windows the case names. Every catalogue rule with a check has firing and silent cases.

use gongshi_domain::period::{CHECKS, Engine, Ledger, Outcome, Verdict};
use gongshi_domain::rules::Catalogue;
use gongshi_domain::values::datetime::{self, DateOnly};
use gongshi_domain::{Document, Limits, Schemas, check_record};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/fixtures")
}

fn load(name: &str) -> Value {
    let path = fixtures_dir().join(name);
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn build_record(bases: &Value, spec: &Value) -> Value {
    match spec {
        Value::String(base) => bases[base].clone(),
        Value::Object(o) => {
            let base = o["base"].as_str().expect("base name");
            let mut record: Map<String, Value> =
                bases[base].as_object().expect("base exists").clone();
            for (k, v) in o
                .get("set")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if v.is_null() {
                    record.remove(k);
                } else {
                    record.insert(k.clone(), v.clone());
                }
            }
            Value::Object(record)
        }
        other => panic!("bad record spec {other}"),
    }
}

/// Judges the records of a case in order; returns the last record's verdict.
fn run_case(engine: &Engine<'_>, bases: &Value, case: &Value) -> Verdict {
    let now = datetime::parse(case["now"].as_str().expect("now"), DateOnly::StartOfDay)
        .expect("now parses");
    let mut ledger = Ledger::new();
    let records = case["records"].as_array().expect("records");
    let mut last = None;
    for (i, spec) in records.iter().enumerate() {
        let record = build_record(bases, spec);
        let text = serde_json::to_string(&record).expect("json");
        let doc =
            Document::parse(text.as_bytes(), Limits::default()).expect("fixture record parses");
        let raw = doc.records().remove(0);
        let checked = check_record(engine.schemas, engine.catalogue, &raw);
        let errors: Vec<_> = checked.errors().collect();
        assert!(
            errors.is_empty(),
            "record {i} of '{}' is not valid: {errors:#?}",
            case["name"]
        );
        let notice = checked.notice.expect("valid notice");
        for (index, verdict) in ledger.submit(engine, i, notice, now) {
            if index == records.len() - 1 {
                last = Some(verdict);
            }
        }
    }
    last.unwrap_or_else(|| panic!("'{}': last record got no verdict", case["name"]))
}

fn check_case(engine: &Engine<'_>, bases: &Value, rule: &str, case: &Value) {
    let name = case["name"].as_str().unwrap_or_default();
    let verdict = run_case(engine, bases, case);
    let ids: BTreeSet<&str> = verdict.findings.iter().map(|f| f.rule.as_str()).collect();
    match case["expect"].as_str() {
        Some("fires") => assert!(
            ids.contains(rule),
            "{rule} '{name}': expected to fire, got {:#?}",
            verdict.findings
        ),
        Some("silent") => assert!(
            !ids.contains(rule),
            "{rule} '{name}': expected silence, got {:#?}",
            verdict.findings
        ),
        other => panic!("{rule} '{name}': expect {other:?}"),
    }
    // `message_has`: words the firing finding's message must contain.
    for word in case
        .get("message_has")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        assert!(
            verdict
                .findings
                .iter()
                .any(|f| f.rule == rule && f.message.contains(word)),
            "{rule} '{name}': no message with {word}: {:#?}",
            verdict.findings
        );
    }
    if let Some(outcome) = case.get("outcome").and_then(Value::as_str) {
        assert_eq!(
            verdict.outcome.as_str(),
            outcome,
            "{rule} '{name}': {:#?}",
            verdict.findings
        );
    }
    if let Some(hold) = case.get("hold_until").and_then(Value::as_str) {
        assert_eq!(
            verdict
                .hold_until
                .map(|h| datetime::canonical(&h))
                .as_deref(),
            Some(hold),
            "{rule} '{name}'"
        );
    }
    for (window, expected) in case
        .get("windows")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let actual = verdict
            .windows
            .get(window)
            .unwrap_or_else(|| panic!("{rule} '{name}': no {window} window"));
        assert_eq!(
            expected["start"],
            datetime::canonical(&actual.start),
            "{rule} '{name}' {window} start"
        );
        assert_eq!(
            expected["end"],
            datetime::canonical(&actual.end),
            "{rule} '{name}' {window} end"
        );
    }
    // Every finding names its rule's legal basis and carries evidence when it is about figures.
    for f in &verdict.findings {
        assert!(f.message.contains("依据"), "{}: {}", f.rule, f.message);
    }
}

#[test]
fn every_rule_fixture_passes_and_fails_as_expected() {
    let engine = Engine::embedded();
    let bases = load("bases.json");
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name().is_some_and(|n| n != "bases.json")
                && p.extension().is_some_and(|x| x == "json")
        })
        .collect();
    files.sort();
    let mut covered = BTreeSet::new();
    for file in files {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        let rule = fixture["rule"].as_str().expect("rule id").to_owned();
        let cases = fixture["cases"].as_array().expect("cases");
        let kinds: BTreeSet<&str> = cases.iter().filter_map(|c| c["expect"].as_str()).collect();
        assert!(
            kinds.contains("fires") && kinds.contains("silent"),
            "{rule}: needs firing and silent cases"
        );
        for case in cases {
            check_case(&engine, &bases, &rule, case);
        }
        covered.insert(rule);
    }
    for rule in Catalogue::embedded().rules() {
        if matches!(
            rule.stage,
            gongshi_domain::rules::Stage::Period | gongshi_domain::rules::Stage::Publication
        ) {
            assert!(
                covered.contains(&rule.id),
                "rule {} has no fixture file",
                rule.id
            );
        }
        if let Some(check) = &rule.check {
            assert!(
                CHECKS.contains(&check.as_str()),
                "rule {}: unknown check {check}",
                rule.id
            );
        }
    }
}

#[test]
fn a_regional_override_makes_publicity_count_working_days() {
    let mut catalogue = Catalogue::parse(gongshi_domain::rules::CATALOGUE_TOML).expect("catalogue");
    // A fixture region, not a real provincial rule: prefix 32 counts W9 in working days.
    catalogue
        .add_region(
            r#"region = "32"
source = "fixture: a province that counts candidate publicity in working days"
[[override]]
rule = "W9"
params = { unit = "working" }
citation = "示例：某省招标投标条例"
"#,
        )
        .expect("override");
    let bases = load("bases.json");
    let case: Value = serde_json::json!({
        "name": "04-03 to 04-07 spans 清明节: 4 calendar days but 1 working day",
        "now": "2025-06-01 00:00",
        "records": ["works_tender", {"base": "works_candidates", "set": {
            "EVALUATION_REPORT_TIME": "2025-04-02 17:00",
            "PUBLICITY_START_TIME": "2025-04-03 09:00", "PUBLICITY_END_TIME": "2025-04-07 18:00"}}]
    });
    let national = run_case(&Engine::embedded(), &bases, &case);
    assert_eq!(
        national.outcome,
        Outcome::Publish,
        "{:#?}",
        national.findings
    );
    let engine = Engine {
        catalogue: &catalogue,
        ..Engine::embedded()
    };
    let regional = run_case(&engine, &bases, &case);
    assert_eq!(regional.outcome, Outcome::Reject);
    let w9 = regional
        .findings
        .iter()
        .find(|f| f.rule == "W9")
        .expect("W9 fires in region 32");
    assert!(
        w9.message.contains("示例：某省招标投标条例"),
        "{}",
        w9.message
    );

    // A notice outside the region keeps the national rule.
    let mut elsewhere = case.clone();
    elsewhere["records"][0] =
        serde_json::json!({"base": "works_tender", "set": {"REGION_CODE": "370000"}});
    assert_eq!(
        run_case(&engine, &bases, &elsewhere).outcome,
        Outcome::Publish
    );
}

#[test]
fn parked_award_is_released_when_its_parents_arrive_and_then_held() {
    let engine = Engine::embedded();
    let bases = load("bases.json");
    let now = datetime::parse("2025-04-10 12:00", DateOnly::StartOfDay).expect("now");
    let mut ledger = Ledger::new();
    let mut outcomes = std::collections::HashMap::new();
    for (i, base) in ["works_award", "works_candidates", "works_tender"]
        .iter()
        .enumerate()
    {
        let text = serde_json::to_string(&bases[*base]).expect("json");
        let raw = Document::parse(text.as_bytes(), Limits::default())
            .expect("doc")
            .records()
            .remove(0);
        let notice = check_record(Schemas::embedded(), Catalogue::embedded(), &raw)
            .notice
            .expect("valid");
        for (index, verdict) in ledger.submit(&engine, i, notice, now) {
            outcomes.insert(index, verdict);
        }
    }
    assert_eq!(outcomes[&2].outcome, Outcome::Publish, "tender");
    assert_eq!(
        outcomes[&1].outcome,
        Outcome::Publish,
        "candidates released by the tender"
    );
    let award = &outcomes[&0];
    assert_eq!(
        award.outcome,
        Outcome::Hold,
        "award released, then held: {:#?}",
        award.findings
    );
    assert_eq!(
        award.hold_until.map(|h| datetime::canonical(&h)).as_deref(),
        Some("2025-04-14T09:00:00+08:00")
    );
}

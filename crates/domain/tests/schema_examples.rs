//! Every schema example under `schemas/tables/examples/`: valid ones pass their schema and the
//! whole record check; invalid ones fail their schema at exactly the paths in `<name>.expected`.

use gongshi_domain::rules::Catalogue;
use gongshi_domain::{Document, Limits, Schemas, check_record};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn examples_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/tables/examples")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_notice_table_has_valid_and_invalid_examples() {
    let schemas = Schemas::embedded();
    for table in schemas.notice_tables() {
        let dir = examples_root().join(&table.code);
        assert!(
            json_files(&dir.join("valid")).len() >= 2,
            "{}: needs 2 valid examples",
            table.code
        );
        assert!(
            json_files(&dir.join("invalid")).len() >= 3,
            "{}: needs 3 invalid examples",
            table.code
        );
    }
}

#[test]
fn valid_examples_pass_schema_and_full_check() {
    let schemas = Schemas::embedded();
    let catalogue = Catalogue::embedded();
    for table in schemas.notice_tables() {
        for file in json_files(&examples_root().join(&table.code).join("valid")) {
            let text = fs::read_to_string(&file).expect("read");
            let instance: serde_json::Value = serde_json::from_str(&text).expect("json");
            let findings = schemas.validate(table, &instance);
            assert!(findings.is_empty(), "{}: {findings:#?}", file.display());

            let doc = Document::parse(text.as_bytes(), Limits::default()).expect("parses");
            for raw in doc.records() {
                let checked = check_record(schemas, catalogue, &raw);
                let errors: Vec<_> = checked.errors().collect();
                assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
                assert!(
                    checked.notice.is_some(),
                    "{}: no typed notice",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn invalid_examples_fail_at_exactly_their_expected_paths() {
    let schemas = Schemas::embedded();
    let mut seen = 0;
    for table in schemas.notice_tables() {
        for file in json_files(&examples_root().join(&table.code).join("invalid")) {
            let instance: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(&file).expect("read")).expect("json");
            let expected_file = file.with_extension("expected");
            let expected: BTreeSet<String> = fs::read_to_string(&expected_file)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_file.display()))
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            let findings = schemas.validate(table, &instance);
            let actual: BTreeSet<String> = findings.iter().map(|f| f.path.clone()).collect();
            assert_eq!(actual, expected, "{}: {findings:#?}", file.display());
            for f in &findings {
                assert!(
                    f.rule.starts_with("SCHEMA-"),
                    "{}: {}",
                    file.display(),
                    f.rule
                );
                assert!(!f.message.is_empty());
            }
            seen += 1;
        }
    }
    assert!(seen >= 24, "only {seen} invalid examples");
}

#[test]
fn a_missing_field_message_names_code_and_chinese_label() {
    let schemas = Schemas::embedded();
    let table = schemas.table("TENDER_ANN_QUA_INQUERY_ANN").expect("table");
    let instance = serde_json::json!({"TABLE": "TENDER_ANN_QUA_INQUERY_ANN"});
    let findings = schemas.validate(table, &instance);
    let f = findings
        .iter()
        .find(|f| f.path == "/BID_DOC_REFER_END_TIME")
        .expect("deadline reported");
    assert_eq!(f.rule, "SCHEMA-REQUIRED");
    assert!(
        f.message
            .contains("BID_DOC_REFER_END_TIME 投标文件递交截止时间"),
        "{}",
        f.message
    );
}

#[test]
fn catalogue_knows_every_rule_id_used_by_checks() {
    let catalogue = Catalogue::embedded();
    for id in [
        "DOC-TOO-LARGE",
        "DOC-EMPTY",
        "DOC-ENCODING",
        "DOC-XML",
        "DOC-JSON",
        "DOC-FORMAT",
        "TABLE-UNSUPPORTED",
        "FIELD-UNKNOWN",
        "FIELD-REPEATED",
        "FIELD-DATETIME",
        "FIELD-AMOUNT",
        "AMOUNT-NEGATIVE",
        "AMOUNT-UNIT-MISSING",
        "AMOUNT-UNIT-UNKNOWN",
        "FIELD-FLAG",
        "FIELD-INTEGER",
        "FIELD-CODE-TABLE",
        "FIELD-LIST",
        "SCHEMA-REQUIRED",
        "USCC-CHECK",
        "USCC-CHARSET",
        "USCC-NOT-18",
        "USCC-ORG-CHECK",
        "USCC-REGION",
        "REGION-UNKNOWN",
    ] {
        assert!(
            catalogue.get(id).is_some(),
            "{id} missing from rules/catalogue.toml"
        );
    }
}

/// Notice ids and content hashes are stored and published: the same record must keep them from
/// release to release, however the bytes behind them are written. The listing pins every valid
/// example's; a change here is a change to stored ids and needs a migration, not a new listing.
#[test]
fn valid_examples_keep_their_pinned_notice_ids_and_content_hashes() {
    let schemas = Schemas::embedded();
    let catalogue = Catalogue::embedded();
    let mut listing = String::new();
    for table in schemas.notice_tables() {
        for file in json_files(&examples_root().join(&table.code).join("valid")) {
            let text = fs::read_to_string(&file).expect("read");
            let doc = Document::parse(text.as_bytes(), Limits::default()).expect("parses");
            for raw in doc.records() {
                let checked = check_record(schemas, catalogue, &raw);
                let notice = checked.notice.expect("typed notice");
                let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("?");
                listing.push_str(&format!(
                    "{}/{name} {} {}\n",
                    table.code, notice.id, notice.content_hash
                ));
            }
        }
    }
    let pinned = include_str!("pinned/notice_ids.txt");
    assert_eq!(listing, pinned, "actual listing:\n{listing}");
}

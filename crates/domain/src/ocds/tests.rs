//! The mapping on the table schemas' example records, checked against the official OCDS 1.1.5
//! schemas and codelists (`../shared/ocds-1.1.5`, next to the repository).

use super::validate::{Checker, codelist_codes};
use super::*;
use crate::notice::{Notice, strip_personal};
use crate::period::Window;
use crate::schema::Schemas;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ocds-1.1.5")
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the OCDS schemas live in ../shared)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("schema JSON")
}

pub(crate) fn checker() -> Checker {
    let dir = shared();
    let mut codelists = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("codelists")).expect("codelists") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        codelists.insert(
            name,
            codelist_codes(&std::fs::read_to_string(&path).expect("csv")),
        );
    }
    Checker::new(
        read_json(dir.join("release-package-schema.json")),
        read_json(dir.join("release-schema.json")),
        codelists,
    )
    .and_then(|c| c.with_record_package(read_json(dir.join("record-package-schema.json"))))
    .expect("OCDS schemas compile")
}

fn example(table: &str, name: &str) -> Notice {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/tables/examples")
        .join(table)
        .join("valid")
        .join(name);
    let Value::Object(record) = read_json(path) else {
        panic!("{name}: not an object")
    };
    let spec = Schemas::embedded().table(table).expect("table");
    Notice::from_canonical(spec, record).expect("example is a notice")
}

fn window(start: &str, end: &str) -> Window {
    Window {
        start: DateTime::parse_from_rfc3339(start).expect("start"),
        end: DateTime::parse_from_rfc3339(end).expect("end"),
    }
}

struct Fixture {
    notice: Notice,
    record: Map<String, Value>,
    windows: BTreeMap<String, Window>,
    published_at: DateTime<Utc>,
    date: Option<DateTime<Utc>>,
    version: usize,
}

impl Fixture {
    fn new(table: &str, name: &str, published: &str) -> Fixture {
        let notice = example(table, name);
        let record = strip_personal(Schemas::embedded(), table, &notice.canonical);
        Fixture {
            notice,
            record,
            windows: BTreeMap::new(),
            published_at: DateTime::parse_from_rfc3339(published)
                .expect("published")
                .with_timezone(&Utc),
            date: None,
            version: 1,
        }
    }

    fn with_window(mut self, name: &str, start: &str, end: &str) -> Fixture {
        self.windows.insert(name.into(), window(start, end));
        self
    }

    fn releases(&self) -> Vec<Value> {
        releases(
            PLACEHOLDER_PREFIX,
            &PublishedNotice {
                notice_id: &self.notice.id,
                table: &self.notice.table,
                kind: self.notice.kind,
                regime: self.notice.regime,
                procedures: &self.notice.procedures,
                title: &self.notice.title,
                record: &self.record,
                windows: &self.windows,
                published_at: self.published_at,
                date: self.date.unwrap_or(self.published_at),
                version: self.version,
            },
        )
    }
}

fn package_of(releases: Vec<Value>) -> Value {
    package(
        &PackageMeta {
            uri: "http://127.0.0.1:8080/v1/export/ocds?from=2025-03-01".into(),
            publisher: "gongshi (placeholder publisher)".into(),
            published_date: "2025-04-12T09:00:00+08:00".into(),
            next: None,
        },
        releases,
    )
}

fn works() -> Vec<Fixture> {
    vec![
        Fixture::new(
            "TENDER_ANN_QUA_INQUERY_ANN",
            "works_tender_notice_two_sections.json",
            "2025-03-10T09:00:05+08:00",
        )
        .with_window(
            "bid",
            "2025-03-10T09:00:00+08:00",
            "2025-04-01T09:30:00+08:00",
        ),
        Fixture::new(
            "TENDER_FILE_CLARI_MODI",
            "clarification_without_postponement.json",
            "2025-03-20T10:00:05+08:00",
        ),
        Fixture::new(
            "TENDER_CANDIDATE_ANNOUNCE",
            "three_ranked_candidates.json",
            "2025-04-08T09:00:05+08:00",
        )
        .with_window(
            "publicity",
            "2025-04-08T09:00:00+08:00",
            "2025-04-11T18:00:00+08:00",
        ),
        Fixture::new(
            "WIN_RESULT_ANNO",
            "award_with_project_lead.json",
            "2025-04-12T09:00:00+08:00",
        ),
    ]
}

#[test]
fn a_works_procedure_becomes_valid_ocds_releases() {
    let fixtures = works();
    let all: Vec<Value> = fixtures.iter().flat_map(Fixture::releases).collect();
    let package = package_of(all.clone());
    let problems = checker().problems(&package);
    assert!(problems.is_empty(), "{problems:#?}\n{package:#}");

    // The tender names two sections: two procedures, two ocids.
    let tender = &all[..2];
    assert_eq!(tender[0]["tag"], json!(["tender"]));
    assert_eq!(
        tender[0]["ocid"],
        "ocds-gongshi-320000000001-E3203010319005778-E3203010319005778001"
    );
    assert_ne!(tender[0]["ocid"], tender[1]["ocid"]);
    assert_eq!(
        tender[0]["tender"]["tenderPeriod"]["endDate"],
        "2025-04-01T09:30:00+08:00"
    );
    assert_eq!(tender[0]["tender"]["procurementMethod"], "open");
    assert_eq!(tender[0]["date"], "2025-03-10T09:00:05.000+08:00");
    let roles: BTreeMap<String, Value> = tender[0]["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_owned(),
                p["roles"].clone(),
            )
        })
        .collect();
    assert!(
        roles
            .values()
            .any(|r| r == &json!(["buyer"]) || r == &json!(["buyer", "procuringEntity"])),
        "{roles:?}"
    );

    let amendment = &all[2];
    assert_eq!(amendment["tag"], json!(["tenderAmendment"]));
    assert_eq!(amendment["tender"]["amendments"][0]["id"], amendment["id"]);

    let pending = &all[3];
    assert_eq!(pending["tag"], json!(["award"]));
    let award = &pending["awards"][0];
    assert_eq!(award["status"], "pending");
    let bids = pending["bids"]["details"].as_array().expect("bids");
    let ranks: Vec<&Value> = bids.iter().map(|b| &b["rank"]).collect();
    assert_eq!(ranks, [&json!(1), &json!(2), &json!(3)]);
    assert_eq!(award["relatedBid"], bids[0]["id"]);
    assert_eq!(award["suppliers"][0]["id"], "CN-USCC-913203826683892551");
    assert_eq!(
        award["value"],
        json!({"amount": 10876543.21, "currency": "CNY"})
    );
    assert_eq!(
        pending["tender"]["awardPeriod"]["endDate"],
        "2025-04-11T18:00:00+08:00"
    );

    let active = &all[4];
    assert_eq!(active["awards"][0]["status"], "active");
    assert_eq!(
        active["awards"][0]["id"], award["id"],
        "the same award moves from pending to active"
    );
    assert_eq!(active["ocid"], pending["ocid"]);
    let text = active.to_string();
    assert!(
        !text.contains("PROJECT_LEAD") && !text.contains("项目负责人"),
        "{text}"
    );
}

#[test]
fn a_procurement_procedure_becomes_valid_ocds_releases() {
    let fixtures = [
        Fixture::new(
            "PURCHASE_QUALI_INQUERY_ANN",
            "open_tender_procurement_notice.json",
            "2025-03-01T09:00:00+08:00",
        ),
        Fixture::new(
            "CORRECTION_ITEM",
            "postponed_closing_time.json",
            "2025-03-14T16:00:05+08:00",
        ),
        Fixture::new(
            "BID_DEAL_ANNOUNCE",
            "open_tender_award.json",
            "2025-04-20T09:00:00+08:00",
        ),
    ];
    let all: Vec<Value> = fixtures.iter().flat_map(Fixture::releases).collect();
    let problems = checker().problems(&package_of(all.clone()));
    assert!(problems.is_empty(), "{problems:#?}\n{all:#?}");
    let tags: Vec<&Value> = all.iter().map(|r| &r["tag"][0]).collect();
    assert_eq!(tags, ["tender", "tenderAmendment", "award"]);
    assert_eq!(
        all[1]["tender"]["tenderPeriod"]["endDate"],
        "2025-04-08T09:30:00+08:00"
    );
    assert_eq!(all[2]["awards"][0]["status"], "active");
    assert!(all[2]["awards"][0]["suppliers"][0]["id"].is_string());
}

#[test]
fn resent_versions_are_updates() {
    let mut fixture = Fixture::new(
        "TENDER_CANDIDATE_ANNOUNCE",
        "three_ranked_candidates.json",
        "2025-04-09T09:00:05+08:00",
    );
    fixture.version = 2;
    assert_eq!(fixture.releases()[0]["tag"], json!(["awardUpdate"]));
    let mut tender = Fixture::new(
        "TENDER_ANN_QUA_INQUERY_ANN",
        "works_prequalification_notice.json",
        "2025-03-10T09:00:05+08:00",
    );
    tender.version = 3;
    let release = &tender.releases()[0];
    assert_eq!(release["tag"], json!(["tenderUpdate"]));
    assert_eq!(release["tender"]["procurementMethod"], "selective");
}

#[test]
fn the_checker_rejects_broken_releases() {
    let checker = checker();
    let good = package_of(works().iter().flat_map(Fixture::releases).collect());
    assert!(checker.problems(&good).is_empty());
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut p = good.clone();
        edit(&mut p);
        checker.problems(&p)
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "missing ocid",
            broken(&|p| {
                p["releases"][0].as_object_mut().map(|r| r.remove("ocid"));
            }),
        ),
        (
            "unknown tag",
            broken(&|p| p["releases"][0]["tag"] = json!(["tenderz"])),
        ),
        (
            "award status",
            broken(&|p| p["releases"][3]["awards"][0]["status"] = json!("won")),
        ),
        (
            "currency",
            broken(&|p| p["releases"][3]["awards"][0]["value"]["currency"] = json!("RMB")),
        ),
        (
            "date format",
            broken(&|p| p["releases"][0]["date"] = json!("2025年3月10日")),
        ),
        (
            "party role",
            broken(&|p| p["releases"][0]["parties"][0]["roles"] = json!(["winner"])),
        ),
        (
            "bid status",
            broken(&|p| p["releases"][3]["bids"]["details"][0]["status"] = json!("first")),
        ),
        ("no releases", broken(&|p| p["releases"] = json!([]))),
        ("version", broken(&|p| p["version"] = json!("1.1.5"))),
        (
            "repeated release",
            broken(&|p| {
                let first = p["releases"][0].clone();
                p["releases"][1] = first;
            }),
        ),
    ];
    for (what, problems) in cases {
        assert!(!problems.is_empty(), "{what}: accepted");
    }
}

#[test]
fn ocids_keep_distinct_procedures_apart() {
    let key = |platform: &str, project: &str, section: &str| crate::ProcedureKey {
        platform: platform.into(),
        project: project.into(),
        section: section.into(),
    };
    let a = ocid(PLACEHOLDER_PREFIX, &key("P", "A-B", "C"));
    let b = ocid(PLACEHOLDER_PREFIX, &key("P", "A", "B-C"));
    assert_ne!(a, b);
    assert_eq!(a, "ocds-gongshi-P-A%2DB-C");
    assert_eq!(
        codelist_codes(
            "Category,Code,Title\nbasic,\"tenderNotice\",\"Tender, notice\"\nx,awardNotice,y"
        ),
        ["awardNotice".to_owned(), "tenderNotice".to_owned()]
            .into_iter()
            .collect()
    );
}

#[test]
fn terminations_cancel_the_tender_or_mark_it_unsuccessful() {
    let failed = Fixture::new(
        "TENDER_TERMINATION",
        "failed_tender_fewer_than_three_bidders.json",
        "2025-04-02T10:00:00+08:00",
    );
    let ended = Fixture::new(
        "TENDER_TERMINATION",
        "termination_two_sections.json",
        "2025-06-02T10:00:00+08:00",
    );
    let (failed, ended) = (failed.releases(), ended.releases());
    assert_eq!(ended.len(), 2, "one release per section");
    let problems = checker().problems(&package_of([failed.clone(), ended.clone()].concat()));
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(failed[0]["tag"], json!(["tenderCancellation"]));
    assert_eq!(failed[0]["tender"]["status"], "unsuccessful");
    assert_eq!(ended[1]["tender"]["status"], "cancelled");
    assert_eq!(
        ended[0]["tender"]["description"],
        ended[1]["tender"]["description"]
    );
}

fn record_package_of(records: Vec<Value>) -> Value {
    json!({
        "uri": "http://127.0.0.1:8080/v1/export/ocds/records?ocid=x",
        "version": "1.1",
        "publishedDate": "2025-04-12T09:00:00+08:00",
        "publisher": {"name": "gongshi (placeholder publisher)"},
        "extensions": [BIDS_EXTENSION],
        "records": records,
    })
}

#[test]
fn release_dates_strictly_increase_in_publication_order() {
    let at = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .expect("instant")
            .with_timezone(&Utc)
    };
    let published = [
        at("2025-04-12T09:00:00.000400+08:00"),
        // the same instant (one transaction)
        at("2025-04-12T09:00:00.000400+08:00"),
        // within the same millisecond
        at("2025-04-12T09:00:00.000900+08:00"),
        // earlier than the one published before it (an older transaction's start)
        at("2025-04-12T08:59:59.999+08:00"),
        at("2025-04-12T09:00:01.500+08:00"),
    ];
    let dates: Vec<String> = release_dates(&published).iter().map(date_text).collect();
    assert_eq!(
        dates,
        [
            "2025-04-12T09:00:00.000+08:00",
            "2025-04-12T09:00:00.001+08:00",
            "2025-04-12T09:00:00.002+08:00",
            "2025-04-12T09:00:00.003+08:00",
            "2025-04-12T09:00:01.500+08:00",
        ]
    );
    // Stable: the dates of a prefix do not depend on what is published after it.
    assert_eq!(
        release_dates(&published[..3]),
        release_dates(&published)[..3]
    );
    assert!(release_dates(&[]).is_empty());
}

#[test]
fn ocids_lead_back_to_their_procedure() {
    for (platform, project, section) in [
        ("JSGGZY", "E3201002025000301", "E3201002025000301001"),
        ("P", "A-B", "C/D%"),
        ("P", "%2D", "-"),
    ] {
        let key = crate::ProcedureKey {
            platform: platform.into(),
            project: project.into(),
            section: section.into(),
        };
        let o = ocid(PLACEHOLDER_PREFIX, &key);
        assert_eq!(procedure_of(PLACEHOLDER_PREFIX, &o), Some(key), "{o}");
        assert_eq!(procedure_of("ocds-other-", &o), None);
    }
    for junk in [
        "",
        "ocds-gongshi-",
        "ocds-gongshi-A-B",
        "ocds-gongshi-A-B-C-D",
        "ocds-gongshi-A--C",
        "ocds-gongshi-A-B%41-C",
        "ocds-gongshi-A-B%2d-C",
        "ocds-gongshi-A-B%2-C",
    ] {
        assert_eq!(procedure_of(PLACEHOLDER_PREFIX, junk), None, "{junk}");
    }
}

/// A back-filled works procedure: every notice published in the same instant.
#[test]
fn a_back_filled_procedure_becomes_a_valid_record_in_publication_order() {
    let mut fixtures = works();
    let instant = fixtures[0].published_at;
    let dates = release_dates(&vec![instant; fixtures.len()]);
    for (f, d) in fixtures.iter_mut().zip(&dates) {
        f.published_at = instant;
        f.date = Some(*d);
    }
    let all: Vec<Value> = fixtures.iter().flat_map(Fixture::releases).collect();
    let mut by_ocid: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in &all {
        by_ocid
            .entry(r["ocid"].as_str().unwrap_or("").to_owned())
            .or_default()
            .push(r.clone());
    }
    let records: Vec<Value> = by_ocid
        .values()
        .map(|rs| {
            // Handed over in reverse: the record orders them by date.
            let reversed: Vec<Value> = rs.iter().rev().cloned().collect();
            record(&reversed).expect("record")
        })
        .collect();
    let package = record_package_of(records);
    let checker = checker();
    let problems = checker.record_problems(&package);
    assert!(problems.is_empty(), "{problems:#?}\n{package:#}");

    let section = package["records"]
        .as_array()
        .expect("records")
        .iter()
        .find(|r| r["releases"].as_array().map(Vec::len) == Some(4))
        .expect("the awarded section's record");
    let tags: Vec<&Value> = section["releases"]
        .as_array()
        .expect("releases")
        .iter()
        .map(|r| &r["tag"][0])
        .collect();
    assert_eq!(tags, ["tender", "tenderAmendment", "award", "award"]);
    let compiled = &section["compiledRelease"];
    assert_eq!(compiled["tag"], json!(["compiled"]));
    assert_eq!(compiled["date"], section["releases"][3]["date"]);
    assert_eq!(compiled["awards"].as_array().map(Vec::len), Some(1));
    assert_eq!(compiled["awards"][0]["status"], "active");
    assert_eq!(compiled["tender"]["status"], "complete");
    assert_eq!(
        compiled["tender"]["tenderPeriod"]["endDate"],
        "2025-04-01T09:30:00+08:00"
    );
    // The ranked bids of the publicity stay in the compiled release.
    assert_eq!(
        compiled["bids"]["details"].as_array().map(Vec::len),
        Some(3)
    );

    // The checker is live on records too.
    let mut broken = package.clone();
    broken["records"][0]["compiledRelease"]["tag"] = json!(["published"]);
    assert!(!checker.record_problems(&broken).is_empty());
    let mut unordered = package.clone();
    if let Some(rs) = unordered["records"][0]["releases"].as_array_mut() {
        rs.reverse();
    }
    assert!(!checker.record_problems(&unordered).is_empty());
    let mut versioned = package;
    versioned["records"][0]["versionedRelease"] = json!({});
    assert!(!checker.record_problems(&versioned).is_empty());
}

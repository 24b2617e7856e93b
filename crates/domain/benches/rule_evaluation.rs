//! Rule-evaluation benchmark: how many notices per second the period engine judges, with their
//! procedures' state, against the cost of reading and validating the same records
//! (`check_record`) measured in the same run as the baseline.
//!
//! `cargo bench -p gongshi-domain --bench rule_evaluation` (`GONGSHI_BENCH_PROCEDURES`, default 3000:
//! a works procedure of tender, candidate publicity and award each, plus a procurement tender and
//! result).

use gongshi_domain::period::{Engine, Ledger, ProcedureState};
use gongshi_domain::rules::Catalogue;
use gongshi_domain::values::datetime::{self, DateOnly};
use gongshi_domain::{Document, Limits, Notice, Schemas, check_record};
use serde_json::{Value, json};
use std::time::Instant;

fn bases() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../rules/fixtures/bases.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("bases.json")).expect("json")
}

fn records(n: usize) -> Vec<Vec<u8>> {
    let bases = bases();
    let mut out = Vec::new();
    for i in 0..n {
        for base in [
            "works_tender",
            "works_candidates",
            "works_award",
            "gp_tender",
            "gp_result",
        ] {
            let mut r = bases[base].clone();
            for field in ["TENDER_PROJECT_CODE", "PURCHASE_PROJECT_CODE"] {
                if let Some(code) = r.get(field).and_then(Value::as_str) {
                    let code = format!("{code}{i:06}");
                    r[field] = json!(code);
                }
            }
            for field in [
                "BID_SECTION_CODES",
                "BID_SECTION_CODE",
                "PURCHASE_SECTION_CODE",
            ] {
                if r.get(field).is_some() {
                    r[field] = json!(format!("S{i:06}"));
                }
            }
            out.push(serde_json::to_vec(&r).expect("json"));
        }
    }
    out
}

fn main() {
    let n: usize = std::env::var("GONGSHI_BENCH_PROCEDURES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let (schemas, catalogue) = (Schemas::embedded(), Catalogue::embedded());
    let docs = records(n);
    let now = datetime::parse("2025-12-31 12:00", DateOnly::StartOfDay).expect("now");

    // Baseline: read and validate every record.
    let start = Instant::now();
    let notices: Vec<Notice> = docs
        .iter()
        .map(|d| {
            let raw = Document::parse(d, Limits::default())
                .expect("doc")
                .records()
                .remove(0);
            let checked = check_record(schemas, catalogue, &raw);
            checked
                .notice
                .unwrap_or_else(|| panic!("invalid bench record: {:?}", checked.findings))
        })
        .collect();
    let check_rate = notices.len() as f64 / start.elapsed().as_secs_f64();

    // Judging with state: a ledger builds each procedure as the stages arrive.
    let engine = Engine::embedded();
    let mut best = 0f64;
    let mut outcomes = std::collections::BTreeMap::new();
    for _ in 0..3 {
        let mut ledger = Ledger::new();
        outcomes.clear();
        let start = Instant::now();
        for (i, notice) in notices.iter().cloned().enumerate() {
            for (_, verdict) in ledger.submit(&engine, i, notice, now) {
                *outcomes.entry(verdict.outcome.as_str()).or_insert(0usize) += 1;
            }
        }
        best = best.max(notices.len() as f64 / start.elapsed().as_secs_f64());
    }
    // The judge call alone, on a fixed state (what enforce does per event after loading state).
    let tender_state = {
        let mut s = ProcedureState::new(notices[0].procedure.clone());
        s.record(
            &notices[0],
            gongshi_domain::period::StageStatus::Published,
            Default::default(),
        );
        s
    };
    let candidates = &notices[1];
    let reps = 50_000;
    let start = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(engine.judge(candidates, &[&tender_state], now));
    }
    let judge_rate = f64::from(reps) / start.elapsed().as_secs_f64();

    println!(
        "records: {} ({} procedures × 5 stages); outcomes {outcomes:?}",
        notices.len(),
        n
    );
    println!(
        "baseline check_record (parse + normalise + schema + identifiers): {check_rate:.0} records/s"
    );
    println!(
        "ledger (judge + record state + release parked): {best:.0} evaluations/s ({:.1}× the baseline)",
        best / check_rate
    );
    println!(
        "engine.judge alone, candidate publicity with its tender: {judge_rate:.0} evaluations/s ({:.1}× the baseline)",
        judge_rate / check_rate
    );
}

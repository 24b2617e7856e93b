//! `gongshi check` as api.md fixes it: outcomes, the JSON line per record with its named fields,
//! windows in +08:00, exit codes 0 / 1 / 2, and the clock set by `--now`.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn gongshi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gongshi"))
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/notices")
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn scratch(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gongshi-check-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write");
    path
}

#[test]
fn the_samples_judged_as_procedures_at_a_fixed_clock() {
    let out = gongshi()
        .args(["check", "--format", "json", "--now", "2025-04-10 12:00"])
        .arg(examples().join("works-procedure.xml"))
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 3);
    for l in &lines {
        for field in [
            "table",
            "procedure",
            "outcome",
            "hold_until",
            "errors",
            "warnings",
            "windows",
        ] {
            assert!(l.get(field).is_some(), "{field} missing in {l}");
        }
    }
    assert_eq!(lines[0]["outcome"], "publish");
    assert_eq!(
        lines[0]["procedure"],
        "JSGGZY/E3203010319005778/E3203010319005778001"
    );
    assert_eq!(
        lines[0]["windows"]["bid"]["end"],
        "2025-03-25T09:30:00+08:00"
    );
    assert_eq!(
        lines[1]["windows"]["publicity"]["start"],
        "2025-04-08T09:00:00+08:00"
    );
    // The award is sent for 04-14 and the publicity runs to 04-11 18:00: held until 04-14 09:00.
    assert_eq!(lines[2]["outcome"], "hold");
    assert_eq!(lines[2]["hold_until"], "2025-04-14T09:00:00+08:00");
    assert!(
        lines[2]["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w["rule"] == "FIELD-UNKNOWN")
    );
}

#[test]
fn a_lone_award_is_parked_and_a_short_publicity_is_rejected_with_exit_1() {
    let text = std::fs::read_to_string(examples().join("works-procedure.xml")).expect("sample");
    let award_start = text.find("<WIN_RESULT_ANNO>").expect("award");
    let award_end =
        text.find("</WIN_RESULT_ANNO>").expect("award end") + "</WIN_RESULT_ANNO>".len();
    let lone = scratch("award.xml", &text[award_start..award_end]);
    let out = gongshi()
        .args(["check", "--format", "json", "--now", "2025-05-01 00:00"])
        .arg(&lone)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_lines(&out.stdout)[0]["outcome"], "park");

    let short = text.replace(
        "<PUBLICITY_END_TIME>2025-04-11 18:00</PUBLICITY_END_TIME>",
        "<PUBLICITY_END_TIME>2025-04-09 18:00</PUBLICITY_END_TIME>",
    );
    let file = scratch("short.xml", &short);
    let out = gongshi()
        .args(["check", "--format", "json", "--now", "2025-05-01 00:00"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out.stdout);
    assert_eq!(lines[1]["outcome"], "reject");
    let w9 = lines[1]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .find(|e| e["rule"] == "W9")
        .expect("W9");
    assert_eq!(w9["path"], "/PUBLICITY_END_TIME");
    // With its candidate publicity rejected, the award waits for one that passes.
    assert_eq!(lines[2]["outcome"], "park");
}

#[test]
fn invalid_input_exits_1_and_usage_or_io_errors_exit_2() {
    let bad = scratch(
        "bad.xml",
        "<BATCH><WIN_RESULT_ANNO><NOTICE_NAME>x</NOTICE_NAM></WIN_RESULT_ANNO></BATCH>",
    );
    let out = gongshi()
        .args(["check", "--format", "json"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let line = &json_lines(&out.stdout)[0];
    assert_eq!(line["outcome"], "invalid");
    assert_eq!(line["errors"][0]["rule"], "DOC-XML");

    let out = gongshi()
        .args(["check", "/no/such/file.xml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = gongshi()
        .args(["check", "--now", "someday", "x.xml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = gongshi().args(["check"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn text_output_ends_with_a_summary() {
    let out = gongshi()
        .args(["check", "--now", "2025-04-10 12:00"])
        .arg(examples())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim_end()
            .ends_with("11 records: 7 publish, 4 hold, 0 park, 0 reject, 0 invalid"),
        "{text}"
    );
}

//! An operator can release an invalid record from one rule, with a reason, and it flows through
//! the rest of the pipeline like any notice (shared/cases/legacy_uscc_check.json: a pre-2016
//! 统一社会信用代码 whose outer check character is wrong while the supplier is registered).

use gongshi_tests::{Pipeline, TOKEN};
use serde_json::Value;
use std::path::PathBuf;

fn case(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("cases")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn release(p: &Pipeline, receipt: &str, index: &str, rule: &str, reason: &str) -> (i32, String) {
    let out = p
        .command("release")
        .args([
            receipt,
            index,
            "--rule",
            rule,
            "--reason",
            reason,
            "--operator",
            "李四",
        ])
        .output()
        .expect("gongshi release");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Posts a JSON document and waits until its records leave `received`.
async fn post(p: &Pipeline, body: Vec<u8>) -> (String, Value) {
    let (status, r) = p.post("application/json", body, Some(TOKEN)).await;
    assert_eq!(status, 202, "{r}");
    let receipt = r["receipt"].as_str().expect("receipt").to_owned();
    let settled = p.wait_receipt(&receipt, |s| s != "received").await;
    (receipt, settled)
}

fn rules(list: &Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["rule"].as_str())
        .collect()
}

#[tokio::test]
async fn a_released_record_is_published_with_who_and_why_on_its_finding() {
    let p = Pipeline::start("2025-04-02T10:00:00+08:00").await;
    let (receipt, before) = post(&p, case("legacy_uscc_check.json")).await;
    let award = &before["records"][1];
    assert_eq!(award["status"], "invalid", "{before}");
    assert!(rules(&award["errors"]).contains(&"USCC-CHECK"), "{award}");

    // Only an invalid record failing that rule can be released, and only with a reason.
    assert_eq!(
        release(&p, &receipt, "0", "USCC-CHECK", "供应商已核实").0,
        1
    );
    assert_eq!(
        release(&p, &receipt, "1", "USCC-REGION", "供应商已核实").0,
        1
    );
    assert_eq!(release(&p, &receipt, "1", "USCC-CHECK", "ok").0, 2);

    let reason = "2016年前登记的合法供应商，已核实营业执照";
    let (code, out) = release(&p, &receipt, "1", "USCC-CHECK", reason);
    assert_eq!(code, 0, "{out}");
    let after = p.wait_receipt(&receipt, |s| s == "published").await;
    let award = &after["records"][1];
    assert_eq!(award["errors"], Value::Array(Vec::new()), "{award}");
    let released = award["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["rule"] == "USCC-CHECK")
        .unwrap_or_else(|| panic!("the released finding is kept: {award}"));
    assert_eq!(released["released"]["released_by"], "李四");
    assert_eq!(released["released"]["reason"], reason);
    assert!(
        released["message"]
            .as_str()
            .is_some_and(|m| m.contains("放行")),
        "{released}"
    );

    // The award is a published notice like any other.
    let id = award["notice_id"].as_str().expect("notice id");
    let (status, notice) = p.get(&format!("/v1/notices/{id}")).await;
    assert_eq!(status, 200, "{notice}");
    assert_eq!(notice["kind"], "award", "{notice}");
    // Its page says the centre released it, from which rule and why — not who (a person).
    let page = reqwest::get(format!("{}/notices/{id}", p.url))
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    assert!(
        page.contains("本公告经交易中心人工放行发布") && page.contains("USCC-CHECK"),
        "{page}"
    );
    assert!(page.contains(reason), "{page}");
    assert!(
        !page.contains("李四"),
        "the operator's name is not public: {page}"
    );
}

#[tokio::test]
async fn a_release_does_not_mend_a_record_that_other_rules_still_block() {
    // Constructed: the same kind of award with a legacy code, filed under a region code that does
    // not exist (REGION-UNKNOWN): releasing USCC-CHECK alone must leave it invalid.
    let p = Pipeline::start("2025-04-02T10:00:00+08:00").await;
    let doc = serde_json::json!([{
        "TABLE": "BID_DEAL_ANNOUNCE",
        "PURCHASE_PROJECT_CODE": "FJZC3502062025000404",
        "PURCHASE_SECTION_CODE": "FJZC3502062025000404001",
        "WIN_BID_BULLETIN_TITLE": "厦门市某区2025年电梯维保服务项目成交结果公告",
        "WIN_BID_BULLETIN_CONTENT": "成交供应商：厦门某电梯工程有限公司。",
        "WIN_BID_BULLETIN_START_TIME": "2025-04-02 09:00",
        "WINNINGBIDDER_NAME": "厦门某电梯工程有限公司",
        "WINNINGBIDDER_CODE": "91350206M0002R7K39",
        "WIN_BID_PRICE": "120000.00",
        "PRICE_UNIT": "元",
        "REGION_CODE": "359999",
        "PLATFORM_CODE": "FJGGZY",
        "DATA_TIMESTAMP": "2025-04-02 08:30"
    }]);
    let (receipt, before) = post(&p, doc.to_string().into_bytes()).await;
    let record = &before["records"][0];
    assert_eq!(record["status"], "invalid", "{before}");
    let errors = rules(&record["errors"]);
    assert!(
        errors.contains(&"USCC-CHECK") && errors.contains(&"REGION-UNKNOWN"),
        "{record}"
    );
    let (code, out) = release(&p, &receipt, "0", "USCC-CHECK", "供应商已核实营业执照");
    assert_eq!(code, 0, "{out}");
    // Validation applies the release and the record stays invalid on the other rule.
    let start = std::time::Instant::now();
    loop {
        let (_, now) = p.get(&format!("/v1/receipts/{receipt}")).await;
        let record = &now["records"][0];
        if rules(&record["warnings"]).contains(&"USCC-CHECK") {
            assert_eq!(record["status"], "invalid", "{record}");
            assert_eq!(rules(&record["errors"]), vec!["REGION-UNKNOWN"], "{record}");
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "release not applied: {record}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A held notice released from the command line, which names no rule (it fails none): published
/// now. The command queues the decision and the running pipeline sends it, so a command run with
/// another topic prefix (a mistyped environment) neither loses the decision nor sends the
/// pipeline's outbox to topics nothing reads.
#[tokio::test]
async fn a_held_notice_is_released_from_the_command_line_whatever_its_topic_prefix() {
    let p = Pipeline::start("2025-03-01T12:00:00+08:00").await;
    // Sent for 2025-03-03 09:00: held until then.
    let receipt = p.submit(&gongshi_tests::fixtures::tender()).await;
    p.wait_receipt(&receipt, |s| s == "held").await;
    let out = p
        .command("release")
        .args([
            receipt.as_str(),
            "0",
            "--reason",
            "招标人书面申请提前发布",
            "--operator",
            "李四",
        ])
        .env("GONGSHI_TOPIC_PREFIX", "elsewhere.")
        .output()
        .expect("gongshi release");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{said}");
    let published = p.wait_receipt(&receipt, |s| s == "published").await;
    let id = published["records"][0]["notice_id"].as_str().expect("id");
    let (status, notice) = p.get(&format!("/v1/notices/{id}")).await;
    assert_eq!(status, 200, "{notice}");
}

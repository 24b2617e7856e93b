//! An objection (异议) holds a works award on the real broker and PostgreSQL: raised during the
//! candidate publicity, it suspends the procedure (招标投标法实施条例 第五十四条), so the award that
//! arrives meanwhile is held — not rejected — with a finding that says why; when the answer is
//! recorded (a new version of the objection with REPLY_TIME) the award publishes itself. The
//! objection itself is never published, and nothing public names who raised it.

use fantoccini::Locator;
use gongshi_tests::browser::Browser;
use gongshi_tests::fixtures::{
    PROJECT, SECTION, award, award_before_the_publicity_ends, candidates, tender,
};
use gongshi_tests::{Pipeline, TOKEN};
use serde_json::Value;

const OBJECTOR: &str = "徐州市政建设集团有限责任公司";
const OBJECTOR_PHONE: &str = "13805201234";

/// The objection; with `reply`, its answered version (same OBJECTIONG_GUID, newer timestamp).
fn objection(reply: Option<&str>) -> String {
    let (answer, stamp) = match reply {
        Some(at) => (
            format!(
                "<REPLY_TIME>{at}</REPLY_TIME><REPLY_CONTENT>经核查，异议不成立。</REPLY_CONTENT>"
            ),
            "2025-04-15 16:05",
        ),
        None => (String::new(), "2025-04-10 10:05"),
    };
    format!(
        "<OBJECTION><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{SECTION}</BID_SECTION_CODE>\
         <OBJECTIONG_GUID>YY-2025-0410-001</OBJECTIONG_GUID><TITTLE>关于001标段评标结果的异议</TITTLE>\
         <CONTENT>第一中标候选人项目负责人资格不符合招标文件要求。</CONTENT><SUBMIT_TIME>2025-04-10 10:00</SUBMIT_TIME>\
         <CREATOR>{OBJECTOR}</CREATOR><CREATOR_CONTACT>{OBJECTOR_PHONE}</CREATOR_CONTACT>{answer}\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>{stamp}</DATA_TIMESTAMP></OBJECTION>"
    )
}

fn record(receipt: &Value) -> &Value {
    &receipt["records"][0]
}

fn rules(list: &Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["rule"].as_str())
        .collect()
}

#[tokio::test]
async fn an_objection_holds_a_works_award_until_it_is_answered() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    for doc in [tender(), candidates("2025-04-11 18:00")] {
        p.publish(&doc).await;
    }
    // The objection, raised during the publicity, is recorded, not published.
    let raised = p.submit(&objection(None)).await;
    let raised = p.wait_receipt(&raised, |s| s != "received").await;
    assert_eq!(record(&raised)["status"], "recorded", "{raised}");
    let objection_id = record(&raised)["notice_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(p.get(&format!("/v1/notices/{objection_id}")).await.0, 404);

    // After the publicity and the award's send time, the objection is still unanswered: the
    // award is held (not rejected), with no instant, and the finding says why.
    p.set_now("2025-04-14T12:00:00+08:00");
    let award_receipt = p
        .submit(&award("2025-04-14 09:00", "2025-04-14 08:50"))
        .await;
    let held = p.wait_receipt(&award_receipt, |s| s != "received").await;
    let award = record(&held);
    assert_eq!(award["status"], "held", "{held}");
    assert_eq!(award["hold_until"], Value::Null, "{held}");
    assert_eq!(award["errors"], Value::Array(Vec::new()), "{held}");
    let finding = award["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["rule"] == "OBJECTION-HOLD")
        .unwrap_or_else(|| panic!("a finding says why: {held}"));
    let message = finding["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("异议") && message.contains("第五十四条"),
        "{message}"
    );
    assert!(!message.contains(OBJECTOR), "{message}");
    let award_id = award["notice_id"].as_str().expect("id").to_owned();
    assert_eq!(p.get(&format!("/v1/notices/{award_id}")).await.0, 404);

    // The pipeline's clock moving on does not release it: only the answer does.
    p.set_now("2025-04-15T12:00:00+08:00");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (_, still) = p.get(&format!("/v1/receipts/{award_receipt}")).await;
    assert_eq!(record(&still)["status"], "held", "{still}");

    // The procedure's public view says an objection is pending, and nothing about who.
    let procedure_path = format!("/v1/procedures/JSGGZY/{PROJECT}/{SECTION}");
    let (status, procedure) = p.get(&procedure_path).await;
    assert_eq!(status, 200, "{procedure}");
    assert_eq!(procedure["objection_pending"], true, "{procedure}");
    let page = reqwest::get(format!("{}/procedures/JSGGZY/{PROJECT}/{SECTION}", p.url))
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    assert!(page.contains("异议处理中"), "{page}");
    // What a bidder sees: the banner, in a real browser, saying why the procedure waits and
    // on which law, and nothing about who objected.
    let b = Browser::start(1000, 820).await;
    b.client
        .goto(&format!("{}/procedures/JSGGZY/{PROJECT}/{SECTION}", p.url))
        .await
        .expect("open the procedure's page");
    let banner = b
        .client
        .find(Locator::Css("p.banner[role=status]"))
        .await
        .expect("the pending-objection banner")
        .text()
        .await
        .expect("banner text");
    assert!(
        banner.starts_with("异议处理中") && banner.contains("第五十四条"),
        "{banner}"
    );
    let body = b
        .client
        .find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("page text");
    assert!(!body.contains(OBJECTOR), "{body}");
    b.screenshot("procedure-objection-pending").await;
    b.close().await;

    // The answer is recorded: the award publishes itself.
    p.set_now("2025-04-15T16:30:00+08:00");
    let answered = p.submit(&objection(Some("2025-04-15 16:00"))).await;
    let answered = p.wait_receipt(&answered, |s| s != "received").await;
    assert_eq!(record(&answered)["status"], "recorded", "{answered}");
    let published = p.wait_receipt(&award_receipt, |s| s == "published").await;
    assert!(
        rules(&record(&published)["warnings"]).contains(&"OBJECTION-HOLD"),
        "{published}"
    );
    let (status, notice) = p.get(&format!("/v1/notices/{award_id}")).await;
    assert_eq!(status, 200, "{notice}");
    assert_eq!(notice["status"], "awarded", "{notice}");
    let (_, procedure) = p.get(&procedure_path).await;
    assert_eq!(procedure["objection_pending"], false, "{procedure}");

    // Nothing public names the objector or carries the objection: API, feed, search.
    let feed = reqwest::get(format!("{}/feeds/notices.json", p.url))
        .await
        .expect("feed")
        .text()
        .await
        .expect("text");
    let (_, search) = p.get("/v1/search?q=%E5%BC%82%E8%AE%AE").await;
    for text in [
        feed,
        procedure.to_string(),
        notice.to_string(),
        search.to_string(),
    ] {
        assert!(
            !text.contains(OBJECTOR) && !text.contains(OBJECTOR_PHONE),
            "the objector leaked: {text}"
        );
        assert!(
            !text.contains(&objection_id),
            "the objection leaked: {text}"
        );
    }
    let _ = TOKEN;
}

/// An award held until its candidates' publicity ends, with an objection raised meanwhile: when
/// the publicity ends the award is judged again and stays held, now with no instant and a finding
/// saying why, until the answer is recorded; then it publishes itself.
#[tokio::test]
async fn an_objection_raised_while_an_award_is_held_keeps_it_held_past_its_hold() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let award_receipt = award_before_the_publicity_ends(&p).await;
    let held = p.wait_receipt(&award_receipt, |s| s != "received").await;
    assert_eq!(record(&held)["status"], "held", "{held}");
    assert!(
        record(&held)["hold_until"]
            .as_str()
            .is_some_and(|h| h.starts_with("2025-04-11T10:00:00")),
        "held until the publicity ends: {held}"
    );
    let raised = p.submit(&objection(None)).await;
    let raised = p.wait_receipt(&raised, |s| s != "received").await;
    assert_eq!(record(&raised)["status"], "recorded", "{raised}");

    // The publicity ends with the objection unanswered: the procedure is suspended.
    p.set_now("2025-04-11T18:01:00+08:00");
    let start = std::time::Instant::now();
    let still = loop {
        let (_, body) = p.get(&format!("/v1/receipts/{award_receipt}")).await;
        if record(&body)["hold_until"].is_null() {
            break body;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "the hold did not end: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(record(&still)["status"], "held", "{still}");
    let warned = rules(&record(&still)["warnings"]);
    assert!(
        warned.contains(&"OBJECTION-HOLD")
            && warned.contains(&"W11")
            && warned.contains(&"HOLD-ENDED"),
        "{still}"
    );
    let w11 = record(&still)["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["rule"] == "W11")
        .and_then(|w| w["message"].as_str())
        .unwrap_or_default();
    assert!(
        w11.contains("该暂缓已于 2025-04-11 18:00 到期，未按此发布"),
        "the publicity's end published nothing, and W11 says so: {w11}"
    );
    let award_id = record(&still)["notice_id"].as_str().expect("id").to_owned();
    assert_eq!(p.get(&format!("/v1/notices/{award_id}")).await.0, 404);

    let answered = p.submit(&objection(Some("2025-04-15 16:00"))).await;
    p.wait_receipt(&answered, |s| s == "recorded").await;
    p.wait_receipt(&award_receipt, |s| s == "published").await;
    assert_eq!(p.get(&format!("/v1/notices/{award_id}")).await.0, 200);
}

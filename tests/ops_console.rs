//! The operators' console (api.md "Operators") on a real pipeline: records in every status an
//! operator acts on, the JSON routes, the actions' state machine (409 where an action does not
//! apply) with one append-only audit entry each, sign-in with a session cookie and CSRF tokens,
//! session expiry, and — in headless Chromium — an operator who signs in, finds a quarantined and
//! a rejected record, releases the rejected one with a reason and sees it in the public feed.

use gongshi_tests::browser::Browser;
use gongshi_tests::{OPERATOR_TOKEN, Pipeline, generated_tender};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const NOW: &str = "2025-04-10T12:00:00+08:00";

fn tender(project: &str, sent: &str) -> String {
    format!(
        "<TENDER_ANN_QUA_INQUERY_ANN><TENDER_PROJECT_CODE>{project}</TENDER_PROJECT_CODE>\
         <BID_SECTION_CODES>{project}001</BID_SECTION_CODES><NOTICE_NAME>{project} 道路改造工程施工招标公告</NOTICE_NAME>\
         <NOTICE_CONTENT>现对该项目的施工进行公开招标。</NOTICE_CONTENT><NOTICE_SEND_TIME>{sent}</NOTICE_SEND_TIME>\
         <BULLETIN_TYPE>1</BULLETIN_TYPE><NOTICE_NATURE>1</NOTICE_NATURE><DOC_GET_START_TIME>2025-03-03 09:00</DOC_GET_START_TIME>\
         <DOC_GET_END_TIME>2025-03-10 17:00</DOC_GET_END_TIME><BID_DOC_REFER_END_TIME>2025-05-25 09:30</BID_DOC_REFER_END_TIME>\
         <TENDERER_NAME>徐州市城市建设投资有限公司</TENDERER_NAME><REGION_CODE>320300</REGION_CODE>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-03 08:55</DATA_TIMESTAMP></TENDER_ANN_QUA_INQUERY_ANN>"
    )
}

fn candidates(project: &str, end: &str) -> String {
    format!(
        "<TENDER_CANDIDATE_ANNOUNCE><TENDER_PROJECT_CODE>{project}</TENDER_PROJECT_CODE><BID_SECTION_CODES>{project}001</BID_SECTION_CODES>\
         <PUBLICITY_NAME>{project} 001标段中标候选人公示</PUBLICITY_NAME><PUBLICITY_CONTENT>第一中标候选人：江苏淮海路桥工程有限公司</PUBLICITY_CONTENT>\
         <PUBLICITY_START_TIME>2025-04-08 09:00</PUBLICITY_START_TIME><PUBLICITY_END_TIME>{end}</PUBLICITY_END_TIME>\
         <OBJECTION_METHOD>书面</OBJECTION_METHOD><PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-04-08 08:40</DATA_TIMESTAMP>\
         <TENDER_CANDIDATE><WIN_CANDIDATE_NAME>江苏淮海路桥工程有限公司</WIN_CANDIDATE_NAME><WIN_CANDIDATE_CODE>913203826683892551</WIN_CANDIDATE_CODE>\
         <WIN_CANDIDATE_ORDER>1</WIN_CANDIDATE_ORDER><BID_PRICE>10876543.21</BID_PRICE><PRICE_UINT>元</PRICE_UINT></TENDER_CANDIDATE>\
         </TENDER_CANDIDATE_ANNOUNCE>"
    )
}

fn award_with_bad_code(project: &str) -> String {
    format!(
        "<WIN_RESULT_ANNO><TENDER_PROJECT_CODE>{project}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{project}001</BID_SECTION_CODE>\
         <NOTICE_NAME>{project} 001标段中标结果公告</NOTICE_NAME><NOTICE_CONTENT>中标人：江苏淮海路桥工程有限公司</NOTICE_CONTENT>\
         <NOTICE_SEND_TIME>2025-04-10 09:00</NOTICE_SEND_TIME><WIN_BIDDER_NAME>江苏淮海路桥工程有限公司</WIN_BIDDER_NAME>\
         <WIN_BIDDER_CODE>913203826683892552</WIN_BIDDER_CODE><BID_AMOUNT>10876543.21</BID_AMOUNT><PRICE_UNIT>元</PRICE_UNIT>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-04-10 08:50</DATA_TIMESTAMP></WIN_RESULT_ANNO>"
    )
}

/// The receipts of one record in each status an operator acts on.
struct Records {
    rejected: String,
    invalid: String,
    held: String,
    parked: String,
    quarantined: String,
}

async fn records_in_every_status(p: &Pipeline) -> Records {
    // A candidate publicity of one day fails W9 (three days): rejected.
    p.submit(&tender("OPSR", "2025-03-03 09:00")).await;
    let rejected = p.submit(&candidates("OPSR", "2025-04-09 18:00")).await;
    // An award whose 统一社会信用代码 has a wrong check character: invalid.
    let invalid = p.submit(&award_with_bad_code("OPSI")).await;
    // A tender sent for tomorrow: held until then.
    let held = p.submit(&tender("OPSH", "2025-04-11 09:00")).await;
    // A candidate publicity whose tender has not arrived: parked.
    let parked = p.submit(&candidates("OPSP", "2025-04-13 18:00")).await;
    // A stored document whose `received` event is malformed: validate quarantines it.
    let quarantined = "receipt-poison".to_owned();
    let pool = p.db().await;
    gongshi_platform::store::receipts::insert(
        &pool,
        &quarantined,
        "application/xml",
        generated_tender(1, "OPSQ").as_bytes(),
        "test",
        &["TENDER_ANN_QUA_INQUERY_ANN".to_owned()],
    )
    .await
    .expect("receipt");
    let poison = json!({"id": "received:receipt-poison", "type": "notice.received", "key": "receipt-poison",
        "occurred_at": "2025-04-10T04:00:00Z",
        "payload": {"receipt": "receipt-poison", "content_type": "application/xml", "records": "many"}});
    p.produce(
        "gongshi.notices.received.v1",
        "receipt-poison",
        poison.to_string().as_bytes(),
    )
    .await;
    for (receipt, status) in [
        (&rejected, "rejected"),
        (&invalid, "invalid"),
        (&held, "held"),
        (&parked, "parked"),
        (&quarantined, "quarantined"),
    ] {
        p.wait_receipt(receipt, |s| s == status).await;
    }
    Records {
        rejected,
        invalid,
        held,
        parked,
        quarantined,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `GET path` as the test operator.
async fn ops_request(p: &Pipeline, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", p.url))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("get")
}

async fn ops_get(p: &Pipeline, path: &str) -> (u16, Value) {
    let r = ops_request(p, path).await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn act(p: &Pipeline, receipt: &str, action: &str, reason: &str) -> (u16, Value) {
    let r = client()
        .post(format!("{}/ops/api/records/{receipt}/0/{action}", p.url))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({ "reason": reason }))
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn notice_of(receipt: &Value) -> String {
    receipt["records"][0]["notice_id"]
        .as_str()
        .expect("notice id")
        .to_owned()
}

#[tokio::test]
async fn records_actions_and_their_audit() {
    let p = Pipeline::start(NOW).await;
    let r = records_in_every_status(&p).await;

    // Without credentials: 401 JSON for the API, the sign-in page for a browser.
    let anonymous = client()
        .get(format!("{}/ops/api/records", p.url))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let wrong = client()
        .get(format!("{}/ops/api/records", p.url))
        .bearer_auth("ops-test-token-not")
        .send()
        .await
        .expect("get");
    assert_eq!(wrong.status(), 401);
    let browser = client()
        .get(format!("{}/ops/records?status=held", p.url))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(browser.status(), 303);
    assert_eq!(
        browser.headers()["location"],
        "/ops/login?next=%2Fops%2Frecords%3Fstatus%3Dheld"
    );

    // A malformed query on a console page is a console page that says what is wrong; the JSON
    // twin answers JSON.
    for (path, kind) in [
        ("/ops/records?page=abc", "text/html"),
        ("/ops/records?sort=title", "text/html"),
        ("/ops/api/records?page=abc", "application/json"),
    ] {
        let r = ops_request(&p, path).await;
        assert_eq!(r.status(), 400, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with(kind)),
            "{path}: {:?}",
            r.headers()
        );
        let text = r.text().await.expect("body");
        if kind == "text/html" {
            gongshi_tests::assert_html5(path, &text);
            assert!(
                text.contains("<h1>请求有误</h1>") && text.contains("href=\"/ops/records\""),
                "{path}: {text}"
            );
        }
    }

    // A trailing slash leads to the page, query kept; a path the console does not have is a
    // console page saying so, and under /ops/api/ it stays JSON.
    let slash = ops_request(&p, "/ops/records/?status=held").await;
    assert_eq!(slash.status(), 308);
    assert_eq!(slash.headers()["location"], "/ops/records?status=held");
    let missing = ops_request(&p, "/ops/recrods").await;
    assert_eq!(missing.status(), 404);
    let text = missing.text().await.expect("body");
    gongshi_tests::assert_html5("/ops/recrods", &text);
    assert!(
        text.contains("<h1>找不到</h1>")
            && text.contains("/ops/recrods")
            && text.contains("href=\"/ops/clocks\""),
        "{text}"
    );
    for api in ["/ops/api/recrods", "/ops/api/", "/ops/api"] {
        let (code, body) = ops_get(&p, api).await;
        assert_eq!(code, 404, "{api}");
        assert_eq!(body["error"]["code"], "not-found", "{api}: {body}");
    }
    let bare = ops_request(&p, "/ops").await;
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "/ops/");

    // Each status lists its record, with what the contract names.
    for (receipt, status) in [
        (&r.rejected, "rejected"),
        (&r.invalid, "invalid"),
        (&r.held, "held"),
        (&r.parked, "parked"),
        (&r.quarantined, "quarantined"),
    ] {
        let (code, body) = ops_get(&p, &format!("/ops/api/records?status={status}")).await;
        assert_eq!(code, 200, "{body}");
        let rows = body["records"].as_array().expect("records");
        assert_eq!(rows.len(), 1, "{status}: {body}");
        let row = &rows[0];
        assert_eq!(row["receipt"], receipt.as_str());
        for field in [
            "index",
            "table",
            "procedure",
            "title",
            "status",
            "errors",
            "warnings",
            "hold_until",
            "received_at",
        ] {
            assert!(row.get(field).is_some(), "{status} lacks {field}: {row}");
        }
    }
    // The list's 问题 column says why a held or parked record waits: its hold-and-park finding
    // is a warning, not an error (the column was empty for them).
    for (status, shown) in [
        ("parked", "S2 尚未收到该标段的招标（采购）公告"),
        ("held", "S1 "),
    ] {
        let page = ops_request(&p, &format!("/ops/records?status={status}")).await;
        let html = page.text().await.expect("html");
        let cell = html
            .split("<tbody>")
            .nth(1)
            .and_then(|rows| rows.split("<td>").nth(4))
            .unwrap_or_default();
        assert!(cell.starts_with(shown), "{status}: 问题 column is {cell:?}");
    }
    let (_, held) = ops_get(&p, "/ops/api/records?status=held").await;
    assert!(held["records"][0]["hold_until"].is_string(), "{held}");
    let (_, by_rule) = ops_get(&p, "/ops/api/records?rule=USCC-CHECK").await;
    assert_eq!(by_rule["total"], 1, "{by_rule}");
    assert_eq!(by_rule["records"][0]["receipt"], r.invalid.as_str());
    // Invalid, so never a notice, yet named by the title it gives.
    assert_eq!(
        by_rule["records"][0]["title"], "OPSI 001标段中标结果公告",
        "{by_rule}"
    );
    let (code, bad_date) = ops_get(&p, "/ops/api/records?from=10.4.2025").await;
    assert_eq!(
        (code, &bad_date["error"]["code"]),
        (400, &json!("bad-request"))
    );

    // Paged and sorted: oldest first puts the first document sent on top, newest first the last.
    let (_, oldest) = ops_get(&p, "/ops/api/records?sort=received_at").await;
    let (_, newest) = ops_get(&p, "/ops/api/records").await;
    let total = oldest["total"].as_i64().expect("total");
    assert!(total >= 6, "{oldest}");
    assert_eq!(
        oldest["records"][0]["title"], "OPSR 道路改造工程施工招标公告",
        "{oldest}"
    );
    assert_eq!(
        newest["records"][0]["receipt"],
        r.quarantined.as_str(),
        "{newest}"
    );
    let (code, _) = ops_get(&p, "/ops/api/records?sort=title").await;
    assert_eq!(code, 400);

    // The rejected record explained: rule, field with its Chinese label, evidence, basis, raw text.
    let (code, detail) = ops_get(&p, &format!("/ops/api/records/{}/0", r.rejected)).await;
    assert_eq!(code, 200, "{detail}");
    let error = &detail["errors"][0];
    assert_eq!(error["rule"], "W9", "{detail}");
    assert!(
        error["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("PUBLICITY_END_TIME ")),
        "{error}"
    );
    assert!(
        error["evidence_text"]
            .as_str()
            .is_some_and(|t| t.starts_with("1 ")),
        "{error}"
    );
    assert!(
        error["legal_basis"].as_str().is_some_and(|b| !b.is_empty()),
        "{error}"
    );
    assert!(
        detail["document"]["text"].as_str().is_some_and(
            |t| t.contains("<PUBLICITY_NAME>OPSR 001标段中标候选人公示</PUBLICITY_NAME>")
        ),
        "{detail}"
    );
    assert_eq!(detail["actions"], json!(["release", "discard"]));

    // The state machine: what does not apply is 409, a reason is required.
    let (code, body) = act(&p, &r.rejected, "retry", "再处理一次").await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (409, &json!("action-not-applicable")),
        "{body}"
    );
    let (code, body) = act(&p, &r.rejected, "release", "ok").await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (400, &json!("bad-request")),
        "{body}"
    );
    // No reason at all is the same 400 as a short one (not axum's 422).
    let r_missing = client()
        .post(format!(
            "{}/ops/api/records/{}/0/release",
            p.url, r.rejected
        ))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(r_missing.status().as_u16(), 400);
    let body: Value = r_missing.json().await.unwrap_or(Value::Null);
    assert_eq!(body["error"]["code"], "bad-request", "{body}");
    let (code, _) = act(&p, "no-such-receipt", "discard", "没有这个回执").await;
    assert_eq!(code, 404);

    // release: the rejected candidates publish, saying who released them and why.
    let reason = "经评标委员会复核，公示期按招标文件约定执行";
    let (code, done) = act(&p, &r.rejected, "release", reason).await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(
        (done["before"].as_str(), done["after"].as_str()),
        (Some("rejected"), Some("published"))
    );
    let receipt = p.wait_receipt(&r.rejected, |s| s == "published").await;
    // Its record no longer lists the released rule as an error: it is a warning saying who.
    let record = &receipt["records"][0];
    assert_eq!(record["errors"], Value::Array(Vec::new()), "{receipt}");
    assert!(
        record["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| w["released"]["reason"] == reason),
        "{receipt}"
    );
    let (_, notice) = p.get(&format!("/v1/notices/{}", notice_of(&receipt))).await;
    let text = notice.to_string();
    assert!(
        text.contains(reason) && !text.contains("ops-test"),
        "{notice}"
    );
    // A second release of the same record no longer applies.
    let (code, _) = act(&p, &r.rejected, "release", reason).await;
    assert_eq!(code, 409);

    // release of a held notice publishes it before its time; of an invalid record, through
    // validation again.
    let (code, _) = act(&p, &r.held, "release", "招标人书面申请提前发布").await;
    assert_eq!(code, 200);
    p.wait_receipt(&r.held, |s| s == "published").await;
    let (code, _) = act(
        &p,
        &r.invalid,
        "release",
        "已在国家企业信用信息公示系统核实",
    )
    .await;
    assert_eq!(code, 200);
    // In flight until validation has checked it again: a second release meanwhile is refused.
    let (code, _) = act(&p, &r.invalid, "release", "重复点击放行按钮").await;
    assert_eq!(code, 409);
    // (Valid once released, the award then waits for its procedure's candidate publicity.)
    let released = p.wait_receipt(&r.invalid, |s| s == "parked").await;
    assert_eq!(
        released["records"][0]["warnings"][0]["released"]["released_by"],
        "ops-test"
    );
    // While its parent stage sits in gongshi unpublished (a candidate publicity parked for its
    // own tender), the award cannot be released ahead of it: the parent is the one to act on.
    let parent = p.submit(&candidates("OPSI", "2025-04-13 18:00")).await;
    p.wait_receipt(&parent, |s| s == "parked").await;
    let (code, refused) = act(&p, &r.invalid, "release", "先于候选人公示放行试试").await;
    assert_eq!(code, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("中标候选人公示") && m.contains("parked")),
        "{refused}"
    );
    let (code, _) = act(&p, &parent, "discard", "平台确认该候选人公示作废").await;
    assert_eq!(code, 200);
    p.wait_receipt(&parent, |s| s == "discarded").await;
    // A reason must be text a page can show.
    let (code, _) = act(&p, &r.invalid, "release", "理由\u{0}含空字符").await;
    assert_eq!(code, 400);
    // Parked for a parent that will not come through gongshi (published before the centre ran
    // it): released without it, the award publishes and says which stage it went without.
    let (code, done) = act(
        &p,
        &r.invalid,
        "release",
        "候选人公示已于系统上线前在原平台发布",
    )
    .await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(
        (done["before"].as_str(), done["after"].as_str()),
        (Some("parked"), Some("published"))
    );
    let published = p.wait_receipt(&r.invalid, |s| s == "published").await;
    let (_, notice) = p
        .get(&format!("/v1/notices/{}", notice_of(&published)))
        .await;
    assert!(
        notice.to_string().contains("未收到本项目的中标候选人公示"),
        "{notice}"
    );
    // Both releases are on the public notice, each with its rule and reason (the validation
    // one was missing from the JSON before: helper-found), and no operator's name.
    let releases: Vec<(String, String)> = notice["releases"]
        .as_array()
        .expect("releases")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (s("rule"), s("reason"))
        })
        .collect();
    assert!(
        releases
            .iter()
            .any(|(rule, reason)| rule == "OPERATOR-RELEASE"
                && reason == "候选人公示已于系统上线前在原平台发布"),
        "{notice}"
    );
    assert!(
        releases
            .iter()
            .any(|(rule, reason)| rule != "OPERATOR-RELEASE"
                && reason == "已在国家企业信用信息公示系统核实"),
        "{notice}"
    );
    assert!(
        !notice["releases"].to_string().contains("ops-test"),
        "{notice}"
    );

    // discard: the parked notice never publishes, not even when its tender arrives.
    let (code, done) = act(&p, &r.parked, "discard", "重复录入，以平台重新推送的为准").await;
    assert_eq!(code, 200, "{done}");
    // In flight until enforcement applies it: a second decision meanwhile is refused.
    let (code, _) = act(&p, &r.parked, "discard", "重复点击作废按钮").await;
    assert_eq!(code, 409);
    p.wait_receipt(&r.parked, |s| s == "discarded").await;
    let tender = p.submit(&tender("OPSP", "2025-04-01 09:00")).await;
    p.wait_receipt(&tender, |s| s == "published").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, parked) = p.get(&format!("/v1/receipts/{}", r.parked)).await;
    assert_eq!(parked["records"][0]["status"], "discarded", "{parked}");

    // retry: the quarantined record is processed again (and, still malformed, set aside again);
    // then discarded.
    let (code, done) = act(&p, &r.quarantined, "retry", "修复后重试").await;
    assert_eq!(code, 200, "{done}");
    p.wait_receipt(&r.quarantined, |s| s == "quarantined").await;
    let (code, _) = act(&p, &r.quarantined, "discard", "平台确认该文件作废").await;
    assert_eq!(code, 200);
    p.wait_receipt(&r.quarantined, |s| s == "discarded").await;

    // The audit log: one entry per action, newest first, with the operator's name.
    let (_, audit) = ops_get(&p, "/ops/api/audit").await;
    let entries = audit["entries"].as_array().expect("entries");
    let summary: Vec<(String, String, String, String)> = entries
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("action"), s("receipt"), s("before"), s("after"))
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "discard",
                r.quarantined.as_str(),
                "quarantined",
                "discarded"
            ),
            ("retry", r.quarantined.as_str(), "quarantined", "received"),
            ("discard", r.parked.as_str(), "parked", "discarded"),
            ("release", r.invalid.as_str(), "parked", "published"),
            ("discard", parent.as_str(), "parked", "discarded"),
            ("release", r.invalid.as_str(), "invalid", "published"),
            ("release", r.held.as_str(), "held", "published"),
            ("release", r.rejected.as_str(), "rejected", "published"),
        ]
        .map(|(a, r, b, c)| (a.to_owned(), r.to_owned(), b.to_owned(), c.to_owned()))
    );
    assert!(
        entries
            .iter()
            .all(|e| e["operator"] == "ops-test" && e["at"].is_string())
    );
    assert_eq!(entries[7]["reason"], reason);
    // Append-only: the table refuses to change history.
    let pool = p.db().await;
    let refused = sqlx::query("UPDATE operator_audit SET reason = 'x'")
        .execute(&pool)
        .await;
    assert!(refused.is_err(), "operator_audit accepted an UPDATE");
    assert!(
        sqlx::query("DELETE FROM operator_audit")
            .execute(&pool)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_gbk_document_is_shown_as_text() {
    let p = Pipeline::start(NOW).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/notices/procurement-tender-gbk.xml");
    let gbk = std::fs::read(path).expect("example");
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "the example is GBK, not UTF-8"
    );
    let (status, body) = p
        .post("application/xml", gbk, Some(gongshi_tests::TOKEN))
        .await;
    assert_eq!(status, 202, "{body}");
    let receipt = body["receipt"].as_str().expect("receipt");
    p.wait_receipt(receipt, |s| s != "received").await;
    let (code, detail) = ops_get(&p, &format!("/ops/api/records/{receipt}/0")).await;
    assert_eq!(code, 200, "{detail}");
    let text = detail["document"]["text"].as_str().expect("text");
    assert!(
        text.contains(
            "<PURCHASE_PROJECT_NAME>山东省立医院医用耗材集中采购项目</PURCHASE_PROJECT_NAME>"
        ),
        "{text}"
    );
    // A record that moved on has no action left.
    assert_eq!(detail["actions"], json!([]), "{detail}");
}

/// The value of `name="csrf"` in a page's form.
fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().expect("value").to_owned()
}

fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// POSTs the sign-in form with `token` and `csrf`, sending `cookie` (the form's CSRF cookie) when
/// given.
async fn post_login(
    c: &reqwest::Client,
    p: &Pipeline,
    cookie: Option<&str>,
    token: &str,
    csrf: &str,
) -> reqwest::Response {
    let mut request = c.post(format!("{}/ops/login", p.url));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request
        .form(&[("token", token), ("csrf", csrf), ("next", "/ops/audit")])
        .send()
        .await
        .expect("post")
}

/// The `name=value` part of a `Set-Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().expect("pair").to_owned()
}

#[tokio::test]
async fn sign_in_sessions_csrf_and_expiry() {
    let p = Pipeline::start(NOW).await;
    let c = client();
    let form = c
        .get(format!("{}/ops/login?next=/ops/audit", p.url))
        .send()
        .await
        .expect("login form");
    assert_eq!(form.status(), 200);
    let login_cookie = cookie_of(&form, "gongshi_ops_login").expect("login CSRF cookie");
    let login_pair = login_cookie.split(';').next().expect("pair").to_owned();
    let html = form.text().await.expect("html");
    gongshi_tests::assert_html5("/ops/login", &html);
    let csrf = csrf_in(&html);

    // A form posted without its cookie (another site's form) is refused.
    let forged = post_login(&c, &p, None, OPERATOR_TOKEN, &csrf).await;
    assert_eq!(forged.status(), 403);
    // A wrong token is refused.
    let wrong = post_login(&c, &p, Some(&login_pair), "not-the-token-at-all", &csrf).await;
    assert_eq!(wrong.status(), 401);
    // The right one starts a session: HttpOnly, SameSite=Strict, back to `next`.
    let ok = post_login(&c, &p, Some(&login_pair), OPERATOR_TOKEN, &csrf).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/ops/audit");
    let session = cookie_of(&ok, "gongshi_ops_session").expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(session.contains("Path=/ops"), "{session}");
    let session_pair = session.split(';').next().expect("pair").to_owned();

    let page = c
        .get(format!("{}/ops/records", p.url))
        .header("cookie", &session_pair)
        .send()
        .await
        .expect("records page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    gongshi_tests::assert_html5("/ops/records", &html);
    assert!(html.contains("运营人员 ops-test"), "{html}");
    let session_csrf = csrf_in(&html);

    // A cookie-authenticated action needs the session's CSRF token.
    let r = p.submit(&award_with_bad_code("OPSC")).await;
    p.wait_receipt(&r, |s| s == "invalid").await;
    let without = c
        .post(format!("{}/ops/api/records/{r}/0/discard", p.url))
        .header("cookie", &session_pair)
        .json(&json!({"reason": "测试跨站请求"}))
        .send()
        .await
        .expect("post");
    assert_eq!(without.status(), 403);
    let form_without = c
        .post(format!("{}/ops/records/{r}/0/discard", p.url))
        .header("cookie", &session_pair)
        .form(&[("reason", "测试跨站请求")])
        .send()
        .await
        .expect("post");
    assert_eq!(form_without.status(), 403);
    let (_, still) = p.get(&format!("/v1/receipts/{r}")).await;
    assert_eq!(
        still["records"][0]["status"], "invalid",
        "nothing happened: {still}"
    );
    let with = c
        .post(format!("{}/ops/records/{r}/0/discard", p.url))
        .header("cookie", &session_pair)
        .form(&[("reason", "平台确认该记录作废"), ("csrf", &session_csrf)])
        .send()
        .await
        .expect("post");
    assert_eq!(with.status(), 303);
    p.wait_receipt(&r, |s| s == "discarded").await;

    // Sessions end: eight hours later the same cookie leads to the sign-in page again.
    p.set_now("2025-04-10T20:00:01+08:00");
    let expired = c
        .get(format!("{}/ops/records", p.url))
        .header("cookie", &session_pair)
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(expired.status(), 303);
    assert!(
        expired.headers()["location"]
            .to_str()
            .is_ok_and(|l| l.starts_with("/ops/login"))
    );

    // Sign-out ends a session at once.
    let again = c
        .get(format!("{}/ops/login", p.url))
        .send()
        .await
        .expect("form");
    let login = pair(&cookie_of(&again, "gongshi_ops_login").expect("cookie"));
    let csrf = csrf_in(&again.text().await.expect("html"));
    let ok = post_login(&c, &p, Some(&login), OPERATOR_TOKEN, &csrf).await;
    let session = pair(&cookie_of(&ok, "gongshi_ops_session").expect("session"));
    let page = c
        .get(format!("{}/ops/audit", p.url))
        .header("cookie", &session)
        .send()
        .await
        .expect("audit");
    let csrf = csrf_in(&page.text().await.expect("html"));
    let out = c
        .post(format!("{}/ops/logout", p.url))
        .header("cookie", &session)
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 303);
    let after = c
        .get(format!("{}/ops/api/audit", p.url))
        .header("cookie", &session)
        .send()
        .await
        .expect("get");
    assert_eq!(after.status(), 401);
}

async fn wait_for_text(b: &Browser, css: &str, text: &str) {
    let start = Instant::now();
    loop {
        if let Ok(e) = b.client.find(fantoccini::Locator::Css(css)).await
            && e.text().await.is_ok_and(|t| t.contains(text))
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{css} never showed {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_operator_releases_a_rejected_notice_in_a_browser() {
    use fantoccini::Locator::{Css, LinkText};
    let p = Pipeline::start(NOW).await;
    let r = records_in_every_status(&p).await;
    let b = Browser::start(1280, 900).await;
    let c = &b.client;

    c.goto(&format!("{}/ops/records?status=quarantined", p.url))
        .await
        .expect("goto");
    // Not signed in: the sign-in form, which returns to the page asked for.
    c.find(Css("input[name=token]"))
        .await
        .expect("token field")
        .send_keys(OPERATOR_TOKEN)
        .await
        .expect("type");
    b.screenshot("ops-login").await;
    c.find(Css("section.login button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    wait_for_text(&b, "table.records", &r.quarantined).await;
    b.screenshot("ops-records-quarantined").await;

    c.goto(&format!("{}/ops/records?status=rejected", p.url))
        .await
        .expect("goto");
    wait_for_text(&b, "table.records", "W9").await;
    c.find(LinkText(&format!("{}#0", r.rejected)))
        .await
        .expect("record link")
        .click()
        .await
        .expect("click");
    wait_for_text(&b, "main", "PUBLICITY_END_TIME").await;
    b.screenshot("ops-record-rejected").await;
    c.find(Css("form.action-release input[name=reason]"))
        .await
        .expect("reason field")
        .send_keys("经评标委员会复核，公示期按招标文件约定执行")
        .await
        .expect("type");
    c.find(Css("form.action-release button"))
        .await
        .expect("release button")
        .click()
        .await
        .expect("click");
    wait_for_text(&b, "p.card.ok", "已放行发布").await;
    b.screenshot("ops-record-released").await;

    // It flows through enforce and publish into the public feed.
    let receipt = p.wait_receipt(&r.rejected, |s| s == "published").await;
    let id = notice_of(&receipt);
    let (_, feed) = p.get("/feeds/notices.json").await;
    assert!(feed.to_string().contains(&id), "{feed}");
    c.goto(&format!("{}/ops/audit", p.url)).await.expect("goto");
    wait_for_text(&b, "main table", "放行发布").await;
    b.screenshot("ops-audit").await;
    b.close().await;
}

/// A record that fails its table's schema (a tender without its title, SCHEMA-REQUIRED) was
/// never read into a notice: a release would leave nothing to publish. The console offers only
/// discard, a release is refused saying why, and the record keeps its error.
#[tokio::test]
async fn a_record_that_cannot_form_a_notice_cannot_be_released() {
    let p = Pipeline::start(NOW).await;
    let untitled =
        tender("OPSS", "2025-04-01 09:00").replace("<NOTICE_NAME>", "<NOTICE_NAME_GONE>");
    let untitled = untitled.replace("</NOTICE_NAME>", "</NOTICE_NAME_GONE>");
    let receipt = p.submit(&untitled).await;
    let body = p.wait_receipt(&receipt, |s| s == "invalid").await;
    assert!(
        body["records"][0]["errors"]
            .to_string()
            .contains("SCHEMA-REQUIRED"),
        "{body}"
    );
    // Listed by what it says it is, though it never became a notice: its procedure (and the
    // platform filter finds it), no title (the one thing it lacks).
    let (_, listed) = ops_get(&p, "/ops/api/records?status=invalid&platform=JSGGZY").await;
    let row = &listed["records"][0];
    assert_eq!(row["receipt"], receipt.as_str(), "{listed}");
    assert_eq!(row["procedure"], "JSGGZY/OPSS/OPSS001", "{listed}");
    assert_eq!(row["title"], Value::Null, "{listed}");
    let (_, detail) = ops_get(&p, &format!("/ops/api/records/{receipt}/0")).await;
    assert_eq!(detail["actions"], json!(["discard"]), "{detail}");
    assert_eq!(
        detail["document"]["content_type"], "application/xml",
        "as sent: {detail}"
    );
    let (code, refused) = act(&p, &receipt, "release", "缺标题也放行试试").await;
    assert_eq!(code, 409, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("SCHEMA-REQUIRED") && message.contains("不能放行"),
        "{message}"
    );
    let (_, body) = p.get(&format!("/v1/receipts/{receipt}")).await;
    assert_eq!(body["records"][0]["status"], "invalid", "{body}");
    assert!(
        body["records"][0]["errors"]
            .to_string()
            .contains("SCHEMA-REQUIRED"),
        "the error stays: {body}"
    );
    let (_, audit) = ops_get(&p, "/ops/api/audit").await;
    assert_eq!(
        audit["entries"],
        json!([]),
        "a refused action is not logged"
    );
}

/// An operator's decision that reaches enforcement after its notice moved on (here: a discard of
/// a notice published meanwhile, as when a parked notice's parent arrives while the discard is
/// in flight) changes nothing, and the audit log says so under the operator's name, after the
/// entry the console wrote: the log never shows a live notice as discarded without a word.
#[tokio::test]
async fn a_decision_that_arrives_too_late_says_so_in_the_audit() {
    use gongshi_domain::events::{Decision, Event as _, NoticeDecided};
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let receipt = p.submit(&tender("OPSL", "2025-04-01 09:00")).await;
    let published = p.wait_receipt(&receipt, |s| s == "published").await;
    let notice_id = notice_of(&published);
    let late = NoticeDecided {
        decision: Decision::Discard,
        notice_id: notice_id.clone(),
        procedure: "JSGGZY/OPSL/OPSL001".to_owned(),
        receipt: receipt.clone(),
        index: 0,
        rules: Vec::new(),
        decided_by: "ops-test".to_owned(),
        reason: "待前序公告的记录作废".to_owned(),
        audit_id: 4242,
        quarantine_id: None,
    };
    let envelope = serde_json::to_vec(&late.envelope()).expect("json");
    p.produce(NoticeDecided::TOPIC, &late.procedure, &envelope)
        .await;
    let start = Instant::now();
    let entry = loop {
        let (_, audit) = ops_get(&p, "/ops/api/audit").await;
        if let Some(e) = audit["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["receipt"] == receipt.as_str())
        {
            break e.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{audit}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (
            &entry["operator"],
            &entry["action"],
            &entry["before"],
            &entry["after"]
        ),
        (
            &json!("ops-test"),
            &json!("discard"),
            &json!("published"),
            &json!("published")
        ),
        "{entry}"
    );
    assert!(
        entry["reason"]
            .as_str()
            .is_some_and(|r| r.contains("未执行") && r.contains("#4242")),
        "{entry}"
    );
    let (status, _) = p.get(&format!("/v1/notices/{notice_id}")).await;
    assert_eq!(status, 200, "still published");
}

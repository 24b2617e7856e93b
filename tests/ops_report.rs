//! The publication report on the real pipeline: notices of every kind and both categories go
//! through ingest, validation, enforcement and publication, and `GET /ops/api/report` (JSON and
//! CSV) must state the counts a direct SQL count over the feed store gives — by kind, category
//! and region — plus the share within the publication-delay rules and the violations.

use gongshi_tests::{OPERATOR_TOKEN, Pipeline, TOKEN, sample, works_tender};
use serde_json::Value;
use std::collections::BTreeMap;

const PROJECT: &str = "E3201000000000077";
const SECTION: &str = "E3201000000000077001";

fn postponement() -> String {
    format!(
        "<TENDER_FILE_CLARI_MODI><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{SECTION}</BID_SECTION_CODE>\
         <DOC_NO>XG01</DOC_NO><DOC_NAME>招标文件修改及延期公告</DOC_NAME><CLARIFY_CONTENT>投标截止时间顺延至2025年4月1日9时30分。</CLARIFY_CONTENT>\
         <SUBMIT_TIME>2025-03-12 10:00</SUBMIT_TIME><IS_POSTPONE>1</IS_POSTPONE><AFFECTS_BIDS>1</AFFECTS_BIDS>\
         <BID_DOC_REFER_END_TIME>2025-04-01 09:30</BID_DOC_REFER_END_TIME><POST_OPEN_TIME>2025-04-01 09:30</POST_OPEN_TIME>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-12 10:01</DATA_TIMESTAMP></TENDER_FILE_CLARI_MODI>"
    )
}

/// Candidates whose evaluation report came 6 days before the publicity: late under W8 (3 days).
fn late_candidates() -> String {
    format!(
        "<TENDER_CANDIDATE_ANNOUNCE><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODES>{SECTION}</BID_SECTION_CODES>\
         <PUBLICITY_NAME>001标段中标候选人公示</PUBLICITY_NAME><PUBLICITY_CONTENT>第一中标候选人：江苏淮海路桥工程有限公司</PUBLICITY_CONTENT>\
         <PUBLICITY_START_TIME>2025-04-08 09:00</PUBLICITY_START_TIME><PUBLICITY_END_TIME>2025-04-11 18:00</PUBLICITY_END_TIME>\
         <EVALUATION_REPORT_TIME>2025-04-02 09:00</EVALUATION_REPORT_TIME>\
         <OBJECTION_METHOD>书面</OBJECTION_METHOD><PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-04-08 08:40</DATA_TIMESTAMP>\
         <TENDER_CANDIDATE><WIN_CANDIDATE_NAME>江苏淮海路桥工程有限公司</WIN_CANDIDATE_NAME><WIN_CANDIDATE_CODE>913203826683892551</WIN_CANDIDATE_CODE>\
         <WIN_CANDIDATE_ORDER>1</WIN_CANDIDATE_ORDER><BID_PRICE>10876543.21</BID_PRICE><PRICE_UINT>元</PRICE_UINT></TENDER_CANDIDATE>\
         </TENDER_CANDIDATE_ANNOUNCE>"
    )
}

fn award() -> String {
    format!(
        "<WIN_RESULT_ANNO><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{SECTION}</BID_SECTION_CODE>\
         <NOTICE_NAME>001标段中标结果公告</NOTICE_NAME><NOTICE_CONTENT>中标人：江苏淮海路桥工程有限公司</NOTICE_CONTENT>\
         <NOTICE_SEND_TIME>2025-04-10 09:00</NOTICE_SEND_TIME><WIN_BIDDER_NAME>江苏淮海路桥工程有限公司</WIN_BIDDER_NAME>\
         <WIN_BIDDER_CODE>913203826683892551</WIN_BIDDER_CODE><BID_AMOUNT>10876543.21</BID_AMOUNT><PRICE_UNIT>元</PRICE_UNIT>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-04-10 08:50</DATA_TIMESTAMP></WIN_RESULT_ANNO>"
    )
}

fn termination(project: &str) -> String {
    format!(
        "<TENDER_TERMINATION><TENDER_PROJECT_CODE>{project}</TENDER_PROJECT_CODE><BID_SECTION_CODES>{project}001</BID_SECTION_CODES>\
         <NOTICE_NAME>第二标段流标公告</NOTICE_NAME><NOTICE_CONTENT>递交投标文件的投标人少于3个，本标段不予开标，依法重新招标。</NOTICE_CONTENT>\
         <NOTICE_SEND_TIME>2025-04-02 15:00</NOTICE_SEND_TIME><REASON>投标人少于3个</REASON>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-04-02 15:01</DATA_TIMESTAMP></TENDER_TERMINATION>"
    )
}

async fn report(p: &Pipeline, query: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/ops/api/report?{query}", p.url))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("report")
}

fn counts(list: &Value) -> BTreeMap<String, i64> {
    list.as_array()
        .expect("a list of counts")
        .iter()
        .filter(|c| c["count"].as_i64() != Some(0))
        .map(|c| {
            (
                c["code"].as_str().unwrap_or("").to_owned(),
                c["count"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

/// The legal clocks at Thursday 2025-04-10 12:00: the candidates' publicity closes tomorrow at
/// 18:00 (this week, not today), the award is held until then, the orphan award is parked and
/// flagged.
async fn check_clocks(p: &Pipeline) {
    let r = reqwest::Client::new()
        .get(format!("{}/ops/api/clocks", p.url))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("clocks");
    assert_eq!(r.status(), 200);
    let clocks: Value = r.json().await.expect("JSON");
    assert_eq!(clocks["today_until"], "2025-04-10T16:00:00Z", "{clocks:#}");
    let week = clocks["closing_this_week"].as_array().expect("week");
    let publicity = week
        .iter()
        .find(|w| w["window"] == "publicity")
        .unwrap_or_else(|| panic!("no publicity window this week: {clocks:#}"));
    assert_eq!(
        publicity["closes_at"], "2025-04-11T10:00:00Z",
        "{publicity}"
    );
    assert!(
        clocks["closing_today"]
            .as_array()
            .expect("today")
            .iter()
            .all(|w| w["closes_at"].as_str() < Some("2025-04-10T16:00:00Z")),
        "{clocks:#}"
    );
    let held = clocks["held"].as_array().expect("held");
    assert_eq!(held.len(), 1, "{clocks:#}");
    assert_eq!(held[0]["hold_until"], "2025-04-11T10:00:00Z");
    assert_eq!(held[0]["kind"], "award");
    let parked = clocks["parked"].as_array().expect("parked");
    assert_eq!(parked.len(), 1, "{clocks:#}");
    assert_eq!(parked[0]["flagged"], true, "{clocks:#}");
    assert!(
        parked[0]["waited_s"]
            .as_i64()
            .is_some_and(|s| s >= 8 * 86_400)
    );
    assert_eq!(clocks["parked_flag_days"], 7);
    let totals = &clocks["totals"];
    assert_eq!(
        (
            &totals["held"],
            &totals["parked"],
            &totals["parked_flagged"]
        ),
        (&Value::from(1), &Value::from(1), &Value::from(1)),
        "{clocks:#}"
    );
    assert_eq!(totals["closing_this_week"], week.len(), "{clocks:#}");
    let html = reqwest::Client::new()
        .get(format!("{}/ops/clocks", p.url))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    gongshi_tests::assert_html5("/ops/clocks", &html);
    assert!(html.contains("公示期结束") && html.contains("⚑"), "{html}");
}

#[tokio::test]
async fn the_report_counts_what_the_feed_store_holds() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    // Works: a tender with a postponement, late candidates, an award held until the publicity
    // ends; two more tenders in other regions, one of them terminated.
    let tender = p
        .submit(&works_tender(
            PROJECT,
            "南京市纬七路改造工程施工招标公告",
            "320100",
        ))
        .await;
    p.wait_receipt(&tender, |s| s == "published").await;
    let amendment = p.submit(&postponement()).await;
    let others = [
        p.submit(&works_tender(
            "E3203000000000078",
            "徐州市道路工程施工招标公告",
            "320300",
        ))
        .await,
        p.submit(&works_tender(
            "E3205000000000079",
            "苏州市桥梁工程施工招标公告",
            "320500",
        ))
        .await,
    ];
    for r in &others {
        p.wait_receipt(r, |s| s == "published").await;
    }
    let terminated = p.submit(&termination("E3205000000000079")).await;
    p.wait_receipt(&amendment, |s| s == "published").await;
    let candidates = p.submit(&late_candidates()).await;
    p.wait_receipt(&candidates, |s| s == "published").await;
    // Candidates of Xuzhou's procedure that give no evaluation-report time: W8 cannot judge
    // them, so they are not counted as within its limit.
    let unreported = p
        .submit(
            &late_candidates()
                .replace(PROJECT, "E3203000000000078")
                .replace(SECTION, "E3203000000000078001")
                .replace(
                    "<EVALUATION_REPORT_TIME>2025-04-02 09:00</EVALUATION_REPORT_TIME>",
                    "",
                ),
        )
        .await;
    p.wait_receipt(&unreported, |s| s == "published").await;
    let award_receipt = p.submit(&award()).await;
    p.wait_receipt(&award_receipt, |s| s == "held").await;
    // An award of a procedure gongshi has never seen waits for its parents: parked. Eight days
    // ago, as far as the store knows: over the default of seven, so flagged.
    let orphan = p
        .submit(&award().replace(PROJECT, "E3207000000000081"))
        .await;
    p.wait_receipt(&orphan, |s| s == "parked").await;
    let pool = p.db().await;
    sqlx::query(
        "UPDATE notices SET first_seen = now() - interval '8 days' WHERE status = 'parked'",
    )
    .execute(&pool)
    .await
    .expect("backdate");
    check_clocks(&p).await;
    p.set_now("2025-04-11T18:01:00+08:00");
    // Procurement: a GBK tender and a JSON result.
    let gbk = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/notices/procurement-tender-gbk.xml"),
    )
    .expect("GBK sample");
    let (status, body) = p.post("application/xml", gbk, Some(TOKEN)).await;
    assert_eq!(status, 202, "{body}");
    let gp_tender = body["receipt"].as_str().expect("receipt").to_owned();
    let (status, body) = p
        .post(
            "application/json",
            sample("procurement-result.json"),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let gp_result = body["receipt"].as_str().expect("receipt").to_owned();
    for r in [&award_receipt, &terminated, &gp_tender, &gp_result] {
        p.wait_receipt(r, |s| s == "published").await;
    }
    // And one refused by a legal rule (documents on sale for less than 5 days: W2), a violation.
    let short = works_tender("E3206000000000080", "南通市短期招标公告", "320600")
        .replace("2025-03-10 17:00", "2025-03-04 17:00");
    let rejected = p.submit(&short).await;
    p.wait_receipt(&rejected, |s| s == "rejected").await;

    // Published now (wall clock, as the feed store records it): a period of Beijing dates around
    // today, so that a run across midnight counts the same.
    let day = |offset: i64| {
        (chrono::Utc::now() + chrono::Duration::hours(8) + chrono::Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    };
    let period = format!("from={}&to={}", day(-1), day(1));
    let r = report(&p, &period).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("JSON");

    // The independent count: straight from the feed store.
    let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT entry->'payload'->>'kind', entry->'payload'->>'regime', entry->'payload'->>'region', count(*) \
         FROM feed_entries WHERE event_type = 'notice.published' GROUP BY 1, 2, 3",
    )
    .fetch_all(&pool)
    .await
    .expect("count");
    let mut by_kind = BTreeMap::new();
    let mut by_category = BTreeMap::new();
    let mut by_region = BTreeMap::new();
    let mut total = 0;
    for (kind, category, region, n) in rows {
        *by_kind.entry(kind).or_insert(0) += n;
        *by_category.entry(category).or_insert(0) += n;
        *by_region.entry(region.unwrap_or_default()).or_insert(0) += n;
        total += n;
    }
    eprintln!("feed store: {total} published; by kind {by_kind:?}; by region {by_region:?}");
    assert_eq!(body["total"], total, "{body:#}");
    assert_eq!(counts(&body["by_kind"]), by_kind, "{body:#}");
    assert_eq!(counts(&body["by_category"]), by_category, "{body:#}");
    assert_eq!(counts(&body["by_region"]), by_region, "{body:#}");
    // Every kind and both categories were exercised.
    assert_eq!(by_kind.len(), 5, "{by_kind:?}");
    assert_eq!(by_category.len(), 2, "{by_category:?}");
    let names: Vec<&str> = body["by_kind"]
        .as_array()
        .expect("kinds")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "招标公告",
            "中标候选人公示",
            "中标结果公告",
            "更正公告",
            "终止公告"
        ]
    );
    let xuzhou = body["by_region"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["code"] == "320300"))
        .expect("Xuzhou");
    assert_eq!(xuzhou["name"], "江苏省 徐州市", "{xuzhou}");

    // The delay rules: the late candidates (W8) and the procurement result (G7) are subject,
    // not the candidates without an evaluation-report time.
    let w8: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM feed_entries WHERE event_type = 'notice.published' \
         AND entry->'payload'->'warnings' ? 'W8'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    let limit = &body["within_limit"];
    let rule = |id: &str| {
        limit["rules"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["rule"] == id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(rule("W8")["subject"], 1, "{limit:#}");
    assert_eq!(rule("W8")["within"], 1 - w8, "{limit:#}");
    assert_eq!(rule("G7")["subject"], 1, "{limit:#}");
    eprintln!("within the legal limit: {limit}");
    // Timeliness: every published notice measured from receipt to publication.
    assert_eq!(
        body["timeliness"]["received_to_published"]["count"], total,
        "{body:#}"
    );
    // The refused tender's rule shows among the violations, in its region.
    let violations = body["violations"].as_array().expect("violations");
    assert!(
        violations
            .iter()
            .any(|v| v["rule"] == "W2" && v["region"] == "320600" && v["count"] == 1),
        "{violations:#?}"
    );

    // CSV: a header row, the same figures.
    let r = report(&p, &format!("{period}&format=csv")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/csv")),
    );
    let text = r.text().await.expect("CSV");
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("section,code,name,count,share"));
    let csv_kinds: BTreeMap<String, i64> = lines
        .filter_map(|l| l.strip_prefix("kind,"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            Some((cells[0].to_owned(), cells.get(2)?.parse().ok()?))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(csv_kinds, by_kind);

    // Another period holds nothing; a malformed one is refused; without a token, 401.
    let r = report(&p, "from=2020-01-01&to=2020-12-31").await;
    assert_eq!(r.json::<Value>().await.expect("JSON")["total"], 0);
    assert_eq!(report(&p, "from=2025-02-30").await.status(), 400);
    let anonymous = reqwest::get(format!("{}/ops/api/report", p.url))
        .await
        .expect("report");
    assert_eq!(anonymous.status(), 401);

    // The page: the same figures, a chart and the CSV link.
    let html = reqwest::Client::new()
        .get(format!("{}/ops/report?{period}", p.url))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    gongshi_tests::assert_html5("/ops/report", &html);
    assert!(html.contains("<svg"), "{html}");
    assert!(html.contains("format=csv"), "{html}");
    assert!(html.contains("中标候选人公示"));

    // As an operator sees them: signed in through the form, the report and the clocks.
    use fantoccini::Locator::Css;
    let b = gongshi_tests::browser::Browser::start(1280, 1500).await;
    b.sign_in_at(&format!("{}/ops/report?{period}", p.url), OPERATOR_TOKEN)
        .await;
    b.client
        .wait()
        .for_element(Css("figure.chart svg"))
        .await
        .expect("the report after sign-in");
    b.screenshot("ops-report").await;
    b.client
        .goto(&format!("{}/ops/clocks", p.url))
        .await
        .expect("goto");
    b.client
        .wait()
        .for_element(Css("h1"))
        .await
        .expect("the clocks");
    b.screenshot("ops-clocks").await;
    b.close().await;
}

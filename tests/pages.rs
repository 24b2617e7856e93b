//! The public pages for bidders on the real pipeline (api.md "Public pages"): a works procedure
//! (tender, candidate publicity, award) and a procurement procedure (tender, result) published
//! stage by stage at a fixed clock; each notice's page shows its codes and names, region by
//! name, parties, amounts in 元 and 万元 and its legal clocks with where they stand at that clock;
//! each procedure page its timeline in stage order; `/search` its form, results, facets and
//! subscribe links; 404 is a page in Chinese; pages revalidate with `ETag`; every page is
//! well-formed HTML5 (html5lib) with `lang="zh-CN"`; `/v1/search` hits carry what a list shows;
//! feed entries link to the page with the deadline in their summary (feedparser). Then headless
//! Chromium searches by Chinese words and a region, opens a result, follows the procedure link
//! and saves screenshots (desktop and phone) to `target/screenshots/`.

use fantoccini::Locator;
use gongshi_tests::browser::Browser;
use gongshi_tests::{Pipeline, TOKEN, assert_html5, run_python};
use serde_json::{Value, json};

const PROJECT: &str = "E3203010319005778";
const SECTION: &str = "E3203010319005778001";
const GP_PROJECT: &str = "XJZC6528222025000101";
const GP_SECTION: &str = "XJZC6528222025000101001";

fn works_tender() -> String {
    format!(
        "<TENDER_ANN_QUA_INQUERY_ANN><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE>\
         <TENDER_PROJECT_NAME>徐州市三环东路快速化改造工程（二期）</TENDER_PROJECT_NAME>\
         <BID_SECTION_CODES>{SECTION}</BID_SECTION_CODES><NOTICE_NAME>徐州市三环东路快速化改造工程（二期）施工招标公告</NOTICE_NAME>\
         <NOTICE_CONTENT>现对该项目的施工进行公开招标。项目概况与招标范围：道路、桥梁、排水及附属工程。</NOTICE_CONTENT>\
         <NOTICE_SEND_TIME>2025-03-03 09:00</NOTICE_SEND_TIME><BULLETIN_TYPE>1</BULLETIN_TYPE><NOTICE_NATURE>1</NOTICE_NATURE>\
         <DOC_GET_START_TIME>2025-03-03 09:00</DOC_GET_START_TIME><DOC_GET_END_TIME>2025-03-10</DOC_GET_END_TIME>\
         <BID_DOC_REFER_END_TIME>2025-03-25 09:30</BID_DOC_REFER_END_TIME><BID_OPEN_TIME>2025-03-25 09:30</BID_OPEN_TIME>\
         <TENDERER_NAME>徐州市城市建设投资有限公司</TENDERER_NAME><TENDERER_CODE>91320300MA1MXK7Q09</TENDERER_CODE>\
         <TENDER_AGENCY_NAME>江苏建科工程咨询有限公司</TENDER_AGENCY_NAME>\
         <CONTRACT_RECKON_PRICE>1153.17</CONTRACT_RECKON_PRICE><PRICE_UNIT>万元</PRICE_UNIT>\
         <REGION_CODE>320300</REGION_CODE><IS_TO_LAW>1</IS_TO_LAW>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-03 08:55</DATA_TIMESTAMP></TENDER_ANN_QUA_INQUERY_ANN>"
    )
}

/// A modification of the tender that postpones bids and opening by a week (sent the day the test
/// starts; it does not change how bids are prepared, so W4's 15 days do not apply).
fn works_amendment() -> String {
    format!(
        "<TENDER_FILE_CLARI_MODI><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{SECTION}</BID_SECTION_CODE>\
         <DOC_NAME>徐州市三环东路快速化改造工程（二期）001标段招标文件修改及延期公告</DOC_NAME>\
         <CLARIFY_CONTENT>投标截止时间及开标时间顺延至2025年4月1日9时30分。</CLARIFY_CONTENT>\
         <SUBMIT_TIME>2025-03-20 09:00</SUBMIT_TIME><IS_POSTPONE>1</IS_POSTPONE><POST_OPEN_TIME>2025-04-01 09:30</POST_OPEN_TIME>\
         <AFFECTS_BIDS>0</AFFECTS_BIDS><BID_DOC_REFER_END_TIME>2025-04-01 09:30</BID_DOC_REFER_END_TIME>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-20 09:01</DATA_TIMESTAMP></TENDER_FILE_CLARI_MODI>"
    )
}

fn works_candidates() -> String {
    format!(
        "<TENDER_CANDIDATE_ANNOUNCE><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODES>{SECTION}</BID_SECTION_CODES>\
         <PUBLICITY_NAME>徐州市三环东路快速化改造工程（二期）001标段中标候选人公示</PUBLICITY_NAME>\
         <PUBLICITY_CONTENT>第一中标候选人：江苏淮海路桥工程有限公司；第二中标候选人：中建安装集团有限公司。</PUBLICITY_CONTENT>\
         <PUBLICITY_START_TIME>2025-04-08 09:00</PUBLICITY_START_TIME><PUBLICITY_END_TIME>2025-04-11 18:00</PUBLICITY_END_TIME>\
         <OBJECTION_METHOD>以书面形式向招标人提出</OBJECTION_METHOD><PLATFORM_CODE>JSGGZY</PLATFORM_CODE>\
         <DATA_TIMESTAMP>2025-04-08 08:40</DATA_TIMESTAMP>\
         <TENDER_CANDIDATE><WIN_CANDIDATE_NAME>江苏淮海路桥工程有限公司</WIN_CANDIDATE_NAME><WIN_CANDIDATE_CODE>913203826683892551</WIN_CANDIDATE_CODE>\
         <WIN_CANDIDATE_ORDER>1</WIN_CANDIDATE_ORDER><BID_PRICE>1087.654321</BID_PRICE><PRICE_UINT>万元</PRICE_UINT></TENDER_CANDIDATE>\
         <TENDER_CANDIDATE><WIN_CANDIDATE_NAME>中建安装集团有限公司</WIN_CANDIDATE_NAME><WIN_CANDIDATE_CODE>91320000134789358A</WIN_CANDIDATE_CODE>\
         <WIN_CANDIDATE_ORDER>2</WIN_CANDIDATE_ORDER><BID_PRICE>10912000</BID_PRICE><PRICE_UINT>元</PRICE_UINT></TENDER_CANDIDATE>\
         </TENDER_CANDIDATE_ANNOUNCE>"
    )
}

fn works_award() -> String {
    format!(
        "<WIN_RESULT_ANNO><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{SECTION}</BID_SECTION_CODE>\
         <NOTICE_NAME>徐州市三环东路快速化改造工程（二期）001标段中标结果公告</NOTICE_NAME>\
         <NOTICE_CONTENT>中标人：江苏淮海路桥工程有限公司</NOTICE_CONTENT><NOTICE_SEND_TIME>2025-04-14 09:00</NOTICE_SEND_TIME>\
         <WIN_BIDDER_NAME>江苏淮海路桥工程有限公司</WIN_BIDDER_NAME><WIN_BIDDER_CODE>913203826683892551</WIN_BIDDER_CODE>\
         <BID_AMOUNT>10876543.21</BID_AMOUNT><PRICE_UNIT>元</PRICE_UNIT><REGION_CODE>320300</REGION_CODE>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-04-14 08:50</DATA_TIMESTAMP></WIN_RESULT_ANNO>"
    )
}

fn procurement_tender() -> Value {
    json!({
        "TABLE": "PURCHASE_QUALI_INQUERY_ANN",
        "PURCHASE_PROJECT_CODE": GP_PROJECT,
        "PURCHASE_PROJECT_NAME": "轮台县人民医院医疗设备采购项目",
        "PURCHASE_SECTION_CODE": GP_SECTION,
        "BULLETIN_TITLE": "轮台县人民医院医疗设备采购项目公开招标公告",
        "BULLETIN_CONTENT": "一、项目基本情况：采购彩色多普勒超声诊断仪等医疗设备。",
        "BULLETIN_START_TIME": "2025-03-03 09:00",
        "BULLETIN_END_TIME": "2025-03-10",
        "DOC_GET_START_TIME": "2025-03-03 09:00",
        "DOC_GET_END_TIME": "2025-03-10 17:00",
        "BID_CLOSING_TIME": "2025-03-26 09:30",
        "PURCHASER_MODE": "公开招标",
        "PURCHASER_NAME": "轮台县人民医院",
        "PROGRAM_BUDGET": "386.5",
        "UNIT_BUDGET": "万元",
        "REGION_CODE": "652822",
        "PLATFORM_CODE": "XJGGZY",
        "DATA_TIMESTAMP": "2025-03-03 08:30"
    })
}

fn procurement_result() -> Value {
    json!({
        "TABLE": "BID_DEAL_ANNOUNCE",
        "PURCHASE_PROJECT_CODE": GP_PROJECT,
        "PURCHASE_SECTION_CODE": GP_SECTION,
        "WIN_BID_BULLETIN_TITLE": "轮台县人民医院医疗设备采购项目中标结果公告",
        "WIN_BID_BULLETIN_CONTENT": "中标供应商：新疆天山医疗器械有限公司，中标金额：3,712,400.00元。",
        "WIN_BID_BULLETIN_START_TIME": "2025-04-07 09:00",
        "SUPPLIER_DETERMINED_TIME": "2025-04-03 16:00",
        "WINNINGBIDDER_NAME": "新疆天山医疗器械有限公司",
        "WINNINGBIDDER_CODE": "91652822MA7ABCDE1X",
        "WIN_BID_PRICE": "3,712,400.00",
        "PRICE_UNIT": "元",
        "PURCHASER_AGENCY_NAME": "巴州公信招标代理有限公司",
        "REGION_CODE": "652822",
        "PLATFORM_CODE": "XJGGZY",
        "DATA_TIMESTAMP": "2025-04-07 08:30"
    })
}

/// Posts a document and waits until every record is published; returns the notice ids.
async fn publish(p: &Pipeline, content_type: &str, body: Vec<u8>) -> Vec<String> {
    let (status, accepted) = p.post(content_type, body, Some(TOKEN)).await;
    assert_eq!(status, 202, "{accepted}");
    let receipt = accepted["receipt"].as_str().expect("receipt");
    let done = p.wait_receipt(receipt, |s| s == "published").await;
    done["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["notice_id"].as_str().expect("notice id").to_owned())
        .collect()
}

/// GETs a page: status, `ETag` and body; the body is checked with html5lib.
async fn page(p: &Pipeline, path: &str) -> (u16, Option<String>, String) {
    let r = reqwest::get(format!("{}{path}", p.url))
        .await
        .expect("page");
    let status = r.status().as_u16();
    let etag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = r.text().await.expect("body");
    assert!(ct.starts_with("text/html"), "{path}: {ct}");
    assert_html5(path, &body);
    (status, etag, body)
}

fn has_all(what: &str, html: &str, needles: &[&str]) {
    for n in needles {
        assert!(html.contains(n), "{what} lacks {n:?}:\n{html}");
    }
}

/// `a` comes before `b` in `html`.
fn before(html: &str, a: &str, b: &str) {
    let (i, j) = (html.find(a), html.find(b));
    assert!(
        i.is_some() && j.is_some() && i < j,
        "{a:?} should come before {b:?}"
    );
}

#[tokio::test]
async fn pages_for_bidders_show_every_stage_with_its_legal_clocks() {
    // Thursday 2025-03-20 10:00: bids for the works tender close on Tuesday 25 March.
    let p = Pipeline::start("2025-03-20T10:00:00+08:00").await;
    let works = publish(&p, "application/xml", works_tender().into_bytes()).await;
    let gp = publish(
        &p,
        "application/json",
        procurement_tender().to_string().into_bytes(),
    )
    .await;

    // ── Tender stage ─────────────────────────────────────────────────────────────────────
    let (status, etag, html) = page(&p, &format!("/notices/{}", works[0])).await;
    assert_eq!(status, 200);
    has_all(
        "works tender page",
        &html,
        &[
            "徐州市三环东路快速化改造工程（二期）施工招标公告",
            PROJECT,
            SECTION,
            "徐州市三环东路快速化改造工程（二期）</dd>",
            "江苏省 徐州市",
            "徐州市城市建设投资有限公司",
            "江苏建科工程咨询有限公司",
            "11,531,700.00 元（1,153.17 万元）",
            "投标截止 2025-03-25 09:30",
            "还剩 3 个工作日，共 5 日",
            "招标文件获取 2025-03-03 至 2025-03-10 24:00",
            "已结束",
            "《中华人民共和国招标投标法》第二十四条",
            &format!("href=\"/procedures/JSGGZY/{PROJECT}/{SECTION}\""),
            &format!("href=\"/v1/notices/{}\"", works[0]),
            "招标中",
        ],
    );
    // Revalidation like the feeds.
    let etag = etag.expect("an ETag");
    let again = reqwest::Client::new()
        .get(format!("{}/notices/{}", p.url, works[0]))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(again.status().as_u16(), 304);

    let (_, _, html) = page(&p, &format!("/notices/{}", gp[0])).await;
    has_all(
        "procurement tender page",
        &html,
        &[
            "轮台县人民医院医疗设备采购项目公开招标公告",
            "轮台县人民医院医疗设备采购项目</dd>",
            "新疆维吾尔自治区 巴音郭楞蒙古自治州 轮台县",
            "轮台县人民医院",
            "3,865,000.00 元（386.50 万元）",
            "投标（响应文件）截止 2025-03-26 09:30",
            "还剩 4 个工作日，共 6 日",
            "《中华人民共和国政府采购法》第三十五条",
            "政府采购",
        ],
    );

    // A modification postpones the deadline: its page says so, with what it changed; the
    // tender's page points to the deadline in force.
    let amendment = publish(&p, "application/xml", works_amendment().into_bytes()).await;
    let (_, _, html) = page(&p, &format!("/notices/{}", amendment[0])).await;
    has_all(
        "amendment page",
        &html,
        &[
            "投标截止 2025-04-01 09:30",
            "还剩 8 个工作日，共 12 日",
            "投标文件递交截止时间：2025-03-25 09:30 → 2025-04-01 09:30",
            "开标时间：2025-03-25 09:30 → 2025-04-01 09:30",
            "第 2 版（本页）",
        ],
    );
    let (_, _, html) = page(&p, &format!("/notices/{}", works[0])).await;
    has_all(
        "tender page after the amendment",
        &html,
        &[
            "投标截止 2025-03-25 09:30</strong><span class=\"clock-status muted\">（已变更）",
            "已变更：投标截止 2025-04-01 09:30（还剩 8 个工作日，共 12 日）",
            &format!("href=\"/notices/{}\">变更公告", amendment[0]),
            "第 1 版（本页）",
        ],
    );

    // While bids are open, the tender's page in a browser (the README's screenshot).
    let b = Browser::start(1000, 820).await;
    b.client
        .goto(&format!("{}/notices/{}", p.url, works[0]))
        .await
        .expect("open the tender's page");
    b.screenshot("notice-open-tender").await;
    b.close().await;

    // Search hits carry what a list of tenders shows; facets name their codes.
    let found = p
        .search_until("/v1/search?q=%E4%B8%89%E7%8E%AF%E4%B8%9C%E8%B7%AF", |f| {
            f["hits"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h["id"] == works[0].as_str()))
        })
        .await;
    let hit = found["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .find(|h| h["id"] == works[0].as_str())
        .unwrap_or_else(|| panic!("the tender is found: {found}"));
    assert_eq!(hit["project_code"], PROJECT);
    assert_eq!(hit["project_name"], "徐州市三环东路快速化改造工程（二期）");
    assert_eq!(hit["buyer"], "徐州市城市建设投资有限公司");
    assert_eq!(hit["amount"], "11531700");
    assert_eq!(hit["amount_label"], "合同估算价");
    assert_eq!(hit["region_name"], "江苏省 徐州市");
    assert_eq!(
        hit["procedure"],
        json!({"platform": "JSGGZY", "project": PROJECT, "section": SECTION})
    );
    assert_eq!(hit["next_deadline"]["window"], "bid");
    // The deadline in force: the amendment's.
    assert_eq!(
        hit["next_deadline"]["sentence"],
        "投标截止 2025-04-01 09:30"
    );
    assert_eq!(hit["region"], "320300", "existing fields stay: {hit}");
    let xinjiang = |all: &Value| {
        all["facets"]["region_named"].as_array().is_some_and(|r| {
            r.iter()
                .any(|f| f["code"] == "65" && f["name"] == "新疆维吾尔自治区" && f["count"] == 1)
        })
    };
    let all = p.search_until("/v1/search", xinjiang).await;
    assert_eq!(all["facets"]["kind"]["tender"], 2, "existing facets stay");

    // The search page: form, results with names, facets, subscribe links with the same filters.
    let (status, _, html) = page(
        &p,
        "/search?q=%E4%B8%89%E7%8E%AF%E4%B8%9C%E8%B7%AF&region=32",
    )
    .await;
    assert_eq!(status, 200);
    has_all(
        "search page",
        &html,
        &[
            "name=\"q\" value=\"三环东路\"",
            "<option value=\"3203\">江苏省 徐州市</option>",
            "<option value=\"32\" selected>江苏省（全省）</option>",
            "<option value=\"11\">北京市（全市）</option>",
            "共 2 条结果",
            &format!("href=\"/notices/{}\"", works[0]),
            "<mark>三环东路</mark>",
            "江苏省 徐州市",
            "11,531,700.00 元（1,153.17 万元）",
            "投标截止 2025-04-01 09:30（还剩 8 个工作日，共 12 日）",
            "订阅此搜索",
            "href=\"/feeds/notices.atom?q=%E4%B8%89%E7%8E%AF%E4%B8%9C%E8%B7%AF&#38;region=32\"",
            "href=\"/feeds/notices.rss?q=",
            "href=\"/feeds/notices.json?q=",
            "href=\"/v1/stream?q=",
            "<strong>江苏省</strong> <span class=\"muted\">2</span>",
        ],
    );
    // Paging keeps the query and the page size.
    let (_, _, html) = page(&p, "/search?region=32&per_page=1").await;
    has_all(
        "search page 1 of 2",
        &html,
        &[
            "第 1 / 2 页",
            "rel=\"next\" href=\"/search?region=32&#38;per_page=1&#38;page=2\"",
        ],
    );
    let (_, _, html) = page(&p, "/search?region=32&per_page=1&page=2").await;
    assert!(
        html.contains("rel=\"prev\" href=\"/search?region=32&#38;per_page=1\""),
        "{html}"
    );
    let (status, _, html) = page(&p, "/search?region=3x").await;
    assert_eq!(status, 400);
    assert!(html.contains("无法搜索"), "{html}");

    // Feed entries link to the page and show the deadline (feedparser).
    let atom = reqwest::get(format!("{}/feeds/notices.atom", p.url))
        .await
        .expect("atom")
        .text()
        .await
        .expect("text");
    let path = p.dir.join("pages.atom");
    std::fs::write(&path, &atom).expect("write feed");
    let parsed = run_python("feed_check.py", &["atom".as_ref(), path.as_os_str()]);
    let entry = parsed["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["link"] == format!("{}/notices/{}", p.url, works[0]))
        .unwrap_or_else(|| panic!("no entry links to the tender's page: {parsed}"));
    assert!(
        entry["summary"]
            .as_str()
            .is_some_and(|s| s.contains("投标截止 2025-03-25 09:30")),
        "{entry}"
    );

    // ── Candidate publicity: Thursday 10 April, publicity ends Friday 11 April 18:00 ────────
    p.set_now("2025-04-10T12:00:00+08:00");
    let cands = publish(&p, "application/xml", works_candidates().into_bytes()).await;
    let (_, _, html) = page(&p, &format!("/notices/{}", cands[0])).await;
    has_all(
        "candidates page",
        &html,
        &[
            "中标候选人公示",
            "公示期 2025-04-08 至 2025-04-11 18:00，质疑/异议须在公示期内提出",
            "还剩 1 个工作日",
            "江苏淮海路桥工程有限公司",
            "中建安装集团有限公司",
            "10,876,543.21 元（1,087.6543 万元）",
            "10,912,000.00 元（1,091.20 万元）",
            // The project's name and buyer come from its tender.
            "徐州市三环东路快速化改造工程（二期）</dd>",
            "徐州市城市建设投资有限公司",
            "公示中",
            "《中华人民共和国招标投标法实施条例》第五十四条",
        ],
    );
    let (_, _, html) = page(&p, &format!("/notices/{}", works[0])).await;
    assert!(html.contains("已截止"), "the bid deadline has passed");

    // ── Awards: Monday 14 April ───────────────────────────────────────────────────────────
    p.set_now("2025-04-14T12:00:00+08:00");
    let award = publish(&p, "application/xml", works_award().into_bytes()).await;
    let gp_award = publish(
        &p,
        "application/json",
        procurement_result().to_string().into_bytes(),
    )
    .await;
    let (_, _, html) = page(&p, &format!("/notices/{}", award[0])).await;
    has_all(
        "works award page",
        &html,
        &[
            "中标结果公告",
            "江苏淮海路桥工程有限公司",
            "10,876,543.21 元（1,087.6543 万元）",
            "已定标",
        ],
    );
    let (_, _, html) = page(&p, &format!("/notices/{}", gp_award[0])).await;
    has_all(
        "procurement result page",
        &html,
        &[
            "新疆天山医疗器械有限公司",
            "巴州公信招标代理有限公司",
            "轮台县人民医院医疗设备采购项目</dd>",
            "3,712,400.00 元（371.24 万元）",
            "公告期 2025-04-07 至 2025-04-08 24:00",
            "质疑期 7 个工作日，至 2025-04-17 24:00",
            "还剩 3 个工作日",
            "《中华人民共和国政府采购法》第五十二条",
        ],
    );

    // ── Procedure pages: the timeline in stage order ──────────────────────────────────────
    let (status, _, html) = page(&p, &format!("/procedures/JSGGZY/{PROJECT}/{SECTION}")).await;
    assert_eq!(status, 200);
    has_all(
        "works procedure page",
        &html,
        &[
            "<h1>徐州市三环东路快速化改造工程（二期）</h1>",
            "江苏省 徐州市",
            &format!("href=\"/v1/procedures/JSGGZY/{PROJECT}/{SECTION}\""),
        ],
    );
    before(&html, "施工招标公告", "中标候选人公示");
    before(&html, "中标候选人公示", "中标结果公告");
    before(&html, "投标截止 2025-03-25 09:30", "公示期 2025-04-08");
    // The tender's deadline, moved by the amendment, is struck through on the timeline too.
    assert!(
        html.contains(
            "投标截止 2025-03-25 09:30</strong><span class=\"clock-status muted\">（已变更）"
        ),
        "{html}"
    );
    before(&html, "施工招标公告", "招标文件修改及延期公告");
    before(&html, "招标文件修改及延期公告", "中标候选人公示");
    let (_, _, html) = page(&p, &format!("/procedures/XJGGZY/{GP_PROJECT}/{GP_SECTION}")).await;
    before(&html, "公开招标公告", "中标结果公告");
    has_all("procurement procedure page", &html, &["质疑期 7 个工作日"]);

    // ── Not found: a page in Chinese ────────────────────────────────────────────────────
    let (status, _, html) = page(&p, "/notices/00000000000000000000000000000000").await;
    assert_eq!(status, 404);
    assert!(html.contains("没有这个公告"), "{html}");
    let (status, _, html) = page(&p, "/procedures/JSGGZY/NOPE/NOPE001").await;
    assert_eq!(status, 404);
    assert!(html.contains("没有这个项目"), "{html}");

    // ── In a browser: search by words and region, open a result, follow its procedure ────
    browse(&p, &works[0]).await;

    // A tender of two sections names both.
    let two = publish(
        &p,
        "application/xml",
        gongshi_tests::fixtures::works_tender(
            "E3203010319005779",
            "E3203010319005779001;E3203010319005779002",
            "徐州市两标段道路工程施工招标公告",
            "320300",
        )
        .into_bytes(),
    )
    .await;
    let (_, _, html) = page(&p, &format!("/notices/{}", two[0])).await;
    has_all(
        "two-section tender page",
        &html,
        &["E3203010319005779001、E3203010319005779002（共 2 个标段）"],
    );
}

/// Nothing on the page is wider than the window (no sideways scrolling, on a phone too).
async fn assert_fits(c: &fantoccini::Client, screen: &str, page: &str) {
    let overflow = c
        .execute(
            "const e = document.documentElement; return e.scrollWidth - e.clientWidth;",
            vec![],
        )
        .await
        .expect("script");
    assert!(
        overflow.as_i64().unwrap_or(0) <= 0,
        "{screen}: the {page} page scrolls sideways by {overflow}px"
    );
}

/// Headless Chromium, desktop then phone-sized: searches 三环东路 in 江苏省 徐州市, opens the
/// result, follows the procedure link; screenshots of each step.
async fn browse(p: &Pipeline, tender: &str) {
    for (name, width, height) in [("desktop", 1280, 900), ("phone", 390, 844)] {
        let b = Browser::start(width, height).await;
        let c = &b.client;
        c.goto(&format!("{}/search", p.url))
            .await
            .expect("open /search");
        c.find(Locator::Css("input[name=q]"))
            .await
            .expect("query box")
            .send_keys("三环东路")
            .await
            .expect("type");
        c.find(Locator::Css("select[name=region] option[value='3203']"))
            .await
            .expect("徐州市 in the region list")
            .click()
            .await
            .expect("choose 徐州市");
        b.screenshot(&format!("search-form-{name}")).await;
        c.find(Locator::Css("form.search button[type=submit]"))
            .await
            .expect("search button")
            .click()
            .await
            .expect("search");
        // The form's page lists the newest notices too: wait for the results of this search.
        let started = std::time::Instant::now();
        loop {
            let url = c.current_url().await.expect("url");
            if url.as_str().contains("region=3203") && url.as_str().contains("q=") {
                break;
            }
            assert!(
                started.elapsed().as_secs() < 20,
                "no search submitted: {url}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let result = c
            .wait()
            .for_element(Locator::Css(&format!(
                "article.hit h2 a[href='/notices/{tender}']"
            )))
            .await
            .expect("the tender among the results");
        b.screenshot(&format!("search-results-{name}")).await;
        assert_fits(c, name, "search").await;
        result.click().await.expect("open the result");
        c.wait()
            .for_element(Locator::Css("ul.clocks"))
            .await
            .expect("the notice's clocks");
        assert!(
            c.current_url()
                .await
                .expect("url")
                .as_str()
                .ends_with(&format!("/notices/{tender}"))
        );
        let text = c
            .find(Locator::Css("main"))
            .await
            .expect("main")
            .text()
            .await
            .expect("text");
        assert!(text.contains("投标截止 2025-03-25 09:30"), "{text}");
        b.screenshot(&format!("notice-{name}")).await;
        assert_fits(c, name, "notice").await;
        c.find(Locator::Css("p.links a"))
            .await
            .expect("procedure link")
            .click()
            .await
            .expect("follow");
        c.wait()
            .for_element(Locator::Css("ol.timeline"))
            .await
            .expect("the timeline");
        assert!(
            c.current_url()
                .await
                .expect("url")
                .as_str()
                .contains(&format!("/procedures/JSGGZY/{PROJECT}/{SECTION}"))
        );
        b.screenshot(&format!("procedure-{name}")).await;
        assert_fits(c, name, "procedure").await;
        b.close().await;
    }
}

//! Versions and the OCDS export on the real pipeline: a works procedure (tender, a postponement,
//! a re-sent tender, candidate publicity, award) and a procurement procedure (a GBK tender, a
//! correction, a JSON result) go through ingest, validation and enforcement; the notice and
//! procedure views show what changed, and `GET /v1/export/ocds` must validate against the official
//! OCDS 1.1.5 release-package and release schemas and codelists (`../shared/ocds-1.1.5`).

use gongshi_tests::{Pipeline, TOKEN, ocds_checker, sample};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const PROJECT: &str = "E3201000000000001";
const SECTION: &str = "E3201000000000001001";

fn tender(name: &str, stamp: &str) -> String {
    format!(
        "<TENDER_ANN_QUA_INQUERY_ANN><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE>\
         <TENDER_PROJECT_NAME>{name}</TENDER_PROJECT_NAME>\
         <BID_SECTION_CODES>{SECTION}</BID_SECTION_CODES><NOTICE_NAME>{name}施工招标公告</NOTICE_NAME>\
         <NOTICE_CONTENT>现对该项目的施工进行公开招标。</NOTICE_CONTENT><NOTICE_SEND_TIME>2025-03-03 09:00</NOTICE_SEND_TIME>\
         <BULLETIN_TYPE>1</BULLETIN_TYPE><NOTICE_NATURE>1</NOTICE_NATURE><DOC_GET_START_TIME>2025-03-03 09:00</DOC_GET_START_TIME>\
         <DOC_GET_END_TIME>2025-03-10 17:00</DOC_GET_END_TIME><BID_DOC_REFER_END_TIME>2025-03-25 09:30</BID_DOC_REFER_END_TIME>\
         <BID_OPEN_TIME>2025-03-25 09:30</BID_OPEN_TIME><CONTRACT_RECKON_PRICE>1153.17</CONTRACT_RECKON_PRICE><PRICE_UNIT>万元</PRICE_UNIT>\
         <TENDERER_NAME>南京市城市建设投资有限公司</TENDERER_NAME><TENDERER_CODE>9113082810924237XA</TENDERER_CODE>\
         <URL>http://jsggzy.example.invalid/jyxx/{PROJECT}.html</URL><REGION_CODE>320100</REGION_CODE>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>{stamp}</DATA_TIMESTAMP></TENDER_ANN_QUA_INQUERY_ANN>"
    )
}

fn postponement() -> String {
    format!(
        "<TENDER_FILE_CLARI_MODI><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{SECTION}</BID_SECTION_CODE>\
         <DOC_NO>XG01</DOC_NO><DOC_NAME>招标文件修改及延期公告</DOC_NAME><CLARIFY_CONTENT>投标截止时间及开标时间顺延至2025年4月1日9时30分。</CLARIFY_CONTENT>\
         <SUBMIT_TIME>2025-03-12 10:00</SUBMIT_TIME><IS_POSTPONE>1</IS_POSTPONE><AFFECTS_BIDS>1</AFFECTS_BIDS>\
         <BID_DOC_REFER_END_TIME>2025-04-01 09:30</BID_DOC_REFER_END_TIME><POST_OPEN_TIME>2025-04-01 09:30</POST_OPEN_TIME>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-12 10:01</DATA_TIMESTAMP></TENDER_FILE_CLARI_MODI>"
    )
}

fn candidates() -> String {
    let row = |name: &str, code: &str, order: u8, price: &str| {
        format!(
            "<TENDER_CANDIDATE><WIN_CANDIDATE_NAME>{name}</WIN_CANDIDATE_NAME><WIN_CANDIDATE_CODE>{code}</WIN_CANDIDATE_CODE>\
             <WIN_CANDIDATE_ORDER>{order}</WIN_CANDIDATE_ORDER><BID_PRICE>{price}</BID_PRICE><PRICE_UINT>元</PRICE_UINT></TENDER_CANDIDATE>"
        )
    };
    format!(
        "<TENDER_CANDIDATE_ANNOUNCE><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODES>{SECTION}</BID_SECTION_CODES>\
         <PUBLICITY_NAME>001标段中标候选人公示</PUBLICITY_NAME><PUBLICITY_CONTENT>第一中标候选人：江苏淮海路桥工程有限公司</PUBLICITY_CONTENT>\
         <PUBLICITY_START_TIME>2025-04-08 09:00</PUBLICITY_START_TIME><PUBLICITY_END_TIME>2025-04-11 18:00</PUBLICITY_END_TIME>\
         <OBJECTION_METHOD>书面</OBJECTION_METHOD><PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-04-08 08:40</DATA_TIMESTAMP>\
         {}{}{}</TENDER_CANDIDATE_ANNOUNCE>",
        row(
            "中建安装集团有限公司",
            "91320100721783068K",
            2,
            "10912000.00"
        ),
        row(
            "江苏淮海路桥工程有限公司",
            "913203826683892551",
            1,
            "10876543.21"
        ),
        row(
            "江苏润通市政建设工程有限公司",
            "91320300MA1MXK7Q09",
            3,
            "11035268.40"
        ),
    )
}

fn award() -> String {
    format!(
        "<WIN_RESULT_ANNO><TENDER_PROJECT_CODE>{PROJECT}</TENDER_PROJECT_CODE><BID_SECTION_CODE>{SECTION}</BID_SECTION_CODE>\
         <NOTICE_NAME>001标段中标结果公告</NOTICE_NAME><NOTICE_CONTENT>中标人：江苏淮海路桥工程有限公司</NOTICE_CONTENT>\
         <NOTICE_SEND_TIME>2025-04-10 09:00</NOTICE_SEND_TIME><WIN_BIDDER_NAME>江苏淮海路桥工程有限公司</WIN_BIDDER_NAME>\
         <WIN_BIDDER_CODE>913203826683892551</WIN_BIDDER_CODE><BID_AMOUNT>10876543.21</BID_AMOUNT><PRICE_UNIT>元</PRICE_UNIT>\
         <PROJECT_LEAD>张伟</PROJECT_LEAD><PROJECT_LEAD_ID>320303198001011234</PROJECT_LEAD_ID>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-04-10 08:50</DATA_TIMESTAMP></WIN_RESULT_ANNO>"
    )
}

fn correction() -> String {
    "<CORRECTION_ITEM><PURCHASE_PROJECT_CODE>SDGP370000000202502003817</PURCHASE_PROJECT_CODE>\
     <PURCHASE_SECTION_CODE>SDGP370000000202502003817001</PURCHASE_SECTION_CODE>\
     <TERMINATION_BULLETIN_TITLE>山东省立医院医用耗材集中采购项目更正公告</TERMINATION_BULLETIN_TITLE>\
     <TERMINATION_BULLETIN_CONTENT>投标截止时间延期至2025年3月28日9时30分。</TERMINATION_BULLETIN_CONTENT>\
     <MODIFICATION_START_TIME>2025-03-10 16:00</MODIFICATION_START_TIME><IS_POSTPONE>1</IS_POSTPONE>\
     <POST_BID_CLOSING_TIME>2025-03-28 09:30</POST_BID_CLOSING_TIME><AFFECTS_BIDS>1</AFFECTS_BIDS>\
     <PLATFORM_CODE>SDGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-10 16:00:30</DATA_TIMESTAMP></CORRECTION_ITEM>"
        .to_owned()
}

async fn notice_id(p: &Pipeline, receipt: &str, want: &str) -> String {
    let body = p.wait_receipt(receipt, |s| s == want).await;
    body["records"][0]["notice_id"]
        .as_str()
        .expect("notice id")
        .to_owned()
}

/// Every release of the export, following `links.next`; each page checked against OCDS 1.1.5.
async fn harvest(p: &Pipeline, first: &str) -> Vec<Value> {
    let checker = ocds_checker();
    let mut out = Vec::new();
    let mut path = first.to_owned();
    for _ in 0..50 {
        let (status, package) = p.get(&path).await;
        assert_eq!(status, 200, "{path}: {package}");
        let problems = checker.problems(&package);
        assert!(problems.is_empty(), "{path}: {problems:#?}\n{package:#}");
        out.extend(package["releases"].as_array().cloned().unwrap_or_default());
        match package["links"]["next"].as_str() {
            Some(next) => {
                path = next
                    .strip_prefix(&p.url)
                    .unwrap_or_else(|| panic!("next link {next} is not on {}", p.url))
                    .to_owned()
            }
            None => return out,
        }
    }
    panic!("more than 50 pages");
}

#[tokio::test]
async fn versions_changes_and_a_valid_ocds_export_from_the_real_pipeline() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let tender_id = notice_id(
        &p,
        &p.submit(&tender("南京市纬七路改造工程", "2025-03-03 08:55"))
            .await,
        "published",
    )
    .await;
    let amendment_id = notice_id(&p, &p.submit(&postponement()).await, "published").await;
    // A corrected re-export of the tender (another project name): a new version of the stage.
    let resent_id = notice_id(
        &p,
        &p.submit(&tender("南京市纬七路快速化改造工程", "2025-03-13 08:00"))
            .await,
        "published",
    )
    .await;
    let candidates_id = notice_id(&p, &p.submit(&candidates()).await, "published").await;
    let award_receipt = p.submit(&award()).await;
    p.wait_receipt(&award_receipt, |s| s == "held").await;
    p.set_now("2025-04-11T18:01:00+08:00");
    let award_id = notice_id(&p, &award_receipt, "published").await;

    let gbk = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/notices/procurement-tender-gbk.xml"),
    )
    .expect("GBK sample");
    let (status, body) = p.post("application/xml", gbk, Some(TOKEN)).await;
    assert_eq!(status, 202, "{body}");
    let gp_tender = notice_id(&p, body["receipt"].as_str().expect("receipt"), "published").await;
    let gp_correction = notice_id(&p, &p.submit(&correction()).await, "published").await;
    let (status, body) = p
        .post(
            "application/json",
            sample("procurement-result.json"),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let gp_result = notice_id(&p, body["receipt"].as_str().expect("receipt"), "published").await;

    // The tender's stage: three versions, the postponement moving deadline and opening.
    let (status, notice) = p.get(&format!("/v1/notices/{tender_id}")).await;
    assert_eq!(status, 200, "{notice}");
    let versions: Vec<(&str, bool)> = notice["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap_or(""),
                v["current"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            (tender_id.as_str(), false),
            (amendment_id.as_str(), true),
            (resent_id.as_str(), true)
        ],
        "{notice:#}"
    );
    assert_eq!(
        notice["version"],
        json!({"stage": "tender", "version": 1, "of": 3, "current": false})
    );
    let moved = &notice["versions"][1]["changes"];
    assert!(
        moved.as_array().expect("changes").contains(&json!({
            "field": "BID_DOC_REFER_END_TIME", "label": "投标文件递交截止时间",
            "old": "2025-03-25T09:30:00+08:00", "new": "2025-04-01T09:30:00+08:00",
            "summary": "BID_DOC_REFER_END_TIME 投标文件递交截止时间: 2025-03-25T09:30:00+08:00 → 2025-04-01T09:30:00+08:00",
        })),
        "{moved:#}"
    );
    let (_, resent) = p.get(&format!("/v1/notices/{resent_id}")).await;
    let renamed: Vec<&str> = resent["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["field"].as_str().unwrap_or(""))
        .collect();
    assert!(renamed.contains(&"TENDER_PROJECT_NAME"), "{resent:#}");

    // The procedure: stage order, every change, the windows in force (the postponed bid window).
    let (status, procedure) = p
        .get(&format!("/v1/procedures/JSGGZY/{PROJECT}/{SECTION}"))
        .await;
    assert_eq!(status, 200, "{procedure}");
    let kinds: Vec<&str> = procedure["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        ["tender", "amendment", "tender", "candidates", "award"]
    );
    assert!(
        procedure["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["notice_id"] == amendment_id.as_str()
                && c["field"] == "BID_DOC_REFER_END_TIME"),
        "{procedure:#}"
    );
    assert!(
        procedure["windows"]["publicity"]["end"].is_string(),
        "{procedure:#}"
    );
    assert_eq!(
        procedure["ocid"],
        "ocds-gongshi-JSGGZY-E3201000000000001-E3201000000000001001"
    );

    // The export: every page valid, every notice there once per procedure, the mapping's tags.
    let releases = harvest(&p, "/v1/export/ocds?limit=3").await;
    let all = harvest(&p, "/v1/export/ocds").await;
    assert_eq!(releases, all, "paging neither skips nor repeats");
    let ids: BTreeSet<&str> = all.iter().map(|r| r["id"].as_str().unwrap_or("")).collect();
    let expected: BTreeSet<&str> = [
        &tender_id,
        &amendment_id,
        &resent_id,
        &candidates_id,
        &award_id,
        &gp_tender,
        &gp_correction,
        &gp_result,
    ]
    .into_iter()
    .map(String::as_str)
    .collect();
    assert_eq!(ids, expected);
    let release = |id: &str| all.iter().find(|r| r["id"] == id).expect("release");
    let works_ocid = "ocds-gongshi-JSGGZY-E3201000000000001-E3201000000000001001";
    for (id, tag) in [
        (&tender_id, "tender"),
        (&amendment_id, "tenderAmendment"),
        (&resent_id, "tenderUpdate"),
        (&candidates_id, "award"),
        (&award_id, "award"),
    ] {
        assert_eq!(release(id)["tag"], json!([tag]), "{id}");
        assert_eq!(release(id)["ocid"], works_ocid);
    }
    assert_eq!(
        release(&amendment_id)["tender"]["tenderPeriod"]["endDate"],
        "2025-04-01T09:30:00+08:00"
    );
    assert_eq!(
        release(&tender_id)["tender"]["value"],
        json!({"amount": 11531700.0, "currency": "CNY"})
    );
    let pending = release(&candidates_id);
    assert_eq!(pending["awards"][0]["status"], "pending");
    let ranked: Vec<&Value> = pending["bids"]["details"]
        .as_array()
        .expect("bids")
        .iter()
        .map(|b| &b["tenderers"][0]["name"])
        .collect();
    assert_eq!(
        ranked,
        [
            "江苏淮海路桥工程有限公司",
            "中建安装集团有限公司",
            "江苏润通市政建设工程有限公司"
        ]
    );
    let active = release(&award_id);
    assert_eq!(active["awards"][0]["status"], "active");
    assert_eq!(active["awards"][0]["id"], pending["awards"][0]["id"]);
    assert!(
        !active.to_string().contains("320303198001011234"),
        "personal data leaked"
    );
    assert_eq!(
        [&gp_tender, &gp_correction, &gp_result].map(|id| release(id)["tag"][0].clone()),
        [json!("tender"), json!("tenderAmendment"), json!("award")]
    );
    assert_eq!(
        release(&gp_correction)["tender"]["tenderPeriod"]["endDate"],
        "2025-03-28T09:30:00+08:00"
    );

    // The validator is live: the real export with one wrong code is refused.
    let (_, mut package) = p.get("/v1/export/ocds").await;
    package["releases"][0]["tag"] = json!(["published"]);
    assert!(!ocds_checker().problems(&package).is_empty());

    // A notice published while an older transaction is still open waits for it: that transaction
    // could yet commit a notice stamped earlier, which a harvester's cursor would then pass by.
    let db = p.db().await;
    let mut open = db.begin().await.expect("begin");
    sqlx::query("SELECT 1")
        .execute(&mut *open)
        .await
        .expect("select");
    let other =
        tender("南京市纬八路改造工程", "2025-03-03 08:56").replace(PROJECT, "E3201000000000002");
    let later = notice_id(&p, &p.submit(&other).await, "published").await;
    let ids_now = |all: &[Value]| -> BTreeSet<String> {
        all.iter()
            .map(|r| r["id"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert!(!ids_now(&harvest(&p, "/v1/export/ocds").await).contains(&later));
    open.rollback().await.expect("rollback");
    assert!(ids_now(&harvest(&p, "/v1/export/ocds").await).contains(&later));

    // Filters by publish date (gongshi's, i.e. the store's clock: today), and bad parameters.
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
        .date_naive();
    let (status, todays) = p
        .get(&format!("/v1/export/ocds?from={today}&to={today}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        todays["releases"].as_array().map(Vec::len),
        Some(all.len() + 1)
    );
    let tomorrow = today.succ_opt().expect("tomorrow");
    let (status, none) = p.get(&format!("/v1/export/ocds?from={tomorrow}")).await;
    assert_eq!(
        (status, none["error"]["code"].as_str()),
        (404, Some("no-releases"))
    );
    for bad in ["limit=0", "limit=501", "cursor=nonsense", "from=yesterday"] {
        let (status, body) = p.get(&format!("/v1/export/ocds?{bad}")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad-request")),
            "{bad}"
        );
    }
}

/// The back-filled procedure of `tests/cases/backfilled_procedure.xml` (from shared/cases).
fn backfilled() -> String {
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/backfilled_procedure.xml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `<TABLE>…</TABLE>` elements of a batch, in document order.
fn elements(batch: &str) -> Vec<String> {
    let body = &batch[batch.find("<BATCH>").expect("batch") + "<BATCH>".len()
        ..batch.rfind("</BATCH>").expect("batch end")];
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let tail = &rest[open..];
        if tail.starts_with("<!--") {
            rest = &tail[tail.find("-->").expect("comment end") + 3..];
            continue;
        }
        let name = &tail[1..tail.find('>').expect("tag end")];
        let close = format!("</{name}>");
        let end = tail.find(&close).expect("element end") + close.len();
        out.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

/// The notices of a pipeline's store in the order gongshi published them.
async fn publication_order(p: &Pipeline) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT notice_id FROM notices WHERE published_seq IS NOT NULL ORDER BY published_seq",
    )
    .fetch_all(&p.db().await)
    .await
    .expect("publication order")
}

/// One ocid's releases in the export must have strictly increasing dates in publication order;
/// returns their tags in that order.
fn assert_dates_follow_publication(all: &[Value], ocid: &str, order: &[String]) -> Vec<String> {
    let mut mine: Vec<&Value> = all.iter().filter(|r| r["ocid"] == ocid).collect();
    assert!(!mine.is_empty(), "no release of {ocid}");
    mine.sort_by_key(|r| {
        order
            .iter()
            .position(|id| r["id"] == id.as_str())
            .unwrap_or(usize::MAX)
    });
    let dates: Vec<chrono::DateTime<chrono::FixedOffset>> = mine
        .iter()
        .map(|r| {
            chrono::DateTime::parse_from_rfc3339(r["date"].as_str().expect("date"))
                .expect("RFC 3339 date")
        })
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] < w[1]),
        "{ocid}: dates do not strictly increase in publication order: {:?}",
        mine.iter()
            .map(|r| (&r["tag"][0], &r["date"]))
            .collect::<Vec<_>>()
    );
    mine.iter()
        .map(|r| r["tag"][0].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Fetches a record package, checks it against the official record-package schema and returns it.
async fn records(p: &Pipeline, ocids: &[&str]) -> Value {
    let query: Vec<String> = ocids.iter().map(|o| format!("ocid={o}")).collect();
    let path = format!("/v1/export/ocds/records?{}", query.join("&"));
    let (status, package) = p.get(&path).await;
    assert_eq!(status, 200, "{path}: {package}");
    let problems = ocds_checker().record_problems(&package);
    assert!(problems.is_empty(), "{path}: {problems:#?}\n{package:#}");
    package
}

fn record<'a>(package: &'a Value, ocid: &str) -> &'a Value {
    package["records"]
        .as_array()
        .expect("records")
        .iter()
        .find(|r| r["ocid"] == ocid)
        .unwrap_or_else(|| panic!("no record {ocid} in {package:#}"))
}

/// A compiled release shows the postponed deadline and the winner's active award.
fn assert_finished(compiled: &Value, deadline: &str, winner: &str) {
    assert_eq!(compiled["tag"], json!(["compiled"]));
    assert_eq!(
        compiled["tender"]["tenderPeriod"]["endDate"], deadline,
        "{compiled:#}"
    );
    let awards = compiled["awards"].as_array().expect("awards");
    assert_eq!(
        awards.len(),
        1,
        "the publicity's award became the result's: {compiled:#}"
    );
    assert_eq!(awards[0]["status"], "active");
    assert_eq!(awards[0]["suppliers"][0]["name"], winner);
}

const BACKFILLED: &str = "E3201002025000301";

#[tokio::test]
async fn a_back_filled_procedure_has_ordered_releases_and_a_valid_record() {
    // Long after every window of the procedure: the whole batch publishes at once.
    let p = Pipeline::start("2025-06-02T12:00:00+08:00").await;
    let receipt = p.submit(&backfilled()).await;
    let body = p.wait_receipt(&receipt, |s| s == "published").await;
    assert_eq!(body["records"].as_array().map(Vec::len), Some(4), "{body}");
    let order = publication_order(&p).await;
    assert_eq!(order.len(), 4);

    let all = harvest(&p, "/v1/export/ocds").await;
    let section1 = format!("ocds-gongshi-JSGGZY-{BACKFILLED}-{BACKFILLED}001");
    let section2 = format!("ocds-gongshi-JSGGZY-{BACKFILLED}-{BACKFILLED}002");
    assert_eq!(
        assert_dates_follow_publication(&all, &section1, &order),
        ["tender", "tenderAmendment", "award", "award"]
    );
    assert_eq!(
        assert_dates_follow_publication(&all, &section2, &order),
        ["tender"]
    );
    // Re-exporting gives the same releases: same ids, same dates.
    assert_eq!(harvest(&p, "/v1/export/ocds?limit=2").await, all);

    let package = records(&p, &[&section1, &section2]).await;
    let first = record(&package, &section1);
    let released: Vec<&Value> = all
        .iter()
        .filter(|r| r["ocid"] == section1.as_str())
        .collect();
    let embedded: Vec<&Value> = first["releases"]
        .as_array()
        .expect("releases")
        .iter()
        .collect();
    let mut by_date = released.clone();
    by_date.sort_by_key(|r| r["date"].as_str().unwrap_or("").to_owned());
    assert_eq!(
        embedded, by_date,
        "the record embeds the exported releases in date order"
    );
    assert_finished(
        &first["compiledRelease"],
        "2025-03-31T09:30:00+08:00",
        "南京某建设工程有限公司",
    );
    let second = &record(&package, &section2)["compiledRelease"];
    assert_eq!(
        second["tender"]["tenderPeriod"]["endDate"], "2025-03-25T09:30:00+08:00",
        "the clarification moved section 001 only"
    );
    assert!(second.get("awards").is_none());
    // Asking again gives the same package (release ids and dates are stable).
    assert_eq!(records(&p, &[&section1, &section2]).await, package);

    // Errors: no ocid, too many, none with releases.
    let (status, body) = p.get("/v1/export/ocds/records").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad-request")),
        "{body}"
    );
    let many: Vec<String> = (0..101)
        .map(|i| format!("ocid=ocds-gongshi-P-A-{i}"))
        .collect();
    let (status, body) = p
        .get(&format!("/v1/export/ocds/records?{}", many.join("&")))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad-request")),
        "{body}"
    );
    for unknown in [
        "ocds-gongshi-JSGGZY-E1-E1001",
        "ocds-other-JSGGZY-A-B",
        "nonsense",
    ] {
        let (status, body) = p
            .get(&format!("/v1/export/ocds/records?ocid={unknown}"))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("no-releases")),
            "{unknown}: {body}"
        );
    }
    // An unknown ocid beside a known one is left out.
    let (status, body) = p
        .get(&format!(
            "/v1/export/ocds/records?ocid=nonsense&ocid={section1}&ocid={section1}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"].as_array().map(Vec::len), Some(1));
}

/// A case of the same kind built here: two works procedures back-filled in one batch with their
/// notices interleaved (tender A, tender B, clarification A, clarification B, …), the second
/// one's clarification postponing to another day.
#[tokio::test]
async fn two_procedures_interleaved_in_one_batch_keep_their_own_order() {
    let p = Pipeline::start("2025-06-02T12:00:00+08:00").await;
    let a = elements(&backfilled());
    let other = "E3201002025000302";
    let b: Vec<String> = a
        .iter()
        .map(|e| {
            e.replace(BACKFILLED, other)
                .replace("2025-03-31 09:30", "2025-04-02 09:30")
        })
        .collect();
    assert_eq!((a.len(), b.len()), (4, 4));
    let interleaved: String = a
        .iter()
        .zip(&b)
        .flat_map(|(x, y)| [x.as_str(), y.as_str()])
        .collect();
    let batch = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><BATCH>{interleaved}</BATCH>");
    let receipt = p.submit(&batch).await;
    let body = p.wait_receipt(&receipt, |s| s == "published").await;
    assert_eq!(body["records"].as_array().map(Vec::len), Some(8), "{body}");
    let order = publication_order(&p).await;

    let all = harvest(&p, "/v1/export/ocds").await;
    let ocid = |project: &str| format!("ocds-gongshi-JSGGZY-{project}-{project}001");
    let (first, second) = (ocid(BACKFILLED), ocid(other));
    for o in [&first, &second] {
        assert_eq!(
            assert_dates_follow_publication(&all, o, &order),
            ["tender", "tenderAmendment", "award", "award"],
            "{o}"
        );
    }
    let package = records(&p, &[&second, &first]).await;
    assert_eq!(
        package["records"][0]["ocid"],
        second.as_str(),
        "records in the order asked"
    );
    assert_finished(
        &record(&package, &first)["compiledRelease"],
        "2025-03-31T09:30:00+08:00",
        "南京某建设工程有限公司",
    );
    assert_finished(
        &record(&package, &second)["compiledRelease"],
        "2025-04-02T09:30:00+08:00",
        "南京某建设工程有限公司",
    );
}

//! Personal identity numbers on the real pipeline: natural persons stand in every party-code field
//! of the tables (`schemas/tables/*.schema.json`, type `party_code`, sub-records included) and in
//! `PROJECT_LEAD_ID`. After everything is published, no public output carries any of their
//! 公民身份号码 (in either case of a check character `X`): the notice and procedure views, search
//! hits, the HTML pages for people (`/notices/{id}`, `/procedures/…`, `/search`), every page of
//! every feed format, the SSE stream, webhook deliveries, the OCDS release and
//! record packages, nor the topics after validation. The receipt (for the platform that sent the
//! document) carries a `PARTY-PERSONAL-ID` warning with the number masked, never in full; the
//! persons' names stay public.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use gongshi_tests::{Pipeline, TOKEN};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIDDER: &str = "bidder-one-token";

/// Every party-code field of the tables, with the invented 公民身份号码 it holds in this test.
/// (Table, field, number as sent.) The works ones are in `cases/natural_person_works_candidates.xml`,
/// `WINNINGBIDDER_CODE` first in `cases/natural_person_supplier_id.json` (shared/cases).
const FIELDS: &[(&str, &str, &str)] = &[
    (
        "TENDER_ANN_QUA_INQUERY_ANN",
        "TENDERER_CODE",
        "320102197503182016",
    ),
    // The re-sent tender's tenderer.
    (
        "TENDER_ANN_QUA_INQUERY_ANN",
        "TENDERER_CODE",
        "320902200110053588",
    ),
    (
        "TENDER_ANN_QUA_INQUERY_ANN",
        "TENDER_AGENCY_CODE",
        "320303198207041536",
    ),
    (
        "TENDER_CANDIDATE",
        "WIN_CANDIDATE_CODE",
        "320583196811113720",
    ),
    (
        "TENDER_CANDIDATE",
        "WIN_CANDIDATE_CODE",
        "32090219700101557x",
    ),
    (
        "TENDER_CANDIDATE",
        "WIN_CANDIDATE_CODE",
        "320106198812310077",
    ),
    (
        "TENDER_CANDIDATE_ANNOUNCE",
        "FIRST_BIDDER_CODE",
        "320583196811113720",
    ),
    (
        "TENDER_CANDIDATE_ANNOUNCE",
        "SECOND_BIDDER_CODE",
        "32090219700101557x",
    ),
    (
        "TENDER_CANDIDATE_ANNOUNCE",
        "THIRD_BIDDER_CODE",
        "320106198812310077",
    ),
    ("WIN_RESULT_ANNO", "WIN_BIDDER_CODE", "320583196811113720"),
    (
        "WIN_RESULT_ANNO",
        "TENDER_AGENCY_CODE",
        "320303197906152636",
    ),
    (
        "BID_DEAL_ANNOUNCE",
        "WINNINGBIDDER_CODE",
        "32010619000101469X",
    ),
    (
        "BID_DEAL_ANNOUNCE",
        "WINNINGBIDDER_CODE",
        "320281198509094119",
    ),
    (
        "BID_DEAL_ANNOUNCE",
        "PURCHASER_AGENCY_CODE",
        "320583199304021286",
    ),
];

/// `PROJECT_LEAD_ID` (marked `x-personal` by the schema) of the works award.
const PROJECT_LEAD_ID: &str = "320102199511203349";

const WORKS: (&str, &str) = ("E3205832025000707", "E3205832025000707001");
const SUPPLIER_CASE: (&str, &str) = ("JSZC3201062025000303", "JSZC3201062025000303001");
const AGENCY: (&str, &str) = ("JSZC3205832025000909", "JSZC3205832025000909001");

fn case(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("cases")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A procurement procedure (tender and result) whose winner is a natural person sent with a
/// lower-case check character, and whose purchasing agency is a natural person too.
fn agency_procedure() -> Vec<u8> {
    let (project, section) = AGENCY;
    json!([
        {
            "TABLE": "PURCHASE_QUALI_INQUERY_ANN",
            "PURCHASE_PROJECT_CODE": project,
            "PURCHASE_PROJECT_NAME": "昆山市某镇2025年河道保洁服务项目",
            "PURCHASE_SECTION_CODE": section,
            "BULLETIN_TITLE": "昆山市某镇2025年河道保洁服务项目竞争性磋商公告",
            "BULLETIN_CONTENT": "一、项目基本情况：预算金额 6.00 万元。",
            "BULLETIN_START_TIME": "2025-03-04 09:00",
            "BULLETIN_END_TIME": "2025-03-11",
            "DOC_GET_START_TIME": "2025-03-04 09:00",
            "DOC_GET_END_TIME": "2025-03-11 17:00",
            "BID_CLOSING_TIME": "2025-03-26 09:30",
            "PURCHASER_MODE": "竞争性磋商",
            "PURCHASER_NAME": "昆山市某镇人民政府",
            "PROGRAM_BUDGET": "6.00",
            "UNIT_BUDGET": "万元",
            "REGION_CODE": "320583",
            "PLATFORM_CODE": "JSGGZY",
            "DATA_TIMESTAMP": "2025-03-04 08:30"
        },
        {
            "TABLE": "BID_DEAL_ANNOUNCE",
            "PURCHASE_PROJECT_CODE": project,
            "PURCHASE_SECTION_CODE": section,
            "WIN_BID_BULLETIN_TITLE": "昆山市某镇2025年河道保洁服务项目成交结果公告",
            "WIN_BID_BULLETIN_CONTENT": "成交供应商：冯某某（自然人），成交金额：58000.00元。",
            "WIN_BID_BULLETIN_START_TIME": "2025-04-03 09:00",
            "SUPPLIER_DETERMINED_TIME": "2025-04-02 16:00",
            "WINNINGBIDDER_NAME": "冯某某",
            "WINNINGBIDDER_CODE": "320281198509094119",
            "WIN_BID_PRICE": "58000.00",
            "PRICE_UNIT": "元",
            "PURCHASER_AGENCY_NAME": "陈某某",
            "PURCHASER_AGENCY_CODE": "320583199304021286",
            "REGION_CODE": "320583",
            "PLATFORM_CODE": "JSGGZY",
            "DATA_TIMESTAMP": "2025-04-03 08:30"
        }
    ])
    .to_string()
    .into_bytes()
}

/// Every number in every form a leak could take: as sent, upper- and lower-case check character.
fn forms() -> BTreeSet<String> {
    FIELDS
        .iter()
        .map(|(_, _, n)| *n)
        .chain([PROJECT_LEAD_ID])
        .flat_map(|n| [n.to_owned(), n.to_ascii_uppercase(), n.to_ascii_lowercase()])
        .collect()
}

/// The number with its middle hidden, as the receipt's warning shows it (`320106**********9X`).
fn masked(n: &str) -> String {
    let n = n.to_ascii_uppercase();
    format!(
        "{}{}{}",
        &n[..6],
        "*".repeat(n.len() - 8),
        &n[n.len() - 2..]
    )
}

/// Panics when `text` (one public output) carries any form of any number.
fn assert_clean(what: &str, text: &str) {
    for n in forms() {
        assert!(
            !text.contains(&n),
            "{what} leaks the identity number {n}: {text}"
        );
    }
}

#[derive(Clone, Default)]
struct Receiver {
    bodies: Arc<Mutex<Vec<String>>>,
}

async fn hook(State(r): State<Receiver>, body: Bytes) -> StatusCode {
    r.bodies
        .lock()
        .expect("lock")
        .push(String::from_utf8_lossy(&body).into_owned());
    StatusCode::NO_CONTENT
}

async fn start_receiver() -> (String, Receiver) {
    let receiver = Receiver::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(receiver.clone());
    (
        format!("{}/hook", gongshi_tests::serve_locally(app).await),
        receiver,
    )
}

/// Reads the SSE stream into `into` (raw text, every line) until the test ends.
async fn start_stream(url: String, into: Arc<Mutex<String>>) {
    let mut response = reqwest::Client::new()
        .get(url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), 200);
    tokio::spawn(async move {
        while let Ok(Some(chunk)) = response.chunk().await {
            into.lock()
                .expect("lock")
                .push_str(&String::from_utf8_lossy(&chunk));
        }
    });
}

async fn get_text(url: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// Every page of one feed format, following `next` links (small pages, so paging is exercised).
async fn feed_pages(p: &Pipeline, ext: &str) -> Vec<String> {
    let mut pages = Vec::new();
    let mut url = format!("{}/feeds/notices.{ext}?limit=3", p.url);
    loop {
        assert!(pages.len() < 50, "{ext}: more than 50 pages");
        let (status, body) = get_text(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        let next = if ext == "json" {
            let feed: Value = serde_json::from_str(&body).expect("JSON Feed");
            feed["next_url"].as_str().map(str::to_owned)
        } else {
            // The `next` link of an Atom (`<link rel="next" href=…>`) or RSS (atom:link) page.
            body.split("<")
                .filter(|tag| tag.contains("rel=\"next\""))
                .find_map(|tag| {
                    let start = tag.find("href=\"")? + 6;
                    let end = tag[start..].find('"')? + start;
                    Some(tag[start..end].replace("&amp;", "&"))
                })
        };
        pages.push(body);
        match next {
            Some(n) => url = n,
            None => return pages,
        }
    }
}

#[tokio::test]
async fn identity_numbers_in_party_code_fields_reach_no_public_output() {
    let mut p = Pipeline::new("2025-05-06T12:00:00+08:00").await;
    p.set_env("GONGSHI_WEBHOOK_RETRY_BASE_MS", "200");
    p.set_env("GONGSHI_FEED_POLL_MS", "100");
    p.set_env("GONGSHI_WEBHOOK_ALLOW_PRIVATE", "true");
    p.spawn("run");
    p.wait_ready().await;

    // A webhook subscription for everything and a live stream, both before anything is sent.
    let (hook_url, receiver) = start_receiver().await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1/subscriptions", p.url))
        .bearer_auth(BIDDER)
        .json(&json!({"webhook_url": hook_url, "secret": "correct-horse-battery-staple"}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(r.status().as_u16(), 201);
    let stream = Arc::new(Mutex::new(String::new()));
    start_stream(format!("{}/v1/stream", p.url), stream.clone()).await;

    // The works procedure (XML batch), the shared case and the agency procedure (JSON).
    let (status, works) = p
        .post(
            "application/xml",
            case("natural_person_works_candidates.xml"),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 202, "{works}");
    let (status, supplier) = p
        .post(
            "application/json",
            case("natural_person_supplier_id.json"),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 202, "{supplier}");
    let (status, agency) = p
        .post("application/json", agency_procedure(), Some(TOKEN))
        .await;
    assert_eq!(status, 202, "{agency}");
    // An invalid record (no price) with a person in its winner's field: refused, and its receipt
    // and rejected event carry no number either.
    let mut invalid: Value = serde_json::from_slice(&agency_procedure()).expect("JSON");
    let invalid = {
        let record = invalid[1].as_object_mut().expect("record");
        record.remove("WIN_BID_PRICE");
        Value::Object(record.clone())
    };
    let (status, refused) = p
        .post(
            "application/json",
            invalid.to_string().into_bytes(),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 202, "{refused}");
    let refused = refused["receipt"].as_str().expect("receipt").to_owned();
    let refused_receipt = p.wait_receipt(&refused, |s| s == "invalid").await;
    assert_eq!(
        refused_receipt["records"][0]["errors"][0]["rule"], "SCHEMA-REQUIRED",
        "{refused_receipt}"
    );
    let (_, text) = get_text(&format!("{}/v1/receipts/{refused}", p.url)).await;
    assert_clean("the invalid record's receipt", &text);

    let mut receipts = Vec::new();
    for answer in [&works, &supplier, &agency] {
        let id = answer["receipt"].as_str().expect("receipt").to_owned();
        let body = p.wait_receipt(&id, |s| s == "published").await;
        receipts.push((id, body));
    }
    let notice_ids: Vec<String> = receipts
        .iter()
        .flat_map(|(_, r)| r["records"].as_array().cloned().unwrap_or_default())
        .map(|r| r["notice_id"].as_str().expect("notice id").to_owned())
        .collect();
    assert_eq!(notice_ids.len(), 8, "{receipts:?}");

    // The receipts: a PARTY-PERSONAL-ID warning on every field, the number masked, never in full.
    for (id, receipt) in &receipts {
        let (status, text) = get_text(&format!("{}/v1/receipts/{id}", p.url)).await;
        assert_eq!(status, 200);
        assert_clean("the receipt", &text);
        assert_eq!(
            &serde_json::from_str::<Value>(&text).expect("JSON"),
            receipt
        );
    }
    let warnings: Vec<(String, String, String)> = receipts
        .iter()
        .flat_map(|(_, r)| r["records"].as_array().cloned().unwrap_or_default())
        .flat_map(|r| {
            let table = r["table"].as_str().unwrap_or_default().to_owned();
            r["warnings"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|w| w["rule"] == "PARTY-PERSONAL-ID")
                .map(move |w| {
                    (
                        table.clone(),
                        w["path"].as_str().unwrap_or_default().to_owned(),
                        w["message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
        })
        .collect();
    for (table, field, number) in FIELDS {
        let hit = warnings.iter().find(|(t, path, message)| {
            (t == table || *table == "TENDER_CANDIDATE")
                && path.ends_with(field)
                && message.contains(&masked(number))
        });
        assert!(
            hit.is_some(),
            "no PARTY-PERSONAL-ID for {table}.{field} with {}: {warnings:#?}",
            masked(number)
        );
    }
    let candidate_rows = warnings
        .iter()
        .filter(|(_, path, _)| path.contains("/TENDER_CANDIDATE/"))
        .count();
    assert_eq!(candidate_rows, 3, "one per sub-record: {warnings:#?}");

    // The notice views: no number, the persons' names public.
    let mut views = String::new();
    for id in &notice_ids {
        let (status, text) = get_text(&format!("{}/v1/notices/{id}", p.url)).await;
        assert_eq!(status, 200, "{text}");
        assert_clean(&format!("/v1/notices/{id}"), &text);
        views.push_str(&text);
    }
    for name in [
        "孙某某",
        "黄某某",
        "李某某",
        "钱某某",
        "周某某",
        "吴某某",
        "郑某某",
        "赵某某",
        "冯某某",
        "陈某某",
    ] {
        assert!(views.contains(name), "{name} is public in the notice views");
    }
    // PROJECT_LEAD is personal by the schema (x-personal), name included.
    assert!(
        !views.contains("王某某"),
        "the project lead's name is withheld"
    );

    // The public pages for people: each notice's, each procedure's and the search page (names
    // public, no number, no project lead).
    let mut pages = Vec::new();
    for id in &notice_ids {
        pages.push(format!("{}/notices/{id}", p.url));
    }
    for (project, section) in [WORKS, SUPPLIER_CASE, AGENCY] {
        pages.push(format!("{}/procedures/JSGGZY/{project}/{section}", p.url));
    }
    for q in ["赵某某", "冯某某", WORKS.0] {
        pages.push(format!("{}/search?q={q}", p.url));
    }
    for path in &pages {
        let (status, text) = get_text(path).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert_clean(path, &text);
        assert!(!text.contains("王某某"), "{path} shows the project lead");
    }

    // The procedure views and their OCDS record packages.
    let mut ocids = Vec::new();
    for (project, section) in [WORKS, SUPPLIER_CASE, AGENCY] {
        let path = format!("{}/v1/procedures/JSGGZY/{project}/{section}", p.url);
        let (status, text) = get_text(&path).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert_clean(&path, &text);
        let view: Value = serde_json::from_str(&text).expect("procedure JSON");
        if project == WORKS.0 {
            // The re-sent tender changed its tenderer: the name's change shows, no code's.
            let changed: Vec<&str> = view["changes"]
                .as_array()
                .expect("changes")
                .iter()
                .filter_map(|c| c["field"].as_str())
                .collect();
            assert!(
                changed.contains(&"TENDERER_NAME") && !changed.contains(&"TENDERER_CODE"),
                "{changed:?}: {view}"
            );
        }
        ocids.push(view["ocid"].as_str().expect("ocid").to_owned());
    }
    for ocid in &ocids {
        let path = format!("{}/v1/export/ocds/records?ocid={ocid}", p.url);
        let (status, text) = get_text(&path).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert_clean(&path, &text);
    }
    // The release packages, every page.
    let mut path = format!("{}/v1/export/ocds", p.url);
    let mut releases = 0;
    for _ in 0..50 {
        let (status, text) = get_text(&path).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert_clean(&path, &text);
        let package: Value = serde_json::from_str(&text).expect("package JSON");
        releases += package["releases"].as_array().map_or(0, Vec::len);
        match package["links"]["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    assert!(releases >= 8, "{releases} releases");
    // The persons appear in OCDS as parties by name.
    let (_, export) = get_text(&format!("{}/v1/export/ocds", p.url)).await;
    assert!(
        export.contains("钱某某") && export.contains("赵某某"),
        "{export}"
    );

    // Search: by the persons' names and by the project codes, hits' stored fields clean; by a
    // number, nothing (search is no oracle for whose number it is).
    for q in [
        "赵某某",
        "钱某某",
        "冯某某",
        WORKS.0,
        SUPPLIER_CASE.0,
        AGENCY.0,
    ] {
        let path = format!("{}/v1/search?q={q}", p.url);
        // The index is committed after the feed (publish commits the store first), so a notice
        // whose receipt reads `published` may take a moment to be found.
        let start = Instant::now();
        loop {
            let (status, text) = get_text(&path).await;
            assert_eq!(status, 200, "{path}: {text}");
            assert_clean(&path, &text);
            let found: Value = serde_json::from_str(&text).expect("search JSON");
            if found["total"].as_u64().unwrap_or(0) > 0 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{q} finds its notices: {found}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for n in forms() {
        let path = format!("{}/v1/search?q={n}", p.url);
        let (status, text) = get_text(&path).await;
        assert_eq!(status, 200, "{path}: {text}");
        let found: Value = serde_json::from_str(&text).expect("search JSON");
        assert_eq!(found["total"], 0, "searching {n} finds: {found}");
    }

    // Every page of every feed format.
    let db = p.db().await;
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM feed_entries")
        .fetch_one(&db)
        .await
        .expect("count");
    for ext in ["atom", "rss", "json"] {
        let pages = feed_pages(&p, ext).await;
        assert!(pages.len() >= 3, "{ext}: paging exercised");
        for (i, page) in pages.iter().enumerate() {
            assert_clean(&format!("{ext} feed page {i}"), page);
        }
        assert!(
            pages.concat().contains("钱某某"),
            "{ext}: the names are public"
        );
    }

    // The stream and the webhooks: everything that was published reached them, none of it a number.
    let start = Instant::now();
    loop {
        let delivered = receiver.bodies.lock().expect("lock").len();
        let streamed = {
            let text = stream.lock().expect("lock");
            text.matches("\ndata:").count() + usize::from(text.starts_with("data:"))
        };
        if delivered as i64 >= entries && streamed as i64 >= entries {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{delivered} deliveries and {streamed} stream events of {entries} entries; logs in {}",
            p.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_clean("the SSE stream", &stream.lock().expect("lock"));
    for body in receiver.bodies.lock().expect("lock").iter() {
        assert_clean("a webhook delivery", body);
    }

    // The topics after validation carry no number either.
    for (topic, at_least) in [
        ("gongshi.notices.valid.v1", 8),
        ("gongshi.notices.public.v1", 8),
        ("gongshi.notices.rejected.v1", 1),
    ] {
        let events = p.events(topic).await;
        assert!(events.len() >= at_least, "{topic}: {} events", events.len());
        for event in events {
            assert_clean(topic, &event.to_string());
        }
    }

    // The private store keeps every number (upper-case check character, as canonical): what was
    // looked for above is there to be found.
    let private: Vec<String> = sqlx::query_scalar("SELECT canonical::text FROM notices_private")
        .fetch_all(&db)
        .await
        .expect("private store");
    let private = private.concat();
    for n in FIELDS.iter().map(|(_, _, n)| *n).chain([PROJECT_LEAD_ID]) {
        assert!(
            private.contains(&n.to_ascii_uppercase()),
            "the private store keeps {n}"
        );
    }
}

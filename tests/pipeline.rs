//! The pipeline end to end on the real broker and PostgreSQL: HTTP contract of ingest, a works
//! procedure posted out of order, duplicates, invalid and rejected records, a hold that survives
//! a restart of the enforce service, a bid deadline an amendment moved, and a tender of two
//! sections whose sections part ways.

use gongshi_tests::browser::Browser;
use gongshi_tests::fixtures::{
    PROJECT, SECTION, TENDER_TITLE, amendment, amendment_of, award,
    award_before_the_publicity_ends, candidates, tender, termination, works_tender,
};
use gongshi_tests::{Pipeline, TOKEN, sample};
use serde_json::Value;

fn statuses(receipt: &Value) -> Vec<String> {
    receipt["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["status"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn ingest_answers_the_http_contract() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let xml = tender();
    assert_eq!(p.post("application/xml", xml.clone(), None).await.0, 401);
    assert_eq!(
        p.post("application/xml", xml.clone(), Some("wrong"))
            .await
            .0,
        403
    );
    assert_eq!(p.post("text/plain", xml.clone(), Some(TOKEN)).await.0, 415);
    let (status, body) = p.post("application/xml", "<A><B>x</A>", Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "DOC-XML", "{body}");
    // GBK bytes without a declaration, the encoding named only in the header: refused, and the
    // answer says where to declare it.
    let (gbk, _, _) = encoding_rs::GBK.encode(&xml);
    let (status, body) = p
        .post(
            "application/xml; charset=GBK",
            gbk.into_owned(),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "DOC-ENCODING", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("charset=GBK") && m.contains("encoding=\"GBK\"")),
        "{body}"
    );
    let big = format!("<A><B>{}</B></A>", "x".repeat(3 * 1024 * 1024));
    assert_eq!(p.post("application/xml", big, Some(TOKEN)).await.0, 413);
    let (status, body) = p
        .post("application/xml; charset=utf-8", xml, Some(TOKEN))
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(body["receipt"].is_string());
    let (status, body) = p.get("/v1/receipts/no-such-receipt").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("receipt-not-found"))
    );
    assert_eq!(p.get("/healthz").await.0, 200);
    let (_, metrics) = p.get_text("/metrics").await;
    assert!(
        metrics.contains("gongshi_documents_received_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_works_procedure_posted_out_of_order_is_published_in_stage_order() {
    let mut p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    // The award is sent during the candidate publicity, before either of its parents arrives.
    let award_receipt = p
        .submit(&award("2025-04-10 09:00", "2025-04-10 08:50"))
        .await;
    let body = p.wait_receipt(&award_receipt, |s| s == "parked").await;
    assert_eq!(statuses(&body), ["parked"]);
    let cand_receipt = p.submit(&candidates("2025-04-11 18:00")).await;
    p.wait_receipt(&cand_receipt, |s| s == "parked").await;

    let tender_receipt = p.submit(&tender()).await;
    let tender_body = p.wait_receipt(&tender_receipt, |s| s == "published").await;
    let tender_id = tender_body["records"][0]["notice_id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The bid deadline (2025-03-25) has passed at the pipeline's clock: the tender is closed.
    assert_eq!(
        p.get(&format!("/v1/notices/{tender_id}")).await.1["status"],
        "closed"
    );
    let cand_body = p.wait_receipt(&cand_receipt, |s| s == "published").await;
    let cand_id = cand_body["records"][0]["notice_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        p.get(&format!("/v1/notices/{cand_id}")).await.1["status"],
        "publicity"
    );
    let held = p.wait_receipt(&award_receipt, |s| s == "held").await;
    assert_eq!(
        held["records"][0]["hold_until"]
            .as_str()
            .map(|s| s.starts_with("2025-04-11T10:00:00")),
        Some(true),
        "{held}"
    );

    // The publicity ends at 18:00 Beijing time: at 18:01 the award publishes itself.
    p.set_now("2025-04-11T18:01:00+08:00");
    let published = p.wait_receipt(&award_receipt, |s| s == "published").await;
    let award_id = published["records"][0]["notice_id"]
        .as_str()
        .expect("notice id")
        .to_owned();

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
    assert_eq!(kinds, ["tender", "candidates", "award"]);

    let (status, notice) = p.get(&format!("/v1/notices/{award_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        notice["record"]["WIN_BIDDER_NAME"],
        "江苏淮海路桥工程有限公司"
    );
    let text = notice.to_string();
    assert!(
        !text.contains("320303198001011234") && !text.contains("PROJECT_LEAD"),
        "personal data leaked: {text}"
    );

    // The publicity window's closing reaches the feed as its own entry, in the same timer tick as
    // the award's release and before it, as it happened: the publicity closed, then the award was
    // published (no entry reads `closed` after the award).
    let db = p.db().await;
    let start = std::time::Instant::now();
    let entries = loop {
        let entries: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT event_type, entry #>> '{payload,notice_status}' FROM feed_entries \
             WHERE event_type = 'window.closed' OR notice_id = $1 ORDER BY seq",
        )
        .bind(&award_id)
        .fetch_all(&db)
        .await
        .expect("entries");
        if entries.len() >= 2 {
            break entries;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no window.closed entry: {entries:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        entries,
        [
            ("window.closed".to_owned(), Some("closed".to_owned())),
            ("notice.published".to_owned(), None)
        ]
    );

    // Search finds the procedure's notices by words, by code, by region prefix, with facets; the
    // award has moved the tender to `awarded` in the index too. The index follows the feed store:
    // publish commits a batch's feed entries, then its index thread the batch's index changes, so
    // the feed can show the window's entry a moment before the index shows the award's effect.
    let found = p
        .search_until(
            "/v1/search?q=%E4%B8%89%E7%8E%AF%E4%B8%9C%E8%B7%AF&kind=tender",
            |found| found["hits"][0]["status"] == "awarded",
        )
        .await;
    assert_eq!(found["hits"][0]["id"], tender_id.as_str(), "{found}");
    let (_, by_code) = p.get(&format!("/v1/search?q={SECTION}")).await;
    assert_eq!(by_code["total"], 3, "{by_code}");
    let (_, by_region) = p.get("/v1/search?region=32&sort=-published").await;
    assert_eq!(
        by_region["total"], 3,
        "stages without REGION_CODE take their procedure's: {by_region}"
    );
    assert_eq!(by_region["facets"]["region"]["32"], 3, "{by_region}");
    for hit in by_region["hits"].as_array().into_iter().flatten() {
        assert_eq!(
            hit["region_name"], "江苏省 徐州市",
            "named, own REGION_CODE or not: {hit}"
        );
    }
    assert_eq!(
        by_region["hits"][0]["kind"], "award",
        "newest first: {by_region}"
    );
    let (_, nothing) = p.get("/v1/search?region=37").await;
    assert_eq!(nothing["total"], 0);
    let (status, bad) = p.get("/v1/search?sort=sideways").await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("bad-request"))
    );

    // `gongshi reindex` rebuilds the same index from the feed store: with the pipeline stopped and
    // the index folder gone, the restarted gateway (whose consumers have nothing left to replay)
    // answers exactly as before.
    let everything = "/v1/search?sort=-published&per_page=100";
    let before = p.get(everything).await.1;
    p.kill("run");
    // (With GONGSHI_MEILI_URL set the index lives in Meilisearch, and reindex clears it there.)
    let embedded = p.dir.join("data/index");
    if embedded.exists() {
        std::fs::remove_dir_all(&embedded).expect("remove the index");
    }
    let out = p.command("reindex").output().expect("run gongshi reindex");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("reindexed 3 notices"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.spawn("run");
    p.wait_ready().await;
    let after = p.get(everything).await.1;
    // Two notices published in the same second may come in either order.
    let by_id = |page: &Value| {
        let mut hits = page["hits"].as_array().cloned().unwrap_or_default();
        hits.sort_by_key(|h| h["id"].as_str().unwrap_or_default().to_owned());
        hits
    };
    assert_eq!(by_id(&after), by_id(&before), "reindexed hits");
    assert_eq!(after["facets"], before["facets"], "reindexed facets");
    assert!(
        by_id(&after).iter().all(|h| h["status"] == "awarded"),
        "{after}"
    );

    // Every event the pipeline produced matches its topic's schema.
    for topic in [
        "gongshi.notices.received.v1",
        "gongshi.notices.valid.v1",
        "gongshi.notices.public.v1",
    ] {
        let validator = gongshi_tests::topic_validator(topic);
        let events = p.events(topic).await;
        for event in &events {
            let errors: Vec<String> = validator
                .iter_errors(event)
                .map(|e| format!("{} {e}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{topic}: {errors:?}\n{event}");
        }
    }
}

#[tokio::test]
async fn a_resent_document_is_published_once() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let doc = sample("works-procedure.xml");
    let first = p.submit(&doc).await;
    let first_body = p.wait_receipt(&first, |s| s != "received").await;
    let second = p.submit(&doc).await;
    let second_body = p.wait_receipt(&second, |s| s != "received").await;
    assert_eq!(
        statuses(&second_body),
        ["duplicate", "duplicate", "duplicate"],
        "{second_body}"
    );
    for (a, b) in first_body["records"]
        .as_array()
        .expect("records")
        .iter()
        .zip(second_body["records"].as_array().expect("records"))
    {
        assert_eq!(a["notice_id"], b["notice_id"]);
    }
    let db = p.db().await;
    let per_notice: Vec<i64> = sqlx::query_scalar(
        "SELECT count(*) FROM feed_entries WHERE event_type = 'notice.published' GROUP BY notice_id",
    )
    .fetch_all(&db)
    .await
    .expect("query");
    assert!(
        !per_notice.is_empty() && per_notice.iter().all(|c| *c == 1),
        "{per_notice:?}"
    );
}

/// The `window.closed` entries of the feed as (notice, window).
async fn closings(db: &sqlx::PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT notice_id, entry #>> '{payload,window}' FROM feed_entries \
         WHERE event_type = 'window.closed' ORDER BY seq",
    )
    .fetch_all(db)
    .await
    .expect("closings")
}

/// The feed's `window.closed` entries as (notice, procedure) once there are `n` of them.
async fn closings_at_least(db: &sqlx::PgPool, n: usize) -> Vec<(String, String)> {
    let start = std::time::Instant::now();
    loop {
        let found: Vec<(String, String)> = sqlx::query_as(
            "SELECT notice_id, procedure_key FROM feed_entries \
             WHERE event_type = 'window.closed' ORDER BY seq",
        )
        .fetch_all(db)
        .await
        .expect("closings");
        if found.len() >= n {
            return found;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{} of {n} window.closed entries",
            found.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits until window timer `timer` has fired (announced or not).
async fn fired(db: &sqlx::PgPool, timer: &str) {
    let start = std::time::Instant::now();
    loop {
        let fired: Option<bool> =
            sqlx::query_scalar("SELECT fired_at IS NOT NULL FROM timers WHERE timer_id = $1")
                .bind(timer)
                .fetch_optional(db)
                .await
                .expect("timer");
        if fired == Some(true) {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "timer {timer} did not fire ({fired:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An amendment moved the bid deadline from 03-25 to 04-01. The tender's own deadline passes
/// without a word to subscribers and leaves it open everywhere a bidder looks (API, search); the
/// deadline in force then closes the tender and the amendment together, announced once.
#[tokio::test]
async fn a_moved_bid_deadline_closes_the_tender_at_the_deadline_in_force_only() {
    let p = Pipeline::start("2025-03-20T10:00:00+08:00").await;
    let (tender_id, amendment_id) = tender_and_amendment(&p, &tender()).await;
    let db = p.db().await;
    let status = |id: String| {
        let p = &p;
        async move { p.get(&format!("/v1/notices/{id}")).await.1["status"].clone() }
    };
    let open_search = "/v1/search?q=%E4%B8%89%E7%8E%AF%E4%B8%9C%E8%B7%AF&kind=tender&status=open";

    p.set_now("2025-03-25T09:31:00+08:00");
    fired(&db, &format!("window:{tender_id}:bid")).await;
    // An event of that tick would reach the feed within this (outbox relay, publish).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        closings(&db).await,
        [],
        "the replaced deadline announces nothing"
    );
    assert_eq!(status(tender_id.clone()).await, "open");
    let found = p
        .search_until(open_search, |f| f["total"].as_u64() == Some(1))
        .await;
    assert_eq!(found["hits"][0]["id"], tender_id.as_str(), "{found}");

    p.set_now("2025-04-01T09:31:00+08:00");
    closings_at_least(&db, 1).await;
    assert_eq!(
        closings(&db).await,
        [(amendment_id.clone(), "bid".to_owned())]
    );
    assert_eq!(status(tender_id.clone()).await, "closed");
    assert_eq!(status(amendment_id).await, "closed");
    p.search_until(
        "/v1/search?q=%E4%B8%89%E7%8E%AF%E4%B8%9C%E8%B7%AF&kind=tender&status=closed",
        |f| f["total"].as_u64() == Some(1),
    )
    .await;
}

/// A postponement sent on 03-20 reaches gongshi only on 03-26, after the old deadline closed the
/// tender and was announced: search reopens the tender with the API until the new deadline,
/// which closes it again.
#[tokio::test]
async fn a_postponement_received_after_the_old_deadline_reopens_the_tender() {
    let p = Pipeline::start("2025-03-20T10:00:00+08:00").await;
    let receipt = p.submit(&tender()).await;
    let body = p.wait_receipt(&receipt, |s| s == "published").await;
    let tender_id = body["records"][0]["notice_id"]
        .as_str()
        .expect("notice id")
        .to_owned();
    let db = p.db().await;
    let tender_status = |status: &'static str| {
        move |f: &Value| f["total"].as_u64() == Some(1) && f["hits"][0]["status"] == status
    };
    let search = "/v1/search?kind=tender";

    p.set_now("2025-03-25T09:31:00+08:00");
    assert_eq!(closings_at_least(&db, 1).await.len(), 1);
    p.search_until(search, tender_status("closed")).await;

    p.set_now("2025-03-26T10:00:00+08:00");
    let receipt = p.submit(&amendment("2025-04-01 09:30")).await;
    p.wait_receipt(&receipt, |s| s == "published").await;
    p.search_until(search, tender_status("open")).await;
    let (_, api) = p.get(&format!("/v1/notices/{tender_id}")).await;
    assert_eq!(api["status"], "open", "{api}");

    p.set_now("2025-04-01T09:31:00+08:00");
    closings_at_least(&db, 2).await;
    p.search_until(search, tender_status("closed")).await;
}

/// A tender (bids due 03-25), its postponement to 04-01, then the tender re-sent on 03-22 to
/// correct its title, its deadline restated at 03-25. The re-send corrects the text; it does not
/// undo the postponement: the API, the procedure's windows, its changes and search keep 04-01,
/// 03-25 announces nothing, and 04-01 closes every version with the amendment, announced once.
#[tokio::test]
async fn a_tender_re_sent_to_correct_its_text_leaves_the_postponement_in_force() {
    let p = Pipeline::start("2025-03-20T10:00:00+08:00").await;
    let (tender_id, amendment_id) = tender_and_amendment(&p, &tender()).await;
    p.set_now("2025-03-22T10:00:00+08:00");
    let resent = tender()
        .replace(
            TENDER_TITLE,
            "徐州市三环东路快速化改造工程（一期）施工招标公告",
        )
        .replace(
            "<DATA_TIMESTAMP>2025-03-03 08:55",
            "<DATA_TIMESTAMP>2025-03-22 09:55",
        );
    let receipt = p.submit(&resent).await;
    let body = p.wait_receipt(&receipt, |s| s == "published").await;
    let resent_id = body["records"][0]["notice_id"]
        .as_str()
        .expect("notice id")
        .to_owned();
    assert_ne!(resent_id, tender_id);
    let db = p.db().await;
    let api = |id: String| {
        let p = &p;
        async move { p.get(&format!("/v1/notices/{id}")).await.1 }
    };

    let view = api(resent_id.clone()).await;
    assert_eq!(view["status"], "open", "{view:#}");
    let changed: Vec<&str> = view["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(changed, ["NOTICE_NAME"], "{view:#}");
    let (_, procedure) = p
        .get(&format!("/v1/procedures/JSGGZY/{PROJECT}/{SECTION}"))
        .await;
    assert_eq!(
        procedure["windows"]["bid"]["notice_id"],
        amendment_id.as_str(),
        "{procedure:#}"
    );
    assert!(
        procedure["windows"]["bid"]["end"]
            .as_str()
            .is_some_and(|e| e.starts_with("2025-04-01T09:30")),
        "{procedure:#}"
    );
    let (_, page) = p.get_text(&format!("/notices/{resent_id}")).await;
    for shown in ["已变更：", &format!("/notices/{amendment_id}")] {
        assert!(page.contains(shown), "the page shows {shown}: {page}");
    }
    // Its feed entry gives the deadline in force.
    let (_, feed) = p.get("/feeds/notices.json").await;
    let entry = feed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i.to_string().contains(&format!("/notices/{resent_id}")))
        .unwrap_or_else(|| panic!("the re-send is in the feed: {feed}"))
        .to_string();
    assert!(
        entry.contains("投标截止 2025-04-01 09:30") && !entry.contains("投标截止 2025-03-25"),
        "{entry}"
    );

    p.set_now("2025-03-25T09:31:00+08:00");
    fired(&db, &format!("window:{resent_id}:bid")).await;
    fired(&db, &format!("window:{tender_id}:bid")).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(closings(&db).await, [], "03-25 is no longer the deadline");
    for id in [&tender_id, &resent_id, &amendment_id] {
        assert_eq!(api(id.clone()).await["status"], "open", "{id}");
    }
    p.search_until("/v1/search?kind=tender&status=closed", |f| {
        f["total"].as_u64() == Some(0)
    })
    .await;
    p.search_until("/v1/search?kind=tender&status=open", |f| {
        f["hits"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["id"] == resent_id.as_str()))
    })
    .await;

    p.set_now("2025-04-01T09:31:00+08:00");
    closings_at_least(&db, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        closings(&db).await,
        [(amendment_id.clone(), "bid".to_owned())]
    );
    for id in [&tender_id, &resent_id, &amendment_id] {
        assert_eq!(api(id.clone()).await["status"], "closed", "{id}");
    }
    p.search_until("/v1/search?kind=tender&status=open", |f| {
        f["total"].as_u64() == Some(0)
    })
    .await;
}

/// A section tendered again after its termination (流标, then 重新招标: 实施条例 第四十四条): the
/// re-tender opens a new round. It is open until its own deadline (API, search), its deadline's
/// closing is announced, and the old tender stays terminated.
#[tokio::test]
async fn a_tender_sent_after_its_sections_termination_is_open_until_its_own_deadline() {
    let p = Pipeline::start("2025-03-20T10:00:00+08:00").await;
    let db = p.db().await;
    let status = |id: String| {
        let p = &p;
        async move { p.get(&format!("/v1/notices/{id}")).await.1["status"].clone() }
    };
    let old = p.publish(&tender()).await;
    p.set_now("2025-03-26T10:00:00+08:00");
    p.publish(&termination(SECTION)).await;
    assert_eq!(status(old.clone()).await, "terminated");

    p.set_now("2025-03-27T10:00:00+08:00");
    let re_tender = tender()
        .replace(
            TENDER_TITLE,
            "徐州市三环东路快速化改造工程施工招标公告（重新招标）",
        )
        .replace(
            "<NOTICE_SEND_TIME>2025-03-03 09:00",
            "<NOTICE_SEND_TIME>2025-03-27 09:00",
        )
        .replace(
            "<DOC_GET_START_TIME>2025-03-03 09:00",
            "<DOC_GET_START_TIME>2025-03-27 09:00",
        )
        .replace("2025-03-10 17:00", "2025-04-03 17:00")
        .replace("2025-03-25 09:30", "2025-04-18 09:30")
        .replace(
            "<DATA_TIMESTAMP>2025-03-03 08:55",
            "<DATA_TIMESTAMP>2025-03-27 08:55",
        );
    let new = p.publish(&re_tender).await;
    assert_eq!(
        status(new.clone()).await,
        "open",
        "the re-tender takes bids"
    );
    assert_eq!(status(old.clone()).await, "terminated");
    // Search follows the feed: wait until it has the re-tender, then it must be the only one open.
    p.search_until("/v1/search?kind=tender", |f| f["total"].as_u64() == Some(2))
        .await;
    let open = p
        .search_until("/v1/search?kind=tender&status=open", |f| {
            f["total"].as_u64() == Some(1) && f["hits"][0]["id"] == new.as_str()
        })
        .await;
    assert_eq!(open["hits"][0]["status"], "open", "{open}");
    let (_, all) = p.get("/v1/search?kind=tender&status=terminated").await;
    assert_eq!(all["hits"][0]["id"], old.as_str(), "{all}");

    p.set_now("2025-04-18T09:31:00+08:00");
    // The old deadline's closing (03-25), then the re-tender's.
    let closed = closings_at_least(&db, 2).await;
    assert_eq!(
        closed[1].0, new,
        "the re-tender's deadline is announced: {closed:?}"
    );
    assert_eq!(status(new).await, "closed");
    assert_eq!(status(old).await, "terminated");
}

/// An award held until the candidates' publicity ends, whose candidates are re-sent meanwhile
/// with a publicity extended to 04-15: when 04-11 comes it is judged again and held again to the
/// new end, and its receipt says so (W11 with the new end, not the old one), then it publishes.
#[tokio::test]
async fn an_award_held_for_a_publicity_extended_meanwhile_is_held_to_the_new_end() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let award_receipt = award_before_the_publicity_ends(&p).await;
    p.wait_receipt(&award_receipt, |s| s == "held").await;
    let extended = candidates("2025-04-15 18:00").replace(
        "<DATA_TIMESTAMP>2025-04-08 08:40",
        "<DATA_TIMESTAMP>2025-04-10 11:00",
    );
    let r = p.submit(&extended).await;
    p.wait_receipt(&r, |s| s == "published").await;

    p.set_now("2025-04-11T18:01:00+08:00");
    let start = std::time::Instant::now();
    let held = loop {
        let (_, body) = p.get(&format!("/v1/receipts/{award_receipt}")).await;
        if body["records"][0]["hold_until"]
            .as_str()
            .is_some_and(|h| h.starts_with("2025-04-15T10:00:00"))
        {
            break body;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "not held to the new end: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(statuses(&held), ["held"], "{held}");
    let w11: Vec<&Value> = held["records"][0]["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["rule"] == "W11")
        .collect();
    assert_eq!(w11.len(), 1, "{held}");
    assert!(
        w11[0]["evidence"]["publicity_end"]
            .as_str()
            .is_some_and(|e| e.starts_with("2025-04-15T18:00")),
        "{held}"
    );

    p.set_now("2025-04-15T18:01:00+08:00");
    p.wait_receipt(&award_receipt, |s| s == "published").await;
}

/// A version older than one already published (a platform's retry delivering 03-10's version
/// after 03-22's) is refused, naming the newer version: taken as the newest, its deadline
/// (03-24) would undo the postponement to 04-01. Nothing of it is public, and the deadline in
/// force stays the amendment's.
#[tokio::test]
async fn a_version_older_than_one_published_is_refused() {
    let p = Pipeline::start("2025-03-20T10:00:00+08:00").await;
    let (_, amendment_id) = tender_and_amendment(&p, &tender()).await;
    p.set_now("2025-03-22T10:00:00+08:00");
    let version = |title: &str, stamp: &str, deadline: &str| {
        tender()
            .replace(TENDER_TITLE, title)
            .replace(
                "<DATA_TIMESTAMP>2025-03-03 08:55",
                &format!("<DATA_TIMESTAMP>{stamp}"),
            )
            .replace("2025-03-25 09:30", deadline)
    };
    let newer = p
        .submit(&version(
            "徐州市三环东路快速化改造工程（一期）施工招标公告",
            "2025-03-22 09:55",
            "2025-03-25 09:30",
        ))
        .await;
    let newer = p.wait_receipt(&newer, |s| s == "published").await;
    let newer_id = newer["records"][0]["notice_id"].as_str().expect("id");

    let stale = p
        .submit(&version(
            "徐州市三环东路快速化改造工程（一期）施工招标公告（草稿）",
            "2025-03-10 09:55",
            "2025-03-24 09:30",
        ))
        .await;
    let refused = p.wait_receipt(&stale, |s| s != "received").await;
    assert_eq!(statuses(&refused), ["rejected"], "{refused}");
    let error = &refused["records"][0]["errors"][0];
    assert_eq!(error["rule"], "VERSION-OLDER", "{refused}");
    assert_eq!(error["path"], "/DATA_TIMESTAMP", "{refused}");
    assert_eq!(error["evidence"]["newer_version"], newer_id, "{refused}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("数据时间戳")
                && m.contains("2025-03-10 09:55")
                && m.contains("2025-03-22 09:55")),
        "{error}"
    );
    let stale_id = refused["records"][0]["notice_id"].as_str().expect("id");
    assert_eq!(p.get(&format!("/v1/notices/{stale_id}")).await.0, 404);
    let (_, procedure) = p
        .get(&format!("/v1/procedures/JSGGZY/{PROJECT}/{SECTION}"))
        .await;
    assert_eq!(
        procedure["windows"]["bid"]["notice_id"],
        amendment_id.as_str(),
        "{procedure:#}"
    );
}

/// The tender re-sent on 03-26 with a later deadline (04-15), after its old one (03-25) closed
/// it: every version is open again, in search as in the API, until 04-15 closes it once more.
/// Once candidates are out, a re-send moving the deadline again (04-25) is no deadline a bidder
/// can meet: the tender stays closed and 04-25 announces nothing.
#[tokio::test]
async fn a_tender_re_sent_with_a_later_deadline_reopens_it_until_its_candidates_are_out() {
    let p = Pipeline::start("2025-03-20T10:00:00+08:00").await;
    let db = p.db().await;
    let re_sent = |deadline: &str, stamp: &str| {
        tender().replace("2025-03-25 09:30", deadline).replace(
            "<DATA_TIMESTAMP>2025-03-03 08:55",
            &format!("<DATA_TIMESTAMP>{stamp}"),
        )
    };
    let status = |id: String| {
        let p = &p;
        async move { p.get(&format!("/v1/notices/{id}")).await.1["status"].clone() }
    };
    let v1 = p.publish(&tender()).await;
    p.set_now("2025-03-25T09:31:00+08:00");
    closings_at_least(&db, 1).await;
    p.search_until("/v1/search?kind=tender&status=closed", |f| {
        f["total"].as_u64() == Some(1)
    })
    .await;

    p.set_now("2025-03-26T10:00:00+08:00");
    let v2 = p
        .publish(&re_sent("2025-04-15 09:30", "2025-03-26 09:55"))
        .await;
    for id in [&v1, &v2] {
        assert_eq!(status(id.clone()).await, "open", "{id}");
    }
    p.search_until("/v1/search?kind=tender&status=open", |f| {
        f["total"].as_u64() == Some(2)
    })
    .await;

    p.set_now("2025-04-15T09:31:00+08:00");
    closings_at_least(&db, 2).await;
    p.search_until("/v1/search?kind=tender&status=closed", |f| {
        f["total"].as_u64() == Some(2)
    })
    .await;

    // Candidates from 04-16, then a re-send moving the deadline to 04-25.
    p.set_now("2025-04-16T10:00:00+08:00");
    p.publish(
        &candidates("2025-04-21 18:00")
            .replace("2025-04-08 09:00", "2025-04-16 09:00")
            .replace("2025-04-08 08:40", "2025-04-16 08:40"),
    )
    .await;
    let v3 = p
        .publish(&re_sent("2025-04-25 09:30", "2025-04-16 09:55"))
        .await;
    assert_eq!(status(v3.clone()).await, "closed");
    p.set_now("2025-04-25T09:31:00+08:00");
    fired(&db, &format!("window:{v3}:bid")).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let bids: Vec<String> = closings(&db)
        .await
        .into_iter()
        .filter(|(_, window)| window == "bid")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(bids, [v1.clone(), v2.clone()], "04-25 announces nothing");
    p.search_until("/v1/search?kind=tender&status=open", |f| {
        f["total"].as_u64() == Some(0)
    })
    .await;

    // The feed tells each re-send from the notice it replaces: same title word for word, marked
    // with its version, and the JSON Feed item names the one before.
    let (_, feed) = p.get("/feeds/notices.json").await;
    let published: Vec<(String, String, Value, Value)> = feed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| {
            i["_gongshi"]["type"] == "notice.published" && i["_gongshi"]["kind"] == "tender"
        })
        .map(|i| {
            (
                i["_gongshi"]["notice_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                i["title"].as_str().unwrap_or_default().to_owned(),
                i["_gongshi"]["replaces"].clone(),
                i["_gongshi"]["version"].clone(),
            )
        })
        .rev()
        .collect();
    assert_eq!(
        published,
        [
            (
                v1.clone(),
                TENDER_TITLE.to_owned(),
                Value::Null,
                Value::Null
            ),
            (
                v2.clone(),
                format!("【第2版】{TENDER_TITLE}"),
                Value::from(v1.as_str()),
                Value::from(2)
            ),
            (
                v3.clone(),
                format!("【第3版】{TENDER_TITLE}"),
                Value::from(v2.as_str()),
                Value::from(3)
            ),
        ],
        "{feed}"
    );
}

/// Candidates held until their publicity starts are judged again when it comes, against the
/// procedure as it stands then. A postponement received while they were held moved the bid
/// deadline past their start: published, the publicity would run while bids are still open
/// (W10). They are refused instead, with the rule and the deadline in force in the receipt, the
/// reason they were held kept beside it, and nothing of them public.
#[tokio::test]
async fn held_candidates_are_judged_again_when_their_hold_ends() {
    let p = Pipeline::start("2025-03-26T10:00:00+08:00").await;
    let db = p.db().await;
    let r = p.submit(&tender()).await;
    p.wait_receipt(&r, |s| s == "published").await;
    // Publicity from 04-08 09:00: after the deadline of 03-25, not begun yet.
    let receipt = p.submit(&candidates("2025-04-11 18:00")).await;
    let held = p.wait_receipt(&receipt, |s| s != "received").await;
    assert_eq!(statuses(&held), ["held"], "{held}");
    let id = held["records"][0]["notice_id"]
        .as_str()
        .expect("notice id")
        .to_owned();
    let r = p.submit(&amendment("2025-04-15 09:30")).await;
    p.wait_receipt(&r, |s| s == "published").await;

    p.set_now("2025-04-08T09:01:00+08:00");
    let refused = p.wait_receipt(&receipt, |s| s != "held").await;
    assert_eq!(statuses(&refused), ["rejected"], "{refused}");
    let record = &refused["records"][0];
    let w10 = record["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["rule"] == "W10")
        .unwrap_or_else(|| panic!("W10 says why: {refused}"));
    assert_eq!(w10["path"], "/PUBLICITY_START_TIME", "{w10}");
    assert!(
        w10["evidence"]["bid_deadline"]
            .as_str()
            .is_some_and(|d| d.starts_with("2025-04-15T09:30")),
        "judged against the deadline in force: {w10}"
    );
    let warned: Vec<&str> = record["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["rule"].as_str())
        .collect();
    assert!(warned.contains(&"S1"), "why it was held stays: {refused}");
    let s1 = record["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["rule"] == "S1")
        .and_then(|w| w["message"].as_str())
        .unwrap_or_default();
    assert!(
        s1.contains("届时自动发布") && s1.contains("该暂缓已于 2025-04-08 09:00 到期，未按此发布"),
        "its promise of publication is marked as not kept: {s1}"
    );
    assert!(
        warned.contains(&"HOLD-ENDED"),
        "it says it was judged again when its hold ended: {refused}"
    );

    let (status, outcome): (String, Value) =
        sqlx::query_as("SELECT status, outcome FROM notices WHERE notice_id = $1")
            .bind(&id)
            .fetch_one(&db)
            .await
            .expect("notice row");
    assert_eq!(status, "rejected", "{outcome}");
    assert_eq!(outcome["outcome"], "reject", "{outcome}");
    assert_eq!(p.get(&format!("/v1/notices/{id}")).await.0, 404);
    // Published, it would have reached the feed within this time.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM feed_entries WHERE notice_id = $1")
        .bind(&id)
        .fetch_one(&db)
        .await
        .expect("feed entries");
    assert_eq!(entries, 0, "nothing of the refused candidates in the feed");
}

/// Posts a tender of `sections` of the fixture's project with the amendment moving section 001's
/// deadline to 2025-04-01 09:30, and returns (tender id, amendment id) once both are published.
async fn tender_and_amendment(p: &Pipeline, tender: &str) -> (String, String) {
    let receipt = p
        .submit(&format!(
            "<BATCH>{tender}{}</BATCH>",
            amendment("2025-04-01 09:30")
        ))
        .await;
    let body = p.wait_receipt(&receipt, |s| s == "published").await;
    let id = |i: usize| {
        body["records"][i]["notice_id"]
            .as_str()
            .expect("notice id")
            .to_owned()
    };
    (id(0), id(1))
}

/// A tender of sections 001 and 002; an amendment moves 001's deadline, and 002 is terminated.
/// The tender stands where its most open section does, alike in the API, in search and on its
/// page: open while 001 takes bids, though 002's deadline closed and 002 was terminated; closed
/// at 001's new deadline. The old deadline still closes 002, announced in 002's procedure only,
/// and the amendment stays open until its own.
#[tokio::test]
async fn a_tender_of_two_sections_stands_where_its_most_open_section_does() {
    let p = Pipeline::start("2025-03-20T10:00:00+08:00").await;
    let two_sections = works_tender(
        PROJECT,
        &format!("{SECTION};{PROJECT}002"),
        TENDER_TITLE,
        "320300",
    );
    let (tender_id, amendment_id) = tender_and_amendment(&p, &two_sections).await;
    let db = p.db().await;
    let (s001, s002) = (
        format!("JSGGZY/{PROJECT}/{SECTION}"),
        format!("JSGGZY/{PROJECT}/{PROJECT}002"),
    );
    // The tender as the API and search have it: (status, [(section, status)]).
    let api = |id: String| {
        let p = &p;
        async move {
            let (_, v) = p.get(&format!("/v1/notices/{id}")).await;
            let sections: Vec<(String, String)> = v["sections"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        s["procedure"]["section"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        s["status"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            (
                v["status"].as_str().unwrap_or_default().to_owned(),
                sections,
            )
        }
    };
    let indexed = |sections: [(&str, &str); 2]| {
        let expected: serde_json::Map<String, Value> = sections
            .iter()
            .map(|(k, s)| ((*k).to_owned(), Value::from(*s)))
            .collect();
        move |f: &Value| f["hits"][0]["sections"] == Value::Object(expected.clone())
    };
    let tender_search = "/v1/search?kind=tender";
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());

    p.set_now("2025-03-25T09:31:00+08:00");
    fired(&db, &format!("window:{tender_id}:bid")).await;
    assert_eq!(
        closings_at_least(&db, 1).await,
        [(tender_id.clone(), s002.clone())]
    );
    let found = p
        .search_until(tender_search, indexed([(&s001, "open"), (&s002, "closed")]))
        .await;
    assert_eq!(found["hits"][0]["status"], "open", "{found}");
    assert_eq!(
        api(tender_id.clone()).await,
        (
            "open".to_owned(),
            vec![
                pair(SECTION, "open"),
                pair(&format!("{PROJECT}002"), "closed")
            ]
        )
    );
    let (_, open) = p.get("/v1/search?kind=amendment&status=open").await;
    assert_eq!(open["hits"][0]["id"], amendment_id.as_str(), "{open}");

    // 002 is terminated: the tender is still open for 001's bids.
    p.set_now("2025-03-25T15:30:00+08:00");
    let receipt = p.submit(&termination(&format!("{PROJECT}002"))).await;
    p.wait_receipt(&receipt, |s| s == "published").await;
    let found = p
        .search_until(
            tender_search,
            indexed([(&s001, "open"), (&s002, "terminated")]),
        )
        .await;
    assert_eq!(found["hits"][0]["status"], "open", "{found}");
    let (_, open) = p.get("/v1/search?kind=tender&status=open").await;
    assert_eq!(
        open["total"], 1,
        "status=open still finds the tender: {open}"
    );
    assert_eq!(
        api(tender_id.clone()).await,
        (
            "open".to_owned(),
            vec![
                pair(SECTION, "open"),
                pair(&format!("{PROJECT}002"), "terminated")
            ]
        )
    );
    let (status, page) = p.get_text(&format!("/notices/{tender_id}")).await;
    assert_eq!(status, 200);
    for shown in [
        "各标段状态",
        "招标中",
        "已终止",
        "标段 E3203010319005778001 已变更",
    ] {
        assert!(page.contains(shown), "the page shows {shown}: {page}");
    }
    let b = Browser::start(1000, 900).await;
    b.client
        .goto(&format!("{}/notices/{tender_id}", p.url))
        .await
        .expect("open the tender's page");
    b.screenshot("notice-two-sections").await;
    b.close().await;
    // The feeds said 002's deadline closed in 002 only, the tender still open.
    let (_, feed) = p.get("/feeds/notices.json").await;
    let closing = feed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["_gongshi"]["type"] == "window.closed")
        .unwrap_or_else(|| panic!("the closing is in the feed: {feed}"));
    assert_eq!(
        closing["title"],
        format!("投标截止（标段 {PROJECT}002）：{TENDER_TITLE}"),
        "{closing}"
    );
    assert_eq!(closing["_gongshi"]["status"], "open", "{closing}");

    // A postponement for 002 arrives after 002 was terminated: it stands terminated, and its
    // deadline is none to watch; the tender's next deadline is 001's.
    let receipt = p
        .submit(&amendment_of(&format!("{PROJECT}002"), "2025-04-08 09:30"))
        .await;
    let body = p.wait_receipt(&receipt, |s| s == "published").await;
    let late = body["records"][0]["notice_id"]
        .as_str()
        .expect("notice id")
        .to_owned();
    assert_eq!(api(late.clone()).await.0, "terminated");
    // The tender's versions hold each section's amendments, in publication order, those of one
    // section marked with it.
    let (_, view) = p.get(&format!("/v1/notices/{tender_id}")).await;
    let versions: Vec<(&str, Option<&str>, u64)> = view["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["id"].as_str().unwrap_or_default(),
                v["section"].as_str(),
                v["version"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let s002_code = format!("{PROJECT}002");
    assert_eq!(
        versions,
        [
            (tender_id.as_str(), None, 1),
            (amendment_id.as_str(), Some(SECTION), 2),
            (late.as_str(), Some(s002_code.as_str()), 2)
        ],
        "{view:#}"
    );
    let (_, page) = p.get_text(&format!("/notices/{tender_id}")).await;
    let listed = format!("标段 {s002_code}</span> <a href=\"/notices/{late}\">第 2 版</a>");
    assert!(page.contains(&listed), "the page lists {listed}: {page}");
    p.search_until("/v1/search?kind=amendment&status=terminated", |f| {
        f["hits"][0]["id"] == late.as_str()
    })
    .await;
    let found = p
        .search_until(
            tender_search,
            indexed([(&s001, "open"), (&s002, "terminated")]),
        )
        .await;
    assert_eq!(
        found["hits"][0]["next_deadline"]["end"], "2025-04-01T09:30:00+08:00",
        "{found}"
    );

    // 001's deadline in force closes it: the tender with it.
    p.set_now("2025-04-01T09:31:00+08:00");
    assert_eq!(
        closings_at_least(&db, 2).await[1],
        (amendment_id.clone(), s001.clone())
    );
    let found = p
        .search_until(
            tender_search,
            indexed([(&s001, "closed"), (&s002, "terminated")]),
        )
        .await;
    assert_eq!(found["hits"][0]["status"], "closed", "{found}");
    assert_eq!(api(tender_id).await.0, "closed");
    assert_eq!(api(amendment_id).await.0, "closed");

    // The terminated section's late deadline passes without a word: nothing closes there.
    p.set_now("2025-04-08T09:31:00+08:00");
    fired(&db, &format!("window:{late}:bid")).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(closings(&db).await.len(), 2, "{:?}", closings(&db).await);
    assert_eq!(api(late).await.0, "terminated");
}

/// A document near ingest's 2 MiB limit, one record of 1.5 MB of text: accepted, so published —
/// its `valid` and `public` events are over Kafka's default 1 MiB message size, which the bus's
/// topics and producer raise.
#[tokio::test]
async fn a_record_of_one_and_a_half_megabytes_is_published() {
    let p = Pipeline::start("2025-03-04T10:00:00+08:00").await;
    let sentence = "现对该项目的施工进行公开招标。";
    let doc = tender().replace(sentence, &sentence.repeat(1_500_000 / sentence.len()));
    assert!(doc.len() > 1_500_000 && doc.len() < 2 * 1024 * 1024);
    let receipt = p.submit(&doc).await;
    let body = p.wait_receipt(&receipt, |s| s != "received").await;
    assert_eq!(statuses(&body), ["published"], "{body}");
}

#[tokio::test]
async fn invalid_and_rejected_records_show_their_errors_in_the_receipt() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let bad_code = award("2025-04-10 09:00", "2025-04-10 08:50")
        .replace("913203826683892551", "913203826683892552");
    let receipt = p.submit(&bad_code).await;
    let body = p.wait_receipt(&receipt, |s| s == "invalid").await;
    let errors = body["records"][0]["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e["rule"] == "USCC-CHECK" && e["path"] == "/WIN_BIDDER_CODE"),
        "{body}"
    );

    // A candidate publicity of one day fails W9: rejected, with the rule, evidence and basis.
    p.submit(&tender()).await;
    let short = p.submit(&candidates("2025-04-09 18:00")).await;
    let body = p.wait_receipt(&short, |s| s == "rejected").await;
    let rejected = gongshi_tests::topic_validator("gongshi.notices.rejected.v1");
    let events = p.events("gongshi.notices.rejected.v1").await;
    assert!(
        events.iter().any(|e| e["type"] == "record.invalid"),
        "{events:?}"
    );
    for e in &events {
        assert!(rejected.is_valid(e), "{e}");
    }
    let w9 = body["records"][0]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .find(|e| e["rule"] == "W9")
        .cloned()
        .expect("W9");
    assert!(
        w9["message"]
            .as_str()
            .is_some_and(|m| m.contains("实施条例")),
        "{w9}"
    );
    assert_eq!(w9["evidence"]["counted"], 1);

    // Sent again, it is a duplicate that still says why it is refused.
    let again = p.submit(&candidates("2025-04-09 18:00")).await;
    let body = p.wait_receipt(&again, |s| s == "duplicate").await;
    assert_eq!(
        body["records"][0]["errors"][0]["rule"], "W9",
        "a duplicate of a refused notice: {body}"
    );
}

#[tokio::test]
async fn a_hold_survives_a_restart_of_the_enforce_service() {
    let mut p = Pipeline::new("2025-03-01T12:00:00+08:00").await;
    for service in ["gateway", "validate", "enforce", "publish"] {
        p.spawn(service);
    }
    p.wait_ready().await;
    // Sent for 2025-03-03 09:00: held until then.
    let receipt = p.submit(&tender()).await;
    p.wait_receipt(&receipt, |s| s == "held").await;
    p.kill("enforce");
    p.set_now("2025-03-03T09:00:01+08:00");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (_, body) = p.get(&format!("/v1/receipts/{receipt}")).await;
    assert_eq!(
        statuses(&body),
        ["held"],
        "nothing fires while enforce is down"
    );
    p.spawn("enforce");
    p.wait_receipt(&receipt, |s| s == "published").await;
}

/// The enforce service judges a batch in one transaction, reading what it needs up front and
/// writing its effects at the end (`services/enforce/src/unit.rs`). The store it leaves must be
/// the one that judging the same events one at a time leaves: the same statuses, verdicts,
/// procedure states, timers, receipt records, publication order and outbox order. The events
/// are real (ingest and validate made them) and the batch holds what makes batching hard: a
/// child before its parents (parked, then released in the same batch, which releases the next),
/// a duplicate of a notice judged earlier in the batch, and unrelated procedures in between.
#[tokio::test]
async fn a_batch_leaves_the_store_as_its_events_one_at_a_time_would() {
    use gongshi_enforce::Enforce;
    use gongshi_platform::{Bus, Clock, Envelope, Store};
    const NOW: &str = "2025-04-10T12:00:00+08:00";
    let mut source = Pipeline::new(NOW).await;
    source.spawn("gateway");
    source.spawn("validate");
    source.wait_ready().await;
    let documents = [
        award("2025-04-10 09:00", "2025-04-10 08:50"),
        gongshi_tests::generated_tender(1, "B"),
        candidates("2025-04-11 18:00"),
        gongshi_tests::generated_tender(2, "B"),
        tender(),
        tender(),
        sample("works-procedure.xml"),
        gongshi_tests::generated_tender(3, "B"),
    ];
    let mut receipts = Vec::new();
    for doc in &documents {
        receipts.push(source.submit(doc).await);
    }
    let topic = gongshi_platform::bus::topics::VALID;
    let mut events = Vec::new();
    for _ in 0..30 {
        events = source.events(topic).await;
        if events.len() >= 10 {
            break;
        }
    }
    assert_eq!(events.len(), 10, "valid events: {events:?}");
    // In the order the documents were sent, records in document order.
    let place = |e: &Value| {
        let receipt = e["payload"]["receipt"].as_str().expect("receipt");
        let at = receipts
            .iter()
            .position(|r| r == receipt)
            .expect("known receipt");
        (at, e["payload"]["index"].as_i64().expect("index"))
    };
    events.sort_by_key(place);
    let events: Vec<Envelope> = events
        .into_iter()
        .map(|e| serde_json::from_value(e).expect("envelope"))
        .collect();
    let source_db = source.db().await;

    let mut dumps = Vec::new();
    for one_at_a_time in [false, true] {
        let target = Pipeline::new(NOW).await;
        let db = target.db().await;
        gongshi_platform::store::MIGRATOR
            .run(&db)
            .await
            .expect("migrate");
        for table in ["receipts", "receipt_records"] {
            let rows: Value = sqlx::query_scalar(&format!(
                "SELECT COALESCE(jsonb_agg(to_jsonb(t)), '[]') FROM {table} t"
            ))
            .fetch_one(&source_db)
            .await
            .expect("read receipts");
            sqlx::query(&format!(
                "INSERT INTO {table} SELECT * FROM jsonb_populate_recordset(NULL::{table}, $1)"
            ))
            .bind(rows)
            .execute(&db)
            .await
            .expect("copy receipts");
        }
        let enforce = Enforce {
            store: Store::connect(&target.database_url).await.expect("store"),
            bus: Bus::connect(
                &std::env::var("GONGSHI_KAFKA_BROKERS").expect("brokers"),
                "unused.",
            )
            .expect("bus"),
            clock: Clock::Fixed(
                chrono::DateTime::parse_from_rfc3339(NOW)
                    .expect("now")
                    .with_timezone(&chrono::Utc),
            ),
            tick: std::time::Duration::from_millis(100),
        };
        if one_at_a_time {
            for event in &events {
                enforce.handle(event).await.expect("handle");
            }
        } else {
            enforce.handle_batch(&events).await.expect("handle batch");
        }
        dumps.push(dump(&db).await);
    }
    let (batch, single) = (&dumps[0], &dumps[1]);
    for ((table, a), (_, b)) in batch.iter().zip(single) {
        assert_eq!(
            a, b,
            "{table}: batch (left) and one at a time (right) differ"
        );
    }
    // The batch did what the test is for: the award, parked first, was released to held by the
    // candidates, themselves released by the tender; the second tender is a duplicate.
    let status_of = |table: usize, status: &str| {
        single[table]
            .1
            .as_array()
            .into_iter()
            .flatten()
            .filter(|row| row["status"] == status)
            .count()
    };
    // Both awards (this test's and the sample's) held for their candidates' publicity.
    assert_eq!(status_of(0, "held"), 2, "{}", single[0].1);
    assert_eq!(status_of(0, "duplicate"), 1, "{}", single[0].1);
    assert_eq!(status_of(1, "published"), 7, "{}", single[1].1);
    assert_eq!(status_of(1, "held"), 2, "{}", single[1].1);
}

/// What enforcement leaves in a store, table by table, without the columns that say when.
async fn dump(db: &sqlx::PgPool) -> Vec<(&'static str, Value)> {
    let queries = [
        (
            "receipt_records",
            "SELECT jsonb_agg(to_jsonb(t) - 'updated_at' ORDER BY receipt_id, idx) FROM receipt_records t",
        ),
        (
            "notices",
            "SELECT jsonb_agg(to_jsonb(t) - 'first_seen' - 'updated_at' - 'published_at' ORDER BY notice_id) FROM notices t",
        ),
        (
            "publication order",
            "SELECT jsonb_agg(notice_id ORDER BY published_seq) FROM notices WHERE published_seq IS NOT NULL",
        ),
        (
            "procedures",
            "SELECT jsonb_agg(to_jsonb(t) - 'updated_at' ORDER BY procedure_key) FROM procedures t",
        ),
        (
            "timers",
            "SELECT jsonb_agg(to_jsonb(t) ORDER BY timer_id) FROM timers t",
        ),
        (
            "outbox order",
            "SELECT jsonb_agg(event_id ORDER BY ord) FROM outbox",
        ),
        (
            "outbox",
            "SELECT jsonb_agg(to_jsonb(t) - 'created_at' - 'ord' #- '{envelope,occurred_at}' ORDER BY event_id) FROM outbox t",
        ),
    ];
    let mut out = Vec::new();
    for (table, query) in queries {
        let rows: Option<Value> = sqlx::query_scalar(query)
            .fetch_one(db)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        out.push((table, rows.unwrap_or(Value::Null)));
    }
    out
}

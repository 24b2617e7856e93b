//! The land, mining-right and state-owned property blocks on the real broker and PostgreSQL: a
//! land grant by listing (挂牌出让) and a state-owned equity transfer (股权转让) from
//! `examples/notices/` flow from ingest to published with their listing windows, the land listing
//! closes on the pipeline's clock while the equity listing (是否自动延期) extends itself until its
//! result comes, the results follow, and every surface files them under their
//! own category (search, feeds, the operators' report) while the OCDS export leaves them out.

use gongshi_tests::{OPERATOR_TOKEN, Pipeline, sample};
use serde_json::Value;
use std::time::{Duration, Instant};

const LAND: &str = "/v1/procedures/JSGGZY/320115202500031/NO.2025G31";
const EQUITY: &str = "/v1/procedures/JSCQ/JSCQ-GQ-2025-0042/320100202500042";

/// The notice ids of a receipt's records, in document order.
fn ids(receipt: &Value) -> Vec<String> {
    receipt["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["notice_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn status_of(p: &Pipeline, id: &str) -> (String, Value) {
    let (code, notice) = p.get(&format!("/v1/notices/{id}")).await;
    assert_eq!(code, 200, "{notice}");
    (
        notice["status"].as_str().unwrap_or_default().to_owned(),
        notice,
    )
}

/// Waits until the notice's status is `want` (the index and views follow the clock's ticks).
async fn wait_status(p: &Pipeline, id: &str, want: &str) -> Value {
    let start = Instant::now();
    loop {
        let (status, notice) = status_of(p, id).await;
        if status == want {
            return notice;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{id} stays {status}, not {want}: {notice}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The `window.closed` entries of the feed store, as (notice id, window).
async fn closed_windows(p: &Pipeline) -> Vec<(String, String)> {
    let db = p.db().await;
    sqlx::query_as(
        "SELECT entry->'payload'->>'notice_id', entry->'payload'->>'window' FROM feed_entries \
         WHERE event_type = 'window.closed' ORDER BY 1, 2",
    )
    .fetch_all(&db)
    .await
    .expect("window entries")
}

/// The sample batch as two documents: the listing alone, and the `TRADE_RESULT_INFO` record.
fn split_result(batch: &str) -> (String, String) {
    let start = batch
        .find("<TRADE_RESULT_INFO>")
        .expect("a result in the sample");
    let end = batch.find("</TRADE_RESULT_INFO>").expect("its end") + "</TRADE_RESULT_INFO>".len();
    let listing = format!("{}{}", &batch[..start], &batch[end..]);
    (listing, batch[start..end].to_owned())
}

#[tokio::test]
async fn a_land_listing_and_an_equity_transfer_flow_to_published_with_their_windows() {
    // 2025-03-25: the land listing (03-24 09:00 – 04-07 15:00) and the equity disclosure
    // (03-03 – 20 working days, to 03-31 24:00) are both running.
    let p = Pipeline::start("2025-03-25T12:00:00+08:00").await;

    let land = p.submit(&sample("land-listing.xml")).await;
    // The exchange sends the equity result when the deal is done: the sample's two records, the
    // listing now and the result later (a result known in advance would end the listing).
    let equity_doc = sample("property-equity-transfer.xml");
    let (listing_doc, result_doc) = split_result(&equity_doc);
    let equity = p.submit(&listing_doc).await;
    // Each announcement publishes; each result is sent for a later date and is held until it.
    let land_receipt = p
        .wait_receipt(&land, |s| s == "published" || s == "held")
        .await;
    let equity_receipt = p.wait_receipt(&equity, |s| s == "published").await;
    let statuses = |r: &Value| -> Vec<String> {
        r["records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| x["status"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        statuses(&land_receipt),
        ["published", "held"],
        "{land_receipt}"
    );
    assert_eq!(statuses(&equity_receipt), ["published"], "{equity_receipt}");
    assert_eq!(
        land_receipt["records"][1]["hold_until"]
            .as_str()
            .map(|h| h.starts_with("2025-04-10T01:00:00")),
        Some(true),
        "{land_receipt}"
    );
    let (land_ann, land_deal) = (ids(&land_receipt)[0].clone(), ids(&land_receipt)[1].clone());
    let listing = ids(&equity_receipt)[0].clone();

    // Published with their windows and categories; open while the listing runs.
    let notice = wait_status(&p, &land_ann, "open").await;
    assert_eq!(notice["kind"], "tender", "{notice}");
    assert_eq!(
        notice["windows"]["listing"]["start"], "2025-03-24T09:00:00+08:00",
        "{notice}"
    );
    assert_eq!(
        notice["windows"]["listing"]["end"], "2025-04-07T15:00:00+08:00",
        "{notice}"
    );
    let notice = wait_status(&p, &listing, "open").await;
    assert_eq!(
        notice["windows"]["listing"]["end"], "2025-04-01T00:00:00+08:00",
        "20 working days from 2025-03-03: {notice}"
    );
    assert_eq!(notice["record"]["PROJECT_PRICE"], "128000000", "{notice}");

    // Search and feeds file them under their own categories.
    for (category, id) in [("land", &land_ann), ("property", &listing)] {
        let found = p
            .search_until(&format!("/v1/search?category={category}"), |f| {
                f["total"] != 0
            })
            .await;
        let hits: Vec<&str> = found["hits"]
            .as_array()
            .or_else(|| found["results"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|h| h["notice_id"].as_str().or_else(|| h["id"].as_str()))
            .collect();
        assert_eq!(hits, [id.as_str()], "{category}: {found}");
        let feed = reqwest::get(format!("{}/feeds/notices.json?category={category}", p.url))
            .await
            .expect("feed")
            .text()
            .await
            .expect("text");
        assert!(feed.contains(id.as_str()), "{category} feed: {feed}");
    }
    let (_, works) = p.get("/v1/search?category=works").await;
    assert_eq!(works["total"], 0, "{works}");
    let (code, bad) = p.get("/v1/search?category=forestry").await;
    assert_eq!(code, 400, "{bad}");

    // The equity disclosure ends with 03-31, no result has come, and it extends itself
    // (POST_PONE 是否自动延期 = 1): at 04-01 00:01 its listing runs 5 more working days (rule E1's
    // extend_days), past 清明 (04-04..06), to 04-08 24:00 — still open, not closed.
    p.set_now("2025-04-01T00:01:00+08:00");
    let start = Instant::now();
    loop {
        let (status, notice) = status_of(&p, &listing).await;
        if notice["windows"]["listing"]["end"] == "2025-04-09T00:00:00+08:00" {
            assert_eq!(status, "open", "{notice}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the listing did not extend itself: {notice}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // The land listing (no automatic extension) ends 04-07 15:00 and closes.
    p.set_now("2025-04-07T15:01:00+08:00");
    wait_status(&p, &land_ann, "closed").await;
    let start = Instant::now();
    loop {
        let closed = closed_windows(&p).await;
        if closed.contains(&(land_ann.clone(), "listing".into())) {
            assert!(
                !closed.contains(&(listing.clone(), "listing".into())),
                "an extended listing is not announced closed: {closed:?}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "listing windows not announced: {closed:?}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    // The deal publicity publishes itself on 04-10 09:00 and settles the procedure.
    p.set_now("2025-04-10T09:01:00+08:00");
    p.wait_receipt(&land, |s| s == "published").await;
    wait_status(&p, &land_ann, "awarded").await;
    let deal = wait_status(&p, &land_deal, "awarded").await;
    assert_eq!(deal["record"]["DEAL_PRICE"], "468000000", "{deal}");
    // The equity result on 04-14 09:00, with its 5-working-day announcement (E5).
    p.set_now("2025-04-14T09:01:00+08:00");
    let result_receipt = p.submit(&result_doc).await;
    let result_receipt = p.wait_receipt(&result_receipt, |s| s == "published").await;
    let result = wait_status(&p, &ids(&result_receipt)[0], "awarded").await;
    assert_eq!(
        result["windows"]["announcement"]["end"], "2025-04-22T00:00:00+08:00",
        "{result}"
    );
    wait_status(&p, &listing, "awarded").await;

    let (code, procedure) = p.get(LAND).await;
    assert_eq!(code, 200, "{procedure}");
    let kinds: Vec<&str> = procedure["notices"]
        .as_array()
        .expect("notices")
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["tender", "award"], "{procedure}");
    assert_eq!(p.get(EQUITY).await.0, 200);

    // Disposals are not procurement: the OCDS export has nothing to say about them.
    let (code, export) = p.get("/v1/export/ocds").await;
    assert_eq!(code, 404, "{export}");
    assert_eq!(export["error"]["code"], "no-releases", "{export}");

    // The operators' report counts them under their categories (published now, by the wall
    // clock the feed store records: a period of Beijing dates around today).
    let day = |offset: i64| {
        (chrono::Utc::now() + chrono::Duration::hours(8) + chrono::Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    };
    let body: Value = reqwest::Client::new()
        .get(format!(
            "{}/ops/api/report?from={}&to={}",
            p.url,
            day(-1),
            day(1)
        ))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("JSON");
    let count = |code: &str| {
        body["by_category"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["code"] == code))
            .map(|c| (c["count"].as_i64(), c["name"].as_str().map(str::to_owned)))
    };
    assert_eq!(
        count("land"),
        Some((Some(2), Some("土地使用权".into()))),
        "{body:#}"
    );
    assert_eq!(
        count("property"),
        Some((Some(2), Some("国有产权".into()))),
        "{body:#}"
    );
    assert_eq!(
        count("mining"),
        Some((Some(0), Some("矿业权".into()))),
        "{body:#}"
    );
}

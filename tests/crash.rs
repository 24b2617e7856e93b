//! Crash safety: SIGKILL the validate and then the enforce process in the middle of a
//! 5,000-notice import, restart them, and check that every accepted notice ends published,
//! held, parked, rejected or invalid — and that none is published twice.

use gongshi_tests::Pipeline;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const DOCUMENTS: usize = 50;
const PER_DOCUMENT: usize = 100;

/// One tender notice of its own procedure; every 50th carries a corrupted USCC (invalid).
fn record(n: usize) -> String {
    let code = if n % 50 == 7 {
        "91320300MA1MXK7Q08"
    } else {
        "91320300MA1MXK7Q09"
    };
    format!(
        "<TENDER_ANN_QUA_INQUERY_ANN><TENDER_PROJECT_CODE>E320301{n:010}</TENDER_PROJECT_CODE>\
         <BID_SECTION_CODES>E320301{n:010}001</BID_SECTION_CODES><NOTICE_NAME>第{n}号道路工程施工招标公告</NOTICE_NAME>\
         <NOTICE_CONTENT>现对该项目的施工进行公开招标。</NOTICE_CONTENT><NOTICE_SEND_TIME>2025-03-03 09:00</NOTICE_SEND_TIME>\
         <BULLETIN_TYPE>1</BULLETIN_TYPE><NOTICE_NATURE>1</NOTICE_NATURE><DOC_GET_START_TIME>2025-03-03 09:00</DOC_GET_START_TIME>\
         <DOC_GET_END_TIME>2025-03-10 17:00</DOC_GET_END_TIME><BID_DOC_REFER_END_TIME>2025-03-25 09:30</BID_DOC_REFER_END_TIME>\
         <TENDERER_NAME>徐州市城市建设投资有限公司</TENDERER_NAME><TENDERER_CODE>{code}</TENDERER_CODE><REGION_CODE>320300</REGION_CODE>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-03 08:55</DATA_TIMESTAMP></TENDER_ANN_QUA_INQUERY_ANN>"
    )
}

#[tokio::test]
async fn killing_validate_and_enforce_mid_import_loses_and_repeats_nothing() {
    let mut p = Pipeline::new("2025-04-10T12:00:00+08:00").await;
    for service in ["gateway", "validate", "enforce", "publish"] {
        p.spawn(service);
    }
    p.wait_ready().await;

    let mut receipts = Vec::new();
    for d in 0..DOCUMENTS {
        let body: String = (0..PER_DOCUMENT)
            .map(|i| record(d * PER_DOCUMENT + i))
            .collect();
        receipts.push(p.submit(&format!("<BATCH>{body}</BATCH>")).await);
        if d == DOCUMENTS / 3 {
            p.kill("validate");
            p.spawn("validate");
        }
        if d == 2 * DOCUMENTS / 3 {
            p.kill("enforce");
            p.spawn("enforce");
        }
    }

    let db = p.db().await;
    let start = Instant::now();
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM receipt_records WHERE status = 'received'")
                .fetch_one(&db)
                .await
                .expect("count");
        if pending == 0 {
            break;
        }
        assert!(
            // Generous: it asserts that everything settles, not how fast (the pipeline
            // benchmark measures speed); on two loaded cores a debug build takes minutes.
            start.elapsed() < Duration::from_secs(600),
            "{pending} records still received; logs in {}",
            p.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM receipt_records GROUP BY status")
            .fetch_all(&db)
            .await
            .expect("statuses");
    let by_status: HashMap<String, i64> = rows.into_iter().collect();
    let total: i64 = by_status.values().sum();
    assert_eq!(total, (DOCUMENTS * PER_DOCUMENT) as i64, "{by_status:?}");
    let invalid = (0..DOCUMENTS * PER_DOCUMENT)
        .filter(|n| n % 50 == 7)
        .count() as i64;
    assert_eq!(
        by_status.get("invalid").copied().unwrap_or(0),
        invalid,
        "{by_status:?}"
    );
    assert_eq!(
        by_status.get("published").copied().unwrap_or(0),
        total - invalid,
        "{by_status:?}"
    );

    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT notice_id FROM feed_entries WHERE event_type = 'notice.published' \
         GROUP BY notice_id HAVING count(*) > 1) t",
    )
    .fetch_one(&db)
    .await
    .expect("dupes");
    assert_eq!(twice, 0, "notices published twice");
    let published: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM feed_entries WHERE event_type = 'notice.published'",
    )
    .fetch_one(&db)
    .await
    .expect("published");
    assert_eq!(published, total - invalid);
    assert_eq!(receipts.len(), DOCUMENTS);
}

/// Ingest answers 202 once a document and its `notice.received` event are committed together; the
/// broker's acknowledgement comes after. Here ingest runs against a broker address where nothing
/// listens, so the acknowledgement never comes, and it is killed after answering. The pipeline
/// started afterwards on the real broker still publishes the document: the event waited in the
/// outbox and enforce's relay sent it.
#[tokio::test]
async fn a_document_accepted_by_an_ingest_killed_before_the_broker_acknowledged_is_published() {
    let mut p = Pipeline::new("2025-04-10T12:00:00+08:00").await;
    let ingest_port = gongshi_tests::free_port();
    let nowhere = format!("127.0.0.1:{}", gongshi_tests::free_port());
    p.spawn_with(
        "ingest",
        &[
            ("GONGSHI_LISTEN", &format!("127.0.0.1:{ingest_port}")),
            ("GONGSHI_KAFKA_BROKERS", &nowhere),
        ],
    );

    // With no broker, ingest still starts and accepts.
    let client = reqwest::Client::new();
    let start = Instant::now();
    let receipt = loop {
        let sent = client
            .post(format!("http://127.0.0.1:{ingest_port}/v1/notices"))
            .bearer_auth(gongshi_tests::TOKEN)
            .header("content-type", "application/xml")
            .body(record(1))
            .send()
            .await;
        if let Ok(r) = sent {
            assert_eq!(r.status(), 202, "logs in {}", p.dir.display());
            let body: serde_json::Value = r.json().await.expect("json");
            break body["receipt"].as_str().expect("receipt").to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "ingest not listening; logs in {}",
            p.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let db = p.db().await;
    let queued: Vec<String> = sqlx::query_scalar("SELECT event_id FROM outbox")
        .fetch_all(&db)
        .await
        .expect("outbox");
    assert_eq!(queued, [format!("received:{receipt}")]);
    p.kill("ingest");

    p.spawn("run");
    p.wait_ready().await;
    let body = p.wait_receipt(&receipt, |s| s == "published").await;
    assert_eq!(body["records"].as_array().map(Vec::len), Some(1), "{body}");
    // The relay removes what it sent (its commit may follow the consumers by a moment).
    let start = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_id = $1")
            .bind(format!("received:{receipt}"))
            .fetch_one(&db)
            .await
            .expect("outbox");
        if left == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the sent event is still queued"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

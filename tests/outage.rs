//! A database outage is waited out, not mistaken for poison: with PostgreSQL stopped for 20 s in
//! the middle of an import, every document sent is published exactly once and nothing is
//! quarantined. Runs only where `scripts/stack` owns the PostgreSQL cluster (it stops and starts
//! it); it says so and passes without running elsewhere.

use gongshi_tests::{Pipeline, TOKEN, generated_tender};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn stack(action: &str) -> bool {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/stack");
    Command::new(script)
        .arg(action)
        .status()
        .is_ok_and(|s| s.success())
}

async fn database_answers(url: &str) -> bool {
    match sqlx::PgPool::connect(url).await {
        Ok(pool) => {
            let ok = sqlx::query("SELECT 1").execute(&pool).await.is_ok();
            pool.close().await;
            ok
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn postgres_stopped_for_20_s_mid_import_loses_and_quarantines_nothing() {
    let p = Pipeline::start("2025-03-05T10:00:00+08:00").await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/notices", p.url);
    let total = 30;
    let mut receipts = Vec::new();
    let mut stopped_at = None;
    let mut restarted = false;
    for n in 0..total {
        if n == 10 {
            // What is still on its way when the database goes: it must all arrive.
            let pool = p.db().await;
            let in_flight: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM receipt_records WHERE status <> 'published'",
            )
            .fetch_one(&pool)
            .await
            .expect("count");
            pool.close().await;
            eprintln!("{in_flight} of 10 records not yet published when PostgreSQL stops");
            assert!(stack("pg-stop"), "scripts/stack pg-stop failed");
            if database_answers(&p.database_url).await {
                eprintln!("outage test not run: scripts/stack does not own this PostgreSQL");
                return;
            }
            stopped_at = Some(Instant::now());
        }
        if let Some(at) = stopped_at
            && !restarted
            && at.elapsed() >= Duration::from_secs(20)
        {
            assert!(stack("pg-start"), "scripts/stack pg-start failed");
            restarted = true;
        }
        // The platform's side: send until the gateway acknowledges (503 while the store is down).
        let body = generated_tender(n, "OUT");
        let receipt = loop {
            let r = client
                .post(&url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/xml")
                .body(body.clone())
                .send()
                .await;
            if let Ok(r) = r
                && r.status() == 202
            {
                let v: serde_json::Value = r.json().await.expect("receipt JSON");
                break v["receipt"].as_str().expect("receipt").to_owned();
            }
            if let Some(at) = stopped_at
                && !restarted
                && at.elapsed() >= Duration::from_secs(20)
            {
                assert!(stack("pg-start"), "scripts/stack pg-start failed");
                restarted = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        receipts.push(receipt);
    }
    assert!(restarted, "the database was restarted");
    for receipt in &receipts {
        p.wait_receipt(receipt, |s| s == "published").await;
    }
    let pool = p.db().await;
    let quarantined: i64 = sqlx::query_scalar("SELECT count(*) FROM quarantine")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(quarantined, 0, "nothing is quarantined by an outage");
    let published: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT notice_id) FROM feed_entries WHERE event_type = 'notice.published'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    let entries: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM feed_entries WHERE event_type = 'notice.published'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(
        (published, entries),
        (total as i64, total as i64),
        "each published once"
    );
}

//! The operators' overview on the real pipeline: a consumer that retries an event is red on
//! `/ops/api/overview` and `/ops/` with the event and the error at once; a consumer hanging on
//! one event (no error at all) is red within a minute from its broker-side lag; `/metrics` passes
//! `promtool check metrics`; the Grafana dashboard and Prometheus files in `docker/` are valid and
//! chart only metrics gongshi exports; a failing webhook receiver is listed for operators by its
//! origin only.

use gongshi_tests::{OPERATOR_TOKEN, Pipeline, generated_tender, run_python};
use serde_json::Value;
use sqlx::Connection as _;
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

async fn overview(p: &Pipeline) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{}/ops/api/overview", p.url))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("overview");
    assert_eq!(r.status(), 200);
    r.json().await.expect("overview JSON")
}

async fn page(p: &Pipeline, path: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", p.url))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("page");
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.expect("html")
}

fn stage<'a>(overview: &'a Value, name: &str) -> &'a Value {
    overview["consumers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["stage"] == name))
        .unwrap_or_else(|| panic!("no consumer {name}: {overview:#}"))
}

fn at(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

#[tokio::test]
async fn a_consumer_retrying_an_event_is_red_at_once_with_the_event_and_the_error() {
    let p = Pipeline::start("2025-03-05T10:00:00+08:00").await;
    let warm = p.submit(&generated_tender(1, "OVR")).await;
    p.wait_receipt(&warm, |s| s == "published").await;
    let calm = overview(&p).await;
    assert_eq!(calm["counts"]["published"], 1, "{calm:#}");
    for c in calm["consumers"].as_array().expect("consumers") {
        assert!(c["retrying"].is_null(), "{calm:#}");
        assert_ne!(c["state"], "stuck", "{calm:#}");
    }
    assert_eq!(
        calm["health"],
        serde_json::json!({"bus": true, "store": true, "index": true})
    );
    let groups: Vec<&str> = calm["consumers"]
        .as_array()
        .expect("consumers")
        .iter()
        .filter_map(|c| c["group"].as_str())
        .collect();
    assert_eq!(
        groups,
        ["gongshi-validate", "gongshi-enforce", "gongshi-publish"]
    );

    // The feed store's table goes away: publish fails transiently on the next notice (the store
    // and the broker answer, so after a few attempts it would set the event aside).
    let pool = p.db().await;
    sqlx::query("ALTER TABLE feed_entries RENAME TO feed_entries_away")
        .execute(&pool)
        .await
        .expect("rename");
    let sent = Instant::now();
    let receipt = p.submit(&generated_tender(2, "OVR")).await;
    let (shown, retrying_view) = loop {
        let o = overview(&p).await;
        if !stage(&o, "publish")["retrying"].is_null() {
            break (Instant::now(), o);
        }
        assert!(
            sent.elapsed() < Duration::from_secs(30),
            "publish never shown retrying: {o:#}; logs in {}",
            p.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let publish = stage(&retrying_view, "publish");
    let retry = &publish["retrying"];
    // From the consumer's first failure (its own clock) to the overview showing it.
    let first_failure_to_shown = at(&retrying_view["now"]) - at(&retry["since"]);
    eprintln!(
        "time to red, retrying consumer: {} ms from the first failure ({} ms from sending the document)",
        first_failure_to_shown.num_milliseconds(),
        (shown - sent).as_millis()
    );
    assert!(first_failure_to_shown < chrono::Duration::seconds(60));
    assert_eq!(publish["state"], "stuck", "{publish:#}");
    assert!(
        retry["event"].as_str().is_some_and(|e| !e.is_empty()),
        "{retry}"
    );
    assert!(
        retry["error"]
            .as_str()
            .is_some_and(|e| e.contains("feed_entries")),
        "the error names what is wrong: {retry}"
    );
    assert!(
        retry["attempts"].as_i64().is_some_and(|n| n >= 1),
        "{retry}"
    );
    assert!(publish["lag"].as_i64().is_some_and(|n| n >= 1), "{publish}");

    // The page says it in red, with the event and the error.
    let html = page(&p, "/ops/").await;
    gongshi_tests::assert_html5("/ops/", &html);
    let event = retry["event"].as_str().unwrap_or_default();
    assert!(html.contains("row-bad") && html.contains("卡住"), "{html}");
    assert!(html.contains(event), "the page names the event {event}");
    assert!(html.contains("<svg"), "the chart is on the page");

    // The table comes back: the event is either handled or set aside, and the retry is gone.
    sqlx::query("ALTER TABLE feed_entries_away RENAME TO feed_entries")
        .execute(&pool)
        .await
        .expect("rename back");
    let start = Instant::now();
    loop {
        let o = overview(&p).await;
        let done = o["counts"]["published"] == 2 || o["counts"]["quarantined"] == 1;
        if done && stage(&o, "publish")["retrying"].is_null() {
            eprintln!(
                "after the table came back: {} published, {} quarantined",
                o["counts"]["published"], o["counts"]["quarantined"]
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{o:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, body) = p.get(&format!("/v1/receipts/{receipt}")).await;
    assert!(
        matches!(
            body["records"][0]["status"].as_str(),
            Some("published" | "quarantined")
        ),
        "{body}"
    );
}

#[tokio::test]
async fn a_consumer_hanging_on_one_event_is_red_within_a_minute() {
    use fantoccini::Locator::Css;
    let p = Pipeline::start("2025-03-05T10:00:00+08:00").await;
    // Some traffic for the chart and the counts: a dozen tenders, one refused by W2.
    let mut sent = Vec::new();
    for n in 0..12 {
        sent.push(p.submit(&generated_tender(n + 10, "HNG")).await);
    }
    let short = generated_tender(1, "HNG").replace("2025-03-10 17:00", "2025-03-04 17:00");
    p.wait_receipt(&p.submit(&short).await, |s| s == "rejected")
        .await;
    for r in &sent {
        p.wait_receipt(r, |s| s == "published").await;
    }
    // An operator keeps the overview open in a browser (signed in through the form).
    let b = gongshi_tests::browser::Browser::start(1280, 1300).await;
    b.sign_in_at(&format!("{}/ops/", p.url), OPERATOR_TOKEN)
        .await;
    b.client
        .wait()
        .for_element(Css("figure.chart svg"))
        .await
        .expect("the overview after sign-in");

    // Another session holds the notices table: enforce's next write waits for it, without any
    // error — nothing is retried, nothing set aside; only the broker sees the event wait.
    let mut holder = sqlx::PgConnection::connect(&p.database_url)
        .await
        .expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut holder)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE notices IN SHARE MODE")
        .execute(&mut holder)
        .await
        .expect("lock");
    let sent = Instant::now();
    let receipt = p.submit(&generated_tender(2, "HNG")).await;
    let (red_after, view) = loop {
        let o = overview(&p).await;
        if stage(&o, "enforce")["state"] == "stuck" {
            break (sent.elapsed(), o);
        }
        assert!(
            sent.elapsed() < Duration::from_secs(90),
            "enforce never red: {o:#}; logs in {}",
            p.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!(
        "time to red, consumer hanging on one event: {:.1} s from sending the document",
        red_after.as_secs_f64()
    );
    let enforce = stage(&view, "enforce");
    assert!(red_after < Duration::from_secs(60), "{enforce:#}");
    assert!(
        enforce["retrying"].is_null(),
        "a hang is no retry: {enforce}"
    );
    assert!(enforce["lag"].as_i64().is_some_and(|n| n >= 1), "{enforce}");
    assert!(
        enforce["oldest_unprocessed_age_s"]
            .as_i64()
            .is_some_and(|s| s >= 30),
        "{enforce}"
    );
    let html = page(&p, "/ops/").await;
    assert!(html.contains("row-bad"), "{html}");
    b.client
        .goto(&format!("{}/ops/", p.url))
        .await
        .expect("goto");
    b.client
        .wait()
        .for_element(Css("p.banner.bad"))
        .await
        .expect("the red banner in the browser");
    b.screenshot("ops-overview-stuck").await;
    // The gauges say it too.
    let (_, metrics) = p.get_text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("gongshi_consumer_stuck{")
                && l.contains("gongshi-enforce")
                && l.ends_with(" 1")),
        "{metrics}"
    );

    // Released, it catches up and turns back to normal.
    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("rollback");
    p.wait_receipt(&receipt, |s| s == "published").await;
    let start = Instant::now();
    loop {
        let o = overview(&p).await;
        if stage(&o, "enforce")["state"] == "ok" && stage(&o, "enforce")["lag"] == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{o:#}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    b.client
        .goto(&format!("{}/ops/", p.url))
        .await
        .expect("goto");
    b.client
        .wait()
        .for_element(Css("figure.chart svg"))
        .await
        .expect("the overview");
    assert!(
        b.client.find(Css("p.banner.bad")).await.is_err(),
        "no red banner once it caught up"
    );
    b.screenshot("ops-overview").await;
    b.close().await;
}

/// A bidder's receiver that answers with a redirect shows on the overview under 订阅推送 (JSON,
/// page and gauges): its subscription, its origin only (the path holds the bidder's own
/// credential, which is not shown, nor in the redirect's address in the error), since when it
/// fails, its waiting deliveries and its last error. The subscriber sees the whole address.
#[tokio::test]
async fn a_failing_webhook_receiver_is_listed_for_operators_by_its_origin_only() {
    use axum::http::StatusCode;
    use fantoccini::Locator::Css;
    let mut p = Pipeline::new("2025-03-05T10:00:00+08:00").await;
    p.set_env("GONGSHI_WEBHOOK_ALLOW_PRIVATE", "true");
    p.set_env("GONGSHI_FEED_POLL_MS", "100");
    p.spawn("run");
    p.wait_ready().await;
    let calm = overview(&p).await;
    assert_eq!(calm["webhooks"]["subscriptions"], 0, "{calm:#}");
    // Moved: it redirects (not followed), naming its new address with the credential again.
    let down = axum::Router::new().route(
        "/hook/{credential}",
        axum::routing::post(|| async {
            (
                StatusCode::FOUND,
                [("location", "/moved/BIDDER-CREDENTIAL?k=v")],
            )
        }),
    );
    let origin = gongshi_tests::serve_locally(down).await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1/subscriptions", p.url))
        .bearer_auth("bidder-one-token")
        .json(&serde_json::json!({"webhook_url": format!("{origin}/hook/BIDDER-CREDENTIAL?k=v")}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.expect("JSON")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let receipt = p.submit(&generated_tender(3, "WHK")).await;
    p.wait_receipt(&receipt, |s| s == "published").await;
    let start = Instant::now();
    let view = loop {
        let o = overview(&p).await;
        if o["webhooks"]["failing_total"] == 1 {
            break o;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{o:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let webhooks = &view["webhooks"];
    assert_eq!(webhooks["subscriptions"], 1, "{webhooks:#}");
    assert_eq!(webhooks["pending"], 1, "{webhooks:#}");
    let failing = &webhooks["failing"][0];
    assert_eq!(failing["subscription_id"], id.as_str(), "{webhooks:#}");
    assert_eq!(failing["receiver"], origin.as_str(), "{webhooks:#}");
    assert_eq!(failing["pending"], 1, "{webhooks:#}");
    assert!(failing["failing_since"].is_string(), "{webhooks:#}");
    assert!(
        failing["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("302") && e.contains(&format!("改为 {origin}（"))),
        "{webhooks:#}"
    );
    let own: Value = reqwest::Client::new()
        .get(format!("{}/v1/subscriptions/{id}", p.url))
        .bearer_auth("bidder-one-token")
        .send()
        .await
        .expect("subscription")
        .json()
        .await
        .expect("JSON");
    assert!(
        own["receiver"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("{origin}/moved/BIDDER-CREDENTIAL?k=v"))),
        "the subscriber is told where it moved: {own}"
    );
    let html = page(&p, "/ops/").await;
    assert!(html.contains("订阅推送") && html.contains(&id), "{html}");
    for shown in [view.to_string(), html] {
        assert!(!shown.contains("BIDDER-CREDENTIAL"), "{shown}");
    }
    let (_, metrics) = p.get_text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "gongshi_webhook_receivers_failing 1"),
        "{metrics}"
    );
    let b = gongshi_tests::browser::Browser::start(1280, 1500).await;
    b.sign_in_at(&format!("{}/ops/", p.url), OPERATOR_TOKEN)
        .await;
    let row = b
        .client
        .wait()
        .for_element(Css("tr.row-warn"))
        .await
        .expect("the failing receiver's row");
    let text = row.text().await.expect("row text");
    assert!(
        text.contains(&origin.replace("http://", "")) && text.contains("302"),
        "{text}"
    );
    b.screenshot("ops-overview-webhooks").await;
    b.close().await;
}

/// Runs `promtool` with `args`, feeding it `input`; returns its exit status and output.
fn promtool(args: &[&str], input: &[u8]) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/test installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn metrics_pass_promtool_and_every_gongshi_metric_is_described() {
    let p = Pipeline::start("2025-03-05T10:00:00+08:00").await;
    let receipt = p.submit(&generated_tender(1, "PRM")).await;
    p.wait_receipt(&receipt, |s| s == "published").await;
    let (_, metrics) = p.get_text("/metrics").await;
    let (ok, out) = promtool(&["check", "metrics"], metrics.as_bytes());
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics: {out}\n{metrics}"
    );
    let described: BTreeSet<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# HELP "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let families: BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("gongshi_"))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(|n| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s).filter(|b| described.contains(b)))
                .unwrap_or(n)
        })
        .collect();
    for family in &families {
        assert!(described.contains(family), "{family} has no # HELP");
    }
    // The overview's gauges are measured at scrape time.
    for name in [
        "gongshi_consumer_lag_events",
        "gongshi_consumer_stuck",
        "gongshi_records",
        "gongshi_dependency_up",
    ] {
        assert!(families.contains(name), "{name} missing: {metrics}");
    }
    eprintln!("{} gongshi metric families pass promtool", families.len());
}

#[test]
fn the_dashboard_and_the_prometheus_files_are_valid() {
    let docker = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docker");
    let report = run_python("config_check.py", &[docker.as_os_str()]);
    assert_eq!(report["problems"], serde_json::json!([]), "{report:#}");
    let services: Vec<&str> = report["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for s in ["gateway", "prometheus", "grafana"] {
        assert!(services.contains(&s), "{services:?}");
    }
    assert_eq!(
        report["scrape_targets"],
        serde_json::json!(["gateway:8080"])
    );
    let uids = &report["datasource_uids"];
    let known: BTreeSet<&str> = gongshi_platform::telemetry::names::ALL
        .iter()
        .map(|m| m.name)
        .collect();
    let mut charted = BTreeSet::new();
    for panel in report["panels"].as_array().expect("panels") {
        assert!(
            uids.as_array()
                .is_some_and(|u| u.contains(&panel["datasource"])),
            "{panel}"
        );
        for expr in panel["exprs"].as_array().expect("exprs") {
            let expr = expr.as_str().expect("expr");
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("gongshi_") {
                    assert!(
                        known.contains(word),
                        "{word} in {expr} is no gongshi metric"
                    );
                    charted.insert(word.to_owned());
                }
            }
        }
    }
    // The overview's panels: throughput, records by status, lag, age, stuck, health.
    for name in [
        "gongshi_records_received_total",
        "gongshi_records",
        "gongshi_consumer_lag_events",
        "gongshi_consumer_oldest_unprocessed_age_seconds",
        "gongshi_consumer_stuck",
        "gongshi_dependency_up",
    ] {
        assert!(charted.contains(name), "no panel charts {name}");
    }
    let config = docker.join("prometheus.yml");
    let (ok, out) = promtool(&["check", "config", config.to_str().expect("path")], b"");
    assert!(ok, "promtool check config: {out}");
}

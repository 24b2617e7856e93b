//! Public routes are rate-limited per client (api.md): beyond its burst a client gets 429
//! `rate-limited` with `Retry-After`, counted in `/metrics`, while other clients, the
//! operations routes and the credentialed routes (ingest, the console) go on; `X-Forwarded-For`
//! names the client only when a configured proxy sends it.

use gongshi_tests::{OPERATOR_TOKEN, Pipeline};
use serde_json::Value;

const BURST: usize = 10;

async fn get(p: &Pipeline, path: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", p.url));
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.expect("get")
}

#[tokio::test]
async fn a_client_over_its_limit_waits_and_nobody_else_does() {
    let mut p = Pipeline::new("2025-04-10T12:00:00+08:00").await;
    // One request a second, ten at once; loopback is the one trusted proxy.
    p.set_env("GONGSHI_RATE_LIMIT_PER_SECOND", "1");
    p.set_env("GONGSHI_RATE_LIMIT_BURST", &BURST.to_string());
    p.set_env("GONGSHI_TRUSTED_PROXIES", "127.0.0.1");
    p.spawn("run");
    p.wait_ready().await;

    // A client behind the proxy: its burst passes, the next request is refused.
    let client = Some("198.51.100.7");
    for i in 0..BURST {
        let r = get(&p, "/v1/search?q=道路", client).await;
        assert_eq!(r.status(), 200, "request {i} of the burst");
    }
    let refused = get(&p, "/feeds/notices.atom", client).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "rate-limited", "{body}");
    // Every public route shares the client's budget: the HTML pages too.
    assert_eq!(get(&p, "/search", client).await.status(), 429);

    // Another client behind the same proxy is not affected.
    assert_eq!(
        get(&p, "/v1/search?q=道路", Some("198.51.100.8"))
            .await
            .status(),
        200
    );
    // Operations and credentialed routes are not limited.
    assert_eq!(get(&p, "/healthz", client).await.status(), 200);
    let ops = reqwest::Client::new()
        .get(format!("{}/ops/api/records", p.url))
        .header("x-forwarded-for", "198.51.100.7")
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("ops");
    assert_eq!(ops.status(), 200);

    // After Retry-After, the client is served again.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    assert_eq!(get(&p, "/v1/search?q=道路", client).await.status(), 200);

    let metrics = get(&p, "/metrics", None)
        .await
        .text()
        .await
        .expect("metrics");
    let refusals: f64 = metrics
        .lines()
        .find(|l| l.starts_with("gongshi_http_rate_limited_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .expect("gongshi_http_rate_limited_total");
    assert!(refusals >= 2.0, "{refusals}");
}

#[tokio::test]
async fn a_header_from_an_untrusted_peer_does_not_choose_the_key() {
    let mut p = Pipeline::new("2025-04-10T12:00:00+08:00").await;
    p.set_env("GONGSHI_RATE_LIMIT_PER_SECOND", "1");
    p.set_env("GONGSHI_RATE_LIMIT_BURST", &BURST.to_string());
    p.spawn("run");
    p.wait_ready().await;
    // No trusted proxy: every request is the peer's (loopback), whatever header it sends.
    for i in 0..BURST {
        let fresh = format!("203.0.113.{i}");
        assert_eq!(get(&p, "/v1/search", Some(&fresh)).await.status(), 200);
    }
    assert_eq!(
        get(&p, "/v1/search", Some("203.0.113.200")).await.status(),
        429
    );
}

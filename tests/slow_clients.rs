//! Clients that open connections and then stall, at the real gateway (`gongshi run`): 200
//! connections that never finish their headers, one that sends half a header line, one that
//! sends nothing, and an upload that stops halfway. Each is cut off once the server's limits pass (set to 1 s here:
//! `GONGSHI_HTTP_HEADER_TIMEOUT_MS`, `GONGSHI_HTTP_BODY_TIMEOUT_MS`); the stopped upload is
//! answered 408 `request-timeout` and stores nothing; and meanwhile, and afterwards, notices are
//! accepted and published. Without the limits every one of those connections stays open for as
//! long as its client likes, each holding a task and a file descriptor of the gateway.

use gongshi_tests::{Pipeline, TOKEN, generated_tender};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NOW: &str = "2025-04-10T12:00:00+08:00";
/// The limits the gateway runs with here; the test waits a few times as long.
const LIMIT: Duration = Duration::from_secs(1);
const GRACE: Duration = Duration::from_secs(6);

/// Reads until the server closes the connection, or `GRACE` passes (then `None`).
async fn until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut answer = Vec::new();
    match tokio::time::timeout(GRACE, stream.read_to_end(&mut answer)).await {
        Ok(_) => Some(answer), // EOF, or reset: closed either way
        Err(_) => None,
    }
}

#[tokio::test]
async fn stalled_clients_are_cut_off_and_the_gateway_keeps_serving() {
    let mut p = Pipeline::new(NOW).await;
    let limit_ms = LIMIT.as_millis().to_string();
    p.set_env("GONGSHI_HTTP_HEADER_TIMEOUT_MS", &limit_ms);
    p.set_env("GONGSHI_HTTP_BODY_TIMEOUT_MS", &limit_ms);
    p.spawn("run");
    p.wait_ready().await;
    let addr = p.url.trim_start_matches("http://").to_owned();

    // 200 connections that start a request and never finish its headers, and one that sends
    // half a header line.
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(&addr).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("partial head");
        stalled.push(s);
    }
    // And one that opens and sends nothing at all.
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let mut half = TcpStream::connect(&addr).await.expect("connect");
    half.write_all(b"GET /feeds/notices.atom HTTP/1.1\r\nHost: x\r\nAccept: appl")
        .await
        .expect("half a header");

    // Meanwhile the gateway serves: a notice is accepted.
    let before = p.submit(&generated_tender(1, "1")).await;

    // An upload that announces its whole length, sends 100 bytes, and stops.
    let doc = generated_tender(2, "1");
    let mut upload = TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /v1/notices HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
        doc.len()
    );
    upload.write_all(head.as_bytes()).await.expect("head");
    upload
        .write_all(&doc.as_bytes()[..100])
        .await
        .expect("first 100 bytes");
    let stopped = Instant::now();

    // The stopped upload is answered 408, naming the limit, once it has sent nothing for the limit.
    let answer = until_closed(&mut upload)
        .await
        .expect("the stopped upload's connection is still open after 6 s");
    let waited = stopped.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "stopped upload answered: {text}"
    );
    let body: Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or_default()).expect("json");
    assert_eq!(body["error"]["code"], "request-timeout", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("GONGSHI_HTTP_BODY_TIMEOUT_MS") && message.contains("请求体"),
        "the message names the limit: {message}"
    );
    assert!(
        waited >= LIMIT - Duration::from_millis(100),
        "cut off after {waited:?}, before the limit"
    );

    // Every stalled connection has been closed by the server.
    let mut open = 0;
    for s in stalled.iter_mut().chain([&mut half, &mut silent]) {
        if until_closed(s).await.is_none() {
            open += 1;
        }
    }
    assert_eq!(open, 0, "connections still open 6 s after the header limit");

    // Nothing of the stopped upload was stored; the gateway still accepts and publishes.
    let after = p.submit(&generated_tender(3, "1")).await;
    for receipt in [&before, &after] {
        p.wait_receipt(receipt, |s| s == "published").await;
    }
    let db = p.db().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM receipts")
        .fetch_one(&db)
        .await
        .expect("count receipts");
    assert_eq!(stored, 2, "only the two whole notices are stored");
}

//! `GET /v1/stream` on the real pipeline: Server-Sent Events with the feeds' filters, heartbeat
//! comments, and resumption with `Last-Event-ID` that replays from the store without loss or
//! repetition.

use gongshi_tests::{Pipeline, works_tender};
use serde_json::Value;
use std::time::{Duration, Instant};

/// One SSE connection, read as the protocol says: events separated by blank lines, `:` comments.
struct Sse {
    response: reqwest::Response,
    buffer: String,
    /// Comment lines seen (heartbeats).
    comments: usize,
}

#[derive(Debug)]
struct SseEvent {
    id: Option<String>,
    data: Value,
}

impl Sse {
    async fn open(url: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = reqwest::Client::new()
            .get(url)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let response = req.send().await.expect("stream");
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .expect("content type")
                .starts_with("text/event-stream")
        );
        Sse {
            response,
            buffer: String::new(),
            comments: 0,
        }
    }

    /// The next event within `wait`, or `None`.
    async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut data) = (None, String::new());
                for line in block.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !data.is_empty() {
                    return Some(SseEvent {
                        id,
                        data: serde_json::from_str(&data).expect("event data is JSON"),
                    });
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return None,
            }
        }
    }
}

#[tokio::test]
async fn the_stream_filters_heartbeats_and_resumes_from_last_event_id() {
    let mut p = Pipeline::new("2025-04-10T12:00:00+08:00").await;
    p.set_env("GONGSHI_STREAM_HEARTBEAT_SECS", "1");
    p.spawn("run");
    p.wait_ready().await;
    let url = format!("{}/v1/stream?region=32", p.url);
    assert_eq!(p.get("/v1/stream?kind=nonsense").await.0, 400);

    // Live: only the Jiangsu notice matches; the Beijing one is filtered away.
    let mut live = Sse::open(&url, None).await;
    let r1 = p
        .submit(&works_tender(
            "E1101050319000001",
            "北京市朝阳区道路养护工程招标公告",
            "110105",
        ))
        .await;
    p.wait_receipt(&r1, |s| s == "published").await;
    let r2 = p
        .submit(&works_tender(
            "E3203010319000002",
            "徐州市三环东路工程招标公告",
            "320300",
        ))
        .await;
    p.wait_receipt(&r2, |s| s == "published").await;
    let first = live.next(Duration::from_secs(20)).await.expect("an event");
    assert_eq!(
        first.data["title"], "徐州市三环东路工程招标公告",
        "{first:?}"
    );
    assert_eq!(first.data["_gongshi"]["region"], "320300");
    let first_id = first.id.clone().expect("event id");
    assert_eq!(
        first_id,
        first.data["_gongshi"]["seq"]
            .as_i64()
            .expect("seq")
            .to_string()
    );
    // Heartbeats keep the connection alive while nothing matches.
    assert!(live.next(Duration::from_millis(2500)).await.is_none());
    assert!(live.comments >= 1, "no heartbeat comment");

    // A client that was away resumes: everything after its last id, from the store, then live.
    let mut from_start = Sse::open(&url, Some("0")).await;
    let replayed = from_start
        .next(Duration::from_secs(10))
        .await
        .expect("replay");
    assert_eq!(replayed.id.as_deref(), Some(first_id.as_str()));
    let mut resumed = Sse::open(&url, Some(&first_id)).await;
    let r3 = p
        .submit(&works_tender(
            "E3203010319000003",
            "徐州市新城区管网工程招標公告",
            "320311",
        ))
        .await;
    p.wait_receipt(&r3, |s| s == "published").await;
    for (name, client) in [
        ("resumed", &mut resumed),
        ("from_start", &mut from_start),
        ("live", &mut live),
    ] {
        let e = client
            .next(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("{name}: no event"));
        assert_eq!(
            e.data["title"], "徐州市新城区管网工程招標公告",
            "{name}: {e:?}"
        );
        assert!(
            e.id.as_deref().and_then(|i| i.parse::<i64>().ok()) > first_id.parse::<i64>().ok(),
            "{name}: ids grow"
        );
        // Nothing is repeated after it.
        assert!(
            client.next(Duration::from_millis(600)).await.is_none(),
            "{name}: repeated"
        );
    }
    // A query parameter works for clients that cannot set the header; a bad id is refused.
    let mut by_param = Sse::open(&format!("{url}&last_event_id={first_id}"), None).await;
    let e = by_param
        .next(Duration::from_secs(10))
        .await
        .expect("replay by param");
    assert_eq!(e.data["title"], "徐州市新城区管网工程招標公告");
    // Neither is one it never sent: an id past the newest would wait in silence for the feed
    // to reach it.
    for bad in ["abc", "99999999"] {
        let r = reqwest::Client::new()
            .get(&url)
            .header("last-event-id", bad)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 400, "{bad}");
        let body: serde_json::Value = r.json().await.expect("JSON");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("Last-Event-ID: '{bad}'"))),
            "{body}"
        );
    }
}

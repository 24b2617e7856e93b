//! Webhook subscriptions on the real pipeline, delivering to a real HTTP receiver in the test:
//! the subscriber-token contract, deliveries that survive a SIGKILL of the gateway mid-delivery
//! and all arrive with a valid signature (checked with the README's Python snippet), retries
//! after errors, a dead webhook given up after the horizon, shown as failed and redelivered on
//! request once mended, a receiver that
//! is down asked once per back-off (circuit breaker), and a receiver
//! that hangs holding up no other subscriber.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use gongshi_tests::{Pipeline, run_python, works_tender};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIDDER: &str = "bidder-one-token";
const OTHER_BIDDER: &str = "bidder-two-token";
const SECRET: &str = "correct-horse-battery-staple";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    delivery: String,
    idempotency_key: String,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    seen: Arc<Mutex<HashSet<String>>>,
    /// Whether it refuses first attempts and takes its time ([`hook`]); otherwise it takes
    /// every request at once.
    flaky: bool,
}

/// Keeps every request. A `flaky` receiver answers 503 to the first attempt of every other
/// delivery (so retries happen) and takes a while over each request (so deliveries are in flight
/// when the gateway is killed); any other answers 204 at once.
async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        signature: h("gongshi-signature"),
        delivery: h("gongshi-delivery"),
        idempotency_key: h("idempotency-key"),
        body: String::from_utf8(body.to_vec()).expect("UTF-8 body"),
    };
    if !r.flaky {
        r.got.lock().expect("lock").push(received);
        return StatusCode::NO_CONTENT;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let first_time = r
        .seen
        .lock()
        .expect("lock")
        .insert(received.delivery.clone());
    let flaky = received.delivery.bytes().last().is_some_and(|b| b % 2 == 0);
    r.got.lock().expect("lock").push(received);
    if first_time && flaky {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn start_receiver(flaky: bool) -> (String, Receiver) {
    let receiver = Receiver {
        flaky,
        ..Receiver::default()
    };
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(receiver.clone());
    (
        format!("{}/hook", gongshi_tests::serve_locally(app).await),
        receiver,
    )
}

/// Subscribes `token` to every entry with `url` and the test secret; returns the subscription id.
async fn subscribe(p: &Pipeline, token: &str, url: &str) -> String {
    let (status, created) = call(
        p,
        reqwest::Method::POST,
        "/v1/subscriptions",
        Some(token),
        Some(json!({"webhook_url": url, "secret": SECRET})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("id").to_owned()
}

/// Lets the webhook worker reach the test's receivers, which listen on loopback.
const LOOPBACK: (&str, &str) = ("GONGSHI_WEBHOOK_ALLOW_PRIVATE", "true");

/// A pipeline at 2025-04-10 12:00 running every service with `settings` (environment
/// variables), its webhook worker polling every 100 ms.
async fn running(settings: &[(&str, &str)]) -> Pipeline {
    let mut p = Pipeline::new("2025-04-10T12:00:00+08:00").await;
    p.set_env("GONGSHI_FEED_POLL_MS", "100");
    for (name, value) in settings {
        p.set_env(name, value);
    }
    p.spawn("run");
    p.wait_ready().await;
    p
}

async fn call(
    p: &Pipeline,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", p.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn webhooks_survive_a_sigkill_of_the_gateway_and_arrive_signed() {
    let mut p = running(&[
        ("GONGSHI_WEBHOOK_RETRY_BASE_MS", "200"),
        // One request at a time (150 ms each at the receiver): the ten notices publish within
        // one batch, and eight requests at once had delivered all of them before the kill.
        ("GONGSHI_WEBHOOK_CONCURRENCY", "1"),
        LOOPBACK,
    ])
    .await;
    let (hook_url, receiver) = start_receiver(true).await;
    let post = reqwest::Method::POST;

    // The subscriber-token contract and input checks.
    let sub = json!({"webhook_url": hook_url, "secret": SECRET, "region": "32", "kind": "tender"});
    assert_eq!(
        call(
            &p,
            post.clone(),
            "/v1/subscriptions",
            None,
            Some(sub.clone())
        )
        .await
        .0,
        401
    );
    assert_eq!(
        call(
            &p,
            post.clone(),
            "/v1/subscriptions",
            Some("nope"),
            Some(sub.clone())
        )
        .await
        .0,
        403
    );
    for bad in [
        json!({"webhook_url": "ftp://example.com/x"}),
        json!({"webhook_url": "not a url"}),
        json!({"webhook_url": hook_url, "region": "3"}),
        json!({"webhook_url": hook_url, "secret": "short"}),
        json!({"region": "32"}),
        // A misspelt filter would save a search for everything.
        json!({"webhook_url": hook_url, "regoin": "32"}),
    ] {
        let (status, body) = call(
            &p,
            post.clone(),
            "/v1/subscriptions",
            Some(BIDDER),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad-request")),
            "{bad}: {body}"
        );
    }
    let (status, created) = call(
        &p,
        post.clone(),
        "/v1/subscriptions",
        Some(BIDDER),
        Some(sub),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(
        created.get("secret").is_none(),
        "a given secret is not echoed"
    );
    let (status, other) = call(
        &p,
        post.clone(),
        "/v1/subscriptions",
        Some(OTHER_BIDDER),
        Some(json!({"webhook_url": hook_url, "kind": "award"})),
    )
    .await;
    assert_eq!(status, 201, "{other}");
    assert_eq!(
        other["secret"].as_str().map(str::len),
        Some(64),
        "a generated secret is shown once"
    );
    let (_, mine) = call(
        &p,
        reqwest::Method::GET,
        "/v1/subscriptions",
        Some(BIDDER),
        None,
    )
    .await;
    assert_eq!(
        mine["subscriptions"].as_array().map(Vec::len),
        Some(1),
        "{mine}"
    );
    assert_eq!(
        call(
            &p,
            reqwest::Method::GET,
            &format!("/v1/subscriptions/{id}"),
            Some(OTHER_BIDDER),
            None
        )
        .await
        .0,
        404,
        "a token sees only its own subscriptions"
    );

    // Ten matching notices (and two that do not match) while the gateway is killed mid-delivery.
    for k in 0..12 {
        let (project, region) = if k < 10 {
            (format!("E32030103191{k:05}"), "320300")
        } else {
            (format!("E11010503191{k:05}"), "110105")
        };
        p.submit(&works_tender(
            &project,
            &format!("订阅测试工程{k}施工招标公告"),
            region,
        ))
        .await;
    }
    let start = Instant::now();
    while receiver.got.lock().expect("lock").len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no delivery arrived; logs in {}",
            p.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.kill("run");
    let at_kill: BTreeSet<String> = receiver
        .got
        .lock()
        .expect("lock")
        .iter()
        .map(|r| r.delivery.clone())
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.spawn("run");
    p.wait_ready().await;

    // Every matching entry arrives, each with a valid signature; repeats carry the same key.
    let start = Instant::now();
    loop {
        let distinct: BTreeSet<String> = receiver
            .got
            .lock()
            .expect("lock")
            .iter()
            .map(|r| r.delivery.clone())
            .collect();
        if distinct.len() >= 10 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "only {} of 10 deliveries arrived; logs in {}",
            distinct.len(),
            p.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = receiver.got.lock().expect("lock").clone();
    eprintln!(
        "webhooks: {} requests for 10 deliveries; {} distinct had arrived when the gateway was killed",
        got.len(),
        at_kill.len()
    );
    assert!(
        at_kill.len() < 10,
        "the kill came before the deliveries were done"
    );
    let mut items: BTreeMap<String, Value> = BTreeMap::new();
    for r in &got {
        assert_eq!(r.delivery, r.idempotency_key);
        let body: Value = serde_json::from_str(&r.body).expect("JSON body");
        assert_eq!(body["delivery_id"], r.delivery.as_str());
        assert_eq!(body["subscription_id"], id.as_str());
        let item = &body["item"];
        assert_eq!(
            item["_gongshi"]["region"], "320300",
            "only matching entries: {body}"
        );
        if let Some(previous) = items.insert(r.delivery.clone(), item.clone()) {
            assert_eq!(&previous, item, "a repeated delivery carries the same body");
        }
    }
    let titles: BTreeSet<String> = items
        .values()
        .map(|i| i["title"].as_str().expect("title").to_owned())
        .collect();
    let want: BTreeSet<String> = (0..10)
        .map(|k| format!("订阅测试工程{k}施工招标公告"))
        .collect();
    assert_eq!(titles, want);
    let file = p.dir.join("received.json");
    let dump: Vec<Value> = got
        .iter()
        .map(|r| json!({"secret": SECRET, "signature": r.signature, "body": r.body}))
        .collect();
    std::fs::write(&file, serde_json::to_string(&dump).expect("json")).expect("write");
    let verified = run_python("verify_webhook.py", &[file.as_os_str()]);
    assert_eq!(verified["invalid"], json!([]), "{verified}");
    assert_eq!(verified["valid"], got.len());
    assert!(got.len() > 10, "the flaky receiver forced retries");

    // The subscription shows its deliveries.
    let view = wait_view(&p, BIDDER, &id, |v| {
        v["deliveries"]["delivered"] == 10 && v["deliveries"]["pending"] == 0
    })
    .await;
    assert_eq!(view["filters"], json!({"kind": "tender", "region": "32"}));
}

#[test]
fn the_readme_gives_subscribers_the_verification_code_the_test_runs() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(root.join("python/verify_webhook.py")).expect("script");
    let readme = std::fs::read_to_string(root.join("../README.md")).expect("README");
    let start = script.find("import hashlib").expect("snippet start");
    let end = script
        .find("# --- end of snippet ---")
        .expect("snippet end");
    let snippet = script[start..end].trim_end();
    assert!(
        readme.contains(snippet),
        "README.md must carry tests/python/verify_webhook.py's snippet verbatim"
    );
}

/// Polls `token`'s subscription `id` until its view satisfies `until` (at most 30 s); returns
/// the view.
async fn wait_view(p: &Pipeline, token: &str, id: &str, until: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (status, view) = call(
            p,
            reqwest::Method::GET,
            &format!("/v1/subscriptions/{id}"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{view}");
        if until(&view) {
            return view;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not reached: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_dead_webhook_is_given_up_after_the_horizon_and_shown_failed() {
    let p = running(&[
        ("GONGSHI_WEBHOOK_RETRY_BASE_MS", "200"),
        ("GONGSHI_WEBHOOK_GIVE_UP_AFTER", "2"),
        LOOPBACK,
    ])
    .await;
    // A port nobody listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let id = subscribe(&p, BIDDER, &format!("http://127.0.0.1:{dead}/hook")).await;
    for i in 1..=3 {
        p.submit(&works_tender(
            &format!("E320301031920000{i}"),
            &format!("放弃测试工程{i}施工招标公告"),
            "320300",
        ))
        .await;
    }
    let view = wait_view(&p, BIDDER, &id, |v| v["deliveries"]["failed"] == 3).await;
    assert_eq!(view["deliveries"]["pending"], 0, "{view}");
    assert_eq!(view["receiver"]["state"], "failing", "{view}");
    assert!(
        view["receiver"]["failing_since"].is_string(),
        "the subscriber sees since when: {view}"
    );
    let failures = view["last_failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 3, "{view}");
    assert!(failures.iter().all(|f| f["state"] == "failed"), "{view}");
    // The oldest delivery is the one retried while the receiver stays down; the others wait
    // behind it and are given up with it, each saying why.
    let tried = &failures[0];
    assert!(
        tried["attempts"].as_i64() >= Some(2),
        "retried before giving up: {view}"
    );
    assert!(
        tried["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{view}"
    );
    for waited in &failures[1..] {
        assert_eq!(waited["attempts"], 0, "{view}");
        assert!(
            waited["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("接收方自") && e.contains("持续失败")),
            "{view}"
        );
    }

    // The subscriber mends the receiver and asks for what was given up: all three arrive, each
    // under its own id, and the receiver reads answering again.
    let got = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/hook", post(accept))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", dead))
        .await
        .expect("the dead port, now answering");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let redeliver = format!("/v1/subscriptions/{id}/redeliver");
    let post_method = reqwest::Method::POST;
    assert_eq!(
        call(
            &p,
            post_method.clone(),
            &redeliver,
            Some(OTHER_BIDDER),
            None
        )
        .await
        .0,
        404,
        "another token's subscription"
    );
    let (status, again) = call(&p, post_method, &redeliver, Some(BIDDER), None).await;
    assert_eq!((status, &again["requeued"]), (202, &json!(3)), "{again}");
    let view = wait_view(&p, BIDDER, &id, |v| v["deliveries"]["delivered"] == 3).await;
    assert_eq!(view["receiver"]["state"], "ok", "{view}");
    assert_eq!(view["deliveries"]["failed"], 0, "{view}");
    let ids: BTreeSet<String> = got.lock().expect("lock").iter().cloned().collect();
    assert_eq!(ids.len(), 3, "{ids:?}");

    let delete = reqwest::Method::DELETE;
    let path = format!("/v1/subscriptions/{id}");
    assert_eq!(
        call(&p, delete.clone(), &path, Some(OTHER_BIDDER), None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(&p, delete.clone(), &path, Some(BIDDER), None).await.0,
        204
    );
    assert_eq!(
        call(&p, reqwest::Method::GET, &path, Some(BIDDER), None)
            .await
            .0,
        404
    );
}

/// A receiver that answers 503 while `down`, counting those requests, and otherwise takes every
/// delivery, keeping the order they came in.
#[derive(Clone, Default)]
struct Flapping {
    down: Arc<std::sync::atomic::AtomicBool>,
    refused: Arc<std::sync::atomic::AtomicUsize>,
    taken: Arc<Mutex<Vec<String>>>,
    /// Requests to `/gone`, which answers 410 Gone.
    gone: Arc<std::sync::atomic::AtomicUsize>,
}

async fn gone(State(r): State<Flapping>) -> StatusCode {
    r.gone.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    StatusCode::GONE
}

async fn flapping(State(r): State<Flapping>, headers: HeaderMap) -> StatusCode {
    use std::sync::atomic::Ordering;
    if r.down.load(Ordering::SeqCst) {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let delivery = headers
        .get("gongshi-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    r.taken.lock().expect("lock").push(delivery);
    StatusCode::NO_CONTENT
}

/// A receiver that is down (503) with twelve deliveries queued is asked once per back-off, not
/// once per delivery (a circuit breaker: the back-off doubles from 600 ms, so at most five
/// requests fit in three seconds, where retrying each delivery on its own sends at least twelve);
/// the subscription shows it failing, and when it is back every delivery arrives, in feed order.
/// A receiver answering 410 Gone is paused the same way and told to mend its subscription.
#[tokio::test]
async fn a_receiver_that_is_down_is_asked_once_per_back_off_and_gets_all_in_order_when_back() {
    use std::sync::atomic::Ordering;
    let p = running(&[("GONGSHI_WEBHOOK_RETRY_BASE_MS", "600"), LOOPBACK]).await;
    let receiver = Flapping::default();
    receiver.down.store(true, Ordering::SeqCst);
    let app = Router::new()
        .route("/hook", post(flapping))
        .route("/gone", post(gone))
        .with_state(receiver.clone());
    let base = gongshi_tests::serve_locally(app).await;
    let mut paths = Vec::new();
    for (token, url) in [(BIDDER, "hook"), (OTHER_BIDDER, "gone")] {
        let id = subscribe(&p, token, &format!("{base}/{url}")).await;
        paths.push(format!("/v1/subscriptions/{id}"));
    }
    let (path, gone_path) = (&paths[0], &paths[1]);
    let notices = 12;
    for i in 0..notices {
        p.submit(&works_tender(
            &format!("E32030103194000{i:02}"),
            &format!("断路测试工程{i}施工招标公告"),
            "320300",
        ))
        .await;
    }
    // Every delivery queued, and the receiver asked at least once.
    let start = Instant::now();
    let view = loop {
        let (_, view) = call(&p, reqwest::Method::GET, path, Some(BIDDER), None).await;
        if view["deliveries"]["pending"] == notices
            && receiver.refused.load(Ordering::SeqCst) > 0
            && view["receiver"]["state"] == "failing"
        {
            break view;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let first_refusal = Instant::now();
    assert_eq!(view["receiver"]["state"], "failing", "{view}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refused = receiver.refused.load(Ordering::SeqCst);
    let (_, view) = call(&p, reqwest::Method::GET, path, Some(BIDDER), None).await;
    assert!(
        refused <= 5,
        "a receiver down for {:?} with {notices} deliveries queued was asked {refused} times",
        first_refusal.elapsed()
    );
    // 410 Gone is about the endpoint, not one delivery: the same back-off, and the subscriber is
    // told to mend or delete the subscription.
    let asked_gone = receiver.gone.load(Ordering::SeqCst);
    assert!(
        (1..=6).contains(&asked_gone),
        "a 410 receiver with {notices} deliveries queued was asked {asked_gone} times"
    );
    let (_, gone_view) = call(
        &p,
        reqwest::Method::GET,
        gone_path,
        Some(OTHER_BIDDER),
        None,
    )
    .await;
    assert_eq!(gone_view["receiver"]["state"], "failing", "{gone_view}");
    assert!(
        gone_view["receiver"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("410") && e.contains("请更新") && e.contains("PATCH")),
        "{gone_view}"
    );
    assert!(
        view["receiver"]["consecutive_failures"].as_i64() >= Some(2),
        "{view}"
    );
    assert!(view["receiver"]["paused_until"].is_string(), "{view}");
    assert!(
        view["receiver"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{view}"
    );
    assert_eq!(
        view["deliveries"]["pending"], notices,
        "nothing given up: {view}"
    );

    receiver.down.store(false, Ordering::SeqCst);
    let back = Instant::now();
    let mut first_taken = None;
    loop {
        if first_taken.is_none() && !receiver.taken.lock().expect("lock").is_empty() {
            first_taken = Some(Instant::now());
        }
        if receiver.taken.lock().expect("lock").len() >= 12 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "{} of {notices} delivered after the receiver came back",
            receiver.taken.lock().expect("lock").len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{notices} deliveries drained in {:?} from the first one's arrival",
        first_taken.map(|t| t.elapsed())
    );
    let seqs: Vec<i64> = receiver
        .taken
        .lock()
        .expect("lock")
        .iter()
        .map(|d| {
            d.rsplit_once('-')
                .and_then(|(_, seq)| seq.parse().ok())
                .expect("delivery id ends with the feed seq")
        })
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs, sorted, "delivered once each, in feed order");
    let (_, view) = call(&p, reqwest::Method::GET, path, Some(BIDDER), None).await;
    assert_eq!(view["receiver"]["state"], "ok", "{view}");
    assert_eq!(view["receiver"]["consecutive_failures"], 0, "{view}");
    assert_eq!(view["deliveries"]["delivered"], notices, "{view}");
}

/// The old address of a receiver that moved: while `down` is false it refuses each delivery on
/// its own (422, come back in an hour); once `down`, it fails as a whole (503). Counts requests.
async fn moved_away(State(r): State<Flapping>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    use std::sync::atomic::Ordering;
    r.refused.fetch_add(1, Ordering::SeqCst);
    if r.down.load(Ordering::SeqCst) {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, [("retry-after", "3600")]).into_response()
    }
}

/// A subscriber whose receiver moved mends the subscription in place. Its old address refused
/// two deliveries one by one (each to come back in an hour) and then failed as a whole (the
/// subscription paused with the third). `PATCH` rolls the secret twice (as a client retrying a
/// lost answer would) and moves the receiver: all three deliveries reach the new receiver at
/// once, in feed order, once each, and each is signed with the original key and both rolled ones
/// (the README's snippet accepts any). What cannot be patched is refused by name and changes
/// nothing, a patch that changes nothing changes nothing, and another token's subscription is
/// not found.
#[tokio::test]
async fn a_subscriber_moves_its_receiver_and_rolls_its_secret_in_place() {
    use std::sync::atomic::Ordering;
    let p = running(&[("GONGSHI_WEBHOOK_RETRY_BASE_MS", "200"), LOOPBACK]).await;
    let old = Flapping::default();
    let base = gongshi_tests::serve_locally(
        Router::new()
            .route("/old", post(moved_away))
            .with_state(old.clone()),
    )
    .await;
    let id = subscribe(&p, BIDDER, &format!("{base}/old")).await;
    let tender = |i: usize| {
        works_tender(
            &format!("E32030103195000{i:02}"),
            &format!("改址测试工程{i}施工招标公告"),
            "320300",
        )
    };
    for i in 0..2 {
        p.submit(&tender(i)).await;
    }
    wait_view(&p, BIDDER, &id, |v| {
        v["last_failures"]
            .as_array()
            .is_some_and(|f| f.len() == 2 && f.iter().all(|f| f["last_status"] == 422))
    })
    .await;
    old.down.store(true, Ordering::SeqCst);
    p.submit(&tender(2)).await;
    let view = wait_view(&p, BIDDER, &id, |v| {
        v["deliveries"]["pending"] == 3 && v["receiver"]["state"] == "failing"
    })
    .await;
    assert!(view["receiver"]["paused_until"].is_string(), "{view}");

    let path = format!("/v1/subscriptions/{id}");
    let patch = |token: &'static str, body: Value| {
        let (p, path) = (&p, path.clone());
        async move { call(p, reqwest::Method::PATCH, &path, Some(token), Some(body)).await }
    };
    let (new_url, receiver) = start_receiver(false).await;
    assert_eq!(
        patch(OTHER_BIDDER, json!({"webhook_url": new_url})).await.0,
        404
    );
    for (body, names) in [
        (json!({"region": "32", "webhook_url": new_url}), "region"),
        (json!({"webhook_url": null}), "webhook_url"),
        (json!({"secret": "short"}), "secret"),
        (json!({"webhook_url": "ftp://example.com/hook"}), "ftp"),
    ] {
        let (status, refused) = patch(BIDDER, body.clone()).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(names) && !m.contains("   ")),
            "{body} is refused by name: {refused}"
        );
    }
    // Nothing to change: nothing changes.
    for body in [
        json!({}),
        json!({"webhook_url": format!("{base}/old"), "secret": SECRET}),
    ] {
        let (status, same) = patch(BIDDER, body.clone()).await;
        assert_eq!(status, 200, "{body}: {same}");
        assert_eq!(same["updated_at"], Value::Null, "{body}: {same}");
        assert_eq!(same["secret"], Value::Null, "{body}: {same}");
    }
    let (_, unchanged) = call(&p, reqwest::Method::GET, &path, Some(BIDDER), None).await;
    assert_eq!(
        unchanged["webhook_url"],
        format!("{base}/old"),
        "{unchanged}"
    );
    assert_eq!(unchanged["receiver"]["state"], "failing", "{unchanged}");

    // Two rolls in a row, then the move.
    let mut keys = vec![SECRET.to_owned()];
    for _ in 0..2 {
        let (status, rolled) = patch(BIDDER, json!({"secret": null})).await;
        assert_eq!(status, 200, "{rolled}");
        assert!(rolled["previous_secret_until"].is_string(), "{rolled}");
        let key = rolled["secret"]
            .as_str()
            .expect("a generated secret, shown once");
        assert!(key.len() >= 32, "{rolled}");
        keys.push(key.to_owned());
    }
    let asked_old = old.refused.load(Ordering::SeqCst);
    let (status, moved) = patch(BIDDER, json!({"webhook_url": new_url})).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["webhook_url"], new_url.as_str(), "{moved}");
    assert_eq!(
        moved["receiver"]["state"], "ok",
        "a new receiver starts afresh: {moved}"
    );
    assert_eq!(moved["filters"], unchanged["filters"], "{moved}");
    assert!(moved["updated_at"].is_string(), "{moved}");
    assert_eq!(moved["secret"], Value::Null, "{moved}");

    // At once: the two refused deliveries do not wait out their hour.
    let view = wait_view(&p, BIDDER, &id, |v| v["deliveries"]["delivered"] == 3).await;
    assert_eq!(view["receiver"]["state"], "ok", "{view}");
    assert!(
        old.refused.load(Ordering::SeqCst) <= asked_old + 1,
        "the old address is left alone (one request may have been out)"
    );
    let got = receiver.got.lock().expect("lock").clone();
    let seqs: Vec<i64> = got
        .iter()
        .map(|r| {
            r.delivery
                .rsplit_once('-')
                .and_then(|(_, seq)| seq.parse().ok())
                .expect("delivery id ends with the feed seq")
        })
        .collect();
    assert_eq!(seqs.len(), 3, "once each: {seqs:?}");
    assert!(seqs.is_sorted(), "in feed order: {seqs:?}");
    // Every key verifies every delivery while the rolled ones overlap.
    let mut dump = Vec::new();
    for r in &got {
        assert_eq!(r.signature.matches("v1=").count(), 3, "{}", r.signature);
        for secret in &keys {
            dump.push(json!({"secret": secret, "signature": r.signature, "body": r.body}));
        }
    }
    let file = p.dir.join("rolled.json");
    std::fs::write(&file, serde_json::to_string(&dump).expect("json")).expect("write");
    let verified = run_python("verify_webhook.py", &[file.as_os_str()]);
    assert_eq!(verified["invalid"], json!([]), "{verified}");
    assert_eq!(verified["valid"], 9, "{verified}");
}

/// Answers every delivery at once, keeping its id.
async fn accept(State(got): State<Arc<Mutex<Vec<String>>>>, headers: HeaderMap) -> StatusCode {
    let delivery = headers
        .get("gongshi-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    got.lock().expect("lock").push(delivery);
    StatusCode::NO_CONTENT
}

/// Ten subscriptions' receivers accept the connection and never answer (more than the eight
/// requests the worker once sent at a time); another's answers at once. Twelve notices reach the
/// second well within one request timeout of the first, and while the hanging requests are out
/// the API answers and a hanging subscription is deleted at once: a request out holds no database
/// connection or lock.
#[tokio::test]
async fn receivers_that_hang_hold_up_no_other_subscriber_nor_the_api() {
    const TIMEOUT_MS: u64 = 8_000;
    let timeout = TIMEOUT_MS.to_string();
    let p = running(&[("GONGSHI_WEBHOOK_TIMEOUT_MS", &timeout), LOOPBACK]).await;
    // The kernel completes the handshake into the backlog; nothing ever reads the request.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hanging_url = format!(
        "http://127.0.0.1:{}/hook",
        hanging.local_addr().expect("addr").port()
    );
    let got = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/hook", post(accept))
        .with_state(got.clone());
    let good_url = format!("{}/hook", gongshi_tests::serve_locally(app).await);
    let mut hanging_ids = Vec::new();
    for (token, url) in
        std::iter::repeat_n((BIDDER, hanging_url), 10).chain([(OTHER_BIDDER, good_url)])
    {
        let id = subscribe(&p, token, &url).await;
        if token == BIDDER {
            hanging_ids.push(id);
        }
    }
    let notices = 12;
    for i in 0..notices {
        p.submit(&works_tender(
            &format!("E32030103193000{i:02}"),
            &format!("挂起测试工程{i}施工招标公告"),
            "320300",
        ))
        .await;
    }
    let db = p.db().await;
    let start = Instant::now();
    loop {
        let published: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM feed_entries WHERE event_type = 'notice.published'",
        )
        .fetch_one(&db)
        .await
        .expect("count");
        if published >= notices {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "not published");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let published = Instant::now();
    loop {
        let arrived = got.lock().expect("lock").len();
        if arrived >= 12 {
            break;
        }
        assert!(
            published.elapsed() < Duration::from_millis(TIMEOUT_MS * 3 / 4),
            "{arrived} of {notices} deliveries reached the answering receiver in {:?}: the \
             hanging ones hold it up",
            published.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The hanging requests are still out (the timeout has not passed).
    assert!(published.elapsed() < Duration::from_millis(TIMEOUT_MS));
    let asked = Instant::now();
    let (status, mine) = call(
        &p,
        reqwest::Method::GET,
        "/v1/subscriptions",
        Some(BIDDER),
        None,
    )
    .await;
    assert_eq!(status, 200, "{mine}");
    let (status, _) = call(
        &p,
        reqwest::Method::DELETE,
        &format!("/v1/subscriptions/{}", hanging_ids[0]),
        Some(BIDDER),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the API waited {:?} behind requests to hanging receivers",
        asked.elapsed()
    );
    drop(hanging);
}

/// A webhook may not reach into the gateway's own network by any spelling: a literal
/// IPv4-mapped loopback address is refused when subscribing, and a host name that resolves to
/// loopback (this machine's own name) is refused when the worker connects — the receiver there
/// gets nothing and the delivery shows why.
#[tokio::test]
async fn webhooks_do_not_reach_inside_by_any_spelling() {
    let p = running(&[
        ("GONGSHI_WEBHOOK_RETRY_BASE_MS", "200"),
        ("GONGSHI_WEBHOOK_GIVE_UP_AFTER", "2"),
    ])
    .await;
    let (url, receiver) = start_receiver(true).await;
    let port = url
        .rsplit(':')
        .next()
        .and_then(|rest| rest.split('/').next())
        .expect("port");
    let (status, refused) = call(
        &p,
        reqwest::Method::POST,
        "/v1/subscriptions",
        Some(BIDDER),
        Some(json!({"webhook_url": format!("http://[::ffff:127.0.0.1]:{port}/hook"), "secret": SECRET})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");

    let host = String::from_utf8(
        std::process::Command::new("hostname")
            .output()
            .expect("hostname")
            .stdout,
    )
    .expect("utf-8");
    let host = host.trim();
    let resolved: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .expect("this machine resolves its own name")
        .collect();
    assert!(
        resolved.iter().all(|a| a.ip().is_loopback()),
        "the test needs a host name that resolves to loopback: {host} → {resolved:?}"
    );
    let (status, created) = call(
        &p,
        reqwest::Method::POST,
        "/v1/subscriptions",
        Some(BIDDER),
        Some(json!({"webhook_url": format!("http://{host}:{port}/hook"), "secret": SECRET})),
    )
    .await;
    assert_eq!(
        status, 201,
        "a name is not refused by its spelling: {created}"
    );
    let id = created["id"].as_str().expect("id").to_owned();
    p.submit(&works_tender(
        "E3203010319200002",
        "内网测试工程施工招标公告",
        "320300",
    ))
    .await;
    let view = wait_view(&p, BIDDER, &id, |v| v["deliveries"]["failed"] == 1).await;
    assert!(
        view["last_failures"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("内部地址")),
        "{view}"
    );
    // Moving the subscription inside is refused the same way.
    let (status, refused) = call(
        &p,
        reqwest::Method::PATCH,
        &format!("/v1/subscriptions/{id}"),
        Some(BIDDER),
        Some(json!({"webhook_url": format!("http://[::ffff:127.0.0.1]:{port}/hook")})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        receiver.got.lock().expect("lock").is_empty(),
        "nothing reached the receiver inside"
    );
}

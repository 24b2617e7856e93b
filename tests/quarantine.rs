//! No single event can stop a consumer: events that cannot be processed are set aside
//! (quarantined) with their error, stage and attempts, the records they concern show
//! `quarantined`, and the events behind them flow on. `gongshi quarantine list|retry|discard`
//! shows them and acts on them.

use gongshi_tests::{Pipeline, generated_tender};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const RECEIVED: &str = "gongshi.notices.received.v1";
const VALID: &str = "gongshi.notices.valid.v1";
const PUBLIC: &str = "gongshi.notices.public.v1";

fn quarantine_cli(p: &Pipeline, args: &[&str]) -> (i32, String) {
    let out = p
        .command("quarantine")
        .args(args)
        .output()
        .expect("gongshi quarantine");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn listed(p: &Pipeline, state: &str) -> Vec<Value> {
    let (code, out) = quarantine_cli(p, &["list", "--json", "--state", state]);
    assert_eq!(code, 0, "{out}");
    out.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Waits until `gongshi quarantine list` shows `n` quarantined events.
async fn wait_quarantined(p: &Pipeline, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let rows = listed(p, "quarantined");
        if rows.len() >= n {
            return rows;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} of {n} quarantined: {rows:#?}; logs in {}",
            rows.len(),
            p.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn poison_events_are_set_aside_and_the_events_behind_them_flow() {
    let p = Pipeline::start("2025-03-05T10:00:00+08:00").await;

    // A record accepted by the store whose `received` event is malformed (its `records` is not a
    // count): validate can never handle it.
    let pool = p.db().await;
    let doc = generated_tender(1, "Q1");
    gongshi_platform::store::receipts::insert(
        &pool,
        "receipt-poison",
        "application/xml",
        doc.as_bytes(),
        "test",
        &["TENDER_ANN_QUA_INQUERY_ANN".to_owned()],
    )
    .await
    .expect("receipt");
    let poison = json!({"id": "received:receipt-poison", "type": "notice.received", "key": "receipt-poison",
                        "occurred_at": "2025-03-05T02:00:00Z",
                        "payload": {"receipt": "receipt-poison", "content_type": "application/xml", "records": "many"}});
    p.produce(RECEIVED, "receipt-poison", poison.to_string().as_bytes())
        .await;
    // Bytes that are no event at all, with a NUL in them, on two stages' topics.
    p.produce(VALID, "x", b"\0not an event").await;
    p.produce(PUBLIC, "x", b"{\"id\": 1").await;

    // A clean document sent after them publishes within seconds.
    let sent = Instant::now();
    let receipt = p.submit(&generated_tender(2, "Q1")).await;
    p.wait_receipt(&receipt, |s| s == "published").await;
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "the clean document took {:?}",
        sent.elapsed()
    );

    let rows = wait_quarantined(&p, 3).await;
    let by_stage = |stage: &str| {
        rows.iter()
            .find(|r| r["stage"] == stage)
            .unwrap_or_else(|| panic!("nothing quarantined by {stage}: {rows:#?}"))
            .clone()
    };
    let validate = by_stage("validate");
    assert_eq!(validate["reason"], "permanent", "{validate}");
    assert_eq!(validate["receipt_id"], "receipt-poison");
    assert_eq!(validate["event_id"], "received:receipt-poison");
    assert!(
        validate["error"]
            .as_str()
            .is_some_and(|e| e.contains("records")),
        "the error names what is wrong: {validate}"
    );
    let enforce = by_stage("enforce");
    assert_eq!(
        (enforce["reason"].as_str(), enforce["event_id"].as_str()),
        (Some("undecodable"), None)
    );
    assert_eq!(by_stage("publish")["reason"], "undecodable");

    // The record the poison event concerns shows it.
    let (_, body) = p.get("/v1/receipts/receipt-poison").await;
    assert_eq!(body["records"][0]["status"], "quarantined", "{body}");

    // Metrics count them by stage and reason.
    let (_, metrics) = p.get_text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("gongshi_quarantined_total{")
                && l.contains("stage=\"validate\"")
                && l.contains("reason=\"permanent\"")),
        "{metrics}"
    );

    // Retry re-drives the event through validate: still poison, so it is quarantined anew.
    let first = validate["quarantine_id"].as_i64().expect("id");
    let id = first.to_string();
    let (code, out) = quarantine_cli(
        &p,
        &["retry", &id, "--reason", "试一次", "--operator", "张三"],
    );
    assert_eq!(code, 0, "{out}");
    let start = Instant::now();
    let again = loop {
        let open = listed(&p, "quarantined");
        if let Some(r) = open
            .iter()
            .find(|r| r["stage"] == "validate" && r["quarantine_id"].as_i64() != Some(first))
        {
            break r.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not re-quarantined: {open:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(again["event_id"], "received:receipt-poison");
    let retried = listed(&p, "retried");
    assert_eq!(retried.len(), 1, "{retried:#?}");
    assert_eq!(
        (
            retried[0]["resolved_by"].as_str(),
            retried[0]["resolution_reason"].as_str()
        ),
        (Some("张三"), Some("试一次"))
    );

    // Discard ends it; the record shows `discarded`; a second discard finds nothing open.
    let again_id = again["quarantine_id"].as_i64().expect("id").to_string();
    let (code, out) = quarantine_cli(&p, &["discard", &again_id, "--reason", "平台重发"]);
    assert_eq!(code, 0, "{out}");
    let (_, body) = p.get("/v1/receipts/receipt-poison").await;
    assert_eq!(body["records"][0]["status"], "discarded", "{body}");
    let (code, _) = quarantine_cli(&p, &["discard", &again_id, "--reason", "again"]);
    assert_eq!(code, 1);
    // Both actions are in the operators' audit log (the console's), one entry per record moved.
    let audit: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT operator, action, reason, before, after FROM operator_audit \
         WHERE receipt_id = 'receipt-poison' AND record_index = 0 ORDER BY audit_id",
    )
    .fetch_all(&p.db().await)
    .await
    .expect("audit");
    let audit: Vec<[&str; 5]> = audit
        .iter()
        .map(|(o, a, r, b, t)| [o.as_str(), a, r, b, t])
        .collect();
    assert_eq!(
        audit,
        [
            ["张三", "retry", "试一次", "quarantined", "received"],
            ["cli", "discard", "平台重发", "quarantined", "discarded"]
        ]
    );
    // A reason is required.
    let (code, out) = quarantine_cli(&p, &["discard", &again_id, "--reason", " "]);
    assert_eq!(code, 2, "{out}");
}

/// The pipeline's store, and a bus on topics of a test's own (one partition each, under a fresh
/// prefix), for tests that drive `bus::consume_batches` directly.
async fn store_and_bus(
    p: &Pipeline,
    topics: &[&str],
) -> (gongshi_platform::Store, gongshi_platform::Bus) {
    let store = gongshi_platform::Store::connect(&p.database_url)
        .await
        .expect("store");
    let prefix = format!("bus{}.", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let bus = gongshi_platform::Bus::connect(
        &std::env::var("GONGSHI_KAFKA_BROKERS").expect("GONGSHI_KAFKA_BROKERS"),
        &prefix,
    )
    .expect("bus");
    bus.ensure_topics(topics, 1, 1).await.expect("topics");
    (store, bus)
}

/// Stages apply what has arrived in batches (one transaction each); a batch holding an event its
/// handler refuses is undone and its events handled one at a time, so that only that event is
/// quarantined and each of the others takes effect exactly once, in order.
#[tokio::test]
async fn a_poison_event_inside_a_batch_costs_only_itself() {
    use gongshi_platform::bus::{self, Envelope, HandlerError, Quarantine};
    use std::sync::Mutex;

    let p = Pipeline::new("2025-03-05T10:00:00+08:00").await;
    let (store, bus) = store_and_bus(&p, &["events"]).await;
    let poison = "event-13";
    let events: Vec<Envelope> = (0..40)
        .map(|i| Envelope::new(format!("event-{i}"), "test.event", "k", json!({"i": i})))
        .collect();
    // All on the broker before the consumer starts: its first fetch brings them together.
    bus.publish_many("events", &events).await.expect("produce");

    let applied = Mutex::new(Vec::<String>::new());
    let batches = Mutex::new(Vec::<(usize, bool)>::new());
    let refuse = |id: &str| -> Result<(), HandlerError> {
        if id == poison {
            Err(HandlerError::Permanent(anyhow::anyhow!(
                "{id} can never be applied"
            )))
        } else {
            Ok(())
        }
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let quarantine = Quarantine::new(store.clone(), bus.clone());
    let consumer = bus.consumer("batch-test", &["events"]).expect("consumer");
    let consuming = bus::consume_batches(
        consumer,
        "batch-test",
        &quarantine,
        shutdown.clone(),
        16,
        |batch| {
            let ids: Vec<String> = batch.into_iter().map(|e| e.id).collect();
            let result = ids.iter().try_for_each(|id| refuse(id));
            batches
                .lock()
                .expect("lock")
                .push((ids.len(), result.is_ok()));
            // A batch's effects happen only when all of it succeeds (its transaction commits).
            if result.is_ok() {
                applied.lock().expect("lock").extend(ids);
            }
            std::future::ready(result.map(|()| bus::Acks::none()))
        },
        |event| {
            let result = refuse(&event.id);
            if result.is_ok() {
                applied.lock().expect("lock").push(event.id);
            }
            std::future::ready(result)
        },
    );
    let watching = async {
        let started = Instant::now();
        while applied.lock().expect("lock").len() < events.len() - 1 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "applied so far: {:?}",
                applied.lock().expect("lock")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.cancel();
    };
    let (consumed, ()) = tokio::join!(consuming, watching);
    consumed.expect("consume");

    let expected: Vec<String> = events
        .iter()
        .map(|e| e.id.clone())
        .filter(|id| id != poison)
        .collect();
    assert_eq!(
        *applied.lock().expect("lock"),
        expected,
        "each once, in order"
    );
    let batches = batches.into_inner().expect("lock");
    assert!(
        batches.iter().any(|&(n, ok)| n > 1 && ok),
        "some batch of several events succeeded: {batches:?}"
    );
    assert!(
        batches.iter().any(|&(n, ok)| n > 1 && !ok),
        "the poison's batch failed and fell back: {batches:?}"
    );
    let set_aside = gongshi_platform::store::quarantine::list(&store.pool, None, 10)
        .await
        .expect("quarantine");
    assert_eq!(
        set_aside
            .iter()
            .map(|q| (q.event_id.as_deref(), q.stage.as_str()))
            .collect::<Vec<_>>(),
        [(Some(poison), "batch-test")],
        "only the poison is quarantined"
    );
}

/// A stage does not wait for the broker to acknowledge one batch's events before it handles the
/// next, but it stores a batch's offsets only once they are acknowledged, and in order. Stopped
/// right after its last batch, it settles that batch first: a consumer of the same group started
/// afterwards gets nothing again, and every event sent by the batches is on the broker once, in
/// order.
#[tokio::test]
async fn a_batch_s_offsets_are_stored_once_its_events_are_acknowledged_and_in_order() {
    use gongshi_platform::bus::{self, Envelope, Quarantine};
    use rdkafka::message::Message as _;
    use std::sync::Mutex;

    let p = Pipeline::new("2025-03-05T10:00:00+08:00").await;
    let (store, bus) = store_and_bus(&p, &["in", "out"]).await;
    let total = 200;
    let events: Vec<Envelope> = (0..total)
        .map(|i| Envelope::new(format!("in-{i}"), "test.event", "k", json!({"i": i})))
        .collect();
    bus.publish_many("in", &events).await.expect("produce");
    let derived = |e: &Envelope| Envelope::new(format!("out-{}", e.id), "test.out", "k", json!({}));

    let seen = Mutex::new(Vec::<String>::new());
    let sizes = Mutex::new(Vec::<usize>::new());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let quarantine = Quarantine::new(store.clone(), bus.clone());
    let consuming = bus::consume_batches(
        bus.consumer("acks-test", &["in"]).expect("consumer"),
        "acks-test",
        &quarantine,
        shutdown.clone(),
        16,
        |batch| {
            sizes.lock().expect("lock").push(batch.len());
            let mut seen = seen.lock().expect("lock");
            seen.extend(batch.iter().map(|e| e.id.clone()));
            if seen.len() >= total {
                // Stopped as the last batch is handled: its acknowledgements are still to come.
                shutdown.cancel();
            }
            let out: Vec<Envelope> = batch.iter().map(derived).collect();
            // Handed to the producer, not awaited: the loop waits for these itself.
            std::future::ready(bus.queue_many("out", &out).map_err(Into::into))
        },
        |event| {
            let bus = bus.clone();
            async move {
                bus.publish_many("out", &[derived(&event)]).await?;
                Ok(())
            }
        },
    );
    tokio::time::timeout(Duration::from_secs(60), consuming)
        .await
        .expect("all handled within a minute")
        .expect("consume");
    assert!(
        sizes.lock().expect("lock").iter().any(|&n| n > 1),
        "batches of several events: {sizes:?}"
    );

    // The same group again: everything was stored and committed.
    let again = bus.consumer("acks-test", &["in"]).expect("consumer");
    let redelivered = tokio::time::timeout(Duration::from_secs(5), again.recv()).await;
    assert!(
        redelivered.is_err(),
        "an event came again: {:?}",
        redelivered.map(|m| m.map(|m| m.offset()))
    );
    // And every derived event is on the broker, once, in order.
    let reader = bus
        .consumer(
            &format!("reader-{}", uuid::Uuid::new_v4().simple()),
            &["out"],
        )
        .expect("consumer");
    let mut out = Vec::new();
    while let Ok(Ok(m)) = tokio::time::timeout(
        Duration::from_secs(if out.is_empty() { 15 } else { 3 }),
        reader.recv(),
    )
    .await
    {
        let envelope: Envelope =
            serde_json::from_slice(m.payload().unwrap_or_default()).expect("envelope");
        out.push(envelope.id);
    }
    let expected: Vec<String> = events.iter().map(|e| format!("out-{}", e.id)).collect();
    assert_eq!(out, expected);
}

/// The console's retry moves a quarantined record back to `received` and re-sends its event
/// before its transaction commits. When the stage fails on the event again and quarantines it
/// while that transaction is still open, the record must end `quarantined`, not stay `received`
/// with nothing left to move it (seen once in `tests/ops_console.rs` on a loaded machine).
#[tokio::test]
async fn a_retry_that_fails_again_before_the_retry_commits_ends_quarantined() {
    use gongshi_platform::store::quarantine::{self, NewQuarantine, Reason};
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let db = p.db().await;
    let receipt = "receipt-retry-race";
    gongshi_platform::store::receipts::insert(
        &db,
        receipt,
        "application/xml",
        generated_tender(1, "RACE").as_bytes(),
        "test",
        &["TENDER_ANN_QUA_INQUERY_ANN".to_owned()],
    )
    .await
    .expect("receipt");
    let failure = |attempts| NewQuarantine {
        stage: "validate",
        topic: "gongshi.notices.received.v1",
        partition: 0,
        offset: 7,
        message: b"{}",
        event_id: Some("received:receipt-retry-race"),
        event_type: Some("notice.received"),
        receipt_id: Some(receipt),
        record_index: None,
        notice_id: None,
        reason: Reason::Permanent,
        error: "still malformed",
        attempts,
        first_failed_at: chrono::Utc::now(),
    };
    let first = quarantine::put(&db, &failure(1)).await.expect("quarantine");
    let status = || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM receipt_records WHERE receipt_id = $1")
            .bind(receipt)
            .fetch_one(&db)
            .await
            .expect("status")
    };
    assert_eq!(status().await, "quarantined");

    // The retry, not yet committed; meanwhile the stage quarantines the re-sent event again.
    let mut retry = db.begin().await.expect("begin");
    quarantine::resolve_in(&mut retry, first, true, "ops-test", "修复后重试")
        .await
        .expect("resolve")
        .expect("open quarantine");
    let again = tokio::spawn({
        let db = db.clone();
        async move {
            quarantine::put(&db, &failure(2))
                .await
                .expect("quarantine again")
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    retry.commit().await.expect("commit");
    again.await.expect("task");
    assert_eq!(status().await, "quarantined");
}

/// A public topic created before gongshi with a small `max.message.bytes` (an older gongshi,
/// another broker's default): the broker refuses a large notice's `notice.published` for good.
/// The outbox relay sets that one event aside (stage `relay`), its record shows `quarantined`,
/// and the notices queued with it and after it are published. A retry while the topic still
/// refuses it says so and leaves it quarantined (this broker cannot raise a topic's limit in
/// place); a discard ends it.
#[tokio::test]
async fn an_event_the_broker_refuses_for_good_is_set_aside_by_the_relay() {
    let mut p = Pipeline::new("2025-03-05T10:00:00+08:00").await;
    p.create_topic(PUBLIC, 64 * 1024).await;
    p.spawn("run");
    p.wait_ready().await;

    let big = generated_tender(1, "R1").replace(
        "现对该项目的施工进行公开招标。",
        &"现对该项目的施工进行公开招标。".repeat(8_000),
    );
    let receipt = p
        .submit(&format!(
            "<BATCH>{big}{}</BATCH>",
            generated_tender(2, "R1")
        ))
        .await;
    let body = p
        .wait_receipt(&receipt, |s| s == "published" || s == "quarantined")
        .await;
    assert_eq!(
        statuses(&body),
        ["quarantined", "published"],
        "only the refused notice waits: {body:#}"
    );
    let rows = wait_quarantined(&p, 1).await;
    let relay = rows
        .iter()
        .find(|r| r["stage"] == "relay")
        .unwrap_or_else(|| panic!("nothing quarantined by the relay: {rows:#?}"));
    assert_eq!(relay["reason"], "permanent", "{relay}");
    assert_eq!(relay["topic"], PUBLIC, "{relay}");
    assert_eq!(relay["event_type"], "notice.published", "{relay}");
    assert_eq!(
        relay["notice_id"], body["records"][0]["notice_id"],
        "{relay}"
    );
    assert!(
        relay["error"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("size")),
        "the error says the broker refused its size: {relay}"
    );
    let db = p.db().await;
    let in_feed = |id: String| {
        let db = &db;
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM feed_entries WHERE notice_id = $1")
                .bind(id)
                .fetch_one(db)
                .await
                .expect("feed")
        }
    };
    let id = |i: usize| {
        body["records"][i]["notice_id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    assert_eq!(in_feed(id(1)).await, 1);
    assert_eq!(in_feed(id(0)).await, 0);
    // Nothing waits in the outbox behind it, and a later notice flows.
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&db)
        .await
        .expect("outbox");
    assert_eq!(queued, 0);
    let later = p.submit(&generated_tender(3, "R1")).await;
    p.wait_receipt(&later, |s| s == "published").await;

    // A retry the topic still refuses is not done: the event stays quarantined, its record too.
    let qid = relay["quarantine_id"].as_i64().expect("id").to_string();
    let (code, out) = quarantine_cli(
        &p,
        &["retry", &qid, "--reason", "再试一次", "--operator", "张三"],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.to_lowercase().contains("size"), "{out}");
    assert_eq!(listed(&p, "quarantined").len(), 1);
    let (_, body) = p.get(&format!("/v1/receipts/{receipt}")).await;
    assert_eq!(statuses(&body), ["quarantined", "published"], "{body:#}");
    // The operator discards it (the platform will send a smaller version).
    let (code, out) = quarantine_cli(&p, &["discard", &qid, "--reason", "内容过大，平台重发"]);
    assert_eq!(code, 0, "{out}");
    let (_, body) = p.get(&format!("/v1/receipts/{receipt}")).await;
    assert_eq!(statuses(&body), ["discarded", "published"], "{body:#}");
    assert_eq!(in_feed(id(0)).await, 0);
    // Enforcement had recorded it as published: the discard withdraws it there too, so that it
    // is public nowhere (its notice, its procedure) and its windows announce nothing.
    let start = std::time::Instant::now();
    loop {
        let status: String = sqlx::query_scalar("SELECT status FROM notices WHERE notice_id = $1")
            .bind(id(0))
            .fetch_one(&db)
            .await
            .expect("notice row");
        if status == "discarded" {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "enforcement still has it {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(p.get(&format!("/v1/notices/{}", id(0))).await.0, 404);
    let timers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM timers WHERE notice_id = $1 AND fired_at IS NULL")
            .bind(id(0))
            .fetch_one(&db)
            .await
            .expect("timers");
    assert_eq!(timers, 0, "its windows' timers are cancelled");
}

fn statuses(receipt: &Value) -> Vec<&str> {
    receipt["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["status"].as_str())
        .collect()
}

//! Pipeline benchmark on this machine's real stack. Prints, in one run:
//! 1. the broker's own produce throughput (idempotent, `acks=all`, 1 KiB messages) — the reference;
//! 2. sustained notices/s through the whole pipeline (ingest → validate → enforce → publish →
//!    feed store) for JSON batches of notices of every table (`mixed_notices`: procedures whose
//!    stages arrive together, some before their parents) posted as fast as the gateway takes
//!    them, until every record has its outcome;
//! 3. ingest → feed-store latency p50/p99 at a fixed rate of single-notice documents, the p99 of
//!    its median and worst second, and the CPU each process on the machine used meanwhile.
//!
//! Run it with `scripts/bench/pipeline.sh` (release build, local stack). Sizes:
//! `GONGSHI_BENCH_NOTICES` (default 5000), `GONGSHI_BENCH_RATE` (notices/s, default 50),
//! `GONGSHI_BENCH_SECONDS` (default 20).

use gongshi_tests::{
    Pipeline, generated_tender as tender, mixed_notices, post_document as post,
    post_document_as as post_as,
};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn broker_reference(messages: usize) -> f64 {
    let brokers = std::env::var("GONGSHI_KAFKA_BROKERS").expect("GONGSHI_KAFKA_BROKERS");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .create()
        .expect("producer");
    let topic = format!("bench.reference.{}", uuid::Uuid::new_v4().simple());
    let payload = vec![b'x'; 1024];
    let start = Instant::now();
    let mut pending = Vec::with_capacity(1000);
    for i in 0..messages {
        let key = i.to_string();
        let fut = producer
            .send_result(FutureRecord::to(&topic).key(&key).payload(&payload))
            .expect("queue");
        pending.push(fut);
        if pending.len() == 1000 {
            for f in pending.drain(..) {
                f.await.expect("delivery").expect("delivered");
            }
        }
    }
    for f in pending {
        f.await.expect("delivery").expect("delivered");
    }
    messages as f64 / start.elapsed().as_secs_f64()
}

/// Each consumer's handler time so far, in seconds (`gongshi_event_processing_seconds_sum`).
async fn handler_seconds(url: &str) -> Result<BTreeMap<String, f64>, String> {
    let text = match reqwest::get(format!("{url}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => return Err(format!("metrics unreadable: {e}")),
    };
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("gongshi_event_processing_seconds_sum{consumer=\""))
        .filter_map(|l| l.split_once("\"} "))
        .filter_map(|(consumer, v)| v.parse::<f64>().ok().map(|v| (consumer.to_owned(), v)))
        .collect())
}

/// Each consumer's handler time between two readings of [`handler_seconds`] as a share of
/// `wall`: the stage nearest 100 % is the one the others wait for.
async fn busy(url: &str, since: &BTreeMap<String, f64>, wall: Duration) -> String {
    match handler_seconds(url).await {
        Ok(now) => now
            .iter()
            .map(|(consumer, v)| {
                let spent = v - since.get(consumer).copied().unwrap_or(0.0);
                format!("{consumer} {:.0} %", 100.0 * spent / wall.as_secs_f64())
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => e,
    }
}

async fn count(db: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.expect("count")
}

/// CPU time so far (clock ticks) of the processes that share this machine's cores in a run,
/// grouped by who they are, plus the whole machine's busy ticks (`/proc/stat`: all but idle and
/// iowait) under `"machine"` and all its ticks under `"all"`. Linux only; elsewhere it is empty.
fn cpu_ticks() -> BTreeMap<&'static str, u64> {
    let mut ticks = BTreeMap::new();
    let own = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(entry.path().join("comm")),
            std::fs::read_to_string(entry.path().join("stat")),
        ) else {
            continue; // gone meanwhile
        };
        // Fields after the parenthesised command: utime and stime are the 12th and 13th.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let used: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
            .sum();
        let who = match comm.trim() {
            _ if pid == own => "this client",
            c if c.starts_with("postgres") => "postgres",
            c if c.starts_with("gongshi") => "gongshi",
            "nisshi" => "broker",
            _ => "other",
        };
        *ticks.entry(who).or_default() += used;
    }
    if let Some(line) = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_owned))
    {
        // user nice system idle iowait irq softirq steal …
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let all: u64 = v.iter().sum();
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        ticks.insert("machine", all - idle);
        ticks.insert("all", all);
    }
    ticks
}

/// The CPU used since a [`cpu_ticks`] reading, in % of one core: the machine's share of all its
/// cores first, then each group's. Near 100 % of the machine, any periodic job (an index merge,
/// autovacuum, a checkpoint) queues every stage behind it, and the tail shows it.
fn cpu_shares(before: &BTreeMap<&'static str, u64>) -> String {
    let now = cpu_ticks();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let spent = |who: &str| {
        now.get(who).copied().unwrap_or(0) as f64 - before.get(who).copied().unwrap_or(0) as f64
    };
    // All the machine's ticks over the interval are `cores` cores' worth.
    let one_core = spent("all") / cores;
    if one_core <= 0.0 {
        return "CPU use unreadable (no /proc)".to_owned();
    }
    let share = |who: &str| 100.0 * spent(who) / one_core;
    let mut groups: Vec<(&str, f64)> = now
        .keys()
        .filter(|&&k| k != "machine" && k != "all")
        .map(|&k| (k, share(k)))
        .collect();
    groups.sort_by(|a, b| b.1.total_cmp(&a.1));
    format!(
        "machine {:.0} % of {cores} cores busy; {}",
        share("machine") / cores,
        groups
            .iter()
            .map(|(k, v)| format!("{k} {v:.0} %"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// How the tail spreads over the run: p99 of each second of sending (by arrival), as the median
/// second's, and the three worst seconds' with the two halves of the path (to enforce's start, and
/// from it to the feed) so that a stall names the stage it happened in. A worst second far above
/// the median is a stall (something took the cores for a moment); all seconds high is a load the
/// machine does not keep up with.
fn by_second(rows: &[(f64, f64, f64)]) -> String {
    let Some(first) = rows.iter().map(|r| r.2).min_by(f64::total_cmp) else {
        return "no samples".to_owned();
    };
    let mut seconds: BTreeMap<u64, [Vec<f64>; 3]> = BTreeMap::new();
    for (total, to_enforce, at) in rows {
        let [t, e, f] = seconds.entry((at - first) as u64).or_default();
        t.push(*total);
        e.push(*to_enforce);
        f.push(total - to_enforce);
    }
    let mut p99s: Vec<(u64, [f64; 3])> = seconds
        .into_iter()
        .map(|(s, parts)| {
            (
                s,
                parts.map(|mut v| {
                    v.sort_by(f64::total_cmp);
                    percentile(&v, 0.99)
                }),
            )
        })
        .collect();
    p99s.sort_by(|a, b| a.1[0].total_cmp(&b.1[0]));
    let median = p99s[p99s.len() / 2].1[0];
    let worst: Vec<String> = p99s
        .iter()
        .rev()
        .take(3)
        .map(|(s, [t, e, f])| {
            // The instant too, to find the second in the server logs (PostgreSQL's checkpoints).
            let at = chrono::DateTime::from_timestamp(first as i64 + *s as i64, 0)
                .map(|t| t.format("%H:%M:%S UTC").to_string())
                .unwrap_or_default();
            format!("second {} ({at}) {t:.1} ms ({e:.1} + {f:.1})", s + 1)
        })
        .collect();
    format!(
        "p99 of each second sent: median second {median:.1} ms; worst (to enforce + to feed): {}",
        worst.join(", ")
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let notices = var("GONGSHI_BENCH_NOTICES", 5000);
    let rate = var("GONGSHI_BENCH_RATE", 50);
    let seconds = var("GONGSHI_BENCH_SECONDS", 20);
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let reference = broker_reference(20_000).await;
    println!("broker reference: {reference:.0} messages/s produced (1 KiB, idempotent, acks=all)");

    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let db = p.db().await;

    // Sustained throughput: documents of 100 notices of every table (JSON), 4 in flight.
    let per_doc = 100;
    let docs: Vec<String> = mixed_notices(notices, "B")
        .chunks(per_doc)
        .map(|records| serde_json::to_string(records).expect("json"))
        .collect();
    let total = notices as i64;
    let start = Instant::now();
    let client = reqwest::Client::new();
    for chunk in docs.chunks(4) {
        let mut set = tokio::task::JoinSet::new();
        for d in chunk {
            set.spawn(post_as(
                client.clone(),
                p.url.clone(),
                "application/json",
                d.clone(),
            ));
        }
        while let Some(done) = set.join_next().await {
            done.expect("post task");
        }
    }
    let ingested = start.elapsed();
    // Done: every record has left `received` (published, held, parked, recorded, rejected…).
    while count(
        &db,
        "SELECT count(*) FROM receipt_records WHERE status <> 'received'",
    )
    .await
        < total
    {
        assert!(
            start.elapsed() < Duration::from_secs(900),
            "pipeline did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = start.elapsed();
    let throughput = total as f64 / elapsed.as_secs_f64();
    let outcomes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM receipt_records GROUP BY status ORDER BY count(*) DESC",
    )
    .fetch_all(&db)
    .await
    .expect("outcomes");
    let tables: i64 = count(
        &db,
        "SELECT count(DISTINCT table_code) FROM receipt_records",
    )
    .await;
    println!(
        "pipeline: {total} notices of {tables} tables done in {:.1} s ({:.1} s to ingest): {throughput:.0} notices/s sustained",
        elapsed.as_secs_f64(),
        ingested.as_secs_f64()
    );
    println!(
        "  outcomes: {}",
        outcomes
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let published_before = count(
        &db,
        "SELECT count(*) FROM receipt_records WHERE status = 'published'",
    )
    .await;
    println!(
        "  handlers busy (share of that time, from /metrics): {}",
        busy(&p.url, &BTreeMap::new(), elapsed).await
    );

    // Latency at a fixed rate of single-notice documents.
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let n = rate * seconds;
    // Open loop: each document is sent at its instant whether or not the ones before it were
    // answered (a client waiting for each answer offers less than the rate once a request takes
    // longer than the interval).
    let before = handler_seconds(&p.url).await.unwrap_or_default();
    let cpu_before = cpu_ticks();
    let mut next = Instant::now();
    let sending = Instant::now();
    let mut sent = tokio::task::JoinSet::new();
    for i in 0..n {
        sent.spawn(post(client.clone(), p.url.clone(), tender(i, "2")));
        next += interval;
        tokio::time::sleep_until(next.into()).await;
    }
    while let Some(done) = sent.join_next().await {
        done.expect("post task");
    }
    let offered = n as f64 / sending.elapsed().as_secs_f64();
    let target = published_before + n as i64;
    let wait = Instant::now();
    while count(
        &db,
        "SELECT count(*) FROM receipt_records WHERE status = 'published'",
    )
    .await
        < target
    {
        assert!(
            wait.elapsed() < Duration::from_secs(300),
            "latency run did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let phase = busy(&p.url, &before, sending.elapsed()).await;
    let cpu = cpu_shares(&cpu_before);
    // Three instants per notice: received (ingest), judged (enforce's transaction start, the
    // notice's `published_at`), appended to the feed (publish).
    let rows: Vec<(f64, f64, f64)> = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM (f.published_at - r.received_at))::float8 * 1000, \
                EXTRACT(EPOCH FROM (n.published_at - r.received_at))::float8 * 1000, \
                EXTRACT(EPOCH FROM r.received_at)::float8 \
         FROM receipts r JOIN receipt_records rr USING (receipt_id) \
         JOIN feed_entries f ON f.notice_id = rr.notice_id AND f.event_type = 'notice.published' \
         JOIN notices n ON n.notice_id = rr.notice_id \
         WHERE rr.table_code = 'TENDER_ANN_QUA_INQUERY_ANN' AND (SELECT count(*) FROM receipt_records x WHERE x.receipt_id = r.receipt_id) = 1",
    )
    .fetch_all(&db)
    .await
    .expect("latencies");
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let latencies = sorted(rows.iter().map(|r| r.0).collect());
    let to_enforce = sorted(rows.iter().map(|r| r.1).collect());
    let to_feed = sorted(rows.iter().map(|r| r.0 - r.1).collect());
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    println!(
        "latency at {rate} notices/s for {seconds} s ({} samples, {offered:.0}/s sent): ingest→feed p50 {p50:.1} ms, p99 {p99:.1} ms",
        latencies.len()
    );
    println!(
        "  of which ingest→enforce (ingest, validate, enforce's start) p50 {:.1} ms, p99 {:.1} ms; \
         enforce→feed (enforce's commit, outbox relay, publish) p50 {:.1} ms, p99 {:.1} ms",
        percentile(&to_enforce, 0.50),
        percentile(&to_enforce, 0.99),
        percentile(&to_feed, 0.50),
        percentile(&to_feed, 0.99),
    );
    println!("  {}", by_second(&rows));
    println!("  handlers busy during it: {phase}");
    println!("  CPU during it (% of one core): {cpu}");
    println!(
        "ratio: pipeline notices/s ÷ broker messages/s = {:.3}",
        throughput / reference
    );
}

//! Chaos: a generated import of every table — out-of-order stages, amendments, duplicates,
//! invalid and rejected records — while each service process (ingest, validate, enforce,
//! publish, gateway: five processes) is SIGKILLed at a random moment and started again, the
//! broker is SIGKILLed and started again, and PostgreSQL is stopped as a crash would stop it
//! (`pg_ctl -m immediate`: no checkpoint) and started again. At the end it writes a table
//! (`target/chaos/report.txt`, which `scripts/test` prints) and checks:
//!
//! - every record sent is in the store, each in exactly one final state (published, held,
//!   parked, rejected, invalid, duplicate, quarantined, recorded for objections), none left
//!   `received`, none quarantined;
//! - the feed holds no duplicate entry, and a reader following `/v1/stream` across the
//!   gateway's restarts received every entry once: no gap it could miss, no repeat;
//! - every hold that came due (the clock is moved past them all) fired exactly once;
//! - the search index holds exactly the notices the feed store published (count and ids);
//! - every webhook delivery the subscription's feed holds arrived at least once.
//!
//! Profile: `GONGSHI_CHAOS_NOTICES` (default 5,000, what `.ci/run` runs; `scripts/chaos` runs
//! 50,000) and `GONGSHI_CHAOS_SEED` (default: from the clock; printed, so a run can be
//! repeated). Broker and database faults need the servers `scripts/stack` runs (it restarts
//! them); against other servers they are skipped and the report says so.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use gongshi_tests::{Pipeline, TOKEN, free_port, serve_locally};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Records per document sent.
const PER_DOCUMENT: usize = 50;
/// The pipeline's clock while the import runs: inside the works procedures' candidate
/// publicity, so that awards are held.
const DURING: &str = "2025-04-09T12:00:00+08:00";
/// The clock at the end: past every hold and window of the generated procedures.
const AFTER: &str = "2026-06-01T12:00:00+08:00";
/// The subscriber token the webhook subscription is made with (tests/support.rs).
const BIDDER: &str = "bidder-one-token";

/// SplitMix64: a seeded, repeatable sequence (the run prints its seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One kind of procedure: template records (valid examples under `schemas/tables/examples/`)
/// that share a project code, replaced by a fresh code of the same shape per procedure.
struct Family {
    code: &'static str,
    fresh: fn(usize) -> String,
    files: &'static [&'static str],
}

/// Every table of the four blocks (works, procurement, land and mining rights, state-owned
/// property) and the objections, in stage order within each family.
const FAMILIES: &[Family] = &[
    Family {
        code: "E3203010319005778",
        fresh: |n| format!("E32030103{n:08}"),
        files: &[
            "TENDER_ANN_QUA_INQUERY_ANN/valid/works_tender_notice_two_sections.json",
            "TENDER_FILE_CLARI_MODI/valid/clarification_without_postponement.json",
            "TENDER_CANDIDATE_ANNOUNCE/valid/three_ranked_candidates.json",
            // An objection (异议) answered before the award: recorded, never published.
            "OBJECTION/valid/objection_answered.json",
            "WIN_RESULT_ANNO/valid/award_with_project_lead.json",
            "TENDER_TERMINATION/valid/failed_tender_fewer_than_three_bidders.json",
        ],
    },
    Family {
        code: "E4301120501002507003",
        fresh: |n| format!("E43011205010{n:08}"),
        files: &[
            "TENDER_ANN_QUA_INQUERY_ANN/valid/works_prequalification_notice.json",
            "TENDER_FILE_CLARI_MODI/valid/modification_with_postponement.json",
            "TENDER_CANDIDATE_ANNOUNCE/valid/two_candidates_lowest_price_method.json",
            "WIN_RESULT_ANNO/valid/award_with_unknown_fields_in_extra.json",
        ],
    },
    Family {
        code: "长财采计[2025]001910号",
        fresh: |n| format!("长财采计[2025]{n:06}号"),
        files: &[
            "PURCHASE_QUALI_INQUERY_ANN/valid/competitive_consultation_notice.json",
            "CORRECTION_ITEM/valid/contact_correction_no_postponement.json",
            "BID_DEAL_ANNOUNCE/valid/competitive_consultation_deal.json",
        ],
    },
    Family {
        code: "SDGP370000000202502003817",
        fresh: |n| format!("SDGP3700000002025{n:08}"),
        files: &[
            "PURCHASE_QUALI_INQUERY_ANN/valid/open_tender_procurement_notice.json",
            "CORRECTION_ITEM/valid/postponed_closing_time.json",
            // A complaint (投诉) handled before the award: recorded, never published.
            "COMPLAINT_INFO/valid/procurement_complaint_handled.json",
            "BID_DEAL_ANNOUNCE/valid/open_tender_award.json",
        ],
    },
    Family {
        code: "320115202500031",
        fresh: |n| format!("3201152025{n:05}"),
        files: &[
            "LAND_TRANS_ANN/valid/listing_grant_residential.json",
            "DEAL_LAND_INFO/valid/listing_deal_residential.json",
        ],
    },
    Family {
        code: "321183202500007",
        fresh: |n| format!("3211832025{n:05}"),
        files: &[
            "MINING_BID_AUCTION_TRANS_ANN/valid/listing_limestone.json",
            "MINING_BID_AUC_TRANS_RES_ANN/valid/listing_result.json",
        ],
    },
    Family {
        code: "320312202500002",
        fresh: |n| format!("3203122025{n:05}"),
        files: &["MINING_TRANS_PUB_INFO/valid/agreement_grant_geothermal.json"],
    },
    Family {
        code: "320100202500042",
        fresh: |n| format!("3201002025{n:05}"),
        files: &[
            "STOCK_LISTING_PUB_INFO/valid/equity_51_percent.json",
            "TRADE_RESULT_INFO/valid/equity_deal.json",
        ],
    },
    Family {
        // An asset listing (实物资产挂牌) with no result: its window closes.
        code: "320100202500119",
        fresh: |n| format!("3201002025{n:05}"),
        files: &["LISTING_PUB_INFO/valid/equipment_without_extension.json"],
    },
    Family {
        // A termination whose tender never arrives: parked.
        code: "E4301120501002509011",
        fresh: |n| format!("E43011205019{n:08}"),
        files: &["TENDER_TERMINATION/valid/termination_two_sections.json"],
    },
];

fn example(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/tables/examples")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What was done to a procedure's records, counted in the report.
#[derive(Debug, Default)]
struct Twists {
    out_of_order: usize,
    duplicated: usize,
    invalid: usize,
    rejected: usize,
}

/// At least `notices` records: whole procedures of every family, some of them twisted.
fn generate(notices: usize, rng: &mut Rng) -> (Vec<Value>, Twists) {
    let templates: Vec<Vec<String>> = FAMILIES
        .iter()
        .map(|f| f.files.iter().map(|file| example(file)).collect())
        .collect();
    let mut records = Vec::with_capacity(notices + 8);
    let mut twists = Twists::default();
    let mut n = 0;
    while records.len() < notices {
        let family = &FAMILIES[n % FAMILIES.len()];
        let code = (family.fresh)(n);
        let mut procedure: Vec<Value> = templates[n % FAMILIES.len()]
            .iter()
            .map(|t| serde_json::from_str(&t.replace(family.code, &code)).expect("example JSON"))
            .collect();
        // The examples were written apart and name different platforms; one procedure is one
        // platform's (the platform is part of the procedure key).
        let platform = procedure[0]["PLATFORM_CODE"].clone();
        for record in &mut procedure {
            record["PLATFORM_CODE"] = platform.clone();
        }
        match rng.below(100) {
            // Later stages first: they park until their parent arrives.
            0..8 if procedure.len() > 1 => {
                procedure.reverse();
                twists.out_of_order += 1;
            }
            // The platform sends a record twice.
            8..13 => {
                let again = procedure[rng.below(procedure.len() as u64) as usize].clone();
                procedure.push(again);
                twists.duplicated += 1;
            }
            // A required field missing: invalid (its later stages then park).
            13..17 => {
                if let Some(first) = procedure[0].as_object_mut() {
                    first.remove("PLATFORM_CODE");
                }
                twists.invalid += 1;
            }
            // A deadline on the day of the notice: a period rule rejects it.
            17..21 => {
                let first = &mut procedure[0];
                for (deadline, sent) in [
                    ("BID_DOC_REFER_END_TIME", "NOTICE_SEND_TIME"),
                    ("BID_CLOSING_TIME", "BULLETIN_START_TIME"),
                ] {
                    if let Some(at) = first.get(sent).cloned()
                        && first.get(deadline).is_some()
                    {
                        first[deadline] = at;
                    }
                }
                twists.rejected += 1;
            }
            _ => {}
        }
        records.extend(procedure);
        n += 1;
    }
    (records, twists)
}

/// Runs `scripts/stack <action>` with this environment (its data folder and ports).
fn stack(action: &str) -> bool {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/stack");
    Command::new(script)
        .arg(action)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the PostgreSQL and broker this test uses are the ones `scripts/stack` runs (and may
/// therefore restart).
fn stack_owns_servers() -> bool {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/stack");
    let Ok(out) = Command::new(script)
        .arg("status")
        .env_remove("DATABASE_URL")
        .env_remove("GONGSHI_KAFKA_BROKERS")
        .output()
    else {
        return false;
    };
    let status = String::from_utf8_lossy(&out.stdout);
    let db = std::env::var("DATABASE_URL").unwrap_or_default();
    let brokers = std::env::var("GONGSHI_KAFKA_BROKERS").unwrap_or_default();
    out.status.success()
        && !db.is_empty()
        && status.contains(&format!("{db}\n"))
        && status.contains(&format!("{brokers}\n"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Kill(&'static str),
    Broker,
    Postgres,
}

impl Fault {
    fn label(self) -> String {
        match self {
            Fault::Kill(service) => format!("SIGKILL {service}, start again"),
            Fault::Broker => "SIGKILL the broker, start again".to_owned(),
            Fault::Postgres => "PostgreSQL immediate stop, start again".to_owned(),
        }
    }
}

/// The services, each its own process; ingest listens apart from the gateway.
const SERVICES: [&str; 5] = ["ingest", "validate", "enforce", "publish", "gateway"];

/// Sends every document, each until it is accepted (202): a refused connection (the process
/// is being restarted) or a 503 (the store or the bus is away) is tried again, anything else
/// fails the test. Returns the receipts.
async fn send_all(documents: Vec<String>, targets: [String; 2]) -> Vec<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut receipts = Vec::with_capacity(documents.len());
    for (d, body) in documents.into_iter().enumerate() {
        let url = format!("{}/v1/notices", targets[d % 2]);
        let started = Instant::now();
        let receipt = loop {
            let sent = client
                .post(&url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 202 => {
                    let v: Value = r.json().await.expect("receipt JSON");
                    break v["receipt"].as_str().expect("receipt").to_owned();
                }
                Ok(r) if r.status().is_server_error() => {}
                Ok(r) => {
                    let status = r.status();
                    panic!(
                        "document {d} refused with {status}: {}",
                        r.text().await.unwrap_or_default()
                    );
                }
                Err(_) => {}
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "document {d} not accepted within 300 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        receipts.push(receipt);
    }
    receipts
}

/// Follows `/v1/stream` from the first entry, reconnecting with the last id it saw whenever the
/// connection ends (the gateway was killed, or dropped it for lagging). Every id received, in
/// order.
async fn follow(base: String, seen: Arc<Mutex<Vec<i64>>>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    let mut last = 0i64;
    while !stop.load(Ordering::Relaxed) {
        let response = client
            .get(format!("{base}/v1/stream"))
            .header("accept", "text/event-stream")
            .header("last-event-id", last.to_string())
            .send()
            .await;
        let Ok(mut response) = response else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if response.status() != 200 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let mut buffer = String::new();
        while !stop.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_secs(1), response.chunk()).await {
                Ok(Ok(Some(bytes))) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => break,
                Err(_) => continue,
            }
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let id = block
                    .lines()
                    .find_map(|l| l.strip_prefix("id:"))
                    .and_then(|v| v.trim().parse::<i64>().ok());
                let has_data = block.lines().any(|l| l.starts_with("data:"));
                if let (Some(id), true) = (id, has_data) {
                    last = id;
                    seen.lock().expect("lock").push(id);
                }
            }
        }
    }
}

/// A webhook receiver that counts deliveries per feed item id.
#[derive(Clone, Default)]
struct Receiver {
    items: Arc<Mutex<HashMap<String, usize>>>,
    requests: Arc<AtomicUsize>,
}

async fn hook(State(r): State<Receiver>, body: Bytes) -> StatusCode {
    r.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let id = v["item"]["id"].as_str().unwrap_or_default().to_owned();
    *r.items.lock().expect("lock").entry(id).or_default() += 1;
    StatusCode::NO_CONTENT
}

async fn scalar(db: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.expect(sql)
}

/// Fails at once when a service has exited on its own (a crash, or an exit on an outage it
/// should have waited out), rather than after the run's patience on a pipeline that is gone.
fn assert_alive(p: &mut Pipeline) {
    for service in SERVICES {
        assert!(
            p.is_running(service),
            "{service} exited on its own; its log is in {}",
            p.dir.display()
        );
    }
}

/// Waits until `done` holds, polling, while every service of `p` runs; panics with `what` after
/// `limit`.
async fn wait_for<F, Fut>(p: &mut Pipeline, what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    let start = Instant::now();
    loop {
        let state = done().await;
        if state == Ok(true) {
            return;
        }
        assert_alive(p);
        assert!(start.elapsed() < limit, "{what} after {limit:?}: {state:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every item id of a JSON Feed, following `next_url` to the end.
async fn feed_ids(first: String) -> BTreeSet<String> {
    let client = reqwest::Client::new();
    let mut ids = BTreeSet::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let page: Value = client
            .get(&url)
            .send()
            .await
            .expect("feed")
            .json()
            .await
            .expect("feed JSON");
        for item in page["items"].as_array().into_iter().flatten() {
            ids.insert(item["id"].as_str().expect("item id").to_owned());
        }
        next = page["next_url"].as_str().map(str::to_owned);
    }
    ids
}

/// Every notice id `/v1/search` finds for `filter` (at most 10,000: its paging depth).
async fn search_ids(base: &str, filter: &str) -> (u64, BTreeSet<String>) {
    let client = reqwest::Client::new();
    let mut ids = BTreeSet::new();
    let mut total;
    let mut page = 1;
    loop {
        let url = format!("{base}/v1/search?{filter}&sort=-published&per_page=100&page={page}");
        let response = client.get(&url).send().await.expect("search");
        // Paging a 50,000-notice index runs into the public rate limit: wait as told, like any
        // well-behaved client.
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        let status = response.status();
        let r: Value = response.json().await.expect("search JSON");
        assert!(status.is_success(), "{url}: {status} {r}");
        total = r["total"].as_u64().expect("total");
        let hits = r["hits"].as_array().cloned().unwrap_or_default();
        for hit in &hits {
            ids.insert(hit["id"].as_str().expect("hit id").to_owned());
        }
        if hits.is_empty() || page * 100 >= (total as usize).min(SEARCH_PAGING_DEPTH) {
            break;
        }
        page += 1;
    }
    (total, ids)
}

/// How deep `/v1/search` pages: results beyond the 10,000th are refused (narrow the query).
const SEARCH_PAGING_DEPTH: usize = 10_000;

/// The search index's notice ids: per kind, split by region (province, then city, then county)
/// wherever more match than the search pages.
async fn indexed_ids(base: &str, db: &sqlx::PgPool) -> BTreeSet<String> {
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT kind FROM feed_entries WHERE event_type = 'notice.published'",
    )
    .fetch_all(db)
    .await
    .expect("kinds");
    let regions: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT region FROM feed_entries WHERE region IS NOT NULL")
            .fetch_all(db)
            .await
            .expect("regions");
    let mut all = BTreeSet::new();
    for kind in kinds {
        all.extend(ids_by_region(base, &format!("kind={kind}"), "", &regions).await);
    }
    all
}

/// The ids `filter` finds under the GB/T 2260 prefix `prefix` (everywhere when empty), asked
/// region by region one level down while more match than the search pages.
fn ids_by_region<'a>(
    base: &'a str,
    filter: &'a str,
    prefix: &'a str,
    regions: &'a [String],
) -> std::pin::Pin<Box<dyn std::future::Future<Output = BTreeSet<String>> + 'a>> {
    Box::pin(async move {
        let query = if prefix.is_empty() {
            filter.to_owned()
        } else {
            format!("{filter}&region={prefix}")
        };
        let (total, ids) = search_ids(base, &query).await;
        if ids.len() as u64 == total {
            return ids;
        }
        let level = match prefix.len() {
            0 => 2,
            2 => 4,
            4 => 6,
            _ => panic!("{query}: {total} notices in one county, more than the search pages"),
        };
        let below: BTreeSet<&str> = regions
            .iter()
            .filter(|r| r.starts_with(prefix))
            .filter_map(|r| r.get(..level))
            .collect();
        let mut found = BTreeSet::new();
        for region in below {
            found.extend(ids_by_region(base, filter, region, regions).await);
        }
        assert_eq!(
            found.len() as u64,
            total,
            "{query}: {total} in the index, {} found region by region (a notice without a region?)",
            found.len()
        );
        found
    })
}

#[tokio::test]
async fn every_record_ends_in_one_final_state_whatever_is_killed() {
    let notices: usize = std::env::var("GONGSHI_CHAOS_NOTICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let seed: u64 = std::env::var("GONGSHI_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let mut rng = Rng(seed);
    let started = Instant::now();
    // Generous, and growing with the run: it asserts that everything settles, not how fast (the
    // pipeline benchmark measures speed); a debug build on two loaded cores is slow.
    let patience = Duration::from_secs(900 + notices as u64 / 4);

    let (records, twists) = generate(notices, &mut rng);
    let documents: Vec<String> = records
        .chunks(PER_DOCUMENT)
        .map(|c| serde_json::to_string(c).expect("JSON"))
        .collect();

    let mut p = Pipeline::new(DURING).await;
    p.set_env("GONGSHI_WEBHOOK_ALLOW_PRIVATE", "true");
    p.set_env("GONGSHI_WEBHOOK_RETRY_BASE_MS", "200");
    p.set_env("GONGSHI_FEED_POLL_MS", "100");
    let ingest_port = free_port().to_string();
    let ingest_listen = format!("127.0.0.1:{ingest_port}");
    let env_of = |service: &str| -> Vec<(&'static str, String)> {
        if service == "ingest" {
            vec![("GONGSHI_LISTEN", ingest_listen.clone())]
        } else {
            Vec::new()
        }
    };
    for service in SERVICES {
        let env = env_of(service);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        p.spawn_with(service, &env);
    }
    p.wait_ready().await;
    let ingest_url = format!("http://{ingest_listen}");

    // The webhook subscriber (works notices of Jiangsu) and the stream follower start first.
    let receiver = Receiver::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(receiver.clone());
    let hook_url = format!("{}/hook", serve_locally(app).await);
    let created = reqwest::Client::new()
        .post(format!("{}/v1/subscriptions", p.url))
        .bearer_auth(BIDDER)
        .json(
            &json!({"webhook_url": hook_url, "secret": "chaos-secret-0123456789", "region": "32"}),
        )
        .send()
        .await
        .expect("subscribe");
    assert_eq!(created.status(), 201, "subscription created");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let follower = tokio::spawn(follow(p.url.clone(), seen.clone(), stop.clone()));

    // Faults at random points of the run, measured in records the pipeline has settled.
    let owned = stack_owns_servers();
    let mut faults: Vec<Fault> = SERVICES.iter().map(|s| Fault::Kill(s)).collect();
    if owned {
        faults.extend([Fault::Broker, Fault::Postgres]);
    }
    let mut schedule: Vec<(usize, Fault)> = faults
        .into_iter()
        .map(|f| {
            (
                records.len() / 20 + rng.below(records.len() as u64 * 3 / 4) as usize,
                f,
            )
        })
        .collect();
    schedule.sort_by_key(|(at, _)| *at);

    let sender = tokio::spawn(send_all(documents, [ingest_url.clone(), p.url.clone()]));
    let db = p.db().await;
    let mut injected: Vec<(String, usize, Duration)> = Vec::new();
    for (at, fault) in schedule {
        // Settled = no longer `received`; a failing count (the database is away) waits.
        loop {
            let settled: Result<i64, _> = sqlx::query_scalar(
                "SELECT count(*) FROM receipt_records WHERE status <> 'received'",
            )
            .fetch_one(&db)
            .await;
            if settled.is_ok_and(|n| n as usize >= at) {
                break;
            }
            assert_alive(&mut p);
            assert!(
                started.elapsed() < patience,
                "the run stalled before {at} records settled; logs in {}",
                p.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let down = Duration::from_millis(500 + rng.below(3_000));
        match fault {
            Fault::Kill(service) => {
                p.kill(service);
                tokio::time::sleep(down).await;
                let env = env_of(service);
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                p.spawn_with(service, &env);
            }
            Fault::Broker => {
                assert!(stack("broker-kill"), "scripts/stack broker-kill failed");
                tokio::time::sleep(down).await;
                assert!(stack("broker-start"), "scripts/stack broker-start failed");
            }
            Fault::Postgres => {
                assert!(stack("pg-crash"), "scripts/stack pg-crash failed");
                tokio::time::sleep(down).await;
                assert!(stack("pg-start"), "scripts/stack pg-start failed");
            }
        }
        injected.push((fault.label(), at, down));
    }
    let receipts = sender.await.expect("sender");
    let db = p.db().await;

    // Everything settles at the import's clock; then the clock passes every hold and window.
    let settled = |db: sqlx::PgPool| async move {
        let received: i64 =
            sqlx::query_scalar("SELECT count(*) FROM receipt_records WHERE status = 'received'")
                .fetch_one(&db)
                .await
                .map_err(|e| e.to_string())?;
        Ok(received == 0)
    };
    wait_for(&mut p, "records still received", patience, || {
        settled(db.clone())
    })
    .await;
    let held_before: i64 = scalar(
        &db,
        "SELECT count(*) FROM receipt_records WHERE status = 'held'",
    )
    .await;
    p.set_now(AFTER);
    let after = chrono::DateTime::parse_from_rfc3339(AFTER)
        .expect("instant")
        .with_timezone(&chrono::Utc);
    wait_for(&mut p, "due timers not fired", patience, || {
        let db = db.clone();
        async move {
            let (unfired, held): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM timers WHERE fired_at IS NULL AND due_at <= $1), \
                        (SELECT count(*) FROM receipt_records WHERE status IN ('held', 'received'))",
            )
            .bind(after)
            .fetch_one(&db)
            .await
            .map_err(|e| e.to_string())?;
            if unfired == 0 && held == 0 {
                Ok(true)
            } else {
                Err(format!("{unfired} due timers unfired, {held} records held or received"))
            }
        }
    })
    .await;

    // Window events follow their timers: wait until the feed has stopped growing.
    let mut last = (-1, Instant::now());
    loop {
        let n = scalar(&db, "SELECT count(*) FROM feed_entries").await;
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(5) {
            break;
        }
        assert!(started.elapsed() < 2 * patience, "the feed keeps growing");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // 1. Every record sent is in exactly one final state.
    let sent = records.len() as i64;
    let in_store: i64 =
        sqlx::query_scalar("SELECT count(*) FROM receipt_records WHERE receipt_id = ANY($1)")
            .bind(&receipts)
            .fetch_one(&db)
            .await
            .expect("count");
    let by_state: BTreeMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT status, count(*) FROM receipt_records GROUP BY 1",
    )
    .fetch_all(&db)
    .await
    .expect("states")
    .into_iter()
    .collect();
    let finals = [
        "published",
        "held",
        "parked",
        "rejected",
        "invalid",
        "duplicate",
        "quarantined",
        // Objections and complaints: kept with their procedure, never published.
        "recorded",
    ];

    // 2. The feed: no duplicate publication, and the follower saw each entry once.
    let entries = scalar(&db, "SELECT count(*) FROM feed_entries").await;
    let published_twice = scalar(
        &db,
        "SELECT count(*) FROM (SELECT notice_id FROM feed_entries WHERE event_type = 'notice.published' \
         GROUP BY notice_id HAVING count(*) > 1) t",
    )
    .await;
    let published_without_entry = scalar(
        &db,
        "SELECT count(*) FROM receipt_records r WHERE r.status = 'published' AND NOT EXISTS \
         (SELECT 1 FROM feed_entries f WHERE f.notice_id = r.notice_id AND f.event_type = 'notice.published')",
    )
    .await;
    let store_seqs: BTreeSet<i64> = sqlx::query_scalar("SELECT seq FROM feed_entries")
        .fetch_all(&db)
        .await
        .expect("seqs")
        .into_iter()
        .collect();
    wait_for(&mut p, "the stream follower is behind", patience, || {
        let seen = seen.clone();
        let want = store_seqs.len();
        async move {
            let n = seen.lock().expect("lock").len();
            if n >= want {
                Ok(true)
            } else {
                Err(format!("{n} of {want} entries"))
            }
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let _ = follower.await;
    let followed = seen.lock().expect("lock").clone();
    let followed_set: BTreeSet<i64> = followed.iter().copied().collect();
    let missed = store_seqs.difference(&followed_set).count();
    let phantom = followed_set.difference(&store_seqs).count();
    // Sequence numbers taken by a transaction that rolled back leave holes that no entry fills;
    // readers page by seq, so a hole is harmless as long as nothing arrives in it later.
    let holes = store_seqs
        .last()
        .map_or(0, |max| *max as usize - store_seqs.len());
    let repeated = followed.len() - followed_set.len();
    let out_of_order = followed.windows(2).filter(|w| w[0] >= w[1]).count();

    // 3. Holds: every hold timer fired, and its notice is published once.
    let holds = scalar(&db, "SELECT count(*) FROM timers WHERE kind = 'hold'").await;
    let holds_fired = scalar(
        &db,
        "SELECT count(*) FROM timers WHERE kind = 'hold' AND fired_at IS NOT NULL",
    )
    .await;
    let holds_published_once = scalar(
        &db,
        "SELECT count(*) FROM timers t WHERE kind = 'hold' AND (SELECT count(*) FROM feed_entries f \
         WHERE f.notice_id = t.notice_id AND f.event_type = 'notice.published') = 1",
    )
    .await;

    // 4. Search index against the feed store.
    let published_ids: BTreeSet<String> = sqlx::query_scalar(
        "SELECT DISTINCT notice_id FROM feed_entries WHERE event_type = 'notice.published'",
    )
    .fetch_all(&db)
    .await
    .expect("ids")
    .into_iter()
    .collect();
    let search_started = Instant::now();
    let indexed = loop {
        let indexed = indexed_ids(&p.url, &db).await;
        if indexed == published_ids {
            break indexed;
        }
        assert!(
            search_started.elapsed() < patience,
            "search index and feed store differ: {} indexed, {} published; {} not indexed, {} indexed but not published",
            indexed.len(),
            published_ids.len(),
            published_ids.difference(&indexed).count(),
            indexed.difference(&published_ids).count()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };

    // 5. Webhooks: every entry of the subscription's feed arrived at least once.
    let expected_deliveries = feed_ids(format!("{}/feeds/notices.json?region=32", p.url)).await;
    wait_for(&mut p, "webhook deliveries missing", patience, || {
        let (items, want) = (receiver.items.clone(), expected_deliveries.clone());
        async move {
            let got = items.lock().expect("lock");
            let lost = want.iter().filter(|id| !got.contains_key(*id)).count();
            if lost == 0 {
                Ok(true)
            } else {
                Err(format!("{lost} of {} not delivered yet", want.len()))
            }
        }
    })
    .await;
    let delivered = receiver.items.lock().expect("lock").clone();
    let lost = expected_deliveries
        .iter()
        .filter(|id| !delivered.contains_key(*id))
        .count();
    let unexpected = delivered
        .keys()
        .filter(|id| !expected_deliveries.contains(*id))
        .count();
    let delivered_again: usize = delivered.values().map(|n| n - 1).sum();

    // The report.
    let mut report = String::new();
    let _ = writeln!(
        report,
        "chaos run: {} records in {} documents, seed {seed}, {:.0} s",
        records.len(),
        receipts.len(),
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        report,
        "generated: {} procedures out of order, {} with a record sent twice, {} invalid, {} with a rejected deadline",
        twists.out_of_order, twists.duplicated, twists.invalid, twists.rejected
    );
    if !owned {
        let _ = writeln!(
            report,
            "broker and PostgreSQL faults skipped: scripts/stack does not run these servers"
        );
    }
    let _ = writeln!(
        report,
        "\n| fault injected | after records settled | down |"
    );
    let _ = writeln!(report, "|---|---:|---:|");
    for (label, at, down) in &injected {
        let _ = writeln!(report, "| {label} | {at} | {:.1} s |", down.as_secs_f64());
    }
    let _ = writeln!(report, "\n| final state | records |\n|---|---:|");
    for state in finals {
        let _ = writeln!(
            report,
            "| {state} | {} |",
            by_state.get(state).unwrap_or(&0)
        );
    }
    let _ = writeln!(
        report,
        "| (held before the clock moved on) | {held_before} |\n| **sent / in the store** | {sent} / {in_store} |"
    );
    let _ = writeln!(report, "\n| invariant | value |\n|---|---:|");
    for (name, value) in [
        ("feed entries", entries as usize),
        ("notices published more than once", published_twice as usize),
        (
            "published records without a feed entry",
            published_without_entry as usize,
        ),
        ("stream: entries received", followed.len()),
        ("stream: entries missed", missed),
        ("stream: entries repeated", repeated),
        ("stream: entries not in the store", phantom),
        ("seq numbers never used (rolled back)", holes),
        ("stream: out of order", out_of_order),
        ("hold timers", holds as usize),
        ("hold timers fired", holds_fired as usize),
        (
            "held notices published exactly once",
            holds_published_once as usize,
        ),
        ("search index / feed store notices", indexed.len()),
        (
            "webhook deliveries expected (region 32)",
            expected_deliveries.len(),
        ),
        ("webhook deliveries lost", lost),
        (
            "webhook deliveries repeated (at-least-once)",
            delivered_again,
        ),
        (
            "webhook requests",
            receiver.requests.load(Ordering::Relaxed),
        ),
    ] {
        let _ = writeln!(report, "| {name} | {value} |");
    }
    eprintln!("{report}");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/chaos");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("report.txt"), &report);

    let logs = p.dir.display().to_string();
    assert_eq!(in_store, sent, "records lost; logs in {logs}\n{report}");
    assert!(
        by_state.keys().all(|s| finals.contains(&s.as_str())),
        "records outside the final states; logs in {logs}\n{report}"
    );
    assert_eq!(
        by_state.get("quarantined"),
        None,
        "faults of processes, broker and database quarantine nothing; logs in {logs}\n{report}"
    );
    assert!(
        by_state.get("published").is_some_and(|n| *n > 0)
            && ["parked", "rejected", "invalid", "duplicate", "recorded"]
                .iter()
                .all(|s| by_state.contains_key(*s)),
        "the generator reaches every final state\n{report}"
    );
    assert_eq!(published_twice, 0, "{report}");
    assert_eq!(published_without_entry, 0, "{report}");
    assert_eq!(
        (missed, repeated, out_of_order, phantom),
        (0, 0, 0, 0),
        "{report}"
    );
    assert!(
        holds > 0 && held_before > 0,
        "the run held notices\n{report}"
    );
    assert_eq!(holds_fired, holds, "{report}");
    assert_eq!(holds_published_once, holds, "{report}");
    assert_eq!(indexed, published_ids, "{report}");
    assert_eq!((lost, unexpected), (0, 0), "{report}");
    assert!(
        injected.len() >= SERVICES.len(),
        "every service was killed\n{report}"
    );
}

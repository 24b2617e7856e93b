//! Test support: start gongshi as real processes against the real local stack, each test with
//! its own database, topic prefix, port and clock file, and talk to it over HTTP.
//!
//! Needs `DATABASE_URL` and `GONGSHI_KAFKA_BROKERS` (what `eval "$(scripts/stack up)"` exports);
//! the `gongshi` binary is taken from the same target folder as the test binary.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The ingest token every test pipeline accepts.
pub const TOKEN: &str = "test-ingest-token";

/// Subscriber tokens every test pipeline accepts (two bidders).
pub const SUBSCRIBER_TOKENS: &str = "bidder-one-token,bidder-two-token";

/// The operators every test pipeline knows (`GONGSHI_OPERATOR_TOKENS`): `ops-test` signs in with
/// [`OPERATOR_TOKEN`].
pub const OPERATOR_TOKENS: &str = "ops-test:ops-test-token,ops-other:ops-other-token";

/// The token of operator `ops-test`.
pub const OPERATOR_TOKEN: &str = "ops-test-token";

/// The Python interpreter the tests drive real clients with (feedparser, jsonschema):
/// `GONGSHI_TEST_PYTHON` as scripts/test exports it, else the venv `scripts/pyenv` prepares.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("GONGSHI_TEST_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "GONGSHI_TEST_PYTHON={} does not exist",
            p.display()
        );
        return p;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/pyenv");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    assert!(
        out.status.success(),
        "scripts/pyenv failed; set GONGSHI_TEST_PYTHON to a Python with scripts/requirements-test.txt"
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Runs `tests/python/<script>` with [`python`] and returns its stdout as JSON; panics with
/// its stderr when it fails.
pub fn run_python(script: &str, args: &[&std::ffi::OsStr]) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(script);
    let out = Command::new(python())
        .arg(&path)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python output is JSON")
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test (it starts the local stack)")
    })
}

/// The `gongshi` binary next to the test binary (`target/<profile>/gongshi`), or `GONGSHI_BIN`.
pub fn gongshi_bin() -> PathBuf {
    if let Ok(p) = std::env::var("GONGSHI_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("gongshi");
    assert!(
        bin.exists(),
        "{} not built: run `cargo build -p gongshi` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// A free loopback port (bound and released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// One isolated gongshi deployment: its own database, topics, port and clock.
pub struct Pipeline {
    /// Gateway base URL.
    pub url: String,
    /// This pipeline's database.
    pub database_url: String,
    /// Scratch folder (clock file, logs).
    pub dir: PathBuf,
    prefix: String,
    port: u16,
    extra_env: Vec<(String, String)>,
    children: Vec<(String, Child)>,
    client: reqwest::Client,
}

impl Pipeline {
    /// Creates the database and prepares (but does not start) the processes.
    pub async fn new(now: &str) -> Pipeline {
        let server_url = env("DATABASE_URL");
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db = format!("gongshi_test_{}", &id[..12]);
        let admin = sqlx::PgPool::connect(&server_url)
            .await
            .expect("connect to the test PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        let base = server_url
            .rsplit_once('/')
            .map_or(server_url.as_str(), |(b, _)| b)
            .to_owned();
        let dir = std::env::temp_dir().join(format!("gongshi-test-{}", &id[..12]));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let port = free_port();
        let p = Pipeline {
            url: format!("http://127.0.0.1:{port}"),
            database_url: format!("{base}/{db}"),
            dir,
            prefix: format!("t{}.", &id[..10]),
            port,
            extra_env: Vec::new(),
            children: Vec::new(),
            client: reqwest::Client::new(),
        };
        p.set_now(now);
        p
    }

    /// Starts `gongshi run` and waits until it is ready.
    pub async fn start(now: &str) -> Pipeline {
        let mut p = Pipeline::new(now).await;
        p.spawn("run");
        p.wait_ready().await;
        p
    }

    /// Sets an environment variable for the processes started after this call.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.extra_env.push((name.to_owned(), value.to_owned()));
    }

    /// Starts one subcommand (`run`, `gateway`, `validate`, `enforce`, `publish`) as a process.
    pub fn spawn(&mut self, service: &str) {
        self.spawn_with(service, &[]);
    }

    /// Starts one subcommand with extra environment variables over the pipeline's (e.g. an
    /// `ingest` process on a `GONGSHI_LISTEN` of its own beside the gateway).
    pub fn spawn_with(&mut self, service: &str, env: &[(&str, &str)]) {
        let log_path = self
            .dir
            .join(format!("{service}-{}.log", self.children.len()));
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = self
            .command(service)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn gongshi");
        self.children.push((service.to_owned(), child));
    }

    /// A `gongshi` subcommand with this pipeline's configuration in its environment.
    pub fn command(&self, subcommand: &str) -> Command {
        let mut command = Command::new(gongshi_bin());
        command
            .arg(subcommand)
            .env("DATABASE_URL", &self.database_url)
            .env("GONGSHI_KAFKA_BROKERS", env("GONGSHI_KAFKA_BROKERS"))
            .env("GONGSHI_TOPIC_PREFIX", &self.prefix)
            .env("GONGSHI_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("GONGSHI_INGEST_TOKENS", TOKEN)
            .env("GONGSHI_CLOCK_FILE", self.dir.join("now"))
            .env("GONGSHI_TICK_MS", "100")
            .env("GONGSHI_DATA_DIR", self.dir.join("data"))
            .env("GONGSHI_SUBSCRIBER_TOKENS", SUBSCRIBER_TOKENS)
            .env("GONGSHI_OPERATOR_TOKENS", OPERATOR_TOKENS)
            // The limiter is on, far above what tests ask (tests/rate_limit.rs sets a real one).
            .env("GONGSHI_RATE_LIMIT_PER_SECOND", "100000")
            .env("GONGSHI_RATE_LIMIT_BURST", "100000")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// The process id of a running service started by [`Pipeline::spawn`] (the first of that
    /// name), to watch it from outside (its memory in `/proc/<pid>/status`, whether it still runs).
    pub fn pid(&self, service: &str) -> Option<u32> {
        self.children
            .iter()
            .find(|(name, _)| name == service)
            .map(|(_, child)| child.id())
    }

    /// Whether a service started by [`Pipeline::spawn`] is still running (it has not exited or
    /// crashed since).
    pub fn is_running(&mut self, service: &str) -> bool {
        self.children
            .iter_mut()
            .find(|(name, _)| name == service)
            .is_some_and(|(_, child)| matches!(child.try_wait(), Ok(None)))
    }

    /// Kills a running service with SIGKILL: no shutdown, no final commit.
    pub fn kill(&mut self, service: &str) {
        for (name, child) in &mut self.children {
            if name == service {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        self.children.retain(|(name, _)| name != service);
    }

    /// Sets the pipeline's clock (RFC 3339).
    pub fn set_now(&self, now: &str) {
        // Renamed into place whole: a process reading mid-write would see no instant.
        let next = self.dir.join("now.next");
        std::fs::write(&next, now).expect("clock file");
        std::fs::rename(&next, self.dir.join("now")).expect("clock file");
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = self.client.get(format!("{}/readyz", self.url)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "gongshi not ready after 60 s; logs in {}",
            self.dir.display()
        );
    }

    /// POSTs a document; returns status and JSON body.
    pub async fn post(
        &self,
        content_type: &str,
        body: impl Into<Vec<u8>>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}/v1/notices", self.url))
            .header("content-type", content_type)
            .body(body.into());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("post");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POSTs an XML document with the test token and returns its receipt id.
    pub async fn submit(&self, xml: &str) -> String {
        let (status, body) = self
            .post("application/xml", xml.as_bytes().to_vec(), Some(TOKEN))
            .await;
        assert_eq!(status, 202, "{body}");
        body["receipt"].as_str().expect("receipt").to_owned()
    }

    /// Submits an XML document of one record, waits until it is published and returns its
    /// notice id.
    pub async fn publish(&self, xml: &str) -> String {
        let receipt = self.submit(xml).await;
        let body = self.wait_receipt(&receipt, |s| s == "published").await;
        body["records"][0]["notice_id"]
            .as_str()
            .expect("notice id")
            .to_owned()
    }

    async fn send_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("get")
    }

    /// GETs a path; returns status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.send_get(path).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// GETs a path; returns status and body text (a page).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self.send_get(path).await;
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }

    /// GETs a search path (`/v1/search?…`) until `found` holds for its answer, for 20 s at
    /// most. Search follows the feed: the publish stage commits the index on its own thread a
    /// moment after the feed entries and the receipts.
    pub async fn search_until(&self, path: &str, found: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (status, body) = self.get(path).await;
            assert_eq!(status, 200, "{path}: {body}");
            if found(&body) {
                return body;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{path} did not find it: {body}; logs in {}",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls a receipt until every record's status satisfies `done`.
    pub async fn wait_receipt(&self, receipt: &str, done: impl Fn(&str) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (status, body) = self.get(&format!("/v1/receipts/{receipt}")).await;
            let all_done = body["records"].as_array().is_some_and(|r| {
                !r.is_empty()
                    && r.iter()
                        .all(|rec| done(rec["status"].as_str().unwrap_or("")))
            });
            if status == 200 && all_done {
                return body;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "receipt {receipt} not done: {body}; logs in {}",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Every event on one of this pipeline's topics (`gongshi.notices.public.v1`, …), read from
    /// the beginning by a fresh consumer group until the topic stays quiet for two seconds.
    pub async fn events(&self, topic: &str) -> Vec<Value> {
        use rdkafka::consumer::{Consumer, StreamConsumer};
        use rdkafka::message::Message;
        let consumer: StreamConsumer = rdkafka::config::ClientConfig::new()
            .set("bootstrap.servers", env("GONGSHI_KAFKA_BROKERS"))
            .set(
                "group.id",
                format!("{}reader.{}", self.prefix, uuid::Uuid::new_v4().simple()),
            )
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer
            .subscribe(&[&format!("{}{topic}", self.prefix)])
            .expect("subscribe");
        let mut out = Vec::new();
        loop {
            // A new group's first fetch can take a while; after the first event, two quiet seconds end it.
            let quiet = if out.is_empty() {
                Duration::from_secs(15)
            } else {
                Duration::from_secs(2)
            };
            match tokio::time::timeout(quiet, consumer.recv()).await {
                Ok(Ok(m)) => out.push(
                    serde_json::from_slice(m.payload().unwrap_or_default()).expect("event JSON"),
                ),
                Ok(Err(e)) => panic!("reading {topic}: {e}"),
                Err(_) => return out,
            }
        }
    }

    /// Puts raw bytes on one of this pipeline's topics, as a broken or hostile producer would.
    pub async fn produce(&self, topic: &str, key: &str, body: &[u8]) {
        use rdkafka::producer::{FutureProducer, FutureRecord};
        let producer: FutureProducer = rdkafka::config::ClientConfig::new()
            .set("bootstrap.servers", env("GONGSHI_KAFKA_BROKERS"))
            .create()
            .expect("producer");
        let name = format!("{}{topic}", self.prefix);
        producer
            .send(
                FutureRecord::to(&name).key(key).payload(body),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produce");
    }

    /// Creates one of this pipeline's topics (before gongshi does) taking events of at most
    /// `max_message_bytes`, as a topic made with an older gongshi or another broker's default.
    pub async fn create_topic(&self, topic: &str, max_message_bytes: usize) {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        let admin: AdminClient<rdkafka::client::DefaultClientContext> =
            rdkafka::config::ClientConfig::new()
                .set("bootstrap.servers", env("GONGSHI_KAFKA_BROKERS"))
                .create()
                .expect("admin client");
        let name = format!("{}{topic}", self.prefix);
        let limit = max_message_bytes.to_string();
        let new =
            NewTopic::new(&name, 1, TopicReplication::Fixed(1)).set("max.message.bytes", &limit);
        for result in admin
            .create_topics([&new], &AdminOptions::new())
            .await
            .expect("create topic")
        {
            result.expect("topic created");
        }
    }

    /// A connection pool on this pipeline's database.
    pub async fn db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database_url)
            .await
            .expect("connect")
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A validator for one topic's events (`schemas/topics/<topic>.schema.json`).
pub fn topic_validator(topic: &str) -> jsonschema::Validator {
    gongshi_domain::events::schema_validator(topic).expect("topic schema compiles")
}

/// Reads a sample notice file from `examples/notices/`.
pub fn sample(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/notices")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Generated works tender notice `n` of run `run` (a distinct project code for each pair), for
/// benchmarks.
pub fn generated_tender(n: usize, run: &str) -> String {
    format!(
        "<TENDER_ANN_QUA_INQUERY_ANN><TENDER_PROJECT_CODE>E320301{run}{n:08}</TENDER_PROJECT_CODE>\
         <BID_SECTION_CODES>E320301{run}{n:08}001</BID_SECTION_CODES><NOTICE_NAME>第{n}号道路工程施工招标公告</NOTICE_NAME>\
         <NOTICE_CONTENT>现对该项目的施工进行公开招标。项目概况与招标范围：道路、桥梁、排水及附属工程。</NOTICE_CONTENT>\
         <NOTICE_SEND_TIME>2025-03-03 09:00</NOTICE_SEND_TIME><BULLETIN_TYPE>1</BULLETIN_TYPE><NOTICE_NATURE>1</NOTICE_NATURE>\
         <DOC_GET_START_TIME>2025-03-03 09:00</DOC_GET_START_TIME><DOC_GET_END_TIME>2025-03-10 17:00</DOC_GET_END_TIME>\
         <BID_DOC_REFER_END_TIME>2025-03-25 09:30</BID_DOC_REFER_END_TIME><TENDERER_NAME>徐州市城市建设投资有限公司</TENDERER_NAME>\
         <TENDERER_CODE>91320300MA1MXK7Q09</TENDERER_CODE><REGION_CODE>320300</REGION_CODE>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-03 08:55</DATA_TIMESTAMP></TENDER_ANN_QUA_INQUERY_ANN>"
    )
}

/// POSTs one XML document with the test token; panics unless it is accepted.
pub async fn post_document(client: reqwest::Client, url: String, body: String) {
    post_document_as(client, url, "application/xml", body).await;
}

/// POSTs one document of `content_type` with the test token; panics unless it is accepted.
pub async fn post_document_as(
    client: reqwest::Client,
    url: String,
    content_type: &'static str,
    body: String,
) {
    let r = client
        .post(format!("{url}/v1/notices"))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 202);
}

/// The fields that tie a record to its procedure (project, section, deal and land codes), in
/// every table of the data standard's four blocks.
const PROCEDURE_CODE_FIELDS: [&str; 10] = [
    "TENDER_PROJECT_CODE",
    "BID_SECTION_CODE",
    "BID_SECTION_CODES",
    "PURCHASE_PROJECT_CODE",
    "PURCHASE_SECTION_CODE",
    "PROJECT_CODE",
    "UNIFIED_DEAL_CODE",
    "UNIFIED_DEAL_CODES",
    "LAND_CODE",
    "DEAL_LAND_CODE",
];

/// `count` JSON records of every notice table, for benchmarks: the valid schema examples
/// (`schemas/tables/examples/<TABLE>/valid/*.json`, 36 records of 18 tables) in turn, copy `k`
/// of each with `-{run}{k}` after every procedure code. The examples of one procedure stay one
/// procedure in each copy, so a copy holds tenders with their clarifications, candidates,
/// awards and terminations, procurement notices with their corrections and results, land,
/// mining and property notices with their results, and objections and complaints — in table
/// order, so some children arrive before their parents (parked, then released).
pub fn mixed_notices(count: usize, run: &str) -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/tables/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("schema examples")
        .flat_map(|table| {
            let valid = table.expect("entry").path().join("valid");
            std::fs::read_dir(valid)
                .into_iter()
                .flatten()
                .map(|f| f.expect("entry").path())
        })
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let examples: Vec<Value> = files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).expect("read")).expect("json"))
        .collect();
    (0..count)
        .map(|i| {
            let mut record = examples[i % examples.len()].clone();
            let suffix = format!("-{run}{}", i / examples.len());
            for field in PROCEDURE_CODE_FIELDS {
                match record.get_mut(field) {
                    Some(Value::String(code)) => code.push_str(&suffix),
                    Some(Value::Array(codes)) => {
                        for code in codes {
                            if let Value::String(code) = code {
                                code.push_str(&suffix);
                            }
                        }
                    }
                    _ => {}
                }
            }
            record
        })
        .collect()
}

/// The OCDS 1.1.5 checker (official release-package and release schemas and codelists from
/// `../shared/ocds-1.1.5`, next to the repository).
pub fn ocds_checker() -> gongshi_domain::ocds::validate::Checker {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/ocds-1.1.5");
    let load = |name: &str| -> Value {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (shared/ must sit next to the repository)",
                path.display()
            )
        });
        serde_json::from_str(&text).expect("schema JSON")
    };
    let mut codelists = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("codelists")).expect("codelists folder") {
        let path = entry.expect("codelist").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let csv = std::fs::read_to_string(&path).expect("codelist text");
        codelists.insert(name, gongshi_domain::ocds::validate::codelist_codes(&csv));
    }
    gongshi_domain::ocds::validate::Checker::new(
        load("release-package-schema.json"),
        load("release-schema.json"),
        codelists,
    )
    .and_then(|c| c.with_record_package(load("record-package-schema.json")))
    .expect("OCDS schemas compile")
}

/// A works tender notice of `project` (section `<project>001`) with its title and region, for tests
/// that filter by words and region.
pub fn works_tender(project: &str, title: &str, region: &str) -> String {
    format!(
        "<TENDER_ANN_QUA_INQUERY_ANN><TENDER_PROJECT_CODE>{project}</TENDER_PROJECT_CODE>\
         <BID_SECTION_CODES>{project}001</BID_SECTION_CODES><NOTICE_NAME>{title}</NOTICE_NAME>\
         <NOTICE_CONTENT>现对该项目的施工进行公开招标。</NOTICE_CONTENT><NOTICE_SEND_TIME>2025-03-03 09:00</NOTICE_SEND_TIME>\
         <BULLETIN_TYPE>1</BULLETIN_TYPE><NOTICE_NATURE>1</NOTICE_NATURE><DOC_GET_START_TIME>2025-03-03 09:00</DOC_GET_START_TIME>\
         <DOC_GET_END_TIME>2025-03-10 17:00</DOC_GET_END_TIME><BID_DOC_REFER_END_TIME>2025-03-25 09:30</BID_DOC_REFER_END_TIME>\
         <TENDERER_NAME>徐州市城市建设投资有限公司</TENDERER_NAME><REGION_CODE>{region}</REGION_CODE>\
         <PLATFORM_CODE>JSGGZY</PLATFORM_CODE><DATA_TIMESTAMP>2025-03-03 08:55</DATA_TIMESTAMP></TENDER_ANN_QUA_INQUERY_ANN>"
    )
}

/// A `notice.published` payload: `partial`'s fields over plain defaults (a works tender of
/// procedure JSGGZY/P/S with no record, windows or warnings), for tests that write feed entries
/// directly.
pub fn published_payload(partial: Value) -> Value {
    let mut payload = serde_json::json!({
        "notice_id": "0000000000000000000000000000feed", "table": "TENDER_ANN_QUA_INQUERY_ANN",
        "kind": "tender", "regime": "works", "region": null, "title": "", "sent_at": null,
        "published_at": "2025-03-03T01:00:00Z",
        "procedure": {"platform": "JSGGZY", "project": "P", "section": "S"},
        "record": {}, "windows": {}, "warnings": [],
    });
    for (k, v) in partial.as_object().into_iter().flatten() {
        payload[k] = v.clone();
    }
    if partial.get("procedures").is_none() {
        payload["procedures"] = serde_json::json!([payload["procedure"].clone()]);
    }
    payload
}

/// The typed event of [`published_payload`].
pub fn published_event(partial: Value) -> gongshi_domain::events::NoticePublished {
    serde_json::from_value(published_payload(partial)).expect("a notice.published payload")
}

/// Serves `app` on a free loopback port in the background (a webhook receiver, say) and returns
/// `http://127.0.0.1:<port>`.
pub async fn serve_locally(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[path = "support/browser.rs"]
pub mod browser;

#[path = "support/fixtures.rs"]
pub mod fixtures;

/// Checks `html` (the page at `what`) with html5lib, the reference HTML5 parser
/// (`tests/python/html_check.py`): panics naming every parse error and when `<html lang>` is
/// not `zh-CN`.
pub fn assert_html5(what: &str, html: &str) {
    let file = std::env::temp_dir().join(format!("gongshi-page-{}.html", uuid::Uuid::new_v4()));
    std::fs::write(&file, html).expect("write page");
    let report = run_python("html_check.py", &[file.as_os_str()]);
    let _ = std::fs::remove_file(&file);
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors.is_empty(),
        "{what} is not well-formed HTML5: {}",
        serde_json::to_string_pretty(&errors).unwrap_or_default()
    );
    assert_eq!(report["lang"], "zh-CN", "{what}: <html lang> must be zh-CN");
}

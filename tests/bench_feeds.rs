//! Feed benchmark on this machine's real stack, with `wrk` as the client. Prints, in one run:
//! 1. nginx serving the bytes of the gateway's newest Atom page as a static file — the reference;
//! 2. the gateway's newest Atom page (the page every reader polls), rendered from the feed store;
//! 3. the same page revalidated by a reader that holds it (`If-None-Match`, answered 304);
//! 4. a filtered Atom page (`q` + `region`, the search filters);
//!
//! Each as requests/s and p99 latency, and the ratios to nginx.
//!
//! Run it with `scripts/bench/feeds.sh` (installs wrk and nginx-light from Debian, release build,
//! local stack). `GONGSHI_BENCH_NOTICES` (default 2000) notices are published first;
//! `GONGSHI_BENCH_SECONDS` (default 10) per wrk run, `GONGSHI_BENCH_CONNECTIONS` (default 32).

use gongshi_tests::{Pipeline, generated_tender, post_document};
use std::process::Command;
use std::time::{Duration, Instant};

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One wrk run's figures.
struct Load {
    requests_per_s: f64,
    p99_ms: f64,
    non_2xx: u64,
}

/// A wrk duration like `1.23ms`, `850.00us` or `1.02s`, in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => return None,
    })
}

fn wrk(url: &str, seconds: usize, connections: usize, header: Option<&str>) -> Load {
    let mut args = vec![
        "--latency".to_owned(),
        "-t2".to_owned(),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
    ];
    if let Some(h) = header {
        args.extend(["-H".to_owned(), h.to_owned()]);
    }
    args.push(url.to_owned());
    let out = Command::new("wrk")
        .args(&args)
        .output()
        .expect("run wrk (scripts/bench/feeds.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
    };
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Load {
        requests_per_s: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p99_ms: field("99%").as_deref().and_then(millis).unwrap_or(f64::NAN),
        non_2xx,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::main]
async fn main() {
    let notices = var("GONGSHI_BENCH_NOTICES", 2000);
    let seconds = var("GONGSHI_BENCH_SECONDS", 10);
    let connections = var("GONGSHI_BENCH_CONNECTIONS", 32);
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let db = p.db().await;

    let per_doc = 100;
    let client = reqwest::Client::new();
    for d in 0..notices.div_ceil(per_doc) {
        let batch: String = (0..per_doc)
            .map(|i| generated_tender(d * per_doc + i, "3"))
            .collect();
        post_document(
            client.clone(),
            p.url.clone(),
            format!("<BATCH>{batch}</BATCH>"),
        )
        .await;
    }
    let total = (notices.div_ceil(per_doc) * per_doc) as i64;
    let start = Instant::now();
    loop {
        let published: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM feed_entries WHERE event_type = 'notice.published'",
        )
        .fetch_one(&db)
        .await
        .expect("count");
        if published >= total {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "pipeline did not publish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "{total} notices published; feed pages measured with wrk -t2 -c{connections} -d{seconds}s"
    );

    let newest = format!("{}/feeds/notices.atom", p.url);
    let filtered = format!(
        "{}/feeds/notices.atom?q=%E9%81%93%E8%B7%AF%20%E6%96%BD%E5%B7%A5&region=3203",
        p.url
    );
    let response = client.get(&newest).send().await.expect("atom page");
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("the Atom page has an ETag")
        .to_owned();
    let page = response.bytes().await.expect("body");
    assert!(page.len() > 1000, "the Atom page is suspiciously small");

    // nginx serves the same bytes from a file.
    let root = p.dir.join("nginx");
    std::fs::create_dir_all(root.join("www")).expect("nginx dir");
    std::fs::write(root.join("www/notices.atom"), &page).expect("static copy");
    let port = free_port();
    // As nginx would be deployed on this machine: a worker per core, sendfile, open files cached
    // (one worker used to leave the second core to the gateway alone).
    let conf = format!(
        "worker_processes auto; daemon off; pid {pid}; error_log {log} warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; sendfile on; tcp_nopush on; open_file_cache max=16;\n\
           types {{ application/atom+xml atom; }}\n\
           client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};\n\
           server {{ listen 127.0.0.1:{port}; root {www}; etag on; }} }}\n",
        pid = root.join("nginx.pid").display(),
        log = root.join("error.log").display(),
        tmp = root.display(),
        www = root.join("www").display(),
    );
    std::fs::write(root.join("nginx.conf"), conf).expect("nginx conf");
    let nginx_args = [
        "-c".to_owned(),
        root.join("nginx.conf").display().to_string(),
        "-p".to_owned(),
        root.display().to_string(),
    ];
    // Its output goes nowhere: a worker that outlived the bench would hold `scripts/bench/all`'s
    // pipe open.
    let mut nginx = Command::new("nginx")
        .args(&nginx_args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nginx (scripts/bench/feeds.sh installs it)");
    let static_url = format!("http://127.0.0.1:{port}/notices.atom");
    let ready = Instant::now();
    while client.get(&static_url).send().await.is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(10),
            "nginx did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A single worker on each side: the gateway runs every service in one process on 2 cores.
    let reference = wrk(&static_url, seconds, connections, None);
    // `-s stop` lets the master stop its worker too (a SIGKILL to the master leaves it serving).
    let _ = Command::new("nginx")
        .args(&nginx_args)
        .args(["-s", "stop"])
        .status();
    let _ = nginx.wait();
    let newest_page = wrk(&newest, seconds, connections, None);
    // A feed reader that holds the page revalidates it: If-None-Match, answered 304.
    let revalidated = wrk(
        &newest,
        seconds,
        connections,
        Some(&format!("If-None-Match: {etag}")),
    );
    let searched = wrk(&filtered, seconds, connections, None);
    for (name, load) in [
        ("nginx, same bytes as a static file", &reference),
        ("gateway, newest Atom page", &newest_page),
        ("gateway, newest Atom page revalidated (304)", &revalidated),
        ("gateway, filtered search-backed Atom page", &searched),
    ] {
        println!(
            "{name:<44} {:>9.0} requests/s  p99 {:>8.2} ms  non-2xx {}  ({:.3}× nginx's requests/s)",
            load.requests_per_s,
            load.p99_ms,
            load.non_2xx,
            load.requests_per_s / reference.requests_per_s.max(1e-9)
        );
    }
}

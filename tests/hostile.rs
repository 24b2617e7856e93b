//! Hostile request bodies at the real gateway, run as a process of its own next to validate,
//! enforce and publish: billion laughs, an external entity, 200,000-deep nesting in XML and JSON,
//! invalid UTF-8, an unknown encoding, wrong content types, a gzip bomb, and 100 MB bodies with and
//! without a `Content-Length`. Each is refused with a 4xx and the contract's error body naming what
//! was refused; the gateway's peak memory during the 100 MB bodies stays bounded; a slow chunked
//! upload of a good notice still gets through; and afterwards the gateway is the same process, what
//! was accepted before is still published, and a new notice is accepted and published.

use gongshi_tests::{Pipeline, TOKEN, generated_tender};
use serde_json::Value;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NOW: &str = "2025-04-10T12:00:00+08:00";
const MIB: u64 = 1024 * 1024;
/// What the gateway reads of a body at most (ingest's body limit: 4 × the 2 MiB document limit,
/// at least 16 MiB) before it refuses it.
const BODY_LIMIT: u64 = 16 * MIB;
/// The growth of the gateway's resident memory allowed while it refuses 100 MB bodies: it holds at
/// most `BODY_LIMIT` of one (twice, while the chunks are joined), plus buffers; 150 MiB is far
/// below what reading 100 MB whole would cost and far above what refusing it should.
const PEAK_GROWTH_LIMIT: u64 = 150 * MIB;

/// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`).
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} not in /proc/{pid}/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

/// Samples a process's resident memory every 2 ms until dropped, keeping the highest seen.
struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(proc_status_bytes(pid, "VmRSS"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        RssSampler {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("sampler");
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// How a raw request sends its body.
#[derive(Clone, Copy)]
enum Framing {
    /// With a `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`, no length announced.
    Chunked,
}

/// POSTs `total` bytes (the document `head`, then filler) to `/v1/notices` over a raw connection,
/// in 64 KiB chunks, reading the answer while still sending: a server that refuses a body early
/// answers before the client is done (and may close the connection on the rest), which an HTTP
/// client library that writes first and reads after would report as a reset.
async fn raw_post(url: &str, head: &[u8], total: usize, framing: Framing) -> (u16, Value) {
    let addr = url.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(&addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let mut request = format!(
        "POST /v1/notices HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/xml\r\n"
    );
    match framing {
        Framing::Length => request.push_str(&format!("Content-Length: {total}\r\n\r\n")),
        Framing::Chunked => request.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    let head = head.to_vec();
    let send = tokio::spawn(async move {
        writer.write_all(request.as_bytes()).await?;
        let filler = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let n = (total - sent).min(filler.len());
            let chunk: Vec<u8> = if sent < head.len() {
                let end = head.len().min(sent + n);
                head[sent..end].to_vec()
            } else {
                filler[..n].to_vec()
            };
            if let Framing::Chunked = framing {
                writer
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
            }
            writer.write_all(&chunk).await?;
            if let Framing::Chunked = framing {
                writer.write_all(b"\r\n").await?;
            }
            sent += chunk.len();
        }
        if let Framing::Chunked = framing {
            writer.write_all(b"0\r\n\r\n").await?;
        }
        writer.flush().await?;
        Ok::<_, std::io::Error>(writer)
    });
    let mut response = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    let (status, body) = loop {
        let n = tokio::time::timeout(Duration::from_secs(120), reader.read(&mut buf))
            .await
            .expect("an answer within 120 s")
            .expect("read the answer");
        assert!(
            n > 0,
            "connection closed without a complete answer: {:?}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&buf[..n]);
        let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head_text = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
        let length: usize = head_text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("answers carry a Content-Length");
        if response.len() >= end + 4 + length {
            let status = head_text
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .expect("status");
            break (
                status,
                serde_json::from_slice(&response[end + 4..end + 4 + length]).unwrap_or(Value::Null),
            );
        }
    };
    // The rest of the body is not wanted any more; the writer may already have failed on a closed
    // connection, which is how an early refusal ends.
    send.abort();
    (status, body)
}

/// Asserts the contract's error body: `{"error":{"code","message"}}` with `code` and a message
/// holding `names` (what was refused).
fn assert_refused(what: &str, (status, body): (u16, Value), expect: (u16, &str), names: &str) {
    assert_eq!(status, expect.0, "{what}: {body}");
    assert_eq!(body["error"]["code"], expect.1, "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(names),
        "{what}: the message should name {names:?}: {body}"
    );
}

/// A hostile body's name, the answer it got, the status and code expected, and what the message
/// must name.
type Refusal<'a> = (&'a str, (u16, Value), (u16, &'a str), &'a str);

fn billion_laughs() -> String {
    let mut doc = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        doc.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">",
            format!("&{previous};").repeat(10)
        ));
    }
    doc.push_str("]><TENDER_TERMINATION><REASON>&lol9;</REASON></TENDER_TERMINATION>");
    doc
}

/// 100 MiB of zeros, gzip-compressed (about 100 KB).
fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..100 {
        encoder.write_all(&zeros).expect("compress");
    }
    encoder.finish().expect("compress")
}

#[tokio::test]
async fn hostile_bodies_get_clear_4xx_and_bounded_memory_and_the_gateway_keeps_serving() {
    let mut p = Pipeline::new(NOW).await;
    for service in ["gateway", "validate", "enforce", "publish"] {
        p.spawn(service);
    }
    p.wait_ready().await;
    let gateway = p.pid("gateway").expect("gateway pid");
    let client = reqwest::Client::new();
    let post = |content_type: Option<&str>, encoding: Option<&str>, body: Vec<u8>| {
        let mut req = client
            .post(format!("{}/v1/notices", p.url))
            .bearer_auth(TOKEN)
            .body(body);
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        async move {
            let r = req.send().await.expect("post");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // Accepted before the attack: must still be there after it.
    let before = p.submit(&generated_tender(1, "77")).await;
    p.wait_receipt(&before, |s| s == "published").await;

    let xml = Some("application/xml");
    let deep_xml = format!("{}{}", "<A>".repeat(200_000), "</A>".repeat(200_000));
    let deep_array = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let deep_object = format!("{}1{}", "{\"A\":".repeat(200_000), "}".repeat(200_000));
    let external = "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
                    <TENDER_TERMINATION><REASON>&xxe;</REASON></TENDER_TERMINATION>";
    let refusals: Vec<Refusal> = vec![
        (
            "billion laughs",
            post(xml, None, billion_laughs().into_bytes()).await,
            (400, "DOC-XML"),
            "&lol9;",
        ),
        (
            "external entity",
            post(xml, None, external.as_bytes().to_vec()).await,
            (400, "DOC-XML"),
            "&xxe;",
        ),
        (
            "200k-deep XML",
            post(xml, None, deep_xml.into_bytes()).await,
            (400, "DOC-XML"),
            "nesting too deep",
        ),
        (
            "200k-deep JSON array",
            post(Some("application/json"), None, deep_array.into_bytes()).await,
            (400, "DOC-JSON"),
            "recursion limit",
        ),
        (
            "200k-deep JSON object",
            post(Some("application/json"), None, deep_object.into_bytes()).await,
            (400, "DOC-JSON"),
            "recursion limit",
        ),
        (
            "invalid UTF-8",
            post(
                xml,
                None,
                b"<TENDER_TERMINATION><REASON>\xff\xfe</REASON></TENDER_TERMINATION>".to_vec(),
            )
            .await,
            (400, "DOC-ENCODING"),
            "invalid byte sequence at byte 28",
        ),
        (
            "unknown encoding",
            post(
                xml,
                None,
                b"<?xml version=\"1.0\" encoding=\"KLINGON\"?><A/>".to_vec(),
            )
            .await,
            (400, "DOC-ENCODING"),
            "KLINGON",
        ),
        (
            "empty body",
            post(xml, None, Vec::new()).await,
            (400, "DOC-EMPTY"),
            "empty document",
        ),
        (
            "text/plain",
            post(Some("text/plain"), None, b"<A/>".to_vec()).await,
            (415, "unsupported-media-type"),
            "text/plain",
        ),
        (
            "multipart",
            post(
                Some("multipart/form-data; boundary=x"),
                None,
                b"--x--".to_vec(),
            )
            .await,
            (415, "unsupported-media-type"),
            "multipart/form-data",
        ),
        (
            "no content type",
            post(None, None, b"<A/>".to_vec()).await,
            (415, "unsupported-media-type"),
            "application/xml",
        ),
        (
            "gzip bomb",
            post(xml, Some("gzip"), gzip_bomb()).await,
            (415, "unsupported-media-type"),
            "Content-Encoding 'gzip'",
        ),
        (
            "3 MiB document",
            post(
                xml,
                None,
                format!("<A><B>{}</B></A>", "x".repeat(3 * 1024 * 1024)).into_bytes(),
            )
            .await,
            (413, "DOC-TOO-LARGE"),
            "document too large",
        ),
    ];
    for (what, answer, expect, names) in refusals {
        assert_refused(what, answer, expect, names);
    }

    // 100 MB, announced and not: the gateway's resident memory is sampled throughout, and its
    // high-water mark (reset first where the kernel allows) read after.
    let idle = proc_status_bytes(gateway, "VmRSS");
    let hwm_reset = std::fs::write(format!("/proc/{gateway}/clear_refs"), "5").is_ok();
    let sampler = RssSampler::start(gateway);
    let head = b"<TENDER_TERMINATION><REASON>";
    let hundred_mb = 100 * 1000 * 1000;
    let started = std::time::Instant::now();
    let announced = raw_post(&p.url, head, hundred_mb, Framing::Length).await;
    let announced_time = started.elapsed();
    let started = std::time::Instant::now();
    let chunked = raw_post(&p.url, head, hundred_mb, Framing::Chunked).await;
    let chunked_time = started.elapsed();
    // Give a late allocation time to show.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sampled_peak = sampler.finish();
    let hwm = proc_status_bytes(gateway, "VmHWM");
    let after = proc_status_bytes(gateway, "VmRSS");
    let peak = if hwm_reset {
        sampled_peak.max(hwm)
    } else {
        sampled_peak
    };
    let mib = |b: u64| b as f64 / MIB as f64;
    println!(
        "gateway pid {gateway} memory during two 100 MB bodies: idle RSS {:.1} MiB, peak RSS \
         {:.1} MiB (sampled {:.1}, VmHWM {:.1}{}), growth {:.1} MiB (limit {:.0}), RSS after \
         {:.1} MiB; refused in {announced_time:?} (Content-Length) and {chunked_time:?} (chunked)",
        mib(idle),
        mib(peak),
        mib(sampled_peak),
        mib(hwm),
        if hwm_reset {
            ", reset before"
        } else {
            ", not resettable: since start"
        },
        mib(peak.saturating_sub(idle)),
        mib(PEAK_GROWTH_LIMIT),
        mib(after),
    );
    assert_refused(
        "100 MB with Content-Length",
        announced,
        (413, "DOC-TOO-LARGE"),
        "Content-Length",
    );
    assert_refused(
        "100 MB chunked",
        chunked,
        (413, "DOC-TOO-LARGE"),
        &format!("over the limit of {BODY_LIMIT} bytes"),
    );
    assert!(
        peak.saturating_sub(idle) < PEAK_GROWTH_LIMIT,
        "the gateway grew by {:.1} MiB refusing 100 MB bodies",
        mib(peak.saturating_sub(idle))
    );

    // A slow client is not a hostile one: a good notice sent in 40 chunks over some two seconds
    // is accepted.
    let (status, body) = slow_upload(&p.url, generated_tender(2, "77").as_bytes()).await;
    assert_eq!(status, 202, "slow upload: {body}");
    let slow = body["receipt"].as_str().expect("receipt").to_owned();

    // The same gateway process is still serving; nothing accepted before was lost; a new notice
    // goes all the way.
    assert!(p.is_running("gateway"), "the gateway process exited");
    assert_eq!(p.pid("gateway"), Some(gateway));
    let after_receipt = p.submit(&generated_tender(3, "77")).await;
    for receipt in [&before, &slow, &after_receipt] {
        p.wait_receipt(receipt, |s| s == "published").await;
    }
    let (status, feed) = p.get("/feeds/notices.json").await;
    assert_eq!(status, 200);
    let titles: Vec<&str> = feed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["title"].as_str())
        .collect();
    for n in [1, 2, 3] {
        let title = format!("第{n}号道路工程施工招标公告");
        assert!(
            titles.iter().any(|t| t.contains(&title)),
            "{title} not in the feed: {titles:?}"
        );
    }
}

/// Sends a document in 40 pieces over about two seconds, each as its own HTTP chunk.
async fn slow_upload(url: &str, doc: &[u8]) -> (u16, Value) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/notices HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/xml\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    for piece in doc.chunks(doc.len().div_ceil(40)) {
        stream
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .await
            .expect("chunk");
        stream.write_all(piece).await.expect("chunk");
        stream.write_all(b"\r\n").await.expect("chunk");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stream.write_all(b"0\r\n\r\n").await.expect("end");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("answer");
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

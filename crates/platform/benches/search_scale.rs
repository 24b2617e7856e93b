//! Search at scale: indexes 100,000 and 1,000,000 generated notices and reports index time, index
//! size, memory and query latency (p50/p99) for a fixed query set. The baseline of the same run is
//! a brute-force scan of the same documents in memory (every query word `contains`-matched against
//! simplified title, body and codes); when a Meilisearch is reachable the same run measures it on
//! the same documents and queries.
//!
//! ```sh
//! cargo bench -p gongshi-platform --bench search_scale                      # 100k and 1M, Tantivy
//! GONGSHI_BENCH_SIZES=100000 GONGSHI_BENCH_MEILI_URL=http://127.0.0.1:7700 \
//!   GONGSHI_BENCH_MEILI_PID=$(pgrep meilisearch) cargo bench -p gongshi-platform --bench search_scale
//! ```
//!
//! Memory: Tantivy runs in this process, so its figure is this process's peak resident set while
//! indexing and its resident set while querying (the peak is reset between phases through
//! `/proc/self/clear_refs`); Meilisearch's is the server process's (`GONGSHI_BENCH_MEILI_PID`).

use gongshi_platform::search::generated::doc;
use gongshi_platform::search::{
    MeiliConfig, MeiliIndex, SearchDoc, SearchIndex, SearchQuery, Sort, TantivyIndex, to_simplified,
};
use std::path::Path;
use std::time::{Duration, Instant};

/// Documents generated and written per batch (one commit / one task each).
const BATCH: usize = 10_000;

/// Sentences of real tender notices, added to the generated bodies so that a document has the
/// length of a real one (about 300 characters).
const SECTIONS: [&str; 8] = [
    "一、项目概况：本项目已由相关主管部门批准建设，建设资金来自财政资金，出资比例为100%。",
    "二、投标人资格要求：投标人须具备独立法人资格，具有有效的营业执照，近三年内无重大违法记录。",
    "三、招标文件的获取：凡有意参加投标者，请于公告发布之日起通过电子交易平台下载招标文件。",
    "四、投标文件的递交：投标文件递交的截止时间为开标当日上午九时三十分，逾期送达的投标文件将被拒收。",
    "五、开标时间及地点：开标将在公共资源交易中心开标室通过不见面开标系统进行。",
    "六、发布公告的媒介：本次招标公告同时在中国招标投标公共服务平台和省公共资源交易平台上发布。",
    "七、联系方式：招标代理机构联系人及联系电话详见招标文件，异议应以书面形式提出。",
    "八、其他：本项目不接受联合体投标，投标保证金以电子保函或银行转账方式提交。",
];

fn bench_doc(i: usize) -> SearchDoc {
    let mut d = doc(i);
    for k in 0..5 {
        d.body
            .push_str(SECTIONS[(i.wrapping_mul(7) + k * 3) % SECTIONS.len()]);
    }
    d
}

/// The fixed query set: words, traditional script, codes, filters and sorts.
fn queries(size: usize) -> Vec<(&'static str, SearchQuery)> {
    let words = |q: &str| SearchQuery {
        q: Some(q.to_owned()),
        page: 1,
        per_page: 20,
        ..SearchQuery::default()
    };
    let code = doc(size / 2).codes[0].clone();
    vec![
        ("one word", words("监理")),
        ("two words", words("徐州 道路")),
        ("three words", words("苏州 医院 设计")),
        ("traditional", words("長沙 河道 監理")),
        ("rare words", words("济南 第3批次 施工")),
        ("no match", words("哈尔滨 道路")),
        ("code", words(&code)),
        (
            "words + region",
            SearchQuery {
                region: Some("3203".into()),
                ..words("监理")
            },
        ),
        (
            "words + kind, newest",
            SearchQuery {
                kind: Some("award".into()),
                sort: Sort::PublishedDesc,
                ..words("设备采购")
            },
        ),
        (
            "region filter only, newest",
            SearchQuery {
                region: Some("37".into()),
                sort: Sort::PublishedDesc,
                page: 1,
                per_page: 20,
                ..SearchQuery::default()
            },
        ),
        (
            "date range, newest, page 3",
            SearchQuery {
                from: Some(doc(size / 4).published_at),
                to: Some(doc(size / 4 + 5_000).published_at),
                sort: Sort::PublishedDesc,
                page: 3,
                per_page: 20,
                ..SearchQuery::default()
            },
        ),
        (
            "everything, newest",
            SearchQuery {
                sort: Sort::PublishedDesc,
                page: 1,
                per_page: 20,
                ..SearchQuery::default()
            },
        ),
    ]
}

/// A `/proc/<pid>/status` field in kB, as bytes.
fn proc_status(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets a process's peak resident set (Linux: `echo 5 > /proc/<pid>/clear_refs`).
fn reset_peak(pid: &str) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Latencies of every query, `rounds` times each after one warm-up: p50 and p99 over all, and
/// the query with the highest median with that median.
fn latencies(
    rounds: usize,
    mut run: impl FnMut(&SearchQuery),
    qs: &[(&'static str, SearchQuery)],
) -> (Duration, Duration, &'static str, Duration) {
    let mut all = Vec::with_capacity(rounds * qs.len());
    let mut per_query: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); qs.len()];
    for (_, q) in qs {
        run(q);
    }
    for _ in 0..rounds {
        for (k, (_, q)) in qs.iter().enumerate() {
            let t = Instant::now();
            run(q);
            let spent = t.elapsed();
            all.push(spent);
            per_query[k].push(spent);
        }
    }
    all.sort();
    let (slowest, median) = per_query
        .iter_mut()
        .enumerate()
        .map(|(k, v)| {
            v.sort();
            (qs[k].0, percentile(v, 0.5))
        })
        .max_by_key(|(_, m)| *m)
        .unwrap_or(("", Duration::ZERO));
    (
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        slowest,
        median,
    )
}

/// One engine's figures at one size.
struct Figures {
    engine: &'static str,
    index_time: Duration,
    size_bytes: u64,
    peak_rss: Option<u64>,
    query_rss: Option<u64>,
    p50: Duration,
    p99: Duration,
    slowest: &'static str,
    slowest_p50: Duration,
}

fn print(size: usize, f: &Figures, baseline: &Figures) {
    let opt = |v: Option<u64>| v.map_or_else(|| "n/a".to_owned(), mb);
    println!(
        "{size:>9} {:<11} index {:>7.1} s ({:>6.0} docs/s)  size {:>8}  peak RSS {:>8}  RSS querying {:>8}  p50 {:>9.3} ms  p99 {:>9.3} ms  p50 {:>7.1}× faster than the scan, p99 {:>7.1}×",
        f.engine,
        f.index_time.as_secs_f64(),
        size as f64 / f.index_time.as_secs_f64().max(1e-9),
        mb(f.size_bytes),
        opt(f.peak_rss),
        opt(f.query_rss),
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        baseline.p50.as_secs_f64() / f.p50.as_secs_f64().max(1e-12),
        baseline.p99.as_secs_f64() / f.p99.as_secs_f64().max(1e-12),
    );
    println!(
        "{:>9} {:<11} slowest query: {} (p50 {:.3} ms)",
        "",
        "",
        f.slowest,
        f.slowest_p50.as_secs_f64() * 1e3
    );
}

/// Writes `size` documents in batches; returns the time spent inside the engine only.
fn fill(index: &dyn SearchIndex, size: usize) -> anyhow::Result<Duration> {
    let mut spent = Duration::ZERO;
    for start in (0..size).step_by(BATCH) {
        let docs: Vec<SearchDoc> = (start..(start + BATCH).min(size)).map(bench_doc).collect();
        let t = Instant::now();
        index.upsert_many(&docs)?;
        spent += t.elapsed();
    }
    Ok(spent)
}

/// The baseline: every document in memory, each query a linear scan with `contains`.
fn scan(size: usize, qs: &[(&'static str, SearchQuery)]) -> Figures {
    let started = Instant::now();
    let docs: Vec<(SearchDoc, String)> = (0..size)
        .map(|i| {
            let d = bench_doc(i);
            let text = to_simplified(&format!("{} {} {}", d.title, d.body, d.codes.join(" ")))
                .to_lowercase();
            (d, text)
        })
        .collect();
    let index_time = started.elapsed();
    let run = |q: &SearchQuery| {
        let words: Vec<String> =
            q.q.as_deref()
                .map(|s| to_simplified(s).to_lowercase())
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
        let mut hits: Vec<&SearchDoc> = docs
            .iter()
            .filter(|(d, text)| {
                words.iter().all(|w| text.contains(w.as_str()))
                    && q.kind.as_ref().is_none_or(|k| *k == d.kind)
                    && q.region.as_ref().is_none_or(|r| {
                        d.region
                            .as_deref()
                            .is_some_and(|dr| dr.starts_with(r.as_str()))
                    })
                    && q.from.is_none_or(|t| d.published_at >= t)
                    && q.to.is_none_or(|t| d.published_at < t)
            })
            .map(|(d, _)| d)
            .collect();
        hits.sort_by_key(|d| std::cmp::Reverse(d.published_at));
        std::hint::black_box(hits.len());
    };
    let rounds = if size > 200_000 { 3 } else { 10 };
    let (p50, p99, slowest, slowest_p50) = latencies(rounds, run, qs);
    Figures {
        engine: "scan",
        index_time,
        size_bytes: docs.iter().map(|(_, t)| t.len() as u64).sum(),
        peak_rss: None,
        query_rss: proc_status("self", "VmRSS:"),
        p50,
        p99,
        slowest,
        slowest_p50,
    }
}

fn tantivy(
    size: usize,
    rounds: usize,
    qs: &[(&'static str, SearchQuery)],
) -> anyhow::Result<Figures> {
    let dir =
        std::env::temp_dir().join(format!("gongshi-bench-index-{}-{size}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    reset_peak("self");
    let index = TantivyIndex::open(&dir)?;
    let index_time = fill(&index, size)?;
    let peak_rss = proc_status("self", "VmHWM:");
    drop(index);
    // Searching happens in a fresh reader of the finished index, as a gateway would open it.
    let index = TantivyIndex::open_read_only(&dir)?;
    let (p50, p99, slowest, slowest_p50) = latencies(
        rounds,
        |q| {
            std::hint::black_box(index.search(q).map(|r| r.total).unwrap_or_default());
        },
        qs,
    );
    let figures = Figures {
        engine: "tantivy",
        index_time,
        size_bytes: dir_size(&dir),
        peak_rss,
        query_rss: proc_status("self", "VmRSS:"),
        p50,
        p99,
        slowest,
        slowest_p50,
    };
    drop(index);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(figures)
}

fn meilisearch(
    url: &str,
    pid: Option<&str>,
    size: usize,
    rounds: usize,
    qs: &[(&'static str, SearchQuery)],
) -> anyhow::Result<Figures> {
    let index = MeiliIndex::connect(MeiliConfig {
        url: url.to_owned(),
        key: std::env::var("GONGSHI_BENCH_MEILI_KEY").ok(),
        index: format!("bench-{size}"),
        task_timeout: Duration::from_secs(3600),
    })?;
    index.clear()?;
    let before = index.used_database_size()?;
    if let Some(pid) = pid {
        reset_peak(pid);
    }
    let index_time = fill(&index, size)?;
    let peak_rss = pid.and_then(|p| proc_status(p, "VmHWM:"));
    let (p50, p99, slowest, slowest_p50) = latencies(
        rounds,
        |q| {
            std::hint::black_box(index.search(q).map(|r| r.total).unwrap_or_default());
        },
        qs,
    );
    Ok(Figures {
        engine: "meilisearch",
        index_time,
        size_bytes: index.used_database_size()?.saturating_sub(before),
        peak_rss,
        query_rss: pid.and_then(|p| proc_status(p, "VmRSS:")),
        p50,
        p99,
        slowest,
        slowest_p50,
    })
}

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::var("GONGSHI_BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rounds: usize = std::env::var("GONGSHI_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let meili = std::env::var("GONGSHI_BENCH_MEILI_URL").ok();
    let meili_pid = std::env::var("GONGSHI_BENCH_MEILI_PID").ok();
    println!(
        "search at scale: {} queries × {rounds} rounds per engine; baseline = brute-force scan in memory{}",
        queries(1000).len(),
        if meili.is_some() {
            "; Meilisearch measured too"
        } else {
            "; no Meilisearch (GONGSHI_BENCH_MEILI_URL unset)"
        }
    );
    for size in sizes {
        let qs = queries(size);
        let t = tantivy(size, rounds, &qs)?;
        let m = match meili.as_deref() {
            Some(url) => Some(meilisearch(url, meili_pid.as_deref(), size, rounds, &qs)?),
            None => None,
        };
        // The scan goes last: its documents stay resident only while it runs.
        let baseline = scan(size, &qs);
        print(size, &baseline, &baseline);
        print(size, &t, &baseline);
        if let Some(m) = &m {
            print(size, m, &baseline);
            println!(
                "{size:>9} tantivy vs meilisearch: indexing {:.1}× faster, p50 {:.1}×, p99 {:.1}×, index {:.2}× the size",
                m.index_time.as_secs_f64() / t.index_time.as_secs_f64().max(1e-9),
                m.p50.as_secs_f64() / t.p50.as_secs_f64().max(1e-12),
                m.p99.as_secs_f64() / t.p99.as_secs_f64().max(1e-12),
                t.size_bytes as f64 / (m.size_bytes as f64).max(1.0),
            );
        }
    }
    Ok(())
}

//! The public feeds on the real pipeline, read by real clients: Python `feedparser` parses the
//! Atom and RSS feeds, `jsonschema` validates the JSON Feed against the JSON Feed 1.1 schema;
//! filters agree with their meaning; ETag/Last-Modified revalidate; and a reader following
//! cursor links while entries are appended concurrently sees every entry exactly once.

use gongshi_tests::fixtures::{PROJECT, SECTION, award, candidates, works_tender};
use gongshi_tests::{Pipeline, TOKEN, run_python};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

async fn fetch(url: &str, headers: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("feed request");
    let status = r.status().as_u16();
    let h = r.headers().clone();
    (status, h, r.text().await.expect("feed body"))
}

async fn json_feed(p: &Pipeline, query: &str) -> Value {
    let (status, _, body) = fetch(&format!("{}/feeds/notices.json{query}", p.url), &[]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON Feed")
}

fn ids(feed: &Value) -> Vec<String> {
    feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn feed_count(db: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM feed_entries")
        .fetch_one(db)
        .await
        .expect("count")
}

async fn wait_feed(db: &sqlx::PgPool, at_least: i64) {
    let start = Instant::now();
    while feed_count(db).await < at_least {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "feed has fewer than {at_least} entries"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn scratch(p: &Pipeline, name: &str, body: &str) -> PathBuf {
    let path = p.dir.join(name);
    std::fs::write(&path, body).expect("write feed");
    path
}

#[tokio::test]
async fn feeds_parse_in_real_readers_filter_like_search_and_revalidate() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    // A works procedure in Xuzhou (tender, candidates, award held until the publicity ends), a
    // second tender in Beijing with a traditional-character title, a procurement notice (GBK).
    let t = p
        .submit(&works_tender(
            PROJECT,
            SECTION,
            "徐州市三环东路快速化改造工程施工招标公告",
            "320300",
        ))
        .await;
    p.wait_receipt(&t, |s| s == "published").await;
    let c = p.submit(&candidates("2025-04-11 18:00")).await;
    p.wait_receipt(&c, |s| s == "published").await;
    let a = p
        .submit(&award("2025-04-10 09:00", "2025-04-10 08:50"))
        .await;
    p.wait_receipt(&a, |s| s == "held").await;
    let b = p
        .submit(&works_tender(
            "E1101050319000001",
            "E1101050319000001001",
            "北京市朝陽區道路養護工程招標公告",
            "110105",
        ))
        .await;
    p.wait_receipt(&b, |s| s == "published").await;
    let gbk = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/notices/procurement-tender-gbk.xml"),
    )
    .expect("sample");
    let (status, body) = p.post("application/xml", gbk, Some(TOKEN)).await;
    assert_eq!(status, 202, "{body}");
    p.wait_receipt(body["receipt"].as_str().expect("receipt"), |s| {
        s == "published"
    })
    .await;
    // The publicity ends: the award publishes itself and the window's closing is an entry.
    p.set_now("2025-04-11T18:01:00+08:00");
    p.wait_receipt(&a, |s| s == "published").await;
    let db = p.db().await;
    wait_feed(&db, 6).await;

    // JSON Feed: valid against the JSON Feed 1.1 schema, every entry once, newest first.
    let all = json_feed(&p, "").await;
    let path = scratch(&p, "feed.json", &all.to_string());
    let schema =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/feeds/jsonfeed-1.1.schema.json");
    let checked = run_python(
        "feed_check.py",
        &["jsonfeed".as_ref(), path.as_os_str(), schema.as_os_str()],
    );
    assert_eq!(checked["items"], 6, "{all}");
    let items = all["items"].as_array().expect("items");
    let seqs: Vec<i64> = items
        .iter()
        .map(|i| i["_gongshi"]["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    let by_type = |t: &str| items.iter().filter(|i| i["_gongshi"]["type"] == t).count();
    assert_eq!(
        (by_type("notice.published"), by_type("window.closed")),
        (5, 1),
        "{all}"
    );
    let window = items
        .iter()
        .find(|i| i["_gongshi"]["type"] == "window.closed")
        .expect("window entry");
    assert_eq!(window["_gongshi"]["window"], "publicity");
    assert_eq!(window["_gongshi"]["status"], "closed");
    assert_eq!(
        window["_gongshi"]["region"], "320300",
        "window events inherit the notice's region"
    );
    assert!(
        window["title"]
            .as_str()
            .expect("title")
            .starts_with("公示期结束："),
        "{window}"
    );
    // Entries link to the notice's page for people; its JSON stays linked beside it.
    for item in items {
        let notice = item["_gongshi"]["notice_id"].as_str().expect("notice id");
        assert_eq!(item["url"], format!("{}/notices/{notice}", p.url));
        assert_eq!(
            item["external_url"],
            format!("{}/v1/notices/{notice}", p.url)
        );
        assert_eq!(p.get(&format!("/v1/notices/{notice}")).await.0, 200);
        let page = reqwest::get(format!("{}/notices/{notice}", p.url))
            .await
            .expect("page");
        assert_eq!(page.status().as_u16(), 200);
    }
    let text = all.to_string();
    assert!(
        text.contains("徐州市三环东路快速化改造工程施工招标公告") && text.contains("朝陽區"),
        "Chinese intact"
    );
    assert!(
        !text.contains("320303198001011234") && !text.contains("张伟"),
        "personal data in the feed: {text}"
    );

    // Atom and RSS through feedparser: same ids, titles and dates as the JSON Feed.
    let expected: Vec<(String, String, i64)> = items
        .iter()
        .map(|i| {
            let at =
                chrono::DateTime::parse_from_rfc3339(i["date_published"].as_str().expect("date"))
                    .expect("RFC 3339")
                    .timestamp();
            (
                i["id"].as_str().expect("id").to_owned(),
                i["title"].as_str().expect("title").to_owned(),
                at,
            )
        })
        .collect();
    for (ext, version) in [("atom", "atom10"), ("rss", "rss20")] {
        let (status, headers, body) = fetch(&format!("{}/feeds/notices.{ext}", p.url), &[]).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            headers["content-type"].to_str().expect("ct").contains(ext),
            "{headers:?}"
        );
        let path = scratch(&p, &format!("feed.{ext}"), &body);
        let parsed = run_python("feed_check.py", &[ext.as_ref(), path.as_os_str()]);
        assert_eq!(parsed["version"], version, "{parsed}");
        let got: Vec<(String, String, i64)> = parsed["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().expect("id").to_owned(),
                    e["title"].as_str().expect("title").to_owned(),
                    e["published_epoch"].as_i64().expect("date"),
                )
            })
            .collect();
        assert_eq!(got, expected, "{ext}: {parsed}");
        // feedparser's `link` is the alternate one: the notice's HTML page.
        for e in parsed["entries"].as_array().expect("entries") {
            let link = e["link"].as_str().expect("link");
            assert!(
                link.starts_with(&format!("{}/notices/", p.url)),
                "{ext}: {e}"
            );
        }
        if ext == "atom" {
            let links = &parsed["entries"][0]["links"];
            assert!(
                links
                    .as_array()
                    .expect("links")
                    .iter()
                    .any(|l| l["rel"] == "alternate"
                        && l["type"] == "text/html"
                        && l["href"]
                            .as_str()
                            .is_some_and(|h| h.contains("/notices/") && !h.contains("/v1/"))),
                "{links}"
            );
            assert!(
                links
                    .as_array()
                    .expect("links")
                    .iter()
                    .any(|l| l["rel"] == "related"
                        && l["type"] == "application/json"
                        && l["href"]
                            .as_str()
                            .is_some_and(|h| h.contains("/v1/notices/"))),
                "{links}"
            );
        }
        assert!(
            parsed["links"]["previous"].is_string(),
            "{ext} previous link: {parsed}"
        );
    }

    // Filters mean what they mean in search, on every entry type.
    let facts = |i: &Value, k: &str| i["_gongshi"][k].as_str().unwrap_or("").to_owned();
    let expect = |keep: &dyn Fn(&Value) -> bool| -> Vec<String> {
        items
            .iter()
            .filter(|i| keep(i))
            .map(|i| i["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let by_section = format!("?q={SECTION}");
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "?region=32",
            expect(&|i| facts(i, "region").starts_with("32")),
        ),
        (
            "?region=1101",
            expect(&|i| facts(i, "region").starts_with("1101")),
        ),
        ("?kind=tender", expect(&|i| facts(i, "kind") == "tender")),
        (
            "?category=procurement",
            expect(&|i| facts(i, "category") == "procurement"),
        ),
        (
            "?status=closed",
            expect(&|i| facts(i, "status") == "closed"),
        ),
        (
            "?status=awarded",
            expect(&|i| facts(i, "status") == "awarded"),
        ),
        // Traditional characters find simplified text; every term must match.
        (
            "?q=%E4%B8%89%E7%92%B0%E6%9D%B1%E8%B7%AF",
            expect(&|i| {
                facts(i, "notice_id")
                    == items
                        .iter()
                        .find(|x| x["title"] == "徐州市三环东路快速化改造工程施工招标公告")
                        .map(|x| facts(x, "notice_id"))
                        .unwrap_or_default()
            }),
        ),
        (
            "?q=%E6%9C%9D%E9%98%B3%20%E5%85%BB%E6%8A%A4",
            expect(&|i| facts(i, "region") == "110105"),
        ),
        ("?q=%E6%9C%9D%E9%98%B3%20%E4%B8%89%E7%8E%AF", vec![]),
        (&by_section, expect(&|i| facts(i, "region") == "320300")),
        (
            "?from=2025-04-11&to=2025-04-11",
            expect(&|i| {
                i["date_published"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("2025-04-11")
            }),
        ),
    ];
    for (query, want) in cases {
        let got = ids(&json_feed(&p, query).await);
        assert!(
            !want.is_empty() || query.contains("q="),
            "case {query} tests nothing"
        );
        assert_eq!(got, want, "filter {query}");
    }
    assert_eq!(ids(&json_feed(&p, "?q=%E6%9C%9D%E9%98%B3").await).len(), 1);
    for bad in [
        "?kind=x",
        "?region=3",
        "?from=yesterday",
        "?cursor=zzz",
        "?limit=0",
    ] {
        let (status, _, body) = fetch(&format!("{}/feeds/notices.atom{bad}", p.url), &[]).await;
        assert_eq!(status, 400, "{bad}: {body}");
        let e: Value = serde_json::from_str(&body).expect("error JSON");
        assert!(e["error"]["code"].is_string(), "{e}");
    }
    // Search checks its filters with the feeds' parser: what a feed refuses, search refuses with
    // the same status and code.
    for bad in ["?kind=x", "?region=3", "?from=yesterday", "?status=x"] {
        let (feed_status, _, feed) =
            fetch(&format!("{}/feeds/notices.json{bad}", p.url), &[]).await;
        let (search_status, _, search) = fetch(&format!("{}/v1/search{bad}", p.url), &[]).await;
        assert_eq!((feed_status, search_status), (400, 400), "{bad}: {search}");
        let feed: Value = serde_json::from_str(&feed).expect("error JSON");
        let search: Value = serde_json::from_str(&search).expect("error JSON");
        assert_eq!(feed["error"]["code"], search["error"]["code"], "{bad}");
    }

    // Revalidation: same ETag → 304; Last-Modified → 304; a new entry → 200 with a new ETag.
    let url = format!("{}/feeds/notices.atom?region=32", p.url);
    let (_, h, _) = fetch(&url, &[]).await;
    let etag = h["etag"].to_str().expect("etag").to_owned();
    let lm = h["last-modified"]
        .to_str()
        .expect("last-modified")
        .to_owned();
    assert_eq!(fetch(&url, &[("if-none-match", &etag)]).await.0, 304);
    assert_eq!(fetch(&url, &[("if-modified-since", &lm)]).await.0, 304);
    let (status, h2, _) = fetch(
        &format!("{}/feeds/notices.atom?region=11", p.url),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, 200, "another filter is another page");
    assert_ne!(h2["etag"], etag.as_str());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let n = p
        .submit(&works_tender(
            "E3203010319009999",
            "E3203010319009999001",
            "徐州市新城区管网工程招标公告",
            "320311",
        ))
        .await;
    p.wait_receipt(&n, |s| s == "published").await;
    let (status, h3, body) = fetch(&url, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(h3["etag"].to_str().expect("etag"), etag);
    assert_eq!(fetch(&url, &[("if-modified-since", &lm)]).await.0, 200);
}

/// One entry as a direct append writes it (the publish service's function, called from here so
/// transactions can be held open to provoke out-of-order commits).
fn synthetic(i: usize) -> (String, Value, gongshi_platform::feed_filter::EntryFacts) {
    let id = format!("synthetic:{i:05}");
    let notice = format!("{:032x}", 0xfeed_0000_u64 + i as u64);
    let payload = gongshi_tests::published_payload(json!({
        "notice_id": notice, "kind": "tender", "regime": "works", "region": "320300",
        "title": format!("压力测试公告{i}"), "published_at": chrono::Utc::now(),
        "procedure": {"platform": "JSGGZY", "project": "P", "section": "S"},
    }));
    let entry = json!({"id": id, "type": "notice.published", "key": "JSGGZY/P/S",
                       "occurred_at": chrono::Utc::now(), "payload": payload});
    let facts = gongshi_platform::feed_filter::EntryFacts::of_published(
        &gongshi_tests::published_event(payload),
    );
    (id, entry, facts)
}

/// Follows `previous` links (newer entries) from `link` until a page comes back empty.
async fn follow_newer(link: &mut String, seen: &mut Vec<String>) {
    loop {
        let (status, _, body) = fetch(link, &[]).await;
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).expect("page");
        let mut got = ids(&page);
        got.reverse(); // pages are newest first; keep `seen` in arrival order
        let empty = got.is_empty();
        seen.extend(got);
        *link = page["_gongshi"]["previous_url"]
            .as_str()
            .expect("previous_url")
            .to_owned();
        if empty {
            return;
        }
    }
}

#[tokio::test]
async fn a_reader_following_cursors_sees_every_entry_exactly_once_while_entries_arrive() {
    let mut p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    // A second publish process shares the consumer group: real concurrent appends.
    p.spawn("publish");
    let db = p.db().await;
    let writers_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Writers: notices through the pipeline, and direct appends that hold their transaction open
    // for a random while so that commits come out of sequence order (the classic hole).
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4usize {
        let db = db.clone();
        writers.spawn(async move {
            for k in 0..20 {
                let mut tx = db.begin().await.expect("begin");
                append_synthetic_in(&mut tx, w * 100 + k).await;
                sqlx::query("SELECT pg_sleep(random() * 0.06)")
                    .execute(&mut *tx)
                    .await
                    .expect("sleep");
                tx.commit().await.expect("commit");
            }
        });
    }
    let url = p.url.clone();
    writers.spawn(async move {
        let client = reqwest::Client::new();
        for k in 0..12 {
            let xml = works_tender(
                &format!("E32030103190{k:05}"),
                &format!("E32030103190{k:05}001"),
                &format!("并发发布测试工程{k}招标公告"),
                "320300",
            );
            let r = client
                .post(format!("{url}/v1/notices"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/xml")
                .body(xml)
                .send()
                .await
                .expect("post");
            assert_eq!(r.status(), 202);
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    });

    // The reader: starts at the newest page mid-way, walks back with `next`, and polls forward
    // with `previous`, small pages so that it pages a lot.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let head: Value = json_feed(&p, "?limit=3").await;
    let mut seen: Vec<String> = ids(&head);
    seen.reverse();
    let mut older: Vec<String> = Vec::new();
    let mut next = head["next_url"].as_str().map(str::to_owned);
    while let Some(link) = next {
        let (status, _, body) = fetch(&link, &[]).await;
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).expect("page");
        older.extend(ids(&page));
        next = page["next_url"].as_str().map(str::to_owned);
    }
    let mut newer_link = head["_gongshi"]["previous_url"]
        .as_str()
        .expect("previous")
        .to_owned();
    let flag = writers_done.clone();
    let collector = tokio::spawn(async move {
        let mut newer = Vec::new();
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            follow_newer(&mut newer_link, &mut newer).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (newer, newer_link)
    });
    while let Some(r) = writers.join_next().await {
        r.expect("writer");
    }
    // Wait for the pipeline's notices to reach the feed: 80 direct + 12 published.
    wait_feed(&db, 92).await;
    writers_done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut newer, mut link) = collector.await.expect("collector");
    let stored: BTreeSet<String> =
        sqlx::query_scalar::<_, String>("SELECT entry_id FROM feed_entries")
            .fetch_all(&db)
            .await
            .expect("entries")
            .into_iter()
            .map(|e| format!("tag:gongshi.invalid,2026:feed/{e}"))
            .collect();
    // The reader keeps polling, as readers do: the gateway learns of the last commits a moment
    // after the store has them (it follows the feed's head by notification).
    let started = Instant::now();
    loop {
        follow_newer(&mut link, &mut newer).await;
        let seen_now = older.len() + seen.len() + newer.len();
        if seen_now >= stored.len() || started.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut all_seen = older;
    all_seen.extend(seen);
    all_seen.extend(newer);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &all_seen {
        *counts.entry(id).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "entries seen twice: {repeated:?}");
    let seen_set: BTreeSet<String> = all_seen.iter().cloned().collect();
    let missed: Vec<_> = stored.difference(&seen_set).collect();
    assert!(missed.is_empty(), "entries never seen: {missed:?}");
    assert_eq!(stored.len(), 92);
}

/// The filter has two forms — SQL for the feeds, in memory for the stream and webhooks — and
/// they must agree on every entry: checked over a varied set of entries and filters.
#[tokio::test]
async fn sql_and_in_memory_filters_agree() {
    use gongshi_platform::feed_filter::{EntryFacts, FeedFilter, FilterParams};
    use gongshi_platform::store::feed::{self, NewEntry, Window};
    let p = Pipeline::new("2025-04-10T12:00:00+08:00").await;
    let store = gongshi_platform::Store::connect(&p.database_url)
        .await
        .expect("store");
    let kinds = ["tender", "amendment", "candidates", "award", "termination"];
    let regions = ["320300", "320311", "321100", "110105", "370000"];
    let titles = [
        "徐州市三環東路工程招標公告",
        "北京市朝阳区道路养护工程",
        "山东省立医院医用耗材采购",
        "Jiangsu ROAD Works 标段",
    ];
    let base = chrono::DateTime::parse_from_rfc3339("2025-04-01T00:00:00+08:00")
        .expect("date")
        .with_timezone(&chrono::Utc);
    let mut tx = store.pool.begin().await.expect("begin");
    for i in 0..120usize {
        let kind = kinds[i % kinds.len()];
        let payload = gongshi_tests::published_payload(json!({
            "kind": kind, "regime": if i % 3 == 0 { "procurement" } else { "works" },
            "region": if i % 7 == 0 { Value::Null } else { json!(regions[(i / 3) % regions.len()]) },
            "title": format!("{}{i}", titles[i % titles.len()]),
            "published_at": base + chrono::Duration::hours(7 * i as i64),
            "procedure": {"platform": "JSGGZY", "project": format!("E32{i:05}"), "section": format!("E32{i:05}001")},
        }));
        let notice = EntryFacts::of_published(&gongshi_tests::published_event(payload.clone()));
        let facts = if i % 5 == 4 {
            let window: gongshi_domain::events::WindowClosed = serde_json::from_value(json!({
                "notice_id": "0000000000000000000000000000feed",
                "window": if i % 2 == 0 { "bid" } else { "documents" },
                "start": "2025-04-01T09:00:00+08:00", "end": "2025-04-20T09:00:00+08:00",
                "procedure": "JSGGZY/P/S", "title": "",
                "closed_at": base + chrono::Duration::hours(7 * i as i64 + 3),
            }))
            .expect("a window.closed payload");
            EntryFacts::of_window(&window, Some(&notice))
        } else {
            notice
        };
        let id = format!("agree:{i}");
        let entry = json!({"id": id, "type": "notice.published", "key": "k", "payload": payload});
        feed::append(
            &mut tx,
            &NewEntry {
                entry_id: &id,
                notice_id: &format!("n{i}"),
                procedure_key: "k",
                event_type: "notice.published",
                entry: &entry,
                facts: &facts,
            },
        )
        .await
        .expect("append");
    }
    tx.commit().await.expect("commit");
    let all = feed::page(&store.pool, &FeedFilter::default(), Window::Newest, 1000)
        .await
        .expect("all");
    assert_eq!(all.len(), 120);
    let s = |v: &str| Some(v.to_owned());
    let filters = [
        FilterParams {
            kind: s("award"),
            ..Default::default()
        },
        FilterParams {
            category: s("procurement"),
            region: s("32"),
            ..Default::default()
        },
        FilterParams {
            region: s("37"),
            status: s("closed"),
            ..Default::default()
        },
        FilterParams {
            region: s("3203"),
            kind: s("termination"),
            ..Default::default()
        },
        FilterParams {
            status: s("open"),
            ..Default::default()
        },
        FilterParams {
            from: s("2025-04-10"),
            to: s("2025-04-20"),
            ..Default::default()
        },
        FilterParams {
            q: s("三环 东路"),
            ..Default::default()
        },
        FilterParams {
            q: s("三環"),
            kind: s("tender"),
            ..Default::default()
        },
        FilterParams {
            q: s("road 标段"),
            ..Default::default()
        },
        FilterParams {
            q: s("e3200011"),
            ..Default::default()
        },
        FilterParams {
            q: s("道路 医院"),
            ..Default::default()
        },
        FilterParams {
            region: s("11"),
            q: s("养护"),
            from: s("2025-04-05"),
            ..Default::default()
        },
    ];
    for params in filters {
        let filter = FeedFilter::parse(&params).expect("filter");
        let sql: Vec<i64> = feed::page(&store.pool, &filter, Window::Newest, 1000)
            .await
            .expect("page")
            .iter()
            .map(|r| r.seq)
            .collect();
        let memory: Vec<i64> = all
            .iter()
            .filter(|r| filter.matches(&r.facts))
            .map(|r| r.seq)
            .collect();
        assert_eq!(sql, memory, "{params:?}");
        assert!(
            !memory.is_empty() || params.q.as_deref() == Some("道路 医院"),
            "{params:?} selects nothing: a weak case"
        );
    }
}

/// Appends `synthetic(i)` in a transaction of its own, as any writer of the feed store would;
/// returns the entry's feed id.
async fn append_synthetic(db: &sqlx::PgPool, i: usize) -> String {
    let mut tx = db.begin().await.expect("begin");
    let id = append_synthetic_in(&mut tx, i).await;
    tx.commit().await.expect("commit");
    id
}

/// Appends `synthetic(i)` in `tx`; returns the entry's feed id.
async fn append_synthetic_in(tx: &mut sqlx::PgConnection, i: usize) -> String {
    let (id, entry, facts) = synthetic(i);
    gongshi_platform::store::feed::append(
        tx,
        &gongshi_platform::store::feed::NewEntry {
            entry_id: &id,
            notice_id: entry["payload"]["notice_id"].as_str().expect("id"),
            procedure_key: "JSGGZY/P/S",
            event_type: "notice.published",
            entry: &entry,
            facts: &facts,
        },
    )
    .await
    .expect("append");
    format!("tag:gongshi.invalid,2026:feed/{id}")
}

/// `gongshi_feed_pages_total{from="memory"}` on the gateway's /metrics.
async fn pages_from_memory(p: &Pipeline) -> u64 {
    let (_, _, text) = fetch(&format!("{}/metrics", p.url), &[]).await;
    text.lines()
        .find(|l| l.starts_with("gongshi_feed_pages_total{from=\"memory\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Fetches `url` until its body contains `id`, for at most `patience`.
async fn until_shown(url: &str, id: &str, patience: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (status, _, body) = fetch(url, &[]).await;
        assert_eq!(status, 200, "{body}");
        if body.contains(id) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < patience,
            "{id} committed, but {url} still served a page without it after {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The gateway keeps rendered pages and serves them again while the feed head stands still;
/// every commit's notification retires them (a writer that knows nothing of caches included),
/// pages below the head outlive new entries, and when the notification connection is cut,
/// pages come from the store until the gateway has listened again and reread the head.
#[tokio::test]
async fn kept_pages_are_served_until_the_feed_moves_and_never_after() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let db = p.db().await;
    let newest = format!("{}/feeds/notices.atom?limit=3", p.url);
    for i in 0..4 {
        append_synthetic(&db, i).await;
    }
    let last = format!("tag:gongshi.invalid,2026:feed/synthetic:{:05}", 3);
    until_shown(&newest, &last, Duration::from_secs(10)).await;

    // The same page again, fresh and revalidated, comes from memory.
    let (_, h1, first) = fetch(&newest, &[]).await;
    let etag = h1["etag"].to_str().expect("etag").to_owned();
    let before = pages_from_memory(&p).await;
    let (_, h2, again) = fetch(&newest, &[]).await;
    assert_eq!(again, first);
    assert_eq!(h2["etag"], h1["etag"]);
    assert_eq!(h2["last-modified"], h1["last-modified"]);
    let (status, h3, _) = fetch(&newest, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    assert_eq!(h3["etag"], h1["etag"]);
    assert!(
        pages_from_memory(&p).await >= before + 2,
        "a repeated request for an unchanged feed was rendered again"
    );

    // A page strictly below the head: kept across new entries.
    let older = {
        let json = json_feed(&p, "?limit=2").await;
        json["next_url"].as_str().expect("next").to_owned()
    };
    let (_, ho, older_page) = fetch(&older, &[]).await;

    // Each new entry retires the newest page at once: a conditional request with the old ETag
    // gets the new page, not a 304.
    let mut worst = Duration::ZERO;
    let mut etag = etag;
    for i in 10..30 {
        let id = append_synthetic(&db, i).await;
        let committed = Instant::now();
        loop {
            let (status, h, body) = fetch(&newest, &[("if-none-match", &etag)]).await;
            if status == 200 {
                assert!(body.contains(&id), "a new page without the new entry {id}");
                etag = h["etag"].to_str().expect("etag").to_owned();
                break;
            }
            assert!(
                committed.elapsed() < Duration::from_secs(5),
                "{id} committed, but the gateway still answered 304 for the page before it"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        worst = worst.max(committed.elapsed());
    }
    println!("longest a kept page outlived the commit that changed it: {worst:?}");
    let kept = pages_from_memory(&p).await;
    let (_, ho2, older_again) = fetch(&older, &[]).await;
    assert_eq!(older_again, older_page, "a page below the head changed");
    assert_eq!(ho2["etag"], ho["etag"]);
    assert!(
        pages_from_memory(&p).await > kept,
        "a page below the head was rendered again after newer entries"
    );

    // Cut the gateway's notification connection: nothing is served from a head it can no
    // longer follow, and once it has listened again, pages are kept again.
    let listeners: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
           AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&db)
    .await
    .expect("find the listener");
    assert_eq!(listeners.len(), 1, "the gateway LISTENs on one connection");
    let cut: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(listeners[0])
        .fetch_one(&db)
        .await
        .expect("terminate the listener");
    assert!(cut);
    let id = append_synthetic(&db, 100).await;
    until_shown(&newest, &id, Duration::from_secs(10)).await;
    let start = Instant::now();
    loop {
        let kept = pages_from_memory(&p).await;
        fetch(&newest, &[]).await;
        fetch(&newest, &[]).await;
        if pages_from_memory(&p).await > kept {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "after its notification connection was cut, the gateway never kept pages again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = append_synthetic(&db, 101).await;
    until_shown(&newest, &id, Duration::from_secs(5)).await;
}

/// A batch appended with one statement: seqs follow the batch's order, and an id stored before
/// or repeated inside the batch is appended once.
#[tokio::test]
async fn a_batch_append_keeps_order_and_appends_each_id_once() {
    use gongshi_platform::store::feed::{NewEntry, append_many};
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let db = p.db().await;
    append_synthetic(&db, 3).await;
    let order = [7usize, 3, 1, 7, 9, 2];
    let made: Vec<_> = order.iter().map(|i| synthetic(*i)).collect();
    let entries: Vec<NewEntry> = made
        .iter()
        .map(|(id, entry, facts)| NewEntry {
            entry_id: id,
            notice_id: entry["payload"]["notice_id"].as_str().expect("id"),
            procedure_key: "JSGGZY/P/S",
            event_type: "notice.published",
            entry,
            facts,
        })
        .collect();
    let mut tx = db.begin().await.expect("begin");
    let added = append_many(&mut tx, &entries).await.expect("append");
    tx.commit().await.expect("commit");
    assert_eq!(added, [true, false, true, false, true, true]);
    let stored: Vec<String> = sqlx::query_scalar("SELECT entry_id FROM feed_entries ORDER BY seq")
        .fetch_all(&db)
        .await
        .expect("entries");
    let expected: Vec<String> = [3usize, 7, 1, 9, 2]
        .iter()
        .map(|i| format!("synthetic:{i:05}"))
        .collect();
    assert_eq!(stored, expected);
}

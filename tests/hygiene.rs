//! Text hygiene on the real pipeline: characters outside XML 1.0's `Char` production (every C0
//! control but tab/LF/CR, U+FFFE, U+FFFF, U+0000, a lone surrogate escape in JSON) are removed at
//! validation with a `TEXT-CHARS` warning naming the field; every feed page stays well-formed for
//! `xmllint` and `feedparser`; clean notices around the dirty ones are unharmed, their markup shown
//! as written in every format (RSS's HTML description escapes it); a NUL does not stop
//! the next document; an XML document that itself holds such a character is refused as `DOC-XML`
//! with its line and column; and the feed writers drop such characters from an entry that never went
//! through validation. Cases from `shared/cases` and constructed ones are in `tests/cases`.

use gongshi_tests::{Pipeline, TOKEN, run_python};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn case(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("cases")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether `c` is outside XML 1.0's `Char` production.
fn outside_xml_char(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Every character the hygiene removes: U+0000..U+001F except tab/LF/CR, U+FFFE, U+FFFF.
fn every_bad_char() -> String {
    let mut s: String = (0u32..0x20)
        .filter_map(char::from_u32)
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    s.push('\u{FFFE}');
    s.push('\u{FFFF}');
    s
}

/// A works tender as JSON (`title` and `body` as given, so they may hold any character).
fn json_tender(project: &str, title: &str, body: &str, stamp: &str) -> Value {
    json!({
        "TABLE": "TENDER_ANN_QUA_INQUERY_ANN",
        "TENDER_PROJECT_CODE": project,
        "BID_SECTION_CODES": format!("{project}001"),
        "NOTICE_NAME": title,
        "NOTICE_CONTENT": body,
        "NOTICE_SEND_TIME": "2025-12-01 09:00",
        "BULLETIN_TYPE": "1",
        "NOTICE_NATURE": "1",
        "DOC_GET_START_TIME": "2025-12-01 09:00",
        "DOC_GET_END_TIME": "2025-12-08 17:00",
        "BID_DOC_REFER_END_TIME": "2025-12-22 09:30",
        "TENDERER_NAME": "南京市某区城市管理局",
        "REGION_CODE": "320100",
        "IS_TO_LAW": "1",
        "PLATFORM_CODE": "JSGGZY",
        "DATA_TIMESTAMP": stamp,
    })
}

async fn post_json(p: &Pipeline, body: Vec<u8>) -> String {
    let (status, answer) = p.post("application/json", body, Some(TOKEN)).await;
    assert_eq!(status, 202, "{answer}");
    answer["receipt"].as_str().expect("receipt").to_owned()
}

/// The `TEXT-CHARS` warnings of a receipt's records: (record index, path, message).
fn text_chars(receipt: &Value) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    for r in receipt["records"].as_array().expect("records") {
        for w in r["warnings"].as_array().into_iter().flatten() {
            if w["rule"] == "TEXT-CHARS" {
                out.push((
                    r["index"].as_i64().expect("index"),
                    w["path"].as_str().unwrap_or_default().to_owned(),
                    w["message"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    out
}

/// Asserts a receipt record has a `TEXT-CHARS` warning at `/field` whose message names the field,
/// its Chinese label and each of `removed` (`U+000B ×1` …).
fn assert_warned(receipt: &Value, index: i64, field: &str, label: &str, removed: &[&str]) {
    let warnings = text_chars(receipt);
    let hit = warnings
        .iter()
        .find(|(i, path, _)| *i == index && path.ends_with(&format!("/{field}")))
        .unwrap_or_else(|| panic!("no TEXT-CHARS on record {index} {field}: {receipt}"));
    assert!(
        hit.2.contains(field) && hit.2.contains(label),
        "message names {field} {label}: {}",
        hit.2
    );
    for r in removed {
        assert!(hit.2.contains(r), "message lists {r}: {}", hit.2);
    }
}

async fn notice(p: &Pipeline, id: &str) -> Value {
    let (status, view) = p.get(&format!("/v1/notices/{id}")).await;
    assert_eq!(status, 200, "{view}");
    view
}

fn notice_ids(receipt: &Value) -> Vec<String> {
    receipt["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["notice_id"].as_str().expect("notice id").to_owned())
        .collect()
}

/// `xmllint`, or a clear failure: it is Debian's libxml2-utils, which `scripts/test` installs.
fn xmllint() -> &'static str {
    let found = Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "xmllint is not installed: the feed well-formedness check needs it (apt-get install \
         libxml2-utils; scripts/test installs it)"
    );
    "xmllint"
}

fn xmllint_ok(path: &Path) {
    let out = Command::new(xmllint())
        .arg("--noout")
        .arg(path)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "xmllint {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn get_text(url: &str) -> String {
    let r = reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("feed request");
    assert_eq!(r.status().as_u16(), 200, "{url}");
    r.text().await.expect("feed body")
}

/// Every page of one feed format from the newest, following `next` (older) links; each XML page
/// checked by xmllint and feedparser, each JSON page against the JSON Feed 1.1 schema. Returns
/// every entry's (title, text) by id.
async fn read_feed(p: &Pipeline, ext: &str) -> BTreeMap<String, (String, String)> {
    let mut entries = BTreeMap::new();
    let mut url = format!("{}/feeds/notices.{ext}?limit=2", p.url);
    for page in 0.. {
        assert!(page < 50, "{ext}: more than 50 pages");
        let body = get_text(&url).await;
        if let Some(c) = body.chars().find(|c| outside_xml_char(*c)) {
            panic!("{ext} page {page} carries U+{:04X}: {body}", u32::from(c));
        }
        let path = p.dir.join(format!("hygiene-{page}.{ext}"));
        std::fs::write(&path, &body).expect("write page");
        let next = if ext == "json" {
            let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../schemas/feeds/jsonfeed-1.1.schema.json");
            run_python(
                "feed_check.py",
                &["jsonfeed".as_ref(), path.as_os_str(), schema.as_os_str()],
            );
            let feed: Value = serde_json::from_str(&body).expect("JSON Feed");
            for item in feed["items"].as_array().expect("items") {
                entries.insert(
                    item["id"].as_str().expect("id").to_owned(),
                    (
                        item["title"].as_str().unwrap_or_default().to_owned(),
                        item["content_text"].as_str().unwrap_or_default().to_owned(),
                    ),
                );
            }
            feed["next_url"].as_str().map(str::to_owned)
        } else {
            xmllint_ok(&path);
            let parsed = run_python("feed_check.py", &[ext.as_ref(), path.as_os_str()]);
            for e in parsed["entries"].as_array().expect("entries") {
                // The entry's text: Atom's content (its summary is the deadlines); RSS's
                // description after the paragraph of deadlines that opens it.
                let text = match e["content"].as_str() {
                    Some(content) => content.to_owned(),
                    None => {
                        // RSS's description is HTML: the text a reader shows of it.
                        let summary = e["summary_text"].as_str().unwrap_or_default();
                        match summary.split_once("\n\n") {
                            Some((deadlines, text)) if deadlines.contains("截止") => {
                                text.to_owned()
                            }
                            _ => summary.to_owned(),
                        }
                    }
                };
                entries.insert(
                    e["id"].as_str().expect("id").to_owned(),
                    (e["title"].as_str().unwrap_or_default().to_owned(), text),
                );
            }
            parsed["links"]["next"].as_str().map(str::to_owned)
        };
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    entries
}

#[tokio::test]
async fn control_characters_are_removed_with_a_warning_and_every_feed_page_stays_well_formed() {
    xmllint();
    let p = Pipeline::start("2025-12-10T12:00:00+08:00").await;
    let bad = every_bad_char();
    // Clean notices before and after the dirty ones; their text holds XML's special characters
    // and markup, which every format shows as written (RSS's HTML description escapes it).
    let clean_before = (
        "南京市某区路灯改造工程施工招标公告（A&B 段 <一期>）",
        "项目概况：路灯 120 盏，\"节能\" 改造 & 线路更新；\t分两期。\n二、资格要求：市政<b>三级</b>，报价 &lt;= 限价。<img src=x onerror=alert(1)>",
    );
    let clean_after = (
        "南京市某区桥梁维修工程施工招标公告",
        "项目概况：桥梁 3 座维修加固。",
    );
    let r_before = post_json(
        &p,
        json_tender(
            "E3201002025001501",
            clean_before.0,
            clean_before.1,
            "2025-12-01 08:50",
        )
        .to_string()
        .into_bytes(),
    )
    .await;
    let r_case = post_json(&p, case("control_chars_in_text.json")).await;
    let generated_title = format!("南京市某区{bad}全字符测试工程\u{0}施工招标公告");
    let generated_body = format!("项目概况：{bad}管网改造\u{0}。");
    let r_generated = post_json(
        &p,
        json_tender(
            "E3201002025001502",
            &generated_title,
            &generated_body,
            "2025-12-01 08:51",
        )
        .to_string()
        .into_bytes(),
    )
    .await;
    let r_procurement = post_json(&p, case("control_chars_procurement.json")).await;
    let r_after = post_json(
        &p,
        json_tender(
            "E3201002025001503",
            clean_after.0,
            clean_after.1,
            "2025-12-01 08:52",
        )
        .to_string()
        .into_bytes(),
    )
    .await;

    let mut receipts = BTreeMap::new();
    for (name, r) in [
        ("before", &r_before),
        ("case", &r_case),
        ("generated", &r_generated),
        ("procurement", &r_procurement),
        ("after", &r_after),
    ] {
        receipts.insert(name, p.wait_receipt(r, |s| s == "published").await);
    }

    // The receipts: a warning per dirty field, naming it and what was removed; none on clean ones.
    for clean in ["before", "after"] {
        assert!(
            text_chars(&receipts[clean]).is_empty(),
            "{}",
            receipts[clean]
        );
    }
    let case_r = &receipts["case"];
    assert_warned(case_r, 0, "NOTICE_NAME", "公告标题", &["U+000B ×1"]);
    assert_warned(
        case_r,
        0,
        "NOTICE_CONTENT",
        "公告内容",
        &[
            "U+000B ×1",
            "U+000C ×1",
            "U+0007 ×2",
            "U+0008 ×1",
            "U+001B ×1",
            "U+FFFE ×1",
            "U+FFFF ×1",
        ],
    );
    let every: Vec<String> = bad
        .chars()
        .map(|c| {
            let n = if c == '\0' { 2 } else { 1 };
            format!("U+{:04X} ×{n}", u32::from(c))
        })
        .collect();
    let every: Vec<&str> = every.iter().map(String::as_str).collect();
    assert_warned(&receipts["generated"], 0, "NOTICE_NAME", "公告标题", &every);
    assert_warned(
        &receipts["generated"],
        0,
        "NOTICE_CONTENT",
        "公告内容",
        &every,
    );
    // A lone surrogate escape reads as U+FFFF.
    assert_warned(
        &receipts["procurement"],
        0,
        "BULLETIN_CONTENT",
        "公告内容",
        &["U+0007 ×1", "U+001B ×1", "U+FFFF ×1"],
    );
    assert_eq!(
        text_chars(&receipts["procurement"]).len(),
        1,
        "{}",
        receipts["procurement"]
    );

    // The notice views show the cleaned text.
    let title_of = |v: &Value| v["title"].as_str().unwrap_or_default().to_owned();
    let case_view = notice(&p, &notice_ids(case_r)[0]).await;
    assert_eq!(
        title_of(&case_view),
        "南京市某区老旧小区改造工程施工招标公告",
        "{case_view}"
    );
    let generated_view = notice(&p, &notice_ids(&receipts["generated"])[0]).await;
    assert_eq!(
        title_of(&generated_view),
        "南京市某区全字符测试工程施工招标公告"
    );
    let before_view = notice(&p, &notice_ids(&receipts["before"])[0]).await;
    assert_eq!(title_of(&before_view), clean_before.0, "{before_view}");
    // The notice says what was removed from the text it publishes, field by field; a clean one
    // says nothing.
    let removed: Vec<(&str, &str)> = case_view["removed_characters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["path"].as_str().unwrap_or_default(),
                r["message"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        removed.iter().map(|r| r.0).collect::<Vec<_>>(),
        ["/NOTICE_CONTENT", "/NOTICE_NAME"],
        "{case_view}"
    );
    assert!(
        removed[1]
            .1
            .starts_with("NOTICE_NAME 公告标题 含有公告无法发布的字符，已删除：U+000B ×1"),
        "{case_view}"
    );
    assert_eq!(
        before_view["removed_characters"],
        json!([]),
        "{before_view}"
    );
    let page = get_text(&format!("{}/notices/{}", p.url, notice_ids(case_r)[0])).await;
    assert!(
        page.contains("发布时删除了原文中无法显示的字符")
            && page.contains("NOTICE_NAME 公告标题 含有公告无法发布的字符，已删除：U+000B ×1"),
        "the notice page does not say what was removed"
    );
    for (name, view) in [
        ("case", &case_view),
        ("generated", &generated_view),
        ("before", &before_view),
    ] {
        assert!(
            !view_has_bad(view),
            "{name}: the notice view still holds a character outside XML: {view}"
        );
    }

    // Every page of every feed format, small pages so that paging links are followed.
    let db = p.db().await;
    let start = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM feed_entries")
            .fetch_one(&db)
            .await
            .expect("count");
        if n >= 5 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "feed entries");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut by_format = BTreeMap::new();
    for ext in ["atom", "rss", "json"] {
        let entries = read_feed(&p, ext).await;
        assert_eq!(entries.len(), 5, "{ext}: {entries:?}");
        let titles: Vec<&str> = entries.values().map(|(t, _)| t.as_str()).collect();
        for want in [
            clean_before.0,
            clean_after.0,
            "南京市某区老旧小区改造工程施工招标公告",
            "南京市某区全字符测试工程施工招标公告",
            "南京市某区2025年道路保洁服务项目公开招标公告",
        ] {
            assert!(titles.contains(&want), "{ext}: no title {want}: {titles:?}");
        }
        by_format.insert(ext, entries);
    }
    // The clean entries' titles and text are exact in every format (XML specials, tab, newline).
    let json = &by_format["json"];
    let text_of = |entries: &BTreeMap<String, (String, String)>, title: &str| {
        entries
            .values()
            .find(|(t, _)| t == title)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    assert_eq!(text_of(json, clean_before.0), clean_before.1);
    assert_eq!(text_of(json, clean_after.0), clean_after.1);
    assert_eq!(
        text_of(json, "南京市某区全字符测试工程施工招标公告"),
        "项目概况：管网改造。"
    );
    assert_eq!(
        text_of(json, "南京市某区老旧小区改造工程施工招标公告"),
        "一、招标条件本招标项目已由南京市某区发展和改革局批准建设。二、项目概况与招标范围屋面防水、外立面出新及雨污管网改造。三、投标人资格要求：建筑工程施工总承包三级及以上资质。"
    );
    for ext in ["atom", "rss"] {
        let entries = &by_format[ext];
        assert_eq!(
            text_of(entries, clean_after.0),
            clean_after.1,
            "{ext}: {entries:?}"
        );
        assert_eq!(
            text_of(entries, clean_before.0),
            clean_before.1,
            "{ext}: {entries:?}"
        );
    }
}

/// Whether any string in a JSON value holds a character outside XML 1.0's `Char`.
fn view_has_bad(v: &Value) -> bool {
    match v {
        Value::String(s) => s.chars().any(outside_xml_char),
        Value::Array(a) => a.iter().any(view_has_bad),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.chars().any(outside_xml_char) || view_has_bad(v)),
        _ => false,
    }
}

#[tokio::test]
async fn a_nul_is_removed_with_a_warning_and_the_next_document_publishes_within_seconds() {
    let p = Pipeline::start("2025-12-10T12:00:00+08:00").await;
    let nul = post_json(&p, case("nul_in_text.json")).await;
    let clean = post_json(
        &p,
        json_tender(
            "E3201002025001601",
            "南京市某区公交站台改造工程施工招标公告",
            "项目概况：公交站台 40 座。",
            "2025-12-01 08:57",
        )
        .to_string()
        .into_bytes(),
    )
    .await;
    // The clean document sent after it publishes within 10 s of being sent.
    let sent = Instant::now();
    loop {
        let (_, body) = p.get(&format!("/v1/receipts/{clean}")).await;
        if body["records"][0]["status"] == "published" {
            break;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "the document after the NUL one is not published within 10 s: {body}; logs in {}",
            p.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The NUL one is published too, cleaned, with a warning naming the field and U+0000 ×3.
    let receipt = p.wait_receipt(&nul, |s| s == "published").await;
    assert_eq!(
        receipt["records"].as_array().map(Vec::len),
        Some(2),
        "{receipt}"
    );
    assert_warned(&receipt, 0, "NOTICE_CONTENT", "公告内容", &["U+0000 ×3"]);
    assert_eq!(
        text_chars(&receipt).len(),
        1,
        "only the first record: {receipt}"
    );
    let view = notice(&p, &notice_ids(&receipt)[0]).await;
    let text = view.to_string();
    assert!(
        text.contains("项目概况：道路及排水整治（定长字段导出残留）。"),
        "cleaned body in the view: {view}"
    );
    assert!(!view_has_bad(&view), "{view}");
}

#[tokio::test]
async fn an_xml_document_holding_a_character_outside_char_is_refused_with_line_and_column() {
    let p = Pipeline::start("2025-12-10T12:00:00+08:00").await;
    // A character reference to U+000B in the title.
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TENDER_ANN_QUA_INQUERY_ANN>\n\
               <TENDER_PROJECT_CODE>E3201002025001701</TENDER_PROJECT_CODE>\n\
               <NOTICE_NAME>南京市某区绿道工程&#11;施工招标公告</NOTICE_NAME>\n\
               </TENDER_ANN_QUA_INQUERY_ANN>\n";
    let (status, body) = p
        .post("application/xml", xml.as_bytes().to_vec(), Some(TOKEN))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "DOC-XML", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert_line_column(message, 4, 23, &body);
    // The constructed case: a literal U+000C in NOTICE_NAME on line 9.
    let (status, body) = p
        .post(
            "application/xml",
            case("form_feed_in_xml_title.xml"),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "DOC-XML", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert_line_column(message, 9, 29, &body);
    // Nothing was taken in.
    let db = p.db().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM receipts")
        .fetch_one(&db)
        .await
        .expect("count receipts");
    assert_eq!(n, 0, "a refused document has no receipt");
}

/// The message gives the line and the column of the character (1-based, in characters).
fn assert_line_column(message: &str, line: usize, column: usize, body: &Value) {
    let numbers: Vec<usize> = message
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert!(
        numbers.windows(2).any(|w| w == [line, column]),
        "line {line}, column {column} in the message: {body}"
    );
}

#[tokio::test]
async fn the_feed_writers_drop_characters_outside_xml_even_when_validation_did_not() {
    // The second line of defence: feed entries written directly (not through validation, as an
    // entry stored before text hygiene existed would be) with every character outside XML 1.0
    // that PostgreSQL can store (all but U+0000) in title and body.
    let p = Pipeline::start("2025-12-10T12:00:00+08:00").await;
    let bad: String = every_bad_char().chars().filter(|c| *c != '\0').collect();
    let title = format!("旧数据{bad}测试公告");
    let body = format!("正文{bad}内容");
    let payload = gongshi_tests::published_payload(json!({
        "notice_id": "0000000000000000000000000000bad0", "region": "320100",
        "title": title, "record": {"NOTICE_NAME": title, "NOTICE_CONTENT": body},
        "published_at": "2025-12-01T01:00:00Z",
    }));
    let facts = gongshi_platform::feed_filter::EntryFacts::of_published(
        &gongshi_tests::published_event(payload.clone()),
    );
    let entry = json!({"id": "legacy:1", "type": "notice.published", "key": "JSGGZY/P/S",
                       "occurred_at": "2025-12-01T01:00:00Z", "payload": payload});
    let db = p.db().await;
    let mut tx = db.begin().await.expect("begin");
    gongshi_platform::store::feed::append(
        &mut tx,
        &gongshi_platform::store::feed::NewEntry {
            entry_id: "legacy:1",
            notice_id: "0000000000000000000000000000bad0",
            procedure_key: "JSGGZY/P/S",
            event_type: "notice.published",
            entry: &entry,
            facts: &facts,
        },
    )
    .await
    .expect("append");
    tx.commit().await.expect("commit");
    let stored: String = sqlx::query_scalar("SELECT title FROM feed_entries")
        .fetch_one(&db)
        .await
        .expect("stored title");
    assert_eq!(
        stored, title,
        "the entry is stored as written, characters and all"
    );
    for ext in ["atom", "rss"] {
        let entries = read_feed(&p, ext).await;
        let got: Vec<&(String, String)> = entries.values().collect();
        assert_eq!(
            got,
            vec![&("旧数据测试公告".to_owned(), "正文内容".to_owned())],
            "{ext}"
        );
    }
}

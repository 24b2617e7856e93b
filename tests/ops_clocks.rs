//! The legal clocks list everything, a page at a time: 25 awards of procedures gongshi has never
//! seen go through the real pipeline and park (待前序公告); 22 of them have waited longer than the
//! flag's 7 days. The overview shows the first 20 beside the true totals and links to the list;
//! the list pages through all 25, in order, as JSON and as pages a browser follows.

use fantoccini::Locator::Css;
use gongshi_tests::fixtures::award;
use gongshi_tests::{OPERATOR_TOKEN, Pipeline};
use serde_json::Value;

const ORPHANS: usize = 25;
const BACKDATED: usize = 22;

async fn get(p: &Pipeline, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", p.url))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect(path)
}

async fn json(p: &Pipeline, path: &str) -> Value {
    let r = get(p, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.expect("JSON")
}

async fn html(p: &Pipeline, path: &str) -> String {
    let r = get(p, path).await;
    assert_eq!(r.status(), 200, "{path}");
    let page = r.text().await.expect("html");
    gongshi_tests::assert_html5(path, &page);
    page
}

fn ids(rows: &Value) -> Vec<String> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| r["notice_id"].as_str().expect("notice_id").to_owned())
        .collect()
}

#[tokio::test]
async fn the_clocks_show_true_totals_and_page_through_every_parked_notice() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let mut receipts = Vec::new();
    for n in 0..ORPHANS {
        let project = format!("E32070000000{n:05}");
        let doc = award("2025-04-10 09:00", "2025-04-10 08:50")
            .replace(gongshi_tests::fixtures::PROJECT, &project);
        receipts.push(p.submit(&doc).await);
    }
    for r in &receipts {
        p.wait_receipt(r, |s| s == "parked").await;
    }
    // The oldest 22 as the store knows them: 8 to 8.5 days ago, one minute apart.
    let pool = p.db().await;
    sqlx::query(
        "UPDATE notices SET first_seen = now() - interval '8 days' - o.n * interval '1 minute' \
         FROM (SELECT notice_id, row_number() OVER (ORDER BY notice_id) AS n FROM notices WHERE status = 'parked') o \
         WHERE notices.notice_id = o.notice_id AND o.n <= $1",
    )
    .bind(i64::try_from(BACKDATED).expect("small"))
    .execute(&pool)
    .await
    .expect("backdate");

    // The overview: 20 rows, the true totals beside them.
    let clocks = json(&p, "/ops/api/clocks").await;
    assert_eq!(clocks["totals"]["parked"], 25, "{clocks:#}");
    assert_eq!(clocks["totals"]["parked_flagged"], 22, "{clocks:#}");
    assert_eq!(clocks["totals"]["held"], 0, "{clocks:#}");
    let first = ids(&clocks["parked"]);
    assert_eq!(first.len(), 20, "{clocks:#}");

    // The list, ten a page: every parked notice once, longest waiting first, the overview's 20
    // at its head.
    let mut all = Vec::new();
    let mut waited = Vec::new();
    for page in 1..=3 {
        let body = json(
            &p,
            &format!("/ops/api/clocks/parked?per_page=10&page={page}"),
        )
        .await;
        assert_eq!(
            (body["total"].as_i64(), body["per_page"].as_i64()),
            (Some(25), Some(10))
        );
        assert_eq!(body["table"], "parked");
        let rows = body["rows"].as_array().expect("rows");
        assert_eq!(
            rows.len(),
            if page < 3 { 10 } else { 5 },
            "page {page}: {body:#}"
        );
        waited.extend(
            rows.iter()
                .map(|r| r["waited_s"].as_i64().expect("waited_s")),
        );
        assert_eq!(
            rows.iter().filter(|r| r["flagged"] == true).count(),
            [10, 10, 2][page - 1],
            "page {page}: {body:#}"
        );
        all.extend(ids(&body["rows"]));
    }
    assert_eq!(all[..20], first[..]);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 25);
    assert!(waited.windows(2).all(|w| w[0] >= w[1]), "{waited:?}");
    // Beyond the end: no rows, the total still true. Out-of-range sizes are clamped.
    let beyond = json(&p, "/ops/api/clocks/parked?per_page=10&page=4").await;
    assert_eq!(
        (
            beyond["total"].as_i64(),
            beyond["rows"].as_array().map(Vec::len)
        ),
        (Some(25), Some(0))
    );
    assert_eq!(
        json(&p, "/ops/api/clocks/parked?per_page=0").await["per_page"],
        1
    );
    assert_eq!(
        json(&p, "/ops/api/clocks/held?per_page=100000").await["per_page"],
        500
    );
    // The windows' lists page the same way (none this week: nothing here was published).
    let week = json(&p, "/ops/api/clocks/week").await;
    assert_eq!(
        (
            week["total"].as_i64(),
            week["rows"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );

    // An unknown list names the ones there are.
    let r = get(&p, "/ops/api/clocks/overdue").await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("JSON");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("today") && message.contains("parked"),
        "{body}"
    );
    let r = get(&p, "/ops/clocks/overdue").await;
    assert_eq!(r.status(), 404);
    let page = r.text().await.expect("html");
    assert!(
        page.contains("<h1>找不到</h1>")
            && page.contains("held（暂缓发布）")
            && page.contains("href=\"/ops/clocks\""),
        "{page}"
    );

    // The pages say the same.
    let overview = html(&p, "/ops/clocks").await;
    for expected in [
        "待前序公告</a>（25）",
        "22 条超过 7 天",
        "显示前 20 条，共 25 条",
        "href=\"/ops/clocks/parked\"",
        "暂缓发布</a>（0）",
    ] {
        assert!(overview.contains(expected), "{expected}: {overview}");
    }
    let last = html(&p, "/ops/clocks/parked?per_page=10&page=3").await;
    assert!(last.contains("共 25 条，第 3 / 3 页"), "{last}");
    assert!(
        last.contains("rel=\"prev\"") && !last.contains("rel=\"next\""),
        "{last}"
    );
    let beyond = html(&p, "/ops/clocks/parked?per_page=10&page=9").await;
    assert!(
        beyond.contains("只有 3 页：第 9 页没有记录")
            && beyond.contains("href=\"/ops/clocks/parked?page=3&amp;per_page=10\" rel=\"prev\""),
        "{beyond}"
    );
    // What is not a page number is refused, naming the parameter, as JSON and as a page.
    let r = get(&p, "/ops/api/clocks/parked?page=abc").await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("JSON");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("page 应为整数，收到 'abc'")),
        "{body}"
    );
    for query in ["per_page=1e9", "page=1&page=2"] {
        let r = get(&p, &format!("/ops/clocks/parked?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let page = r.text().await.expect("html");
        gongshi_tests::assert_html5(query, &page);
        assert!(
            page.contains("<h1>请求有误</h1>")
                && (page.contains("per_page 应为整数，收到 &#39;1e9&#39;")
                    || page.contains("每个参数只能出现一次"))
                && page.contains("href=\"/ops/clocks\""),
            "{query}: {page}"
        );
    }

    // As an operator goes: from the overview's link to the whole list, then ten a page, next.
    let b = gongshi_tests::browser::Browser::start(1280, 1200).await;
    b.sign_in_at(&format!("{}/ops/clocks", p.url), OPERATOR_TOKEN)
        .await;
    b.client
        .wait()
        .for_element(Css("#parked p.more a"))
        .await
        .expect("the overview's link to the whole list")
        .click()
        .await
        .expect("click");
    b.client
        .wait()
        .for_element(Css("nav.pager"))
        .await
        .expect("the list page");
    let rows = b
        .client
        .find_all(Css("table.ops tbody tr"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 25);
    b.client
        .goto(&format!("{}/ops/clocks/parked?per_page=10", p.url))
        .await
        .expect("goto");
    b.client
        .find(Css("a[rel=next]"))
        .await
        .expect("next")
        .click()
        .await
        .expect("click");
    b.client
        .wait()
        .for_element(Css("a[rel=prev]"))
        .await
        .expect("page 2");
    let rows = b
        .client
        .find_all(Css("table.ops tbody tr.row-bad"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 10, "page 2: ten flagged rows");
    let url = b.client.current_url().await.expect("url");
    assert!(url.as_str().ends_with("page=2&per_page=10"), "{url}");
    b.screenshot("ops-clocks-parked-page-2").await;
    // An unknown list: a console page that names the lists, under the console's menu.
    b.client
        .goto(&format!("{}/ops/clocks/overdue", p.url))
        .await
        .expect("goto");
    let heading = b.client.find(Css("h1")).await.expect("h1");
    assert_eq!(heading.text().await.expect("text"), "找不到");
    b.client
        .find(Css("header nav a[href='/ops/clocks']"))
        .await
        .expect("the console's menu");
    b.screenshot("ops-clocks-unknown-list").await;
    b.close().await;
}

/// A notice held until its publicity starts is not public: its windows are timed, but the week's
/// list shows them only once it is published (until then it is listed as held). The legal clock
/// is Monday 2025-04-07 12:00; the candidates' publicity runs from 14:00 to Thursday 18:00.
#[tokio::test]
async fn a_held_notice_s_windows_are_listed_once_it_is_published() {
    let p = Pipeline::start("2025-04-07T12:00:00+08:00").await;
    let tender = p.submit(&gongshi_tests::fixtures::tender()).await;
    p.wait_receipt(&tender, |s| s == "published").await;
    let candidates = p
        .submit(
            &gongshi_tests::fixtures::candidates("2025-04-10 18:00")
                .replace("2025-04-08 09:00", "2025-04-07 14:00")
                .replace("2025-04-08 08:40", "2025-04-07 11:40"),
        )
        .await;
    p.wait_receipt(&candidates, |s| s == "held").await;

    let clocks = json(&p, "/ops/api/clocks").await;
    assert_eq!(clocks["totals"]["held"], 1, "{clocks:#}");
    assert_eq!(clocks["totals"]["closing_this_week"], 0, "{clocks:#}");
    let week = json(&p, "/ops/api/clocks/week").await;
    assert_eq!(week["total"], 0, "{week:#}");
    let page = html(&p, "/ops/clocks/week").await;
    assert!(
        page.contains("本周其余日子没有截止的法定期限。")
            && !page.contains("001标段中标候选人公示"),
        "a held notice's window on the week's page: {page}"
    );

    // Its publicity starts: published, and its window is this week's.
    p.set_now("2025-04-07T14:01:00+08:00");
    p.wait_receipt(&candidates, |s| s == "published").await;
    let week = json(&p, "/ops/api/clocks/week").await;
    assert_eq!(week["total"], 1, "{week:#}");
    assert_eq!(week["rows"][0]["window"], "publicity", "{week:#}");
    assert_eq!(
        week["rows"][0]["closes_at"], "2025-04-10T10:00:00Z",
        "{week:#}"
    );
}

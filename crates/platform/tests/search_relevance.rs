//! Relevance on a generated Chinese corpus of 2,000 notices built from templates of real titles
//! (places × project types × 施工/监理/设计/采购), with judged queries whose expected result sets
//! come from the generator's own labels, never from the engine.

use gongshi_platform::search::generated::{CITIES, Labels, PROJECTS, WORKS, doc, labels};
use gongshi_platform::search::{SearchDoc, SearchIndex, SearchQuery, Sort, TantivyIndex};
use std::collections::BTreeSet;

const N: usize = 2000;

fn expected(pred: impl Fn(Labels) -> bool) -> BTreeSet<String> {
    (0..N)
        .filter(|i| pred(labels(*i)))
        .map(|i| format!("n{i:05}"))
        .collect()
}

fn all_ids(index: &dyn SearchIndex, mut q: SearchQuery) -> Vec<String> {
    q.per_page = 100;
    let mut out = Vec::new();
    for page in 1.. {
        q.page = page;
        let r = index.search(&q).expect("search");
        if r.hits.is_empty() {
            break;
        }
        out.extend(r.hits.into_iter().map(|h| h.id));
    }
    out
}

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        q: Some(text.to_owned()),
        ..SearchQuery::default()
    }
}

#[test]
fn tantivy_answers_the_judged_queries_on_two_thousand_notices() {
    judged_queries(&TantivyIndex::in_memory().expect("index"));
}

/// The same judgements on Meilisearch, when `GONGSHI_TEST_MEILI_URL` names a running server.
#[test]
fn meilisearch_answers_the_judged_queries_when_reachable() {
    let Ok(url) = std::env::var("GONGSHI_TEST_MEILI_URL") else {
        eprintln!("GONGSHI_TEST_MEILI_URL is not set: Meilisearch relevance not run");
        return;
    };
    let index =
        gongshi_platform::search::MeiliIndex::connect(gongshi_platform::search::MeiliConfig {
            url,
            key: std::env::var("GONGSHI_TEST_MEILI_KEY").ok(),
            index: format!("relevance-{}", std::process::id()),
            task_timeout: std::time::Duration::from_secs(120),
        })
        .expect("connect to meilisearch");
    index.clear().expect("clear");
    judged_queries(&index);
}

fn judged_queries(index: &dyn SearchIndex) {
    let docs: Vec<SearchDoc> = (0..N).map(doc).collect();
    index.upsert_many(&docs).expect("upsert");
    let city = |name: &str| {
        CITIES
            .iter()
            .position(|(c, _)| c.starts_with(name))
            .expect("city")
    };
    let project = |word: &str| {
        PROJECTS
            .iter()
            .position(|p| p.contains(word))
            .expect("project")
    };
    let work = |word: &str| {
        WORKS
            .iter()
            .position(|(w, _)| w.contains(word))
            .expect("work")
    };

    // (query, filters, the labels that must match): each result set must be exactly the expected one.
    let judged: Vec<(SearchQuery, BTreeSet<String>)> = vec![
        (
            q("徐州 道路 施工"),
            expected(|l| {
                l.city == city("徐州") && l.project == project("道路") && l.work == work("施工")
            }),
        ),
        (
            q("南京 学校 监理"),
            expected(|l| {
                l.city == city("南京") && l.project == project("学校") && l.work == work("监理")
            }),
        ),
        (
            q("苏州 医院 设计"),
            expected(|l| {
                l.city == city("苏州") && l.project == project("医院") && l.work == work("设计")
            }),
        ),
        (
            q("蘇州 醫院 設計"),
            expected(|l| {
                l.city == city("苏州") && l.project == project("医院") && l.work == work("设计")
            }),
        ),
        (
            q("長沙 河道 監理"),
            expected(|l| {
                l.city == city("长沙") && l.project == project("河道") && l.work == work("监理")
            }),
        ),
        (
            q("青岛 体育馆"),
            expected(|l| l.city == city("青岛") && l.project == project("体育馆")),
        ),
        (
            q("桥梁 加固 施工"),
            expected(|l| l.project == project("桥梁") && l.work == work("施工")),
        ),
        (
            q("保障性住房 设计"),
            expected(|l| l.project == project("保障性住房") && l.work == work("设计")),
        ),
        (
            q("老旧小区 改造"),
            expected(|l| l.project == project("老旧小区")),
        ),
        (q("供水 管网"), expected(|l| l.project == project("供水"))),
        (
            q("污水处理 监理"),
            expected(|l| l.project == project("污水") && l.work == work("监理")),
        ),
        (
            q("昆明 设备采购"),
            expected(|l| l.city == city("昆明") && l.work == work("采购")),
        ),
        (
            q("成都 中标结果"),
            expected(|l| l.city == city("成都") && l.work == work("采购")),
        ),
        (
            SearchQuery {
                region: Some("32".into()),
                ..q("污水处理")
            },
            expected(|l| l.city < 5 && l.project == project("污水")),
        ),
        (
            SearchQuery {
                region: Some("3203".into()),
                ..q("监理")
            },
            expected(|l| l.city == city("徐州") && l.work == work("监理")),
        ),
        (
            SearchQuery {
                region: Some("37".into()),
                kind: Some("award".into()),
                ..SearchQuery::default()
            },
            expected(|l| (5..7).contains(&l.city) && l.work == work("采购")),
        ),
        (
            q("济南 第3批次 施工"),
            expected(|l| l.city == city("济南") && l.batch == 2 && l.work == work("施工")),
        ),
        (
            q("常州 桥梁 维修"),
            expected(|l| l.city == city("常州") && l.project == project("桥梁")),
        ),
        (
            q("無錫 學校"),
            expected(|l| l.city == city("无锡") && l.project == project("学校")),
        ),
        (
            SearchQuery {
                category: Some("procurement".into()),
                ..q("体育馆")
            },
            expected(|l| l.project == project("体育馆") && l.work == work("采购")),
        ),
        (q("无锡 学校 施工 监理"), BTreeSet::new()),
        (q("哈尔滨 道路"), BTreeSet::new()),
    ];
    assert!(judged.len() >= 20);
    for (query, want) in &judged {
        let got: BTreeSet<String> = all_ids(index, query.clone()).into_iter().collect();
        assert_eq!(&got, want, "query {query:?}");
    }

    // A code typed into the box: its notice is the top hit.
    let target = doc(1234);
    for code in &target.codes {
        let r = index
            .search(&SearchQuery {
                q: Some(code.clone()),
                page: 1,
                per_page: 5,
                ..SearchQuery::default()
            })
            .expect("search");
        assert_eq!(
            r.hits.first().map(|h| h.id.as_str()),
            Some("n01234"),
            "code {code}"
        );
    }

    // A date range sorted by date over the whole result list (several pages).
    let from = doc(300).published_at;
    let to = doc(560).published_at;
    let ranged = all_ids(
        index,
        SearchQuery {
            from: Some(from),
            to: Some(to),
            sort: Sort::PublishedDesc,
            ..SearchQuery::default()
        },
    );
    // Both bounds inclusive, as the feeds' `from`/`to`.
    let want: Vec<String> = (300..=560).rev().map(|i| format!("n{i:05}")).collect();
    assert_eq!(ranged, want);

    // With words, the best match first: a title match outranks a body-only match.
    let r = index
        .search(&SearchQuery {
            page: 1,
            per_page: 3,
            ..q("徐州 施工")
        })
        .expect("search");
    assert!(
        r.hits
            .iter()
            .all(|h| h.title.contains("徐州") && h.title.contains("施工")),
        "{:?}",
        r.hits
    );
}

//! The conformance suite every [`SearchIndex`] must pass: code lookup, every word must match,
//! traditional script, region prefixes, date ranges with sorting, facets, status changes,
//! idempotent upserts and deletes. Engines' tests call [`run`] on an empty index.

use super::{SearchDoc, SearchIndex, SearchQuery, Sections, Sort, StatusChange};
use chrono::{TimeZone, Utc};

fn doc(
    id: &str,
    title: &str,
    body: &str,
    kind: &str,
    region: &str,
    day: u32,
    deadline_day: Option<u32>,
) -> SearchDoc {
    SearchDoc {
        id: id.to_owned(),
        title: title.to_owned(),
        body: body.to_owned(),
        codes: vec![
            format!("E{region}0319{id}"),
            format!("E{region}0319{id}001"),
        ],
        kind: kind.to_owned(),
        category: if kind == "tender" || kind == "award" {
            "works"
        } else {
            "procurement"
        }
        .to_owned(),
        region: Some(region.to_owned()),
        status: "open".to_owned(),
        published_at: Utc
            .with_ymd_and_hms(2025, 3, day, 1, 0, 0)
            .single()
            .unwrap_or_default(),
        deadline: deadline_day.and_then(|d| Utc.with_ymd_and_hms(2025, 4, d, 1, 30, 0).single()),
        sections: Sections::new(),
    }
}

/// A status change with no sections.
fn to(id: &str, status: &str) -> StatusChange {
    StatusChange {
        id: id.to_owned(),
        status: status.to_owned(),
        sections: Sections::new(),
        deadline: None,
    }
}

/// The fixed corpus the suite indexes.
pub fn corpus() -> Vec<SearchDoc> {
    vec![
        doc(
            "0001",
            "徐州市三环东路快速化改造工程施工招标公告",
            "道路、桥梁、排水及附属工程施工，市政公用工程施工总承包一级。",
            "tender",
            "320300",
            3,
            Some(25),
        ),
        doc(
            "0002",
            "南京市江北新区学校建设工程监理招标公告",
            "学校新建工程监理服务，房屋建筑工程监理甲级。",
            "tender",
            "320100",
            5,
            Some(10),
        ),
        doc(
            "0003",
            "济南市中心医院医用耗材采购公告",
            "医用耗材集中采购，预算金额386.5万元。",
            "candidates",
            "370100",
            7,
            None,
        ),
        doc(
            "0004",
            "徐州市云龙区道路照明工程中标结果公告",
            "中标人：江苏某照明工程有限公司，道路照明设施安装。",
            "award",
            "320303",
            9,
            None,
        ),
        doc(
            "0005",
            "长沙市污水处理厂设计招标公告",
            "污水处理厂提标改造设计，市政行业给水排水设计甲级。",
            "tender",
            "430100",
            11,
            Some(2),
        ),
    ]
}

fn ids(index: &dyn SearchIndex, q: &SearchQuery) -> Vec<String> {
    let r = index
        .search(q)
        .unwrap_or_else(|e| panic!("search {q:?}: {e}"));
    r.hits.into_iter().map(|h| h.id).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn query(q: &str) -> SearchQuery {
    SearchQuery {
        q: Some(q.to_owned()),
        page: 1,
        per_page: 20,
        ..SearchQuery::default()
    }
}

/// Runs the suite on any index (it is cleared first); panics with the failing case.
pub fn run(index: &dyn SearchIndex) {
    assert!(index.health(), "index not healthy");
    index.clear().unwrap_or_else(|e| panic!("clear: {e}"));
    for d in corpus() {
        index
            .upsert(&d)
            .unwrap_or_else(|e| panic!("upsert {}: {e}", d.id));
    }
    // Upserting the same notice again replaces it.
    index
        .upsert(&corpus()[0])
        .unwrap_or_else(|e| panic!("re-upsert: {e}"));

    let all = SearchQuery {
        page: 1,
        per_page: 20,
        ..SearchQuery::default()
    };
    let r = index.search(&all).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.total, 5, "one document per id");

    // A code typed into the box finds its notice.
    let codes = corpus()[0].codes.clone();
    assert_eq!(ids(index, &query(&codes[0])), ["0001"], "project code");
    assert_eq!(
        ids(index, &query(&codes[1].to_lowercase())),
        ["0001"],
        "section code, any case"
    );

    // The exact lookup by code finds the notices that carry it, and no other.
    let with = |code: &str| -> Vec<String> {
        let mut found: Vec<String> = index
            .with_code(code, 100)
            .unwrap_or_else(|e| panic!("with_code {code}: {e}"))
            .into_iter()
            .map(|h| h.id)
            .collect();
        found.sort();
        found
    };
    assert_eq!(with(&codes[1]), ["0001"]);
    assert_eq!(with(&codes[1].to_lowercase()), ["0001"], "any case");
    assert!(with("E3203000319").is_empty(), "a prefix is not the code");

    // A code finds only the notices that carry it, not one whose text holds a code one digit
    // away (as words, every character pair of the code is in its text).
    let other = format!("{}2", &codes[0][..codes[0].len() - 1]);
    let near = doc(
        "0006",
        "徐州市三环东路快速化改造工程（二期）施工招标公告",
        &format!("项目编号 {other}，标段编号 {other}001。"),
        "tender",
        "320300",
        4,
        None,
    );
    index.upsert(&near).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(index, &query(&codes[0])), ["0001"], "exactly the code");
    index.delete("0006").unwrap_or_else(|e| panic!("{e}"));

    // Every word must match.
    assert_eq!(sorted(ids(index, &query("徐州 道路"))), ["0001", "0004"]);
    assert_eq!(ids(index, &query("徐州 照明")), ["0004"]);
    assert!(ids(index, &query("徐州 医院")).is_empty(), "AND, not OR");
    assert_eq!(ids(index, &query("监理")), ["0002"]);

    // Traditional characters find simplified text.
    assert_eq!(ids(index, &query("醫用耗材")), ["0003"]);
    assert_eq!(ids(index, &query("監理")), ["0002"]);

    // Region prefixes.
    let region = |r: &str| SearchQuery {
        region: Some(r.to_owned()),
        page: 1,
        per_page: 20,
        ..SearchQuery::default()
    };
    assert_eq!(sorted(ids(index, &region("32"))), ["0001", "0002", "0004"]);
    assert_eq!(sorted(ids(index, &region("3203"))), ["0001", "0004"]);
    assert_eq!(ids(index, &region("320303")), ["0004"]);

    // Date range with newest first across the whole result list.
    let range = SearchQuery {
        from: Utc.with_ymd_and_hms(2025, 3, 5, 0, 0, 0).single(),
        to: Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).single(),
        sort: Sort::PublishedDesc,
        page: 1,
        per_page: 20,
        ..SearchQuery::default()
    };
    assert_eq!(ids(index, &range), ["0004", "0003", "0002"]);
    // Both bounds inclusive, as the feeds' filters: the exact instants of 0002 and 0004.
    let exact = SearchQuery {
        from: Utc.with_ymd_and_hms(2025, 3, 5, 1, 0, 0).single(),
        to: Utc.with_ymd_and_hms(2025, 3, 9, 1, 0, 0).single(),
        ..range.clone()
    };
    assert_eq!(ids(index, &exact), ["0004", "0003", "0002"]);
    // Paging walks the same order.
    let page = |p: usize| SearchQuery {
        sort: Sort::PublishedDesc,
        page: p,
        per_page: 2,
        ..SearchQuery::default()
    };
    assert_eq!(ids(index, &page(1)), ["0005", "0004"]);
    assert_eq!(ids(index, &page(2)), ["0003", "0002"]);
    assert_eq!(ids(index, &page(3)), ["0001"]);

    // Nearest deadline first, among notices that have one.
    let by_deadline = SearchQuery {
        kind: Some("tender".into()),
        sort: Sort::Deadline,
        page: 1,
        per_page: 20,
        ..SearchQuery::default()
    };
    assert_eq!(ids(index, &by_deadline), ["0005", "0002", "0001"]);

    // Facets count every match, not just the page.
    let r = index
        .search(&SearchQuery {
            page: 1,
            per_page: 1,
            ..SearchQuery::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.facets_kind.get("tender"), Some(&3));
    assert_eq!(r.facets_region.get("32"), Some(&3));
    assert_eq!(r.facets_region.get("43"), Some(&1));

    // Snippets mark what matched.
    let r = index
        .search(&query("排水"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        r.hits
            .iter()
            .any(|h| h.snippet.contains("<b>") || h.snippet.contains("<em>")),
        "{:?}",
        r.hits
    );

    // Status changes are searchable; deletes remove.
    index
        .set_status(&to("0001", "closed"))
        .unwrap_or_else(|e| panic!("{e}"));
    let closed = SearchQuery {
        status: Some("closed".into()),
        page: 1,
        per_page: 20,
        ..SearchQuery::default()
    };
    assert_eq!(ids(index, &closed), ["0001"]);
    assert_eq!(
        ids(index, &query(&codes[0])),
        ["0001"],
        "still found after a status change"
    );
    index
        .set_status(&to("no-such-notice", "closed"))
        .unwrap_or_else(|e| panic!("{e}"));

    // A notice of several sections keeps its status in each: the search filters by the notice's
    // status, and the hit carries the sections'.
    let sections: Sections = [
        ("JSGGZY/P/P001".to_owned(), "terminated".to_owned()),
        ("JSGGZY/P/P002".to_owned(), "open".to_owned()),
    ]
    .into();
    index
        .set_status(&StatusChange {
            id: "0001".into(),
            status: "open".into(),
            sections: sections.clone(),
            deadline: None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let open = SearchQuery {
        status: Some("open".into()),
        q: Some(codes[0].clone()),
        ..closed.clone()
    };
    let found = index.search(&open).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        found
            .hits
            .iter()
            .map(|h| (&h.id, &h.sections))
            .collect::<Vec<_>>(),
        [(&"0001".to_owned(), &sections)],
        "a notice's sections are kept with its status"
    );
    assert!(
        ids(
            index,
            &SearchQuery {
                status: Some("terminated".into()),
                ..closed.clone()
            }
        )
        .is_empty(),
        "a section's status is not the notice's"
    );
    index
        .set_status(&to("0001", "closed"))
        .unwrap_or_else(|e| panic!("{e}"));
    let found = index
        .search(&query(&codes[0]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        found
            .hits
            .iter()
            .all(|h| h.sections.is_empty() && h.status == "closed"),
        "a change without sections clears them: {:?}",
        found.hits
    );
    // A deadline moved by a later notice of its stage (0005's 04-02, postponed to 04-20, now
    // after 0002's 04-10) orders the hits and shows in them; a change that moves none keeps it.
    let moved = Utc.with_ymd_and_hms(2025, 4, 20, 1, 30, 0).single();
    index
        .set_status(&StatusChange {
            deadline: moved,
            ..to("0005", "open")
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(index, &by_deadline), ["0002", "0005", "0001"]);
    index
        .set_status(&to("0005", "open"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(index, &by_deadline), ["0002", "0005", "0001"]);
    let hit = index
        .search(&query("污水处理"))
        .unwrap_or_else(|e| panic!("{e}"))
        .hits
        .into_iter()
        .find(|h| h.id == "0005")
        .expect("0005");
    assert_eq!(hit.deadline, moved, "the hit shows the deadline in force");
    index.delete("0005").unwrap_or_else(|e| panic!("{e}"));
    assert!(ids(index, &query("污水处理")).is_empty());

    // Counts and facets follow every write: the same queries asked before and after one (an
    // engine that keeps counts must not serve them past a change).
    let before = index.search(&all).unwrap_or_else(|e| panic!("{e}"));
    let closed_before = index.search(&closed).unwrap_or_else(|e| panic!("{e}"));
    index.delete("0004").unwrap_or_else(|e| panic!("{e}"));
    index
        .set_status(&to("0002", "closed"))
        .unwrap_or_else(|e| panic!("{e}"));
    let after = index.search(&all).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(after.total + 1, before.total, "match count after a delete");
    assert_eq!(
        after.facets_kind.values().sum::<u64>() + 1,
        before.facets_kind.values().sum::<u64>(),
        "kind facets after a delete"
    );
    let closed_after = index.search(&closed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        closed_after.total,
        closed_before.total + 1,
        "match count after a status change"
    );
}

/// Clearing empties the index (checked on a copy of the corpus, then restored).
pub fn run_clear(index: &dyn SearchIndex) {
    index
        .upsert_many(&corpus())
        .unwrap_or_else(|e| panic!("upsert_many: {e}"));
    let all = SearchQuery {
        page: 1,
        per_page: 20,
        ..SearchQuery::default()
    };
    assert_eq!(index.search(&all).map(|r| r.total).ok(), Some(5));
    index.clear().unwrap_or_else(|e| panic!("clear: {e}"));
    assert_eq!(index.search(&all).map(|r| r.total).ok(), Some(0), "cleared");
}

//! `GET /search`: the search form with the filters of `/v1/search` (region chosen by name from
//! the GB/T 2260 provinces and prefectures, category, kind, status, dates, sort), the results
//! with their highlights, facets with names and counts, paging, and links to subscribe to the
//! same search (Atom, RSS, JSON Feed, the event stream). The search itself is `/v1/search`'s
//! ([`routes::search::run`](crate::routes::search::run)).

use super::{cached, format};
use crate::Gateway;
use crate::routes::search::{Hit, MAX_SEARCH_DEPTH, SearchPage, SearchParams, run};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gongshi_domain::codes::regions;
use gongshi_domain::lifecycle::Status;
use gongshi_domain::{Kind, Regime};
use std::sync::OnceLock;

/// A choice of a `<select>`.
pub struct Choice {
    /// Value sent.
    pub value: String,
    /// Label shown.
    pub label: String,
    /// Whether it is the one chosen.
    pub selected: bool,
}

/// A province with its prefectures, for the region `<select>`.
pub struct ProvinceGroup {
    /// Province name.
    pub name: String,
    /// The province itself (2-digit prefix), then its prefectures (4-digit prefixes).
    pub choices: Vec<Choice>,
}

/// A result as the page lists it.
pub struct Row {
    /// `/notices/{id}`.
    pub href: String,
    /// Title as safe HTML: escaped, the query's words in `<mark>`.
    pub title: String,
    /// The snippet as safe HTML: text escaped, matches in `<mark>`.
    pub snippet: String,
    /// Kind and status in Chinese, status class.
    pub kind: &'static str,
    /// Status in Chinese.
    pub status: &'static str,
    /// Status CSS class.
    pub status_class: &'static str,
    /// Facts: project code and name, buyer, amount, region, publication.
    pub facts: Vec<(String, String)>,
    /// The next deadline with where it stands.
    pub deadline: Option<String>,
    /// `/procedures/…`.
    pub procedure_href: Option<String>,
}

/// A facet value as a link that narrows the search.
pub struct FacetLink {
    /// Name.
    pub name: String,
    /// Count.
    pub count: u64,
    /// The search with this value.
    pub href: String,
    /// Whether the search already has it.
    pub active: bool,
}

/// The search page.
#[derive(Template)]
#[template(path = "public/search.html")]
pub struct SearchPageHtml {
    /// The words searched.
    pub q: String,
    /// Region choices by province.
    pub regions: Vec<ProvinceGroup>,
    /// Whether no region is chosen.
    pub any_region: bool,
    /// Category choices.
    pub categories: Vec<Choice>,
    /// Kind choices.
    pub kinds: Vec<Choice>,
    /// Status choices.
    pub statuses: Vec<Choice>,
    /// Sort choices.
    pub sorts: Vec<Choice>,
    /// Published from (date).
    pub from: String,
    /// Published to (date).
    pub to: String,
    /// What went wrong (a bad parameter, no index), in Chinese.
    pub error: Option<String>,
    /// Matches in all.
    pub total: usize,
    /// The results.
    pub rows: Vec<Row>,
    /// Facets by kind.
    pub facet_kinds: Vec<FacetLink>,
    /// Facets by province.
    pub facet_regions: Vec<FacetLink>,
    /// Previous and next page.
    pub prev: Option<String>,
    /// Next page.
    pub next: Option<String>,
    /// Page number and pages.
    pub page: usize,
    /// Pages in all.
    pub pages: usize,
    /// Subscribe links: (label, href).
    pub subscribe: Vec<(&'static str, String)>,
}

/// The page's query as `name=value` pairs (empty values left out), to build links.
fn pairs(p: &SearchParams) -> Vec<(&'static str, String)> {
    let per_page = p.per_page.clone();
    crate::routes::present_pairs([
        ("q", &p.q),
        ("kind", &p.kind),
        ("category", &p.category),
        ("region", &p.region),
        ("status", &p.status),
        ("from", &p.from),
        ("to", &p.to),
        ("sort", &p.sort),
        ("per_page", &per_page),
    ])
}

/// `path?pairs`, the values URL-encoded (`application/x-www-form-urlencoded`, as a form sends).
pub(crate) fn link(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let mut url = match reqwest::Url::parse("http://gongshi.invalid/") {
        Ok(url) => url,
        Err(_) => return path.to_owned(),
    };
    url.query_pairs_mut()
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    format!("{path}?{}", url.query().unwrap_or_default())
}

/// A province (2-digit GB/T 2260 prefix) with its prefectures (4-digit prefixes), by name.
struct Province {
    prefix: String,
    name: String,
    prefectures: Vec<(String, String)>,
}

/// The provinces with their prefectures (GB/T 2260 codes ending in 0000 and 00), built once from
/// `codes/gb2260/regions.tsv`.
fn province_groups() -> &'static [Province] {
    static GROUPS: OnceLock<Vec<Province>> = OnceLock::new();
    GROUPS.get_or_init(|| {
        let mut codes: Vec<(&String, &String)> = regions().iter().collect();
        codes.sort();
        let mut out: Vec<Province> = Vec::new();
        for (code, name) in codes {
            if code.ends_with("0000") {
                out.push(Province {
                    prefix: code[..2].to_owned(),
                    name: name.clone(),
                    prefectures: Vec::new(),
                });
            } else if code.ends_with("00")
                && let Some(last) = out.last_mut()
                && code.starts_with(&last.prefix)
            {
                last.prefectures.push((code[..4].to_owned(), name.clone()));
            }
        }
        out
    })
}

fn choices<'a>(
    all: impl IntoIterator<Item = (&'a str, &'a str)>,
    chosen: Option<&str>,
    any: &str,
) -> Vec<Choice> {
    let mut out = vec![Choice {
        value: String::new(),
        label: any.to_owned(),
        selected: chosen.is_none_or(str::is_empty),
    }];
    out.extend(all.into_iter().map(|(value, label)| Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected: chosen == Some(value),
    }));
    out
}

/// A snippet from the index as safe HTML: whatever the engine sent (HTML-escaped text with
/// `<b>`/`<em>` around matches, or plain text), its text escaped and its matches in `<mark>`;
/// any other markup is dropped.
pub(crate) fn highlight(snippet: &str) -> String {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&amp;", "&")
    };
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = String::with_capacity(snippet.len() + 16);
    let mut rest = snippet;
    let markers = [
        ("<em>", "<mark>"),
        ("</em>", "</mark>"),
        ("<b>", "<mark>"),
        ("</b>", "</mark>"),
    ];
    let mut open = false;
    while !rest.is_empty() {
        let next = markers
            .iter()
            .filter_map(|(m, to)| rest.find(m).map(|i| (i, *m, *to)))
            .min_by_key(|(i, _, _)| *i);
        let (text, after) = match next {
            Some((i, m, to)) => {
                let opening = !to.starts_with("</");
                let text = &rest[..i];
                out.push_str(&escape(&unescape(text)));
                if opening != open {
                    out.push_str(to);
                    open = opening;
                }
                (None, &rest[i + m.len()..])
            }
            None => (Some(rest), ""),
        };
        if let Some(text) = text {
            out.push_str(&escape(&unescape(text)));
        }
        rest = after;
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

/// `text` as safe HTML with every occurrence of the query's words in `<mark>` (titles: the index
/// highlights only the body).
pub(crate) fn mark_words(text: &str, q: &str) -> String {
    let words: Vec<&str> = q.split_whitespace().filter(|w| !w.is_empty()).collect();
    let mut marked = vec![false; text.len()];
    for w in &words {
        for (i, _) in text.match_indices(w) {
            marked[i..i + w.len()].iter_mut().for_each(|m| *m = true);
        }
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut open = false;
    for (i, c) in text.char_indices() {
        if marked[i] != open {
            out.push_str(if marked[i] { "<mark>" } else { "</mark>" });
            open = marked[i];
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

fn row(h: &Hit, q: &str) -> Row {
    let status = Status::parse(&h.hit.status).unwrap_or(Status::Closed);
    let mut facts = Vec::new();
    if let Some(code) = &h.project_code {
        facts.push(("项目编号".to_owned(), code.clone()));
    }
    if let Some(name) = &h.project_name {
        facts.push(("项目名称".to_owned(), name.clone()));
    }
    if let Some(buyer) = &h.buyer {
        facts.push(("招标人/采购人".to_owned(), buyer.clone()));
    }
    if let (Some(label), Some(amount)) = (&h.amount_label, &h.amount)
        && let Ok(d) = amount.parse()
    {
        facts.push((label.clone(), format::yuan(d)));
    }
    if let Some(region) = &h.region_name {
        facts.push(("地区".to_owned(), region.clone()));
    }
    facts.push(("发布".to_owned(), format::beijing(h.hit.published_at)));
    Row {
        href: format!("/notices/{}", h.hit.id),
        title: mark_words(&h.hit.title, q),
        snippet: highlight(&h.hit.snippet),
        kind: crate::views::kind_of(&h.hit.kind).zh(),
        status: status.zh(),
        status_class: super::notice::status_class(status),
        facts,
        deadline: h
            .next_deadline
            .as_ref()
            .map(|d| format!("{}（{}）", d.sentence, d.status)),
        procedure_href: h
            .procedure
            .as_ref()
            .map(|p| super::procedure_href("/procedures", &p.platform, &p.project, &p.section)),
    }
}

/// What "all of it" is for a province-level region: 全省, 全市 (municipalities), 全区.
fn whole(name: &str) -> &'static str {
    if name.ends_with('省') {
        "全省"
    } else if name.ends_with('市') {
        "全市"
    } else {
        "全区"
    }
}

/// `GET /search`: the form, and the results when anything is asked.
#[utoipa::path(get, path = "/search", tag = "pages", operation_id = "search_page",
    params(
        SearchParams,
        ("If-None-Match" = Option<String>, Header, description = "ETag of the page already held")),
    responses(
        (status = 200, description = "The search form and a page of results for people (HTML, zh-CN)", content_type = "text/html", body = String),
        (status = 304, description = "Not modified since the ETag sent"),
        (status = 400, description = "A filter is malformed: the form says which (HTML)", content_type = "text/html", body = String),
        (status = 503, description = "No search index or store reachable: the form says so (HTML)", content_type = "text/html", body = String)))]
pub async fn search(
    State(gw): State<Gateway>,
    query: Result<Query<SearchParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let (p, mut error) = match query {
        Ok(Query(p)) => (p, None),
        Err(_) => (
            SearchParams::default(),
            Some("查询参数有误，已按默认条件显示。".to_owned()),
        ),
    };
    let mut status = StatusCode::OK;
    let result: Option<SearchPage> = match run(&gw, &p).await {
        Ok(r) => Some(r),
        Err(e) => {
            status = e.status();
            error = Some(format!("无法搜索：{}", e.message()));
            None
        }
    };
    let base = pairs(&p);
    let with = |k: &'static str, v: Option<&str>| {
        let mut q: Vec<(&'static str, String)> = base
            .iter()
            .filter(|(name, _)| *name != k && *name != "page")
            .cloned()
            .collect();
        if let Some(v) = v {
            q.push((k, v.to_owned()));
        }
        q
    };
    let region = p.region.as_deref().filter(|r| !r.is_empty());
    let regions = province_groups()
        .iter()
        .map(
            |Province {
                 prefix: code,
                 name,
                 prefectures,
             }| ProvinceGroup {
                name: name.clone(),
                choices: std::iter::once((code, format!("{name}（{}）", whole(name))))
                    .chain(prefectures.iter().map(|(c, n)| (c, format!("{name} {n}"))))
                    .map(|(c, label)| Choice {
                        value: c.clone(),
                        label,
                        selected: region == Some(c.as_str()),
                    })
                    .collect(),
            },
        )
        .collect();
    let per_page = result.as_ref().map_or(20, |r| r.per_page.max(1));
    let page = result.as_ref().map_or(1, |r| r.page);
    let total = result.as_ref().map_or(0, |r| r.total);
    let pages = total
        .div_ceil(per_page)
        .min(MAX_SEARCH_DEPTH / per_page)
        .max(1);
    let page_link = |n: usize| {
        let mut q = with("page", None);
        if n > 1 {
            q.push(("page", n.to_string()));
        }
        link("/search", &q)
    };
    // The feeds take the filters, not the page's sort or size.
    let filters: Vec<(&str, String)> = base
        .iter()
        .filter(|(k, _)| !matches!(*k, "sort" | "per_page"))
        .cloned()
        .collect();
    let html = SearchPageHtml {
        q: p.q.clone().unwrap_or_default(),
        any_region: region.is_none(),
        regions,
        categories: choices(
            Regime::ALL.iter().map(|r| (r.as_str(), r.zh())),
            p.category.as_deref(),
            "全部类别",
        ),
        kinds: choices(
            Kind::ALL.iter().map(|k| (k.as_str(), k.zh())),
            p.kind.as_deref(),
            "全部公告类型",
        ),
        statuses: choices(
            Status::ALL.iter().map(|s| (s.as_str(), s.zh())),
            p.status.as_deref(),
            "全部状态",
        ),
        sorts: choices(
            [("-published", "最新发布"), ("deadline", "截止时间最近")],
            p.sort.as_deref(),
            "相关度",
        ),
        from: p.from.clone().unwrap_or_default(),
        to: p.to.clone().unwrap_or_default(),
        error,
        total,
        rows: result
            .as_ref()
            .map(|r| {
                r.hits
                    .iter()
                    .map(|h| row(h, p.q.as_deref().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
        facet_kinds: result
            .as_ref()
            .map(|r| {
                r.facets
                    .kind_named
                    .iter()
                    .map(|f| FacetLink {
                        name: f.name.clone(),
                        count: f.count,
                        href: link("/search", &with("kind", Some(&f.code))),
                        active: p.kind.as_deref() == Some(f.code.as_str()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        facet_regions: result
            .as_ref()
            .map(|r| {
                r.facets
                    .region_named
                    .iter()
                    .map(|f| FacetLink {
                        name: f.name.clone(),
                        count: f.count,
                        href: link("/search", &with("region", Some(&f.code))),
                        active: region == Some(f.code.as_str()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        prev: (page > 1).then(|| page_link(page - 1)),
        next: (page < pages).then(|| page_link(page + 1)),
        page,
        pages,
        subscribe: vec![
            ("Atom", link("/feeds/notices.atom", &filters)),
            ("RSS", link("/feeds/notices.rss", &filters)),
            ("JSON Feed", link("/feeds/notices.json", &filters)),
            ("实时推送（SSE）", link("/v1/stream", &filters)),
        ],
    };
    cached(&headers, status, &html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_keep_only_their_highlights() {
        assert_eq!(
            highlight("徐州&lt;b&gt;<b>三环</b>东路"),
            "徐州&lt;b&gt;<mark>三环</mark>东路"
        );
        assert_eq!(
            highlight("<em>道路</em> & <script>x</script>"),
            "<mark>道路</mark> &amp; &lt;script&gt;x&lt;/script&gt;"
        );
        assert_eq!(highlight("<em>未闭合"), "<mark>未闭合</mark>");
    }

    #[test]
    fn titles_mark_the_words_searched() {
        assert_eq!(
            mark_words("徐州市三环东路<二期>", "三环 东路"),
            "徐州市<mark>三环东路</mark>&lt;二期&gt;"
        );
        assert_eq!(mark_words("道路", ""), "道路");
    }

    #[test]
    fn links_encode_their_values() {
        assert_eq!(
            link(
                "/search",
                &[("q", "道路 桥梁".to_owned()), ("region", "32".to_owned())]
            ),
            "/search?q=%E9%81%93%E8%B7%AF+%E6%A1%A5%E6%A2%81&region=32"
        );
    }

    #[test]
    fn every_province_has_its_prefectures() {
        let groups = province_groups();
        assert!(groups.len() >= 31, "{}", groups.len());
        let jiangsu = groups.iter().find(|p| p.prefix == "32").expect("Jiangsu");
        assert_eq!(jiangsu.name, "江苏省");
        assert!(
            jiangsu
                .prefectures
                .iter()
                .any(|(c, n)| c == "3203" && n == "徐州市")
        );
    }
}

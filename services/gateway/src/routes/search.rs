//! `GET /v1/search`: full-text search in Chinese over the search index, with the filters of the
//! feeds (checked by the same parser, `FeedFilter::parse`), a sort, paging and facet counts. Hits
//! are completed from the store with what a list of tenders shows (`pages::people`), facets with
//! names beside codes; the `/search` page runs the same search ([`run`]).

use crate::Gateway;
use crate::pages::notice::in_force_elsewhere;
use crate::pages::{format, people};
use crate::routes::{store_error, whole_number};
use crate::views::version_order;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use gongshi_domain::Kind;
use gongshi_domain::codes::region_name;
use gongshi_domain::lifecycle::Status;
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::feed_filter::{FeedFilter, FilterParams};
use gongshi_platform::search::{SearchHit, SearchQuery, Sort};
use gongshi_platform::store::notices::{self, PublicNotice};
use gongshi_platform::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::{IntoParams, ToSchema};

/// Query parameters of `GET /v1/search`: the feeds' filters (by name, as [`FilterParams`]), a
/// sort and paging.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words (every one must match; traditional script finds simplified) or a project/section code.
    pub q: Option<String>,
    /// tender, amendment, candidates, award, termination.
    #[param(pattern = "^(tender|amendment|candidates|award|termination)?$")]
    pub kind: Option<String>,
    /// GB/T 2260 prefix: 2, 4 or 6 digits (`32` is all of Jiangsu).
    #[param(pattern = "^([0-9]{2}){0,3}$")]
    pub region: Option<String>,
    /// works or procurement.
    #[param(pattern = "^(works|procurement)?$")]
    pub category: Option<String>,
    /// open, publicity, closed, awarded, terminated.
    #[param(pattern = "^(open|publicity|closed|awarded|terminated)?$")]
    pub status: Option<String>,
    /// Published at or after (RFC 3339, `yyyy-MM-dd HH:mm` or a date, Beijing time).
    pub from: Option<String>,
    /// Published at or before (a date means the end of that day), as the feeds' `to`.
    pub to: Option<String>,
    /// `relevance` (default), `-published` or `deadline`.
    #[param(pattern = "^(relevance|-published|deadline)?$")]
    pub sort: Option<String>,
    /// 1-based page (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// Hits per page, 1..=100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

impl SearchParams {
    /// The filters, for `FeedFilter::parse`.
    pub(crate) fn filter_params(&self) -> FilterParams {
        FilterParams {
            kind: self.kind.clone(),
            category: self.category.clone(),
            region: self.region.clone(),
            status: self.status.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            q: self.q.clone(),
        }
    }
}

/// Facet counts over every match.
#[derive(Debug, Serialize, ToSchema)]
pub struct Facets {
    /// By kind.
    pub kind: BTreeMap<String, u64>,
    /// By province (two-digit GB/T 2260 prefix).
    pub region: BTreeMap<String, u64>,
    /// By kind, with each kind's Chinese name, in stage order.
    pub kind_named: Vec<FacetCount>,
    /// By province, with each province's name (GB/T 2260), most matches first.
    pub region_named: Vec<FacetCount>,
}

/// One facet value: its code, its name for people, and how many matches have it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FacetCount {
    /// The filter value (`tender`, `32`).
    pub code: String,
    /// Its name (`招标（采购）公告`, `江苏省`).
    pub name: String,
    /// Matches.
    pub count: u64,
}

/// A procedure's key in a hit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HitProcedure {
    /// Platform code.
    pub platform: String,
    /// Project code (项目编号).
    pub project: String,
    /// Section code (标段编号).
    pub section: String,
}

/// The deadline a bidder watches next on a hit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextDeadline {
    /// Window name (`bid`, `publicity`, `documents`, `announcement`, `challenge`).
    pub window: String,
    /// When it closes (RFC 3339, +08:00).
    #[schema(value_type = String)]
    pub end: gongshi_domain::values::datetime::Instant,
    /// The window in words (`投标截止 2025-03-25 09:30`).
    pub sentence: String,
    /// Where it stands now (`还剩 3 个工作日`).
    pub status: String,
}

/// One hit with what a list of tenders shows: the index's fields, and from the published notice
/// (and its procedure's tender for the project's name and buyer) the procedure, the project,
/// buyer, amount, region name and next deadline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hit {
    /// The index's hit (`id`, `title`, `snippet`, `kind`, `region`, `status`, `published_at`,
    /// `deadline`).
    #[serde(flatten)]
    pub hit: SearchHit,
    /// Procedure key.
    pub procedure: Option<HitProcedure>,
    /// Project code (项目编号).
    pub project_code: Option<String>,
    /// Project name (项目名称).
    pub project_name: Option<String>,
    /// Buyer (招标人/采购人).
    pub buyer: Option<String>,
    /// The notice's amount in 元 (estimate, budget or award: see `amount_label`), exact decimal.
    pub amount: Option<String>,
    /// What the amount is (`合同估算价`, `项目预算`, `中标金额`).
    pub amount_label: Option<String>,
    /// The region by name (`江苏省 徐州市`).
    pub region_name: Option<String>,
    /// The next closing of one of its legal windows.
    pub next_deadline: Option<NextDeadline>,
}

/// A page of search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    /// Matches in all.
    pub total: usize,
    /// Page number.
    pub page: usize,
    /// Hits per page.
    pub per_page: usize,
    /// This page.
    pub hits: Vec<Hit>,
    /// Facets.
    pub facets: Facets,
}

/// The deepest result a page may reach: deeper paging costs the engine more than it helps a
/// reader, who narrows the query or follows the feed instead.
pub(crate) const MAX_SEARCH_DEPTH: usize = 10_000;

/// `GET /v1/search`.
#[utoipa::path(get, path = "/v1/search", tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of results with facets", body = SearchPage),
        (status = 400, description = "A parameter is malformed", body = ErrorBody),
        (status = 503, description = "No search index reachable", body = ErrorBody)))]
pub(crate) async fn search(
    State(gw): State<Gateway>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<SearchPage>, ApiError> {
    let Query(p) = params.map_err(|e| {
        ApiError::bad_request(format!(
            "查询参数有误：每个参数只能出现一次 (bad query parameters: {e})"
        ))
    })?;
    run(&gw, &p).await.map(Json)
}

/// Runs a search as `/v1/search` and the `/search` page answer it: the parameters checked, the
/// index asked, the hits completed from the store.
pub(crate) async fn run(gw: &Gateway, p: &SearchParams) -> Result<SearchPage, ApiError> {
    // The same filters, checked the same way, as the feeds, the stream and subscriptions.
    let filter = FeedFilter::parse(&p.filter_params()).map_err(ApiError::bad_request)?;
    let sort = match p.sort.as_deref() {
        None | Some("") | Some("relevance") => Sort::Relevance,
        Some("-published") => Sort::PublishedDesc,
        Some("deadline") => Sort::Deadline,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "sort: '{other}' 应为 -published、deadline 或 relevance"
            )));
        }
    };
    let number = |name: &str, value: &Option<String>, default: i64, most: Option<i64>| {
        let n = whole_number(name, value.as_deref())
            .map_err(ApiError::bad_request)?
            .unwrap_or(default);
        match most {
            _ if n < 1 => Err(format!("{name} 应不小于 1，收到 {n} (out of range)")),
            Some(most) if n > most => Err(format!(
                "{name} 应在 1 到 {most} 之间，收到 {n} (out of range)"
            )),
            _ => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        }
        .map_err(ApiError::bad_request)
    };
    let per_page = number("per_page", &p.per_page, 20, Some(100))?;
    let page = number("page", &p.page, 1, None)?;
    if page.saturating_mul(per_page) > MAX_SEARCH_DEPTH {
        return Err(ApiError::bad_request(format!(
            "page: 最多翻到第 {MAX_SEARCH_DEPTH} 条结果 (results beyond {MAX_SEARCH_DEPTH} are not paged; narrow the query)"
        )));
    }
    let Some(index) = gw.search.clone() else {
        return Err(ApiError::new(
            ErrorCode::SearchUnavailable,
            "此进程没有搜索索引 (no search index in this process)",
        ));
    };
    let query = SearchQuery {
        q: filter.q,
        kind: filter.kind,
        category: filter.category,
        region: filter.region,
        status: filter.status,
        from: filter.from,
        to: filter.to,
        sort,
        page,
        per_page,
    };
    let r = match tokio::task::spawn_blocking(move || index.search(&query)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), message = "search failed");
            return Err(ApiError::new(
                ErrorCode::SearchUnavailable,
                "搜索暂不可用 (search unavailable)",
            ));
        }
        Err(e) => return Err(ApiError::new(ErrorCode::Internal, e.to_string())),
    };
    let hits = complete(gw, r.hits).await?;
    let kind_named = Kind::ALL
        .iter()
        .filter_map(|k| {
            r.facets_kind.get(k.as_str()).map(|&count| FacetCount {
                code: k.as_str().to_owned(),
                name: k.zh().to_owned(),
                count,
            })
        })
        .collect();
    let mut region_named: Vec<FacetCount> = r
        .facets_region
        .iter()
        .map(|(code, &count)| FacetCount {
            code: code.clone(),
            name: region_name(&format!("{code}0000")).map_or_else(|| code.clone(), str::to_owned),
            count,
        })
        .collect();
    region_named.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    Ok(SearchPage {
        total: r.total,
        page,
        per_page,
        hits,
        facets: Facets {
            kind: r.facets_kind,
            region: r.facets_region,
            kind_named,
            region_named,
        },
    })
}

/// A notice's clocks, each window a later notice of its tender stage set anew (an amendment that
/// postponed the deadline) replaced by the one in force, as its page shows them. A notice of
/// several sections (标段) has them in force in each section: all of them, each once, so that the
/// next deadline is the nearest of any section's.
fn clocks_in_force(
    n: &PublicNotice,
    tender_stages: &[PublicNotice],
    hit: &SearchHit,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<gongshi_domain::period::Clock> {
    // Where it stands (in a section): a bid deadline in a section awarded or terminated, or past
    // its tender stage, is no deadline to watch.
    let standing = |key: Option<String>| {
        let status = key
            .and_then(|k| hit.sections.get(&k))
            .unwrap_or(&hit.status);
        Status::parse(status).unwrap_or(Status::Open)
    };
    let own = people::clocks_of(n, now);
    if !matches!(n.kind.as_str(), "tender" | "amendment") {
        let status = standing(None);
        return own
            .into_iter()
            .filter(|c| status.still_counts(&c.window))
            .collect();
    }
    let mut keys: Vec<&serde_json::Value> = n.notice["procedures"]
        .as_array()
        .map(|ps| ps.iter().collect())
        .unwrap_or_default();
    if keys.is_empty() {
        keys.push(&n.notice["procedure"]);
    }
    let mut out: Vec<gongshi_domain::period::Clock> = Vec::new();
    for key in keys {
        let status = standing(Some(format!(
            "{}/{}/{}",
            key["platform"].as_str().unwrap_or_default(),
            key["project"].as_str().unwrap_or_default(),
            key["section"].as_str().unwrap_or_default()
        )));
        let mut stage: Vec<PublicNotice> = tender_stages
            .iter()
            .filter(|t| {
                t.notice["procedures"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p == key))
                    || t.notice["procedure"] == *key
            })
            .cloned()
            .collect();
        version_order(&mut stage);
        let elsewhere = in_force_elsewhere(n, &stage, now);
        for c in &own {
            let c = elsewhere.get(&c.window).map_or(c, |(in_force, _)| in_force);
            if status.still_counts(&c.window)
                && !out.iter().any(|o| o.window == c.window && o.end == c.end)
            {
                out.push(c.clone());
            }
        }
    }
    out
}

/// The index's hits completed from the published notices (one query) and their projects'
/// tenders (one more).
async fn complete(gw: &Gateway, hits: Vec<SearchHit>) -> Result<Vec<Hit>, ApiError> {
    let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
    let stored = notices::published_many(&gw.store.pool, &ids)
        .await
        .map_err(store_error)?;
    let by_id: HashMap<&str, &PublicNotice> =
        stored.iter().map(|n| (n.notice_id.as_str(), n)).collect();
    let projects: Vec<String> = stored
        .iter()
        .filter_map(|n| {
            let p = &n.notice["procedure"];
            Some(format!(
                "{}/{}",
                p["platform"].as_str()?,
                p["project"].as_str()?
            ))
        })
        .collect();
    let tender_stages = notices::tender_stages_of(&gw.store.pool, &projects)
        .await
        .map_err(store_error)?;
    let now = gw.clock.now();
    Ok(hits
        .into_iter()
        .map(|hit| {
            let Some(n) = by_id.get(hit.id.as_str()) else {
                // Indexed but not (or no longer) in the store: the index's fields alone.
                return Hit {
                    region_name: hit.region.as_deref().map(format::region),
                    hit,
                    procedure: None,
                    project_code: None,
                    project_name: None,
                    buyer: None,
                    amount: None,
                    amount_label: None,
                    next_deadline: None,
                };
            };
            let tender = tender_stages.iter().rev().find(|t| {
                t.kind == "tender"
                    && t.notice["procedure"]["platform"] == n.notice["procedure"]["platform"]
                    && t.notice["procedure"]["project"] == n.notice["procedure"]["project"]
            });
            let s = people::summary(n, tender);
            let clocks = clocks_in_force(n, &tender_stages, &hit, now);
            Hit {
                hit,
                procedure: Some(HitProcedure {
                    platform: s.platform,
                    project: s.project.clone(),
                    section: s.section,
                }),
                project_code: Some(s.project),
                project_name: s.project_name.map(|f| f.value),
                buyer: s.buyer.map(|f| f.value),
                amount: s.amount.as_ref().map(|(_, d)| d.normalize().to_string()),
                amount_label: s.amount.map(|(l, _)| l),
                region_name: s.region_name,
                next_deadline: people::next_deadline(&clocks).map(|c| NextDeadline {
                    window: c.window.clone(),
                    end: c.end,
                    sentence: c.sentence.clone(),
                    status: c.status.clone(),
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::{Gateway, Mounted};
    use gongshi_platform::{Bus, Clock, Store};
    use serde_json::Value;

    /// A gateway with no store, bus or index behind it: enough for requests refused before any
    /// of them is asked.
    async fn serve() -> (String, tokio_util::sync::CancellationToken) {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://127.0.0.1:1/none")
            .expect("lazy pool");
        let gw = Gateway {
            store: Store { pool },
            bus: Bus::connect("127.0.0.1:1", "test.").expect("bus"),
            clock: Clock::System,
            search: None,
            config: Default::default(),
            live: crate::stream::live::Live::new(4),
            feed_pages: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let stop = tokio_util::sync::CancellationToken::new();
        let router = gw.router(Mounted::default());
        let s = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await
        });
        (url, stop)
    }

    async fn get(url: &str) -> (u16, Value) {
        let r = reqwest::get(url).await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn search_refuses_the_filters_the_feeds_refuse_with_the_same_code() {
        let (url, stop) = serve().await;
        for bad in [
            "kind=x",
            "category=x",
            "status=x",
            "region=3",
            "from=yesterday",
        ] {
            let (search_status, search) = get(&format!("{url}/v1/search?{bad}")).await;
            let (feed_status, feed) = get(&format!("{url}/feeds/notices.json?{bad}")).await;
            assert_eq!(
                (search_status, feed_status),
                (400, 400),
                "{bad}: {search} {feed}"
            );
            assert_eq!(search["error"]["code"], feed["error"]["code"], "{bad}");
            assert_eq!(search["error"]["code"], "bad-request", "{bad}");
        }
        // Search's own parameters are still its own.
        let (status, body) = get(&format!("{url}/v1/search?sort=x")).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &Value::from("bad-request"))
        );
        // Each named, in Chinese, with what it got.
        for (bad, says) in [
            ("page=x", "page 应为整数，收到 'x'"),
            ("page=1.5", "page 应为整数，收到 '1.5'"),
            ("page=0", "page 应不小于 1，收到 0"),
            ("per_page=0", "per_page 应不小于 1，收到 0"),
            ("per_page=101", "per_page 应在 1 到 100 之间，收到 101"),
            (
                "kind=tender&kind=award",
                "查询参数有误：每个参数只能出现一次",
            ),
        ] {
            let (status, body) = get(&format!("{url}/v1/search?{bad}")).await;
            assert_eq!(
                (status, &body["error"]["code"]),
                (400, &Value::from("bad-request")),
                "{bad}"
            );
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.starts_with(says), "{bad}: {message}");
        }
        // Good filters reach the index (none in this process).
        let (status, body) = get(&format!("{url}/v1/search?kind=tender&region=32")).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (503, &Value::from("search-unavailable"))
        );
        stop.cancel();
    }
}

//! `GET /v1/search`: full-text search in Chinese over the search index, with the filters of the
//! feeds (checked by the same parser, `FeedFilter::parse`), a sort, paging and facet counts.

use crate::Gateway;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::feed_filter::{FeedFilter, FilterParams};
use gongshi_platform::search::{SearchHit, SearchQuery, Sort};
use gongshi_platform::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// Query parameters of `GET /v1/search`: the feeds' filters (by name, as [`FilterParams`]), a
/// sort and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
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
    /// Published before (a date means the end of that day).
    pub to: Option<String>,
    /// `relevance` (default), `-published` or `deadline`.
    #[param(pattern = "^(relevance|-published|deadline)?$")]
    pub sort: Option<String>,
    /// 1-based page.
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<usize>,
    /// Hits per page, 1..=100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub per_page: Option<usize>,
}

impl SearchParams {
    /// The filters, for `FeedFilter::parse`.
    fn filter_params(&self) -> FilterParams {
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
    pub hits: Vec<SearchHit>,
    /// Facets.
    pub facets: Facets,
}

/// The deepest result a page may reach: deeper paging costs the engine more than it helps a
/// reader, who narrows the query or follows the feed instead.
const MAX_SEARCH_DEPTH: usize = 10_000;

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
    let Query(p) = params
        .map_err(|e| ApiError::bad_request(format!("查询参数有误 (bad query parameters): {e}")))?;
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
    let per_page = p.per_page.unwrap_or(20);
    if per_page == 0 || per_page > 100 {
        return Err(ApiError::bad_request("per_page: 1..=100"));
    }
    let page = p.page.unwrap_or(1).max(1);
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
    match tokio::task::spawn_blocking(move || index.search(&query)).await {
        Ok(Ok(r)) => Ok(Json(SearchPage {
            total: r.total,
            page,
            per_page,
            hits: r.hits,
            facets: Facets {
                kind: r.facets_kind,
                region: r.facets_region,
            },
        })),
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), message = "search failed");
            Err(ApiError::new(
                ErrorCode::SearchUnavailable,
                "搜索暂不可用 (search unavailable)",
            ))
        }
        Err(e) => Err(ApiError::new(ErrorCode::Internal, e.to_string())),
    }
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
        let (status, body) = get(&format!("{url}/v1/search?page=x")).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &Value::from("bad-request"))
        );
        // Good filters reach the index (none in this process).
        let (status, body) = get(&format!("{url}/v1/search?kind=tender&region=32")).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (503, &Value::from("search-unavailable"))
        );
        stop.cancel();
    }
}

//! The gateway: one HTTP listener for the public read API (receipts, notices, procedures,
//! search), the feeds (`feeds/`), the event stream (`stream/`), webhook subscriptions
//! (`subscriptions/`), the ingest route, health, readiness and Prometheus metrics.

pub mod config;
pub mod feeds;
pub mod stream;
pub mod subscriptions;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gongshi_ingest::{Ingest, error};
use gongshi_platform::store::receipts;
use gongshi_platform::{Bus, Store};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub mod ocds;
pub mod openapi;
mod views;

pub use ocds::OcdsConfig;

/// Gateway state.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// Store.
    pub store: Store,
    /// Bus (readiness).
    pub bus: Bus,
    /// Clock (notice status depends on which windows are open).
    pub clock: gongshi_platform::Clock,
    /// The search index, when this process has one.
    pub search: Option<std::sync::Arc<dyn gongshi_platform::search::SearchIndex>>,
    /// Feeds, stream and subscription settings.
    pub config: std::sync::Arc<config::GatewayConfig>,
    /// New feed entries for stream clients.
    pub live: stream::live::Live,
}

impl Gateway {
    /// Every route, the ingest route included.
    pub fn router(self, ingest: Ingest) -> Router {
        Router::new()
            .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/v1/receipts/{receipt}", get(receipt))
            .route("/v1/notices/{id}", get(views::notice))
            .route(
                "/v1/procedures/{platform}/{project}/{section}",
                get(views::procedure),
            )
            .route("/v1/search", get(search))
            .route("/feeds/notices.atom", get(feeds::atom))
            .route("/feeds/notices.rss", get(feeds::rss))
            .route("/feeds/notices.json", get(feeds::json))
            .route("/v1/stream", get(stream::stream))
            .route(
                "/v1/subscriptions",
                get(subscriptions::list).post(subscriptions::create),
            )
            .route(
                "/v1/subscriptions/{id}",
                get(subscriptions::get).delete(subscriptions::delete),
            )
            .route("/v1/export/ocds", get(ocds::export))
            .route("/openapi.json", get(openapi_json))
            .fallback(|| async {
                error(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "没有这个地址 (no such route)",
                )
            })
            .with_state(self)
            .merge(ingest.router())
            .layer(axum::middleware::map_response(json_rejections))
    }

    /// Serves on `listen` until `shutdown`.
    pub async fn run(
        self,
        ingest: Ingest,
        listen: &str,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        tracing::info!(listen, message = "gateway listening");
        let poll = std::time::Duration::from_millis(self.config.feed_poll_ms.max(10));
        // The tail starts at the head as it is before any client can connect (see Live::run).
        let start = {
            let mut conn = self.store.pool.acquire().await?;
            gongshi_platform::store::feed::head(&mut conn).await?
        };
        let tail = tokio::spawn(self.live.clone().run(
            self.store.clone(),
            start,
            poll,
            shutdown.clone(),
        ));
        let base = self.config.public_url.clone().map_or_else(
            || format!("http://{listen}"),
            |u| u.trim_end_matches('/').to_owned(),
        );
        let worker =
            subscriptions::worker::Worker::new(self.store.clone(), self.config.clone(), base)?;
        let webhooks = tokio::spawn(worker.run(poll, shutdown.clone()));
        let served = axum::serve(listener, self.router(ingest))
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        let _ = tail.await;
        let _ = webhooks.await;
        served?;
        Ok(())
    }
}

/// The gateway's public base URL: configured (`GONGSHI_PUBLIC_URL`), or `http://` + the request's
/// `Host` (when it is a plain host name).
pub(crate) fn base_url(gw: &Gateway, headers: &axum::http::HeaderMap) -> String {
    if let Some(url) = gw.config.public_url.as_deref() {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub(crate) fn store_error(e: &impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, message = "store unavailable");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "存储暂不可用 (store unavailable)",
    )
}

/// The framework answers a malformed request (a query string that does not deserialize, a bad
/// path, a body that is not JSON) in plain text; every error of this API is JSON, so those answers
/// are rewrapped as `{"error":{"code":"bad-request","message":…}}` with their status kept.
async fn json_rejections(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() && plain) {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        _ => "bad-request",
    };
    error(
        status,
        code,
        format!("请求有误 ({})", String::from_utf8_lossy(&body).trim()),
    )
}

async fn openapi_json() -> Response {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    Json(DOCUMENT.get_or_init(openapi::document)).into_response()
}

async fn readyz(State(gw): State<Gateway>) -> Response {
    let (store, bus) = tokio::join!(gw.store.ping(), gw.bus.ping());
    let status = if store && bus {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"store": store, "bus": bus}))).into_response()
}

async fn metrics() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        gongshi_platform::telemetry::metrics().render(),
    )
        .into_response()
}

/// Whether a path segment can be an id at all; anything else is not found without asking the
/// store (which refuses NUL bytes with an error).
pub(crate) fn plausible_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && !s.contains('\0')
}

async fn receipt(State(gw): State<Gateway>, Path(id): Path<String>) -> Response {
    if !plausible_id(&id) {
        return error(
            StatusCode::NOT_FOUND,
            "receipt-not-found",
            "没有这个回执 (no such receipt)",
        );
    }
    match receipts::records(&gw.store.pool, &id).await {
        Ok(Some(records)) => Json(json!({"receipt": id, "records": records})).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "receipt-not-found",
            format!("没有回执 {id} (no such receipt)"),
        ),
        Err(e) => store_error(&e),
    }
}

/// Query parameters of `GET /v1/search`.
#[derive(Debug, serde::Deserialize)]
struct SearchParams {
    q: Option<String>,
    kind: Option<String>,
    region: Option<String>,
    category: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

pub(crate) fn bad_request(message: String) -> Response {
    error(StatusCode::BAD_REQUEST, "bad-request", message)
}

/// The deepest result a page may reach: deeper paging costs the engine more than it helps a
/// reader, who narrows the query or follows the feed instead.
const MAX_SEARCH_DEPTH: usize = 10_000;

async fn search(
    State(gw): State<Gateway>,
    params: Result<axum::extract::Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let p = match params {
        Ok(axum::extract::Query(p)) => p,
        Err(e) => return bad_request(format!("查询参数有误 (bad query parameters): {e}")),
    };
    use gongshi_domain::values::datetime::{self, DateOnly};
    use gongshi_platform::search::{SearchQuery, Sort};
    let Some(index) = gw.search.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "search-unavailable",
            "此进程没有搜索索引 (no search index in this process)",
        );
    };
    let instant = |name: &str, v: &Option<String>, mode: DateOnly| match v
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        None => Ok(None),
        Some(s) => datetime::parse(s, mode)
            .map(|t| Some(t.with_timezone(&chrono::Utc)))
            .map_err(|e| format!("{name}: {e}")),
    };
    let from = match instant("from", &p.from, DateOnly::StartOfDay) {
        Ok(v) => v,
        Err(message) => return bad_request(message),
    };
    let to = match instant("to", &p.to, DateOnly::EndOfDay) {
        Ok(v) => v,
        Err(message) => return bad_request(message),
    };
    let sort = match p.sort.as_deref() {
        None | Some("") | Some("relevance") => Sort::Relevance,
        Some("-published") => Sort::PublishedDesc,
        Some("deadline") => Sort::Deadline,
        Some(other) => {
            return bad_request(format!(
                "sort: '{other}' 应为 -published、deadline 或 relevance"
            ));
        }
    };
    if let Some(region) = p.region.as_deref().filter(|r| !r.is_empty())
        && !(region.len() <= 6
            && region.len() % 2 == 0
            && region.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad_request(format!(
            "region: '{region}' 应为 2、4 或 6 位行政区划代码前缀"
        ));
    }
    let per_page = p.per_page.unwrap_or(20);
    if per_page == 0 || per_page > 100 {
        return bad_request("per_page: 1..=100".into());
    }
    let page = p.page.unwrap_or(1).max(1);
    if page.saturating_mul(per_page) > MAX_SEARCH_DEPTH {
        return bad_request(format!(
            "page: 最多翻到第 {MAX_SEARCH_DEPTH} 条结果 (results beyond {MAX_SEARCH_DEPTH} are not paged; narrow the query)"
        ));
    }
    let query = SearchQuery {
        q: p.q,
        kind: p.kind,
        category: p.category,
        region: p.region,
        status: p.status,
        from,
        to,
        sort,
        page,
        per_page,
    };
    match tokio::task::spawn_blocking(move || index.search(&query)).await {
        Ok(Ok(r)) => Json(json!({
            "total": r.total, "page": page, "per_page": per_page, "hits": r.hits,
            "facets": {"kind": r.facets_kind, "region": r.facets_region},
        }))
        .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), message = "search failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "search-unavailable",
                "搜索暂不可用 (search unavailable)",
            )
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

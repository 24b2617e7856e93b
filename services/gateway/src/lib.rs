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
use gongshi_platform::store::{notices, receipts};
use gongshi_platform::{Bus, Store};
use serde_json::json;
use tokio_util::sync::CancellationToken;

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
            .route("/v1/notices/{id}", get(notice))
            .route(
                "/v1/procedures/{platform}/{project}/{section}",
                get(procedure),
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
            .fallback(|| async {
                error(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "没有这个地址 (no such route)",
                )
            })
            .with_state(self)
            .merge(ingest.router())
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

pub(crate) fn store_error(e: &sqlx::Error) -> Response {
    tracing::error!(error = %e, message = "store unavailable");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "存储暂不可用 (store unavailable)",
    )
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

async fn receipt(State(gw): State<Gateway>, Path(id): Path<String>) -> Response {
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

/// The lifecycle status of a notice: `open` (bids accepted), `publicity` (candidate publicity
/// running), `closed`, `awarded`, `terminated` — from its kind, its windows at `now`, and the
/// other published stages of its procedure.
fn lifecycle(
    n: &notices::PublicNotice,
    siblings: &[notices::PublicNotice],
    now: chrono::DateTime<chrono::Utc>,
) -> &'static str {
    let has = |kind: &str| siblings.iter().any(|s| s.kind == kind);
    let window_open = |name: &str| {
        n.outcome["windows"][name]["end"]
            .as_str()
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|end| now < end)
    };
    match n.kind.as_str() {
        "termination" => "terminated",
        "award" => "awarded",
        _ if has("termination") => "terminated",
        _ if has("award") => "awarded",
        _ if window_open("publicity") => "publicity",
        _ if window_open("bid") => "open",
        _ => "closed",
    }
}

fn notice_view(
    n: &notices::PublicNotice,
    siblings: &[notices::PublicNotice],
    now: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    let verdict = &n.outcome;
    let warnings: Vec<&serde_json::Value> = verdict["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["severity"] == "WARN")
        .map(|f| &f["rule"])
        .collect();
    json!({
        "id": n.notice_id,
        "table": n.table,
        "kind": n.kind,
        "procedure": n.notice["procedure"],
        "procedures": n.notice["procedures"],
        "title": n.notice["title"],
        "region": n.notice["region"],
        "record": n.notice["canonical"],
        "status": lifecycle(n, siblings, now),
        "published_at": n.published_at,
        "data_timestamp": n.data_timestamp,
        "warnings": warnings,
        "findings": verdict["findings"],
        "windows": verdict["windows"],
    })
}

async fn notice(State(gw): State<Gateway>, Path(id): Path<String>) -> Response {
    match notices::published(&gw.store.pool, &id).await {
        Ok(Some(n)) => {
            let key = n.procedure_key.clone();
            match notices::of_procedure(&gw.store.pool, &key).await {
                Ok(siblings) => Json(notice_view(&n, &siblings, gw.clock.now())).into_response(),
                Err(e) => store_error(&e),
            }
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "notice-not-found",
            format!("没有已发布的公告 {id} (no such published notice)"),
        ),
        Err(e) => store_error(&e),
    }
}

async fn procedure(
    State(gw): State<Gateway>,
    Path((platform, project, section)): Path<(String, String, String)>,
) -> Response {
    let key = format!("{platform}/{project}/{section}");
    match notices::of_procedure(&gw.store.pool, &key).await {
        Ok(list) if list.is_empty() => error(
            StatusCode::NOT_FOUND,
            "procedure-not-found",
            format!("没有已发布的程序 {key}"),
        ),
        Ok(mut list) => {
            list.sort_by_key(|n| (stage_rank(&n.kind), n.published_at));
            let now = gw.clock.now();
            let notices: Vec<_> = list.iter().map(|n| notice_view(n, &list, now)).collect();
            Json(json!({"procedure": {"platform": platform, "project": project, "section": section}, "notices": notices})).into_response()
        }
        Err(e) => store_error(&e),
    }
}

/// Stage order of a procedure: tender, amendments, candidates, award, termination.
fn stage_rank(kind: &str) -> u8 {
    match kind {
        "tender" => 0,
        "amendment" => 1,
        "candidates" => 2,
        "award" => 3,
        _ => 4,
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

fn bad_request(message: String) -> Response {
    error(StatusCode::BAD_REQUEST, "bad-request", message)
}

async fn search(
    State(gw): State<Gateway>,
    axum::extract::Query(p): axum::extract::Query<SearchParams>,
) -> Response {
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

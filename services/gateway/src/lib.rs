//! The gateway: one HTTP listener for the public read API (receipts, notices, procedures,
//! search, OCDS export), the feeds, the event stream, webhook subscriptions, health, readiness,
//! Prometheus metrics and the OpenAPI description — plus the routes of another service served on
//! the same listener (in `gongshi run` and `gongshi gateway`, ingest's `POST /v1/notices`).
//!
//! The handlers are in [`routes`], one file per resource; this file builds the state and wires
//! the router. Non-route logic: [`feeds`] (rendering, cursor), [`stream`] (clients, live tail),
//! [`subscriptions`] (URL check, signature, delivery worker), [`ocds`], `views` (notice views),
//! [`pages`] (the HTML pages for people: `/notices/{id}`, `/procedures/…`, `/search`).

pub mod config;
pub mod feeds;
pub mod ocds;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod rate_limit;
pub mod routes;
pub mod stream;
pub mod subscriptions;
pub mod views;

use axum::Router;
use axum::routing::{get, post};
use gongshi_platform::api_error::json_rejections;
use gongshi_platform::{ApiError, Bus, ErrorCode, Store};
use tokio_util::sync::CancellationToken;

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
    /// Rendered feed pages, and the feed head they are checked against.
    pub feed_pages: feeds::cache::PageCache,
}

/// Routes of another service to serve on the gateway's listener (ingest's), with their OpenAPI
/// description, which `/openapi.json` includes.
#[derive(Default)]
pub struct Mounted {
    /// The routes.
    pub router: Router,
    /// Their description.
    pub openapi: utoipa::openapi::OpenApi,
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounted")
            .field("router", &self.router)
            .field(
                "paths",
                &self.openapi.paths.paths.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Gateway {
    /// Every gateway route, with `other`'s routes beside them; errors are JSON throughout.
    pub fn router(self, other: Mounted) -> Router {
        let document = std::sync::Arc::new(openapi::document(other.openapi));
        // Operations (health, metrics, the stylesheet) and the credentialed routes (ingest,
        // the console) are not rate-limited per client; every public route is.
        let operations = Router::new()
            .route("/healthz", get(routes::health::healthz))
            .route("/readyz", get(routes::health::readyz))
            .route("/metrics", get(routes::health::metrics))
            .route("/assets/gongshi.css", get(pages::stylesheet));
        let public = Router::new()
            .route("/notices/{id}", get(pages::notice::notice))
            .route(
                "/procedures/{platform}/{project}/{section}",
                get(pages::procedure::procedure),
            )
            .route("/search", get(pages::search::search))
            .route("/v1/receipts/{receipt}", get(routes::receipts::receipt))
            .route("/v1/notices/{id}", get(routes::notices::notice))
            .route(
                "/v1/procedures/{platform}/{project}/{section}",
                get(routes::procedures::procedure),
            )
            .route("/v1/search", get(routes::search::search))
            .route("/feeds/notices.atom", get(routes::feeds::atom))
            .route("/feeds/notices.rss", get(routes::feeds::rss))
            .route("/feeds/notices.json", get(routes::feeds::json))
            .route("/v1/stream", get(routes::stream::stream))
            .route(
                "/v1/subscriptions",
                get(routes::subscriptions::list).post(routes::subscriptions::create),
            )
            .route(
                "/v1/subscriptions/{id}",
                get(routes::subscriptions::get)
                    .patch(routes::subscriptions::update)
                    .delete(routes::subscriptions::delete),
            )
            .route(
                "/v1/subscriptions/{id}/redeliver",
                post(routes::subscriptions::redeliver),
            )
            .route("/v1/export/ocds", get(routes::export::export))
            .route("/v1/export/ocds/records", get(routes::export::records))
            .route(
                "/openapi.json",
                get(routes::health::openapi_json).with_state(document),
            );
        let public = rate_limit::limit(
            public,
            self.config.rate_limit_per_second,
            self.config.rate_limit_burst,
            &self.config.trusted_proxies,
        );
        operations
            .merge(public)
            .merge(ops::router())
            .fallback(|| async {
                ApiError::new(ErrorCode::NotFound, "没有这个地址 (no such route)")
            })
            .with_state(self)
            .merge(other.router)
            .layer(axum::middleware::map_response(json_rejections))
    }

    /// Serves on `listen`, with `other`'s routes, until `shutdown`.
    pub async fn run(
        self,
        other: Mounted,
        listen: &str,
        timeouts: &gongshi_platform::http_server::HttpTimeouts,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        tracing::info!(listen, message = "gateway listening");
        if ops::auth::OperatorToken::all(&self.config.operator_tokens).is_empty() {
            tracing::warn!(
                message = "no operators configured (GONGSHI_OPERATOR_TOKENS): the console at /ops/ refuses everyone"
            );
        }
        let poll = std::time::Duration::from_millis(self.config.feed_poll_ms.max(10));
        // The tail starts at the head as it is before any client can connect (see Live::run).
        // A store that is down (restarting, in crash recovery) is waited for, as every stage
        // waits out an outage: a gateway started into one must not exit.
        let mut retry_in = std::time::Duration::from_millis(200);
        let start = loop {
            let head = async {
                let mut conn = self.store.pool.acquire().await?;
                gongshi_platform::store::feed::head(&mut conn).await
            };
            match head.await {
                Ok(head) => break head,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = retry_in.as_millis(),
                        message = "feed head unreadable at start: store unavailable; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(retry_in) => {}
                    }
                    retry_in = (retry_in * 2).min(std::time::Duration::from_secs(5));
                }
            }
        };
        let head = self.feed_pages.head().clone();
        let follower = tokio::spawn(head.clone().follow(self.store.clone(), shutdown.clone()));
        let tail = tokio::spawn(self.live.clone().run(
            self.store.clone(),
            start,
            poll,
            head,
            shutdown.clone(),
        ));
        let base = self.config.public_url.clone().map_or_else(
            || format!("http://{listen}"),
            |u| u.trim_end_matches('/').to_owned(),
        );
        let worker =
            subscriptions::worker::Worker::new(self.store.clone(), self.config.clone(), base)?;
        let webhooks = tokio::spawn(worker.run(poll, shutdown.clone()));
        // The server gives each request its client's address, which the rate limit keys on.
        let served =
            gongshi_platform::http_server::serve(listener, self.router(other), timeouts, shutdown)
                .await;
        let _ = tail.await;
        let _ = webhooks.await;
        let _ = follower.await;
        served?;
        Ok(())
    }
}

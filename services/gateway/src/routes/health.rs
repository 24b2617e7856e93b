//! `GET /healthz` (liveness), `/readyz` (store and bus reachable), `/metrics` (Prometheus) and
//! `/openapi.json` (this API's description).

use crate::Gateway;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Readiness of what the gateway depends on.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// The store answers.
    pub store: bool,
    /// The bus answers.
    pub bus: bool,
}

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// `GET /readyz`.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Store and bus reachable", body = Readiness),
        (status = 503, description = "Something is not reachable", body = Readiness)))]
pub(crate) async fn readyz(State(gw): State<Gateway>) -> (StatusCode, Json<Readiness>) {
    let Readiness { store, bus } = readiness(&gw).await;
    let status = if store && bus {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Readiness { store, bus }))
}

/// Whether the store and the bus answer now (readiness, and the operators' overview).
pub(crate) async fn readiness(gw: &Gateway) -> Readiness {
    let (store, bus) = tokio::join!(gw.store.ping(), gw.bus.ping());
    Readiness { store, bus }
}

/// Whether this process's search index answers; `None` when it has none (the index lives in
/// another process).
pub(crate) async fn index_health(gw: &Gateway) -> Option<bool> {
    let index = gw.search.clone()?;
    Some(
        tokio::task::spawn_blocking(move || index.health())
            .await
            .unwrap_or(false),
    )
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(gw): State<Gateway>) -> Response {
    // The overview's gauges (consumer lag, records by status, dependencies) are measured now;
    // what cannot be measured within a few seconds keeps its last value.
    let measured = tokio::time::timeout(
        std::time::Duration::from_secs(8),
        crate::ops::overview::measure(&gw),
    )
    .await;
    if measured.is_err() {
        tracing::debug!(message = "overview gauges not measured for this scrape");
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        gongshi_platform::telemetry::metrics().render(),
    )
        .into_response()
}

/// `GET /openapi.json`: the description, built once per router (with the routes of the other
/// service it serves).
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "operations",
    responses((status = 200, description = "This description", body = Value)))]
pub(crate) async fn openapi_json(State(document): State<Arc<Value>>) -> Response {
    Json(&*document).into_response()
}

//! The ingest service: `POST /v1/notices` accepts one document (XML or JSON) from a trading
//! platform. It answers 202 with a receipt only once the document and its record rows are in
//! PostgreSQL and the `received` event is on the bus (the event carries the receipt id; the
//! document itself stays in the store, so no size limit of the broker applies).

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use gongshi_domain::{Document, DocumentError, Limits};
use gongshi_platform::bus::topics;
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::{DocumentNotAccepted, DocumentReceived};
use gongshi_platform::{Bus, Envelope, Store, store};
use serde_json::json;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Ingest settings.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestConfig {
    /// Bearer tokens accepted by `POST /v1/notices` (comma-separated).
    #[arg(
        long,
        env = "GONGSHI_INGEST_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub ingest_tokens: Vec<String>,
    /// Largest document accepted, in bytes.
    #[arg(long, env = "GONGSHI_MAX_DOCUMENT_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_document_bytes: usize,
}

/// What the route handlers share.
#[derive(Debug, Clone)]
pub struct Ingest {
    store: Store,
    bus: Bus,
    tokens: Arc<Vec<String>>,
    limits: Limits,
}

impl Ingest {
    /// The ingest handlers over a store and a bus.
    pub fn new(store: Store, bus: Bus, config: &IngestConfig) -> Self {
        let tokens = config
            .ingest_tokens
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        Self {
            store,
            bus,
            tokens: Arc::new(tokens),
            limits: Limits {
                max_document_bytes: config.max_document_bytes,
                ..Limits::default()
            },
        }
    }

    /// The ingest routes, to serve alone or merged into the gateway.
    pub fn router(self) -> Router {
        // Bodies somewhat over the limit are read whole so the handler can answer 413 with our JSON
        // error on an intact connection (a client still uploading would otherwise see a reset);
        // far larger ones are cut off by the framework's own 413.
        let limit = self
            .limits
            .max_document_bytes
            .saturating_mul(4)
            .max(16 * 1024 * 1024);
        Router::new()
            .route("/v1/notices", post(post_notice))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self)
    }
}

/// An error answer: `{"error": {"code", "message"}}`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

async fn post_notice(
    State(ingest): State<Ingest>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")).map(str::trim) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "需要 Authorization: Bearer <ingest token> (ingest token required)",
        );
    };
    if !ingest.tokens.iter().any(|t| t == token) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "该令牌无权提交公告 (token not accepted)",
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !matches!(
        content_type.as_str(),
        "application/xml" | "text/xml" | "application/json"
    ) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!(
                "不支持的内容类型 '{content_type}'，应为 application/xml、text/xml 或 application/json"
            ),
        );
    }
    let document = match Document::parse(&body, ingest.limits) {
        Ok(d) => d,
        Err(e @ DocumentError::TooLarge { .. }) => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, e.rule(), e.to_string());
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, e.rule(), e.to_string()),
    };
    let tables: Vec<String> = document.records().into_iter().map(|r| r.table).collect();
    match accept(&ingest, &body, &content_type, &tables, "http").await {
        Ok(receipt) => (
            StatusCode::ACCEPTED,
            Json(json!({"receipt": receipt, "records": tables.len()})),
        )
            .into_response(),
        Err(e) => {
            DocumentNotAccepted { error: &e }.emit();
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "暂时无法接收，请重试 (store or bus unavailable; retry)",
            )
        }
    }
}

/// Stores a parsed document and puts its `received` event on the bus; returns the receipt id.
/// On a bus failure the stored rows are removed again, so nothing unacknowledged lingers.
pub async fn accept(
    ingest: &Ingest,
    body: &[u8],
    content_type: &str,
    tables: &[String],
    source: &str,
) -> anyhow::Result<String> {
    let receipt = uuid::Uuid::now_v7().to_string();
    store::receipts::insert(
        &ingest.store.pool,
        &receipt,
        content_type,
        body,
        source,
        tables,
    )
    .await?;
    let event = Envelope::new(
        format!("received:{receipt}"),
        "notice.received",
        receipt.clone(),
        json!({"receipt": receipt, "content_type": content_type, "records": tables.len()}),
    );
    if let Err(e) = ingest.bus.publish(topics::RECEIVED, &event).await {
        if let Err(undo) = store::receipts::delete(&ingest.store.pool, &receipt).await {
            tracing::warn!(receipt, error = %undo, message = "unsent receipt not removed");
        }
        return Err(e.into());
    }
    DocumentReceived {
        receipt: &receipt,
        records: tables.len(),
    }
    .emit();
    Ok(receipt)
}

/// Serves the ingest routes alone on `listen` until `shutdown`.
pub async fn run(ingest: Ingest, listen: &str, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(listen, message = "ingest listening");
    axum::serve(listener, ingest.router())
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

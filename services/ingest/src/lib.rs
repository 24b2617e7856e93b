//! The ingest service: `POST /v1/notices` accepts one document (XML or JSON) from a trading
//! platform. It answers 202 with a receipt once the document, its record rows and its `received`
//! event are committed to PostgreSQL together (the event in the outbox); [`sender`] then puts the
//! event on the bus. The event carries the receipt id; the document itself stays in the store, so
//! no size limit of the broker applies, and a broker outage does not stop ingest.

mod sender;
mod writer;

use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use gongshi_domain::events::{Event as _, NoticeReceived};
use gongshi_domain::{Document, DocumentError, Limits};
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::{DocumentNotAccepted, DocumentReceived};
use gongshi_platform::{ApiError, Bus, ErrorCode, Store};
use sender::Sender;
use serde::Serialize;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use utoipa::{OpenApi, ToSchema};
use writer::{Pending, Writer};

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
    /// Largest document accepted, in bytes (at most 4 MiB: a quarter of the largest event the
    /// bus carries, so that every record of an accepted document reaches publication).
    #[arg(long, env = "GONGSHI_MAX_DOCUMENT_BYTES", default_value_t = 2 * 1024 * 1024,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
              .range(1..=(gongshi_platform::bus::MAX_MESSAGE_BYTES as u64 / 4)))]
    pub max_document_bytes: usize,
}

/// What the route handlers share.
#[derive(Debug, Clone)]
pub struct Ingest {
    writer: Writer,
    tokens: Arc<Vec<String>>,
    limits: Limits,
}

impl Ingest {
    /// The ingest handlers over a store and a bus. Starts the tasks that store accepted documents
    /// ([`writer`]) and send their events ([`sender`]), so it must be called within a Tokio
    /// runtime.
    pub fn new(store: Store, bus: Bus, config: &IngestConfig) -> Self {
        let tokens = config
            .ingest_tokens
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        Self {
            writer: Writer::spawn(store.clone(), Sender::spawn(store, bus)),
            tokens: Arc::new(tokens),
            limits: Limits {
                max_document_bytes: config.max_document_bytes,
                ..Limits::default()
            },
        }
    }

    /// The most of a body read: bodies somewhat over the document limit are read whole so the
    /// handler can answer 413 on an intact connection (a client still uploading would otherwise
    /// see a reset); reading a larger one stops here.
    fn body_limit(&self) -> usize {
        self.limits
            .max_document_bytes
            .saturating_mul(4)
            .max(16 * 1024 * 1024)
    }

    /// The ingest routes, to serve alone or merged into the gateway.
    pub fn router(self) -> Router {
        let limit = self.body_limit();
        Router::new()
            .route("/v1/notices", post(post_notice))
            .layer(DefaultBodyLimit::max(limit))
            .layer(axum::middleware::from_fn_with_state(limit, declared_size))
            .with_state(self)
    }
}

/// Refuses a body whose `Content-Length` is over `limit` before a byte of it is read: a client
/// announcing 100 MB learns at once, and the listener never buffers what it would refuse.
async fn declared_size(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(size) if size > u64::try_from(limit).unwrap_or(u64::MAX) => ApiError::new(
            ErrorCode::DocumentTooLarge,
            format!(
                "文档大小 {size} 字节超过上限 {limit} 字节，未读取即拒收 (document too large: Content-Length over the limit; refused unread)"
            ),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// The body, or the error that says why it could not be read: one over the body limit (sent
/// without a `Content-Length`, or longer than it said) is cut off once `limit` bytes have come.
fn read_body(
    body: Result<axum::body::Bytes, BytesRejection>,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    match body {
        Ok(bytes) => Ok(bytes),
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            Err(ApiError::new(
                ErrorCode::DocumentTooLarge,
                format!(
                    "文档超过上限 {limit} 字节，读到上限即拒收 (document too large: over the limit of {limit} bytes; reading stopped there)"
                ),
            ))
        }
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::UnknownBodyError(e)))
            if body_timed_out(&e) =>
        {
            Err(ApiError::new(
                ErrorCode::RequestTimeout,
                "请求体中途停止发送，超过等待上限 (the request body stopped arriving for longer than the \
                 server's body timeout, GONGSHI_HTTP_BODY_TIMEOUT_MS); nothing was stored: send the \
                 document again",
            ))
        }
        Err(other) => Err(ApiError::rejection(
            other.status(),
            format!(
                "无法读取请求体 (cannot read the request body): {}",
                other.body_text()
            ),
        )),
    }
}

/// Whether reading a body failed because it stopped arriving (the server's body timeout,
/// [`gongshi_platform::http_server`]).
fn body_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Adds the ingest token's bearer scheme.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "ingest_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The description of the ingest route, for the OpenAPI document of the listener that serves it.
#[derive(OpenApi)]
#[openapi(paths(post_notice), modifiers(&Security))]
struct IngestApi;

/// The OpenAPI description of [`Ingest::router`]'s routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    IngestApi::openapi()
}

/// A document durably accepted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Accepted {
    /// Receipt id: follow it at `/v1/receipts/{receipt}`.
    pub receipt: String,
    /// Records found in the document.
    pub records: usize,
}

/// `POST /v1/notices`.
#[utoipa::path(post, path = "/v1/notices", tag = "ingest",
    request_body(description = "One document: the platform's XML (single record or `<BATCH>`) or JSON. UTF-8, or GBK/GB18030 declared in the document (XML declaration `encoding=`, or a byte-order mark); the Content-Type `charset` parameter is not read",
        content(
            (String = "application/xml"),
            (String = "text/xml"),
            (Value = "application/json"))),
    security(("ingest_token" = [])),
    responses(
        (status = 202, description = "Durably accepted", body = Accepted),
        (status = 400, description = "Unreadable XML or JSON (line and column in the message)", body = ErrorBody),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Token not accepted", body = ErrorBody),
        (status = 408, description = "The body stopped arriving for longer than the server's body timeout (`request-timeout`); nothing was stored, send it again", body = ErrorBody),
        (status = 413, description = "Over the size limit (`DOC-TOO-LARGE`)", body = ErrorBody),
        (status = 415, description = "Not XML or JSON, or compressed (no `Content-Encoding` is accepted)", body = ErrorBody),
        (status = 503, description = "Store unavailable; retry", body = ErrorBody)))]
async fn post_notice(
    State(ingest): State<Ingest>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let body = read_body(body, ingest.body_limit())?;
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")).map(str::trim) else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "需要 Authorization: Bearer <ingest token> (ingest token required)",
        ));
    };
    if gongshi_platform::tokens::find(ingest.tokens.iter().map(String::as_str), token).is_none() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "该令牌无权提交公告 (token not accepted)",
        ));
    }
    // Bodies are never decompressed here: a compressed one would be a door to a decompression bomb
    // (a few kilobytes that inflate to gigabytes), and no platform needs it for 2 MiB documents.
    if let Some(coding) = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|c| c != "identity")
    {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "不接受压缩的请求体 (Content-Encoding '{coding}' not accepted): 请发送未压缩的文档 (send the document uncompressed)"
            ),
        ));
    }
    let header_value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let content_type = header_value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        content_type.as_str(),
        "application/xml" | "text/xml" | "application/json"
    ) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "不支持的内容类型 '{content_type}'，应为 application/xml、text/xml 或 application/json"
            ),
        ));
    }
    let document = Document::parse(&body, ingest.limits).map_err(|e| {
        match (&e, charset_of(header_value)) {
            (DocumentError::Encoding { .. }, Some(charset)) => ApiError::new(
                ErrorCode::Unreadable(e.rule()),
                format!("{e}{}", undeclared_charset(&charset)),
            ),
            _ => ApiError::from(&e),
        }
    })?;
    let tables = document.tables();
    let records = tables.len();
    match accept(&ingest, body, &content_type, tables, "http").await {
        Ok(receipt) => Ok((StatusCode::ACCEPTED, Json(Accepted { receipt, records }))),
        Err(e) => {
            DocumentNotAccepted { error: &e }.emit();
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "暂时无法接收，请重试 (store unavailable; retry)",
            ))
        }
    }
}

/// The `charset` parameter of a Content-Type value (RFC 9110 §8.3.1), unquoted, when it names
/// another encoding than UTF-8.
fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (name.trim().eq_ignore_ascii_case("charset")
            && !value.eq_ignore_ascii_case("utf-8")
            && !value.eq_ignore_ascii_case("utf8"))
        .then(|| value.to_owned())
    })
}

/// What to add to a decoding error when the request's Content-Type named a charset: the document
/// is read by its own declaration (wire-format.md §Documents: a byte-order mark or the XML
/// declaration's `encoding=`, else UTF-8), so the platform learns to declare it there.
fn undeclared_charset(charset: &str) -> String {
    format!(
        "；请求头声明了 charset={charset}，但文档按其自身的编码声明解码（字节顺序标记或 XML 声明，未声明即 UTF-8）：\
         请在文档开头写明 <?xml version=\"1.0\" encoding=\"{charset}\"?> \
         (the Content-Type charset is not read: declare the encoding in the document)"
    )
}

/// Stores a parsed document and its `received` event (in the outbox) in one transaction, shared
/// with the documents that arrive beside it ([`writer`]), and hands the event to the sender
/// ([`sender`]); returns the receipt id. Once this returns, the document is durably accepted:
/// its event reaches the bus whatever happens to this process or the broker.
pub async fn accept(
    ingest: &Ingest,
    body: axum::body::Bytes,
    content_type: &str,
    tables: Vec<String>,
    source: &'static str,
) -> anyhow::Result<String> {
    let receipt = uuid::Uuid::now_v7().to_string();
    let records = tables.len();
    let event = NoticeReceived {
        receipt: receipt.clone(),
        content_type: content_type.to_owned(),
        records,
    }
    .envelope();
    ingest
        .writer
        .store(Pending {
            receipt_id: receipt.clone(),
            received_at: chrono::Utc::now(),
            content_type: content_type.to_owned(),
            document: body,
            source,
            tables,
            event,
        })
        .await?;
    DocumentReceived {
        receipt: &receipt,
        records,
    }
    .emit();
    Ok(receipt)
}

/// Serves the ingest routes alone on `listen` until `shutdown`.
pub async fn run(
    ingest: Ingest,
    listen: &str,
    timeouts: &gongshi_platform::http_server::HttpTimeouts,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(listen, message = "ingest listening");
    gongshi_platform::http_server::serve(listener, ingest.router(), timeouts, shutdown).await?;
    Ok(())
}

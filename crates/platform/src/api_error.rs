//! The one error answer of gongshi's HTTP API (`spec/api.md`): JSON
//! `{"error":{"code":"…","message":"…"}}` with a stable `code`, each code with its HTTP status.
//! Every service that serves HTTP (ingest, gateway) answers its errors with [`ApiError`].

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gongshi_domain::DocumentError;
use serde::Serialize;
use utoipa::ToSchema;

/// A stable error code of the API; each code has one HTTP status ([`ErrorCode::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `bad-request` (400): a parameter, body or path is malformed.
    BadRequest,
    /// `bad-cursor` (400): a feed cursor this service did not issue.
    BadCursor,
    /// `bad-last-event-id` (400): a stream resume id this stream did not send.
    BadLastEventId,
    /// A document that cannot be read (400), named by its rule: `DOC-XML`, `DOC-JSON`,
    /// `DOC-EMPTY`, `DOC-ENCODING`, `DOC-FORMAT`.
    Unreadable(&'static str),
    /// `unauthorized` (401): no bearer token.
    Unauthorized,
    /// `forbidden` (403): a token that is not accepted here.
    Forbidden,
    /// `not-found` (404): no such route.
    NotFound,
    /// `receipt-not-found` (404).
    ReceiptNotFound,
    /// `record-not-found` (404): the receipt has no record at that index.
    RecordNotFound,
    /// `rate-limited` (429): the client sent more requests than its limit; `Retry-After` says when
    /// to try again.
    RateLimited,
    /// `action-not-applicable` (409): an operator action that does not apply to the record's
    /// status (retry of a record that is not quarantined, …).
    ActionNotApplicable,
    /// `notice-not-found` (404): no such published notice.
    NoticeNotFound,
    /// `procedure-not-found` (404): no published notice of that procedure.
    ProcedureNotFound,
    /// `subscription-not-found` (404): no such subscription of this token.
    SubscriptionNotFound,
    /// `no-releases` (404): no published notice in the OCDS export's range.
    NoReleases,
    /// `method-not-allowed` (405).
    MethodNotAllowed,
    /// `request-timeout` (408): the request body stopped arriving for longer than the server's
    /// body timeout (`GONGSHI_HTTP_BODY_TIMEOUT_MS`); send it again.
    RequestTimeout,
    /// `too-large` (413): a body over the framework's limit.
    TooLarge,
    /// `DOC-TOO-LARGE` (413): a document over the ingest size limit.
    DocumentTooLarge,
    /// `unsupported-media-type` (415).
    UnsupportedMediaType,
    /// `internal` (500).
    Internal,
    /// `unavailable` (503): the store or the bus does not answer; retry.
    Unavailable,
    /// `search-unavailable` (503): no search index in this process, or it does not answer.
    SearchUnavailable,
}

impl ErrorCode {
    /// The code as clients read it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad-request",
            ErrorCode::BadCursor => "bad-cursor",
            ErrorCode::BadLastEventId => "bad-last-event-id",
            ErrorCode::Unreadable(rule) => rule,
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not-found",
            ErrorCode::ReceiptNotFound => "receipt-not-found",
            ErrorCode::RecordNotFound => "record-not-found",
            ErrorCode::ActionNotApplicable => "action-not-applicable",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::NoticeNotFound => "notice-not-found",
            ErrorCode::ProcedureNotFound => "procedure-not-found",
            ErrorCode::SubscriptionNotFound => "subscription-not-found",
            ErrorCode::NoReleases => "no-releases",
            ErrorCode::MethodNotAllowed => "method-not-allowed",
            ErrorCode::RequestTimeout => "request-timeout",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::DocumentTooLarge => "DOC-TOO-LARGE",
            ErrorCode::UnsupportedMediaType => "unsupported-media-type",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::SearchUnavailable => "search-unavailable",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest
            | ErrorCode::BadCursor
            | ErrorCode::BadLastEventId
            | ErrorCode::Unreadable(_) => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound
            | ErrorCode::ReceiptNotFound
            | ErrorCode::RecordNotFound
            | ErrorCode::NoticeNotFound
            | ErrorCode::ProcedureNotFound
            | ErrorCode::SubscriptionNotFound
            | ErrorCode::NoReleases => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::ActionNotApplicable => StatusCode::CONFLICT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::TooLarge | ErrorCode::DocumentTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable | ErrorCode::SearchUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

/// An error answer: a code, its status, and a message in Chinese with English in brackets.
#[derive(Debug, Clone)]
pub struct ApiError {
    code: ErrorCode,
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with `code`'s status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            status: code.status(),
            message: message.into(),
        }
    }

    /// `bad-request` (400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    /// A request the framework refused before any handler ran (a query string or path that does
    /// not deserialize, a body over its limit): the framework's 4xx status is kept, the code
    /// follows it (`too-large`, `unsupported-media-type`, `method-not-allowed`, otherwise
    /// `bad-request`). The only errors whose status may differ from their code's.
    pub fn rejection(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            _ => ErrorCode::BadRequest,
        };
        ApiError {
            code,
            status,
            message: message.into(),
        }
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message.clone(),
            },
        }
    }
}

/// A document that cannot be read: its rule id is the code, 413 when it is too large, else 400.
impl From<&DocumentError> for ApiError {
    fn from(e: &DocumentError) -> Self {
        let code = match e {
            DocumentError::TooLarge { .. } => ErrorCode::DocumentTooLarge,
            other => ErrorCode::Unreadable(other.rule()),
        };
        ApiError::new(code, e.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code.as_str(),
            self.status,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `not-found`, `bad-request`, `unauthorized`, or a rule id such as
    /// `DOC-XML` for a document that cannot be read.
    pub code: String,
    /// Message in Chinese with English in brackets.
    pub message: String,
}

/// A response layer (`axum::middleware::map_response(json_rejections)`): the framework answers
/// a malformed request (a query string that does not deserialize, a bad path, a body that is not
/// JSON) in plain text; every error of this API is JSON, so those answers are rewrapped as
/// `{"error":{"code":"bad-request","message":…}}` with their status kept
/// ([`ApiError::rejection`]).
pub async fn json_rejections(response: Response) -> Response {
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
    ApiError::rejection(
        status,
        format!("请求有误 ({})", String::from_utf8_lossy(&body).trim()),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_body_is_the_contract_shape() {
        let response = ApiError::new(ErrorCode::NoticeNotFound, "没有 (none)").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "notice-not-found", "message": "没有 (none)"}})
        );
    }

    #[test]
    fn document_errors_keep_their_rule_id() {
        let too_large = DocumentError::TooLarge { size: 9, limit: 1 };
        let e = ApiError::from(&too_large);
        assert_eq!(
            (e.code().as_str(), e.status()),
            (too_large.rule(), StatusCode::PAYLOAD_TOO_LARGE)
        );
        let e = ApiError::from(&DocumentError::Empty);
        assert_eq!(
            (e.code().as_str(), e.status()),
            ("DOC-EMPTY", StatusCode::BAD_REQUEST)
        );
    }

    #[tokio::test]
    async fn plain_text_rejections_become_json_with_their_status() {
        let plain = (
            StatusCode::UNPROCESSABLE_ENTITY,
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            "missing field",
        )
            .into_response();
        let response = json_rejections(plain).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["error"]["code"], "bad-request");
        assert_eq!(json["error"]["message"], "请求有误 (missing field)");
    }
}

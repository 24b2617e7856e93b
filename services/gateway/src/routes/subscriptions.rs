//! `POST/GET/PATCH/DELETE /v1/subscriptions`: a bidder's saved search (the feeds' filters and `q`)
//! with a webhook URL and secret, behind a subscriber token (`GONGSHI_SUBSCRIBER_TOKENS`); each
//! token sees and manages only its own subscriptions. Deliveries: see `subscriptions::worker`.

use crate::Gateway;
use crate::routes::store_error;
use crate::subscriptions::webhook_url;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::feed_filter::{FeedFilter, FilterParams};
use gongshi_platform::store::subscriptions::{self, Subscription};
use gongshi_platform::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// The body of `POST /v1/subscriptions`: a saved search and where to deliver it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSubscription {
    /// Where deliveries are POSTed (http or https).
    pub webhook_url: String,
    /// HMAC-SHA256 key, 16–256 characters; generated and returned once when absent.
    pub secret: Option<String>,
    /// The saved search: the filters of the feeds.
    #[serde(flatten)]
    pub filter: FilterParams,
    /// Any other member: refused with its name ([`NewSubscription::unknown`]). A misspelt filter
    /// (`regoin`) would otherwise leave the search unfiltered and flood the bidder with every
    /// notice.
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: std::collections::BTreeMap<String, serde_json::Value>,
}

impl NewSubscription {
    /// The names of the members that are neither the URL, the secret nor a filter, as a message.
    pub fn unknown(&self) -> Option<String> {
        (!self.unknown.is_empty()).then(|| {
            format!(
                "{}: 不是订阅的字段 (not a subscription field; the fields are webhook_url, secret, \
                 kind, category, region, status, from, to, q)",
                self.unknown.keys().cloned().collect::<Vec<_>>().join("、")
            )
        })
    }
}

/// A subscription as its owner sees it (never its secret, except once when generated).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// Id.
    pub id: String,
    /// Where deliveries are POSTed (a password in it shown as `***`).
    pub webhook_url: String,
    /// The saved search.
    pub filters: FeedFilter,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When its receiver or secret last changed (`PATCH`).
    pub updated_at: Option<DateTime<Utc>>,
    /// While a rolled secret still signs beside the current one: until when.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// The feed seq the fan-out has read up to.
    pub cursor: i64,
    /// Deliveries by state.
    pub deliveries: DeliveryCounts,
    /// Its receiver as a whole.
    pub receiver: ReceiverView,
    /// The latest deliveries that failed or are being retried after an error.
    pub last_failures: Vec<DeliveryFailure>,
    /// The generated secret, in the answer to the `POST` or `PATCH` that generated it only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Deliveries by state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryCounts {
    /// Waiting for a first or further attempt.
    pub pending: i64,
    /// Acknowledged with a 2xx.
    pub delivered: i64,
    /// Given up after the configured horizon.
    pub failed: i64,
}

/// A subscription's receiver as a whole. When it cannot be reached, times out, or answers 5xx or
/// about the endpoint (3xx, 401, 403, 404, 405, 410, 408, 429), every delivery of the subscription
/// waits until `paused_until` (back-off doubling from `GONGSHI_WEBHOOK_RETRY_BASE_MS` up to an
/// hour, or longer when its `Retry-After` asks), then the oldest tries again; the first 2xx sets it
/// back to `ok` and the rest follow in order. 400, 409, 413, 415 and 422 refuse one delivery only,
/// which is retried on its own.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReceiverView {
    /// `ok` (answering) or `failing`.
    #[schema(example = "failing")]
    pub state: &'static str,
    /// Failures in a row since its last 2xx.
    pub consecutive_failures: i32,
    /// The first of them.
    pub failing_since: Option<DateTime<Utc>>,
    /// No delivery is sent before this instant.
    pub paused_until: Option<DateTime<Utc>>,
    /// What went wrong last.
    pub last_error: Option<String>,
}

impl From<subscriptions::Receiver> for ReceiverView {
    fn from(r: subscriptions::Receiver) -> Self {
        ReceiverView {
            state: if r.consecutive_failures > 0 {
                "failing"
            } else {
                "ok"
            },
            consecutive_failures: r.consecutive_failures,
            failing_since: r.failing_since,
            paused_until: r.paused_until,
            last_error: (r.consecutive_failures > 0)
                .then_some(r.last_error)
                .flatten(),
        }
    }
}

/// A delivery that went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryFailure {
    /// Delivery id (the Idempotency-Key).
    pub delivery_id: String,
    /// Feed seq of its entry.
    pub seq: i64,
    /// pending (retrying) or failed (given up).
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// HTTP status of the last attempt, when one came back.
    pub last_status: Option<i32>,
    /// What went wrong last.
    pub last_error: Option<String>,
    /// When.
    pub last_attempt_at: Option<DateTime<Utc>>,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        SubscriptionView {
            id: s.id,
            webhook_url: crate::subscriptions::shown_url(&s.webhook_url),
            filters: s.filters,
            created_at: s.created_at,
            updated_at: s.updated_at,
            previous_secret_until: s.previous_secret_until,
            cursor: s.cursor,
            deliveries: DeliveryCounts {
                pending: s.deliveries.pending,
                delivered: s.deliveries.delivered,
                failed: s.deliveries.failed,
            },
            receiver: s.receiver.into(),
            last_failures: s
                .last_failures
                .into_iter()
                .map(|f| DeliveryFailure {
                    delivery_id: f.delivery_id,
                    seq: f.seq,
                    state: f.state,
                    attempts: f.attempts,
                    last_status: f.last_status,
                    last_error: f.last_error,
                    last_attempt_at: f.last_attempt_at,
                })
                .collect(),
            secret: None,
        }
    }
}

/// A token's subscriptions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionList {
    /// Its live subscriptions, oldest first.
    pub subscriptions: Vec<SubscriptionView>,
}

/// The caller's token hash: subscriptions belong to the SHA-256 of the token that made them.
/// 401 without a bearer token, 403 for one that is not a subscriber token.
fn owner(gw: &Gateway, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "需要订阅者令牌 (a subscriber token is required: Authorization: Bearer <token>)",
            )
        })?;
    if gongshi_platform::tokens::find(
        gw.config.subscriber_tokens.iter().map(String::as_str),
        token,
    )
    .is_none()
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "订阅者令牌无效 (unknown subscriber token)",
        ));
    }
    Ok(hex::encode(Sha256::digest(token.as_bytes())))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::SubscriptionNotFound,
        format!("没有订阅 {id} (no such subscription)"),
    )
}

/// `POST /v1/subscriptions`.
#[utoipa::path(post, path = "/v1/subscriptions", operation_id = "create_subscription", tag = "subscriptions",
    request_body(content = NewSubscription, content_type = "application/json"),
    security(("subscriber_token" = [])),
    responses(
        (status = 201, description = "Created; the secret is shown this once", body = SubscriptionView),
        (status = 400, description = "Bad URL, filter or secret", body = ErrorBody),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Not a subscriber token", body = ErrorBody)))]
pub(crate) async fn create(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let token_hash = owner(&gw, &headers)?;
    let new: NewSubscription = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "请求体应为 JSON 对象 (the body must be a JSON object with webhook_url, an optional secret and the filters kind, category, region, status, from, to, q): {e}"
        ))
    })?;
    if let Some(message) = new.unknown() {
        return Err(ApiError::bad_request(message));
    }
    let url = webhook_url(&new.webhook_url, gw.config.webhook_allow_private)
        .map_err(ApiError::bad_request)?;
    let filter = FeedFilter::parse(&new.filter).map_err(ApiError::bad_request)?;
    let (secret, generated) = secret_or_generated(new.secret)?;
    let id = format!("sub_{}", uuid::Uuid::now_v7().simple());
    subscriptions::create(&gw.store.pool, &id, &token_hash, &filter, &url, &secret)
        .await
        .map_err(store_error)?;
    let Some(s) = subscriptions::get(&gw.store.pool, &token_hash, &id)
        .await
        .map_err(store_error)?
    else {
        return Err(not_found(&id));
    };
    let mut view = SubscriptionView::from(s);
    if generated {
        // Shown once: the subscriber needs it to verify signatures.
        view.secret = Some(secret);
    }
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/subscriptions/{id}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// A subscriber's secret as given (16–256 characters, else 400), or a fresh one when none was:
/// `(secret, generated)`.
fn secret_or_generated(given: Option<String>) -> Result<(String, bool), ApiError> {
    match given {
        Some(s) if (16..=256).contains(&s.chars().count()) => Ok((s, false)),
        Some(_) => Err(ApiError::bad_request(
            "secret: 应为 16 到 256 个字符 (16 to 256 characters)",
        )),
        None => Ok((
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            true,
        )),
    }
}

/// How long a rolled secret goes on signing deliveries beside the new one: a day, for the
/// receiver to be given the new key.
pub const SECRET_OVERLAP_SECS: i64 = 86_400;

/// The body of `PATCH /v1/subscriptions/{id}` (a JSON merge patch, RFC 7396): a member left out
/// stays as it is; any member other than these two is refused (400) with its name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionChange {
    /// A new receiver (checked as at creation; not null). Every delivery waiting goes to it at
    /// once, in feed order, and its predecessor's failures and pause are forgotten; given-up
    /// ones stay given up until `POST …/redeliver`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false)]
    pub webhook_url: Option<Option<String>>,
    /// A new HMAC key (16–256 characters), or `null` for a generated one, shown once in the
    /// answer. The old key goes on signing beside it for a day (86,400 s), and so do keys
    /// rolled before it while their day lasts: the newest three rolled keys at most.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub secret: Option<Option<String>>,
    /// Any other member, filters included: refused with its name. A saved search is not changed
    /// in place (what was queued under the old one would be delivered under the new name).
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: std::collections::BTreeMap<String, serde_json::Value>,
}

/// A member given, even as `null` (`Some(None)`), apart from one left out (`None`, the default).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /v1/subscriptions/{id}`: moves the receiver or rolls the secret; the saved search, the
/// cursor and the deliveries stay.
#[utoipa::path(patch, path = "/v1/subscriptions/{id}", operation_id = "update_subscription", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    request_body(content = SubscriptionChange, content_type = "application/merge-patch+json"),
    security(("subscriber_token" = [])),
    responses(
        (status = 200, description = "Changed; a generated secret is shown this once", body = SubscriptionView),
        (status = 400, description = "Bad URL or secret, a null URL, or a member that cannot be changed (filters: make a new subscription)", body = ErrorBody),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Not a subscriber token", body = ErrorBody),
        (status = 404, description = "No such subscription of this token", body = ErrorBody)))]
pub(crate) async fn update(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<SubscriptionView>, ApiError> {
    let token_hash = owner(&gw, &headers)?;
    let change: SubscriptionChange = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "请求体应为 JSON 对象 (the body must be a JSON merge patch with webhook_url and/or secret): {e}"
        ))
    })?;
    if !change.unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{}: 不能修改 (cannot be changed: only webhook_url and secret can; for other filters \
             create a new subscription and delete this one)",
            change
                .unknown
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join("、")
        )));
    }
    let url = match change.webhook_url {
        None => None,
        Some(None) => {
            return Err(ApiError::bad_request(
                "webhook_url: 不能为空 (cannot be null; DELETE the subscription to stop deliveries)",
            ));
        }
        Some(Some(u)) => {
            Some(webhook_url(&u, gw.config.webhook_allow_private).map_err(ApiError::bad_request)?)
        }
    };
    let secret = change.secret.map(secret_or_generated).transpose()?;
    let changed = subscriptions::update(
        &gw.store.pool,
        &token_hash,
        &id,
        &subscriptions::Change {
            webhook_url: url.as_deref(),
            secret: secret.as_ref().map(|(s, _)| s.as_str()),
            overlap_secs: SECRET_OVERLAP_SECS,
        },
    )
    .await
    .map_err(store_error)?;
    let view = match subscriptions::get(&gw.store.pool, &token_hash, &id)
        .await
        .map_err(store_error)?
    {
        Some(s) if changed => s,
        _ => return Err(not_found(&id)),
    };
    let mut view = SubscriptionView::from(view);
    if let Some((s, true)) = secret {
        view.secret = Some(s);
    }
    Ok(Json(view))
}

/// `GET /v1/subscriptions`.
#[utoipa::path(get, path = "/v1/subscriptions", operation_id = "list_subscriptions", tag = "subscriptions",
    security(("subscriber_token" = [])),
    responses(
        (status = 200, description = "The token's subscriptions with delivery counts and recent failures", body = SubscriptionList),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Not a subscriber token", body = ErrorBody)))]
pub(crate) async fn list(
    State(gw): State<Gateway>,
    headers: HeaderMap,
) -> Result<Json<SubscriptionList>, ApiError> {
    let token_hash = owner(&gw, &headers)?;
    let list = subscriptions::list(&gw.store.pool, &token_hash)
        .await
        .map_err(store_error)?;
    Ok(Json(SubscriptionList {
        subscriptions: list.into_iter().map(SubscriptionView::from).collect(),
    }))
}

/// `GET /v1/subscriptions/{id}`: with delivery counts and the latest failures.
#[utoipa::path(get, path = "/v1/subscriptions/{id}", operation_id = "get_subscription", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    security(("subscriber_token" = [])),
    responses(
        (status = 200, description = "The subscription with delivery counts (pending, delivered, failed) and recent failures", body = SubscriptionView),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Not a subscriber token", body = ErrorBody),
        (status = 404, description = "No such subscription of this token", body = ErrorBody)))]
pub(crate) async fn get(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let token_hash = owner(&gw, &headers)?;
    match subscriptions::get(&gw.store.pool, &token_hash, &id)
        .await
        .map_err(store_error)?
    {
        Some(s) => Ok(Json(s.into())),
        None => Err(not_found(&id)),
    }
}

/// What `POST /v1/subscriptions/{id}/redeliver` did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Redelivered {
    /// Deliveries given up before and queued again now.
    pub requeued: u64,
}

/// `POST /v1/subscriptions/{id}/redeliver`: once a receiver is mended, queues again every
/// delivery that was given up (each with its original id as `Idempotency-Key` and a new retry
/// horizon) and ends the receiver's pause, so the next attempt is now.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/redeliver", operation_id = "redeliver_subscription", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    security(("subscriber_token" = [])),
    responses(
        (status = 202, description = "Given-up deliveries queued again (`requeued` may be 0); the receiver's pause ended", body = Redelivered),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Not a subscriber token", body = ErrorBody),
        (status = 404, description = "No such subscription of this token", body = ErrorBody)))]
pub(crate) async fn redeliver(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Redelivered>), ApiError> {
    let token_hash = owner(&gw, &headers)?;
    match subscriptions::redeliver(&gw.store.pool, &token_hash, &id)
        .await
        .map_err(store_error)?
    {
        Some(requeued) => Ok((StatusCode::ACCEPTED, Json(Redelivered { requeued }))),
        None => Err(not_found(&id)),
    }
}

/// `DELETE /v1/subscriptions/{id}`: stops deliveries (undelivered ones are dropped).
#[utoipa::path(delete, path = "/v1/subscriptions/{id}", operation_id = "delete_subscription", tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    security(("subscriber_token" = [])),
    responses(
        (status = 204, description = "Deleted; no further deliveries"),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Not a subscriber token", body = ErrorBody),
        (status = 404, description = "No such subscription of this token", body = ErrorBody)))]
pub(crate) async fn delete(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let token_hash = owner(&gw, &headers)?;
    if subscriptions::delete(&gw.store.pool, &token_hash, &id)
        .await
        .map_err(store_error)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_filter_is_named_and_the_right_ones_are_read() {
        let new: NewSubscription = serde_json::from_str(
            r#"{"webhook_url":"https://x.example/h","regoin":"32","categroy":"works","kind":"tender","q":"道路"}"#,
        )
        .expect("a JSON object");
        assert_eq!(new.filter.kind.as_deref(), Some("tender"));
        assert_eq!(new.filter.q.as_deref(), Some("道路"));
        let message = new.unknown().expect("refused");
        assert!(message.starts_with("categroy、regoin: "), "{message}");
        let fine: NewSubscription = serde_json::from_str(
            r#"{"webhook_url":"https://x.example/h","secret":"0123456789abcdef","kind":"tender","category":"works","region":"32","status":"open","from":"2025-01-01","to":"2025-02-01","q":"x"}"#,
        )
        .expect("a JSON object");
        assert_eq!(fine.unknown(), None, "every documented field is known");
    }
}

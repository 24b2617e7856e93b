//! `POST/GET/DELETE /v1/subscriptions`: a bidder's saved search (the feeds' filters and `q`) with a
//! webhook URL and secret, behind a subscriber token (`GONGSHI_SUBSCRIBER_TOKENS`); each token
//! sees and manages only its own subscriptions. Deliveries: see [`worker`].

pub mod signature;
pub mod worker;

use crate::Gateway;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongshi_ingest::error;
use gongshi_platform::feed_filter::{FeedFilter, FilterParams};
use gongshi_platform::store::subscriptions;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The body of `POST /v1/subscriptions`.
#[derive(Debug, Deserialize)]
struct NewSubscription {
    /// Where to POST deliveries (http or https).
    webhook_url: String,
    /// HMAC key (16–256 characters); generated and returned once when absent.
    secret: Option<String>,
    /// The saved search.
    #[serde(flatten)]
    filter: FilterParams,
}

/// Why a request has no owner.
#[derive(Debug, Clone, Copy)]
enum Denied {
    /// No bearer token (401).
    Missing,
    /// Not a subscriber token (403).
    Unknown,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Missing => error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "需要订阅者令牌 (a subscriber token is required: Authorization: Bearer <token>)",
            ),
            Denied::Unknown => error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "订阅者令牌无效 (unknown subscriber token)",
            ),
        }
    }
}

/// The caller's token hash: subscriptions belong to the SHA-256 of the token that made them.
fn owner(gw: &Gateway, headers: &HeaderMap) -> Result<String, Denied> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(Denied::Missing)?;
    if !gw.config.subscriber_tokens.iter().any(|t| t == token) {
        return Err(Denied::Unknown);
    }
    Ok(hex::encode(Sha256::digest(token.as_bytes())))
}

fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "bad-request", message)
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "subscription-not-found",
        format!("没有订阅 {id} (no such subscription)"),
    )
}

/// Checks a webhook URL: absolute http(s) with a host; unless `allow_private`, not a literal
/// loopback, private, link-local or unspecified address nor `localhost` (names are not
/// resolved here: a name that resolves inward is the network's egress policy to stop).
fn webhook_url(raw: &str, allow_private: bool) -> Result<String, String> {
    use std::net::IpAddr;
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| format!("webhook_url: '{raw}' 不是有效网址 (not a valid URL: {e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "webhook_url: '{raw}' 应为 http 或 https 网址 (must be an http or https URL)"
        ));
    }
    let Some(host) = url.host_str() else {
        return Err(format!(
            "webhook_url: '{raw}' 缺少主机名 (the URL names no host)"
        ));
    };
    let inward = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || ip.is_private() || ip.is_link_local()
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
        }
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    if inward && !allow_private {
        return Err(format!(
            "webhook_url: '{raw}' 指向内部地址 (points into the gateway's own network; \
             GONGSHI_WEBHOOK_ALLOW_PRIVATE allows it)"
        ));
    }
    Ok(url.to_string())
}

/// `POST /v1/subscriptions`.
pub async fn create(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let token_hash = match owner(&gw, &headers) {
        Ok(h) => h,
        Err(denied) => return denied.into_response(),
    };
    let new: NewSubscription = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => {
            return bad_request(format!(
                "请求体应为 JSON 对象 (the body must be a JSON object with webhook_url, optional secret and filters): {e}"
            ));
        }
    };
    let url = match webhook_url(&new.webhook_url, gw.config.webhook_allow_private) {
        Ok(u) => u,
        Err(m) => return bad_request(m),
    };
    let filter = match FeedFilter::parse(&new.filter) {
        Ok(f) => f,
        Err(m) => return bad_request(m),
    };
    let (secret, generated) = match new.secret {
        Some(s) if (16..=256).contains(&s.chars().count()) => (s, false),
        Some(_) => return bad_request("secret: 应为 16 到 256 个字符 (16 to 256 characters)"),
        None => (
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            true,
        ),
    };
    let id = format!("sub_{}", uuid::Uuid::now_v7().simple());
    if let Err(e) =
        subscriptions::create(&gw.store.pool, &id, &token_hash, &filter, &url, &secret).await
    {
        return crate::store_error(&e);
    }
    match subscriptions::get(&gw.store.pool, &token_hash, &id).await {
        Ok(Some(s)) => {
            let mut view = json!(s);
            if generated {
                // Shown once: the subscriber needs it to verify signatures.
                view["secret"] = json!(secret);
            }
            let mut response = (StatusCode::CREATED, Json(view)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("/v1/subscriptions/{id}")) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
        Ok(None) => not_found(&id),
        Err(e) => crate::store_error(&e),
    }
}

/// `GET /v1/subscriptions`.
pub async fn list(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let token_hash = match owner(&gw, &headers) {
        Ok(h) => h,
        Err(denied) => return denied.into_response(),
    };
    match subscriptions::list(&gw.store.pool, &token_hash).await {
        Ok(list) => Json(json!({"subscriptions": list})).into_response(),
        Err(e) => crate::store_error(&e),
    }
}

/// `GET /v1/subscriptions/{id}`: with delivery counts and the latest failures.
pub async fn get(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let token_hash = match owner(&gw, &headers) {
        Ok(h) => h,
        Err(denied) => return denied.into_response(),
    };
    match subscriptions::get(&gw.store.pool, &token_hash, &id).await {
        Ok(Some(s)) => Json(s).into_response(),
        Ok(None) => not_found(&id),
        Err(e) => crate::store_error(&e),
    }
}

/// `DELETE /v1/subscriptions/{id}`: stops deliveries (undelivered ones are dropped).
pub async fn delete(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let token_hash = match owner(&gw, &headers) {
        Ok(h) => h,
        Err(denied) => return denied.into_response(),
    };
    match subscriptions::delete(&gw.store.pool, &token_hash, &id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => not_found(&id),
        Err(e) => crate::store_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::webhook_url;

    #[test]
    fn webhook_urls_are_checked() {
        assert!(webhook_url("https://bidder.example.com/hook", false).is_ok());
        for bad in [
            "ftp://bidder.example.com/x",
            "not a url",
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest",
            "http://[::1]/hook",
        ] {
            assert!(webhook_url(bad, false).is_err(), "{bad}");
        }
        assert!(webhook_url("http://127.0.0.1:9/hook", true).is_ok());
        assert!(webhook_url("ftp://127.0.0.1/x", true).is_err());
    }
}

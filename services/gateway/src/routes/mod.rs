//! The HTTP handlers, one file per resource; `lib.rs` wires them into the router and
//! `openapi.rs` gathers their `#[utoipa::path]` declarations into `/openapi.json`.

pub mod export;
pub mod feeds;
pub mod health;
pub mod notices;
pub mod procedures;
pub mod receipts;
pub mod search;
pub mod stream;
pub mod subscriptions;

use crate::Gateway;
use gongshi_platform::{ApiError, ErrorCode};

/// A whole-number query parameter `name` as sent: none (absent or empty) or its value; text that
/// is no whole number is an error naming the parameter and (the first 40 characters of) what it
/// got, for the client.
pub(crate) fn whole_number(name: &str, value: Option<&str>) -> Result<Option<i64>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
            let shown: String = text.chars().take(40).collect();
            format!("{name} 应为整数，收到 '{shown}' (not a whole number)")
        }),
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

/// Query parameters as `name=value` pairs for links, in the order given, values trimmed and
/// the empty or absent ones left out (the feeds' self links and ids, the search page's links).
pub(crate) fn present_pairs<'a>(
    params: impl IntoIterator<Item = (&'static str, &'a Option<String>)>,
) -> Vec<(&'static str, String)> {
    params
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (k, v.to_owned()))
        })
        .collect()
}

/// The answer when the store fails: logged, 503 `unavailable`.
pub(crate) fn store_error(e: gongshi_platform::store::StoreError) -> ApiError {
    tracing::error!(error = %e, message = "store unavailable");
    ApiError::new(ErrorCode::Unavailable, "存储暂不可用 (store unavailable)")
}

/// Whether a path segment can be an id at all; anything else is not found without asking the
/// store (which refuses NUL bytes with an error).
pub(crate) fn plausible_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && !s.contains('\0')
}

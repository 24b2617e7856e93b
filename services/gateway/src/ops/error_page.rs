//! The console's pages answer their errors as console pages: a response layer
//! (`axum::middleware::map_response(as_page)`) on the page routes turns an error answer (JSON
//! from an `ApiError`, or the framework's plain-text rejection of a malformed query or path,
//! read through `json_rejections` as the rest of the gateway reads it) into
//! `templates/ops/error.html` — a heading for the status, the message in Chinese, the console's
//! menu — with the status and the other headers kept. `/ops/api/` keeps its JSON; a 401 stays as
//! it is (the sign-in redirect of [`super::auth`] has already been decided).
//!
//! A path under `/ops/` that is no console page ([`not_a_page`]) is answered here too: one with a
//! trailing slash (`/ops/clocks/`) is sent to the page without it, any other is a 404 page.

use crate::pages;
use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Redirect, Response};
use gongshi_platform::api_error::json_rejections;
use gongshi_platform::{ApiError, ErrorCode};
use serde_json::Value;

#[derive(Template)]
#[template(path = "ops/error.html")]
struct ErrorView {
    heading: &'static str,
    message: String,
}

/// The page's heading for an error status.
fn heading(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "请求有误",
        StatusCode::FORBIDDEN => "无权操作",
        StatusCode::NOT_FOUND => "找不到",
        StatusCode::METHOD_NOT_ALLOWED => "不支持此操作",
        StatusCode::CONFLICT => "无法执行",
        StatusCode::TOO_MANY_REQUESTS => "请求过于频繁",
        s if s.is_server_error() => "暂时无法访问",
        _ => "出错了",
    }
}

/// `response` as a console page when it is an error answer (see the module); otherwise as is.
pub async fn as_page(response: Response) -> Response {
    // The framework's plain-text rejections in the API's JSON shape first, as every other
    // answer of the gateway gets them: one form of error to read below.
    let response = json_rejections(response).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error())
        || status == StatusCode::UNAUTHORIZED
        || !json
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "无法显示此页。(the request could not be answered)".to_owned());
    let mut page = pages::html(
        status,
        &ErrorView {
            heading: heading(status),
            message,
        },
    );
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().insert(name, value.clone());
        }
    }
    page.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    page
}

/// `GET /ops/{rest}` that no console route matched. A trailing slash is a typing habit, not a
/// missing page: `/ops/clocks/?page=2` is redirected (308) to `/ops/clocks?page=2`, which then
/// answers as that path does. Anything else is a 404, shown by [`as_page`] as a console page.
pub async fn not_a_page(Path(rest): Path<String>, RawQuery(query): RawQuery) -> Response {
    let trimmed = rest.trim_end_matches('/');
    if trimmed.len() < rest.len() && !trimmed.is_empty() {
        let to = match query {
            Some(q) => format!("/ops/{trimmed}?{q}"),
            None => format!("/ops/{trimmed}"),
        };
        return Redirect::permanent(&to).into_response();
    }
    ApiError::new(
        ErrorCode::NotFound,
        format!("运营监控台没有这个页面：/ops/{rest} (no such console page)"),
    )
    .into_response()
}

/// Any request under `/ops/api/` that no route matched: the gateway's JSON 404, kept apart from
/// the console's pages so that [`not_a_page`] does not answer the API in HTML.
pub async fn not_an_api(Path(rest): Path<String>) -> Response {
    api_not_found(&format!("/ops/api/{rest}"))
}

/// `/ops/api` and `/ops/api/` themselves: the API's JSON 404, never a redirect to a page.
pub async fn not_an_api_root() -> Response {
    api_not_found("/ops/api/")
}

fn api_not_found(path: &str) -> Response {
    ApiError::new(
        ErrorCode::NotFound,
        format!("运营监控台接口没有这个地址：{path} (no such console API route)"),
    )
    .into_response()
}

/// `/ops`: the console is at `/ops/`.
pub async fn to_console() -> Redirect {
    Redirect::permanent("/ops/")
}

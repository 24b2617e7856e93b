//! What the gateway's HTML pages share: rendering an askama template into a response, the one
//! stylesheet (`/assets/gongshi.css`), and how values are shown to people ([`format`]).
//!
//! Templates live in `services/gateway/templates/` (`base.html` is every page's layout); the
//! public pages' handlers ([`notice`], [`procedure`], [`search`], over [`people`]: a notice as
//! people read it) and the operators' console build on this module.

pub mod format;
pub mod notice;
pub mod people;
pub mod procedure;
pub mod search;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// A procedure's page (`prefix` `/procedures`) or JSON (`/v1/procedures`) under `prefix`, each code
/// percent-encoded as a path segment: codes are the platform's, and a `/`, `#` or `?` in one must
/// not change where the link goes.
pub fn procedure_href(prefix: &str, platform: &str, project: &str, section: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    // RFC 3986 path segment: everything but unreserved characters and sub-delims is encoded.
    const SEGMENT: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'\\')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    let seg = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
    format!(
        "{prefix}/{}/{}/{}",
        seg(platform),
        seg(project),
        seg(section)
    )
}

/// The stylesheet every page links (`/assets/gongshi.css`).
const STYLESHEET: &str = include_str!("../../assets/gongshi.css");

/// `GET /assets/gongshi.css`: the stylesheet, cacheable for a day.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// A rendered page as a `text/html; charset=utf-8` response with `status`. A template that fails
/// to render (a bug, never input) is logged and answered 500 with a plain Chinese message.
pub fn html(status: StatusCode, page: &impl askama::Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, message = "page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "页面生成失败 (the page could not be rendered)",
            )
                .into_response()
        }
    }
}

/// A public page revalidated like the feeds: rendered, its `ETag` the SHA-256 of the body (a page
/// says "还剩 3 个工作日", so it changes with the clock as well as with the notices), `304` when
/// the client's `If-None-Match` holds it, `Cache-Control: no-cache` so that a reader always asks.
pub fn cached(request: &HeaderMap, status: StatusCode, page: &impl Template) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(_) => return html(status, page),
    };
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    );
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| {
            inm.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == etag)
        });
    let mut response = if fresh && status == StatusCode::OK {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A page that says what went wrong, in Chinese (404 for an unknown notice or procedure, 503
/// when the store does not answer).
#[derive(Template)]
#[template(path = "public/error.html")]
pub struct ErrorPage {
    /// Heading.
    pub heading: String,
    /// What happened and what to do.
    pub message: String,
}

/// `status` with an [`ErrorPage`].
pub fn error_page(status: StatusCode, heading: &str, message: impl Into<String>) -> Response {
    html(
        status,
        &ErrorPage {
            heading: heading.to_owned(),
            message: message.into(),
        },
    )
}

/// The answer when the store fails: logged, 503 with a page.
pub(crate) fn unavailable(e: gongshi_platform::store::StoreError) -> Response {
    tracing::error!(error = %e, message = "store unavailable");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "暂时无法访问",
        "数据存储暂不可用，请稍后再试。",
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn procedure_links_keep_each_code_in_its_segment() {
        assert_eq!(
            super::procedure_href(
                "/procedures",
                "JSGGZY",
                "E3203010319005778",
                "E3203010319005778001"
            ),
            "/procedures/JSGGZY/E3203010319005778/E3203010319005778001"
        );
        assert_eq!(
            super::procedure_href("/v1/procedures", "SD", "A/B#1?x", "第1标段 %"),
            "/v1/procedures/SD/A%2FB%231%3Fx/%E7%AC%AC1%E6%A0%87%E6%AE%B5%20%25"
        );
    }
}

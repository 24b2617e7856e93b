//! What the gateway's HTML pages share: rendering an askama template into a response, the one
//! stylesheet (`/assets/gongshi.css`), and how values are shown to people ([`format`]).
//!
//! Templates live in `services/gateway/templates/` (`base.html` is every page's layout); the
//! public pages' handlers and the operators' console build on this module.

pub mod format;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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

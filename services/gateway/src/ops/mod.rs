//! The operators' console (运营监控台, api.md "Operators"): sign-in ([`auth`]), the records to act
//! on and the actions on them ([`records`], [`actions`]), the audit log ([`audit`]); the overview
//! ([`overview`]), the legal clocks ([`clocks`]) and the publication report ([`report`]), with
//! their server-drawn SVG charts ([`chart`]); errors on the pages as pages ([`error_page`]). Every page
//! is server-rendered from the same functions as its JSON twin under `/ops/api/`; templates are
//! in `services/gateway/templates/ops/`.

pub mod actions;
pub mod audit;
pub mod auth;
pub mod chart;
pub mod clocks;
pub mod error_page;
pub mod overview;
pub mod records;
pub mod report;

use crate::Gateway;
use axum::Router;
use axum::routing::{any, get, post};

/// Every console route (pages, forms and `/ops/api/`), for the gateway's router. The pages and
/// forms answer errors as console pages ([`error_page`]); `/ops/api/` answers JSON.
pub fn router() -> Router<Gateway> {
    let pages = Router::new()
        .route("/ops/", get(overview::page))
        .route("/ops/clocks", get(clocks::page))
        .route("/ops/clocks/{table}", get(clocks::page_table))
        .route("/ops/report", get(report::page))
        .route("/ops/records", get(records::page_list))
        .route("/ops/records/{receipt}/{index}", get(records::page_detail))
        .route(
            "/ops/records/{receipt}/{index}/{action}",
            post(records::page_act),
        )
        .route("/ops/audit", get(audit::page))
        .route("/ops/{*rest}", get(error_page::not_a_page))
        .layer(axum::middleware::map_response(error_page::as_page));
    Router::new()
        .merge(pages)
        .route("/ops/login", get(auth::login_form).post(auth::login))
        .route("/ops/logout", post(auth::logout))
        .route("/ops/api/overview", get(overview::api))
        .route("/ops/api/clocks", get(clocks::api))
        .route("/ops/api/clocks/{table}", get(clocks::api_table))
        .route("/ops/api/report", get(report::api))
        .route("/ops/api/records", get(records::api_list))
        .route(
            "/ops/api/records/{receipt}/{index}",
            get(records::api_detail),
        )
        .route(
            "/ops/api/records/{receipt}/{index}/{action}",
            post(records::api_act),
        )
        .route("/ops/api/audit", get(audit::api_audit))
        .route("/ops/api/{*rest}", any(error_page::not_an_api))
        .route("/ops/api/", any(error_page::not_an_api_root))
        .route("/ops/api", any(error_page::not_an_api_root))
        .route("/ops", get(error_page::to_console))
}

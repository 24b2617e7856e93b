//! The operators' console (运营监控台, api.md "Operators"): sign-in ([`auth`]), the records to act
//! on and the actions on them ([`records`], [`actions`]), the audit log ([`audit`]). Every page
//! is server-rendered from the same functions as its JSON twin under `/ops/api/`; templates are
//! in `services/gateway/templates/ops/`.

pub mod actions;
pub mod audit;
pub mod auth;
pub mod records;

use crate::Gateway;
use axum::Router;
use axum::routing::{get, post};

/// Every console route (pages, forms and `/ops/api/`), for the gateway's router.
pub fn router() -> Router<Gateway> {
    Router::new()
        .route("/ops/login", get(auth::login_form).post(auth::login))
        .route("/ops/logout", post(auth::logout))
        .route("/ops/records", get(records::page_list))
        .route("/ops/records/{receipt}/{index}", get(records::page_detail))
        .route(
            "/ops/records/{receipt}/{index}/{action}",
            post(records::page_act),
        )
        .route("/ops/audit", get(audit::page))
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
}

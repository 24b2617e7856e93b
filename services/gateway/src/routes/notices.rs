//! `GET /v1/notices/{id}`: one published notice with its lifecycle status, legal windows, its
//! stage's versions and the trading centre's releases of it (built in `views`).

use crate::Gateway;
use crate::routes::{plausible_id, store_error};
use crate::views::{
    NoticeView, Section, notice_view, releases_of, removals_of, sections_of, version_links,
    version_order,
};
use axum::Json;
use axum::extract::{Path, State};
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::store::notices;
use gongshi_platform::{ApiError, ErrorCode};

/// `GET /v1/notices/{id}`.
#[utoipa::path(get, path = "/v1/notices/{id}", tag = "notices",
    params(("id" = String, Path, description = "Notice id (32 hex digits)")),
    responses(
        (status = 200, description = "The published notice", body = NoticeView),
        (status = 404, description = "No such published notice", body = ErrorBody)))]
pub(crate) async fn notice(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
) -> Result<Json<NoticeView>, ApiError> {
    if !plausible_id(&id) {
        return Err(ApiError::new(
            ErrorCode::NoticeNotFound,
            "没有这个已发布的公告 (no such published notice)",
        ));
    }
    let Some(n) = notices::published(&gw.store.pool, &id)
        .await
        .map_err(store_error)?
    else {
        return Err(ApiError::new(
            ErrorCode::NoticeNotFound,
            format!("没有已发布的公告 {id} (no such published notice)"),
        ));
    };
    let mut siblings = notices::of_procedure(&gw.store.pool, &n.procedure_key)
        .await
        .map_err(store_error)?;
    version_order(&mut siblings);
    let links = version_links(&siblings);
    let here = Section::loaded(&n.procedure_key, &siblings, &links);
    let sections = sections_of(&gw.store.pool, &n, here)
        .await
        .map_err(store_error)?;
    let mut view = notice_view(&n, &sections, gw.clock.now(), true);
    view.releases = Some(releases_of(&gw.store.pool, &n).await.map_err(store_error)?);
    view.removed_characters = Some(removals_of(&gw.store.pool, &n).await.map_err(store_error)?);
    Ok(Json(view))
}

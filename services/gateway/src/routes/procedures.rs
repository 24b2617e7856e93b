//! `GET /v1/procedures/{platform}/{project}/{section}`: every published notice of a procedure in
//! stage order (a tender's amendments and re-sent versions in publication order after it) with
//! the changes it made, every change in version order, the windows in force, and the procedure's
//! OCDS ocid.

use crate::Gateway;
use crate::routes::{plausible_id, store_error};
use crate::views::{
    ChangeView, NoticeView, Section, kind_of, notice_view, sections_of, version_links,
    version_order,
};
use axum::Json;
use axum::extract::{Path, State};
use gongshi_domain::diff;
use gongshi_platform::api_error::ErrorBody;
use gongshi_platform::store::notices::{self, PublicNotice};
use gongshi_platform::{ApiError, ErrorCode};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A procedure's key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProcedureRef {
    /// Platform code.
    pub platform: String,
    /// Project code (项目编号).
    pub project: String,
    /// Section code (标段编号).
    pub section: String,
}

/// A change one version made, in the procedure's version order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProcedureChange {
    /// The notice that made it.
    pub notice_id: String,
    /// Its kind.
    pub kind: String,
    /// Its version in its stage.
    pub version: usize,
    /// When it was published.
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The field it changed (`field`, `label`, `old`, `new`, `summary`).
    #[serde(flatten)]
    pub change: ChangeView,
}

/// A legal window in force, with the notice that set it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WindowInForce {
    /// Start (RFC 3339, +08:00).
    #[schema(value_type = String)]
    pub start: Value,
    /// End (RFC 3339, +08:00).
    #[schema(value_type = String)]
    pub end: Value,
    /// The notice that set it.
    pub notice_id: String,
}

/// A procedure's published notices in stage order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProcedureView {
    /// {platform, project, section}.
    pub procedure: ProcedureRef,
    /// The procedure's OCDS ocid.
    pub ocid: String,
    /// Its notices, each as it stands in this procedure: `status` is its status in this section
    /// (a tender of two sections terminated in this one is `terminated` here, though still open
    /// in the other); `sections` gives its status in each of its sections.
    pub notices: Vec<NoticeView>,
    /// Every change, in version order.
    pub changes: Vec<ProcedureChange>,
    /// The legal windows in force by name, each with the notice that set it.
    pub windows: BTreeMap<String, WindowInForce>,
    /// An objection (异议) or complaint (投诉) is open: the procedure is suspended and its next
    /// stage held until the answer is recorded (招标投标法实施条例 第五十四条; 政府采购法 第五十七条).
    /// Who raised it is never shown.
    pub objection_pending: bool,
}

/// `GET /v1/procedures/{platform}/{project}/{section}`.
#[utoipa::path(get, path = "/v1/procedures/{platform}/{project}/{section}", tag = "notices",
    params(
        ("platform" = String, Path, description = "Platform code"),
        ("project" = String, Path, description = "Project code (项目编号)"),
        ("section" = String, Path, description = "Section code (标段编号)")),
    responses(
        (status = 200, description = "Every published notice of the procedure, in stage order", body = ProcedureView),
        (status = 404, description = "No published notice of that procedure", body = ErrorBody)))]
pub(crate) async fn procedure(
    State(gw): State<Gateway>,
    Path((platform, project, section)): Path<(String, String, String)>,
) -> Result<Json<ProcedureView>, ApiError> {
    let key = format!("{platform}/{project}/{section}");
    match load(&gw, platform, project, section)
        .await
        .map_err(store_error)?
    {
        Some((view, _)) => Ok(Json(view)),
        None => Err(ApiError::new(
            ErrorCode::ProcedureNotFound,
            format!("没有已发布的程序 {key} (no such published procedure)"),
        )),
    }
}

/// A procedure's view and its published notices in version order, or `None` when it has none
/// (the JSON route and the `/procedures/…` page both show this).
pub(crate) async fn load(
    gw: &Gateway,
    platform: String,
    project: String,
    section: String,
) -> Result<Option<(ProcedureView, Vec<PublicNotice>)>, gongshi_platform::store::StoreError> {
    let key = format!("{platform}/{project}/{section}");
    if ![&platform, &project, &section]
        .iter()
        .all(|s| plausible_id(s))
    {
        return Ok(None);
    }
    let mut list = notices::of_procedure(&gw.store.pool, &key).await?;
    if list.is_empty() {
        return Ok(None);
    }
    let objection_pending = notices::dispute_open(&gw.store.pool, &key).await?;
    version_order(&mut list);
    let links = version_links(&list);
    let now = gw.clock.now();
    // Changes in version order; the windows in force by the domain's one rule.
    let mut changes = Vec::new();
    for n in &list {
        let Some(link) = links.get(&n.notice_id) else {
            continue;
        };
        for c in &link.changes {
            changes.push(ProcedureChange {
                notice_id: n.notice_id.clone(),
                kind: n.kind.clone(),
                version: link.version,
                published_at: n.published_at,
                change: ChangeView::from(c),
            });
        }
    }
    let windows = crate::views::procedure_windows(&list)
        .into_iter()
        .map(|(name, (window, by))| {
            let in_force = WindowInForce {
                start: serde_json::to_value(window.start).unwrap_or_default(),
                end: serde_json::to_value(window.end).unwrap_or_default(),
                notice_id: by.to_owned(),
            };
            (name, in_force)
        })
        .collect();
    // Stage order; within a stage (a tender and its amendments), version order.
    let mut staged: Vec<(usize, &PublicNotice)> = list.iter().enumerate().collect();
    staged.sort_by_key(|(i, n)| (diff::stage_rank(diff::stage_of(kind_of(&n.kind))), *i));
    let mut notices: Vec<NoticeView> = Vec::with_capacity(staged.len());
    for (_, n) in staged {
        let here = Section::loaded(&key, &list, &links);
        let status_here = here.status(n, now);
        let sections = sections_of(&gw.store.pool, n, here).await?;
        let mut view = notice_view(n, &sections, now, false);
        status_here.as_str().clone_into(&mut view.status);
        notices.push(view);
    }
    let ocid = gongshi_domain::ocds::ocid(
        &gw.config.ocds.prefix,
        &gongshi_domain::ProcedureKey {
            platform: platform.clone(),
            project: project.clone(),
            section: section.clone(),
        },
    );
    Ok(Some((
        ProcedureView {
            procedure: ProcedureRef {
                platform,
                project,
                section,
            },
            ocid,
            notices,
            changes,
            windows,
            objection_pending,
        },
        list,
    )))
}

//! `GET /procedures/{platform}/{project}/{section}`: a procedure's timeline for people — each
//! published notice in stage order (tender with its amendments, candidate publicity, award,
//! termination) with its version, what it changed and its legal clocks — built on the same view
//! as `/v1/procedures/…` (`routes::procedures::load`).

use super::notice::{
    ClockRow, Note, change_line, clock_rows_in_force, head_facts, published_on, status_class,
};
use super::people::{self, Fact};
use super::{cached, error_page, unavailable};
use crate::Gateway;
use crate::routes::procedures::load;
use crate::views::{Section, version_links};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gongshi_domain::Kind;

/// One notice on the timeline.
pub struct Step {
    /// Stage in Chinese.
    pub kind: &'static str,
    /// Notice id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Published, Beijing time.
    pub published: String,
    /// `第 2 版（共 2 版）`, empty for a stage with one notice.
    pub version: String,
    /// Whether a later version replaces it.
    pub replaced: bool,
    /// Status in Chinese and its CSS class.
    pub status: (&'static str, &'static str),
    /// What it changed.
    pub changes: Vec<String>,
    /// Its legal clocks.
    pub clocks: Vec<ClockRow>,
}

/// The procedure page.
#[derive(Template)]
#[template(path = "public/procedure.html")]
pub struct ProcedurePage {
    /// Heading: the project's name, else its code.
    pub heading: String,
    /// Facts shown first.
    pub head: Vec<Fact>,
    /// The timeline.
    pub steps: Vec<Step>,
    /// The rules behind the clocks.
    pub notes: Vec<Note>,
    /// `/v1/procedures/…`.
    pub json_href: String,
    /// The procedure's OCDS ocid.
    pub ocid: String,
    /// An objection or complaint is open (the fact only, never who raised it).
    pub objection_pending: bool,
}

/// `GET /procedures/{platform}/{project}/{section}`: the page, `404` as a page in Chinese.
#[utoipa::path(get, path = "/procedures/{platform}/{project}/{section}", tag = "pages",
    operation_id = "procedure_page",
    params(
        ("platform" = String, Path, description = "Platform code"),
        ("project" = String, Path, description = "Project code (项目编号)"),
        ("section" = String, Path, description = "Section code (标段编号)"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of the page already held")),
    responses(
        (status = 200, description = "The procedure's timeline for people (HTML, zh-CN)", content_type = "text/html", body = String),
        (status = 304, description = "Not modified since the ETag sent"),
        (status = 404, description = "No published notice of that procedure (a page in Chinese)", content_type = "text/html", body = String),
        (status = 503, description = "The store is unavailable (a page in Chinese)", content_type = "text/html", body = String)))]
pub async fn procedure(
    State(gw): State<Gateway>,
    Path((platform, project, section)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let key = format!("{platform}/{project}/{section}");
    let json_href = super::procedure_href("/v1/procedures", &platform, &project, &section);
    let (view, list) = match load(&gw, platform, project, section).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                "没有这个项目",
                format!("没有项目（标段）{key} 的已发布公告。它可能尚未发布，或地址有误。"),
            );
        }
        Err(e) => return unavailable(e),
    };
    let now = gw.clock.now();
    let tender = list.iter().rev().find(|n| n.kind == Kind::Tender.as_str());
    let first = tender.or(list.first());
    let summary = first
        .map(|n| people::summary(n, tender))
        .unwrap_or_default();
    let mut head = first.map(|n| head_facts(&summary, n)).unwrap_or_default();
    // The publication time of the first notice is not the procedure's.
    head.retain(|f| f.label != "发布时间");
    let mut notes = Vec::new();
    // `list` is in version order (as `load` leaves it).
    let links = version_links(&list);
    let steps = view
        .notices
        .iter()
        .filter_map(|v| {
            let n = list.iter().find(|n| n.notice_id == v.id)?;
            // This page is one section's: a notice of several stands here as it does in this
            // section (a tender terminated here may still be open in another).
            let here = [Section::loaded(&key, &list, &links)];
            let status = here[0].status(n, now);
            Some(Step {
                kind: crate::views::kind_of(&v.kind).zh(),
                id: v.id.clone(),
                title: v.title.as_str().unwrap_or_default().to_owned(),
                published: published_on(n),
                version: v
                    .version
                    .as_ref()
                    .filter(|l| l.of > 1)
                    .map(|l| format!("第 {} 版（共 {} 版）", l.version, l.of))
                    .unwrap_or_default(),
                replaced: v.version.as_ref().is_some_and(|l| !l.current),
                status: (status.zh(), status_class(status)),
                changes: v.changes.iter().map(|c| change_line(&v.table, c)).collect(),
                clocks: clock_rows_in_force(n, &here, now, &mut notes),
            })
        })
        .collect();
    let page = ProcedurePage {
        heading: summary
            .project_name
            .as_ref()
            .map_or_else(|| key.clone(), |f| f.value.clone()),
        head,
        steps,
        notes,
        json_href,
        ocid: view.ocid,
        objection_pending: view.objection_pending,
    };
    cached(&headers, StatusCode::OK, &page)
}

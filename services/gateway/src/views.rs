//! `GET /v1/notices/{id}` and `GET /v1/procedures/{platform}/{project}/{section}`: published
//! notices with their lifecycle status, legal windows, and versions — each stage's chain of
//! notices (the tender with its re-sent corrections and amendments, the candidate publicity, the
//! award) with the field-level changes each version made (`gongshi_domain::diff`).

use crate::{Gateway, store_error};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gongshi_domain::diff::{self, VersionInput, VersionLink};
use gongshi_domain::{Kind, Schemas};
use gongshi_ingest::error;
use gongshi_platform::store::notices::{self, PublicNotice};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The lifecycle status of a notice: `open` (bids accepted), `publicity` (candidate publicity
/// running), `closed`, `awarded`, `terminated` — from its kind, its windows at `now`, and the
/// other published stages of its procedure.
pub(crate) fn lifecycle(
    n: &PublicNotice,
    siblings: &[PublicNotice],
    now: chrono::DateTime<chrono::Utc>,
) -> &'static str {
    let has = |kind: &str| siblings.iter().any(|s| s.kind == kind);
    let window_open = |name: &str| {
        n.outcome["windows"][name]["end"]
            .as_str()
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|end| now < end)
    };
    match n.kind.as_str() {
        "termination" => "terminated",
        "award" => "awarded",
        _ if has("termination") => "terminated",
        _ if has("award") => "awarded",
        _ if window_open("publicity") => "publicity",
        _ if window_open("bid") => "open",
        _ => "closed",
    }
}

/// A stored kind string as the domain's kind (unknown kinds sort last, as terminations).
pub(crate) fn kind_of(kind: &str) -> Kind {
    serde_json::from_value(Value::String(kind.to_owned())).unwrap_or(Kind::Termination)
}

/// Stage order of a procedure: tender, amendments, candidates, award, termination.
pub(crate) fn stage_rank(kind: &str) -> u8 {
    diff::stage_rank(kind_of(kind))
}

fn record_of(n: &PublicNotice) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    n.notice["canonical"]
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// A procedure's notices in version order: publication, then stage, then the platform's
/// `DATA_TIMESTAMP` (a tender and the amendment parked behind it are published together).
pub(crate) fn version_order(list: &mut [PublicNotice]) {
    list.sort_by(|a, b| {
        (
            a.published_at,
            stage_rank(&a.kind),
            a.data_timestamp,
            &a.notice_id,
        )
            .cmp(&(
                b.published_at,
                stage_rank(&b.kind),
                b.data_timestamp,
                &b.notice_id,
            ))
    });
}

/// Each notice's place in its stage's chain, by notice id. `list` is in version order.
pub(crate) fn version_links(list: &[PublicNotice]) -> HashMap<String, VersionLink> {
    let inputs: Vec<VersionInput<'_>> = list
        .iter()
        .map(|n| VersionInput {
            notice_id: &n.notice_id,
            table: &n.table,
            kind: kind_of(&n.kind),
            record: record_of(n),
        })
        .collect();
    diff::chains(Schemas::embedded(), &inputs)
        .into_iter()
        .map(|l| (l.notice_id.clone(), l))
        .collect()
}

fn changes_json(changes: &[diff::FieldChange]) -> Value {
    Value::Array(
        changes
            .iter()
            .map(|c| json!({"field": c.field, "label": c.label, "old": c.old, "new": c.new, "summary": c.summary()}))
            .collect(),
    )
}

fn version_json(link: Option<&VersionLink>) -> Value {
    match link {
        Some(l) => {
            json!({"stage": l.stage, "version": l.version, "of": l.versions, "current": l.current})
        }
        None => Value::Null,
    }
}

/// One notice as the API shows it. `siblings` are its procedure's published notices in version
/// order; `full` adds the list of its stage's versions.
pub(crate) fn notice_view(
    n: &PublicNotice,
    siblings: &[PublicNotice],
    links: &HashMap<String, VersionLink>,
    now: chrono::DateTime<chrono::Utc>,
    full: bool,
) -> Value {
    let verdict = &n.outcome;
    let warnings: Vec<&Value> = verdict["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["severity"] == "WARN")
        .map(|f| &f["rule"])
        .collect();
    let link = links.get(&n.notice_id);
    let mut view = json!({
        "id": n.notice_id,
        "table": n.table,
        "kind": n.kind,
        "procedure": n.notice["procedure"],
        "procedures": n.notice["procedures"],
        "title": n.notice["title"],
        "region": n.notice["region"],
        "record": n.notice["canonical"],
        "status": lifecycle(n, siblings, now),
        "published_at": n.published_at,
        "data_timestamp": n.data_timestamp,
        "warnings": warnings,
        "findings": verdict["findings"],
        "windows": verdict["windows"],
        "version": version_json(link),
        "changes": changes_json(link.map(|l| l.changes.as_slice()).unwrap_or_default()),
    });
    if full {
        let stage = link.map(|l| l.stage);
        let versions: Vec<Value> = siblings
            .iter()
            .filter_map(|s| links.get(&s.notice_id).map(|l| (s, l)))
            .filter(|(_, l)| Some(l.stage) == stage)
            .map(|(s, l)| {
                json!({
                    "version": l.version, "id": s.notice_id, "table": s.table, "kind": s.kind,
                    "title": s.notice["title"], "published_at": s.published_at,
                    "data_timestamp": s.data_timestamp, "current": l.current,
                    "this": s.notice_id == n.notice_id, "changes": changes_json(&l.changes),
                })
            })
            .collect();
        view["versions"] = Value::Array(versions);
    }
    view
}

/// `GET /v1/notices/{id}`.
pub(crate) async fn notice(State(gw): State<Gateway>, Path(id): Path<String>) -> Response {
    if !crate::plausible_id(&id) {
        return error(
            StatusCode::NOT_FOUND,
            "notice-not-found",
            "没有这个已发布的公告 (no such published notice)",
        );
    }
    match notices::published(&gw.store.pool, &id).await {
        Ok(Some(n)) => match notices::of_procedure(&gw.store.pool, &n.procedure_key).await {
            Ok(mut siblings) => {
                version_order(&mut siblings);
                let links = version_links(&siblings);
                Json(notice_view(&n, &siblings, &links, gw.clock.now(), true)).into_response()
            }
            Err(e) => store_error(&e),
        },
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "notice-not-found",
            format!("没有已发布的公告 {id} (no such published notice)"),
        ),
        Err(e) => store_error(&e),
    }
}

/// `GET /v1/procedures/{platform}/{project}/{section}`: every notice in stage order (a tender's
/// amendments and re-sent versions in publication order after it) with the changes it made, every
/// change in version order, the windows in force, and the procedure's OCDS ocid.
pub(crate) async fn procedure(
    State(gw): State<Gateway>,
    Path((platform, project, section)): Path<(String, String, String)>,
) -> Response {
    let key = format!("{platform}/{project}/{section}");
    if ![&platform, &project, &section]
        .iter()
        .all(|s| crate::plausible_id(s))
    {
        return error(
            StatusCode::NOT_FOUND,
            "procedure-not-found",
            "没有这个程序 (no such procedure)",
        );
    }
    let mut list = match notices::of_procedure(&gw.store.pool, &key).await {
        Ok(list) if list.is_empty() => {
            return error(
                StatusCode::NOT_FOUND,
                "procedure-not-found",
                format!("没有已发布的程序 {key} (no such published procedure)"),
            );
        }
        Ok(list) => list,
        Err(e) => return store_error(&e),
    };
    version_order(&mut list);
    let links = version_links(&list);
    let now = gw.clock.now();
    // Changes and windows in version order: a later version's window replaces an earlier one,
    // unless a re-sent notice has replaced the notice that set it.
    let mut changes = Vec::new();
    let mut windows = Map::new();
    for n in &list {
        let Some(link) = links.get(&n.notice_id) else {
            continue;
        };
        for c in &link.changes {
            changes.push(json!({
                "notice_id": n.notice_id, "kind": n.kind, "version": link.version,
                "published_at": n.published_at, "field": c.field, "label": c.label,
                "old": c.old, "new": c.new, "summary": c.summary(),
            }));
        }
        if link.current
            && let Some(w) = n.outcome["windows"].as_object()
        {
            for (name, window) in w {
                windows.insert(name.clone(), json!({"start": window["start"], "end": window["end"], "notice_id": n.notice_id}));
            }
        }
    }
    // Stage order; within a stage (a tender and its amendments), version order.
    let mut staged: Vec<(usize, &PublicNotice)> = list.iter().enumerate().collect();
    staged.sort_by_key(|(i, n)| (diff::stage_rank(diff::stage_of(kind_of(&n.kind))), *i));
    let staged: Vec<&PublicNotice> = staged.into_iter().map(|(_, n)| n).collect();
    let notices: Vec<Value> = staged
        .iter()
        .map(|n| notice_view(n, &list, &links, now, false))
        .collect();
    let ocid = gongshi_domain::ocds::ocid(
        &gw.config.ocds.prefix,
        &gongshi_domain::ProcedureKey {
            platform: platform.clone(),
            project: project.clone(),
            section: section.clone(),
        },
    );
    Json(json!({
        "procedure": {"platform": platform, "project": project, "section": section},
        "ocid": ocid,
        "notices": notices,
        "changes": changes,
        "windows": windows,
    }))
    .into_response()
}

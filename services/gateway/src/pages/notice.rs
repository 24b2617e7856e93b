//! `GET /notices/{id}`: one published notice for people — its procedure's codes and names, region
//! by name, parties, amounts in 元 and 万元, its legal clocks with where each stands now and the
//! rule and legal basis behind it, its candidates or winner, its versions and what each changed,
//! and links to its procedure page and its JSON (`/v1/notices/{id}`).

use super::people::{self, Fact, Summary};
use super::{cached, error_page, format, unavailable};
use crate::Gateway;
use crate::routes::plausible_id;
use crate::views::{
    NoticeView, Released, Removal, Section, notice_view, releases_of, removals_of, sections_of,
    version_links, version_order,
};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gongshi_domain::Kind;
use gongshi_domain::lifecycle::Status;
use gongshi_domain::period::{Clock, Standing};
use gongshi_platform::store::notices::{self, PublicNotice};
use std::collections::HashMap;

/// One legal clock as the page lists it.
pub struct ClockRow {
    /// `投标截止 2025-03-25 09:30`.
    pub sentence: String,
    /// `还剩 3 个工作日`.
    pub status: String,
    /// CSS class of the status: `ok` open, `warn` last day or not yet, `muted` over.
    pub class: &'static str,
    /// What it means.
    pub meaning: String,
    /// Footnote numbers of its rules.
    pub notes: Vec<usize>,
    /// The rules and their basis on one line (the `title` tooltip).
    pub tooltip: String,
    /// Where a later notice of the stage (an amendment, a re-sent notice) set this window anew:
    /// in which section, the window in force there and that notice's page.
    pub replaced: Vec<Replacement>,
    /// Whether the window as this notice set it holds in none of its sections.
    pub superseded: bool,
}

/// A window a later notice of the stage set anew.
pub struct Replacement {
    /// The section (标段) code, for a notice of several sections whose sections differ.
    pub section: Option<String>,
    /// The window in force, in words.
    pub line: String,
    /// The page of the notice that set it.
    pub href: String,
}

/// A footnote: a rule and its legal basis.
pub struct Note {
    /// Its number.
    pub n: usize,
    /// Rule id.
    pub rule: String,
    /// The rule (Chinese).
    pub title: String,
    /// Legal basis.
    pub citation: String,
}

/// A notice of several sections (标段): where it stands in one.
pub struct SectionRow {
    /// Section code.
    pub code: String,
    /// Status in Chinese.
    pub status: &'static str,
    /// CSS class of the status.
    pub class: &'static str,
    /// The section's procedure page.
    pub href: String,
}

/// One version of the notice's stage.
pub struct VersionRow {
    /// 1 for the first.
    pub version: usize,
    /// Notice id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Published, Beijing time.
    pub published: String,
    /// Whether no later version replaces it.
    pub current: bool,
    /// Whether it is this page's notice.
    pub this: bool,
    /// `投标文件递交截止时间：2025-03-25 09:30 → 2025-04-01 09:30`.
    pub changes: Vec<String>,
    /// The section a version of some sections only belongs to.
    pub section: Option<String>,
}

/// The notice page.
#[derive(Template)]
#[template(path = "public/notice.html")]
pub struct NoticePage {
    /// Notice id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind in Chinese.
    pub kind: &'static str,
    /// Status in Chinese.
    pub status: &'static str,
    /// CSS class of the status.
    pub status_class: &'static str,
    /// Regime in Chinese.
    pub regime: &'static str,
    /// Facts shown first.
    pub head: Vec<Fact>,
    /// Releases by the centre.
    pub released: Vec<Released>,
    /// Characters validation removed from its text (`TEXT-CHARS`), each field once.
    pub removed: Vec<Removal>,
    /// Legal clocks.
    pub clocks: Vec<ClockRow>,
    /// A notice of several sections: where it stands in each (empty for one).
    pub sections: Vec<SectionRow>,
    /// Their rules.
    pub notes: Vec<Note>,
    /// Candidates: column labels and rows.
    pub candidates: Option<(Vec<String>, Vec<Vec<String>>)>,
    /// The notice's text.
    pub body: String,
    /// Every public field.
    pub facts: Vec<Fact>,
    /// The stage's versions.
    pub versions: Vec<VersionRow>,
    /// `/procedures/{platform}/{project}/{section}`.
    pub procedure_href: String,
    /// `/v1/notices/{id}`.
    pub json_href: String,
}

/// The CSS class of a status badge.
pub(crate) fn status_class(status: Status) -> &'static str {
    match status {
        Status::Open | Status::Publicity => "ok",
        Status::Closed => "muted",
        Status::Awarded => "ok",
        Status::Terminated => "bad",
    }
}

/// The clocks as rows with numbered footnotes (numbers continue from `notes`, a rule cited twice
/// keeps its number).
pub(crate) fn clock_rows(clocks: &[Clock], notes: &mut Vec<Note>) -> Vec<ClockRow> {
    clocks
        .iter()
        .map(|c| {
            let numbers = c
                .basis
                .iter()
                .map(|b| match notes.iter().find(|n| n.rule == b.rule) {
                    Some(n) => n.n,
                    None => {
                        let n = notes.len() + 1;
                        notes.push(Note {
                            n,
                            rule: b.rule.clone(),
                            title: b.title.clone(),
                            citation: b.citation.clone(),
                        });
                        n
                    }
                })
                .collect();
            ClockRow {
                sentence: c.sentence.clone(),
                status: c.status.clone(),
                class: match c.standing {
                    Standing::Running { .. } => "ok",
                    Standing::LastDay | Standing::NotYet => "warn",
                    Standing::Over => "muted",
                },
                meaning: c.meaning.clone(),
                notes: numbers,
                tooltip: c
                    .basis
                    .iter()
                    .map(|b| format!("{}（{}）", b.title, b.citation))
                    .collect::<Vec<_>>()
                    .join("；"),
                replaced: Vec::new(),
                superseded: false,
            }
        })
        .collect()
}

/// The facts shown first: codes, names, region, parties, amount, publication.
pub(crate) fn head_facts(s: &Summary, n: &PublicNotice) -> Vec<Fact> {
    let fact = |label: &str, value: String| Fact {
        label: label.to_owned(),
        value,
    };
    let mut out = vec![fact("项目编号", s.project.clone())];
    if let Some(name) = &s.project_name {
        out.push(fact("项目名称", name.value.clone()));
    }
    // A notice of several sections (标段) names them all: a bidder of any of them must see that
    // it covers theirs (the page then shows where it stands in each).
    let sections: Vec<&str> = n.notice["procedures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["section"].as_str())
        .collect();
    if sections.len() > 1 {
        out.push(fact(
            "标段（包）编号",
            format!("{}（共 {} 个标段）", sections.join("、"), sections.len()),
        ));
    } else {
        out.push(fact("标段（包）编号", s.section.clone()));
    }
    if let Some(region) = &s.region_name {
        out.push(fact("所在地区", region.clone()));
    }
    for f in [&s.buyer, &s.agency, &s.winner].into_iter().flatten() {
        out.push(f.clone());
    }
    if let Some((label, amount)) = &s.amount {
        out.push(fact(label, format::yuan(*amount)));
    }
    let published = published_on(n);
    if !published.is_empty() {
        out.push(fact("发布时间", published));
    }
    out
}

/// When a notice was published, as its page says it: its own send time, else gongshi's.
pub(crate) fn published_on(n: &PublicNotice) -> String {
    people::table_of(n)
        .and_then(|t| {
            let field = t.sent_at_field.as_deref()?;
            people::show(t.field(field), &n.notice["canonical"][field])
        })
        .or_else(|| n.published_at.map(format::beijing))
        .unwrap_or_default()
}

/// A change as people read it: `投标文件递交截止时间：2025-03-25 09:30 → 2025-04-01 09:30`.
pub(crate) fn change_line(table: &str, c: &crate::views::ChangeView) -> String {
    let table = gongshi_domain::Schemas::embedded().table(table);
    format!(
        "{}：{} → {}",
        c.label,
        people::show_change(table, &c.field, c.old.as_ref()),
        people::show_change(table, &c.field, c.new.as_ref())
    )
}

/// For each window of `n` that another notice of its stage set anew (an amendment moving the
/// deadline, a re-sent version changing it), the window in force in `siblings` (the procedure's
/// notices in version order, [`crate::views::windows_in_force`]): that notice's clock and id.
pub(crate) fn in_force_elsewhere(
    n: &PublicNotice,
    siblings: &[PublicNotice],
    now: chrono::DateTime<chrono::Utc>,
) -> HashMap<String, (Clock, String)> {
    let own = crate::views::windows_of(n);
    let mut out = HashMap::new();
    for (name, (window, by)) in crate::views::windows_in_force(n, siblings) {
        if by == n.notice_id || own.get(&name).is_none_or(|w| w.end == window.end) {
            continue;
        }
        let Some(setter) = siblings.iter().find(|s| s.notice_id == by) else {
            continue;
        };
        if let Some(clock) = people::clocks_of(setter, now)
            .into_iter()
            .find(|c| c.window == name)
        {
            out.insert(name, (clock, by.to_owned()));
        }
    }
    out
}

/// `n`'s clocks as rows ([`clock_rows`]), each window a later notice of its stage set anew
/// marked with the window in force and a link to that notice, in each of `sections` (its
/// procedures, [`crate::views::sections_of`]) where that happened; a window replaced in all of
/// them is marked as changed.
pub(crate) fn clock_rows_in_force(
    n: &PublicNotice,
    sections: &[Section<'_>],
    now: chrono::DateTime<chrono::Utc>,
    notes: &mut Vec<Note>,
) -> Vec<ClockRow> {
    let own = people::clocks_of(n, now);
    let mut rows = clock_rows(&own, notes);
    let elsewhere: Vec<HashMap<String, (Clock, String)>> = sections
        .iter()
        .map(|s| in_force_elsewhere(n, &s.notices, now))
        .collect();
    let statuses: Vec<Status> = sections.iter().map(|s| s.status(n, now)).collect();
    let overall = Status::most_open(statuses.iter().copied()).unwrap_or(Status::Closed);
    // A window still running that no longer holds where the notice stands (a bid deadline of a
    // section awarded, terminated or past its tender stage) is said to be so, not counted down.
    let line = |c: &Clock, status: Status| {
        if c.is_open() && !status.still_counts(&c.window) {
            format!("{}（{}，此期限不再适用）", c.sentence, status.zh())
        } else {
            c.line()
        }
    };
    for (row, clock) in rows.iter_mut().zip(&own) {
        if clock.is_open() && !overall.still_counts(&clock.window) {
            row.status = format!("{}，此期限不再适用", overall.zh());
            row.class = "muted";
        }
        let mut replaced: Vec<Replacement> = sections
            .iter()
            .zip(&elsewhere)
            .zip(&statuses)
            .filter_map(|((s, e), status)| {
                let (c, id) = e.get(&clock.window)?;
                Some(Replacement {
                    section: s.procedure["section"].as_str().map(str::to_owned),
                    line: line(c, *status),
                    href: format!("/notices/{id}"),
                })
            })
            .collect();
        if replaced.is_empty() {
            continue;
        }
        if replaced.len() == sections.len() {
            // The window as this notice set it holds nowhere: its count would mislead.
            row.status = "已变更".into();
            row.class = "muted";
            row.superseded = true;
        }
        // Every section changed alike, or the notice has one: no section to name.
        let alike = replaced
            .iter()
            .all(|r| (&r.line, &r.href) == (&replaced[0].line, &replaced[0].href));
        if row.superseded && alike {
            replaced.truncate(1);
            replaced[0].section = None;
        }
        row.replaced = replaced;
    }
    rows
}

fn page(
    n: &PublicNotice,
    sections: &[Section<'_>],
    view: &NoticeView,
    released: Vec<Released>,
    now: chrono::DateTime<chrono::Utc>,
) -> NoticePage {
    let siblings: &[PublicNotice] = sections.first().map(|s| &*s.notices).unwrap_or_default();
    let tender = siblings
        .iter()
        .rev()
        .find(|s| s.kind == Kind::Tender.as_str());
    let summary = people::summary(n, tender);
    let mut notes = Vec::new();
    let clocks = clock_rows_in_force(n, sections, now, &mut notes);
    let record = people::record_of(n);
    let table = people::table_of(n);
    let candidates = table.and_then(|t| {
        t.roles
            .candidates
            .as_deref()
            .and_then(|f| people::sub_records(t, f, &record))
    });
    let body = table
        .and_then(|t| t.body_field.as_deref())
        .and_then(|f| record.get(f))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let versions = view
        .versions
        .iter()
        .flatten()
        .map(|v| VersionRow {
            version: v.version,
            id: v.id.clone(),
            title: v.title.as_str().unwrap_or_default().to_owned(),
            published: siblings
                .iter()
                .find(|s| s.notice_id == v.id)
                .map(published_on)
                .unwrap_or_default(),
            current: v.current,
            this: v.this,
            changes: v.changes.iter().map(|c| change_line(&v.table, c)).collect(),
            section: v.section.clone(),
        })
        .collect();
    let status = Status::parse(&view.status).unwrap_or(Status::Closed);
    let section_rows = view
        .sections
        .iter()
        .map(|s| {
            let part = |name: &str| s.procedure[name].as_str().unwrap_or_default();
            let status = Status::parse(&s.status).unwrap_or(Status::Closed);
            SectionRow {
                code: part("section").to_owned(),
                status: status.zh(),
                class: status_class(status),
                href: super::procedure_href(
                    "/procedures",
                    part("platform"),
                    part("project"),
                    part("section"),
                ),
            }
        })
        .collect();
    NoticePage {
        id: n.notice_id.clone(),
        title: n.notice["title"].as_str().unwrap_or_default().to_owned(),
        kind: crate::views::kind_of(&n.kind).zh(),
        status: status.zh(),
        status_class: status_class(status),
        regime: people::regime_of(n).zh(),
        head: head_facts(&summary, n),
        released,
        removed: view.removed_characters.clone().unwrap_or_default(),
        clocks,
        sections: section_rows,
        notes,
        candidates,
        body,
        facts: table.map(|t| people::facts(t, &record)).unwrap_or_default(),
        versions,
        procedure_href: super::procedure_href(
            "/procedures",
            &summary.platform,
            &summary.project,
            &summary.section,
        ),
        json_href: format!("/v1/notices/{}", n.notice_id),
    }
}

/// `GET /notices/{id}`: the page, `404` as a page in Chinese.
#[utoipa::path(get, path = "/notices/{id}", tag = "pages", operation_id = "notice_page",
    params(
        ("id" = String, Path, description = "Notice id (32 hex digits)"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of the page already held")),
    responses(
        (status = 200, description = "The notice's page for people (HTML, zh-CN)", content_type = "text/html", body = String),
        (status = 304, description = "Not modified since the ETag sent"),
        (status = 404, description = "No such published notice (a page in Chinese)", content_type = "text/html", body = String),
        (status = 503, description = "The store is unavailable (a page in Chinese)", content_type = "text/html", body = String)))]
pub async fn notice(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let not_found = || {
        error_page(
            StatusCode::NOT_FOUND,
            "没有这个公告",
            format!("没有编号为 {id} 的已发布公告。它可能尚未发布，或地址有误。"),
        )
    };
    if !plausible_id(&id) {
        return not_found();
    }
    let n = match notices::published(&gw.store.pool, &id).await {
        Ok(Some(n)) => n,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    let mut siblings = match notices::of_procedure(&gw.store.pool, &n.procedure_key).await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    version_order(&mut siblings);
    let links = version_links(&siblings);
    let now = gw.clock.now();
    let here = Section::loaded(&n.procedure_key, &siblings, &links);
    let sections = match sections_of(&gw.store.pool, &n, here).await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let mut view = notice_view(&n, &sections, now, true);
    let released = match releases_of(&gw.store.pool, &n).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    view.removed_characters = match removals_of(&gw.store.pool, &n).await {
        Ok(r) => Some(r),
        Err(e) => return unavailable(e),
    };
    cached(
        &headers,
        StatusCode::OK,
        &page(&n, &sections, &view, released, now),
    )
}

//! Published notices as `GET /v1/notices/{id}` and `GET /v1/procedures/{platform}/{project}/{section}`
//! show them (`routes::notices`, `routes::procedures`): their lifecycle status, legal windows,
//! and versions — each stage's chain of notices (the tender with its re-sent corrections and
//! amendments, the candidate publicity, the award) with the field-level changes each version
//! made (`gongshi_domain::diff`).

use gongshi_domain::diff::{self, VersionInput, VersionLink};
use gongshi_domain::lifecycle::Status;
use gongshi_domain::period::{self, Setting, Window as LegalWindow};
use gongshi_domain::{Kind, Schemas};
use gongshi_platform::store::StoreError;
use gongshi_platform::store::notices::{self, PublicNotice};
use serde::{Deserialize as _, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// One procedure (section, 标段) of a notice: its published notices in version order and their
/// places in their stages' chains. A notice of several sections has a status, and windows in
/// force, in each.
#[derive(Debug, Clone)]
pub(crate) struct Section<'a> {
    /// Procedure key `platform/project/section`.
    pub key: String,
    /// `{platform, project, section}`.
    pub procedure: Value,
    /// Its published notices in version order.
    pub notices: Cow<'a, [PublicNotice]>,
    /// Their version links.
    pub links: Cow<'a, HashMap<String, VersionLink>>,
}

impl<'a> Section<'a> {
    /// Procedure `key` with its notices in version order (`notices`) and their `links`, already
    /// loaded.
    pub(crate) fn loaded(
        key: &str,
        notices: &'a [PublicNotice],
        links: &'a HashMap<String, VersionLink>,
    ) -> Section<'a> {
        Section {
            key: key.to_owned(),
            procedure: procedure_value(key),
            notices: Cow::Borrowed(notices),
            links: Cow::Borrowed(links),
        }
    }

    /// `n`'s status at `now` in this procedure ([`lifecycle`]).
    pub(crate) fn status(&self, n: &PublicNotice, now: chrono::DateTime<chrono::Utc>) -> Status {
        lifecycle(n, &self.notices, now)
    }
}

/// `{platform, project, section}` of a key `platform/project/section`.
fn procedure_value(key: &str) -> Value {
    let mut parts = key.splitn(3, '/');
    let mut next = || Value::from(parts.next().unwrap_or_default());
    serde_json::json!({"platform": next(), "project": next(), "section": next()})
}

/// Every procedure of `n`: `here` first (already loaded: a procedure's page, or the notice's
/// first section), whose notices give the notice's versions, then each other one it lists, loaded
/// from the store (one query each; a notice of one procedure costs none).
pub(crate) async fn sections_of<'a>(
    pool: &sqlx::PgPool,
    n: &PublicNotice,
    here: Section<'a>,
) -> Result<Vec<Section<'a>>, StoreError> {
    let mut keys: Vec<String> = n.notice["procedures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(format!(
                "{}/{}/{}",
                p["platform"].as_str()?,
                p["project"].as_str()?,
                p["section"].as_str()?
            ))
        })
        .collect();
    // A section listed twice is one procedure.
    let mut seen = std::collections::HashSet::from([here.key.clone()]);
    keys.retain(|k| seen.insert(k.clone()));
    let mut out = vec![here];
    for key in keys {
        let mut list = notices::of_procedure(pool, &key).await?;
        version_order(&mut list);
        let links = version_links(&list);
        out.push(Section {
            procedure: procedure_value(&key),
            key,
            notices: Cow::Owned(list),
            links: Cow::Owned(links),
        });
    }
    Ok(out)
}

/// A notice's status in one of its sections' procedures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SectionStatus {
    /// Procedure key {platform, project, section}.
    #[schema(value_type = Object)]
    pub procedure: Value,
    /// open, publicity, closed, awarded, terminated.
    pub status: String,
}

/// Where `n` stands at `now`: the most open of its statuses in `sections` ([`Status::most_open`]),
/// and each of them when it has several.
pub(crate) fn standing(
    n: &PublicNotice,
    sections: &[Section<'_>],
    now: chrono::DateTime<chrono::Utc>,
) -> (Status, Vec<SectionStatus>) {
    let each: Vec<Status> = sections.iter().map(|s| s.status(n, now)).collect();
    let status = Status::most_open(each.iter().copied()).unwrap_or(Status::Closed);
    let listed = if sections.len() > 1 {
        sections
            .iter()
            .zip(each)
            .map(|(s, status)| SectionStatus {
                procedure: s.procedure.clone(),
                status: status.as_str().to_owned(),
            })
            .collect()
    } else {
        Vec::new()
    };
    (status, listed)
}

static EMPTY_LINKS: std::sync::LazyLock<HashMap<String, VersionLink>> =
    std::sync::LazyLock::new(HashMap::new);

/// The lifecycle status of a stored published notice at `now`, among the other published
/// notices of its round in one of its procedures (the domain's one definition, [`Status::at`],
/// with [`gongshi_domain::lifecycle::round_of`]), by its windows in force there
/// ([`windows_in_force`]): a tender whose deadline an amendment moved is open until the new one.
pub(crate) fn lifecycle(
    n: &PublicNotice,
    siblings: &[PublicNotice],
    now: chrono::DateTime<chrono::Utc>,
) -> Status {
    // Only its round counts: a re-tender after a termination is not terminated by it.
    let sent: Vec<(Kind, Option<gongshi_domain::values::datetime::Instant>)> = siblings
        .iter()
        .map(|s| {
            let sent_at = s.notice["sent_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            (kind_of(&s.kind), sent_at)
        })
        .collect();
    let round = siblings
        .iter()
        .position(|s| s.notice_id == n.notice_id)
        .map_or(0..siblings.len(), |i| {
            gongshi_domain::lifecycle::round_of(&sent, i)
        });
    let kinds: Vec<Kind> = siblings[round]
        .iter()
        .filter_map(|s| Kind::parse(&s.kind))
        .collect();
    let windows = windows_in_force(n, siblings)
        .into_iter()
        .map(|(name, (window, _))| (name, window))
        .collect();
    Status::at(kind_of(&n.kind), &windows, &kinds, now)
}

/// A stored notice's own legal windows by name.
pub(crate) fn windows_of(n: &PublicNotice) -> BTreeMap<String, LegalWindow> {
    BTreeMap::<String, LegalWindow>::deserialize(&n.outcome["windows"]).unwrap_or_default()
}

/// A procedure's notices (`list`, in version order) with their own windows, for the domain's
/// windows-in-force rule (`gongshi_domain::period::in_force`).
struct Settings<'a> {
    list: &'a [PublicNotice],
    windows: Vec<BTreeMap<String, LegalWindow>>,
}

impl<'a> Settings<'a> {
    fn of(list: &'a [PublicNotice]) -> Self {
        Settings {
            list,
            windows: list.iter().map(windows_of).collect(),
        }
    }

    fn settings(&self) -> Vec<Setting<'_>> {
        self.list
            .iter()
            .zip(&self.windows)
            .map(|(n, windows)| Setting {
                table: &n.table,
                kind: kind_of(&n.kind),
                windows,
            })
            .collect()
    }
}

/// `n`'s windows as they stand in its procedure (`siblings`, in version order), each with the id
/// of the notice that set it: the domain's one rule (`gongshi_domain::period::in_force`), as
/// enforcement closes windows by it. An amendment moving the bid deadline replaces the tender's
/// bid window; a re-sent version replaces its own earlier one's, but one it only restates leaves
/// a window an amendment set in between in force. A notice not among `siblings` has its own.
pub(crate) fn windows_in_force<'a>(
    n: &'a PublicNotice,
    siblings: &'a [PublicNotice],
) -> BTreeMap<String, (LegalWindow, &'a str)> {
    let Some(index) = siblings.iter().position(|s| s.notice_id == n.notice_id) else {
        return windows_of(n)
            .into_iter()
            .map(|(name, w)| (name, (w, n.notice_id.as_str())))
            .collect();
    };
    let settings = Settings::of(siblings);
    let list = settings.settings();
    period::windows_in_force(&list)
        .of(index)
        .into_iter()
        .map(|(name, f)| (name, (f.window, siblings[f.set_by].notice_id.as_str())))
        .collect()
}

/// Every window in force in a procedure (`list`, in version order), by name, with the notice
/// that set it ([`windows_in_force`]'s rule, across the procedure's stages).
pub(crate) fn procedure_windows(list: &[PublicNotice]) -> BTreeMap<String, (LegalWindow, &str)> {
    let settings = Settings::of(list);
    let settings_list = settings.settings();
    period::windows_in_force(&settings_list)
        .all()
        .into_iter()
        .map(|(name, f)| {
            (
                name.to_owned(),
                (f.window, list[f.set_by].notice_id.as_str()),
            )
        })
        .collect()
}

/// A stored kind string as the domain's kind (unknown kinds sort last, as terminations).
pub(crate) fn kind_of(kind: &str) -> Kind {
    Kind::parse(kind).unwrap_or(Kind::Termination)
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

/// A procedure's notices in version order: publication order (`published_seq`, which also orders
/// a tender and the amendment parked behind it, published in one transaction), then — for rows
/// without one — publication time, stage and the platform's `DATA_TIMESTAMP`.
pub(crate) fn version_order(list: &mut [PublicNotice]) {
    list.sort_by(|a, b| {
        (
            a.published_seq.is_none(),
            a.published_seq,
            a.published_at,
            stage_rank(&a.kind),
            a.data_timestamp,
            &a.notice_id,
        )
            .cmp(&(
                b.published_seq.is_none(),
                b.published_seq,
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

/// A legal window as the verdict stores it (the view passes the stored JSON through; this
/// describes it).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Window {
    /// Start (RFC 3339, +08:00).
    pub start: String,
    /// End (RFC 3339, +08:00).
    pub end: String,
}

/// A notice's place in its stage's chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionView {
    /// The stage: tender (amendments belong to it), candidates, award, termination.
    #[schema(value_type = String)]
    pub stage: Kind,
    /// 1 for the stage's first notice.
    pub version: usize,
    /// How many versions the stage has.
    pub of: usize,
    /// Whether no later notice replaces it.
    pub current: bool,
}

/// One field a version changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeView {
    /// Field code.
    pub field: String,
    /// Chinese label.
    pub label: String,
    /// The value before (null: not given).
    #[schema(value_type = Option<Value>)]
    pub old: Option<Value>,
    /// The value after (null: no longer given).
    #[schema(value_type = Option<Value>)]
    pub new: Option<Value>,
    /// `FIELD 标签: old → new`.
    pub summary: String,
}

/// One version of a stage's chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionEntry {
    /// 1 for the stage's first notice.
    pub version: usize,
    /// Notice id.
    pub id: String,
    /// Table code.
    pub table: String,
    /// Kind.
    pub kind: String,
    /// Title.
    #[schema(value_type = Option<String>)]
    pub title: Value,
    /// When it was published.
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The platform's DATA_TIMESTAMP.
    pub data_timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether no later notice replaces it.
    pub current: bool,
    /// Whether it is the notice shown.
    pub this: bool,
    /// What it changed.
    pub changes: Vec<ChangeView>,
    /// For a notice of several sections, the section code of a version that belongs to some of
    /// them only (an amendment of one section); its `version` counts in that section's chain.
    /// Absent for a version of every section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

/// The versions of `n`'s stage in each of its `sections`, in publication order: the chain of each
/// section ([`version_links`]), each notice once; a version only some sections have names its
/// section.
fn versions_of(n: &PublicNotice, sections: &[Section<'_>]) -> Vec<VersionEntry> {
    let mut out: Vec<(Option<i64>, VersionEntry)> = Vec::new();
    for s in sections {
        let Some(stage) = s.links.get(&n.notice_id).map(|l| l.stage) else {
            continue;
        };
        for sibling in s.notices.iter() {
            let Some(l) = s.links.get(&sibling.notice_id) else {
                continue;
            };
            if l.stage != stage || out.iter().any(|(_, v)| v.id == sibling.notice_id) {
                continue;
            }
            let everywhere = sections
                .iter()
                .all(|o| o.links.contains_key(&sibling.notice_id));
            let entry = VersionEntry {
                version: l.version,
                id: sibling.notice_id.clone(),
                table: sibling.table.clone(),
                kind: sibling.kind.clone(),
                title: sibling.notice["title"].clone(),
                published_at: sibling.published_at,
                data_timestamp: sibling.data_timestamp,
                current: l.current,
                this: sibling.notice_id == n.notice_id,
                changes: changes_view(&l.changes),
                section: (!everywhere)
                    .then(|| s.procedure["section"].as_str().map(str::to_owned))
                    .flatten(),
            };
            out.push((sibling.published_seq, entry));
        }
    }
    // Publication order across sections (a section's own chain is already in it).
    out.sort_by_key(|(seq, _)| (seq.is_none(), *seq));
    out.into_iter().map(|(_, v)| v).collect()
}

/// A published notice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoticeView {
    /// Notice id.
    pub id: String,
    /// Table code.
    pub table: String,
    /// tender, amendment, candidates, award, termination.
    pub kind: String,
    /// Procedure key {platform, project, section}.
    pub procedure: Value,
    /// Every procedure (section) the notice names.
    #[schema(value_type = Vec<Value>)]
    pub procedures: Value,
    /// Title.
    #[schema(value_type = Option<String>)]
    pub title: Value,
    /// GB/T 2260 region code.
    #[schema(value_type = Option<String>)]
    pub region: Value,
    /// Canonical fields, without personal data.
    pub record: Value,
    /// open, publicity, closed, awarded, terminated: for a notice of several sections, the most
    /// open of `sections` (a tender whose first section was terminated is open in the second).
    pub status: String,
    /// A notice of several sections (标段): its status in each section's procedure. Absent for a
    /// notice of one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<SectionStatus>,
    /// When it was published.
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The platform's DATA_TIMESTAMP.
    pub data_timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// Rule ids of its warnings.
    #[schema(value_type = Vec<String>)]
    pub warnings: Vec<Value>,
    /// Every finding with its evidence.
    #[schema(value_type = Vec<Value>)]
    pub findings: Value,
    /// Its legal windows by name: documents, bid, publicity, announcement, challenge.
    #[schema(value_type = std::collections::BTreeMap<String, Window>)]
    pub windows: Value,
    /// Its place in its stage's chain: {stage, version, of, current}.
    pub version: Option<VersionView>,
    /// What this notice changed against the version before it: field code, Chinese label, old and
    /// new value, summary.
    pub changes: Vec<ChangeView>,
    /// Its stage's whole chain, each version with its changes (`GET /v1/notices/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<VersionEntry>>,
    /// The trading centre's releases of it from a rule, at validation or enforcement, each rule
    /// once (`GET /v1/notices/{id}` only; empty when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub releases: Option<Vec<Released>>,
    /// Characters validation removed from its text before it was published (rule `TEXT-CHARS`:
    /// outside XML 1.0, or bidirectional controls), each field once, so that a reader knows the
    /// published text is not byte for byte what the platform sent (`GET /v1/notices/{id}` only;
    /// empty when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_characters: Option<Vec<Removal>>,
}

/// Characters removed from one field of a notice at validation (`TEXT-CHARS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Removal {
    /// JSON Pointer of the field in the record, e.g. `/NOTICE_NAME`.
    pub path: String,
    /// What was removed, naming the field with its Chinese label and each character with its
    /// count: `NOTICE_NAME 公告标题 含有公告无法发布的字符，已删除：U+000B ×1 (…)`.
    pub message: String,
}

/// The characters validation removed from `n`'s text (its records' `TEXT-CHARS` warnings).
pub async fn removals_of(
    pool: &sqlx::PgPool,
    n: &PublicNotice,
) -> Result<Vec<Removal>, StoreError> {
    Ok(
        gongshi_platform::store::receipts::warnings_of_notice(pool, &n.notice_id, "TEXT-CHARS")
            .await?
            .into_iter()
            .map(|(path, message)| Removal { path, message })
            .collect(),
    )
}

/// A verdict's findings as the public sees them: who released one (`released.released_by`, an
/// operator's account or name) is for the console and the audit, not the public.
fn public_findings(findings: &Value) -> Value {
    let mut out = findings.clone();
    for f in out.as_array_mut().into_iter().flatten() {
        if let Some(released) = f.get_mut("released").and_then(Value::as_object_mut) {
            released.remove("released_by");
        }
    }
    out
}

/// An operator's release of a notice from a rule (`Finding.released`), as the public sees it:
/// the rule and the written reason, not the operator's name (a person's name is not for the
/// public pages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Released {
    /// Rule id (`USCC-CHECK`, `W9`, or `OPERATOR-RELEASE` for a hold lifted early or a parked
    /// notice published without its parent stage).
    pub rule: String,
    /// The rule's title.
    pub title: String,
    /// The written reason.
    pub reason: String,
}

/// The releases of `n`: those on its verdict's findings (period rules) and those on its records'
/// validation warnings (`receipt_records`), each (rule, reason) once.
pub async fn releases_of(
    pool: &sqlx::PgPool,
    n: &PublicNotice,
) -> Result<Vec<Released>, StoreError> {
    let at_validation =
        gongshi_platform::store::receipts::released_rules_of_notice(pool, &n.notice_id).await?;
    let from_verdict = n.outcome["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some((
                f["rule"].as_str()?.to_owned(),
                f["released"]["reason"].as_str()?.to_owned(),
            ))
        });
    let mut out: Vec<Released> = Vec::new();
    for (rule, reason) in from_verdict.chain(at_validation) {
        let title = gongshi_domain::rules::Catalogue::embedded()
            .get(&rule)
            .map_or(
                if rule == "OPERATOR-RELEASE" {
                    "交易中心人工放行"
                } else {
                    ""
                },
                |r| r.title.as_str(),
            )
            .to_owned();
        if !out.iter().any(|r| r.rule == rule && r.reason == reason) {
            out.push(Released {
                rule,
                title,
                reason,
            });
        }
    }
    Ok(out)
}

impl From<&diff::FieldChange> for ChangeView {
    fn from(c: &diff::FieldChange) -> Self {
        ChangeView {
            field: c.field.clone(),
            label: c.label.clone(),
            old: c.old.clone(),
            new: c.new.clone(),
            summary: c.summary(),
        }
    }
}

fn changes_view(changes: &[diff::FieldChange]) -> Vec<ChangeView> {
    changes.iter().map(ChangeView::from).collect()
}

fn version_view(link: Option<&VersionLink>) -> Option<VersionView> {
    link.map(|l| VersionView {
        stage: l.stage,
        version: l.version,
        of: l.versions,
        current: l.current,
    })
}

/// One notice as the API shows it. `sections` are its procedures ([`sections_of`]), the first
/// the one whose notices give its versions; `full` adds the list of its stage's versions.
pub(crate) fn notice_view(
    n: &PublicNotice,
    sections: &[Section<'_>],
    now: chrono::DateTime<chrono::Utc>,
    full: bool,
) -> NoticeView {
    let (status, section_statuses) = standing(n, sections, now);
    let links: &HashMap<String, VersionLink> = sections.first().map_or(&EMPTY_LINKS, |s| &s.links);
    let verdict = &n.outcome;
    let warnings: Vec<Value> = verdict["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["severity"] == "WARN")
        .map(|f| f["rule"].clone())
        .collect();
    let link = links.get(&n.notice_id);
    let versions = full.then(|| versions_of(n, sections));
    NoticeView {
        id: n.notice_id.clone(),
        table: n.table.clone(),
        kind: n.kind.clone(),
        procedure: n.notice["procedure"].clone(),
        procedures: n.notice["procedures"].clone(),
        title: n.notice["title"].clone(),
        region: n.notice["region"].clone(),
        record: n.notice["canonical"].clone(),
        status: status.as_str().to_owned(),
        sections: section_statuses,
        published_at: n.published_at,
        data_timestamp: n.data_timestamp,
        warnings,
        findings: public_findings(&verdict["findings"]),
        windows: verdict["windows"].clone(),
        version: version_view(link),
        changes: changes_view(link.map(|l| l.changes.as_slice()).unwrap_or_default()),
        versions,
        releases: None,
        removed_characters: None,
    }
}

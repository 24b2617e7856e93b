//! Versions of a procedure's stages and what changed between them, in the terms operators and
//! bidders read: field code, Chinese label (from the table schemas), old value, new value.
//!
//! A stage is the tender (its notice, re-sent corrections of it, and the clarifications and
//! amendments 澄清/修改/更正 that move its terms), the candidate publicity, the award or the
//! termination. Its published notices, in publication order, form a chain of versions: version 1 is
//! the first notice; each later one is either a re-sent notice of the stage (its fields replace the
//! ones before) or an amendment (its fields are laid over the tender's, a postponed opening
//! `POST_OPEN_TIME` becoming the tender's `BID_OPEN_TIME`). Each version lists the fields whose
//! value in force it changed.

use crate::schema::{FieldType, Kind, Schemas, TableSpec};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One field whose value in force changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Field code; a sub-record's field is `TABLE[n].FIELD` (n from 1).
    pub field: String,
    /// Chinese label.
    pub label: String,
    /// The value before (absent: not given).
    pub old: Option<Value>,
    /// The value after (absent: no longer given).
    pub new: Option<Value>,
}

impl FieldChange {
    /// `BID_DOC_REFER_END_TIME 投标文件递交截止时间: 2025-03-01T09:00:00+08:00 → 2025-03-08T09:00:00+08:00`.
    pub fn summary(&self) -> String {
        format!(
            "{} {}: {} → {}",
            self.field,
            self.label,
            show(self.old.as_ref()),
            show(self.new.as_ref())
        )
    }
}

impl std::fmt::Display for FieldChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| show(Some(v)))
            .collect::<Vec<_>>()
            .join(";"),
        Some(other) => other.to_string(),
    }
}

/// The stage a notice kind belongs to: amendments belong to the tender.
pub fn stage_of(kind: Kind) -> Kind {
    match kind {
        Kind::Amendment => Kind::Tender,
        other => other,
    }
}

/// Order of stages in a procedure: tender (amendments after it), candidates, award, termination.
pub fn stage_rank(kind: Kind) -> u8 {
    match kind {
        Kind::Tender => 0,
        Kind::Amendment => 1,
        Kind::Candidates => 2,
        Kind::Award => 3,
        Kind::Termination => 4,
        Kind::Objection => 5,
    }
}

/// One published notice, as the version chain needs it.
#[derive(Debug, Clone, Copy)]
pub struct VersionInput<'a> {
    /// Notice id.
    pub notice_id: &'a str,
    /// Its table.
    pub table: &'a str,
    /// Its kind.
    pub kind: Kind,
    /// Its public canonical record.
    pub record: &'a Map<String, Value>,
}

/// Where one notice stands in its stage's chain.
#[derive(Debug, Clone, Serialize)]
pub struct VersionLink {
    /// Notice id.
    pub notice_id: String,
    /// The stage (tender for amendments).
    pub stage: Kind,
    /// 1 for the first notice of the stage.
    pub version: usize,
    /// How many versions the stage has.
    pub versions: usize,
    /// Whether no later notice of the same table replaces it (an amendment does not replace the
    /// tender it amends; a re-sent tender does).
    pub current: bool,
    /// Changes to the stage's values in force made by this notice (empty for version 1).
    pub changes: Vec<FieldChange>,
}

/// Fields that identify or stamp a record rather than say something about the procedure.
const BOOKKEEPING: &[&str] = &[
    "TABLE",
    "extra",
    "PLATFORM_CODE",
    "PUB_SERVICE_PLAT_CODE",
    "PUB_SERVICE_PLAT",
    "TRADE_PLAT",
    "DATA_TIMESTAMP",
    "URL",
    "UNIFIED_DEAL_CODE",
    "UNIFIED_DEAL_CODES",
];

/// Fields of an amendment that describe the amendment itself, not the terms it moves.
const AMENDMENT_OWN: &[&str] = &["DOC_NO", "IS_POSTPONE", "AFFECTS_BIDS", "CLARIFY_TIME"];

/// Amendment fields that replace a differently named field of the tender.
const AMENDMENT_TARGETS: &[(&str, &str)] = &[
    ("POST_OPEN_TIME", "BID_OPEN_TIME"),
    ("POST_OPEN_ADDRESS", "BID_OPEN_PLACE"),
    ("POST_BID_CLOSING_TIME", "BID_CLOSING_TIME"),
];

/// A field with its label and value, keyed by (possibly sub-record) field code.
type Fields = BTreeMap<String, (String, Value)>;

fn identity_fields(spec: &TableSpec) -> impl Iterator<Item = &str> {
    [
        &spec.project_field,
        &spec.sections_field,
        &spec.sent_at_field,
        &spec.title_field,
        &spec.body_field,
    ]
    .into_iter()
    .filter_map(|f| f.as_deref())
}

/// Whether a field says nothing of its own: bookkeeping, units and currencies (amounts are in 元).
fn noise(spec: Option<&TableSpec>, code: &str) -> bool {
    BOOKKEEPING.contains(&code)
        || code.contains("CURRENCY")
        || spec
            .and_then(|s| s.field(code))
            .is_some_and(|f| f.ty == FieldType::Unit)
}

fn label(spec: Option<&TableSpec>, code: &str) -> String {
    spec.and_then(|s| s.field(code))
        .map(|f| f.label.clone())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| code.to_owned())
}

/// A record's meaningful fields, sub-records flattened to `TABLE[n].FIELD`.
fn flatten(schemas: &Schemas, table: &str, record: &Map<String, Value>) -> Fields {
    let spec = schemas.table(table);
    let mut out = Fields::new();
    for (code, value) in record {
        if noise(spec, code) || value.is_null() {
            continue;
        }
        let field = spec.and_then(|s| s.field(code));
        match (field.map(|f| &f.ty), value) {
            (Some(FieldType::Records(sub)), Value::Array(items)) => {
                let sub_spec = schemas.table(sub);
                let group = label(spec, code);
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(item) = item else { continue };
                    for (sub_code, sub_value) in item {
                        if noise(sub_spec, sub_code) || sub_value.is_null() {
                            continue;
                        }
                        out.insert(
                            format!("{code}[{}].{sub_code}", i + 1),
                            (
                                format!("{group}（第{}条）{}", i + 1, label(sub_spec, sub_code)),
                                sub_value.clone(),
                            ),
                        );
                    }
                }
            }
            _ => {
                out.insert(code.clone(), (label(spec, code), value.clone()));
            }
        }
    }
    out
}

/// The tender terms an amendment record sets: its fields, less those describing the amendment
/// itself, with postponement fields renamed to the tender fields they replace. Labels come from
/// `tender_table` when it has the field.
pub fn amendment_effects(
    schemas: &Schemas,
    amendment_table: &str,
    tender_table: Option<&str>,
    record: &Map<String, Value>,
) -> BTreeMap<String, (String, Value)> {
    let spec = schemas.table(amendment_table);
    let tender = tender_table.and_then(|t| schemas.table(t));
    let own: Vec<&str> = spec
        .map(|s| identity_fields(s).collect())
        .unwrap_or_default();
    let mut out = Fields::new();
    let mut renamed = Fields::new();
    for (code, value) in record {
        if noise(spec, code)
            || value.is_null()
            || AMENDMENT_OWN.contains(&code.as_str())
            || own.contains(&code.as_str())
        {
            continue;
        }
        let target = AMENDMENT_TARGETS
            .iter()
            .find(|(from, _)| from == code)
            .map(|(_, to)| *to);
        let name = target.unwrap_or(code);
        let text = if tender.and_then(|t| t.field(name)).is_some() {
            label(tender, name)
        } else {
            label(spec, code)
        };
        // A postponement's new instant wins over a plain field of the same meaning.
        let into = if target.is_some() {
            &mut renamed
        } else {
            &mut out
        };
        into.insert(name.to_owned(), (text, value.clone()));
    }
    out.extend(renamed);
    out
}

/// Field-level changes from `old` to `new` (both flattened), in field order.
fn changes(old: &Fields, new: &Fields) -> Vec<FieldChange> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (o, n) = (old.get(k), new.get(k));
            if o.map(|x| &x.1) == n.map(|x| &x.1) {
                return None;
            }
            let label = n.or(o).map(|x| x.0.clone()).unwrap_or_default();
            Some(FieldChange {
                field: k.clone(),
                label,
                old: o.map(|x| x.1.clone()),
                new: n.map(|x| x.1.clone()),
            })
        })
        .collect()
}

/// Every changed field between two records of one table (re-sent versions of a notice).
pub fn diff_records(
    schemas: &Schemas,
    table: &str,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
) -> Vec<FieldChange> {
    changes(&flatten(schemas, table, old), &flatten(schemas, table, new))
}

/// Places every notice in its stage's chain. `notices` are a procedure's published notices in
/// publication order (ties: stage order); the answer has one link per notice, in the same order.
pub fn chains(schemas: &Schemas, notices: &[VersionInput<'_>]) -> Vec<VersionLink> {
    struct Chain {
        /// The values in force.
        state: Fields,
        /// The table of the stage's base notice (labels for amendment fields).
        base_table: Option<String>,
        /// Each table's last version, as it stated its fields.
        versions: BTreeMap<String, Fields>,
        count: usize,
    }
    let mut chains: BTreeMap<u8, Chain> = BTreeMap::new();
    let mut links = Vec::with_capacity(notices.len());
    for n in notices {
        let stage = stage_of(n.kind);
        let chain = chains.entry(stage_rank(stage)).or_insert_with(|| Chain {
            state: Fields::new(),
            base_table: None,
            versions: BTreeMap::new(),
            count: 0,
        });
        let before = chain.state.clone();
        if n.kind == Kind::Amendment {
            chain.state.extend(amendment_effects(
                schemas,
                n.table,
                chain.base_table.as_deref(),
                n.record,
            ));
        } else {
            // A re-sent notice replaces its own table's fields; terms only an amendment gives
            // (a control price, say) stay in force, and so does a value an amendment set since
            // the previous version when the re-send restates that version's value (a tender
            // re-sent to correct its text leaves a postponed deadline postponed, as
            // `period::in_force` leaves the bid window).
            let fresh = flatten(schemas, n.table, n.record);
            let own = schemas.table(n.table);
            let previous = chain.versions.get(n.table);
            let kept: Fields = chain
                .state
                .iter()
                .filter(|(k, v)| {
                    previous.is_some_and(|p| {
                        p.get(*k).map(|x| &x.1) == fresh.get(*k).map(|x| &x.1)
                            && p.get(*k).map(|x| &x.1) != Some(&v.1)
                    })
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            chain.state.retain(|k, _| {
                let top = k.split('[').next().unwrap_or(k);
                own.is_none_or(|s| s.field(top).is_none())
            });
            chain.state.extend(fresh.clone());
            chain.state.extend(kept);
            chain.versions.insert(n.table.to_owned(), fresh);
            chain.base_table = Some(n.table.to_owned());
        }
        chain.count += 1;
        links.push(VersionLink {
            notice_id: n.notice_id.to_owned(),
            stage,
            version: chain.count,
            versions: 0,
            current: true,
            changes: if chain.count == 1 {
                Vec::new()
            } else {
                changes(&before, &chain.state)
            },
        });
    }
    // Totals per stage, and which notices a later one of the same table replaces.
    for i in 0..links.len() {
        let stage = links[i].stage;
        links[i].versions = links.iter().filter(|l| l.stage == stage).count();
        links[i].current = !notices[i + 1..]
            .iter()
            .any(|later| later.table == notices[i].table && notices[i].kind != Kind::Amendment);
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("object"),
        }
    }

    fn tender(deadline: &str) -> Map<String, Value> {
        record(json!({
            "TABLE": "TENDER_ANN_QUA_INQUERY_ANN",
            "TENDER_PROJECT_CODE": "E3203010319005778",
            "BID_SECTION_CODES": ["E3203010319005778001"],
            "NOTICE_NAME": "施工招标公告",
            "NOTICE_SEND_TIME": "2025-02-07T09:00:00+08:00",
            "BID_DOC_REFER_END_TIME": deadline,
            "BID_OPEN_TIME": deadline,
            "TENDERER_NAME": "徐州市城市建设投资有限公司",
            "CONTRACT_RECKON_PRICE": "11531700",
            "PRICE_UNIT": "元",
            "PLATFORM_CODE": "JSGGZY",
            "DATA_TIMESTAMP": "2025-02-07T08:55:00+08:00"
        }))
    }

    fn postponement() -> Map<String, Value> {
        record(json!({
            "TABLE": "TENDER_FILE_CLARI_MODI",
            "TENDER_PROJECT_CODE": "E3203010319005778",
            "BID_SECTION_CODE": "E3203010319005778001",
            "DOC_NO": "XG01",
            "DOC_NAME": "招标文件修改及延期公告",
            "CLARIFY_CONTENT": "投标截止时间顺延。",
            "SUBMIT_TIME": "2025-02-20T10:00:00+08:00",
            "IS_POSTPONE": "1",
            "BID_DOC_REFER_END_TIME": "2025-03-08T09:00:00+08:00",
            "BID_OPEN_TIME": "2025-03-01T09:00:00+08:00",
            "POST_OPEN_TIME": "2025-03-08T09:00:00+08:00",
            "CONTROL_PRICE": "41285630.57",
            "CONTROL_PRICE_UNIT": "元",
            "CONTROL_PRICE_CURRENCY": "156",
            "PLATFORM_CODE": "JSGGZY",
            "DATA_TIMESTAMP": "2025-02-20T10:01:00+08:00"
        }))
    }

    #[test]
    fn a_postponement_moves_the_deadline_and_the_opening_in_tender_terms() {
        let schemas = Schemas::embedded();
        let (t, a) = (tender("2025-03-01T09:00:00+08:00"), postponement());
        let links = chains(
            schemas,
            &[
                VersionInput {
                    notice_id: "t1",
                    table: "TENDER_ANN_QUA_INQUERY_ANN",
                    kind: Kind::Tender,
                    record: &t,
                },
                VersionInput {
                    notice_id: "a1",
                    table: "TENDER_FILE_CLARI_MODI",
                    kind: Kind::Amendment,
                    record: &a,
                },
            ],
        );
        assert_eq!((links[0].version, links[0].versions), (1, 2));
        assert!(links[0].changes.is_empty());
        assert!(links[0].current, "an amendment does not replace the tender");
        assert_eq!((links[1].stage, links[1].version), (Kind::Tender, 2));
        let summaries: Vec<String> = links[1].changes.iter().map(FieldChange::summary).collect();
        assert_eq!(
            summaries,
            [
                "BID_DOC_REFER_END_TIME 投标文件递交截止时间: 2025-03-01T09:00:00+08:00 → 2025-03-08T09:00:00+08:00",
                "BID_OPEN_TIME 开标时间: 2025-03-01T09:00:00+08:00 → 2025-03-08T09:00:00+08:00",
                "CONTROL_PRICE 控制价（最高限价）（如有）: — → 41285630.57",
            ]
        );
    }

    /// The chain of tender `t1`, amendment `a`, then `t2` re-sending the tender.
    fn resent_after_amendment(
        schemas: &Schemas,
        t1: &Map<String, Value>,
        a: &Map<String, Value>,
        t2: &Map<String, Value>,
    ) -> Vec<VersionLink> {
        let input = |notice_id, table, kind, record| VersionInput {
            notice_id,
            table,
            kind,
            record,
        };
        chains(
            schemas,
            &[
                input("t1", "TENDER_ANN_QUA_INQUERY_ANN", Kind::Tender, t1),
                input("a1", "TENDER_FILE_CLARI_MODI", Kind::Amendment, a),
                input("t2", "TENDER_ANN_QUA_INQUERY_ANN", Kind::Tender, t2),
            ],
        )
    }

    #[test]
    fn a_resent_notice_replaces_its_fields_and_keeps_amended_terms() {
        let schemas = Schemas::embedded();
        let t1 = tender("2025-03-01T09:00:00+08:00");
        let a = postponement();
        let mut t2 = tender("2025-03-15T09:00:00+08:00");
        t2.remove("CONTRACT_RECKON_PRICE");
        t2.insert("DATA_TIMESTAMP".into(), json!("2025-02-25T08:00:00+08:00"));
        let links = resent_after_amendment(schemas, &t1, &a, &t2);
        assert!(!links[0].current, "t2 replaces t1");
        assert!(links[1].current && links[2].current);
        assert_eq!(links[2].version, 3);
        let fields: Vec<(&str, Option<&Value>, Option<&Value>)> = links[2]
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.old.as_ref(), c.new.as_ref()))
            .collect();
        assert_eq!(
            fields,
            [
                (
                    "BID_DOC_REFER_END_TIME",
                    Some(&json!("2025-03-08T09:00:00+08:00")),
                    Some(&json!("2025-03-15T09:00:00+08:00"))
                ),
                (
                    "BID_OPEN_TIME",
                    Some(&json!("2025-03-08T09:00:00+08:00")),
                    Some(&json!("2025-03-15T09:00:00+08:00"))
                ),
                ("CONTRACT_RECKON_PRICE", Some(&json!("11531700")), None),
            ],
            "DATA_TIMESTAMP is bookkeeping; CONTROL_PRICE stays in force"
        );
    }

    #[test]
    fn a_resent_notice_restating_its_deadline_leaves_the_postponement_in_force() {
        let schemas = Schemas::embedded();
        let t1 = tender("2025-03-01T09:00:00+08:00");
        let a = postponement();
        let mut t2 = t1.clone();
        t2.insert("NOTICE_NAME".into(), json!("施工招标公告（更正错字）"));
        let links = resent_after_amendment(schemas, &t1, &a, &t2);
        let fields: Vec<&str> = links[2].changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["NOTICE_NAME"],
            "the deadline and opening stay at the amendment's 03-08"
        );
    }

    #[test]
    fn candidate_lists_are_compared_row_by_row() {
        let schemas = Schemas::embedded();
        let cand = |second: &str| {
            record(json!({
                "TABLE": "TENDER_CANDIDATE_ANNOUNCE",
                "PUBLICITY_NAME": "中标候选人公示",
                "TENDER_CANDIDATE": [
                    {"WIN_CANDIDATE_NAME": "甲公司", "WIN_CANDIDATE_ORDER": "1", "BID_PRICE": "100"},
                    {"WIN_CANDIDATE_NAME": second, "WIN_CANDIDATE_ORDER": "2", "BID_PRICE": "120"}
                ]
            }))
        };
        let diff = diff_records(
            schemas,
            "TENDER_CANDIDATE_ANNOUNCE",
            &cand("乙公司"),
            &cand("丙公司"),
        );
        assert_eq!(diff.len(), 1, "{diff:?}");
        assert_eq!(diff[0].field, "TENDER_CANDIDATE[2].WIN_CANDIDATE_NAME");
        assert_eq!(diff[0].label, "中标候选人（第2条）中标候选人名称");
        assert_eq!(
            diff[0].summary(),
            "TENDER_CANDIDATE[2].WIN_CANDIDATE_NAME 中标候选人（第2条）中标候选人名称: 乙公司 → 丙公司"
        );
    }

    #[test]
    fn a_procurement_postponement_becomes_the_new_closing_time() {
        let schemas = Schemas::embedded();
        let effects = amendment_effects(
            schemas,
            "CORRECTION_ITEM",
            Some("PURCHASE_QUALI_INQUERY_ANN"),
            &record(json!({
                "TABLE": "CORRECTION_ITEM",
                "PURCHASE_PROJECT_CODE": "SDGP1",
                "PURCHASE_SECTION_CODE": "SDGP1001",
                "TERMINATION_BULLETIN_TITLE": "更正公告",
                "MODIFICATION_START_TIME": "2025-03-14T16:00:00+08:00",
                "IS_POSTPONE": "1",
                "POST_BID_CLOSING_TIME": "2025-04-08T09:30:00+08:00",
                "AFFECTS_BIDS": "1"
            })),
        );
        assert_eq!(
            effects.into_iter().collect::<Vec<_>>(),
            [(
                "BID_CLOSING_TIME".to_owned(),
                (
                    "投标（提交响应文件）截止时间".to_owned(),
                    json!("2025-04-08T09:30:00+08:00")
                )
            )]
        );
    }

    #[test]
    fn identical_versions_have_no_changes_and_stages_chain_apart() {
        let schemas = Schemas::embedded();
        let t = tender("2025-03-01T09:00:00+08:00");
        let award = record(json!({"TABLE": "WIN_RESULT_ANNO", "WIN_BIDDER_NAME": "甲公司"}));
        let links = chains(
            schemas,
            &[
                VersionInput {
                    notice_id: "t1",
                    table: "TENDER_ANN_QUA_INQUERY_ANN",
                    kind: Kind::Tender,
                    record: &t,
                },
                VersionInput {
                    notice_id: "w1",
                    table: "WIN_RESULT_ANNO",
                    kind: Kind::Award,
                    record: &award,
                },
                VersionInput {
                    notice_id: "t2",
                    table: "TENDER_ANN_QUA_INQUERY_ANN",
                    kind: Kind::Tender,
                    record: &t,
                },
            ],
        );
        assert_eq!(
            (links[1].stage, links[1].version, links[1].versions),
            (Kind::Award, 1, 1)
        );
        assert_eq!((links[2].version, links[2].versions), (2, 2));
        assert!(links[2].changes.is_empty());
    }
}

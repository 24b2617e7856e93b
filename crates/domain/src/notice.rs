//! The canonical notice: identity (procedure key, content hash), typed fields per table for the
//! rules, and the canonical JSON with personal fields marked so later stages can strip them.

use crate::schema::{Kind, Regime, Schemas, TableSpec};
use crate::values::datetime::Instant;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// (platform, project, section): the stages of one procedure share it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProcedureKey {
    /// `PLATFORM_CODE` 交易系统标识码.
    pub platform: String,
    /// `TENDER_PROJECT_CODE` or `PURCHASE_PROJECT_CODE`.
    pub project: String,
    /// `BID_SECTION_CODE(S)` or `PURCHASE_SECTION_CODE`.
    pub section: String,
}

impl std::fmt::Display for ProcedureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.platform, self.project, self.section)
    }
}

/// A validated notice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notice {
    /// Stable id: hash of (first procedure key, table, content hash).
    pub id: String,
    /// Table code.
    pub table: String,
    /// Regime.
    pub regime: Regime,
    /// Stage.
    pub kind: Kind,
    /// The procedure of its first section.
    pub procedure: ProcedureKey,
    /// Every procedure it belongs to (one per section named).
    pub procedures: Vec<ProcedureKey>,
    /// SHA-256 of the canonical record without `DATA_TIMESTAMP` (re-exports of the same content
    /// are duplicates, not versions).
    pub content_hash: String,
    /// `DATA_TIMESTAMP`: orders versions of the same notice.
    pub data_timestamp: Option<Instant>,
    /// When it is (to be) published according to the platform.
    pub sent_at: Option<Instant>,
    /// Title.
    pub title: String,
    /// Region code, when sent.
    pub region: Option<String>,
    /// Typed fields the rules read.
    pub body: NoticeBody,
    /// The canonical record, personal fields included (private store only).
    pub canonical: Map<String, Value>,
}

/// Typed fields per table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "TABLE")]
#[allow(missing_docs)]
pub enum NoticeBody {
    #[serde(rename = "TENDER_ANN_QUA_INQUERY_ANN")]
    WorksTender(WorksTender),
    #[serde(rename = "TENDER_FILE_CLARI_MODI")]
    WorksAmendment(WorksAmendment),
    #[serde(rename = "TENDER_CANDIDATE_ANNOUNCE")]
    WorksCandidates(WorksCandidates),
    #[serde(rename = "WIN_RESULT_ANNO")]
    WorksAward(WorksAward),
    #[serde(rename = "TENDER_TERMINATION")]
    WorksTermination(WorksTermination),
    #[serde(rename = "PURCHASE_QUALI_INQUERY_ANN")]
    ProcurementTender(ProcurementTender),
    #[serde(rename = "CORRECTION_ITEM")]
    ProcurementAmendment(ProcurementAmendment),
    #[serde(rename = "BID_DEAL_ANNOUNCE")]
    ProcurementResult(ProcurementResult),
}

fn is_one(flag: &Option<String>, default: bool) -> bool {
    flag.as_deref().map_or(default, |f| f == "1")
}

/// 招标公告 / 资格预审公告.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct WorksTender {
    pub bulletin_type: String,
    pub notice_nature: String,
    pub notice_send_time: Instant,
    pub doc_get_start_time: Instant,
    pub doc_get_end_time: Instant,
    pub bid_doc_refer_end_time: Instant,
    pub bid_open_time: Option<Instant>,
    pub is_to_law: Option<String>,
    pub contract_reckon_price: Option<Decimal>,
    pub tenderer_name: String,
}

impl WorksTender {
    /// 依法必须招标 (IS_TO_LAW, default 1).
    pub fn mandatory_tender(&self) -> bool {
        is_one(&self.is_to_law, true)
    }
}

/// 澄清/修改.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct WorksAmendment {
    pub submit_time: Instant,
    pub is_postpone: String,
    pub post_open_time: Option<Instant>,
    pub bid_doc_refer_end_time: Option<Instant>,
    pub affects_bids: Option<String>,
}

impl WorksAmendment {
    /// AFFECTS_BIDS, default 1.
    pub fn affects_bids(&self) -> bool {
        is_one(&self.affects_bids, true)
    }
}

/// One 中标候选人.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct Candidate {
    pub win_candidate_name: String,
    pub win_candidate_code: String,
    pub win_candidate_order: String,
    pub bid_price: Option<Decimal>,
}

/// 中标候选人公示.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct WorksCandidates {
    pub publicity_start_time: Instant,
    pub publicity_end_time: Instant,
    pub evaluation_report_time: Option<Instant>,
    #[serde(default)]
    pub tender_candidate: Vec<Candidate>,
}

/// 中标结果公告.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct WorksAward {
    pub notice_send_time: Instant,
    pub win_bidder_name: String,
    pub win_bidder_code: String,
    pub bid_amount: Option<Decimal>,
}

/// 终止/流标公告.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct WorksTermination {
    pub notice_send_time: Instant,
    pub reason: Option<String>,
}

/// 采购公告.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct ProcurementTender {
    pub bulletin_start_time: Instant,
    pub bid_closing_time: Instant,
    pub purchaser_mode: String,
    pub doc_get_start_time: Option<Instant>,
    pub doc_get_end_time: Option<Instant>,
    pub bulletin_end_time: Option<Instant>,
    pub program_budget: Option<Decimal>,
}

/// 更正公告.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct ProcurementAmendment {
    pub modification_start_time: Instant,
    pub is_postpone: String,
    pub post_bid_closing_time: Option<Instant>,
    pub affects_bids: Option<String>,
}

impl ProcurementAmendment {
    /// AFFECTS_BIDS, default 1.
    pub fn affects_bids(&self) -> bool {
        is_one(&self.affects_bids, true)
    }
}

/// 中标（成交）结果公告.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct ProcurementResult {
    pub win_bid_bulletin_start_time: Instant,
    pub winningbidder_name: String,
    pub winningbidder_code: String,
    pub win_bid_price: Option<Decimal>,
    pub bulletin_end_time: Option<Instant>,
    pub supplier_determined_time: Option<Instant>,
}

/// Why a schema-valid canonical record could not become a typed notice (a defect in the mapping
/// between schema and model; tests run every valid example through it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(String);

impl Notice {
    /// Builds the typed notice from a schema-valid canonical record of a notice table.
    pub fn from_canonical(
        table: &TableSpec,
        canonical: Map<String, Value>,
    ) -> Result<Notice, ModelError> {
        let (Some(regime), Some(kind)) = (table.regime, table.kind) else {
            return Err(ModelError(format!("{} is not a notice table", table.code)));
        };
        let text = |field: &Option<String>| -> Option<String> {
            field
                .as_ref()
                .and_then(|f| canonical.get(f))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let platform = canonical
            .get("PLATFORM_CODE")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let project = text(&table.project_field).unwrap_or_default();
        let sections: Vec<String> =
            match table.sections_field.as_ref().and_then(|f| canonical.get(f)) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => Vec::new(),
            };
        let procedures: Vec<ProcedureKey> = sections
            .iter()
            .map(|section| ProcedureKey {
                platform: platform.clone(),
                project: project.clone(),
                section: section.clone(),
            })
            .collect();
        let procedure = procedures
            .first()
            .cloned()
            .ok_or_else(|| ModelError(format!("{}: no section code", table.code)))?;
        let content_hash = content_hash(&canonical);
        let id = notice_id(&procedure, &table.code, &content_hash);
        let instant = |field: &Option<String>| {
            text(field).and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        };
        let body: NoticeBody = serde_json::from_value(Value::Object(canonical.clone()))
            .map_err(|e| ModelError(format!("{}: {e}", table.code)))?;
        Ok(Notice {
            id,
            table: table.code.clone(),
            regime,
            kind,
            procedure,
            procedures,
            content_hash,
            data_timestamp: instant(&Some("DATA_TIMESTAMP".into())),
            sent_at: instant(&table.sent_at_field),
            title: text(&table.title_field).unwrap_or_default(),
            region: text(&table.region_field),
            body,
            canonical,
        })
    }

    /// The canonical record without personal fields: what may leave the private store.
    pub fn public_record(&self, schemas: &Schemas) -> Map<String, Value> {
        strip_personal(schemas, &self.table, &self.canonical)
    }
}

/// Removes every field marked `x-personal` (in sub-records too).
pub fn strip_personal(
    schemas: &Schemas,
    table: &str,
    record: &Map<String, Value>,
) -> Map<String, Value> {
    let Some(spec) = schemas.table(table) else {
        return record.clone();
    };
    record
        .iter()
        .filter(|(k, _)| !spec.field(k).is_some_and(|f| f.personal))
        .map(|(k, v)| {
            let v = match (spec.field(k).map(|f| &f.ty), v) {
                (Some(crate::schema::FieldType::Records(sub)), Value::Array(items)) => {
                    Value::Array(
                        items
                            .iter()
                            .map(|item| match item {
                                Value::Object(m) => Value::Object(strip_personal(schemas, sub, m)),
                                other => other.clone(),
                            })
                            .collect(),
                    )
                }
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// SHA-256 over the canonical JSON (keys sorted) without `DATA_TIMESTAMP`.
pub fn content_hash(canonical: &Map<String, Value>) -> String {
    let mut text = String::new();
    let mut entries: Vec<_> = canonical
        .iter()
        .filter(|(k, _)| *k != "DATA_TIMESTAMP")
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    text.push('{');
    for (k, v) in entries {
        write_sorted(&mut text, &Value::String(k.clone()));
        text.push(':');
        write_sorted(&mut text, v);
        text.push(',');
    }
    text.push('}');
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Writes JSON with object keys sorted at every level, whatever map order serde_json was built
/// with, so the hash does not depend on the order fields were sent in.
fn write_sorted(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (k, v) in entries {
                write_sorted(out, &Value::String(k.clone()));
                out.push(':');
                write_sorted(out, v);
                out.push(',');
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for v in items {
                write_sorted(out, v);
                out.push(',');
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The notice id: the first 32 hex digits of SHA-256(procedure, table, content hash).
pub fn notice_id(procedure: &ProcedureKey, table: &str, content_hash: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        &procedure.platform,
        &procedure.project,
        &procedure.section,
        &table.to_owned(),
        &content_hash.to_owned(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())[..32].to_owned()
}

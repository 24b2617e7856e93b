//! The canonical notice: identity (procedure key, content hash), typed fields per table for the
//! rules, and the canonical JSON with personal fields marked so later stages can strip them.

use crate::ident::resident_id::is_resident_id;
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
    #[serde(rename = "OBJECTION")]
    Objection(Objection),
    #[serde(rename = "COMPLAINT_INFO")]
    Complaint(Complaint),
    /// A land, mining-right or state-owned property notice ([`Disposal`]): its rules read the
    /// canonical fields the catalogue names, so it carries only its table code.
    #[serde(untagged)]
    Disposal(Disposal),
}

/// The typed body of a notice of the land, mining and property blocks (`x-table` regime `land`,
/// `mining` or `property`): its table code, checked against the schemas when read back.
#[derive(Debug, Clone, Serialize)]
pub struct Disposal {
    /// The table code (`LAND_TRANS_ANN`, `DEAL_LAND_INFO`, `LISTING_PUB_INFO`, …).
    #[serde(rename = "TABLE")]
    pub table: String,
}

impl Disposal {
    /// The body of a record of `table`, when the schemas put that table in a disposal block.
    pub fn of(table: &str) -> Option<Disposal> {
        Schemas::embedded()
            .table(table)
            .and_then(|t| t.regime)
            .filter(|r| !r.is_procurement())
            .map(|_| Disposal {
                table: table.to_owned(),
            })
    }
}

impl<'de> Deserialize<'de> for Disposal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "TABLE")]
            table: String,
        }
        let raw = Raw::deserialize(d)?;
        // Only a disposal table reads as one: a works or procurement body that failed its own
        // variant must fail, not fall through to this one.
        Disposal::of(&raw.table).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{} is not a land, mining or property table",
                raw.table
            ))
        })
    }
}

impl NoticeBody {
    /// Reads the typed fields of a table's canonical record, borrowing it (no copy of the map).
    pub fn from_canonical(
        table: &str,
        canonical: &Map<String, Value>,
    ) -> Result<NoticeBody, serde_json::Error> {
        use serde::Deserialize as _;
        use serde::de::Error as _;
        let value = MapRef(canonical);
        Ok(match table {
            "TENDER_ANN_QUA_INQUERY_ANN" => {
                NoticeBody::WorksTender(WorksTender::deserialize(value)?)
            }
            "TENDER_FILE_CLARI_MODI" => {
                NoticeBody::WorksAmendment(WorksAmendment::deserialize(value)?)
            }
            "TENDER_CANDIDATE_ANNOUNCE" => {
                NoticeBody::WorksCandidates(WorksCandidates::deserialize(value)?)
            }
            "WIN_RESULT_ANNO" => NoticeBody::WorksAward(WorksAward::deserialize(value)?),
            "TENDER_TERMINATION" => {
                NoticeBody::WorksTermination(WorksTermination::deserialize(value)?)
            }
            "PURCHASE_QUALI_INQUERY_ANN" => {
                NoticeBody::ProcurementTender(ProcurementTender::deserialize(value)?)
            }
            "CORRECTION_ITEM" => {
                NoticeBody::ProcurementAmendment(ProcurementAmendment::deserialize(value)?)
            }
            "BID_DEAL_ANNOUNCE" => {
                NoticeBody::ProcurementResult(ProcurementResult::deserialize(value)?)
            }
            "OBJECTION" => NoticeBody::Objection(Objection::deserialize(value)?),
            "COMPLAINT_INFO" => NoticeBody::Complaint(Complaint::deserialize(value)?),
            other => match Disposal::of(other) {
                Some(d) => NoticeBody::Disposal(d),
                None => {
                    return Err(serde_json::Error::custom(format!(
                        "no typed model for table {other}"
                    )));
                }
            },
        })
    }
}

/// A borrowed JSON object as a serde deserializer.
impl NoticeBody {
    /// Empties every party code that is a 公民身份号码 ([`is_resident_id`]).
    pub fn withhold_personal_codes(&mut self) {
        let withhold = |code: &mut String| {
            if is_resident_id(code) {
                code.clear();
            }
        };
        match self {
            NoticeBody::WorksCandidates(c) => {
                for candidate in &mut c.tender_candidate {
                    withhold(&mut candidate.win_candidate_code);
                }
            }
            NoticeBody::WorksAward(a) => withhold(&mut a.win_bidder_code),
            NoticeBody::ProcurementResult(r) => withhold(&mut r.winningbidder_code),
            NoticeBody::WorksTender(_)
            | NoticeBody::WorksAmendment(_)
            | NoticeBody::WorksTermination(_)
            | NoticeBody::ProcurementTender(_)
            | NoticeBody::ProcurementAmendment(_)
            // Objections never leave the private store; their party codes are schema-private.
            | NoticeBody::Objection(_)
            | NoticeBody::Complaint(_)
            // Disposal bodies carry no party code; the public record is stripped by schema.
            | NoticeBody::Disposal(_) => {}
        }
    }
}

#[derive(Clone, Copy)]
struct MapRef<'a>(&'a Map<String, Value>);

impl<'de> serde::Deserializer<'de> for MapRef<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        use serde::de::IntoDeserializer as _;
        let iter = self.0.iter().map(|(k, v)| (k.as_str(), v));
        visitor.visit_map(serde::de::value::MapDeserializer::new(
            iter.map(|(k, v)| (k, v.into_deserializer())),
        ))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit unit_struct
        newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
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

/// 异议: raised by a bidder or interested party; answered when `REPLY_TIME` is recorded (a new
/// version of the record, same `OBJECTIONG_GUID`). Only the instants are typed: who raised it and
/// what it says stay in the private canonical record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct Objection {
    pub objectiong_guid: String,
    pub submit_time: Instant,
    pub reply_time: Option<Instant>,
}

/// 投诉: lodged with the supervising department; settled when `HANDLE_DATE` (处理时间) is recorded
/// (a new version of the record with the same `COMPLAINT_DATE`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub struct Complaint {
    pub complaint_date: Instant,
    pub handle_date: Option<Instant>,
}

/// One objection or complaint as its procedure holds it: what identifies it across versions, when
/// it was raised, and when it was answered (if it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    /// `OBJECTION:<OBJECTIONG_GUID>` or `COMPLAINT:<COMPLAINT_DATE>`.
    pub key: String,
    /// 提交时间 / 投诉日期.
    pub raised_at: Instant,
    /// 答复时间 / 处理时间.
    pub answered_at: Option<Instant>,
}

impl NoticeBody {
    /// Its table code.
    pub fn table(&self) -> &str {
        match self {
            NoticeBody::WorksTender(_) => "TENDER_ANN_QUA_INQUERY_ANN",
            NoticeBody::WorksAmendment(_) => "TENDER_FILE_CLARI_MODI",
            NoticeBody::WorksCandidates(_) => "TENDER_CANDIDATE_ANNOUNCE",
            NoticeBody::WorksAward(_) => "WIN_RESULT_ANNO",
            NoticeBody::WorksTermination(_) => "TENDER_TERMINATION",
            NoticeBody::ProcurementTender(_) => "PURCHASE_QUALI_INQUERY_ANN",
            NoticeBody::ProcurementAmendment(_) => "CORRECTION_ITEM",
            NoticeBody::ProcurementResult(_) => "BID_DEAL_ANNOUNCE",
            NoticeBody::Objection(_) => "OBJECTION",
            NoticeBody::Complaint(_) => "COMPLAINT_INFO",
            NoticeBody::Disposal(d) => &d.table,
        }
    }

    /// The objection or complaint this body records, if it is one.
    pub fn dispute(&self) -> Option<Dispute> {
        match self {
            NoticeBody::Objection(o) => Some(Dispute {
                key: format!("OBJECTION:{}", o.objectiong_guid),
                raised_at: o.submit_time,
                answered_at: o.reply_time,
            }),
            NoticeBody::Complaint(c) => Some(Dispute {
                key: format!("COMPLAINT:{}", c.complaint_date.to_rfc3339()),
                raised_at: c.complaint_date,
                answered_at: c.handle_date,
            }),
            _ => None,
        }
    }
}

/// Why a schema-valid canonical record could not become a typed notice (a defect in the mapping
/// between schema and model; tests run every valid example through it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(String);

/// A text field of a canonical record, by its code (none for `None`).
fn field_text<'a>(canonical: &'a Map<String, Value>, field: Option<&str>) -> Option<&'a str> {
    field.and_then(|f| canonical.get(f)).and_then(Value::as_str)
}

/// The procedures a canonical record names: (`PLATFORM_CODE`, its project code, each section
/// code), a section listed twice once. Empty when it names no section.
pub fn procedure_keys(table: &TableSpec, canonical: &Map<String, Value>) -> Vec<ProcedureKey> {
    let text = |field: Option<&str>| field_text(canonical, field).unwrap_or_default().to_owned();
    let platform = text(Some("PLATFORM_CODE"));
    let project = text(table.project_field.as_deref());
    let sections: Vec<String> = match table.sections_field.as_ref().and_then(|f| canonical.get(f)) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    // A section listed twice (`A;A`) is one procedure: the notice belongs to it once.
    let mut seen = std::collections::HashSet::new();
    sections
        .iter()
        .filter(|section| seen.insert(section.as_str()))
        .map(|section| ProcedureKey {
            platform: platform.clone(),
            project: project.clone(),
            section: section.clone(),
        })
        .collect()
}

/// What a record that did not become a notice says it is, as far as its fields could be read:
/// its title, first procedure and region (the operators' list names it by these). `None` when
/// none of them could be read.
pub fn subject_of(table: &TableSpec, canonical: &Map<String, Value>) -> Option<Value> {
    let text = |field: &Option<String>| {
        field_text(canonical, field.as_deref())
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    let title = text(&table.title_field);
    let procedure = procedure_keys(table, canonical)
        .first()
        .filter(|k| !k.platform.is_empty() && !k.project.is_empty())
        .map(ToString::to_string);
    let region = text(&table.region_field);
    (title.is_some() || procedure.is_some() || region.is_some())
        .then(|| serde_json::json!({"title": title, "procedure": procedure, "region": region}))
}

impl Notice {
    /// Builds the typed notice from a schema-valid canonical record of a notice table.
    pub fn from_canonical(
        table: &TableSpec,
        canonical: Map<String, Value>,
    ) -> Result<Notice, ModelError> {
        Self::try_from_canonical(table, canonical).map_err(|(e, _)| e)
    }

    /// [`Self::from_canonical`], handing the record back when it cannot be typed.
    pub fn try_from_canonical(
        table: &TableSpec,
        canonical: Map<String, Value>,
    ) -> Result<Notice, (ModelError, Map<String, Value>)> {
        let (Some(regime), Some(kind)) = (table.regime, table.kind) else {
            let e = ModelError(format!("{} is not a notice table", table.code));
            return Err((e, canonical));
        };
        let text =
            |field: &Option<String>| field_text(&canonical, field.as_deref()).map(str::to_owned);
        let procedures = procedure_keys(table, &canonical);
        let Some(procedure) = procedures.first().cloned() else {
            let e = ModelError(format!("{}: no section code", table.code));
            return Err((e, canonical));
        };
        let content_hash = content_hash(&canonical);
        let id = notice_id(&procedure, &table.code, &content_hash);
        let instant = |field: &Option<String>| {
            text(field).and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        };
        let body = match NoticeBody::from_canonical(&table.code, &canonical) {
            Ok(body) => body,
            Err(e) => return Err((ModelError(format!("{}: {e}", table.code)), canonical)),
        };
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

    /// The notice as it may leave validation: the public record, and the typed fields without a
    /// person's identity number (an empty code: the rules then match the party by name).
    pub fn public(&self, schemas: &Schemas) -> Notice {
        let mut public = self.clone();
        public.canonical = self.public_record(schemas);
        public.body.withhold_personal_codes();
        public
    }
}

/// Removes every field marked `x-personal`, and every party-code field holding a 公民身份号码
/// ([`is_resident_id`]), in sub-records too.
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
        .filter(|(k, v)| {
            spec.field(k).is_none_or(|f| {
                // Marked personal by the schema, or a party code that is a person's number.
                !(f.personal
                    || (f.ty == crate::schema::FieldType::PartyCode
                        && v.as_str().is_some_and(is_resident_id)))
            })
        })
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
    // The bytes are gathered first and hashed once: SHA-256 fed field by field cost more than
    // the hashing itself. The byte stream is unchanged (stored hashes and notice ids depend on it).
    let mut bytes = Vec::with_capacity(2048);
    let mut entries: Vec<_> = canonical
        .iter()
        .filter(|(k, _)| *k != "DATA_TIMESTAMP")
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    bytes.push(b'{');
    for (k, v) in entries {
        write_key(&mut bytes, k);
        write_sorted(&mut bytes, v);
    }
    bytes.push(b'}');
    lower_hex(&Sha256::digest(&bytes))
}

/// Lowercase hex of (at most) 32 bytes of a digest, written straight into its buffer (`hex::encode` goes
/// through a char iterator).
fn lower_hex(digest: &[u8]) -> String {
    let mut buf = [0u8; 64];
    let n = digest.len().min(32);
    // Cannot fail: the buffer holds two digits for each of the (at most 32) bytes.
    let _ = hex::encode_to_slice(&digest[..n], &mut buf[..2 * n]);
    String::from_utf8_lossy(&buf[..2 * n]).into_owned()
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    write_str(out, key);
    out.push(b':');
}

/// A string as serde_json writes it (compact), byte for byte: stored hashes depend on these
/// bytes. Text without a quote, a backslash or a control character, which is nearly all of it,
/// is copied as it stands; anything else goes through serde_json's own escaping.
fn write_str(out: &mut Vec<u8>, s: &str) {
    // A fold, not `any`: without the early exit the scan vectorises.
    let escape = s.bytes().fold(false, |acc, b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escape {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Writes JSON with object keys sorted at every level, whatever map order serde_json was built
/// with, so the hash does not depend on the order fields were sent in.
fn write_sorted(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (k, v) in entries {
                write_key(out, k);
                write_sorted(out, v);
                out.push(b',');
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for v in items {
                write_sorted(out, v);
                out.push(b',');
            }
            out.push(b']');
        }
        Value::String(s) => write_str(out, s),
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
    out.push(b',');
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
    lower_hex(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_exactly_as_serde_json_writes_them() {
        let cases = [
            "",
            "ZZ_PROJECT_CODE",
            "某某市第一中学教学楼工程",
            "引号\"和反斜杠\\",
            "换行\n回车\r制表\t",
            "\u{0}\u{1f}\u{7f}\u{2028}\u{fffd}",
            "/slash and 'single'",
        ];
        for case in cases {
            let mut ours = Vec::new();
            write_str(&mut ours, case);
            let theirs = serde_json::to_vec(case).expect("serialises");
            assert_eq!(ours, theirs, "{case:?}");
        }
        // Every single code point below 0x80, alone and amid text.
        for b in 0u8..0x80 {
            let case = format!("前{}后", char::from(b));
            let mut ours = Vec::new();
            write_str(&mut ours, &case);
            assert_eq!(
                ours,
                serde_json::to_vec(&case).expect("serialises"),
                "{b:#x}"
            );
        }
    }

    #[test]
    fn digests_are_lowercase_hex() {
        let digest = Sha256::digest(b"gongshi");
        assert_eq!(lower_hex(&digest), hex::encode(digest));
        assert_eq!(lower_hex(&digest[..16]), hex::encode(digest)[..32]);
    }
}

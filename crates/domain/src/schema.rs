//! The table schemas (`schemas/tables/*.schema.json`) as the single source of truth for each
//! table's fields: their Chinese labels, value types (the `common.schema.json` type a property
//! refers to), units, personal-data marks, and the compiled JSON Schema validator.

use crate::finding::{Finding, Severity, pointer_child};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::sync::OnceLock;

/// The schema files compiled into the binary: `(table code, file text)`. Adding a table is adding
/// its file here and under `schemas/tables/`.
const SCHEMA_FILES: &[(&str, &str)] = &[
    (
        "TENDER_ANN_QUA_INQUERY_ANN",
        include_str!("../../../schemas/tables/TENDER_ANN_QUA_INQUERY_ANN.schema.json"),
    ),
    (
        "TENDER_FILE_CLARI_MODI",
        include_str!("../../../schemas/tables/TENDER_FILE_CLARI_MODI.schema.json"),
    ),
    (
        "TENDER_CANDIDATE_ANNOUNCE",
        include_str!("../../../schemas/tables/TENDER_CANDIDATE_ANNOUNCE.schema.json"),
    ),
    (
        "TENDER_CANDIDATE",
        include_str!("../../../schemas/tables/TENDER_CANDIDATE.schema.json"),
    ),
    (
        "WIN_RESULT_ANNO",
        include_str!("../../../schemas/tables/WIN_RESULT_ANNO.schema.json"),
    ),
    (
        "TENDER_TERMINATION",
        include_str!("../../../schemas/tables/TENDER_TERMINATION.schema.json"),
    ),
    (
        "PURCHASE_QUALI_INQUERY_ANN",
        include_str!("../../../schemas/tables/PURCHASE_QUALI_INQUERY_ANN.schema.json"),
    ),
    (
        "CORRECTION_ITEM",
        include_str!("../../../schemas/tables/CORRECTION_ITEM.schema.json"),
    ),
    (
        "BID_DEAL_ANNOUNCE",
        include_str!("../../../schemas/tables/BID_DEAL_ANNOUNCE.schema.json"),
    ),
    // Objections and complaints: recorded into their procedure, never published.
    (
        "OBJECTION",
        include_str!("../../../schemas/tables/OBJECTION.schema.json"),
    ),
    (
        "COMPLAINT_INFO",
        include_str!("../../../schemas/tables/COMPLAINT_INFO.schema.json"),
    ),
    // Land (国有土地使用权出让), mining rights (矿业权出让), state-owned property (国有产权交易).
    (
        "LAND_TRANS_ANN",
        include_str!("../../../schemas/tables/LAND_TRANS_ANN.schema.json"),
    ),
    (
        "DEAL_LAND_INFO",
        include_str!("../../../schemas/tables/DEAL_LAND_INFO.schema.json"),
    ),
    (
        "MINING_BID_AUCTION_TRANS_ANN",
        include_str!("../../../schemas/tables/MINING_BID_AUCTION_TRANS_ANN.schema.json"),
    ),
    (
        "MINING_BID_AUC_TRANS_RES_ANN",
        include_str!("../../../schemas/tables/MINING_BID_AUC_TRANS_RES_ANN.schema.json"),
    ),
    (
        "MINING_TRANS_PUB_INFO",
        include_str!("../../../schemas/tables/MINING_TRANS_PUB_INFO.schema.json"),
    ),
    (
        "LISTING_PUB_INFO",
        include_str!("../../../schemas/tables/LISTING_PUB_INFO.schema.json"),
    ),
    (
        "STOCK_LISTING_PUB_INFO",
        include_str!("../../../schemas/tables/STOCK_LISTING_PUB_INFO.schema.json"),
    ),
    (
        "TRADE_RESULT_INFO",
        include_str!("../../../schemas/tables/TRADE_RESULT_INFO.schema.json"),
    ),
];

const COMMON: &str = include_str!("../../../schemas/tables/common.schema.json");
const BASE_URI: &str = "https://gongshi.invalid/schemas/tables/";

/// How a field's wire text becomes its canonical value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// Free text.
    Text,
    /// An identifier or code-table value.
    Code,
    /// A `;`/`,`-separated list of codes.
    CodeList,
    /// A party's code (USCC when 18 characters).
    PartyCode,
    /// A GB/T 2260 region code.
    Region,
    /// An instant; date-only means 00:00.
    DateTime,
    /// The end of a period; date-only means 24:00.
    DateTimeEnd,
    /// An amount, converted to 元 by its unit field.
    Amount,
    /// A unit field (元 / 万元).
    Unit,
    /// 0/1.
    Flag,
    /// A whole number.
    Integer,
    /// Nested sub-records of the named table.
    Records(String),
}

/// One field of a table.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// The field code.
    pub code: String,
    /// Its Chinese label (the schema's `title`).
    pub label: String,
    /// How its value is read.
    pub ty: FieldType,
    /// For amounts: the sibling unit field.
    pub unit_field: Option<String>,
    /// Personal data: never leaves the private store.
    pub personal: bool,
    /// A code table (under `codes/`) mapping codes to canonical names.
    pub code_table: Option<String>,
    /// The value assumed when the field is absent (schema `default`).
    pub default: Option<String>,
}

/// Which trading block (category) a table belongs to: the four blocks of the national data
/// standard (工程建设项目招标投标、政府采购、国有土地使用权和矿业权出让、国有产权交易), with land and
/// mining rights counted apart as the centres' reports count them. This enum is the one table of
/// categories: filters, facets, pages, feeds and the console report all list [`Regime::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    /// 工程建设项目招标投标.
    Works,
    /// 政府采购.
    Procurement,
    /// 国有土地使用权出让 (招标拍卖挂牌).
    Land,
    /// 矿业权出让.
    Mining,
    /// 国有产权交易 (企业产权/股权转让、实物资产转让、增资).
    Property,
}

/// The stage a notice stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// 招标公告 / 资格预审公告 / 采购公告.
    Tender,
    /// 澄清/修改 / 更正公告.
    Amendment,
    /// 中标候选人公示.
    Candidates,
    /// 中标结果公告 / 中标（成交）结果公告.
    Award,
    /// 终止/流标公告.
    Termination,
    /// 异议 / 投诉 (`OBJECTION`, `COMPLAINT_INFO`): recorded into its procedure, where an open one
    /// holds the next stage; never published itself (who raised it, and why, stay private). Not
    /// in [`Kind::ALL`], the kinds a notice filter may name.
    Objection,
}

impl Regime {
    /// Every regime, in the order filters list them.
    pub const ALL: [Regime; 5] = [
        Regime::Works,
        Regime::Procurement,
        Regime::Land,
        Regime::Mining,
        Regime::Property,
    ];

    /// Its name on the wire (`works`, `procurement`, `land`, `mining`, `property`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Regime::Works => "works",
            Regime::Procurement => "procurement",
            Regime::Land => "land",
            Regime::Mining => "mining",
            Regime::Property => "property",
        }
    }

    /// Whether its notices are purchases (procurement in the OCDS sense). Land, mining-right and
    /// state-owned property sales are disposals: the public body sells, bidders pay it, and
    /// OCDS (a standard for public contracting, i.e. buying) has no model for them, so they stay
    /// out of the OCDS export while having feeds, search and pages like every other block.
    pub const fn is_procurement(self) -> bool {
        matches!(self, Regime::Works | Regime::Procurement)
    }

    /// The regime of a wire name.
    pub fn parse(name: &str) -> Option<Regime> {
        Regime::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Its Chinese name, as the public pages show it (工程建设, 政府采购, 土地使用权, 矿业权, 国有产权).
    pub const fn zh(self) -> &'static str {
        match self {
            Regime::Works => "工程建设",
            Regime::Procurement => "政府采购",
            Regime::Land => "土地使用权",
            Regime::Mining => "矿业权",
            Regime::Property => "国有产权",
        }
    }
}

impl Kind {
    /// Every kind, in stage order.
    pub const ALL: [Kind; 5] = [
        Kind::Tender,
        Kind::Amendment,
        Kind::Candidates,
        Kind::Award,
        Kind::Termination,
    ];

    /// Its name on the wire (`tender`, `amendment`, `candidates`, `award`, `termination`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Tender => "tender",
            Kind::Amendment => "amendment",
            Kind::Candidates => "candidates",
            Kind::Award => "award",
            Kind::Termination => "termination",
            Kind::Objection => "objection",
        }
    }

    /// The kind of a wire name.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Its Chinese name, as the public pages and facets show it.
    pub const fn zh(self) -> &'static str {
        match self {
            Kind::Tender => "招标（采购）公告",
            Kind::Amendment => "澄清/更正公告",
            Kind::Candidates => "中标候选人公示",
            Kind::Award => "中标（成交）结果公告",
            Kind::Termination => "终止公告",
            Kind::Objection => "异议/投诉",
        }
    }
}

/// A table: its fields, its identity fields, and its compiled validator.
pub struct TableSpec {
    /// Table code.
    pub code: String,
    /// Chinese name of the notice.
    pub title: String,
    /// Regime (absent for sub-record tables).
    pub regime: Option<Regime>,
    /// Notice kind (absent for sub-record tables).
    pub kind: Option<Kind>,
    /// The project-code field.
    pub project_field: Option<String>,
    /// The section-code field (single or list).
    pub sections_field: Option<String>,
    /// The field holding the notice's publication instant.
    pub sent_at_field: Option<String>,
    /// Title field.
    pub title_field: Option<String>,
    /// Body field.
    pub body_field: Option<String>,
    /// Region field.
    pub region_field: Option<String>,
    /// What people look for first in a notice and which field holds it (`x-table` roles): the
    /// project's name, the buyer (招标人/采购人), the agency (代理机构), the amount (estimate,
    /// budget or award, in 元), the winner, the sub-records of the candidates.
    pub roles: Roles,
    /// Fields in schema order.
    fields: Vec<FieldSpec>,
    /// Position in `fields` by code (FxHash: codes are short, trusted keys looked up per field).
    by_code: FxHashMap<String, usize>,
    validator: Option<jsonschema::Validator>,
}

impl std::fmt::Debug for TableSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableSpec")
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl TableSpec {
    /// A field by code.
    pub fn field(&self, code: &str) -> Option<&FieldSpec> {
        self.position(code).and_then(|i| self.field_at(i))
    }

    /// A field's position in schema order (an index into [`Self::fields`], below
    /// [`Self::field_count`]).
    pub fn position(&self, code: &str) -> Option<usize> {
        self.by_code.get(code).copied()
    }

    /// The field at `position` in schema order.
    pub fn field_at(&self, position: usize) -> Option<&FieldSpec> {
        self.fields.get(position)
    }

    /// How many fields the table has.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// Fields in schema order.
    pub fn fields(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.iter()
    }

    /// `CODE 中文名` for messages; the code alone when unknown.
    pub fn labelled(&self, code: &str) -> String {
        match self.field(code) {
            Some(f) if !f.label.is_empty() => format!("{code} {}", f.label),
            _ => code.to_owned(),
        }
    }
}

/// The fields of a table that play the roles people read first (`x-table`: `project_name`,
/// `buyer`, `agency`, `amount`, `winner`, `candidates`); `None` where the table has no such field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    /// Project name (招标项目名称 / 采购项目名称).
    pub project_name: Option<String>,
    /// Buyer (招标人 / 采购人).
    pub buyer: Option<String>,
    /// Agency (招标代理机构 / 采购代理机构).
    pub agency: Option<String>,
    /// The amount a list of notices shows (合同估算价, 项目预算, 中标金额…), an amount field.
    pub amount: Option<String>,
    /// Winner (中标人 / 中标（成交）供应商).
    pub winner: Option<String>,
    /// The sub-records of the candidates (中标候选人).
    pub candidates: Option<String>,
}

/// Every table schema, loaded and compiled once.
#[derive(Debug)]
pub struct Schemas {
    tables: FxHashMap<String, TableSpec>,
}

/// Why the embedded schemas could not be loaded (a build defect, caught by tests).
#[derive(Debug, thiserror::Error)]
#[error("schema {file}: {message}")]
pub struct SchemaError {
    file: String,
    message: String,
}

impl Schemas {
    /// The embedded schemas, compiled on first use.
    pub fn embedded() -> &'static Schemas {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| match Schemas::load() {
            Ok(s) => s,
            // The schemas are compiled into the binary and loaded by every test: a failure here is
            // a defect of the build, not of input.
            Err(e) => panic!("embedded schemas are broken: {e}"),
        })
    }

    /// Loads and compiles the embedded schemas.
    pub fn load() -> Result<Schemas, SchemaError> {
        let err = |file: &str, message: String| SchemaError {
            file: file.to_owned(),
            message,
        };
        let common: Value =
            serde_json::from_str(COMMON).map_err(|e| err("common", e.to_string()))?;
        let mut documents = vec![(format!("{BASE_URI}common.schema.json"), common)];
        let mut parsed = Vec::new();
        for (code, text) in SCHEMA_FILES {
            let value: Value = serde_json::from_str(text).map_err(|e| err(code, e.to_string()))?;
            documents.push((format!("{BASE_URI}{code}.schema.json"), value.clone()));
            parsed.push((*code, value));
        }
        let mut registry = jsonschema::Registry::new();
        for (uri, doc) in &documents {
            registry = registry
                .add(uri.as_str(), doc.clone())
                .map_err(|e| err(uri, e.to_string()))?;
        }
        let registry = registry
            .prepare()
            .map_err(|e| err("registry", e.to_string()))?;
        let mut tables = FxHashMap::default();
        for (code, value) in parsed {
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .with_registry(&registry)
                .build(&value)
                .map_err(|e| err(code, e.to_string()))?;
            let mut spec = table_spec(code, &value).map_err(|m| err(code, m))?;
            spec.validator = Some(validator);
            tables.insert(code.to_owned(), spec);
        }
        Ok(Schemas { tables })
    }

    /// A table by code.
    pub fn table(&self, code: &str) -> Option<&TableSpec> {
        self.tables.get(code)
    }

    /// Table codes of top-level notice tables (those with a kind).
    pub fn notice_tables(&self) -> impl Iterator<Item = &TableSpec> {
        self.tables.values().filter(|t| t.kind.is_some())
    }

    /// Validates a canonical record against its table's schema; findings point at the failing
    /// field (for `required`, at the missing property itself).
    pub fn validate(&self, table: &TableSpec, instance: &Value) -> Vec<Finding> {
        let Some(validator) = &table.validator else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for error in validator.iter_errors(instance) {
            let base = error.instance_path().to_string();
            let keyword = error.kind().keyword().to_owned();
            let rule = format!("SCHEMA-{}", keyword.to_ascii_uppercase());
            match error.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    let path = pointer_child(&base, name);
                    let label = self.label_at(table, &path);
                    out.push(Finding::new(
                        rule,
                        Severity::Error,
                        path,
                        format!("缺少必填字段 {label} (required field missing; wire-format.md, 《公共资源交易平台系统数据规范》)"),
                    ));
                }
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    for name in unexpected {
                        out.push(Finding::new(
                            rule.clone(),
                            Severity::Error,
                            pointer_child(&base, name),
                            format!(
                                "{name} 不是 {} 的字段 (not a field of this table)",
                                table.code
                            ),
                        ));
                    }
                }
                _ => {
                    let label = self.label_at(table, &base);
                    out.push(Finding::new(
                        rule,
                        Severity::Error,
                        base,
                        format!("{label}: {} ({keyword})", error.masked()),
                    ));
                }
            }
        }
        out
    }

    /// `CODE 中文名` of the field a pointer names, looking into sub-record tables.
    pub fn label_at(&self, table: &TableSpec, pointer: &str) -> String {
        let mut current = table;
        let mut label = String::new();
        for segment in pointer.split('/').skip(1) {
            if segment.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            label = current.labelled(segment);
            if let Some(FieldType::Records(sub)) = current.field(segment).map(|f| &f.ty)
                && let Some(next) = self.tables.get(sub)
            {
                current = next;
            }
        }
        if label.is_empty() {
            format!("{} {}", table.code, table.title)
        } else {
            label
        }
    }
}

fn table_spec(code: &str, schema: &Value) -> Result<TableSpec, String> {
    let meta = schema.get("x-table").cloned().unwrap_or(Value::Null);
    let meta_str = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_owned);
    let regime = match meta_str("regime").as_deref() {
        None => None,
        Some(name) => Some(Regime::parse(name).ok_or_else(|| format!("unknown regime {name}"))?),
    };
    let kind = match meta_str("kind").as_deref() {
        None => None,
        Some(k) => Some(
            serde_json::from_value::<Kind>(Value::String(k.to_owned()))
                .map_err(|_| format!("unknown kind {k}"))?,
        ),
    };
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or("no properties")?;
    let mut fields: Vec<FieldSpec> = Vec::new();
    let mut by_code = FxHashMap::default();
    for (name, prop) in properties {
        if name == "TABLE" || name == "extra" {
            continue;
        }
        let ty = field_type(prop).ok_or_else(|| format!("property {name} has no known type"))?;
        by_code.insert(name.clone(), fields.len());
        fields.push(FieldSpec {
            code: name.clone(),
            label: str_of(prop, "title").unwrap_or_default(),
            ty,
            unit_field: str_of(prop, "x-unit-field"),
            personal: prop
                .get("x-personal")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            code_table: str_of(prop, "x-code-table"),
            default: str_of(prop, "default"),
        });
    }
    for f in &fields {
        if f.ty == FieldType::Amount
            && f.unit_field
                .as_ref()
                .is_none_or(|u| !by_code.contains_key(u))
        {
            return Err(format!(
                "amount {} names no unit field of this table",
                f.code
            ));
        }
    }
    for role in [
        "project_name",
        "buyer",
        "agency",
        "amount",
        "winner",
        "candidates",
    ] {
        if let Some(f) = meta_str(role)
            && !by_code.contains_key(&f)
        {
            return Err(format!(
                "x-table {role} names {f}, not a field of this table"
            ));
        }
    }
    Ok(TableSpec {
        code: code.to_owned(),
        title: schema
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        regime,
        kind,
        project_field: meta_str("project"),
        sections_field: meta_str("sections"),
        sent_at_field: meta_str("sent_at"),
        title_field: meta_str("title"),
        body_field: meta_str("body"),
        region_field: meta_str("region"),
        roles: Roles {
            project_name: meta_str("project_name"),
            buyer: meta_str("buyer"),
            agency: meta_str("agency"),
            amount: meta_str("amount"),
            winner: meta_str("winner"),
            candidates: meta_str("candidates"),
        },
        fields,
        by_code,
        validator: None,
    })
}

/// A string-valued keyword of a schema object.
fn str_of(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn field_type(prop: &Value) -> Option<FieldType> {
    if prop.get("type").and_then(Value::as_str) == Some("array")
        && let Some(r) = prop.pointer("/items/$ref").and_then(Value::as_str)
    {
        return Some(FieldType::Records(
            r.strip_suffix(".schema.json")?.to_owned(),
        ));
    }
    let reference = prop.get("$ref")?.as_str()?;
    let name = reference.strip_prefix("common.schema.json#/$defs/")?;
    Some(match name {
        "text" => FieldType::Text,
        "code" => FieldType::Code,
        "code_list" => FieldType::CodeList,
        "party_code" => FieldType::PartyCode,
        "region" => FieldType::Region,
        "datetime" => FieldType::DateTime,
        "datetime_end" => FieldType::DateTimeEnd,
        "amount" => FieldType::Amount,
        "unit" => FieldType::Unit,
        "flag" => FieldType::Flag,
        "integer" => FieldType::Integer,
        _ => return None,
    })
}

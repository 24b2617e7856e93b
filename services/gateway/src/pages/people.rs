//! A stored published notice as people read it: the facts a list of tenders shows first (project,
//! buyer, agency, amount, winner, region by name — which field plays which role is the schema's
//! `x-table`, [`Roles`](gongshi_domain::schema::Roles)), every public field with its Chinese
//! label and its value shown for people, and its legal clocks (the domain's
//! [`clocks`](gongshi_domain::period::clocks)). Shared by the notice, procedure and search pages
//! and by `/v1/search`'s hits.

use super::format;
use chrono::{DateTime, Utc};
use gongshi_domain::period::{Clock, Engine};
use gongshi_domain::schema::{FieldSpec, FieldType, TableSpec};
use gongshi_domain::values::datetime::{DateOnly, parse};
use gongshi_domain::{Regime, Schemas};
use gongshi_platform::store::notices::PublicNotice;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::str::FromStr;

/// A label and a value shown for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// Chinese label (the schema's field title, or a role's name).
    pub label: String,
    /// The value for people.
    pub value: String,
}

/// The notice's table, when the schemas know it.
pub(crate) fn table_of(n: &PublicNotice) -> Option<&'static TableSpec> {
    Schemas::embedded().table(&n.table)
}

/// The notice's public canonical record.
pub(crate) fn record_of(n: &PublicNotice) -> Map<String, Value> {
    n.notice["canonical"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// The notice's regime (works unless its table says procurement).
pub(crate) fn regime_of(n: &PublicNotice) -> Regime {
    table_of(n).and_then(|t| t.regime).unwrap_or(Regime::Works)
}

/// The notice's region code (its own, else its procedure's, as published).
pub(crate) fn region_code(n: &PublicNotice) -> Option<String> {
    n.notice["region"]
        .as_str()
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}

/// The notice's legal clocks at `now` (the domain's sentences, rules and basis).
pub(crate) fn clocks_of(n: &PublicNotice, now: DateTime<Utc>) -> Vec<Clock> {
    let region = region_code(n);
    gongshi_domain::period::clocks(
        &Engine::embedded(),
        &crate::views::windows_of(n),
        &n.table,
        &record_of(n),
        region.as_deref(),
        regime_of(n),
        now,
    )
}

/// The deadline a bidder watches next: the earliest closing of a window not yet over.
pub(crate) fn next_deadline(clocks: &[Clock]) -> Option<&Clock> {
    clocks
        .iter()
        .filter(|c| !matches!(c.standing, gongshi_domain::period::Standing::Over))
        .min_by_key(|c| c.end)
}

/// A value of field `spec` as people read it: amounts in 元 and 万元, instants in Beijing time
/// (an end at 00:00 as 24:00 of the day before), regions by name, flags as 是/否, code lists
/// joined. `None` for values not worth a line (units: amounts are already in 元; sub-records).
pub(crate) fn show(spec: Option<&FieldSpec>, value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            return Some(
                items
                    .iter()
                    .filter_map(|v| show(spec, v))
                    .collect::<Vec<_>>()
                    .join("；"),
            );
        }
        Value::Object(_) => return None,
        other => other.to_string(),
    };
    let Some(spec) = spec else {
        return Some(text);
    };
    Some(match spec.ty {
        FieldType::Amount => match Decimal::from_str(&text) {
            Ok(d) => format::yuan(d),
            Err(_) => text,
        },
        FieldType::DateTime => match parse(&text, DateOnly::StartOfDay) {
            Ok(at) => format::beijing(at.with_timezone(&Utc)),
            Err(_) => text,
        },
        FieldType::DateTimeEnd => match parse(&text, DateOnly::EndOfDay) {
            Ok(at) => gongshi_domain::period::clocks::show_end(&at),
            Err(_) => text,
        },
        FieldType::Region => format::region(&text),
        FieldType::Flag => match text.as_str() {
            "1" => "是".into(),
            "0" => "否".into(),
            _ => text,
        },
        FieldType::Unit | FieldType::Records(_) => return None,
        _ => text,
    })
}

/// The record's public fields in schema order, labelled, for the "全部字段" table: every field
/// but the title, the body and the sub-records (shown on their own).
pub(crate) fn facts(table: &TableSpec, record: &Map<String, Value>) -> Vec<Fact> {
    table
        .fields()
        .filter(|f| {
            Some(&f.code) != table.title_field.as_ref()
                && Some(&f.code) != table.body_field.as_ref()
        })
        .filter_map(|f| {
            let value = show(Some(f), record.get(&f.code)?)?;
            (!value.trim().is_empty()).then(|| Fact {
                label: f.label.clone(),
                value,
            })
        })
        .collect()
}

/// A sub-record table (the candidates) as column labels and rows, with only the columns some row
/// fills.
pub(crate) fn sub_records(
    table: &TableSpec,
    field: &str,
    record: &Map<String, Value>,
) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let FieldType::Records(sub) = &table.field(field)?.ty else {
        return None;
    };
    let sub = Schemas::embedded().table(sub)?;
    let items: Vec<&Map<String, Value>> = record
        .get(field)?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .collect();
    // Codes that repeat the parent's identity (project, section) say nothing here.
    let skip = [
        "TENDER_PROJECT_CODE",
        "BID_SECTION_CODE",
        "UNIFIED_DEAL_CODE",
    ];
    let columns: Vec<&FieldSpec> = sub
        .fields()
        .filter(|f| !skip.contains(&f.code.as_str()) && !f.code.ends_with("PLAT_CODE"))
        .filter(|f| {
            items
                .iter()
                .any(|i| i.get(&f.code).and_then(|v| show(Some(f), v)).is_some())
        })
        .collect();
    let rows = items
        .iter()
        .map(|i| {
            columns
                .iter()
                .map(|f| {
                    i.get(&f.code)
                        .and_then(|v| show(Some(f), v))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    Some((columns.iter().map(|f| f.label.clone()).collect(), rows))
}

/// What a list of tenders shows first about a notice.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Summary {
    /// Platform code.
    pub platform: String,
    /// Project code (项目编号).
    pub project: String,
    /// Section code (标段编号).
    pub section: String,
    /// Project name, from the notice or its procedure's tender.
    pub project_name: Option<Fact>,
    /// Buyer (招标人/采购人), from the notice or its tender.
    pub buyer: Option<Fact>,
    /// Agency (代理机构), from the notice or its tender.
    pub agency: Option<Fact>,
    /// The amount in 元 (exact decimal text) and its label.
    pub amount: Option<(String, Decimal)>,
    /// Winner.
    pub winner: Option<Fact>,
    /// GB/T 2260 code.
    pub region: Option<String>,
    /// The region by name.
    pub region_name: Option<String>,
}

/// The role field `field` of `n`'s record as a fact with its label.
fn role(n: &PublicNotice, field: Option<&String>) -> Option<Fact> {
    let table = table_of(n)?;
    let field = field?;
    let value = n.notice["canonical"][field.as_str()].as_str()?.trim();
    (!value.is_empty()).then(|| Fact {
        label: table
            .field(field)
            .map_or_else(|| field.clone(), |f| f.label.clone()),
        value: value.to_owned(),
    })
}

/// The summary of `n`; `tender` is its procedure's tender, which holds the project's name and
/// buyer when a later stage's notice does not.
pub(crate) fn summary(n: &PublicNotice, tender: Option<&PublicNotice>) -> Summary {
    let key = |k: &str| {
        n.notice["procedure"][k]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let roles = table_of(n).map(|t| t.roles.clone()).unwrap_or_default();
    let tender_roles = tender
        .and_then(table_of)
        .map(|t| t.roles.clone())
        .unwrap_or_default();
    let from_either = |own: Option<&String>, theirs: Option<&String>| {
        role(n, own).or_else(|| tender.and_then(|t| role(t, theirs)))
    };
    let amount = role(n, roles.amount.as_ref()).and_then(|f| {
        Decimal::from_str(&f.value)
            .ok()
            .map(|d| (f.label.clone(), d))
    });
    // A notice without its own REGION_CODE (an amendment, an award) is in its tender's region,
    // as enforce files it.
    let region = region_code(n).or_else(|| tender.and_then(region_code));
    Summary {
        platform: key("platform"),
        project: key("project"),
        section: key("section"),
        project_name: from_either(
            roles.project_name.as_ref(),
            tender_roles.project_name.as_ref(),
        ),
        buyer: from_either(roles.buyer.as_ref(), tender_roles.buyer.as_ref()),
        agency: from_either(roles.agency.as_ref(), tender_roles.agency.as_ref()),
        amount,
        winner: role(n, roles.winner.as_ref()),
        region_name: region.as_deref().map(format::region),
        region,
    }
}

/// A change's value as people read it (the field's type decides), `—` when not given.
pub(crate) fn show_change(table: Option<&TableSpec>, field: &str, value: Option<&Value>) -> String {
    // A sub-record's field is `TABLE[n].FIELD`: its type is the sub-table's.
    let spec = match field.split_once('.') {
        Some((sub, f)) => sub
            .split_once('[')
            .and_then(|(t, _)| Schemas::embedded().table(t))
            .and_then(|t| t.field(f)),
        None => table.and_then(|t| t.field(field)),
    };
    value
        .and_then(|v| show(spec, v))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "—".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_shown_for_people_by_their_type() {
        let t = Schemas::embedded()
            .table("TENDER_ANN_QUA_INQUERY_ANN")
            .expect("table");
        let f = |c: &str| t.field(c);
        assert_eq!(
            show(f("CONTRACT_RECKON_PRICE"), &json!("11531700")).as_deref(),
            Some("11,531,700.00 元（1,153.17 万元）")
        );
        assert_eq!(
            show(
                f("BID_DOC_REFER_END_TIME"),
                &json!("2025-03-25T09:30:00+08:00")
            )
            .as_deref(),
            Some("2025-03-25 09:30")
        );
        assert_eq!(
            show(f("DOC_GET_END_TIME"), &json!("2025-03-11T00:00:00+08:00")).as_deref(),
            Some("2025-03-10 24:00")
        );
        assert_eq!(
            show(f("REGION_CODE"), &json!("320300")).as_deref(),
            Some("江苏省 徐州市")
        );
        assert_eq!(show(f("PRICE_UNIT"), &json!("元")), None);
        assert_eq!(show(f("IS_TO_LAW"), &json!("1")).as_deref(), Some("是"));
        assert_eq!(
            show_change(Some(t), "BID_DOC_REFER_END_TIME", None),
            "—".to_owned()
        );
    }
}

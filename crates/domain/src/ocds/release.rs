//! One notice → its OCDS releases (one per procedure it belongs to).

use super::ocid;
use super::parties::{Parties, party_id};
use crate::diff::amendment_effects;
use crate::notice::ProcedureKey;
use crate::period::Window;
use crate::schema::{Kind, Regime, Schemas};
use crate::values::datetime;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A published notice, as the mapping needs it.
#[derive(Debug, Clone, Copy)]
pub struct PublishedNotice<'a> {
    /// Notice id (the release id).
    pub notice_id: &'a str,
    /// Table code.
    pub table: &'a str,
    /// Kind.
    pub kind: Kind,
    /// Regime.
    pub regime: Regime,
    /// Every procedure it belongs to (one release each).
    pub procedures: &'a [ProcedureKey],
    /// Title.
    pub title: &'a str,
    /// Public canonical record (no personal fields).
    pub record: &'a Map<String, Value>,
    /// Its legal windows.
    pub windows: &'a BTreeMap<String, Window>,
    /// When gongshi published it (documents' `datePublished`).
    pub published_at: DateTime<Utc>,
    /// The release `date`: `published_at` made strictly increasing within the procedure by
    /// [`super::release_dates`] (pass `published_at` when there is nothing to order it against).
    pub date: DateTime<Utc>,
    /// Its version in its stage's chain (1 = first; see [`crate::diff::chains`]).
    pub version: usize,
}

fn text<'r>(record: &'r Map<String, Value>, field: &str) -> Option<&'r str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `{amount, currency}` from a canonical amount (元) and its currency field.
fn value(record: &Map<String, Value>, amount: &str, currency: &str) -> Option<Value> {
    let n = text(record, amount)?
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())?;
    let currency = match text(record, currency) {
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => c,
        // 156 is the numeric ISO 4217 code of the yuan; the platforms send it or nothing.
        _ => "CNY",
    };
    Some(json!({"amount": n, "currency": currency}))
}

fn period(window: Option<&Window>) -> Option<Value> {
    window.map(|w| {
        json!({"startDate": datetime::canonical(&w.start), "endDate": datetime::canonical(&w.end)})
    })
}

/// A document for the notice's source page, when it has a plain http(s) URL.
fn document(n: &PublishedNotice<'_>, document_type: &str) -> Option<Value> {
    let url = text(n.record, "URL")?;
    let plain = (url.starts_with("http://") || url.starts_with("https://"))
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    plain.then(|| {
        json!({"id": n.notice_id, "documentType": document_type, "title": n.title, "url": url,
               "datePublished": datetime::canonical(&n.published_at.with_timezone(&datetime::shanghai()))})
    })
}

/// How the procedure was run, in the closed OCDS method codelist (absent when it has no
/// counterpart) and in Chinese.
fn method(n: &PublishedNotice<'_>) -> (Option<&'static str>, Option<String>) {
    match n.table {
        "TENDER_ANN_QUA_INQUERY_ANN" => match text(n.record, "BULLETIN_TYPE") {
            Some("2") => (Some("selective"), Some("资格预审".into())),
            _ => (Some("open"), Some("公开招标".into())),
        },
        "PURCHASE_QUALI_INQUERY_ANN" => {
            let name = text(n.record, "PURCHASER_MODE").map(str::to_owned);
            let code = match name.as_deref() {
                Some("公开招标") => Some("open"),
                Some("邀请招标") => Some("selective"),
                Some("单一来源") => Some("direct"),
                // 竞争性谈判/磋商, 询价, 框架协议: no one-to-one OCDS method; the details say it.
                _ => None,
            };
            (code, name)
        }
        _ => (None, None),
    }
}

/// One candidate of a publicity: rank, name, code, bid price.
struct Candidate<'r> {
    rank: u32,
    name: &'r str,
    code: Option<&'r str>,
    price: Option<Value>,
}

fn candidates<'r>(record: &'r Map<String, Value>, section: &str) -> Vec<Candidate<'r>> {
    let rows: Vec<&Map<String, Value>> = record
        .get("TENDER_CANDIDATE")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|row| text(row, "BID_SECTION_CODE").is_none_or(|s| s == section))
        .collect();
    let mut out: Vec<Candidate<'r>> = if rows.is_empty() {
        ["FIRST", "SECOND", "THIRD"]
            .iter()
            .zip(1..)
            .filter_map(|(which, rank)| {
                Some(Candidate {
                    rank,
                    name: text(record, &format!("{which}_BIDDER_NAME"))?,
                    code: text(record, &format!("{which}_BIDDER_CODE")),
                    price: None,
                })
            })
            .collect()
    } else {
        rows.iter()
            .zip(1..)
            .filter_map(|(row, position)| {
                Some(Candidate {
                    rank: text(row, "WIN_CANDIDATE_ORDER")
                        .and_then(|r| r.parse().ok())
                        .unwrap_or(position),
                    name: text(row, "WIN_CANDIDATE_NAME")?,
                    code: text(row, "WIN_CANDIDATE_CODE"),
                    price: value(row, "BID_PRICE", "PRICE_CURRENCY")
                        .or_else(|| value(row, "WIN_PRICE", "PRICE_CURRENCY")),
                })
            })
            .collect()
    };
    out.sort_by_key(|c| c.rank);
    out
}

/// The award of a procedure: one per section, the same id from publicity to result so that a
/// compiled release shows it move from `pending` to `active`.
fn award_id(key: &ProcedureKey) -> String {
    format!("{}-award", key.section)
}

/// The releases of one published notice: one per procedure (section) it belongs to; none for a
/// land, mining-right or state-owned property notice ([`Regime::is_procurement`]): those are
/// disposals (the public body sells and is paid), which OCDS, a standard for public
/// procurement, does not model; a buyer/supplier mapping would misstate who pays whom.
pub fn releases(prefix: &str, n: &PublishedNotice<'_>) -> Vec<Value> {
    if !n.regime.is_procurement() {
        return Vec::new();
    }
    n.procedures
        .iter()
        .map(|key| release(prefix, n, key))
        .collect()
}

fn release(prefix: &str, n: &PublishedNotice<'_>, key: &ProcedureKey) -> Value {
    let r = n.record;
    let mut parties = Parties::default();
    let mut tender = Map::new();
    tender.insert("id".into(), json!(key.section));
    let mut out = json!({
        "ocid": ocid(prefix, key),
        "id": n.notice_id,
        "date": super::date_text(&n.date),
        "initiationType": "tender",
        "language": "zh",
    });
    let first = n.version <= 1;
    let tag = match n.kind {
        Kind::Tender if first => "tender",
        Kind::Tender => "tenderUpdate",
        Kind::Amendment => "tenderAmendment",
        Kind::Candidates | Kind::Award if first => "award",
        Kind::Candidates | Kind::Award => "awardUpdate",
        Kind::Termination => "tenderCancellation",
        // Never published, so never exported.
        Kind::Objection => "tenderUpdate",
    };
    out["tag"] = json!([tag]);
    if n.regime == Regime::Works {
        tender.insert("mainProcurementCategory".into(), json!("works"));
    }
    match n.kind {
        Kind::Tender => {
            tender.insert(
                "title".into(),
                json!(
                    text(r, "TENDER_PROJECT_NAME")
                        .or(text(r, "PURCHASE_PROJECT_NAME"))
                        .unwrap_or(n.title)
                ),
            );
            tender.insert("status".into(), json!("active"));
            let (buyer, agency) = match n.regime {
                Regime::Works => (
                    parties.add(text(r, "TENDERER_NAME"), text(r, "TENDERER_CODE"), "buyer"),
                    parties.add(
                        text(r, "TENDER_AGENCY_NAME"),
                        text(r, "TENDER_AGENCY_CODE"),
                        "procuringEntity",
                    ),
                ),
                Regime::Procurement => {
                    (parties.add(text(r, "PURCHASER_NAME"), None, "buyer"), None)
                }
                // Disposals never reach here (see `releases`).
                Regime::Land | Regime::Mining | Regime::Property => (None, None),
            };
            // Without an agency the buyer runs the procedure itself.
            let procuring = agency.or_else(|| {
                buyer.as_ref().and_then(|b| {
                    parties.add(b["name"].as_str(), code_of(r, n.regime), "procuringEntity")
                })
            });
            if let Some(b) = buyer {
                out["buyer"] = b;
            }
            if let Some(p) = procuring {
                tender.insert("procuringEntity".into(), p);
            }
            if let Some(v) = value(r, "CONTRACT_RECKON_PRICE", "CURRENCY_CODE")
                .or_else(|| value(r, "PROGRAM_BUDGET", "CURRENCY_CODE"))
            {
                tender.insert("value".into(), v);
            }
            let (code, details) = method(n);
            if let Some(code) = code {
                tender.insert("procurementMethod".into(), json!(code));
            }
            if let Some(details) = details {
                tender.insert("procurementMethodDetails".into(), json!(details));
            }
            let deadline = text(r, "BID_DOC_REFER_END_TIME").or(text(r, "BID_CLOSING_TIME"));
            let tender_period = period(n.windows.get("bid")).or_else(|| {
                deadline.map(|d| {
                    let mut p = json!({"endDate": d});
                    if let Some(s) = text(r, "NOTICE_SEND_TIME").or(text(r, "BULLETIN_START_TIME"))
                    {
                        p["startDate"] = json!(s);
                    }
                    p
                })
            });
            if let Some(p) = tender_period {
                tender.insert("tenderPeriod".into(), p);
            }
            if let Some(d) = document(n, "tenderNotice") {
                tender.insert("documents".into(), json!([d]));
            }
        }
        Kind::Amendment => {
            let effects = amendment_effects(Schemas::embedded(), n.table, None, r);
            let new_deadline = effects
                .get("BID_DOC_REFER_END_TIME")
                .or_else(|| effects.get("BID_CLOSING_TIME"))
                .map(|(_, v)| v.clone());
            if let Some(end) = new_deadline {
                tender.insert("tenderPeriod".into(), json!({"endDate": end}));
            }
            let date = text(r, "SUBMIT_TIME").or(text(r, "MODIFICATION_START_TIME"));
            let description =
                text(r, "CLARIFY_CONTENT").or(text(r, "TERMINATION_BULLETIN_CONTENT"));
            let mut amendment = json!({"id": n.notice_id, "rationale": n.title});
            if let Some(d) = date {
                amendment["date"] = json!(d);
            }
            if let Some(d) = description {
                amendment["description"] = json!(d);
            }
            tender.insert("amendments".into(), json!([amendment]));
            if let Some(d) = document(n, "clarifications") {
                tender.insert("documents".into(), json!([d]));
            }
        }
        Kind::Candidates => {
            if let Some(p) = period(n.windows.get("publicity")) {
                tender.insert("awardPeriod".into(), p);
            }
            let list = candidates(r, &key.section);
            let mut bids = Vec::new();
            let mut first_bid = None;
            for c in &list {
                let Some(reference) = parties.add(Some(c.name), c.code, "tenderer") else {
                    continue;
                };
                let id = format!("bid-{}", party_id(c.name, c.code));
                let mut bid =
                    json!({"id": id, "status": "valid", "tenderers": [reference], "rank": c.rank});
                if let Some(v) = &c.price {
                    bid["value"] = v.clone();
                }
                if first_bid.is_none() {
                    first_bid = Some((id, reference, c.price.clone()));
                }
                bids.push(bid);
            }
            let mut award = json!({"id": award_id(key), "status": "pending", "title": n.title});
            if let Some(start) = text(r, "PUBLICITY_START_TIME") {
                award["date"] = json!(start);
            }
            if let Some((bid_id, supplier, price)) = first_bid {
                award["relatedBid"] = json!(bid_id);
                award["suppliers"] = json!([supplier]);
                if let Some(v) = price {
                    award["value"] = v;
                }
            }
            if let Some(d) = document(n, "awardNotice") {
                award["documents"] = json!([d]);
            }
            out["awards"] = json!([award]);
            if !bids.is_empty() {
                out["bids"] = json!({"details": bids});
            }
        }
        Kind::Award => {
            tender.insert("status".into(), json!("complete"));
            let (name, code, amount, currency, date, agency) = match n.regime {
                Regime::Works => (
                    "WIN_BIDDER_NAME",
                    "WIN_BIDDER_CODE",
                    "BID_AMOUNT",
                    "BID_CURRENCY",
                    text(r, "NOTICE_SEND_TIME"),
                    ("TENDER_AGENCY_NAME", "TENDER_AGENCY_CODE"),
                ),
                Regime::Procurement | Regime::Land | Regime::Mining | Regime::Property => (
                    "WINNINGBIDDER_NAME",
                    "WINNINGBIDDER_CODE",
                    "WIN_BID_PRICE",
                    "CURRENCY_CODE",
                    text(r, "SUPPLIER_DETERMINED_TIME").or(text(r, "WIN_BID_BULLETIN_START_TIME")),
                    ("PURCHASER_AGENCY_NAME", "PURCHASER_AGENCY_CODE"),
                ),
            };
            if let Some(p) = parties.add(text(r, agency.0), text(r, agency.1), "procuringEntity") {
                tender.insert("procuringEntity".into(), p);
            }
            let mut award = json!({"id": award_id(key), "status": "active", "title": n.title});
            if let Some(d) = date {
                award["date"] = json!(d);
            }
            if let Some(s) = parties.add(text(r, name), text(r, code), "supplier") {
                parties.add(text(r, name), text(r, code), "tenderer");
                award["suppliers"] = json!([s]);
            }
            if let Some(v) = value(r, amount, currency) {
                award["value"] = v;
            }
            if let Some(d) = document(n, "awardNotice") {
                award["documents"] = json!([d]);
            }
            out["awards"] = json!([award]);
        }
        // Recorded only, never published: nothing to map.
        Kind::Objection => {}
        Kind::Termination => {
            let reason = text(r, "REASON");
            let failed = [Some(n.title), reason]
                .iter()
                .flatten()
                .any(|t| t.contains("流标"));
            tender.insert(
                "status".into(),
                json!(if failed { "unsuccessful" } else { "cancelled" }),
            );
            if let Some(reason) = reason {
                tender.insert("description".into(), json!(reason));
            }
            if let Some(d) = document(n, "tenderNotice") {
                tender.insert("documents".into(), json!([d]));
            }
        }
    }
    out["tender"] = Value::Object(tender);
    if !parties.is_empty() {
        out["parties"] = parties.into_json();
    }
    out
}

/// The buyer's code, where the table has one.
fn code_of(record: &Map<String, Value>, regime: Regime) -> Option<&str> {
    match regime {
        Regime::Works => text(record, "TENDERER_CODE"),
        Regime::Procurement | Regime::Land | Regime::Mining | Regime::Property => None,
    }
}

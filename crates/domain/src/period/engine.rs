//! Judging a notice: every applicable rule of the catalogue, in the notice's region, then one
//! outcome — reject (an ERROR finding) before park (parent unknown) before hold (a future instant)
//! before publish.

use super::checks::{self, Ctx};
use super::{Calendar, ProcedureState, Window};
use crate::finding::{Finding, Severity};
use crate::notice::{Notice, NoticeBody};
use crate::rules::{Catalogue, RuleDef};
use crate::schema::{Kind, Schemas};
use crate::values::datetime::Instant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What happens to a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Publish now.
    Publish,
    /// Publish by itself at `hold_until`.
    Hold,
    /// Parked (`awaiting_parent`): re-judged when the parent stage arrives.
    Park,
    /// An ERROR rule failed: shown to operators with evidence; not published.
    Reject,
    /// Not a valid record (parse, schema or identifier failure).
    Invalid,
}

impl Outcome {
    /// The lowercase name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Publish => "publish",
            Outcome::Hold => "hold",
            Outcome::Park => "park",
            Outcome::Reject => "reject",
            Outcome::Invalid => "invalid",
        }
    }
}

/// The engine's decision on one notice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// The outcome.
    pub outcome: Outcome,
    /// For `hold`: when it publishes itself.
    pub hold_until: Option<Instant>,
    /// For `park`: the stage it waits for.
    pub awaiting: Option<Kind>,
    /// Findings of the period and publication rules.
    pub findings: Vec<Finding>,
    /// Legal windows by name.
    pub windows: BTreeMap<String, Window>,
}

/// The period engine over a catalogue, a calendar and the table schemas.
#[derive(Debug, Clone, Copy)]
pub struct Engine<'a> {
    /// Rules (with regional overrides).
    pub catalogue: &'a Catalogue,
    /// Working-day calendar.
    pub calendar: &'a Calendar,
    /// Table schemas (field labels and defaults).
    pub schemas: &'a Schemas,
}

impl Engine<'static> {
    /// The engine over the compiled-in catalogue, calendar and schemas.
    pub fn embedded() -> Engine<'static> {
        Engine {
            catalogue: Catalogue::embedded(),
            calendar: Calendar::embedded(),
            schemas: Schemas::embedded(),
        }
    }
}

impl Engine<'_> {
    /// Judges `notice` given the known state of each of its procedures, at `now`.
    pub fn judge(&self, notice: &Notice, procedures: &[&ProcedureState], now: Instant) -> Verdict {
        let region = notice.region.clone().or_else(|| {
            procedures
                .iter()
                .find_map(|p| p.region().map(str::to_owned))
        });
        let mut ctx = Ctx {
            engine: *self,
            notice,
            procedures,
            now,
            region: region.as_deref(),
            findings: Vec::new(),
            windows: base_windows(&notice.body),
            hold_until: None,
            awaiting: None,
        };
        for rule in self.catalogue.rules() {
            let Some(check) = rule.check.as_deref() else {
                continue;
            };
            if !self.applies(rule, notice) {
                continue;
            }
            let Some(effective) = self.catalogue.effective(&rule.id, ctx.region) else {
                continue;
            };
            checks::run(check, &effective, &mut ctx);
        }
        let outcome = if ctx.findings.iter().any(|f| f.severity == Severity::Error) {
            Outcome::Reject
        } else if ctx.awaiting.is_some() {
            Outcome::Park
        } else if ctx.hold_until.is_some_and(|h| h > now) {
            Outcome::Hold
        } else {
            Outcome::Publish
        };
        Verdict {
            outcome,
            hold_until: if outcome == Outcome::Hold {
                ctx.hold_until
            } else {
                None
            },
            awaiting: if outcome == Outcome::Park {
                ctx.awaiting
            } else {
                None
            },
            findings: ctx.findings,
            windows: ctx.windows,
        }
    }

    /// Whether a rule applies to a notice: its table, and the `when` field values (schema
    /// defaults standing in for absent fields).
    fn applies(&self, rule: &RuleDef, notice: &Notice) -> bool {
        self.applies_to(rule, &notice.table, &notice.canonical)
    }

    /// Whether a rule applies to a record of table `table` with canonical fields `record` (the
    /// same test as judging: the pages ask it of a stored notice to name the rules behind its
    /// windows).
    pub fn applies_to(
        &self,
        rule: &RuleDef,
        table: &str,
        record: &serde_json::Map<String, serde_json::Value>,
    ) -> bool {
        if !rule.tables.is_empty() && !rule.tables.iter().any(|t| t == table) {
            return false;
        }
        let table = self.schemas.table(table);
        rule.when.iter().all(|(field, expected)| {
            let actual = record
                .get(field)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    table
                        .and_then(|t| t.field(field))
                        .and_then(|f| f.default.clone())
                });
            let Some(actual) = actual else { return false };
            match expected {
                toml::Value::String(s) => *s == actual,
                toml::Value::Array(items) => {
                    items.iter().any(|v| v.as_str() == Some(actual.as_str()))
                }
                _ => false,
            }
        })
    }
}

/// Windows read straight from a notice's own fields.
fn base_windows(body: &NoticeBody) -> BTreeMap<String, Window> {
    let mut w = BTreeMap::new();
    let mut put = |name: &str, start: Option<Instant>, end: Option<Instant>| {
        if let (Some(start), Some(end)) = (start, end) {
            w.insert(name.to_owned(), Window { start, end });
        }
    };
    match body {
        NoticeBody::WorksTender(t) => {
            put(
                "documents",
                Some(t.doc_get_start_time),
                Some(t.doc_get_end_time),
            );
            put(
                "bid",
                Some(t.doc_get_start_time),
                Some(t.bid_doc_refer_end_time),
            );
        }
        NoticeBody::WorksAmendment(a) => put("bid", Some(a.submit_time), a.bid_doc_refer_end_time),
        NoticeBody::WorksCandidates(c) => put(
            "publicity",
            Some(c.publicity_start_time),
            Some(c.publicity_end_time),
        ),
        NoticeBody::ProcurementTender(t) => {
            put("documents", t.doc_get_start_time, t.doc_get_end_time);
            put(
                "bid",
                Some(t.doc_get_start_time.unwrap_or(t.bulletin_start_time)),
                Some(t.bid_closing_time),
            );
            put(
                "announcement",
                Some(t.bulletin_start_time),
                t.bulletin_end_time,
            );
        }
        NoticeBody::ProcurementAmendment(a) if a.is_postpone == "1" => {
            put(
                "bid",
                Some(a.modification_start_time),
                a.post_bid_closing_time,
            );
        }
        _ => {}
    }
    w
}

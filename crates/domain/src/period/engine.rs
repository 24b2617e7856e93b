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
    /// An objection or complaint: recorded into its procedures (where an open one suspends the
    /// next stage), never published.
    Record,
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
            Outcome::Record => "record",
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

impl Verdict {
    /// Held with no instant to publish at: an open objection or complaint suspends the procedure
    /// (rule `OBJECTION-HOLD`); it publishes when the answer is recorded and nothing else holds it.
    pub fn suspended(&self) -> bool {
        self.outcome == Outcome::Hold && self.hold_until.is_none()
    }

    /// The verdict after an operator's release (the console's `release` action on a held,
    /// rejected or parked notice): the ERROR findings of `rules` (every ERROR finding when
    /// `rules` is empty) become released warnings giving the reason (who is in `released`); a
    /// hold is lifted, and a notice parked for its parent stage published without it, each with
    /// an INFO finding `OPERATOR-RELEASE` saying so, so that the published notice shows it was
    /// released by the centre. The outcome is `publish` when nothing else still blocks, else it stays as it was.
    pub fn released(mut self, rules: &[String], release: &crate::finding::Release) -> Verdict {
        for f in &mut self.findings {
            if f.is_error() && (rules.is_empty() || rules.contains(&f.rule)) {
                *f = f.clone().released(release.clone());
            }
        }
        if self.outcome == Outcome::Hold {
            let until = self
                .hold_until
                .map(|h| h.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            self.findings.push(crate::finding::Finding {
                released: Some(release.clone()),
                ..crate::finding::Finding::new(
                    "OPERATOR-RELEASE",
                    crate::finding::Severity::Info,
                    "",
                    format!(
                        "原定 {until} 发布，交易中心提前发布：{} (released early by the centre)",
                        release.reason
                    ),
                )
            });
        }
        // Parked for a parent that will not come through gongshi (published before the centre
        // ran it, or elsewhere): the operator publishes it without, and the notice says so.
        if self.outcome == Outcome::Park {
            let awaited = self.awaiting.map_or("前序公告", Kind::zh);
            self.findings.push(crate::finding::Finding {
                released: Some(release.clone()),
                ..crate::finding::Finding::new(
                    "OPERATOR-RELEASE",
                    crate::finding::Severity::Info,
                    "",
                    format!(
                        "未收到本项目的{awaited}，交易中心放行发布：{} \
                         (published without its parent stage by the centre)",
                        release.reason
                    ),
                )
            });
            self.awaiting = None;
        }
        if !self.findings.iter().any(crate::finding::Finding::is_error) {
            self.outcome = Outcome::Publish;
            self.hold_until = None;
        }
        self
    }

    /// This verdict of a held notice judged again when its hold instant came, keeping the
    /// `held` verdict's warnings and notes that no longer arise: the reasons it was held (its
    /// send time, the candidate publicity it waited for), so the published notice still says
    /// when and why it was held. Its other findings cannot differ: the notice is the same. Not
    /// published after all (refused, or held on), it gets an INFO finding `HOLD-ENDED` saying
    /// that its hold ended and it was judged again: what happened meanwhile is in the findings
    /// beside it.
    pub fn keeping_hold_reasons(mut self, held: &Verdict) -> Verdict {
        let until = held
            .hold_until
            .map(|h| h.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let published = self.outcome == Outcome::Publish;
        let resolved: Vec<Finding> = held
            .findings
            .iter()
            .filter(|f| !f.is_error() && f.rule != "HOLD-ENDED")
            .filter(|f| !self.findings.iter().any(|n| n.rule == f.rule))
            .cloned()
            .map(|mut f| {
                // What no longer arises is what held it ("届时自动发布"), which did not happen:
                // say so in the same finding (it replaces the held verdict's one in the records),
                // once, however many holds end.
                if !published && !f.message.contains("见 HOLD-ENDED") {
                    f.message = format!(
                        "{}；该暂缓已于 {until} 到期，未按此发布，见 HOLD-ENDED (this hold ended without publication)",
                        f.message
                    );
                }
                f
            })
            .collect();
        self.findings.extend(resolved);
        let what = match self.outcome {
            Outcome::Publish => None,
            Outcome::Reject | Outcome::Invalid => Some(
                "按程序当时的状态重新判断，不予发布（原因见本记录的错误）(judged again when its hold ended: refused)",
            ),
            _ => Some(
                "按程序当时的状态重新判断，继续暂缓（原因见本记录的其他提示）(judged again when its hold ended: still held)",
            ),
        };
        if let Some(what) = what {
            self.findings.push(Finding::new(
                "HOLD-ENDED",
                Severity::Info,
                "",
                format!("原定 {until} 发布，到期时{what}"),
            ));
        }
        self
    }
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
            suspended: false,
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
        } else if notice.kind == Kind::Objection {
            Outcome::Record
        } else if ctx.suspended || ctx.hold_until.is_some_and(|h| h > now) {
            Outcome::Hold
        } else {
            Outcome::Publish
        };
        Verdict {
            outcome,
            hold_until: if outcome == Outcome::Hold && !ctx.suspended {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, Release, Severity};
    use chrono::TimeZone;

    fn verdict(outcome: Outcome, rules: &[&str]) -> Verdict {
        Verdict {
            outcome,
            hold_until: None,
            awaiting: None,
            findings: rules
                .iter()
                .map(|r| Finding::new(*r, Severity::Error, "/X", format!("{r} failed")))
                .collect(),
            windows: BTreeMap::new(),
        }
    }

    fn release() -> Release {
        Release {
            released_by: "wang".into(),
            reason: "中心复核后放行".into(),
        }
    }

    #[test]
    fn a_release_publishes_only_when_no_other_rule_blocks() {
        let partly = verdict(Outcome::Reject, &["W9", "W10"]).released(&["W9".into()], &release());
        assert_eq!(partly.outcome, Outcome::Reject);
        assert_eq!(partly.findings[0].severity, Severity::Warn);
        assert_eq!(partly.findings[0].released, Some(release()));
        assert!(partly.findings[0].message.contains("中心复核后放行"));
        assert_eq!(partly.findings[1].severity, Severity::Error);

        let all = verdict(Outcome::Reject, &["W9", "W10"]).released(&[], &release());
        assert_eq!(all.outcome, Outcome::Publish);
        assert!(all.findings.iter().all(|f| f.released.is_some()));
    }

    #[test]
    fn a_released_hold_says_when_it_was_due_and_who_published_it() {
        let mut held = verdict(Outcome::Hold, &[]);
        held.hold_until = crate::values::datetime::shanghai()
            .with_ymd_and_hms(2025, 4, 11, 9, 0, 0)
            .single();
        let released = held.released(&[], &release());
        assert_eq!(released.outcome, Outcome::Publish);
        assert_eq!(released.hold_until, None);
        let note = released
            .findings
            .iter()
            .find(|f| f.rule == "OPERATOR-RELEASE")
            .expect("a finding says it was released");
        assert_eq!(note.severity, Severity::Info);
        assert!(
            note.message.contains("原定 2025-04-11 09:00 发布"),
            "{}",
            note.message
        );
        assert!(note.message.contains("中心复核后放行"), "{}", note.message);
        assert!(
            !note.message.contains("wang"),
            "no operator's name: {}",
            note.message
        );
    }

    #[test]
    fn a_released_parked_notice_says_which_parent_it_went_without() {
        let mut parked = verdict(Outcome::Park, &[]);
        parked.awaiting = Some(Kind::Candidates);
        let released = parked.released(&[], &release());
        assert_eq!(released.outcome, Outcome::Publish);
        assert_eq!(released.awaiting, None);
        let note = released
            .findings
            .iter()
            .find(|f| f.rule == "OPERATOR-RELEASE")
            .expect("a finding says it was released");
        assert!(
            note.message.contains("未收到本项目的中标候选人公示") && !note.message.contains("wang"),
            "{}",
            note.message
        );
    }

    #[test]
    fn a_hold_that_ends_unpublished_says_so_once_in_what_held_it() {
        let at = |day| {
            crate::values::datetime::shanghai()
                .with_ymd_and_hms(2025, 4, day, 9, 0, 0)
                .single()
        };
        let mut held = verdict(Outcome::Hold, &[]);
        held.hold_until = at(8);
        held.findings.push(Finding::new(
            "S1",
            Severity::Warn,
            "/NOTICE_SEND_TIME",
            "发布时间在未来，届时自动发布",
        ));
        // Judged again at 04-08: held on by another rule, then refused at its end.
        let mut again = verdict(Outcome::Hold, &[]);
        again.hold_until = at(11);
        let again = again.keeping_hold_reasons(&held);
        let refused = verdict(Outcome::Reject, &["W10"]).keeping_hold_reasons(&again);
        let s1 = refused
            .findings
            .iter()
            .find(|f| f.rule == "S1")
            .expect("why it was held stays");
        assert_eq!(
            s1.message.matches("到期，未按此发布").count(),
            1,
            "{}",
            s1.message
        );
        assert!(s1.message.contains("2025-04-08 09:00"), "{}", s1.message);
        let published = verdict(Outcome::Publish, &[]).keeping_hold_reasons(&held);
        assert!(
            published
                .findings
                .iter()
                .all(|f| !f.message.contains("未按此发布")),
            "a hold that ended in publication kept its promise"
        );
    }
}

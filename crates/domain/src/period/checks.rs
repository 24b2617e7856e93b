//! The checks rules name in the catalogue (`check = "…"`). Each reads its parameters from the
//! rule as it applies in the notice's region, and adds findings, windows, holds or parks.

use super::counting::{self, Count, DayUnit};
use super::{Engine, ProcedureState, Window};
use crate::finding::{Finding, pointer_child};
use crate::notice::{Notice, NoticeBody};
use crate::rules::RuleDef;
use crate::schema::Kind;
use crate::values::datetime::{Instant, canonical};
use serde_json::json;
use std::collections::BTreeMap;

/// What a check sees and writes.
pub(super) struct Ctx<'a> {
    pub engine: Engine<'a>,
    pub notice: &'a Notice,
    pub procedures: &'a [&'a ProcedureState],
    pub now: Instant,
    pub region: Option<&'a str>,
    pub findings: Vec<Finding>,
    pub windows: BTreeMap<String, Window>,
    pub hold_until: Option<Instant>,
    pub awaiting: Option<Kind>,
    /// An open objection or complaint suspends the procedure: held with no instant.
    pub suspended: bool,
}

impl Ctx<'_> {
    fn instant(&self, field: &str) -> Option<Instant> {
        self.notice
            .canonical
            .get(field)
            .and_then(serde_json::Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    }

    fn first_instant(&self, fields: &[&str]) -> Option<(String, Instant)> {
        fields
            .iter()
            .find_map(|f| self.instant(f).map(|i| ((*f).to_owned(), i)))
    }

    fn label(&self, field: &str) -> String {
        self.engine
            .schemas
            .table(&self.notice.table)
            .map_or_else(|| field.to_owned(), |t| t.labelled(field))
    }

    fn push(
        &mut self,
        rule: &RuleDef,
        id: &str,
        path: &str,
        detail: String,
        evidence: serde_json::Value,
    ) {
        let pointer = if path.is_empty() {
            String::new()
        } else {
            pointer_child("", path)
        };
        let finding = self
            .engine
            .catalogue
            .finding_in(id, self.region, pointer, detail);
        // The rule as it applies here decides the severity (regional overrides included).
        let finding = if id == rule.id {
            Finding {
                severity: rule.severity,
                ..finding
            }
        } else {
            finding
        };
        self.findings.push(finding.with_evidence(evidence));
    }

    fn uncertain(&mut self, rule: &RuleDef, year: i32) {
        let detail = format!(
            "规则 {} 需要 {year} 年的工作日历，尚未收录，结果不确定 (rule {} is uncertain: no calendar for {year})",
            rule.id, rule.id
        );
        let f = self
            .engine
            .catalogue
            .finding_in("CAL-UNKNOWN-YEAR", self.region, "", detail);
        self.findings
            .push(f.with_evidence(json!({"rule": rule.id, "year": year})));
    }

    fn hold(&mut self, until: Instant) {
        self.hold_until = Some(self.hold_until.map_or(until, |h| h.max(until)));
    }
}

/// Runs the named check; an unknown name is a catalogue defect caught by the catalogue tests.
pub(super) fn run(check: &str, rule: &RuleDef, ctx: &mut Ctx<'_>) {
    match check {
        "min_period" => min_period(rule, ctx),
        "max_delay" => max_delay(rule, ctx),
        "amendment_notice" => amendment_notice(rule, ctx),
        "after_bid_deadline" => after_bid_deadline(rule, ctx),
        "after_publicity" => after_publicity(rule, ctx),
        "winner_among_candidates" => winner_among_candidates(rule, ctx),
        "candidate_ranking" => candidate_ranking(rule, ctx),
        "announcement_window" => announcement_window(rule, ctx),
        "challenge_window" => challenge_window(rule, ctx),
        "future_send_time" => future_send_time(rule, ctx),
        "parent_known" => parent_known(rule, ctx),
        "listing_period" => listing_period(rule, ctx),
        "no_open_dispute" => no_open_dispute(rule, ctx),
        "newer_version_known" => newer_version_known(rule, ctx),
        "not_terminated" => not_terminated(rule, ctx),
        _ => {}
    }
}

/// The check names the engine implements (the catalogue tests hold every rule to one of them).
pub const CHECKS: &[&str] = &[
    "min_period",
    "max_delay",
    "amendment_notice",
    "after_bid_deadline",
    "after_publicity",
    "winner_among_candidates",
    "candidate_ranking",
    "announcement_window",
    "challenge_window",
    "future_send_time",
    "parent_known",
    "listing_period",
    "no_open_dispute",
    "newer_version_known",
    "not_terminated",
];

fn unit(rule: &RuleDef) -> DayUnit {
    match rule.param_str("unit") {
        Some("working") => DayUnit::Working,
        _ => DayUnit::Calendar,
    }
}

fn short(i: &Instant) -> String {
    i.format("%Y-%m-%d %H:%M").to_string()
}

fn evidence(count: &Count, from: &Instant, to: &Instant) -> serde_json::Value {
    json!({
        "from": canonical(from), "to": canonical(to),
        "start_date": count.start_date.to_string(), "end_date": count.end_date.to_string(),
        "counted": count.counted, "required": count.required, "unit": count.unit,
        "limit_date": count.limit_date.to_string(),
    })
}

fn min_period(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let (Some((from_field, from)), Some(to_field)) = (
        ctx.first_instant(&rule.param_list("from")),
        rule.param_str("to"),
    ) else {
        return;
    };
    let Some(to) = ctx.instant(to_field) else {
        return;
    };
    let Some(days) = rule.param_u32("days") else {
        return;
    };
    // A rule may name the window the period is (e.g. `listing` 挂牌期 of rule L2).
    if let Some(name) = rule.param_str("window") {
        ctx.windows.insert(
            name.to_owned(),
            Window {
                start: from,
                end: to,
            },
        );
    }
    let unit = unit(rule);
    let count = match counting::min_period(ctx.engine.calendar, &from, &to, days, unit) {
        Ok(c) => c,
        Err(e) => return ctx.uncertain(rule, e.0),
    };
    if count.met {
        return;
    }
    let ev = evidence(&count, &from, &to);
    if let Some(fallback) = rule.param_str("inclusive_fallback")
        && unit == DayUnit::Calendar
        && count.counted < days
        && count.counted + 1 >= days
    {
        let detail = format!(
            "{} {} 至 {} {}：首尾两日都计算才满 {days} 日；按起算日不计入只有 {} 日 (inclusive count only)",
            ctx.label(&from_field),
            short(&from),
            ctx.label(to_field),
            short(&to),
            count.counted
        );
        ctx.push(rule, fallback, to_field, detail, ev);
        return;
    }
    let nominal = count.start_date + chrono::Days::new(u64::from(days));
    let rolled = count.limit_date > nominal && unit == DayUnit::Calendar;
    if rolled && count.counted >= days {
        // Enough days counted, but the period's last day is a holiday: the end moves on to the
        // next working day (民法典 第二百零三条), which the notice's end falls short of.
        let detail = format!(
            "{} {} 至 {} {}：期限第 {days} 日 {nominal} 为法定节假日或休息日，期限顺延至其后第一个工作日 {}，结束时间应不早于该日 (the period's last day is a holiday: it ends on the next working day)",
            ctx.label(&from_field),
            short(&from),
            ctx.label(to_field),
            short(&to),
            count.limit_date
        );
        ctx.push(rule, &rule.id, to_field, detail, ev);
        return;
    }
    let roll = if rolled {
        "（期限末日为法定节假日或休息日，顺延至其后第一个工作日）"
    } else {
        ""
    };
    let detail = format!(
        "{} {} 至 {} {} 为 {} {}，应不少于 {days} {}；最早应为 {}{roll} (period too short: {} of {days} {:?} days)",
        ctx.label(&from_field),
        short(&from),
        ctx.label(to_field),
        short(&to),
        count.counted,
        unit.zh(),
        unit.zh(),
        count.limit_date,
        count.counted,
        unit
    );
    ctx.push(rule, &rule.id, to_field, detail, ev);
}

fn max_delay(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let (Some(from_field), Some(to_field), Some(days)) = (
        rule.param_str("from"),
        rule.param_str("to"),
        rule.param_u32("days"),
    ) else {
        return;
    };
    let (Some(from), Some(to)) = (ctx.instant(from_field), ctx.instant(to_field)) else {
        return;
    };
    let unit = unit(rule);
    let count = match counting::max_delay(ctx.engine.calendar, &from, &to, days, unit) {
        Ok(c) => c,
        Err(e) => return ctx.uncertain(rule, e.0),
    };
    if !count.met {
        let detail = format!(
            "{} {} 距 {} {} 已 {} {}，应在 {days} {}内（不晚于 {}）(later than allowed)",
            ctx.label(to_field),
            short(&to),
            ctx.label(from_field),
            short(&from),
            count.counted,
            unit.zh(),
            unit.zh(),
            count.limit_date
        );
        let ev = evidence(&count, &from, &to);
        ctx.push(rule, &rule.id, to_field, detail, ev);
    }
}

fn amendment_notice(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let (Some(from_field), Some(days)) = (rule.param_str("from"), rule.param_u32("days")) else {
        return;
    };
    let Some(from) = ctx.instant(from_field) else {
        return;
    };
    let (deadline_field, deadline) = match ctx.first_instant(&rule.param_list("deadline")) {
        Some((f, d)) => (f, d),
        None => match ctx.procedures.iter().find_map(|p| p.bid_deadline()) {
            Some(d) => ("(投标截止时间)".to_owned(), d),
            None => return,
        },
    };
    let count = match counting::min_period(ctx.engine.calendar, &from, &deadline, days, unit(rule))
    {
        Ok(c) => c,
        Err(e) => return ctx.uncertain(rule, e.0),
    };
    if !count.met {
        let detail = format!(
            "{} {} 距投标截止时间 {} 只有 {} 日，可能影响投标文件编制的澄清或修改应至少提前 {days} 日发出，否则应顺延截止时间至不早于 {} (amendment too late; postpone the deadline)",
            ctx.label(from_field),
            short(&from),
            short(&deadline),
            count.counted,
            count.limit_date
        );
        let ev = evidence(&count, &from, &deadline);
        let path = if deadline_field.starts_with('(') {
            from_field.to_owned()
        } else {
            deadline_field
        };
        ctx.push(rule, &rule.id, &path, detail, ev);
    }
}

fn after_bid_deadline(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let Some(from_field) = rule.param_str("from") else {
        return;
    };
    let Some(start) = ctx.instant(from_field) else {
        return;
    };
    let Some(deadline) = ctx.procedures.iter().find_map(|p| p.bid_deadline()) else {
        return;
    };
    if start <= deadline {
        let detail = format!(
            "{} {} 不晚于投标截止时间 {}：投标截止前不能公示中标候选人 (publicity before the bid deadline)",
            ctx.label(from_field),
            short(&start),
            short(&deadline)
        );
        ctx.push(
            rule,
            &rule.id,
            from_field,
            detail,
            json!({"publicity_start": canonical(&start), "bid_deadline": canonical(&deadline)}),
        );
    }
}

fn after_publicity(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let Some(end) = ctx
        .procedures
        .iter()
        .filter_map(|p| p.candidates())
        .map(|c| c.publicity_end_time)
        .max()
    else {
        return;
    };
    if ctx.now < end {
        let detail = format!(
            "中标候选人公示至 {} 结束，中标结果公告暂缓至公示期满后自动发布 (held until the candidate publicity ends)",
            short(&end)
        );
        ctx.push(
            rule,
            &rule.id,
            "",
            detail,
            json!({"publicity_end": canonical(&end), "now": canonical(&ctx.now)}),
        );
        ctx.hold(end);
    }
}

fn winner_among_candidates(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let (Some(name_field), Some(code_field)) = (rule.param_str("name"), rule.param_str("code"))
    else {
        return;
    };
    let text = |f: &str| {
        ctx.notice
            .canonical
            .get(f)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (name, code) = (text(name_field), text(code_field));
    let candidates: Vec<&crate::notice::Candidate> = ctx
        .procedures
        .iter()
        .filter_map(|p| p.candidates())
        .flat_map(|c| c.tender_candidate.iter())
        .collect();
    if candidates.is_empty() {
        return;
    }
    if !candidates
        .iter()
        .any(|c| c.win_candidate_name == name || (!code.is_empty() && c.win_candidate_code == code))
    {
        let listed: Vec<&str> = candidates
            .iter()
            .map(|c| c.win_candidate_name.as_str())
            .collect();
        let detail = format!(
            "中标人 {name}（{code}）不在公示的中标候选人（{}）之中 (winner not among the publicised candidates)",
            listed.join("、")
        );
        ctx.push(
            rule,
            &rule.id,
            name_field,
            detail,
            json!({"winner": name, "winner_code": code, "candidates": listed}),
        );
    }
}

fn candidate_ranking(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let NoticeBody::WorksCandidates(c) = &ctx.notice.body else {
        return;
    };
    let max = rule.param_u32("max").unwrap_or(3) as usize;
    let orders: Vec<Option<usize>> = c
        .tender_candidate
        .iter()
        .map(|c| c.win_candidate_order.trim().parse().ok())
        .collect();
    let mut sorted: Vec<usize> = orders.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let ranked =
        orders.iter().all(Option::is_some) && sorted.iter().enumerate().all(|(i, o)| *o == i + 1);
    if c.tender_candidate.len() > max || !ranked {
        let detail = format!(
            "中标候选人 {} 个，排名 {:?}：应不超过 {max} 个，并按 1..n 连续排序 (at most {max} candidates ranked 1..n)",
            c.tender_candidate.len(),
            sorted
        );
        ctx.push(
            rule,
            &rule.id,
            "TENDER_CANDIDATE",
            detail,
            json!({"count": c.tender_candidate.len(), "orders": sorted, "max": max}),
        );
    }
}

fn announcement_window(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let (Some(from_field), Some(days)) = (rule.param_str("from"), rule.param_u32("days")) else {
        return;
    };
    let Some(start) = ctx.instant(from_field) else {
        return;
    };
    let end = match counting::working_window_end(ctx.engine.calendar, &start, days) {
        Ok(e) => e,
        Err(e) => return ctx.uncertain(rule, e.0),
    };
    let name = rule
        .param_str("window")
        .unwrap_or("announcement")
        .to_owned();
    ctx.windows.insert(name, Window { start, end });
    if let Some(to_field) = rule.param_str("to")
        && let Some(given) = ctx.instant(to_field)
        && given < end
    {
        let detail = format!(
            "{} {} 短于法定公告期限 {days} 个工作日（应至 {}）(announcement period too short)",
            ctx.label(to_field),
            short(&given),
            short(&end)
        );
        ctx.push(rule, &rule.id, to_field, detail, json!({"start": canonical(&start), "given_end": canonical(&given), "legal_end": canonical(&end)}));
    }
}

fn challenge_window(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let (Some(after), Some(days)) = (rule.param_str("after"), rule.param_u32("days")) else {
        return;
    };
    let Some(start) = ctx.windows.get(after).map(|w| w.end) else {
        return;
    };
    let last = match ctx
        .engine
        .calendar
        .add_working_days(counting::end_date(&start), days)
    {
        Ok(d) => d,
        Err(e) => return ctx.uncertain(rule, e.0),
    };
    let end = counting::end_of_day(last);
    ctx.windows.insert(
        rule.param_str("window").unwrap_or("challenge").to_owned(),
        Window { start, end },
    );
    let detail = format!(
        "质疑期限：公告期限届满后 {days} 个工作日，至 {} 止 (challenge deadline)",
        last
    );
    ctx.push(
        rule,
        &rule.id,
        "",
        detail,
        json!({"from": canonical(&start), "until": canonical(&end)}),
    );
}

fn future_send_time(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let Some(sent) = ctx.notice.sent_at else {
        return;
    };
    if sent > ctx.now {
        let detail = format!(
            "发布时间 {} 在未来，届时自动发布 (held until its send time)",
            short(&sent)
        );
        ctx.push(
            rule,
            &rule.id,
            "",
            detail,
            json!({"send_time": canonical(&sent), "now": canonical(&ctx.now)}),
        );
        ctx.hold(sent);
    }
}

/// The stage a notice needs before it: none for a first tender notice.
pub fn parent_of(notice: &Notice) -> Option<Kind> {
    match &notice.body {
        NoticeBody::WorksTender(t) => (t.notice_nature == "2").then_some(Kind::Tender),
        NoticeBody::ProcurementTender(_) => None,
        NoticeBody::WorksAward(_) => Some(Kind::Candidates),
        // An objection or complaint belongs to a procedure whose first notice is known.
        NoticeBody::Objection(_) | NoticeBody::Complaint(_) => Some(Kind::Tender),
        // Land, mining and property: an announcement or listing opens the procedure; its
        // result needs it.
        NoticeBody::Disposal(_) => (notice.kind != Kind::Tender).then_some(Kind::Tender),
        _ => Some(Kind::Tender),
    }
}

fn parent_known(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let Some(parent) = parent_of(ctx.notice) else {
        return;
    };
    let missing: Vec<String> = ctx
        .procedures
        .iter()
        .filter(|p| !p.has(parent))
        .map(|p| p.key.to_string())
        .collect();
    if !missing.is_empty() {
        let what = match (parent, ctx.notice.regime) {
            (Kind::Candidates, _) => "中标候选人公示",
            (_, crate::schema::Regime::Land | crate::schema::Regime::Mining) => "出让公告",
            (_, crate::schema::Regime::Property) => "挂牌公告",
            _ => "招标（采购）公告",
        };
        // A parent that came and was refused is not "not received": say so, and what it waits for.
        let refused = ctx.procedures.iter().any(|p| {
            p.stages
                .iter()
                .any(|s| s.kind == parent && s.status == super::StageStatus::Rejected)
        });
        let detail = if refused {
            format!(
                "该标段的{what}已被拒收（见其错误），暂存待其放行或重新发送后重新判断 (parked: its {parent:?} was refused, for {})",
                missing.join(", ")
            )
        } else {
            format!(
                "尚未收到该标段的{what}，暂存待其到达后重新判断 (parked: awaiting {parent:?} for {})",
                missing.join(", ")
            )
        };
        ctx.push(
            rule,
            &rule.id,
            "",
            detail,
            json!({"awaiting": parent, "procedures": missing}),
        );
        ctx.awaiting = Some(parent);
    }
}

/// A listing (挂牌, 信息披露) given as a first day and a number of working days
/// (`PUBLISH_DATE`, `PUBLISH_DURATION` of the property tables): sets the window `window` (24:00 of
/// the last working day), and fires when the duration is below `days`. With `amount`, `above`
/// and `up_to` (元), the rule applies only to listings whose price lies in that band (rule E4's
/// bands by 转让底价).
fn listing_period(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let (Some(from_field), Some(duration_field), Some(days)) = (
        rule.param_str("from"),
        rule.param_str("duration"),
        rule.param_u32("days"),
    ) else {
        return;
    };
    if let Some(amount_field) = rule.param_str("amount") {
        let Some(amount) = ctx
            .notice
            .canonical
            .get(amount_field)
            .and_then(serde_json::Value::as_str)
            .and_then(|a| a.parse::<rust_decimal::Decimal>().ok())
        else {
            return;
        };
        let bound = |name: &str| {
            rule.params
                .get(name)
                .and_then(toml::Value::as_integer)
                .map(rust_decimal::Decimal::from)
        };
        if bound("above").is_some_and(|low| amount <= low)
            || bound("up_to").is_some_and(|high| amount > high)
        {
            return;
        }
    }
    let Some(start) = ctx.instant(from_field) else {
        return;
    };
    let Some(duration) = ctx
        .notice
        .canonical
        .get(duration_field)
        .and_then(serde_json::Value::as_str)
        .and_then(|d| d.parse::<u32>().ok())
    else {
        return;
    };
    let end = match counting::working_window_end(ctx.engine.calendar, &start, duration) {
        Ok(e) => e,
        Err(e) => return ctx.uncertain(rule, e.0),
    };
    let name = rule.param_str("window").unwrap_or("listing").to_owned();
    ctx.windows.insert(name, Window { start, end });
    if duration < days {
        let detail = format!(
            "{} 为 {duration} 个工作日（{} 至 {}），应不少于 {days} 个工作日 (listing period too short)",
            ctx.label(duration_field),
            short(&start),
            short(&end)
        );
        ctx.push(
            rule,
            &rule.id,
            duration_field,
            detail,
            json!({"from": canonical(&start), "until": canonical(&end), "counted": duration, "required": days, "unit": "working"}),
        );
    }
}

/// The procedure must not be suspended by an objection (异议) or complaint (投诉) still open: the
/// notice is held, with no instant, until every one of them has its answer recorded
/// (`REPLY_TIME` / `HANDLE_DATE`); the finding says so without naming who raised it.
fn no_open_dispute(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let open: Vec<crate::notice::Dispute> = ctx
        .procedures
        .iter()
        .flat_map(|p| p.open_disputes())
        .collect();
    let Some(first) = open.iter().map(|d| d.raised_at).min() else {
        return;
    };
    let (objections, complaints) = (
        open.iter()
            .filter(|d| d.key.starts_with("OBJECTION:"))
            .count(),
        open.iter()
            .filter(|d| d.key.starts_with("COMPLAINT:"))
            .count(),
    );
    let detail = format!(
        "本标段有尚未答复的异议 {objections} 件、尚未处理完毕的投诉 {complaints} 件（最早于 {} 提出），依法暂停，本公告暂缓发布，待答复（处理结果）登记后自动发布 (held: an objection or complaint is open)",
        short(&first)
    );
    ctx.push(
        rule,
        &rule.id,
        "",
        detail,
        json!({"open_objections": objections, "open_complaints": complaints, "since": canonical(&first)}),
    );
    ctx.suspended = true;
}

/// A version older than one already accepted: another notice of the same table in one of its
/// procedures, published or held, has a later `DATA_TIMESTAMP`. Taken as the newest, a stale
/// re-delivery would undo what the newer version (or a postponement after it) set, since versions
/// and windows in force follow publication order; refused, with the newer version named, for an
/// operator to release if it truly is a new decision. Objections and complaints (versions of one
/// dispute by its own key, answered or not) are not versions in this sense.
fn newer_version_known(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    let Some(own) = ctx.notice.data_timestamp else {
        return;
    };
    if ctx.notice.kind == Kind::Objection {
        return;
    }
    let newer = ctx
        .procedures
        .iter()
        .flat_map(|p| p.stages.iter())
        .filter(|s| {
            s.accepted() && s.notice_id != ctx.notice.id && s.body.table() == ctx.notice.table
        })
        .filter_map(|s| Some((s.data_timestamp?, s.notice_id.as_str())))
        .filter(|(stamp, _)| *stamp > own)
        .max_by_key(|(stamp, _)| *stamp);
    let Some((stamp, notice_id)) = newer else {
        return;
    };
    let table = ctx.engine.schemas.table(&ctx.notice.table).map_or_else(
        || ctx.notice.table.clone(),
        |t| format!("{} {}", t.code, t.title),
    );
    let detail = format!(
        "{} {} 早于本项目（标段）已收到的较新版本（{table}，{}）：旧版本不能取代新版本，不予发布；确为新的更正的，应以新的数据时间戳重新发送，或经运营人员核实后放行 (older than a version already accepted)",
        ctx.label("DATA_TIMESTAMP"),
        short(&own),
        short(&stamp)
    );
    ctx.push(
        rule,
        &rule.id,
        "DATA_TIMESTAMP",
        detail,
        json!({"data_timestamp": canonical(&own), "newer_version": notice_id, "newer_data_timestamp": canonical(&stamp)}),
    );
}

/// A section whose tendering was terminated (终止招标, 流标: a published termination) and not
/// tendered again since (no tender notice sent after the termination: [`crate::lifecycle::round_of`])
/// has no candidates and no award: such a notice is refused, naming the termination.
fn not_terminated(rule: &RuleDef, ctx: &mut Ctx<'_>) {
    for p in ctx.procedures {
        // The procedure's published notices and this one last: the round it would join
        // ([`crate::lifecycle::round_of`]; a re-tender sent after the termination opens a new one).
        let published: Vec<&super::Stage> = p
            .stages
            .iter()
            .filter(|s| s.status == super::StageStatus::Published && s.notice_id != ctx.notice.id)
            .collect();
        let mut sent: Vec<(Kind, Option<Instant>)> =
            published.iter().map(|s| (s.kind, s.sent_at)).collect();
        sent.push((ctx.notice.kind, ctx.notice.sent_at));
        let round = crate::lifecycle::round_of(&sent, published.len());
        let Some(termination) = published[round.start..]
            .iter()
            .rev()
            .find(|s| s.kind == Kind::Termination)
        else {
            continue;
        };
        let when = termination
            .sent_at
            .map(|t| format!("于 {} ", short(&t)))
            .unwrap_or_default();
        let detail = format!(
            "标段 {} 已{when}发布终止招标（流标）公告，此后未重新发布招标公告：已终止的标段不能公示中标候选人或发布中标结果 (the section's tendering was terminated)",
            p.key.section
        );
        ctx.push(
            rule,
            &rule.id,
            "",
            detail,
            json!({"procedure": p.key.to_string(), "termination": termination.notice_id, "sent_at": termination.sent_at.as_ref().map(canonical)}),
        );
    }
}

//! A published notice's legal clocks as a bidder reads them: every window (`documents`, `bid`,
//! `publicity`, `announcement`, `challenge`) as dates with what it means, where it stands at a
//! given instant (not yet open, so many working days left, last day, over), and the rules of the
//! catalogue that set or bound it with their legal basis.
//!
//! Pure: windows, record, instant and calendar in, sentence parts out. Working days left are
//! counted on the calendar with 调休 ([`Calendar::working_days_between`]); a year the calendar
//! lacks makes the count *uncertain* and the sentence says so — never a weekend-only guess.

use super::counting::{end_date, is_midnight, local_date};
use super::{Calendar, Engine, UnknownYear, Window};
use crate::schema::Regime;
use crate::values::datetime::{Instant, shanghai};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Where a window stands at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Standing {
    /// It opens later.
    NotYet,
    /// It is open and closes on a later day. `working_days` counts the working days after today
    /// up to and including the closing day (`Err`: the calendar lacks a year on the way).
    Running {
        /// Calendar days from today to the closing day.
        days: u32,
        /// Working days after today up to and including the closing day.
        #[serde(serialize_with = "count_or_null")]
        working_days: Result<u32, UnknownYear>,
        /// Statutory holidays (节假日) between today and the closing day, by name.
        holidays: Vec<String>,
    },
    /// It closes today (Beijing date), later than now.
    LastDay,
    /// It has closed.
    Over,
}

fn count_or_null<S: serde::Serializer>(
    v: &Result<u32, UnknownYear>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Ok(n) => s.serialize_some(n),
        Err(_) => s.serialize_none(),
    }
}

/// A rule of the catalogue behind a window: its id, its Chinese title and its legal basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Basis {
    /// Rule id (`W1`, `G9`, …).
    pub rule: String,
    /// The rule as the catalogue states it (Chinese).
    pub title: String,
    /// Legal basis (statute and article).
    pub citation: String,
}

/// One legal clock of a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clock {
    /// Window name (`documents`, `bid`, `publicity`, `announcement`, `challenge`).
    pub window: String,
    /// When it opens.
    pub start: Instant,
    /// When it closes (00:00 is shown as 24:00 of the day before).
    pub end: Instant,
    /// What the window is and its dates: `投标截止 2025-03-25 09:30`,
    /// `公示期 2025-04-08 至 2025-04-11 18:00，质疑/异议须在公示期内提出`.
    pub sentence: String,
    /// What it means for a bidder (Chinese).
    pub meaning: String,
    /// Where it stands.
    pub standing: Standing,
    /// Where it stands, in words: `还剩 3 个工作日`, `今天 09:30 截止`, `已截止`.
    pub status: String,
    /// The rules that set or bound it, with their legal basis (empty when none applies).
    pub basis: Vec<Basis>,
}

impl Clock {
    /// Sentence and status together: `投标截止 2025-03-25 09:30（还剩 3 个工作日）`.
    pub fn line(&self) -> String {
        format!("{}（{}）", self.sentence, self.status)
    }

    /// Whether the window is open now (running or on its last day).
    pub fn is_open(&self) -> bool {
        matches!(self.standing, Standing::Running { .. } | Standing::LastDay)
    }
}

/// The windows in the order a procedure meets them.
const ORDER: [&str; 6] = [
    "documents",
    "bid",
    "listing",
    "publicity",
    "announcement",
    "challenge",
];

/// The catalogue rules that may set or bound each window; those that apply to the notice's table
/// and field values (the engine's own test, [`Engine::applies_to`]) are cited. The rules' titles,
/// parameters and citations stay in `rules/catalogue.toml`.
fn candidate_rules(window: &str) -> &'static [&'static str] {
    match window {
        "documents" => &["W2", "G3"],
        "bid" => &["W1", "W4", "G1", "G5", "G18", "G19"],
        "publicity" => &["W9", "W10"],
        "announcement" => &["G2", "G8", "E5"],
        "listing" => &["L2", "E1", "E4-LOW", "E4-HIGH"],
        "challenge" => &["G9"],
        _ => &[],
    }
}

/// A notice's legal clocks at `now`, in the order a procedure meets them. `table` and `record`
/// are the notice's table code and canonical fields (they decide which rules apply), `region`
/// its GB/T 2260 code (regional overrides of the rules), `regime` works or procurement (wording).
pub fn clocks(
    engine: &Engine<'_>,
    windows: &BTreeMap<String, Window>,
    table: &str,
    record: &Map<String, Value>,
    region: Option<&str>,
    regime: Regime,
    now: DateTime<Utc>,
) -> Vec<Clock> {
    let mut names: Vec<&String> = windows.keys().collect();
    names.sort_by_key(|n| ORDER.iter().position(|o| o == n).unwrap_or(ORDER.len()));
    names
        .into_iter()
        .filter_map(|name| {
            let w = windows.get(name)?;
            let rules: Vec<_> = candidate_rules(name)
                .iter()
                .filter_map(|id| engine.catalogue.effective(id, region))
                .filter(|r| engine.applies_to(r, table, record))
                .collect();
            let days = rules.iter().find_map(|r| {
                (r.param_str("window") == Some(name.as_str()))
                    .then(|| r.param_u32("days"))
                    .flatten()
            });
            let (sentence, meaning) = words(name, regime, w, days);
            let standing = standing(engine.calendar, w, now);
            let status = status_words(name, &standing, w);
            Some(Clock {
                window: name.clone(),
                start: w.start,
                end: w.end,
                sentence,
                meaning,
                standing,
                status,
                basis: rules
                    .iter()
                    .map(|r| Basis {
                        rule: r.id.clone(),
                        title: r.title.clone(),
                        citation: r.citation.clone(),
                    })
                    .collect(),
            })
        })
        .collect()
}

/// `2025-03-25 09:30`; an end at 00:00 is 24:00 of the day before (rules.md "Counting").
pub fn show_end(end: &Instant) -> String {
    if is_midnight(end) {
        format!("{} 24:00", end_date(end))
    } else {
        end.with_timezone(&shanghai())
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

/// The day a window opens, as a span begins: `2025-04-08`.
fn show_start_day(start: &Instant) -> String {
    local_date(start).to_string()
}

/// The instant a window opens: `2025-04-08 09:00`, the date alone when it is 00:00.
fn show_start(start: &Instant) -> String {
    if is_midnight(start) {
        local_date(start).to_string()
    } else {
        start
            .with_timezone(&shanghai())
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

/// The window's sentence and what it means, in the regime's terms.
fn words(name: &str, regime: Regime, w: &Window, days: Option<u32>) -> (String, String) {
    let span = format!("{} 至 {}", show_start_day(&w.start), show_end(&w.end));
    let works = regime == Regime::Works;
    match name {
        "documents" => (
            format!(
                "{}获取 {span}",
                if works { "招标文件" } else { "采购文件" }
            ),
            "在此期间获取招标（采购）文件；获取后方可投标".into(),
        ),
        "bid" => (
            format!(
                "{} {}",
                if works {
                    "投标截止"
                } else {
                    "投标（响应文件）截止"
                },
                show_end(&w.end)
            ),
            "投标（响应）文件须在此时间前递交；逾期送达的，招标（采购）人不予受理".into(),
        ),
        "publicity" => (
            format!("公示期 {span}，质疑/异议须在公示期内提出"),
            "对中标候选人或评标结果有异议的，须在公示期内向招标人提出".into(),
        ),
        "announcement" => (
            format!("公告期 {span}"),
            "公告在此期间公开；期满后起算质疑期".into(),
        ),
        "listing" => (
            format!("挂牌期 {span}"),
            "意向受让方（竞买人）须在挂牌期内提交申请和报价；公告约定自动延期的，期满无人报名时按约定延长".into(),
        ),
        "challenge" => (
            match days {
                Some(n) => format!("质疑期 {n} 个工作日，至 {}", show_end(&w.end)),
                None => format!("质疑期至 {}", show_end(&w.end)),
            },
            "供应商认为中标（成交）结果使自己的权益受到损害的，须在此前以书面形式向采购人或代理机构提出质疑".into(),
        ),
        other => (format!("{other} {span}"), String::new()),
    }
}

/// Where `w` stands at `now`.
pub fn standing(cal: &Calendar, w: &Window, now: DateTime<Utc>) -> Standing {
    if now < w.start {
        return Standing::NotYet;
    }
    if now >= w.end {
        return Standing::Over;
    }
    let today = now.with_timezone(&shanghai()).date_naive();
    let last = end_date(&w.end);
    if last <= today {
        return Standing::LastDay;
    }
    let mut holidays: Vec<String> = Vec::new();
    let mut d = today;
    while d < last {
        let Some(next) = d.succ_opt() else { break };
        d = next;
        if let Some(h) = cal.holiday_name(d)
            && !holidays.iter().any(|x| x == h)
        {
            holidays.push(h.to_owned());
        }
    }
    Standing::Running {
        days: u32::try_from((last - today).num_days()).unwrap_or(u32::MAX),
        working_days: cal.working_days_between(today, last),
        holidays,
    }
}

/// The standing in words.
fn status_words(name: &str, standing: &Standing, w: &Window) -> String {
    let closing = if name == "bid" { "截止" } else { "结束" };
    match standing {
        Standing::NotYet => format!("尚未开始，{} 起", show_start(&w.start)),
        Standing::Over => format!("已{closing}"),
        Standing::LastDay if is_midnight(&w.end) => format!("今天{closing}（24:00）"),
        Standing::LastDay => format!(
            "今天 {} {closing}",
            w.end.with_timezone(&shanghai()).format("%H:%M")
        ),
        Standing::Running {
            days,
            working_days,
            holidays,
        } => {
            let holidays = if holidays.is_empty() {
                String::new()
            } else {
                format!("，其间{}放假", holidays.join("、"))
            };
            match working_days {
                Ok(0) => format!("还剩 {days} 日，其间没有工作日{holidays}"),
                Ok(n) if *n == *days => format!("还剩 {n} 个工作日{holidays}"),
                Ok(n) => format!("还剩 {n} 个工作日，共 {days} 日{holidays}"),
                Err(UnknownYear(y)) => format!(
                    "还剩 {days} 日；{y} 年的工作日历尚未收录，剩余工作日数不确定{holidays}"
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> Instant {
        shanghai()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("a Beijing instant")
    }

    fn utc(i: Instant) -> DateTime<Utc> {
        i.with_timezone(&Utc)
    }

    /// The works tender of examples/notices: documents from 2025-03-03 09:00 to 03-10 24:00,
    /// bids until 2025-03-25 09:30.
    fn works_tender() -> (BTreeMap<String, Window>, Map<String, Value>) {
        let windows = BTreeMap::from([
            (
                "bid".to_owned(),
                Window {
                    start: at(2025, 3, 3, 9, 0),
                    end: at(2025, 3, 25, 9, 30),
                },
            ),
            (
                "documents".to_owned(),
                Window {
                    start: at(2025, 3, 3, 9, 0),
                    end: at(2025, 3, 11, 0, 0),
                },
            ),
        ]);
        let record = serde_json::json!({"IS_TO_LAW": "1", "BULLETIN_TYPE": "1"});
        let record = record.as_object().cloned().expect("an object");
        (windows, record)
    }

    fn tender_clocks(now: Instant) -> Vec<Clock> {
        let (windows, record) = works_tender();
        clocks(
            &Engine::embedded(),
            &windows,
            "TENDER_ANN_QUA_INQUERY_ANN",
            &record,
            Some("320300"),
            Regime::Works,
            utc(now),
        )
    }

    #[test]
    fn before_a_deadline_counts_working_days_left() {
        // Thursday 2025-03-20: Friday 21, Monday 24 and Tuesday 25 are left.
        let c = tender_clocks(at(2025, 3, 20, 10, 0));
        let names: Vec<&str> = c.iter().map(|c| c.window.as_str()).collect();
        assert_eq!(names, ["documents", "bid"]);
        assert_eq!(
            c[1].line(),
            "投标截止 2025-03-25 09:30（还剩 3 个工作日，共 5 日）"
        );
        assert!(c[1].is_open());
        assert_eq!(
            c[0].line(),
            "招标文件获取 2025-03-03 至 2025-03-10 24:00（已结束）"
        );
        // W1 (20 days, 招标投标法 第二十四条) bounds the bid window of a tender that must be
        // tendered by law; W2 the sale of documents.
        assert_eq!(c[1].basis[0].rule, "W1");
        assert!(c[1].basis[0].citation.contains("第二十四条"));
        assert_eq!(c[0].basis[0].rule, "W2");
    }

    #[test]
    fn on_the_deadline_day_and_after_it() {
        let c = tender_clocks(at(2025, 3, 25, 8, 0));
        assert_eq!(c[1].standing, Standing::LastDay);
        assert_eq!(c[1].line(), "投标截止 2025-03-25 09:30（今天 09:30 截止）");
        let c = tender_clocks(at(2025, 3, 25, 9, 30));
        assert_eq!(c[1].standing, Standing::Over);
        assert_eq!(c[1].status, "已截止");
        assert!(!c[1].is_open());
        let c = tender_clocks(at(2025, 3, 1, 12, 0));
        assert_eq!(c[1].status, "尚未开始，2025-03-03 09:00 起");
    }

    #[test]
    fn across_a_holiday_working_days_skip_it_and_count_make_up_days() {
        // Bids until Thursday 2025-10-09 09:30, seen on Sunday 2025-09-28 (a make-up working day,
        // 调休): Monday 29 and Tuesday 30 September and Thursday 9 October are working days; 1–8
        // October is the National Day and Mid-Autumn holiday.
        let windows = BTreeMap::from([(
            "bid".to_owned(),
            Window {
                start: at(2025, 9, 1, 9, 0),
                end: at(2025, 10, 9, 9, 30),
            },
        )]);
        let c = clocks(
            &Engine::embedded(),
            &windows,
            "PURCHASE_QUALI_INQUERY_ANN",
            &Map::new(),
            None,
            Regime::Procurement,
            utc(at(2025, 9, 28, 10, 0)),
        );
        let Standing::Running {
            days,
            working_days,
            holidays,
        } = &c[0].standing
        else {
            panic!("running: {:?}", c[0].standing)
        };
        assert_eq!((*days, *working_days), (11, Ok(3)));
        assert!(!holidays.is_empty());
        assert!(
            c[0].status.starts_with("还剩 3 个工作日，共 11 日，其间"),
            "{}",
            c[0].status
        );
        assert!(
            c[0].sentence
                .starts_with("投标（响应文件）截止 2025-10-09 09:30")
        );
    }

    #[test]
    fn a_year_without_a_calendar_is_said_uncertain_never_guessed() {
        let last_year = Calendar::embedded().years().max().expect("a calendar year");
        let windows = BTreeMap::from([(
            "publicity".to_owned(),
            Window {
                start: at(last_year, 12, 28, 9, 0),
                end: at(last_year + 1, 1, 5, 18, 0),
            },
        )]);
        let c = clocks(
            &Engine::embedded(),
            &windows,
            "TENDER_CANDIDATE_ANNOUNCE",
            &Map::new(),
            None,
            Regime::Works,
            utc(at(last_year, 12, 29, 10, 0)),
        );
        assert!(
            c[0].status
                .contains(&format!("{} 年的工作日历尚未收录", last_year + 1)),
            "{}",
            c[0].status
        );
        assert!(c[0].status.starts_with("还剩 7 日"), "{}", c[0].status);
        assert_eq!(
            c[0].sentence,
            format!(
                "公示期 {last_year}-12-28 至 {}-01-05 18:00，质疑/异议须在公示期内提出",
                last_year + 1
            )
        );
        assert!(c[0].basis.iter().any(|b| b.rule == "W9"));
    }

    #[test]
    fn the_challenge_window_says_its_length_from_the_rule() {
        // A procurement award announced on Monday 2025-04-07 for one working day; the 7 working
        // days of 质疑 (G9) run from the end of the announcement.
        let windows = BTreeMap::from([
            (
                "announcement".to_owned(),
                Window {
                    start: at(2025, 4, 7, 9, 0),
                    end: at(2025, 4, 9, 0, 0),
                },
            ),
            (
                "challenge".to_owned(),
                Window {
                    start: at(2025, 4, 9, 0, 0),
                    end: at(2025, 4, 18, 0, 0),
                },
            ),
        ]);
        let c = clocks(
            &Engine::embedded(),
            &windows,
            "BID_DEAL_ANNOUNCE",
            &Map::new(),
            None,
            Regime::Procurement,
            utc(at(2025, 4, 8, 12, 0)),
        );
        assert_eq!(c[0].window, "announcement");
        assert_eq!(c[0].status, "今天结束（24:00）");
        assert_eq!(
            c[1].line(),
            "质疑期 7 个工作日，至 2025-04-17 24:00（尚未开始，2025-04-09 起）"
        );
        assert_eq!(c[1].basis[0].rule, "G9");
        assert!(c[1].basis[0].citation.contains("政府采购法"));
    }
}

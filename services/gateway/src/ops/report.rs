//! The publication report (`GET /ops/report`, `GET /ops/api/report?from=DATE&to=DATE[&format=csv]`):
//! the figures a trading centre states in its 政务公开工作年度报告 — notices published in a period
//! by kind (招标公告, 中标候选人公示, 中标结果公告, 更正公告, 终止公告), category (工程建设, 政府采购)
//! and region; the share published within its legal time limit; the timeliness from the notice's
//! own time to receipt and to publication; and rule violations by rule and region.
//!
//! "Published in the period" means a `notice.published` entry in the feed store whose time falls
//! on a Beijing date from `from` to `to`, both included. The legal time limits are the catalogue's
//! publication-delay rules (`check = "max_delay"`: W8, G7): a notice of a table such a rule covers,
//! that gives both fields the delay runs between, is within its limit unless it was published
//! with that rule's warning.

use crate::Gateway;
use crate::ops::auth::Operator;
use crate::ops::chart::{self, BarChart};
use crate::pages::{self, format};
use crate::routes::store_error;
use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use chrono::{
    DateTime, Datelike as _, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone as _, Utc,
};
use gongshi_domain::rules::Catalogue;
use gongshi_platform::store::report::{self as store, PublishedNotice, Violations};
use gongshi_platform::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The five kinds of notice, in the order the annual report lists them, with their names.
pub const KINDS: [(&str, &str); 5] = [
    ("tender", "招标公告"),
    ("candidates", "中标候选人公示"),
    ("award", "中标结果公告"),
    ("amendment", "更正公告"),
    ("termination", "终止公告"),
];

/// The categories (trading blocks, the domain's [`gongshi_domain::Regime::ALL`]), with their names.
pub const CATEGORIES: [(&str, &str); gongshi_domain::Regime::ALL.len()] = {
    let r = gongshi_domain::Regime::ALL;
    let mut out = [("", ""); gongshi_domain::Regime::ALL.len()];
    let mut i = 0;
    while i < r.len() {
        out[i] = (r[i].as_str(), r[i].zh());
        i += 1;
    }
    out
};

/// A kind's Chinese name (`tender` → 招标公告); the code itself when unknown.
pub fn kind_name(kind: &str) -> String {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or_else(|| kind.to_owned(), |(_, n)| (*n).to_owned())
}

/// The query: a period of Beijing dates (both included) and the format.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportQuery {
    /// First date, `YYYY-MM-DD` (default: 1 January of the legal clock's year).
    pub from: Option<String>,
    /// Last date, `YYYY-MM-DD` (default: the legal clock's today).
    pub to: Option<String>,
    /// `csv` for CSV; JSON otherwise.
    pub format: Option<String>,
}

/// `GET /ops/api/report`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// First date of the period.
    pub from: NaiveDate,
    /// Last date of the period (included).
    pub to: NaiveDate,
    /// Notices published in the period.
    pub total: i64,
    /// By kind: all five, in the annual report's order.
    pub by_kind: Vec<Count>,
    /// By category: both.
    pub by_category: Vec<Count>,
    /// By region (GB/T 2260 code and name), most first; `code` empty when unknown.
    pub by_region: Vec<Count>,
    /// The share published within its legal time limit.
    pub within_limit: WithinLimit,
    /// Notice time → received → published.
    pub timeliness: Timeliness,
    /// Rule violations of the records received in the period, by rule and region, most first.
    pub violations: Vec<Violation>,
}

/// A count under a code and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Count {
    /// The code (`tender`, `works`, `320300`).
    pub code: String,
    /// Its Chinese name.
    pub name: String,
    /// Notices.
    pub count: i64,
}

/// How many notices subject to a publication-delay rule were published within it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WithinLimit {
    /// Notices some delay rule applies to.
    pub subject: i64,
    /// Of those, published without any delay rule's warning.
    pub within: i64,
    /// `within / subject` (0..1); `null` when no notice is subject.
    pub share: Option<f64>,
    /// Per rule.
    pub rules: Vec<LimitRule>,
}

/// One publication-delay rule of the catalogue and the notices it covered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LimitRule {
    /// Rule id (`W8`, `G7`).
    pub rule: String,
    /// Its Chinese title (the law's words).
    pub title: String,
    /// Its citation.
    pub citation: String,
    /// Notices of the tables it covers.
    pub subject: i64,
    /// Of those, published without its warning.
    pub within: i64,
    /// `within / subject`; `null` when none.
    pub share: Option<f64>,
}

/// The three spans of a notice's way to the public.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Timeliness {
    /// The notice's own time (send or publicity start) → gongshi received it.
    pub notice_to_received: Spread,
    /// Received → published by gongshi (holds until a future send time included).
    pub received_to_published: Spread,
    /// The notice's own time → published.
    pub notice_to_published: Spread,
}

/// A distribution of durations in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Spread {
    /// Notices measured (those with both instants).
    pub count: usize,
    /// Median (nearest rank), seconds.
    pub median_s: Option<i64>,
    /// 90th percentile (nearest rank), seconds.
    pub p90_s: Option<i64>,
    /// Longest, seconds.
    pub max_s: Option<i64>,
    /// Counts per bucket, in [`BUCKETS`] order.
    pub buckets: Vec<Bucket>,
}

/// One bucket of a [`Spread`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// Its name.
    pub label: String,
    /// Notices in it.
    pub count: i64,
}

/// Duration buckets: a name and the exclusive upper bound in seconds (`None`: no bound). A
/// negative duration (received before the notice's own time) goes into the first.
pub const BUCKETS: [(&str, Option<i64>); 7] = [
    ("早于公告时间", Some(0)),
    ("1 分钟内", Some(60)),
    ("1 小时内", Some(3600)),
    ("1 天内", Some(86_400)),
    ("3 天内", Some(3 * 86_400)),
    ("7 天内", Some(7 * 86_400)),
    ("超过 7 天", None),
];

/// Rule violations of one rule in one region.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Violation {
    /// Rule id.
    pub rule: String,
    /// Its Chinese title, when the catalogue has it.
    pub title: String,
    /// GB/T 2260 code; `null` when the record never became a notice.
    pub region: Option<String>,
    /// The region's name (`未知地区` when unknown).
    pub region_name: String,
    /// Records.
    pub count: i64,
}

/// The distribution of `values` (seconds).
pub fn spread(mut values: Vec<i64>) -> Spread {
    values.sort_unstable();
    let rank = |q: f64| -> Option<i64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let at = ((q * n).ceil() as usize).clamp(1, values.len()) - 1;
        values.get(at).copied()
    };
    let mut buckets: Vec<Bucket> = BUCKETS
        .iter()
        .map(|(label, _)| Bucket {
            label: (*label).to_owned(),
            count: 0,
        })
        .collect();
    for v in &values {
        let i = BUCKETS
            .iter()
            .position(|(_, bound)| bound.is_none_or(|b| *v < b))
            .unwrap_or(BUCKETS.len() - 1);
        if let Some(b) = buckets.get_mut(i) {
            b.count += 1;
        }
    }
    Spread {
        count: values.len(),
        median_s: rank(0.5),
        p90_s: rank(0.9),
        max_s: values.last().copied(),
        buckets,
    }
}

fn share(within: i64, subject: i64) -> Option<f64> {
    (subject > 0).then(|| within as f64 / subject as f64)
}

/// Counts `items` under every code of `known` (in that order, zeros included).
fn counts_of<'a>(known: &[(&str, &str)], items: impl Iterator<Item = &'a str>) -> Vec<Count> {
    let mut found: BTreeMap<&str, i64> = BTreeMap::new();
    for item in items {
        *found.entry(item).or_default() += 1;
    }
    let mut out: Vec<Count> = known
        .iter()
        .map(|(code, name)| Count {
            code: (*code).to_owned(),
            name: (*name).to_owned(),
            count: found.remove(code).unwrap_or(0),
        })
        .collect();
    // Codes the list does not know (never expected) are still counted.
    out.extend(found.into_iter().map(|(code, count)| Count {
        code: code.to_owned(),
        name: code.to_owned(),
        count,
    }));
    out
}

/// The report over the notices published and the violations found in `[from, to]`.
pub fn compute(
    from: NaiveDate,
    to: NaiveDate,
    published: &[PublishedNotice],
    violations: Vec<Violations>,
    catalogue: &Catalogue,
) -> Report {
    let by_kind = counts_of(&KINDS, published.iter().map(|n| n.kind.as_str()));
    let by_category = counts_of(&CATEGORIES, published.iter().map(|n| n.category.as_str()));
    let mut regions: BTreeMap<String, i64> = BTreeMap::new();
    for n in published {
        *regions
            .entry(n.region.clone().unwrap_or_default())
            .or_default() += 1;
    }
    let mut by_region: Vec<Count> = regions
        .into_iter()
        .map(|(code, count)| Count {
            name: if code.is_empty() {
                "未知地区".to_owned()
            } else {
                format::region(&code)
            },
            code,
            count,
        })
        .collect();
    by_region.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));

    let mut delay_rules: Vec<_> = catalogue
        .rules()
        .filter(|r| r.check.as_deref() == Some("max_delay"))
        .collect();
    delay_rules.sort_by(|a, b| a.id.cmp(&b.id));
    // A delay between two fields is subject to its rule only when the notice gives both (the
    // check passes over one without them: W8 without an evaluation-report time is not "within").
    let covers = |rule: &gongshi_domain::rules::RuleDef, n: &PublishedNotice| {
        (rule.tables.is_empty() || rule.tables.contains(&n.table))
            && ["from", "to"]
                .iter()
                .filter_map(|p| rule.param_str(p))
                .all(|field| n.fields.iter().any(|f| f == field))
    };
    let (mut subject, mut within) = (0, 0);
    for n in published {
        let rules: Vec<_> = delay_rules.iter().filter(|r| covers(r, n)).collect();
        if !rules.is_empty() {
            subject += 1;
            if !rules.iter().any(|r| n.warnings.contains(&r.id)) {
                within += 1;
            }
        }
    }
    let rules = delay_rules
        .iter()
        .map(|rule| {
            let covered: Vec<_> = published.iter().filter(|n| covers(rule, n)).collect();
            let s = i64::try_from(covered.len()).unwrap_or(i64::MAX);
            let w = i64::try_from(
                covered
                    .iter()
                    .filter(|n| !n.warnings.contains(&rule.id))
                    .count(),
            )
            .unwrap_or(i64::MAX);
            LimitRule {
                rule: rule.id.clone(),
                title: rule.title.clone(),
                citation: rule.citation.clone(),
                subject: s,
                within: w,
                share: share(w, s),
            }
        })
        .collect();

    let span = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| {
        a.zip(b).map(|(a, b)| (b - a).num_seconds())
    };
    let timeliness = Timeliness {
        notice_to_received: spread(
            published
                .iter()
                .filter_map(|n| span(n.sent_at, n.received_at))
                .collect(),
        ),
        received_to_published: spread(
            published
                .iter()
                .filter_map(|n| span(n.received_at, Some(n.published_at)))
                .collect(),
        ),
        notice_to_published: spread(
            published
                .iter()
                .filter_map(|n| span(n.sent_at, Some(n.published_at)))
                .collect(),
        ),
    };
    let violations = violations
        .into_iter()
        .map(|v| Violation {
            title: catalogue
                .get(&v.rule)
                .map(|r| r.title.clone())
                .unwrap_or_default(),
            region_name: v
                .region
                .as_deref()
                .map_or_else(|| "未知地区".to_owned(), format::region),
            rule: v.rule,
            region: v.region,
            count: v.count,
        })
        .collect();
    Report {
        from,
        to,
        total: i64::try_from(published.len()).unwrap_or(i64::MAX),
        by_kind,
        by_category,
        by_region,
        within_limit: WithinLimit {
            subject,
            within,
            share: share(within, subject),
            rules,
        },
        timeliness,
        violations,
    }
}

/// Beijing time.
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// The instant a Beijing date begins.
fn day_start(date: NaiveDate) -> DateTime<Utc> {
    beijing()
        .from_local_datetime(&date.and_time(NaiveTime::MIN))
        .single()
        .map_or_else(
            || date.and_time(NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// The period asked for, defaulting to the legal clock's year so far; 400 for a malformed date
/// or `to` before `from`.
fn period(q: &ReportQuery, now: DateTime<Utc>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let today = now.with_timezone(&beijing()).date_naive();
    let parse = |value: Option<&str>, default: NaiveDate, name: &str| match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("{name} 应为 YYYY-MM-DD 格式的日期 ({name} must be a date YYYY-MM-DD)"),
            )
        }),
    };
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let from = parse(q.from.as_deref(), year_start, "from")?;
    let to = parse(q.to.as_deref(), today, "to")?;
    if to < from {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "to 不能早于 from (to is before from)",
        ));
    }
    Ok((from, to))
}

async fn gather(gw: &Gateway, q: &ReportQuery) -> Result<Report, ApiError> {
    let (from, to) = period(q, gw.clock.now())?;
    let (start, end) = (day_start(from), day_start(to + Duration::days(1)));
    let pool = &gw.store.pool;
    let (published, violations) = tokio::join!(
        store::published(pool, start, end),
        store::violations(pool, start, end)
    );
    Ok(compute(
        from,
        to,
        &published.map_err(store_error)?,
        violations.map_err(store_error)?,
        Catalogue::embedded(),
    ))
}

/// The report as CSV: a header row `section,code,name,count,share`, then one row per figure
/// (sections `total`, `kind`, `category`, `region`, `within_limit`, `timeliness`, `violation`).
/// Starts with a UTF-8 byte-order mark so that spreadsheet programs read the Chinese names.
pub fn to_csv(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(["section", "code", "name", "count", "share"])?;
    let period = format!("{} – {}", report.from, report.to);
    w.write_record(["total", "", period.as_str(), &report.total.to_string(), ""])?;
    for (section, counts) in [
        ("kind", &report.by_kind),
        ("category", &report.by_category),
        ("region", &report.by_region),
    ] {
        for c in counts {
            w.write_record([section, &c.code, &c.name, &c.count.to_string(), ""])?;
        }
    }
    let fmt_share = |s: Option<f64>| s.map(|s| format!("{s:.4}")).unwrap_or_default();
    let wl = &report.within_limit;
    w.write_record([
        "within_limit",
        "",
        "依法限时发布（全部）",
        &format!("{}/{}", wl.within, wl.subject),
        &fmt_share(wl.share),
    ])?;
    for r in &wl.rules {
        w.write_record([
            "within_limit",
            &r.rule,
            &r.title,
            &format!("{}/{}", r.within, r.subject),
            &fmt_share(r.share),
        ])?;
    }
    for (span, s) in [
        ("notice_to_received", &report.timeliness.notice_to_received),
        (
            "received_to_published",
            &report.timeliness.received_to_published,
        ),
        (
            "notice_to_published",
            &report.timeliness.notice_to_published,
        ),
    ] {
        let secs = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        w.write_record(["timeliness", span, "median_s", &secs(s.median_s), ""])?;
        w.write_record(["timeliness", span, "p90_s", &secs(s.p90_s), ""])?;
        for b in &s.buckets {
            w.write_record(["timeliness", span, &b.label, &b.count.to_string(), ""])?;
        }
    }
    for v in &report.violations {
        let code = format!("{}@{}", v.rule, v.region.as_deref().unwrap_or(""));
        let name = format!("{} · {}", v.region_name, v.title);
        w.write_record(["violation", &code, &name, &v.count.to_string(), ""])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// `GET /ops/api/report?from=DATE&to=DATE[&format=csv]`: JSON, or CSV with a header row
/// (`format=csv`, served as a download named after the period).
#[utoipa::path(get, path = "/ops/api/report", tag = "operators", operation_id = "ops_report",
    params(
        ("from" = Option<String>, Query, description = "First Beijing date, YYYY-MM-DD (default: 1 January of this year)"),
        ("to" = Option<String>, Query, description = "Last Beijing date, included (default: today)"),
        ("format" = Option<String>, Query, description = "`csv` for CSV with a header row `section,code,name,count,share`")),
    responses(
        (status = 200, description = "The report", content((Report = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A malformed date, or `to` before `from`", body = gongshi_platform::api_error::ErrorBody),
        (status = 401, description = "No operator credentials", body = gongshi_platform::api_error::ErrorBody)),
    security(("operator" = [])))]
pub async fn api(
    _op: Operator,
    State(gw): State<Gateway>,
    Query(q): Query<ReportQuery>,
) -> Response {
    let report = match gather(&gw, &q).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if q.format.as_deref() != Some("csv") {
        return Json(report).into_response();
    }
    match to_csv(&report) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"gongshi-report-{}-{}.csv\"",
                        report.from, report.to
                    ),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, message = "report CSV failed");
            ApiError::new(
                ErrorCode::Internal,
                "报表生成失败 (the report could not be written)",
            )
            .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "ops/report.html")]
struct ReportPage {
    op: Operator,
    r: Report,
    bars: BarChart,
    csv_href: String,
    within_share: String,
    timeliness: Vec<SpreadRow>,
}

struct SpreadRow {
    label: &'static str,
    s: Spread,
    median: String,
    p90: String,
    max: String,
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "—".to_owned(), |s| format!("{:.1}%", s * 100.0))
}

fn seconds_zh(v: Option<i64>) -> String {
    match v {
        None => "—".to_owned(),
        Some(s) if s < 0 => format!("提前 {}", crate::ops::overview::duration_zh(-s)),
        Some(s) => crate::ops::overview::duration_zh(s),
    }
}

/// `GET /ops/report?from=DATE&to=DATE`: the report page, with a chart by kind and a CSV link.
pub async fn page(
    op: Operator,
    State(gw): State<Gateway>,
    Query(q): Query<ReportQuery>,
) -> Response {
    let r = match gather(&gw, &q).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let bars = chart::bar_chart(
        "按公告类型统计的发布数",
        &r.by_kind
            .iter()
            .map(|c| (c.name.clone(), c.count as f64))
            .collect::<Vec<_>>(),
        640,
    );
    let t = &r.timeliness;
    let timeliness = [
        ("公告时间 → 收到", &t.notice_to_received),
        ("收到 → 发布", &t.received_to_published),
        ("公告时间 → 发布", &t.notice_to_published),
    ]
    .into_iter()
    .map(|(label, s)| SpreadRow {
        label,
        median: seconds_zh(s.median_s),
        p90: seconds_zh(s.p90_s),
        max: seconds_zh(s.max_s),
        s: s.clone(),
    })
    .collect();
    pages::html(
        StatusCode::OK,
        &ReportPage {
            op,
            csv_href: format!("/ops/api/report?from={}&to={}&format=csv", r.from, r.to),
            within_share: percent(r.within_limit.share),
            bars,
            timeliness,
            r,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn notice(table: &str, kind: &str, region: Option<&str>, warnings: &[&str]) -> PublishedNotice {
        PublishedNotice {
            notice_id: format!("{table}{kind}"),
            table: table.into(),
            kind: kind.into(),
            category: "works".into(),
            region: region.map(str::to_owned),
            sent_at: Some(at("2025-03-03T09:00:00+08:00")),
            received_at: Some(at("2025-03-03T09:00:30+08:00")),
            published_at: at("2025-03-03T09:02:00+08:00"),
            warnings: warnings.iter().map(|w| (*w).to_owned()).collect(),
            fields: [
                "EVALUATION_REPORT_TIME",
                "PUBLICITY_START_TIME",
                "NOTICE_SEND_TIME",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }

    #[test]
    fn counts_kinds_regions_and_the_share_within_the_delay_rules() {
        let published = [
            notice("TENDER_ANN_QUA_INQUERY_ANN", "tender", Some("320300"), &[]),
            notice(
                "TENDER_CANDIDATE_ANNOUNCE",
                "candidates",
                Some("320300"),
                &["W8"],
            ),
            notice("TENDER_CANDIDATE_ANNOUNCE", "candidates", None, &[]),
            // Without an evaluation-report time: W8 cannot be judged, so it is not "within".
            PublishedNotice {
                fields: vec!["PUBLICITY_START_TIME".to_owned()],
                ..notice(
                    "TENDER_CANDIDATE_ANNOUNCE",
                    "candidates",
                    Some("320100"),
                    &[],
                )
            },
        ];
        let date = NaiveDate::from_ymd_opt(2025, 3, 3).expect("date");
        let r = compute(date, date, &published, Vec::new(), Catalogue::embedded());
        assert_eq!(r.total, 4);
        let kinds: Vec<(&str, i64)> = r
            .by_kind
            .iter()
            .map(|c| (c.code.as_str(), c.count))
            .collect();
        assert_eq!(
            kinds,
            [
                ("tender", 1),
                ("candidates", 3),
                ("award", 0),
                ("amendment", 0),
                ("termination", 0)
            ]
        );
        assert_eq!(r.by_region[0].code, "320300");
        assert_eq!(r.by_region[0].count, 2);
        assert_eq!(r.by_region[1].name, "未知地区");
        // W8 covers the two candidate notices that give both times; one was late.
        assert_eq!((r.within_limit.subject, r.within_limit.within), (2, 1));
        let w8 = r
            .within_limit
            .rules
            .iter()
            .find(|x| x.rule == "W8")
            .expect("W8");
        assert_eq!((w8.subject, w8.within), (2, 1));
        assert!(r.within_limit.rules.iter().any(|x| x.rule == "G7"));
        assert_eq!(r.timeliness.notice_to_received.median_s, Some(30));
        assert_eq!(r.timeliness.received_to_published.max_s, Some(90));
        let csv = to_csv(&r).expect("csv");
        let text = String::from_utf8(csv).expect("utf-8");
        assert!(
            text.starts_with("\u{feff}section,code,name,count,share\n"),
            "{text}"
        );
        assert!(
            text.contains("kind,candidates,中标候选人公示,3,\n"),
            "{text}"
        );
    }

    #[test]
    fn spreads_use_nearest_ranks_and_fixed_buckets() {
        let s = spread(vec![-5, 10, 100, 4000, 90_000, 700_000]);
        assert_eq!(s.median_s, Some(100));
        assert_eq!(s.p90_s, Some(700_000));
        let counts: Vec<i64> = s.buckets.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 1, 1, 1, 1, 0, 1]);
        assert_eq!(spread(Vec::new()).median_s, None);
    }

    #[test]
    fn periods_default_to_the_year_so_far_and_refuse_nonsense() {
        let now = at("2025-03-05T10:00:00+08:00");
        let (f, t) = period(&ReportQuery::default(), now).expect("period");
        assert_eq!(
            (f.to_string(), t.to_string()),
            ("2025-01-01".into(), "2025-03-05".into())
        );
        let bad = ReportQuery {
            from: Some("2025-13-01".into()),
            ..ReportQuery::default()
        };
        assert!(period(&bad, now).is_err());
        let backwards = ReportQuery {
            from: Some("2025-03-05".into()),
            to: Some("2025-03-01".into()),
            format: None,
        };
        assert!(period(&backwards, now).is_err());
    }
}

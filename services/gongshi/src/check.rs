//! `gongshi check`: offline judgement of notice files, as api.md specifies. Records are taken in
//! argument order, then document order, and together form the procedures' state.

use chrono::Utc;
use clap::{Args, ValueEnum};
use gongshi_domain::period::{Engine, Ledger, Outcome, Verdict};
use gongshi_domain::rules::Catalogue;
use gongshi_domain::values::datetime::{self, DateOnly, Instant};
use gongshi_domain::{Document, Finding, Limits, Schemas, check_record};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object per record per line.
    Json,
}

/// Arguments of `gongshi check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The clock: RFC 3339 or `yyyy-MM-dd HH:mm` (Asia/Shanghai). Default: the real time.
    #[arg(long, value_parser = parse_now, env = "GONGSHI_NOW")]
    now: Option<Instant>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Folder of regional rule overrides (`<prefix>.toml`, see rules/README.md).
    #[arg(long, value_name = "DIR", env = "GONGSHI_REGION_RULES")]
    region_rules: Option<PathBuf>,
    /// Largest document accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_document_bytes, env = "GONGSHI_MAX_DOCUMENT_BYTES")]
    max_document_bytes: usize,
    /// Notice files (XML or JSON, single records or batches) or folders of them.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

fn parse_now(s: &str) -> Result<Instant, String> {
    datetime::parse(s, DateOnly::StartOfDay)
}

#[derive(Debug, Serialize)]
struct ReportFinding {
    rule: String,
    path: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<serde_json::Value>,
}

impl From<&Finding> for ReportFinding {
    fn from(f: &Finding) -> Self {
        Self {
            rule: f.rule.clone(),
            path: f.path.clone(),
            message: f.message.clone(),
            evidence: f.evidence.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Window {
    start: String,
    end: String,
}

#[derive(Debug, Serialize)]
struct RecordReport {
    file: String,
    index: usize,
    line: usize,
    table: Option<String>,
    procedure: Option<String>,
    notice_id: Option<String>,
    outcome: Outcome,
    hold_until: Option<String>,
    errors: Vec<ReportFinding>,
    warnings: Vec<ReportFinding>,
    windows: BTreeMap<String, Window>,
}

/// Runs the command; exit 0 when nothing is `reject` or `invalid`, 1 otherwise, 2 on usage or
/// I/O errors.
pub fn run(args: &CheckArgs) -> ExitCode {
    let now = args
        .now
        .unwrap_or_else(|| Utc::now().with_timezone(&datetime::shanghai()));
    match judge_files(args, now) {
        Ok(reports) => match print(args.format, &reports) {
            Ok(()) => ExitCode::from(u8::from(
                reports
                    .iter()
                    .any(|r| matches!(r.outcome, Outcome::Reject | Outcome::Invalid)),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(0),
            Err(e) => {
                eprintln!("gongshi check: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("gongshi check: {e}");
            ExitCode::from(2)
        }
    }
}

/// The catalogue with the regional overrides of `dir` added.
fn catalogue(dir: Option<&Path>) -> Result<&'static Catalogue, String> {
    let Some(dir) = dir else {
        return Ok(Catalogue::embedded());
    };
    let mut catalogue =
        Catalogue::parse(gongshi_domain::rules::CATALOGUE_TOML).map_err(|e| e.to_string())?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        catalogue
            .add_region(&text)
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    // One catalogue per process run: leaking it gives the engine the same 'static lifetime as the
    // embedded one.
    Ok(Box::leak(Box::new(catalogue)))
}

fn judge_files(args: &CheckArgs, now: Instant) -> Result<Vec<RecordReport>, String> {
    let files = expand(&args.files).map_err(|e| e.to_string())?;
    let limits = Limits {
        max_document_bytes: args.max_document_bytes,
        ..Limits::default()
    };
    let schemas = Schemas::embedded();
    let catalogue = catalogue(args.region_rules.as_deref())?;
    let engine = Engine {
        catalogue,
        ..Engine::embedded()
    };
    let mut ledger = Ledger::new();
    let mut reports: Vec<RecordReport> = Vec::new();

    for file in &files {
        let name = file.display().to_string();
        let bytes = std::fs::read(file).map_err(|e| format!("{name}: {e}"))?;
        match Document::parse(&bytes, limits) {
            Err(e) => {
                let (line, path) = match &e {
                    gongshi_domain::DocumentError::Xml { line, column, .. }
                    | gongshi_domain::DocumentError::Json { line, column, .. } => {
                        (*line, format!("{line}:{column}"))
                    }
                    _ => (0, String::new()),
                };
                let finding = catalogue.finding(e.rule(), path, format!("{name}: {e}"));
                reports.push(RecordReport {
                    file: name.clone(),
                    index: 0,
                    line,
                    table: None,
                    procedure: None,
                    notice_id: None,
                    outcome: Outcome::Invalid,
                    hold_until: None,
                    errors: vec![(&finding).into()],
                    warnings: Vec::new(),
                    windows: BTreeMap::new(),
                });
            }
            Ok(doc) => {
                let mut index = 0;
                doc.for_each_record(|raw| {
                    let checked = check_record(schemas, catalogue, raw);
                    let position = reports.len();
                    reports.push(RecordReport {
                        file: name.clone(),
                        index,
                        line: checked.line,
                        table: Some(checked.table.clone()),
                        procedure: checked.notice.as_ref().map(|n| n.procedure.to_string()),
                        notice_id: checked.notice.as_ref().map(|n| n.id.clone()),
                        outcome: Outcome::Invalid,
                        hold_until: None,
                        errors: checked.errors().map(Into::into).collect(),
                        warnings: checked.warnings().map(Into::into).collect(),
                        windows: BTreeMap::new(),
                    });
                    index += 1;
                    if checked.is_valid()
                        && let Some(notice) = checked.notice
                    {
                        for (at, verdict) in ledger.submit(&engine, position, notice, now) {
                            apply(&mut reports[at], &verdict);
                        }
                    }
                });
            }
        }
    }
    Ok(reports)
}

/// Puts a verdict into a record's report, replacing an earlier verdict (a released park).
fn apply(report: &mut RecordReport, verdict: &Verdict) {
    report.outcome = verdict.outcome;
    report.hold_until = verdict.hold_until.map(|h| datetime::canonical(&h));
    report.errors.retain(|f| !is_period_rule(&f.rule));
    report.warnings.retain(|f| !is_period_rule(&f.rule));
    for f in &verdict.findings {
        if f.is_error() {
            report.errors.push(f.into());
        } else {
            report.warnings.push(f.into());
        }
    }
    report.windows = verdict
        .windows
        .iter()
        .map(|(k, w)| {
            (
                k.clone(),
                Window {
                    start: datetime::canonical(&w.start),
                    end: datetime::canonical(&w.end),
                },
            )
        })
        .collect();
}

fn is_period_rule(id: &str) -> bool {
    Catalogue::embedded().get(id).is_some_and(|r| {
        matches!(
            r.stage,
            gongshi_domain::rules::Stage::Period | gongshi_domain::rules::Stage::Publication
        )
    })
}

fn print(format: Format, reports: &[RecordReport]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for report in reports {
        *counts.entry(report.outcome.as_str()).or_default() += 1;
        match format {
            Format::Json => writeln!(
                out,
                "{}",
                serde_json::to_string(report).map_err(std::io::Error::other)?
            )?,
            Format::Text => write_text(&mut out, report)?,
        }
    }
    if let Format::Text = format {
        let parts: Vec<String> = ["publish", "hold", "park", "reject", "invalid"]
            .iter()
            .map(|k| format!("{} {k}", counts.get(k).copied().unwrap_or(0)))
            .collect();
        writeln!(out, "{} records: {}", reports.len(), parts.join(", "))?;
    }
    out.flush()
}

fn write_text(out: &mut impl Write, r: &RecordReport) -> std::io::Result<()> {
    let mut head = format!("{} #{}", r.file, r.index + 1);
    if r.line > 0 {
        head.push_str(&format!(" (line {})", r.line));
    }
    if let Some(t) = &r.table {
        head.push(' ');
        head.push_str(t);
    }
    if let Some(p) = &r.procedure {
        head.push(' ');
        head.push_str(p);
    }
    writeln!(out, "{head}: {}", r.outcome.as_str().to_uppercase())?;
    if let Some(h) = &r.hold_until {
        writeln!(out, "  hold until {h}")?;
    }
    for (name, w) in &r.windows {
        writeln!(out, "  window {name}: {} → {}", w.start, w.end)?;
    }
    for f in &r.errors {
        writeln!(out, "  error   {} {}: {}", f.rule, f.path, f.message)?;
    }
    for f in &r.warnings {
        writeln!(out, "  warning {} {}: {}", f.rule, f.path, f.message)?;
    }
    Ok(())
}

/// Files as given, folders expanded to their `.xml` / `.json` files in name order.
fn expand(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_dir(path, &mut out)?;
        } else {
            std::fs::metadata(path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_dir(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "xml" || x == "json") {
            out.push(p);
        }
    }
    Ok(())
}

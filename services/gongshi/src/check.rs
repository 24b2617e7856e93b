//! `gongshi check`: offline judgement of notice files, as api.md specifies. Records are taken in
//! argument order, then document order, and together form the procedures' state.

use chrono::Utc;
use clap::{Args, ValueEnum};
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

/// What a record came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Publish now.
    Publish,
    /// Publish by itself at `hold_until`.
    Hold,
    /// Its parent stage is unknown yet.
    Park,
    /// A legal rule failed.
    Reject,
    /// Parse, schema or identifier failure.
    Invalid,
}

#[derive(Debug, Serialize)]
struct ReportFinding {
    rule: String,
    path: String,
    message: String,
}

impl From<&Finding> for ReportFinding {
    fn from(f: &Finding) -> Self {
        Self { rule: f.rule.clone(), path: f.path.clone(), message: f.message.clone() }
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

/// Runs the command; exit 0 when nothing is `reject` or `invalid`, 1 otherwise, 2 on I/O errors.
pub fn run(args: &CheckArgs) -> ExitCode {
    let _now = args.now.unwrap_or_else(|| Utc::now().with_timezone(&datetime::shanghai()));
    let files = match expand(&args.files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gongshi check: {e}");
            return ExitCode::from(2);
        }
    };
    let limits = Limits { max_document_bytes: args.max_document_bytes, ..Limits::default() };
    let schemas = Schemas::embedded();
    let catalogue = Catalogue::embedded();
    let mut out = std::io::stdout().lock();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut failed = false;

    for file in &files {
        let name = file.display().to_string();
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("gongshi check: {name}: {e}");
                return ExitCode::from(2);
            }
        };
        let mut reports = Vec::new();
        match Document::parse(&bytes, limits) {
            Err(e) => {
                let (line, path) = match &e {
                    gongshi_domain::DocumentError::Xml { line, column, .. }
                    | gongshi_domain::DocumentError::Json { line, column, .. } => (*line, format!("{line}:{column}")),
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
                    let checked = check_record(schemas, catalogue, &raw);
                    let outcome = if checked.is_valid() { Outcome::Publish } else { Outcome::Invalid };
                    reports.push(RecordReport {
                        file: name.clone(),
                        index,
                        line: checked.line,
                        table: Some(checked.table.clone()),
                        procedure: checked.notice.as_ref().map(|n| n.procedure.to_string()),
                        notice_id: checked.notice.as_ref().map(|n| n.id.clone()),
                        outcome,
                        hold_until: None,
                        errors: checked.errors().map(Into::into).collect(),
                        warnings: checked.warnings().map(Into::into).collect(),
                        windows: BTreeMap::new(),
                    });
                    index += 1;
                });
            }
        }
        for report in &reports {
            failed |= matches!(report.outcome, Outcome::Reject | Outcome::Invalid);
            *counts.entry(outcome_name(report.outcome)).or_default() += 1;
            let written = match args.format {
                Format::Json => serde_json::to_string(report)
                    .map_err(std::io::Error::other)
                    .and_then(|line| writeln!(out, "{line}")),
                Format::Text => write_text(&mut out, report),
            };
            if let Err(e) = written {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::from(if failed { 1 } else { 0 });
                }
                eprintln!("gongshi check: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Format::Text = args.format {
        let total: usize = counts.values().sum();
        let parts: Vec<String> = ["publish", "hold", "park", "reject", "invalid"]
            .iter()
            .map(|k| format!("{} {k}", counts.get(k).copied().unwrap_or(0)))
            .collect();
        let _ = writeln!(out, "{total} records: {}", parts.join(", "));
    }
    ExitCode::from(if failed { 1 } else { 0 })
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Publish => "publish",
        Outcome::Hold => "hold",
        Outcome::Park => "park",
        Outcome::Reject => "reject",
        Outcome::Invalid => "invalid",
    }
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
    writeln!(out, "{head}: {}", outcome_name(r.outcome).to_uppercase())?;
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
            std::fs::metadata(path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
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

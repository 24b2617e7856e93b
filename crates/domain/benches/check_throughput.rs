//! Throughput of the domain `check` on a generated corpus, for comparison with Python's
//! `jsonschema` (see `scripts/bench/check.sh`, which runs this and the Python baseline together).
//!
//! The corpus is deterministic: record `i` is the valid example `i mod 16` of
//! `schemas/tables/examples/<TABLE>/valid/` (two per notice table, so every table takes its turn),
//! varied so that no two records are alike yet every one stays valid: its own project code (and so
//! section codes, candidates' codes, URLs and texts that mention it), a numbered title, amounts
//! scaled by a per-record factor and sent in 元 or 万元 (by name or by code 1/2, sometimes with
//! thousands separators), every date-time shifted by a per-record number of days and written in
//! one of the wire forms (`2025-03-03 09:00:00`, `2025-03-03 09:00`, RFC 3339, date-only),
//! `;`-separated section codes, party codes sometimes full-width or lower case, long texts
//! sometimes in CDATA, and nested `<TENDER_CANDIDATE>` sub-records.
//!
//! It writes, under `GONGSHI_BENCH_OUT` (default `target/bench-check` of the workspace; a
//! relative path is taken from the workspace root):
//! - `xml/batch-NNNNN.xml`: the corpus in wire format, one `<BATCH>` document per 500 records;
//! - `canonical.jsonl`: the canonical JSON of every record, as `check_record` produced it, one a
//!   line (what the Python baseline validates);
//! - `rust.json`: the figures below.
//!
//! Before timing, every record is checked and must be valid with a typed notice, and its canonical
//! JSON (read back from `canonical.jsonl`) must pass its schema: a broken corpus panics.
//!
//! It measures, after one warm-up pass, the median of `GONGSHI_BENCH_REPS` (default 5) passes of:
//! - `check`: bytes → `Document::parse` → `check_record` for every record (records/s and MB/s);
//! - `schema-only`: `Schemas::validate` over the canonical JSON values (the like-for-like
//!   comparison with Python's `jsonschema`);
//! - the stages one by one (parse, normalise, validate, identifier checks, typed notice), and the
//!   `jsonschema` crate's `is_valid` on the same schemas, to show where the time goes.
//!
//! `GONGSHI_BENCH_RECORDS` sets the corpus size (default 10,000).

// The allocator the `gongshi` binary runs with (services/gongshi/src/main.rs), so that the figures
// are those of `gongshi check`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use gongshi_domain::normalize::normalize;
use gongshi_domain::parse::RawRecord;
use gongshi_domain::rules::Catalogue;
use gongshi_domain::schema::{FieldType, TableSpec};
use gongshi_domain::{Document, Limits, Notice, Schemas, check_record, ident};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Records per `<BATCH>` document.
const RECORDS_PER_DOCUMENT: usize = 500;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Config {
    records: usize,
    reps: usize,
    out: PathBuf,
}

impl Config {
    fn from_env() -> Config {
        let number = |name: &str, default: usize| match std::env::var(name) {
            Ok(v) => v
                .trim()
                .replace('_', "")
                .parse::<usize>()
                .unwrap_or_else(|e| panic!("{name}={v}: not a whole number: {e}")),
            Err(_) => default,
        };
        let records = number("GONGSHI_BENCH_RECORDS", 10_000);
        let reps = number("GONGSHI_BENCH_REPS", 5);
        assert!(records > 0, "GONGSHI_BENCH_RECORDS must be at least 1");
        assert!(reps > 0, "GONGSHI_BENCH_REPS must be at least 1");
        let out = match std::env::var_os("GONGSHI_BENCH_OUT") {
            Some(p) if Path::new(&p).is_absolute() => PathBuf::from(p),
            Some(p) => workspace_root().join(p),
            None => workspace_root().join("target/bench-check"),
        };
        Config { records, reps, out }
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus generation
// ---------------------------------------------------------------------------------------------

/// A valid canonical example to vary.
struct Template {
    table: &'static TableSpec,
    file: String,
    record: Map<String, Value>,
}

fn load_templates(schemas: &'static Schemas) -> Vec<Template> {
    let root = workspace_root().join("schemas/tables/examples");
    let mut tables: Vec<&TableSpec> = schemas.notice_tables().collect();
    tables.sort_by(|a, b| a.code.cmp(&b.code));
    // Interleave the tables: example 0 of every table, then example 1 of every table, …
    let mut out: Vec<(usize, Template)> = Vec::new();
    for table in tables {
        let dir = root.join(&table.code).join("valid");
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no valid examples", dir.display());
        for (k, file) in files.into_iter().enumerate() {
            let text =
                fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let Value::Object(record) =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            else {
                panic!("{}: not a JSON object", file.display());
            };
            let file = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((
                k,
                Template {
                    table,
                    file,
                    record,
                },
            ));
        }
    }
    out.sort_by(|(ka, a), (kb, b)| ka.cmp(kb).then_with(|| a.table.code.cmp(&b.table.code)));
    out.into_iter().map(|(_, t)| t).collect()
}

/// How record `index` differs from its template.
struct Variation<'a> {
    index: usize,
    /// The template's project code and the record's own.
    project_from: Option<&'a str>,
    project_to: String,
    /// Days every date-time is moved by.
    shift_days: i64,
    /// Amount factor in per mille (500‥1499).
    amount_per_mille: i64,
    /// Counter of date-time fields written, to rotate their wire forms.
    datetime_counter: usize,
}

impl Variation<'_> {
    fn codes(&self, text: &str) -> String {
        match self.project_from {
            Some(from) if !from.is_empty() => text.replace(from, &self.project_to),
            _ => text.to_owned(),
        }
    }
}

/// The wire form of the unit field `unit_field` in record `index`: `(text, is 万元)`.
fn unit_choice(index: usize, unit_field: &str) -> (&'static str, bool) {
    let salt = unit_field.bytes().map(usize::from).sum::<usize>();
    match (index + salt) % 4 {
        0 => ("元", false),
        1 => ("1", false),
        2 => ("万元", true),
        _ => ("2", true),
    }
}

fn xml_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
}

fn element(out: &mut String, indent: usize, name: &str, text: &str, cdata: bool) {
    out.extend(std::iter::repeat_n(' ', indent));
    out.push('<');
    out.push_str(name);
    out.push('>');
    if cdata && !text.contains("]]>") {
        out.push_str("<![CDATA[");
        out.push_str(text);
        out.push_str("]]>");
    } else {
        xml_escape(text, out);
    }
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

fn group_thousands(plain: &str) -> String {
    let (int, frac) = match plain.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (plain, None),
    };
    let mut grouped = String::new();
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if let Some(f) = frac {
        grouped.push('.');
        grouped.push_str(f);
    }
    grouped
}

fn wire_datetime(canonical: &str, end: bool, v: &mut Variation<'_>) -> String {
    let instant = chrono::DateTime::parse_from_rfc3339(canonical)
        .unwrap_or_else(|e| panic!("template date-time {canonical}: {e}"));
    let instant = instant + chrono::TimeDelta::days(v.shift_days);
    let form = (v.index + v.datetime_counter) % 4;
    v.datetime_counter += 1;
    let midnight = instant.format("%H:%M:%S").to_string() == "00:00:00";
    let whole_minute = instant.format("%S").to_string() == "00";
    match form {
        1 if whole_minute => instant.format("%Y-%m-%d %H:%M").to_string(),
        2 => instant.to_rfc3339(),
        // Date-only: 00:00 of that day for an instant, 24:00 (so the day before) for an end.
        3 if midnight && !end => instant.format("%Y-%m-%d").to_string(),
        3 if midnight && end => (instant - chrono::TimeDelta::days(1))
            .format("%Y-%m-%d")
            .to_string(),
        _ => instant.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

fn wire_amount(canonical: &str, unit_field: &str, v: &Variation<'_>) -> String {
    let yuan =
        Decimal::from_str(canonical).unwrap_or_else(|e| panic!("template amount {canonical}: {e}"));
    let yuan = (yuan * Decimal::from(v.amount_per_mille) / Decimal::from(1000)).round_dp(2);
    let (_, wan) = unit_choice(v.index, unit_field);
    if wan {
        (yuan / Decimal::from(10_000)).normalize().to_string()
    } else if v.index.is_multiple_of(5) {
        group_thousands(&format!("{yuan:.2}"))
    } else {
        format!("{yuan:.2}")
    }
}

fn as_str<'a>(value: &'a Value, table: &str, field: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("template {table}.{field}: expected a string, got {value}"))
}

/// Writes one record element (and its sub-records) in wire format.
fn write_record(
    schemas: &Schemas,
    table: &TableSpec,
    record: &Map<String, Value>,
    v: &mut Variation<'_>,
    indent: usize,
    out: &mut String,
) {
    let pad = " ".repeat(indent);
    let _ = writeln!(out, "{pad}<{}>", table.code);
    let inner = indent + 2;
    for (name, value) in record {
        if name == "TABLE" {
            continue;
        }
        if name == "extra" {
            let Value::Object(extra) = value else {
                panic!("template {}.extra: not an object", table.code);
            };
            for (k, x) in extra {
                element(out, inner, k, &v.codes(as_str(x, &table.code, k)), false);
            }
            continue;
        }
        let spec = table
            .field(name)
            .unwrap_or_else(|| panic!("template field {}.{name} is not in the schema", table.code));
        match &spec.ty {
            FieldType::Records(sub) => {
                let sub_table = schemas
                    .table(sub)
                    .unwrap_or_else(|| panic!("sub-record table {sub} unknown"));
                let Value::Array(items) = value else {
                    panic!("template {}.{name}: not an array", table.code);
                };
                for item in items {
                    let Value::Object(child) = item else {
                        panic!("template {}.{name}: item not an object", table.code);
                    };
                    write_record(schemas, sub_table, child, v, inner, out);
                }
            }
            FieldType::CodeList => {
                let Value::Array(items) = value else {
                    panic!("template {}.{name}: not an array", table.code);
                };
                let codes: Vec<String> = items
                    .iter()
                    .map(|c| v.codes(as_str(c, &table.code, name)))
                    .collect();
                element(out, inner, name, &codes.join(";"), false);
            }
            FieldType::DateTime | FieldType::DateTimeEnd => {
                let text = wire_datetime(
                    as_str(value, &table.code, name),
                    spec.ty == FieldType::DateTimeEnd,
                    v,
                );
                element(out, inner, name, &text, false);
            }
            FieldType::Amount => {
                let unit_field = spec
                    .unit_field
                    .as_deref()
                    .unwrap_or_else(|| panic!("{}.{name}: amount without unit", table.code));
                let text = wire_amount(as_str(value, &table.code, name), unit_field, v);
                element(out, inner, name, &text, false);
            }
            FieldType::Unit => {
                element(out, inner, name, unit_choice(v.index, name).0, false);
            }
            FieldType::PartyCode => {
                let code = as_str(value, &table.code, name);
                let text = match v.index % 11 {
                    3 => full_width(code),
                    7 => code.to_ascii_lowercase(),
                    _ => code.to_owned(),
                };
                element(out, inner, name, &text, false);
            }
            FieldType::Text => {
                let mut text = v.codes(as_str(value, &table.code, name));
                if table.title_field.as_deref() == Some(name.as_str()) {
                    let _ = write!(text, "（第{:05}号）", v.index);
                }
                let cdata = text.contains('\n') && v.index.is_multiple_of(2);
                element(out, inner, name, &text, cdata);
            }
            FieldType::Code => {
                element(
                    out,
                    inner,
                    name,
                    &v.codes(as_str(value, &table.code, name)),
                    false,
                );
            }
            FieldType::Region | FieldType::Flag | FieldType::Integer => {
                element(out, inner, name, as_str(value, &table.code, name), false);
            }
        }
    }
    let _ = writeln!(out, "{pad}</{}>", table.code);
}

/// The corpus as `<BATCH>` documents.
fn generate(schemas: &Schemas, templates: &[Template], records: usize) -> Vec<Vec<u8>> {
    let mut docs = Vec::new();
    let mut doc = String::new();
    for index in 0..records {
        if index.is_multiple_of(RECORDS_PER_DOCUMENT) {
            doc = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BATCH>\n");
        }
        let template = &templates[index % templates.len()];
        let project_from = template
            .table
            .project_field
            .as_deref()
            .and_then(|f| template.record.get(f))
            .and_then(Value::as_str);
        // A multiplicative hash spreads shifts and factors without any random source.
        let spread = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        let mut v = Variation {
            index,
            project_from,
            project_to: format!("{}-{index:06}", project_from.unwrap_or("P")),
            shift_days: i64::try_from(spread % 420).expect("small"),
            amount_per_mille: 500 + i64::try_from(spread % 1000).expect("small"),
            datetime_counter: 0,
        };
        write_record(
            schemas,
            template.table,
            &template.record,
            &mut v,
            2,
            &mut doc,
        );
        if (index + 1).is_multiple_of(RECORDS_PER_DOCUMENT) || index + 1 == records {
            doc.push_str("</BATCH>\n");
            docs.push(std::mem::take(&mut doc).into_bytes());
        }
    }
    docs
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

struct Timing {
    runs: Vec<Duration>,
}

impl Timing {
    fn median(&self) -> Duration {
        let mut sorted = self.runs.clone();
        sorted.sort();
        let n = sorted.len();
        if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        }
    }

    fn per_second(&self, count: usize) -> f64 {
        count as f64 / self.median().as_secs_f64()
    }

    fn json(&self, records: usize, bytes: Option<usize>) -> Value {
        let mut o = json!({
            "records": records,
            "median_s": self.median().as_secs_f64(),
            "runs_s": self.runs.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            "records_per_s": self.per_second(records),
            "us_per_record": self.median().as_secs_f64() * 1e6 / records as f64,
        });
        if let Some(b) = bytes {
            o["bytes"] = json!(b);
            o["mb_per_s"] = json!(b as f64 / 1e6 / self.median().as_secs_f64());
        }
        o
    }
}

/// One warm-up pass, then `reps` timed passes of `pass`.
fn measure(reps: usize, mut pass: impl FnMut()) -> Timing {
    pass();
    let runs = (0..reps)
        .map(|_| {
            let start = Instant::now();
            pass();
            start.elapsed()
        })
        .collect();
    Timing { runs }
}

fn line(label: &str, t: &Timing, records: usize, bytes: Option<usize>) {
    let mb = bytes.map_or(String::new(), |b| {
        format!(", {:.2} MB/s", b as f64 / 1e6 / t.median().as_secs_f64())
    });
    let mut runs = t.runs.clone();
    runs.sort();
    println!(
        "{label}: {records} records, {:.0} records/s{mb}, {:.2} µs/record (median of {}; runs {:.1}–{:.1} ms)",
        t.per_second(records),
        t.median().as_secs_f64() * 1e6 / records as f64,
        runs.len(),
        runs.first().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        runs.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
}

/// The `jsonschema` crate's validators for the same files, built as `Schemas::load` builds them,
/// to time `is_valid` (no error collection) next to `Schemas::validate`.
fn raw_validators() -> BTreeMap<String, jsonschema::Validator> {
    const BASE: &str = "https://gongshi.invalid/schemas/tables/";
    let dir = workspace_root().join("schemas/tables");
    let mut documents = Vec::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(code) = name.strip_suffix(".schema.json") {
            let text =
                fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let value: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            documents.push((code.to_owned(), value));
        }
    }
    let mut registry = jsonschema::Registry::new();
    for (code, doc) in &documents {
        registry = registry
            .add(format!("{BASE}{code}.schema.json").as_str(), doc.clone())
            .unwrap_or_else(|e| panic!("registry {code}: {e}"));
    }
    let registry = registry
        .prepare()
        .unwrap_or_else(|e| panic!("registry: {e}"));
    documents
        .iter()
        .filter(|(code, _)| code != "common")
        .map(|(code, doc)| {
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .with_registry(&registry)
                .build(doc)
                .unwrap_or_else(|e| panic!("validator {code}: {e}"));
            (code.clone(), validator)
        })
        .collect()
}

fn table_of<'s>(schemas: &'s Schemas, value: &Value) -> &'s TableSpec {
    let code = value
        .get("TABLE")
        .and_then(Value::as_str)
        .expect("canonical record has a TABLE");
    schemas
        .table(code)
        .unwrap_or_else(|| panic!("table {code} unknown"))
}

fn main() {
    let cfg = Config::from_env();
    let schemas = Schemas::embedded();
    let catalogue = Catalogue::embedded();
    let limits = Limits::default();

    // -- Corpus ------------------------------------------------------------------------------
    let templates = load_templates(schemas);
    let docs = generate(schemas, &templates, cfg.records);
    let xml_bytes: usize = docs.iter().map(Vec::len).sum();
    let xml_dir = cfg.out.join("xml");
    if xml_dir.exists() {
        fs::remove_dir_all(&xml_dir).unwrap_or_else(|e| panic!("{}: {e}", xml_dir.display()));
    }
    fs::create_dir_all(&xml_dir).unwrap_or_else(|e| panic!("{}: {e}", xml_dir.display()));
    let out = fs::canonicalize(&cfg.out).unwrap_or_else(|e| panic!("{}: {e}", cfg.out.display()));
    for (k, doc) in docs.iter().enumerate() {
        assert!(
            doc.len() <= limits.max_document_bytes,
            "document {k} is {} bytes, over the {} byte limit",
            doc.len(),
            limits.max_document_bytes
        );
        let path = xml_dir.join(format!("batch-{:05}.xml", k + 1));
        fs::write(&path, doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    // -- Every record must be valid; its canonical JSON is the Python baseline's input --------
    let mut jsonl = String::new();
    let mut per_table: BTreeMap<String, usize> = BTreeMap::new();
    let mut warnings: BTreeMap<String, usize> = BTreeMap::new();
    let mut index = 0usize;
    let mut raws: Vec<RawRecord> = Vec::with_capacity(cfg.records);
    for (k, doc) in docs.iter().enumerate() {
        let parsed = Document::parse(doc, limits)
            .unwrap_or_else(|e| panic!("document {} does not parse: {e}", k + 1));
        parsed.for_each_record(|raw| {
            let checked = check_record(schemas, catalogue, raw);
            let template = &templates[index % templates.len()];
            assert!(
                checked.is_valid(),
                "generated record {index} ({} from {}, document {} line {}) is not valid: {:#?}",
                checked.table,
                template.file,
                k + 1,
                raw.line,
                checked.errors().collect::<Vec<_>>()
            );
            for w in checked.warnings() {
                *warnings.entry(w.rule.clone()).or_default() += 1;
            }
            *per_table.entry(checked.table.clone()).or_default() += 1;
            let canonical = checked
                .into_canonical()
                .expect("a valid record has canonical JSON");
            jsonl.push_str(
                &serde_json::to_string(&Value::Object(canonical)).expect("canonical serialises"),
            );
            jsonl.push('\n');
            raws.push(raw.clone());
            index += 1;
        });
    }
    assert_eq!(index, cfg.records, "records read back ≠ records generated");
    assert_eq!(
        per_table.len(),
        schemas.notice_tables().count(),
        "every notice table in the corpus: {per_table:?}"
    );
    let jsonl_path = out.join("canonical.jsonl");
    fs::write(&jsonl_path, &jsonl).unwrap_or_else(|e| panic!("{}: {e}", jsonl_path.display()));

    // Read back as the Python baseline does: one JSON value per line.
    let values: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("canonical.jsonl line parses"))
        .collect();
    for (i, value) in values.iter().enumerate() {
        let findings = schemas.validate(table_of(schemas, value), value);
        assert!(
            findings.is_empty(),
            "canonical record {i} fails its schema: {findings:#?}"
        );
    }
    let tables_of: Vec<&TableSpec> = values.iter().map(|v| table_of(schemas, v)).collect();

    let n = cfg.records;
    println!(
        "corpus: {n} records in {} documents, {xml_bytes} bytes of XML ({:.0} bytes/record), {} bytes of canonical JSON Lines, in {}",
        docs.len(),
        xml_bytes as f64 / n as f64,
        jsonl.len(),
        out.display()
    );
    println!("corpus tables: {per_table:?}");
    println!("corpus warnings (expected, not errors): {warnings:?}");

    // -- Full check ------------------------------------------------------------------------------
    let check = measure(cfg.reps, || {
        let mut valid = 0usize;
        for doc in &docs {
            let parsed = Document::parse(doc, limits).expect("parsed before");
            parsed.for_each_record(|raw| {
                let checked = check_record(schemas, catalogue, raw);
                valid += usize::from(checked.is_valid());
                black_box(checked);
            });
        }
        assert_eq!(valid, n, "every record valid in every pass");
    });

    // -- Schema validation only (like-for-like with Python) -----------------------------------
    let schema_only = measure(cfg.reps, || {
        let mut errors = 0usize;
        for (value, table) in values.iter().zip(&tables_of) {
            errors += schemas.validate(table, black_box(value)).len();
        }
        assert_eq!(errors, 0);
    });

    // -- Stages ------------------------------------------------------------------------------
    let parse = measure(cfg.reps, || {
        let mut count = 0usize;
        for doc in &docs {
            let parsed = Document::parse(doc, limits).expect("parsed before");
            parsed.for_each_record(|raw| {
                count += 1;
                black_box(raw);
            });
        }
        assert_eq!(count, n);
    });
    let raw_tables: Vec<&TableSpec> = raws
        .iter()
        .map(|r| schemas.table(&r.table).expect("known table"))
        .collect();
    let normalise = measure(cfg.reps, || {
        let mut findings = Vec::new();
        for (raw, table) in raws.iter().zip(&raw_tables) {
            findings.clear();
            let mut canonical = normalize(schemas, catalogue, table, raw, "", &mut findings);
            canonical.insert("TABLE".into(), Value::String(table.code.clone()));
            black_box(canonical);
        }
    });
    let maps: Vec<&Map<String, Value>> = values
        .iter()
        .map(|v| v.as_object().expect("canonical record is an object"))
        .collect();
    let identifiers = measure(cfg.reps, || {
        let mut findings = Vec::new();
        for (map, table) in maps.iter().zip(&tables_of) {
            findings.clear();
            ident::check(schemas, catalogue, table, map, "", &mut findings);
            black_box(&findings);
        }
    });
    let notice = measure(cfg.reps, || {
        for (map, table) in maps.iter().zip(&tables_of) {
            let n = Notice::from_canonical(table, (*map).clone()).expect("typed notice");
            black_box(n);
        }
    });
    let raw = raw_validators();
    let raw_of: Vec<&jsonschema::Validator> = tables_of
        .iter()
        .map(|t| raw.get(&t.code).expect("validator for every table"))
        .collect();
    let crate_is_valid = measure(cfg.reps, || {
        let mut valid = 0usize;
        for (value, validator) in values.iter().zip(&raw_of) {
            valid += usize::from(validator.is_valid(black_box(value)));
        }
        assert_eq!(valid, n);
    });
    let crate_iter_errors = measure(cfg.reps, || {
        let mut errors = 0usize;
        for (value, validator) in values.iter().zip(&raw_of) {
            errors += validator.iter_errors(black_box(value)).count();
        }
        assert_eq!(errors, 0);
    });

    line("check", &check, n, Some(xml_bytes));
    line("schema-only", &schema_only, n, None);
    line(
        "stage parse (Document::parse + records)",
        &parse,
        n,
        Some(xml_bytes),
    );
    line("stage normalise", &normalise, n, None);
    line("stage validate (= schema-only)", &schema_only, n, None);
    line("stage identifiers (ident::check)", &identifiers, n, None);
    line(
        "stage typed notice (clone + Notice::from_canonical)",
        &notice,
        n,
        None,
    );
    line("jsonschema crate is_valid", &crate_is_valid, n, None);
    line("jsonschema crate iter_errors", &crate_iter_errors, n, None);
    let stage_sum = [&parse, &normalise, &schema_only, &identifiers, &notice]
        .iter()
        .map(|t| t.median().as_secs_f64())
        .sum::<f64>();
    println!(
        "stages sum to {:.1} ms against {:.1} ms for check; shares: parse {:.0}%, normalise {:.0}%, validate {:.0}%, identifiers {:.0}%, notice {:.0}%",
        stage_sum * 1e3,
        check.median().as_secs_f64() * 1e3,
        100.0 * parse.median().as_secs_f64() / stage_sum,
        100.0 * normalise.median().as_secs_f64() / stage_sum,
        100.0 * schema_only.median().as_secs_f64() / stage_sum,
        100.0 * identifiers.median().as_secs_f64() / stage_sum,
        100.0 * notice.median().as_secs_f64() / stage_sum,
    );

    let report = json!({
        "records": n,
        "documents": docs.len(),
        "xml_bytes": xml_bytes,
        "jsonl_bytes": jsonl.len(),
        "reps": cfg.reps,
        "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(0),
        "tables": per_table,
        "check": check.json(n, Some(xml_bytes)),
        "schema_only": schema_only.json(n, None),
        "stages": {
            "parse": parse.json(n, Some(xml_bytes)),
            "normalise": normalise.json(n, None),
            "validate": schema_only.json(n, None),
            "identifiers": identifiers.json(n, None),
            "notice": notice.json(n, None),
        },
        "jsonschema_crate": {
            "is_valid": crate_is_valid.json(n, None),
            "iter_errors": crate_iter_errors.json(n, None),
        },
    });
    let path = out.join("rust.json");
    fs::write(
        &path,
        serde_json::to_string_pretty(&report).expect("report serialises") + "\n",
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    println!("wrote {}", path.display());
}

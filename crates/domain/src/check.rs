//! Checking one record: read it by its table's schema, validate, type it, check identifiers.
//! The result carries every finding; the period engine then adds its own.

use crate::finding::{Finding, Severity};
use crate::ident;
use crate::normalize::normalize;
use crate::notice::Notice;
use crate::parse::RawRecord;
use crate::rules::Catalogue;
use crate::schema::Schemas;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// A record after the domain checks.
#[derive(Debug, Clone)]
pub struct CheckedRecord {
    /// The record's table code as sent.
    pub table: String,
    /// Line in its document where it starts (0 for JSON).
    pub line: usize,
    /// Canonical JSON (personal fields included), when the table is known and no typed notice
    /// holds it (a notice owns its canonical record: [`Self::canonical`] reads either).
    canonical: Option<Map<String, Value>>,
    /// The typed notice, when the record is valid.
    pub notice: Option<Notice>,
    /// Every finding, in the order found.
    pub findings: Vec<Finding>,
}

impl CheckedRecord {
    /// The canonical JSON (personal fields included), when the table is known.
    pub fn canonical(&self) -> Option<&Map<String, Value>> {
        match &self.notice {
            Some(notice) => Some(&notice.canonical),
            None => self.canonical.as_ref(),
        }
    }

    /// The canonical JSON, taken out of the record.
    pub fn into_canonical(self) -> Option<Map<String, Value>> {
        match self.notice {
            Some(notice) => Some(notice.canonical),
            None => self.canonical,
        }
    }

    /// True when no finding is an error.
    pub fn is_valid(&self) -> bool {
        self.notice.is_some() && !self.findings.iter().any(Finding::is_error)
    }

    /// Error findings.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// Releases the record from `rule` (an operator's decision, e.g. a pre-2016 统一社会信用代码
    /// whose outer check character is wrong while the organisation is genuinely registered):
    /// its ERROR findings of that rule become released warnings. Returns how many findings were
    /// released; the record is valid afterwards only if nothing else blocks it ([`Self::is_valid`]).
    pub fn release(&mut self, rule: &str, release: &crate::finding::Release) -> usize {
        let mut released = 0;
        for f in &mut self.findings {
            if f.rule == rule && f.is_error() {
                *f = f.clone().released(release.clone());
                released += 1;
            }
        }
        released
    }

    /// Warning and info findings.
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity != Severity::Error)
    }
}

/// Runs the domain checks on one raw record.
pub fn check_record(schemas: &Schemas, catalogue: &Catalogue, raw: &RawRecord) -> CheckedRecord {
    let mut findings = Vec::new();
    let Some(table) = schemas.table(&raw.table).filter(|t| t.kind.is_some()) else {
        findings.push(catalogue.finding(
            "TABLE-UNSUPPORTED",
            "",
            format!("数据表 {} 不在支持范围内 (table not supported)", raw.table),
        ));
        return CheckedRecord {
            table: raw.table.clone(),
            line: raw.line,
            canonical: None,
            notice: None,
            findings,
        };
    };
    let mut canonical = normalize(schemas, catalogue, table, raw, "", &mut findings);
    canonical.insert("TABLE".into(), Value::String(table.code.clone()));

    // A value that could not be read was already reported at its path; the schema's view of the
    // same value adds nothing for the operator.
    let reported: HashSet<String> = findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.path.clone())
        .collect();
    let instance = Value::Object(canonical);
    for f in schemas.validate(table, &instance) {
        if !reported.contains(&f.path) {
            findings.push(catalogue.finding(&f.rule, f.path, f.message));
        }
    }
    let Value::Object(canonical) = instance else {
        unreachable!("built as an object")
    };

    if findings.iter().any(Finding::is_error) {
        return CheckedRecord {
            table: table.code.clone(),
            line: raw.line,
            canonical: Some(canonical),
            notice: None,
            findings,
        };
    }
    ident::check(schemas, catalogue, table, &canonical, "", &mut findings);
    ident::check_key_codes(catalogue, table, &canonical, &mut findings);
    // The model reads the record by reference; only a record it refuses keeps its own copy.
    let (canonical, notice) = match Notice::try_from_canonical(table, canonical) {
        Ok(n) => (None, Some(n)),
        Err((e, canonical)) => {
            findings.push(catalogue.finding("SCHEMA-MODEL", "", e.to_string()));
            (Some(canonical), None)
        }
    };
    CheckedRecord {
        table: table.code.clone(),
        line: raw.line,
        canonical,
        notice,
        findings,
    }
}

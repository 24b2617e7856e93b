//! Checking a release package — or a record package, with [`Checker::with_record_package`] —
//! against the official OCDS 1.1.5 schemas and codelists (given as data: this core does no I/O),
//! plus the shape the bids extension gives `bids.details` and
//! `awards[].relatedBid` (restated here, on the core schema's definitions, since the extension's
//! own schema file is not available offline).

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Where the package schema expects the release schema.
pub const RELEASE_SCHEMA_URL: &str =
    "https://standard.open-contracting.org/schema/1__1__5/release-schema.json";

/// Where the record package schema expects the versioned release schema (not among the offline
/// schemas: gongshi serves no versioned releases, and the checker refuses one).
pub const VERSIONED_RELEASE_SCHEMA_URL: &str =
    "https://standard.open-contracting.org/schema/1__1__5/versioned-release-validation-schema.json";

/// Codelist values to check, by JSON path (`*` = every item) and codelist file.
const CODELISTS: &[(&str, &str)] = &[
    ("tag/*", "releaseTag.csv"),
    ("initiationType", "initiationType.csv"),
    ("parties/*/roles/*", "partyRole.csv"),
    ("tender/status", "tenderStatus.csv"),
    ("tender/procurementMethod", "method.csv"),
    ("tender/mainProcurementCategory", "procurementCategory.csv"),
    ("tender/value/currency", "currency.csv"),
    ("tender/documents/*/documentType", "documentType.csv"),
    ("awards/*/status", "awardStatus.csv"),
    ("awards/*/value/currency", "currency.csv"),
    ("awards/*/documents/*/documentType", "documentType.csv"),
    ("bids/details/*/value/currency", "currency.csv"),
];

/// A compiled checker.
pub struct Checker {
    package: jsonschema::Validator,
    records: Option<jsonschema::Validator>,
    release_schema: Value,
    bids: jsonschema::Validator,
    codelists: BTreeMap<String, BTreeSet<String>>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker").finish_non_exhaustive()
    }
}

/// The `Code` column of a codelist CSV file.
pub fn codelist_codes(csv: &str) -> BTreeSet<String> {
    let mut lines = records(csv).into_iter();
    let Some(header) = lines.next() else {
        return BTreeSet::new();
    };
    let Some(col) = header.iter().position(|h| h == "Code") else {
        return BTreeSet::new();
    };
    lines.filter_map(|r| r.get(col).cloned()).collect()
}

/// RFC 4180 records (quoted fields may hold commas, quotes and newlines).
fn records(csv: &str) -> Vec<Vec<String>> {
    let (mut out, mut row, mut field, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = csv.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field).trim_end_matches('\r').to_owned());
                out.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        out.push(row);
    }
    out
}

impl Checker {
    /// Compiles the package schema (Draft 4) with the release schema registered at its URL, and
    /// keeps the codelists (`file name → codes`).
    pub fn new(
        package_schema: Value,
        release_schema: Value,
        codelists: BTreeMap<String, BTreeSet<String>>,
    ) -> Result<Checker, String> {
        let definition =
            |name: &str| json!({"$ref": format!("{RELEASE_SCHEMA_URL}#/definitions/{name}")});
        let bids = json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "properties": {
                "bids": {"type": "object", "properties": {
                    "details": {"type": "array", "items": {
                        "type": "object",
                        "required": ["id"],
                        "properties": {
                            "id": {"type": "string"},
                            "date": {"type": ["string", "null"], "format": "date-time"},
                            "status": {"enum": ["invited", "pending", "valid", "disqualified", "withdrawn", null]},
                            "tenderers": {"type": "array", "items": definition("OrganizationReference")},
                            "value": definition("Value"),
                        },
                    }},
                }},
                "awards": {"type": "array", "items": {"properties": {"relatedBid": {"type": ["string", "null"]}}}},
            },
        });
        Ok(Checker {
            package: compile(&package_schema, &release_schema)?,
            bids: compile(&bids, &release_schema)?,
            records: None,
            release_schema,
            codelists,
        })
    }

    /// Also checks record packages ([`Checker::record_problems`]) against the official
    /// `record-package-schema.json`.
    pub fn with_record_package(mut self, record_package_schema: Value) -> Result<Checker, String> {
        self.records = Some(compile(&record_package_schema, &self.release_schema)?);
        Ok(self)
    }

    /// The per-release checks (bids extension, codelists) of the release at JSON pointer `at`.
    fn release_problems(&self, release: &Value, at: &str, out: &mut Vec<String>) {
        out.extend(
            self.bids
                .iter_errors(release)
                .map(|e| format!("{at}{}: {e} (bids extension)", e.instance_path())),
        );
        for (path, file) in CODELISTS {
            let Some(codes) = self.codelists.get(*file) else {
                out.push(format!("codelist {file} not loaded"));
                continue;
            };
            let mut found = Vec::new();
            values_at(release, &path.split('/').collect::<Vec<_>>(), &mut found);
            for v in found {
                if let Some(s) = v.as_str()
                    && !codes.contains(s)
                {
                    out.push(format!("{at}/{path}: '{s}' is not in {file}"));
                }
            }
        }
    }

    /// Every problem of a record package: schema errors, the per-release checks of
    /// [`Checker::problems`] on every embedded release and compiled release, releases not in
    /// date order, a release of another ocid, release ids repeated within a record, ocids
    /// repeated across records. Empty when valid.
    pub fn record_problems(&self, package: &Value) -> Vec<String> {
        let Some(records) = &self.records else {
            return vec!["no record package schema given (Checker::with_record_package)".into()];
        };
        let mut out: Vec<String> = records
            .iter_errors(package)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        let mut ocids = BTreeSet::new();
        for (i, record) in package["records"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if !ocids.insert(record["ocid"].to_string()) {
                out.push(format!("/records/{i}: ocid repeated"));
            }
            let releases = record["releases"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut ids = BTreeSet::new();
            let mut previous: Option<chrono::DateTime<chrono::FixedOffset>> = None;
            for (j, release) in releases.iter().enumerate() {
                let at = format!("/records/{i}/releases/{j}");
                self.release_problems(release, &at, &mut out);
                if release["ocid"] != record["ocid"] {
                    out.push(format!("{at}: ocid differs from the record's"));
                }
                if !ids.insert(release["id"].to_string()) {
                    out.push(format!("{at}: release id repeated within its ocid"));
                }
                let date = release["date"]
                    .as_str()
                    .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok());
                if let (Some(p), Some(d)) = (previous, date)
                    && d < p
                {
                    out.push(format!("{at}: releases not in date order"));
                }
                previous = date.or(previous);
            }
            if let Some(compiled) = record.get("compiledRelease") {
                self.release_problems(compiled, &format!("/records/{i}/compiledRelease"), &mut out);
            }
        }
        out
    }

    /// Every problem of a package: schema errors (with their paths), bids-extension shape errors,
    /// codelist values outside their codelist, release ids repeated within an ocid. Empty when
    /// valid.
    pub fn problems(&self, package: &Value) -> Vec<String> {
        let mut out: Vec<String> = self
            .package
            .iter_errors(package)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        let releases = package["releases"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut seen = BTreeSet::new();
        for (i, release) in releases.iter().enumerate() {
            self.release_problems(release, &format!("/releases/{i}"), &mut out);
            let key = (release["ocid"].to_string(), release["id"].to_string());
            if !seen.insert(key) {
                out.push(format!(
                    "/releases/{i}: release id repeated within its ocid"
                ));
            }
        }
        out
    }
}

/// A Draft 4 validator of `schema` with the release schema registered at its URL (and the
/// versioned release schema as one that refuses everything).
fn compile(schema: &Value, release_schema: &Value) -> Result<jsonschema::Validator, String> {
    let registry = jsonschema::Registry::new()
        .add(RELEASE_SCHEMA_URL, release_schema.clone())
        .map_err(|e| e.to_string())?
        .add(VERSIONED_RELEASE_SCHEMA_URL, json!({"not": {}}))
        .map_err(|e| e.to_string())?
        .prepare()
        .map_err(|e| e.to_string())?;
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(schema)
        .map_err(|e| e.to_string())
}

fn values_at<'v>(value: &'v Value, path: &[&str], out: &mut Vec<&'v Value>) {
    let Some((head, rest)) = path.split_first() else {
        out.push(value);
        return;
    };
    if *head == "*" {
        for item in value.as_array().into_iter().flatten() {
            values_at(item, rest, out);
        }
    } else if let Some(next) = value.get(*head) {
        values_at(next, rest, out);
    }
}

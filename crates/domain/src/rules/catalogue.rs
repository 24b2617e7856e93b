//! Loading and querying the rule catalogue.

use crate::finding::{Finding, Severity};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The catalogue file compiled in (`rules/catalogue.toml`).
pub const CATALOGUE_TOML: &str = include_str!("../../../../rules/catalogue.toml");

/// Where in processing a rule speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The whole document.
    Document,
    /// Reading one field.
    Field,
    /// The table's JSON Schema.
    Schema,
    /// Identifier standards (USCC, GB/T 2260).
    Identifier,
    /// Legal periods and content rules.
    Period,
    /// Hold and park decisions.
    Publication,
}

impl Stage {
    /// Whether an operator may release a record from a rule of this stage. A record that fails a
    /// document, field or schema rule is never read into a notice (its values could not be read,
    /// or do not have its table's shape), so a release would leave nothing to publish: the
    /// platform must send it corrected. Identifier, period and publication rules judge a notice
    /// that exists.
    pub fn releasable(self) -> bool {
        matches!(self, Stage::Identifier | Stage::Period | Stage::Publication)
    }
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Deserialize)]
pub struct RuleDef {
    /// Stable id.
    pub id: String,
    /// Processing stage.
    pub stage: Stage,
    /// Default severity.
    pub severity: Severity,
    /// Chinese title shown to operators.
    pub title: String,
    /// English explanation.
    pub en: String,
    /// Legal or technical basis.
    pub citation: String,
    /// Rule parameters (days, counting mode, fields), when it has any.
    #[serde(default)]
    pub params: toml::Table,
    /// Unverified source ([M] in domain.md): shipped as WARN at most.
    #[serde(default)]
    pub unverified: bool,
    /// The check that implements it (period and publication rules): `min_period`, `max_delay`, …
    #[serde(default)]
    pub check: Option<String>,
    /// Tables it applies to (all when empty).
    #[serde(default)]
    pub tables: Vec<String>,
    /// Field values a record must have for the rule to apply (a list means any of them).
    #[serde(default)]
    pub when: toml::Table,
}

impl RuleDef {
    /// An integer parameter.
    pub fn param_u32(&self, name: &str) -> Option<u32> {
        self.params
            .get(name)
            .and_then(toml::Value::as_integer)
            .and_then(|v| u32::try_from(v).ok())
    }

    /// A string parameter.
    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(toml::Value::as_str)
    }

    /// A parameter that is a string or a list of strings, as a list.
    pub fn param_list(&self, name: &str) -> Vec<&str> {
        match self.params.get(name) {
            Some(toml::Value::String(s)) => vec![s.as_str()],
            Some(toml::Value::Array(items)) => {
                items.iter().filter_map(toml::Value::as_str).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// One region's changes to the catalogue (`rules/regions/<prefix>.toml`).
#[derive(Debug, Clone, Deserialize)]
pub struct RegionOverride {
    /// GB/T 2260 prefix: 2 digits (province) or 4 (prefecture).
    pub region: String,
    /// Where the stricter rule comes from.
    pub source: String,
    /// Changed rules.
    #[serde(default, rename = "override")]
    pub overrides: Vec<RuleOverride>,
}

/// A change to one rule in a region: severity and/or parameters (merged key by key).
#[derive(Debug, Clone, Deserialize)]
pub struct RuleOverride {
    /// Rule id.
    pub rule: String,
    /// New severity.
    pub severity: Option<Severity>,
    /// Parameters replacing the catalogue's, key by key.
    #[serde(default)]
    pub params: toml::Table,
    /// Replaces the citation (the regional rule's own source).
    pub citation: Option<String>,
}

#[derive(Deserialize)]
struct CatalogueFile {
    rule: Vec<RuleDef>,
}

/// The loaded catalogue.
#[derive(Debug)]
pub struct Catalogue {
    rules: HashMap<String, RuleDef>,
    order: Vec<String>,
    regions: Vec<RegionOverride>,
}

/// A catalogue file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Not valid TOML of the expected shape.
    #[error("rule catalogue: {0}")]
    Parse(#[from] toml::de::Error),
    /// The same id twice.
    #[error("rule catalogue: rule {0} is defined twice")]
    Duplicate(String),
    /// An override names a rule the catalogue does not have.
    #[error("region {1}: override of unknown rule {0}")]
    UnknownRule(String, String),
    /// An unverified rule may not block notices.
    #[error("rule catalogue: rule {0} is marked unverified but has severity ERROR")]
    UnverifiedError(String),
}

impl Catalogue {
    /// Parses a catalogue file and checks its consistency.
    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let file: CatalogueFile = toml::from_str(text)?;
        let mut rules = HashMap::new();
        let mut order = Vec::new();
        for rule in file.rule {
            if rule.unverified && rule.severity == Severity::Error {
                return Err(CatalogueError::UnverifiedError(rule.id));
            }
            order.push(rule.id.clone());
            if let Some(dup) = rules.insert(rule.id.clone(), rule) {
                return Err(CatalogueError::Duplicate(dup.id));
            }
        }
        Ok(Catalogue {
            rules,
            order,
            regions: Vec::new(),
        })
    }

    /// Adds a region's overrides (a `rules/regions/<prefix>.toml` file).
    pub fn add_region(&mut self, text: &str) -> Result<(), CatalogueError> {
        let region: RegionOverride = toml::from_str(text)?;
        for o in &region.overrides {
            if !self.rules.contains_key(&o.rule) {
                return Err(CatalogueError::UnknownRule(
                    o.rule.clone(),
                    region.region.clone(),
                ));
            }
        }
        self.regions.push(region);
        // Province first, then prefecture: the longer prefix is applied last and wins.
        self.regions.sort_by_key(|r| r.region.len());
        Ok(())
    }

    /// The rule as it applies in `region` (a GB/T 2260 code): regional overrides merged in.
    pub fn effective(
        &self,
        id: &str,
        region: Option<&str>,
    ) -> Option<std::borrow::Cow<'_, RuleDef>> {
        let base = self.get(id)?;
        let Some(region) = region else {
            return Some(std::borrow::Cow::Borrowed(base));
        };
        let mut rule: Option<RuleDef> = None;
        for r in self
            .regions
            .iter()
            .filter(|r| region.starts_with(&r.region))
        {
            for o in r.overrides.iter().filter(|o| o.rule == id) {
                let target = rule.get_or_insert_with(|| base.clone());
                if let Some(sev) = o.severity {
                    target.severity = sev;
                }
                for (k, v) in &o.params {
                    target.params.insert(k.clone(), v.clone());
                }
                if let Some(c) = &o.citation {
                    target.citation = format!("{c}（{}）", r.source);
                }
            }
        }
        Some(rule.map_or(std::borrow::Cow::Borrowed(base), std::borrow::Cow::Owned))
    }

    /// The catalogue compiled into the binary.
    pub fn embedded() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| match Catalogue::parse(CATALOGUE_TOML) {
            Ok(c) => c,
            // Compiled-in data, checked by the tests: a failure is a build defect.
            Err(e) => panic!("embedded rule catalogue is broken: {e}"),
        })
    }

    /// A rule by id; `SCHEMA-<KEYWORD>` ids resolve to the `SCHEMA-*` entry.
    pub fn get(&self, id: &str) -> Option<&RuleDef> {
        self.rules.get(id).or_else(|| {
            id.strip_prefix("SCHEMA-")
                .and_then(|_| self.rules.get("SCHEMA-*"))
        })
    }

    /// Rules in file order.
    pub fn rules(&self) -> impl Iterator<Item = &RuleDef> {
        self.order.iter().filter_map(|id| self.rules.get(id))
    }

    /// A finding for rule `id` at `path`: the rule's severity, and a message ending with the
    /// rule's title and citation so the operator sees the legal basis.
    pub fn finding(&self, id: &str, path: impl Into<String>, detail: impl AsRef<str>) -> Finding {
        self.finding_in(id, None, path, detail)
    }

    /// As [`Catalogue::finding`], with the rule as it applies in `region`.
    pub fn finding_in(
        &self,
        id: &str,
        region: Option<&str>,
        path: impl Into<String>,
        detail: impl AsRef<str>,
    ) -> Finding {
        let detail = detail.as_ref();
        match self.effective(id, region).as_deref() {
            Some(rule) => Finding::new(
                id,
                rule.severity,
                path,
                format!("{detail}〔{id} {}；依据：{}〕", rule.title, rule.citation),
            ),
            // Every id used in code is in the catalogue (a test walks them); fall back to ERROR.
            None => Finding::new(id, Severity::Error, path, detail.to_owned()),
        }
    }
}

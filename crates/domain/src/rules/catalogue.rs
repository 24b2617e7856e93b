//! Loading and querying the rule catalogue.

use crate::finding::{Finding, Severity};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

const CATALOGUE_TOML: &str = include_str!("../../../../rules/catalogue.toml");

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
        Ok(Catalogue { rules, order })
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
        let detail = detail.as_ref();
        match self.get(id) {
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

//! The rule catalogue (`rules/catalogue.toml`): every rule's id, severity, stage and citation.

mod catalogue;

pub use catalogue::{
    CATALOGUE_TOML, Catalogue, CatalogueError, RegionOverride, RuleDef, RuleOverride, Stage,
};

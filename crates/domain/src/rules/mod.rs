//! The rule catalogue (`rules/catalogue.toml`): every rule's id, severity, stage and citation.

mod catalogue;

pub use catalogue::{Catalogue, CatalogueError, RuleDef, Stage};

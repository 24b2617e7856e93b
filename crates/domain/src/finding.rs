//! Findings: what a check says about a record — an error or warning with its rule id, the JSON
//! Pointer of the field it concerns, and a message an operator can act on.

use serde::{Deserialize, Serialize};

/// How much a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Shown with the notice; never blocks it.
    Info,
    /// Published with the notice (`warnings: [rule ids]`); never blocks it.
    Warn,
    /// Blocks the notice: `invalid` (schema, parse, identifier) or `reject` (legal rule).
    Error,
}

/// One thing a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id (`USCC-CHECK`, `W9`, …), documented in `rules/catalogue.toml`.
    pub rule: String,
    /// Severity after any regional override.
    pub severity: Severity,
    /// JSON Pointer into the canonical record (`/TENDER_CANDIDATE/1/BID_PRICE`); empty for the
    /// whole record or document.
    pub path: String,
    /// The operator's message: field code with its Chinese label, what is wrong, the legal basis.
    pub message: String,
    /// The figures behind it (instants, counted days, limits), for operators and audits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
    /// Set when an operator released the record from this rule: who, and why. A released
    /// finding no longer blocks (its severity is WARN) and says so wherever it is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<Release>,
}

/// An operator's release of a record from one rule (the console's `release` action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The operator who released it.
    pub released_by: String,
    /// The written reason.
    pub reason: String,
}

impl Finding {
    /// A finding with the given parts.
    pub fn new(
        rule: impl Into<String>,
        severity: Severity,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.into(),
            severity,
            path: path.into(),
            message: message.into(),
            evidence: None,
            released: None,
        }
    }

    /// The same finding carrying its evidence.
    pub fn with_evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = Some(evidence);
        self
    }

    /// The finding as released from its rule by `release`: WARN, its message saying so with the
    /// reason. The message is public, so it names the centre, not the operator (who is in
    /// `released`, for the console and the audit).
    pub fn released(mut self, release: Release) -> Self {
        self.severity = Severity::Warn;
        self.message = format!(
            "{}〔交易中心已放行：{} (released by the centre)〕",
            self.message, release.reason
        );
        self.released = Some(release);
        self
    }

    /// True when the finding blocks the record.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Appends `name` to a JSON Pointer, escaping `~` and `/` (RFC 6901).
pub fn pointer_child(parent: &str, name: &str) -> String {
    let escaped = name.replace('~', "~0").replace('/', "~1");
    format!("{parent}/{escaped}")
}

//! `record.invalid` and `document.rejected` on [`topics::REJECTED`](super::topics::REJECTED).

use super::{Event, Problem, topics};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One record of a document that failed validation, with its errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordInvalid {
    /// The receipt of its document.
    pub receipt: String,
    /// Its place in the document (from 0).
    pub index: i32,
    /// Its table code, as sent.
    pub table: String,
    /// What failed (at least one).
    pub errors: Vec<Problem>,
    /// Warnings found beside the errors.
    pub warnings: Vec<Problem>,
    /// The canonical record as far as it could be read, personal fields stripped.
    pub canonical: Option<Map<String, Value>>,
}

impl Event for RecordInvalid {
    const TOPIC: &'static str = topics::REJECTED;
    const TYPE: &'static str = "record.invalid";
    fn event_id(&self) -> String {
        format!("rejected:{}:{}", self.receipt, self.index)
    }
    fn key(&self) -> String {
        self.receipt.clone()
    }
}

/// A whole document that could not be read (not well-formed XML, an unknown encoding, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRejected {
    /// Its receipt.
    pub receipt: String,
    /// What failed (at least one).
    pub errors: Vec<Problem>,
}

impl Event for DocumentRejected {
    const TOPIC: &'static str = topics::REJECTED;
    const TYPE: &'static str = "document.rejected";
    fn event_id(&self) -> String {
        format!("rejected:{}", self.receipt)
    }
    fn key(&self) -> String {
        self.receipt.clone()
    }
}

//! `notice.received` and `record.released` on [`topics::RECEIVED`](super::topics::RECEIVED):
//! what validation works on.

use super::{Event, topics};
use serde::{Deserialize, Serialize};

/// A document accepted by ingest. The document itself stays in the store (receipts table); the
/// event names its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeReceived {
    /// Receipt id (a UUIDv7).
    pub receipt: String,
    /// `application/xml`, `text/xml` or `application/json`.
    pub content_type: String,
    /// Records found in the document (at least one).
    pub records: usize,
}

impl Event for NoticeReceived {
    const TOPIC: &'static str = topics::RECEIVED;
    const TYPE: &'static str = "notice.received";
    fn event_id(&self) -> String {
        format!("received:{}", self.receipt)
    }
    fn key(&self) -> String {
        self.receipt.clone()
    }
}

/// An operator released one record of a received document from a rule that made it invalid
/// (the console's `release` action, or `gongshi release`). Validation records the release and
/// checks the record again with the rule's findings released; a record nothing else blocks then
/// continues through enforcement and publication like any other, the released finding (who, why)
/// among its warnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReleased {
    /// The document's receipt.
    pub receipt: String,
    /// The record in it (from 0).
    pub index: i32,
    /// The rule released (`USCC-CHECK`, …).
    pub rule: String,
    /// The operator.
    pub released_by: String,
    /// The written reason.
    pub reason: String,
}

impl Event for RecordReleased {
    const TOPIC: &'static str = topics::RECEIVED;
    const TYPE: &'static str = "record.released";
    fn event_id(&self) -> String {
        format!("released:{}:{}:{}", self.receipt, self.index, self.rule)
    }
    fn key(&self) -> String {
        self.receipt.clone()
    }
}

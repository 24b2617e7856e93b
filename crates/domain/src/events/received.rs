//! `notice.received` on [`topics::RECEIVED`](super::topics::RECEIVED).

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

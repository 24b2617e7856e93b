//! `notice.valid` on [`topics::VALID`](super::topics::VALID).

use super::{Event, Problem, topics};
use crate::notice::Notice;
use serde::{Deserialize, Serialize};

/// One valid record as a canonical notice, personal fields stripped (the full record stays in the
/// store's private table).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeValid {
    /// The receipt of its document.
    pub receipt: String,
    /// Its place in the document (from 0).
    pub index: i32,
    /// The notice, `canonical` without personal fields.
    pub notice: Notice,
    /// WARN and INFO findings of validation.
    pub warnings: Vec<Problem>,
}

impl Event for NoticeValid {
    const TOPIC: &'static str = topics::VALID;
    const TYPE: &'static str = "notice.valid";
    fn event_id(&self) -> String {
        format!("valid:{}:{}", self.receipt, self.index)
    }
    fn key(&self) -> String {
        self.notice.procedure.to_string()
    }
}

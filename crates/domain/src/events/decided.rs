//! `notice.released` and `notice.discarded` on [`topics::VALID`](super::topics::VALID): an
//! operator's decision on a notice enforcement holds, parked or rejected (the console's `release`
//! and `discard` actions). They travel on enforcement's own topic, keyed by the procedure, so that
//! enforcement applies them in order with the procedure's other notices — never as a direct write
//! into the public store.

use super::{Event, topics};
use serde::{Deserialize, Serialize};

/// What an operator decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Publish now, overriding the rules named (a held notice's hold, a rejected notice's period
    /// rule): the published notice says who released it and why.
    Release,
    /// Never publish: the notice leaves its procedure.
    Discard,
}

/// An operator's decision on one notice that enforcement holds, parked or rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeDecided {
    /// Release or discard.
    pub decision: Decision,
    /// The notice.
    pub notice_id: String,
    /// Its procedure key (the event's key).
    pub procedure: String,
    /// The record it came from: receipt …
    pub receipt: String,
    /// … and position.
    pub index: i32,
    /// The rules overridden by a release (the notice's error findings; empty for a hold or a
    /// discard).
    pub rules: Vec<String>,
    /// The operator.
    pub decided_by: String,
    /// The written reason (at least 4 characters).
    pub reason: String,
    /// The audit entry of the decision (makes each decision a distinct event).
    pub audit_id: i64,
}

impl Event for NoticeDecided {
    const TOPIC: &'static str = topics::VALID;
    const TYPE: &'static str = "notice.decided";
    fn event_id(&self) -> String {
        format!("decided:{}:{}", self.notice_id, self.audit_id)
    }
    fn key(&self) -> String {
        self.procedure.clone()
    }
}

//! `notice.released` and `notice.discarded` on [`topics::VALID`](super::topics::VALID): an
//! operator's decision on a notice enforcement holds, parked or rejected (the console's `release`
//! and `discard` actions), or on one whose publication the broker refused (a quarantine
//! discarded). They travel on enforcement's own topic, keyed by the procedure, so that
//! enforcement applies them in order with the procedure's other notices — never as a direct write
//! into the public store.

use super::{Event, topics};
use serde::{Deserialize, Serialize};

/// What an operator decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Publish now, overriding the rules named (a held notice's hold, a rejected notice's period
    /// rule, a parked notice's wait for its parent): the published notice says the centre
    /// released it and why (who is kept for the console and the audit).
    Release,
    /// Never publish: the notice leaves its procedure.
    Discard,
}

impl Decision {
    /// Its name on the wire and in the audit log (`release`, `discard`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Release => "release",
            Decision::Discard => "discard",
        }
    }
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
    /// The audit entry of the decision (makes each decision a distinct event); 0 for a
    /// decision that resolves a quarantine ([`quarantine_id`](Self::quarantine_id)).
    pub audit_id: i64,
    /// Set when the decision discards a publication the broker refused for good (a
    /// `notice.published` the outbox relay quarantined): enforcement then withdraws a notice it
    /// had recorded as published but that never reached the public, so that it leaves its
    /// procedures and `/v1/notices` as any discarded notice does. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_id: Option<i64>,
}

impl Event for NoticeDecided {
    const TOPIC: &'static str = topics::VALID;
    const TYPE: &'static str = "notice.decided";
    fn event_id(&self) -> String {
        match self.quarantine_id {
            Some(q) => format!("decided:{}:quarantine:{q}", self.notice_id),
            None => format!("decided:{}:{}", self.notice_id, self.audit_id),
        }
    }
    fn key(&self) -> String {
        self.procedure.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::Decision;

    #[test]
    fn a_decisions_name_is_its_wire_name() {
        for d in [Decision::Release, Decision::Discard] {
            assert_eq!(
                serde_json::to_value(d).expect("json"),
                serde_json::json!(d.as_str())
            );
        }
    }
}

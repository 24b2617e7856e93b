//! `notice.published` and `window.closed` on [`topics::PUBLIC`](super::topics::PUBLIC), and the
//! one projection of a published notice into the facts search and the feeds read
//! ([`PublicFacts`]).

use super::{Envelope, Event, EventError, topics};
use crate::finding::Severity;
use crate::lifecycle::Status;
use crate::notice::{Notice, ProcedureKey};
use crate::period::{Verdict, Window};
use crate::schema::{Kind, Regime, Schemas};
use crate::values::datetime::Instant;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A notice published: its public record (personal fields stripped), its legal windows and the
/// rule ids of its warnings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticePublished {
    /// Notice id (32 hex digits).
    pub notice_id: String,
    /// The procedure of its first section.
    pub procedure: ProcedureKey,
    /// Every procedure it belongs to.
    pub procedures: Vec<ProcedureKey>,
    /// Table code.
    pub table: String,
    /// Stage.
    pub kind: Kind,
    /// works / procurement.
    pub regime: Regime,
    /// Title.
    pub title: String,
    /// GB/T 2260 region code: the notice's own, else its procedure's (from the tender).
    pub region: Option<String>,
    /// When the platform says it is (to be) published.
    pub sent_at: Option<Instant>,
    /// When gongshi published it.
    pub published_at: DateTime<Utc>,
    /// The public canonical record (the `valid` event's notice has personal fields stripped).
    pub record: Map<String, Value>,
    /// Legal windows by name (`documents`, `bid`, `publicity`, `announcement`, `challenge`), as
    /// they stand in force at publication: a re-sent notice restating its deadline carries the
    /// postponement's bid window (`period::in_force`). The notice's own are in its verdict.
    pub windows: BTreeMap<String, Window>,
    /// Rule ids of its WARN findings.
    pub warnings: Vec<String>,
    /// Where publication leaves it in each of its procedures, by key (`platform/project/section`),
    /// as enforcement judged it among the procedure's notices ([`ProcedureState::status_of`]):
    /// `terminated` in a section already terminated, `closed` when its window had ended before it
    /// arrived. Empty in events from before it was carried: then [`Status::on_publication`].
    ///
    /// [`ProcedureState::status_of`]: crate::period::ProcedureState::status_of
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub statuses: BTreeMap<String, Status>,
    /// The notice this one is a new version of in its first procedure: the latest of its table
    /// published before it ([`ProcedureState::previous_version`]; never an amendment). Absent for
    /// the first of its table, and in events from before it was carried.
    ///
    /// [`ProcedureState::previous_version`]: crate::period::ProcedureState::previous_version
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Replaces>,
}

/// What a new version of a notice replaces ([`NoticePublished::replaces`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaces {
    /// The notice it follows.
    pub notice_id: String,
    /// Its own version: 2 for the first re-send.
    pub version: usize,
}

impl Event for NoticePublished {
    const TOPIC: &'static str = topics::PUBLIC;
    const TYPE: &'static str = "notice.published";
    fn event_id(&self) -> String {
        format!("publish:{}", self.notice_id)
    }
    fn key(&self) -> String {
        self.procedure.to_string()
    }
}

/// What search and the feeds read of a published notice. Decided here once; the feed filter's
/// entry facts and the search document are both built from it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicFacts {
    /// Notice id.
    pub notice_id: String,
    /// Stage.
    pub kind: Kind,
    /// works / procurement.
    pub regime: Regime,
    /// GB/T 2260 code.
    pub region: Option<String>,
    /// Title.
    pub title: String,
    /// The table's body field (`x-table.body`), empty when it has none.
    pub body: String,
    /// Codes a bidder may search by: the procedure key, the project code, every section code.
    pub codes: Vec<String>,
    /// The status publication leaves it in.
    pub status: Status,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// The end of its `bid` window (the deadline bidders sort by).
    pub deadline: Option<DateTime<Utc>>,
}

impl NoticePublished {
    /// The event of `notice` published at `published_at` with its `verdict` (windows, warnings)
    /// and the `region` it is filed under (its own, else its procedure's).
    pub fn new(
        notice: &Notice,
        verdict: &Verdict,
        published_at: DateTime<Utc>,
        region: Option<String>,
    ) -> NoticePublished {
        NoticePublished {
            notice_id: notice.id.clone(),
            procedure: notice.procedure.clone(),
            procedures: notice.procedures.clone(),
            table: notice.table.clone(),
            kind: notice.kind,
            regime: notice.regime,
            title: notice.title.clone(),
            region,
            sent_at: notice.sent_at,
            published_at,
            record: notice.canonical.clone(),
            windows: verdict.windows.clone(),
            warnings: verdict
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Warn)
                .map(|f| f.rule.clone())
                .collect(),
            statuses: BTreeMap::new(),
            replaces: None,
        }
    }

    /// Where publication leaves it: the most open of its [`statuses`](Self::statuses), or
    /// [`Status::on_publication`] when the event does not carry them.
    pub fn status(&self) -> Status {
        Status::most_open(self.statuses.values().copied())
            .unwrap_or_else(|| Status::on_publication(self.kind))
    }

    /// Its status in procedure `key` as publication left it.
    pub fn status_in(&self, key: &str) -> Status {
        self.statuses
            .get(key)
            .copied()
            .unwrap_or_else(|| Status::on_publication(self.kind))
    }

    /// The notice's body text: its table's body field (`x-table.body` in the schema), or empty.
    pub fn body(&self) -> &str {
        Schemas::embedded()
            .table(&self.table)
            .and_then(|table| table.body_field.as_deref())
            .and_then(|f| self.record.get(f))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Codes a bidder may search by: the procedure key, the project code, every section code,
    /// and the key of every other procedure it belongs to (a tender of several sections is found
    /// by each section's key, as publish finds a procedure's notices).
    pub fn codes(&self) -> Vec<String> {
        let mut codes = vec![self.procedure.to_string(), self.procedure.project.clone()];
        codes.extend(self.procedures.iter().map(|p| p.section.clone()));
        codes.extend(
            self.procedures
                .iter()
                .filter(|p| **p != self.procedure)
                .map(ToString::to_string),
        );
        codes
    }

    /// The facts search and the feeds read.
    pub fn facts(&self) -> PublicFacts {
        PublicFacts {
            notice_id: self.notice_id.clone(),
            kind: self.kind,
            regime: self.regime,
            region: self.region.clone(),
            title: self.title.clone(),
            body: self.body().to_owned(),
            codes: self.codes(),
            status: self.status(),
            published_at: self.published_at,
            deadline: self.windows.get("bid").map(|w| w.end.with_timezone(&Utc)),
        }
    }
}

/// One of a notice's legal windows closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowClosed {
    /// Notice id.
    pub notice_id: String,
    /// Window name (`documents`, `bid`, `publicity`, `announcement`, `challenge`).
    pub window: String,
    /// When it opened.
    pub start: Instant,
    /// When it closed by law.
    pub end: Instant,
    /// The procedure key (`platform/project/section`) the closing is announced in: the first of
    /// `procedures`.
    pub procedure: String,
    /// Every procedure of the notice in which the window was still in force when it closed (a
    /// tender of several sections whose amendment moved one section's deadline closes only for
    /// the others). Empty in events from before it was carried: then `procedure` alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub procedures: Vec<String>,
    /// The notice's title.
    pub title: String,
    /// When gongshi announced the closing (the timer's due instant).
    pub closed_at: DateTime<Utc>,
    /// The notice's stage (absent in events from before it was carried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// works / procurement (absent in events from before it was carried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regime: Option<Regime>,
    /// The notice's GB/T 2260 region code, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Where the closing leaves the notice over all its sections: `closed` where it closes, and
    /// the most open of that and its status in its other sections (still `open` when another
    /// section's deadline, moved by an amendment, runs). Absent in events from before it was
    /// carried, and for windows whose closing changes no status: then [`WindowClosed::status`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_status: Option<Status>,
}

impl Event for WindowClosed {
    const TOPIC: &'static str = topics::PUBLIC;
    const TYPE: &'static str = "window.closed";
    fn event_id(&self) -> String {
        format!("window:{}:{}", self.notice_id, self.window)
    }
    fn key(&self) -> String {
        self.procedure.clone()
    }
}

impl WindowClosed {
    /// The status the closing leaves its notice in: `closed` for the `bid` and `publicity`
    /// windows, otherwise unchanged (`None`).
    pub fn status(&self) -> Option<Status> {
        Status::after_window(&self.window)
    }

    /// Where the closing leaves the notice: [`notice_status`](Self::notice_status), else
    /// [`status`](Self::status) (`None`: unchanged).
    pub fn leaves_notice(&self) -> Option<Status> {
        self.notice_status.or_else(|| self.status())
    }

    /// The section codes it closed in when that is not the whole notice (another section's
    /// moved deadline still runs): what feeds name in the entry's title. `None` for a closing
    /// that leaves the notice as the window alone would.
    pub fn only_sections(&self) -> Option<Vec<&str>> {
        let partial = self
            .notice_status
            .is_some_and(|s| Status::held_by(&self.window) == Some(s));
        partial.then(|| {
            self.closes_in()
                .into_iter()
                .map(|key| key.splitn(3, '/').nth(2).unwrap_or(key))
                .collect()
        })
    }

    /// The procedures it closes the window in: `procedures`, or `procedure` in events from
    /// before those were carried.
    pub fn closes_in(&self) -> Vec<&str> {
        if self.procedures.is_empty() {
            vec![self.procedure.as_str()]
        } else {
            self.procedures.iter().map(String::as_str).collect()
        }
    }
}

/// Any event of the public topic.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicEvent {
    /// `notice.published`.
    Published(Box<NoticePublished>),
    /// `window.closed`.
    WindowClosed(WindowClosed),
}

impl PublicEvent {
    /// Decodes an envelope of the public topic by its type.
    pub fn decode(envelope: &Envelope) -> Result<PublicEvent, EventError> {
        PublicEvent::from_payload(&envelope.id, &envelope.event_type, &envelope.payload)
    }

    /// Decodes the payload of event `id` of type `event_type` (a stored feed entry, say) without
    /// copying it.
    pub fn from_payload(
        id: &str,
        event_type: &str,
        payload: &Value,
    ) -> Result<PublicEvent, EventError> {
        match event_type {
            NoticePublished::TYPE => super::decode_payload(id, event_type, payload)
                .map(|p| PublicEvent::Published(Box::new(p))),
            WindowClosed::TYPE => {
                super::decode_payload(id, event_type, payload).map(PublicEvent::WindowClosed)
            }
            other => Err(EventError::UnexpectedType {
                event: id.to_owned(),
                expected: "notice.published or window.closed",
                found: other.to_owned(),
            }),
        }
    }

    /// Its procedure key (the envelope's key).
    pub fn key(&self) -> String {
        match self {
            PublicEvent::Published(p) => p.key(),
            PublicEvent::WindowClosed(w) => w.key(),
        }
    }

    /// The notice it concerns.
    pub fn notice_id(&self) -> &str {
        match self {
            PublicEvent::Published(p) => &p.notice_id,
            PublicEvent::WindowClosed(w) => &w.notice_id,
        }
    }
}

//! The events gongshi's services send each other, one Rust type per topic event and version,
//! next to the topic names. Producers build these structs and consumers decode them; the wire
//! form of each is pinned by its JSON Schema in `schemas/topics/` (a test round-trips every
//! struct through its schema). A breaking change to an event is a new `vN` topic and a new type.
//!
//! | topic | event `type` | Rust type |
//! |---|---|---|
//! | [`topics::RECEIVED`] | `notice.received` | [`NoticeReceived`] |
//! | [`topics::VALID`] | `notice.valid`, `notice.decided` | [`NoticeValid`], [`NoticeDecided`] |
//! | [`topics::REJECTED`] | `record.invalid`, `document.rejected` | [`RecordInvalid`], [`DocumentRejected`] |
//! | [`topics::PUBLIC`] | `notice.published`, `window.closed` | [`NoticePublished`], [`WindowClosed`] (both: [`PublicEvent`]) |

mod decided;
mod public;
mod received;
mod rejected;
mod valid;

pub use decided::{Decision, NoticeDecided};
pub use public::{NoticePublished, PublicEvent, PublicFacts, Replaces, WindowClosed};
pub use received::{NoticeReceived, RecordReleased};
pub use rejected::{DocumentRejected, RecordInvalid};
pub use valid::NoticeValid;

use crate::finding::{Finding, Severity};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Topic names and versions. A breaking change to an event is a new `vN` topic.
pub mod topics {
    /// Raw documents as accepted by ingest (key: receipt id).
    pub const RECEIVED: &str = "gongshi.notices.received.v1";
    /// Valid canonical records, personal data stripped (key: procedure key).
    pub const VALID: &str = "gongshi.notices.valid.v1";
    /// Invalid documents or records with their errors and raw payload (key: receipt id).
    pub const REJECTED: &str = "gongshi.notices.rejected.v1";
    /// Publication events: publish, window closed, withdrawn (key: procedure key).
    pub const PUBLIC: &str = "gongshi.notices.public.v1";
    /// Every topic gongshi uses.
    pub const ALL: &[&str] = &[RECEIVED, VALID, REJECTED, PUBLIC];
}

/// The topic schemas (`schemas/topics/`), compiled in: (file name, text).
const TOPIC_SCHEMAS: &[(&str, &str)] = &[
    (
        "envelope.schema.json",
        include_str!("../../../../schemas/topics/envelope.schema.json"),
    ),
    (
        "gongshi.notices.received.v1.schema.json",
        include_str!("../../../../schemas/topics/gongshi.notices.received.v1.schema.json"),
    ),
    (
        "gongshi.notices.valid.v1.schema.json",
        include_str!("../../../../schemas/topics/gongshi.notices.valid.v1.schema.json"),
    ),
    (
        "gongshi.notices.rejected.v1.schema.json",
        include_str!("../../../../schemas/topics/gongshi.notices.rejected.v1.schema.json"),
    ),
    (
        "gongshi.notices.public.v1.schema.json",
        include_str!("../../../../schemas/topics/gongshi.notices.public.v1.schema.json"),
    ),
];

/// The `$id` prefix of the topic schemas.
const TOPIC_SCHEMA_BASE: &str = "https://gongshi.invalid/schemas/topics/";

/// A JSON Schema validator for whole envelopes of `topic` (one of [`topics::ALL`]), built from
/// the compiled-in `schemas/topics/<topic>.schema.json`. Tests check real and built events with
/// it. The error says which topic or schema failed.
pub fn schema_validator(topic: &str) -> Result<jsonschema::Validator, String> {
    let parse = |name: &str| -> Result<serde_json::Value, String> {
        let (_, text) = TOPIC_SCHEMAS
            .iter()
            .find(|(file, _)| *file == name)
            .ok_or_else(|| format!("no schema {name} for topic {topic}"))?;
        serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))
    };
    let registry = jsonschema::Registry::new()
        .add(
            format!("{TOPIC_SCHEMA_BASE}envelope.schema.json"),
            parse("envelope.schema.json")?,
        )
        .map_err(|e| format!("envelope.schema.json: {e}"))?
        .prepare()
        .map_err(|e| format!("topic schema registry: {e}"))?;
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_registry(&registry)
        .build(&parse(&format!("{topic}.schema.json"))?)
        .map_err(|e| format!("{topic}.schema.json: {e}"))
}

/// One kind of event: the topic it travels on, its `type` in the envelope, and how its id and
/// Kafka key follow from its content (ids are deterministic, so a repeated step re-sends the
/// same event and consumers' dedupe keeps effects single).
pub trait Event: Serialize + DeserializeOwned {
    /// The topic (unprefixed name, one of [`topics::ALL`]).
    const TOPIC: &'static str;
    /// The envelope's `type`.
    const TYPE: &'static str;
    /// The envelope's `id`.
    fn event_id(&self) -> String;
    /// The envelope's `key` (and the Kafka message key): the procedure key, or the receipt id
    /// before a record is parsed.
    fn key(&self) -> String;

    /// This event in its envelope, stamped now.
    fn envelope(&self) -> Envelope {
        // Event structs have string keys and no custom serialisers: they always serialise.
        let payload = serde_json::to_value(self).expect("an event serialises to JSON");
        Envelope::new(self.event_id(), Self::TYPE, self.key(), payload)
    }
}

/// The envelope of every event on the bus (`schemas/topics/envelope.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique event id; every consumer dedupes its effects on it.
    pub id: String,
    /// Event type, e.g. `notice.received`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The Kafka key: procedure key, or receipt id before a record is parsed.
    pub key: String,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// The event's body: one of this module's types, as JSON.
    pub payload: serde_json::Value,
}

impl Envelope {
    /// A new event with a deterministic id (so a retried producer step re-sends the same event).
    /// Prefer [`Event::envelope`]; this is for events built from parts (tests, relays).
    pub fn new(
        id: impl Into<String>,
        event_type: &str,
        key: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            id: id.into(),
            event_type: event_type.to_owned(),
            key: key.into(),
            occurred_at: Utc::now(),
            payload,
        }
    }

    /// The payload as event `E`. Fails when the envelope's type is not `E`'s or the payload does
    /// not have `E`'s shape.
    pub fn decode<E: Event>(&self) -> Result<E, EventError> {
        if self.event_type != E::TYPE {
            return Err(EventError::UnexpectedType {
                event: self.id.clone(),
                expected: E::TYPE,
                found: self.event_type.clone(),
            });
        }
        decode_payload(&self.id, &self.event_type, &self.payload)
    }
}

/// What an event concerns, read from any event's payload as far as it has it: its receipt and
/// record (ingest and validation events), its notice (enforcement and publication events). Used
/// when an event must be set aside, to mark the records it concerns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Subject {
    /// The receipt of the document.
    #[serde(default)]
    pub receipt: Option<String>,
    /// The record within the document.
    #[serde(default)]
    pub index: Option<i32>,
    /// The notice (`notice_id`, or `notice.id` of a `notice.valid` event).
    #[serde(default)]
    pub notice_id: Option<String>,
    #[serde(default)]
    notice: Option<NoticeRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct NoticeRef {
    id: String,
}

impl Envelope {
    /// What this event concerns; empty where the payload does not say (or is malformed).
    pub fn subject(&self) -> Subject {
        let mut subject = Subject::deserialize(&self.payload).unwrap_or_default();
        if subject.notice_id.is_none() {
            subject.notice_id = subject.notice.take().map(|n| n.id);
        }
        subject
    }
}

/// `payload` as `E`; the error names the field that does not fit (`records: invalid type …`).
pub(crate) fn decode_payload<E: serde::de::DeserializeOwned>(
    id: &str,
    event_type: &str,
    payload: &serde_json::Value,
) -> Result<E, EventError> {
    // Every consumer decodes every event, and tracking the path copies each key it passes: the
    // path is only worth its cost when there is an error to name, so a payload that fails is
    // decoded a second time to find it.
    if let Ok(event) = E::deserialize(payload) {
        return Ok(event);
    }
    serde_path_to_error::deserialize(payload).map_err(|e| EventError::Payload {
        event: id.to_owned(),
        event_type: event_type.to_owned(),
        field: e.path().to_string(),
        problem: e.into_inner(),
    })
}

/// An event that cannot be decoded. Permanent: the same bytes will never decode.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The envelope's `type` is not one this consumer reads.
    #[error("event {event}: type '{found}' where {expected} was expected")]
    UnexpectedType {
        /// Event id.
        event: String,
        /// What the consumer reads.
        expected: &'static str,
        /// What the envelope says.
        found: String,
    },
    /// The payload does not have the type's shape.
    #[error(
        "event {event} ({event_type}): payload field '{field}' does not match its schema: {problem}"
    )]
    Payload {
        /// Event id.
        event: String,
        /// Its type.
        event_type: String,
        /// The JSON path of the field (`records`, `notice.procedure.section`; `.` for the whole).
        field: String,
        /// What serde found.
        problem: serde_json::Error,
    },
}

/// A finding as events carry it: rule id, JSON Pointer, message and (for record findings) the
/// severity. The evidence stays in the store with the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Rule id (`rules/catalogue.toml`, `SCHEMA-*`, `DOC-*`).
    pub rule: String,
    /// JSON Pointer into the canonical record; empty for the whole record or document.
    pub path: String,
    /// The operator's message.
    pub message: String,
    /// Severity; absent for a whole document that could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Set when an operator released the record from this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<crate::finding::Release>,
}

impl From<&Finding> for Problem {
    fn from(f: &Finding) -> Self {
        Problem {
            rule: f.rule.clone(),
            path: f.path.clone(),
            message: f.message.clone(),
            severity: Some(f.severity),
            released: f.released.clone(),
        }
    }
}

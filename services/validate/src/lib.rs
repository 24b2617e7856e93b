//! The validate service: reads each received document from the store, checks every record
//! (schema, identifiers), and sends valid ones on `valid` (canonical, personal fields stripped;
//! the full record is kept in the private table) and invalid ones on `rejected` with their errors.
//! Event ids are derived from the receipt and record index, so a redelivered document produces
//! the same events and downstream dedupe keeps effects single.

use gongshi_domain::events::{
    DocumentRejected, Event as _, NoticeReceived, NoticeValid, Problem, RecordInvalid,
    RecordReleased,
};
use gongshi_domain::rules::Catalogue;
use gongshi_domain::{Document, Limits, Release, Schemas, check_record};
use gongshi_platform::bus::{self, Acks, Quarantine, topics};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events as telemetry;
use gongshi_platform::{Bus, Envelope, HandlerError, Store, store};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Consumer group of the validate service.
pub const GROUP: &str = gongshi_platform::bus::VALIDATE.group;

/// Documents validated together, at most: their rows are written in one transaction and their
/// events sent together, so the commit and the broker's acknowledgement are paid once.
pub const MAX_BATCH: usize = 64;

/// Runs the validate consumer until `shutdown`.
pub async fn run(store: Store, bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
    let consumer = bus.consumer(GROUP, &[topics::RECEIVED])?;
    tracing::info!(message = "validate consuming", topic = topics::RECEIVED);
    let quarantine = Quarantine::new(store.clone(), bus.clone());
    bus::consume_batches(
        consumer,
        bus::VALIDATE.name,
        &quarantine,
        shutdown,
        MAX_BATCH,
        |events| {
            let (store, bus) = (store.clone(), bus.clone());
            async move { handle_batch(&store, &bus, &events).await }
        },
        |event| {
            let (store, bus) = (store.clone(), bus.clone());
            async move { handle(&store, &bus, &event).await }
        },
    )
    .await?;
    Ok(())
}

/// What checking records decided, written and sent together by [`Checked::finish`].
#[derive(Default)]
struct Checked {
    /// Full records of valid notices for the private store: (notice id, canonical record).
    private: Vec<(String, Value)>,
    receipts: Vec<store::receipts::RecordUpdate>,
    valid: Vec<Envelope>,
    rejected: Vec<Envelope>,
}

impl Checked {
    /// Writes the rows in one transaction (two statements), then hands the events to the
    /// producer; returns their acknowledgements. Events go after the commit and the offsets are
    /// stored only once the broker has them ([`bus::consume_batches`]): a crash in between
    /// redelivers the documents, which produce the same event ids again, and consumers dedupe them.
    async fn finish(self, store: &Store, bus: &Bus) -> Result<Acks, HandlerError> {
        let mut tx = store.pool.begin().await?;
        let private: Vec<(&str, &Value)> = self
            .private
            .iter()
            .map(|(id, c)| (id.as_str(), c))
            .collect();
        store::notices::store_private_many(&mut tx, &private).await?;
        store::receipts::set_statuses(&mut tx, &self.receipts).await?;
        tx.commit().await?;
        let valid = bus.queue_many(topics::VALID, &self.valid)?;
        Ok(valid.and(bus.queue_many(topics::REJECTED, &self.rejected)?))
    }
}

/// The stored document of `receipt` (`bytes`, as read from the store), parsed; `None` (after
/// sending `document.rejected`) when it cannot be read.
async fn read_document(
    store: &Store,
    bus: &Bus,
    receipt: &str,
    bytes: Option<Vec<u8>>,
) -> Result<Option<Document>, HandlerError> {
    let Some(bytes) = bytes else {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "receipt {receipt} not in the store"
        )));
    };
    // Ingest refused documents over its limit already; here the stored document is read whole.
    let limits = Limits {
        max_document_bytes: bytes.len().max(1),
        ..Limits::default()
    };
    match Document::parse(&bytes, limits) {
        Ok(d) => Ok(Some(d)),
        Err(e) => {
            let rejected = DocumentRejected {
                receipt: receipt.to_owned(),
                errors: vec![Problem {
                    rule: e.rule().to_owned(),
                    path: String::new(),
                    message: e.to_string(),
                    severity: None,
                    released: None,
                }],
            };
            store::receipts::set_error(&store.pool, receipt, &as_json(&rejected.errors)).await?;
            bus.send(&rejected).await?;
            telemetry::DocumentUnreadable {
                receipt,
                rule: e.rule(),
            }
            .emit();
            Ok(None)
        }
    }
}

/// Checks one record with the operator's releases applied, and adds to `out` its private record,
/// its receipt row, and its `valid` event or its `record.invalid` event. Returns whether it is
/// valid.
async fn validate_record(
    store: &Store,
    receipt: &str,
    idx: i32,
    raw: &gongshi_domain::parse::RawRecord,
    releases: &mut Option<Vec<store::receipts::RecordRelease>>,
    out: &mut Checked,
) -> Result<bool, HandlerError> {
    let schemas = Schemas::embedded();
    let mut checked = check_record(schemas, Catalogue::embedded(), raw);
    // Releases only turn errors into warnings: a record without errors needs none of them.
    let releases = if checked.errors().next().is_none() {
        &[][..]
    } else {
        if releases.is_none() {
            *releases = Some(store::receipts::releases(&store.pool, receipt).await?);
        }
        releases.as_deref().unwrap_or_default()
    };
    for r in releases.iter().filter(|r| r.index == idx) {
        let release = Release {
            released_by: r.released_by.clone(),
            reason: r.reason.clone(),
        };
        checked.release(&r.rule, &release);
    }
    let error_list = problems(checked.errors());
    let warning_list = problems(checked.warnings());
    let (errors, warnings) = (as_json(&error_list), as_json(&warning_list));
    match (&checked.notice, checked.is_valid()) {
        (Some(notice), true) => {
            out.private
                .push((notice.id.clone(), Value::Object(notice.canonical.clone())));
            let public = notice.public(schemas);
            out.valid.push(
                NoticeValid {
                    receipt: receipt.to_owned(),
                    index: idx,
                    notice: public,
                    warnings: warning_list,
                }
                .envelope(),
            );
            out.receipts.push(store::receipts::RecordUpdate {
                receipt_id: receipt.to_owned(),
                idx,
                status: "received".into(),
                notice_id: Some(notice.id.clone()),
                errors,
                warnings,
                hold_until: None,
                subject: None,
            });
            telemetry::RecordValid {
                receipt,
                index: idx,
                notice_id: &notice.id,
            }
            .emit();
            Ok(true)
        }
        _ => {
            out.receipts.push(store::receipts::RecordUpdate {
                receipt_id: receipt.to_owned(),
                idx,
                status: "invalid".into(),
                notice_id: None,
                errors,
                warnings,
                hold_until: None,
                // What it says it is, so that operators can tell one invalid record from another.
                subject: checked.canonical().and_then(|canonical| {
                    schemas
                        .table(&checked.table)
                        .and_then(|table| gongshi_domain::notice::subject_of(table, canonical))
                }),
            });
            let rejected = RecordInvalid {
                receipt: receipt.to_owned(),
                index: idx,
                table: checked.table.clone(),
                errors: error_list,
                warnings: warning_list,
                canonical: checked
                    .canonical()
                    .map(|c| gongshi_domain::notice::strip_personal(schemas, &checked.table, c)),
            }
            .envelope();
            out.rejected.push(rejected);
            telemetry::RecordInvalid {
                receipt,
                index: idx,
                table: &checked.table,
            }
            .emit();
            Ok(false)
        }
    }
}

/// An operator released an invalid record from a rule: the release is kept, and the record is
/// checked again with it. Only an `invalid` record is released (anything else already moved on).
async fn handle_release(
    store: &Store,
    bus: &Bus,
    released: &RecordReleased,
) -> Result<(), HandlerError> {
    let status =
        store::receipts::record_status(&store.pool, &released.receipt, released.index).await?;
    // A redelivered release finds the record `received` already (moved below) and goes on.
    if !matches!(status.as_deref(), Some("invalid" | "received")) {
        tracing::warn!(receipt = %released.receipt, index = released.index, status = ?status,
            message = "release of a record that is not invalid; nothing to do");
        return Ok(());
    }
    store::receipts::add_release(
        &store.pool,
        &released.receipt,
        &store::receipts::RecordRelease {
            index: released.index,
            rule: released.rule.clone(),
            released_by: released.released_by.clone(),
            reason: released.reason.clone(),
        },
    )
    .await?;
    let bytes = store::receipts::document(&store.pool, &released.receipt).await?;
    let Some(document) = read_document(store, bus, &released.receipt, bytes).await? else {
        return Ok(());
    };
    let records = document.into_records();
    let raw = usize::try_from(released.index)
        .ok()
        .and_then(|i| records.get(i))
        .ok_or_else(|| {
            HandlerError::Permanent(anyhow::anyhow!(
                "receipt {} has no record {}",
                released.receipt,
                released.index
            ))
        })?;
    let mut releases = None;
    // Back to `received`: validation may move it on from there (and only from there).
    store::receipts::move_status(
        &store.pool,
        &released.receipt,
        released.index,
        "invalid",
        "received",
    )
    .await?;
    let mut out = Checked::default();
    let valid = validate_record(
        store,
        &released.receipt,
        released.index,
        raw,
        &mut releases,
        &mut out,
    )
    .await?;
    tracing::info!(receipt = %released.receipt, index = released.index, rule = %released.rule,
        valid, message = "record released and checked again");
    out.finish(store, bus).await?.wait().await?;
    Ok(())
}

fn problems<'a>(findings: impl Iterator<Item = &'a gongshi_domain::Finding>) -> Vec<Problem> {
    findings.map(Problem::from).collect()
}

/// Findings as the receipt keeps them (the same shape events carry).
fn as_json(problems: &[Problem]) -> Value {
    serde_json::to_value(problems).unwrap_or(Value::Null)
}

/// Handles one event of the `received` topic: a document to validate, or an operator's release
/// of one of its records.
pub async fn handle(store: &Store, bus: &Bus, event: &Envelope) -> Result<(), HandlerError> {
    handle_batch(store, bus, std::slice::from_ref(event))
        .await?
        .wait()
        .await?;
    Ok(())
}

/// Handles events of the `received` topic in order. The documents' rows are written in one
/// transaction and their events handed to the producer together at the end (the returned
/// acknowledgements say when the broker has them); an operator's release is applied where it
/// comes (it is rare, and it reads the record's stored status).
pub async fn handle_batch(
    store: &Store,
    bus: &Bus,
    events: &[Envelope],
) -> Result<Acks, HandlerError> {
    let mut out = Checked::default();
    let received: Vec<Option<NoticeReceived>> = events
        .iter()
        .map(|e| {
            (e.event_type != RecordReleased::TYPE)
                .then(|| e.decode())
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    // The batch's documents in one statement.
    let receipts: Vec<&str> = received
        .iter()
        .flatten()
        .map(|r| r.receipt.as_str())
        .collect();
    let mut documents = store::receipts::documents(&store.pool, &receipts).await?;
    for (event, received) in events.iter().zip(&received) {
        let Some(received) = received else {
            handle_release(store, bus, &event.decode()?).await?;
            continue;
        };
        let receipt = received.receipt.as_str();
        // A document sent twice in one batch is read from the store once; the second finds it
        // gone from the map and takes it from the store again.
        let bytes = match documents.remove(receipt) {
            Some(bytes) => Some(bytes),
            None => store::receipts::document(&store.pool, receipt).await?,
        };
        let Some(document) = read_document(store, bus, receipt, bytes).await? else {
            continue;
        };
        // Read only when a record fails: most documents have no failing record, let alone a
        // release.
        let mut releases = None;
        for (index, raw) in document.into_records().iter().enumerate() {
            let idx = i32::try_from(index).unwrap_or(i32::MAX);
            validate_record(store, receipt, idx, raw, &mut releases, &mut out).await?;
        }
    }
    out.finish(store, bus).await
}

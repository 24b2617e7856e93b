//! The validate service: reads each received document from the store, checks every record
//! (schema, identifiers), and sends valid ones on `valid` (canonical, personal fields stripped;
//! the full record is kept in the private table) and invalid ones on `rejected` with their errors.
//! Event ids are derived from the receipt and record index, so a redelivered document produces
//! the same events and downstream dedupe keeps effects single.

use anyhow::Context as _;
use gongshi_domain::events::{
    DocumentRejected, Event as _, NoticeReceived, NoticeValid, Problem, RecordInvalid,
    RecordReleased,
};
use gongshi_domain::rules::Catalogue;
use gongshi_domain::{Document, Limits, Release, Schemas, check_record};
use gongshi_platform::bus::{self, Quarantine, topics};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events as telemetry;
use gongshi_platform::{Bus, Envelope, HandlerError, Store, store};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Consumer group of the validate service.
pub const GROUP: &str = gongshi_platform::bus::VALIDATE.group;

/// Runs the validate consumer until `shutdown`.
pub async fn run(store: Store, bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
    let consumer = bus.consumer(GROUP, &[topics::RECEIVED])?;
    tracing::info!(message = "validate consuming", topic = topics::RECEIVED);
    let quarantine = Quarantine::new(store.clone(), bus.clone());
    bus::consume(
        consumer,
        bus::VALIDATE.name,
        &quarantine,
        shutdown,
        |event| {
            let (store, bus) = (store.clone(), bus.clone());
            async move { handle(&store, &bus, &event).await }
        },
    )
    .await?;
    Ok(())
}

/// The stored document of `receipt`, parsed; `None` (after sending `document.rejected`) when it
/// cannot be read.
async fn read_document(
    store: &Store,
    bus: &Bus,
    receipt: &str,
) -> Result<Option<Document>, HandlerError> {
    let Some(bytes) = store::receipts::document(&store.pool, receipt).await? else {
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

/// Checks one record with the operator's releases applied, writes its private record and receipt
/// row, and returns its `valid` event, or its `record.invalid` event.
async fn validate_record(
    store: &Store,
    conn: &mut sqlx::PgConnection,
    receipt: &str,
    idx: i32,
    raw: &gongshi_domain::parse::RawRecord,
    releases: &mut Option<Vec<store::receipts::RecordRelease>>,
) -> Result<Result<Envelope, Envelope>, HandlerError> {
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
            let private = Value::Object(notice.canonical.clone());
            store::notices::store_private(&mut *conn, &notice.id, &private).await?;
            let public = notice.public(schemas);
            let valid = NoticeValid {
                receipt: receipt.to_owned(),
                index: idx,
                notice: public,
                warnings: warning_list,
            }
            .envelope();
            store::receipts::set_status(
                &mut *conn,
                receipt,
                idx,
                "received",
                Some(&notice.id),
                &errors,
                &warnings,
                None,
            )
            .await?;
            telemetry::RecordValid {
                receipt,
                index: idx,
                notice_id: &notice.id,
            }
            .emit();
            Ok(Ok(valid))
        }
        _ => {
            store::receipts::set_status(
                &mut *conn, receipt, idx, "invalid", None, &errors, &warnings, None,
            )
            .await?;
            let rejected = RecordInvalid {
                receipt: receipt.to_owned(),
                index: idx,
                table: checked.table.clone(),
                errors: error_list,
                warnings: warning_list,
                canonical: checked
                    .canonical
                    .as_ref()
                    .map(|c| gongshi_domain::notice::strip_personal(schemas, &checked.table, c)),
            }
            .envelope();
            telemetry::RecordInvalid {
                receipt,
                index: idx,
                table: &checked.table,
            }
            .emit();
            Ok(Err(rejected))
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
    let Some(document) = read_document(store, bus, &released.receipt).await? else {
        return Ok(());
    };
    let records = document.records();
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
    let mut conn = store.pool.acquire().await?;
    let outcome = validate_record(
        store,
        &mut conn,
        &released.receipt,
        released.index,
        raw,
        &mut releases,
    )
    .await?;
    tracing::info!(receipt = %released.receipt, index = released.index, rule = %released.rule,
        valid = outcome.is_ok(), message = "record released and checked again");
    match outcome {
        Ok(valid) => bus.publish(topics::VALID, &valid).await?,
        Err(rejected) => bus.publish(topics::REJECTED, &rejected).await?,
    }
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
    if event.event_type == RecordReleased::TYPE {
        return handle_release(store, bus, &event.decode()?).await;
    }
    let received: NoticeReceived = event.decode()?;
    let receipt = received.receipt.as_str();
    let Some(document) = read_document(store, bus, receipt).await? else {
        return Ok(());
    };
    // Read only when a record fails: most documents have no failing record, let alone a release.
    let mut releases = None;
    let mut valid_events = Vec::new();
    let mut rejected_events = Vec::new();
    // One transaction for the document's rows: one commit (and fsync) per document, not two per
    // record. A redelivery writes the same rows again.
    let mut tx = store.pool.begin().await?;
    for (index, raw) in document.records().iter().enumerate() {
        let idx = i32::try_from(index).unwrap_or(i32::MAX);
        match validate_record(store, &mut tx, receipt, idx, raw, &mut releases).await? {
            Ok(valid) => valid_events.push(valid),
            Err(rejected) => rejected_events.push(rejected),
        }
    }
    tx.commit().await?;
    // Sent after the rows are written and before the offset is stored: a crash in between
    // redelivers the document, which produces the same event ids again.
    bus.publish_many(topics::VALID, &valid_events).await?;
    bus.publish_many(topics::REJECTED, &rejected_events)
        .await
        .context("sending rejected events")
        .map_err(HandlerError::Transient)?;
    Ok(())
}

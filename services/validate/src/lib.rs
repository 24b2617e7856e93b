//! The validate service: reads each received document from the store, checks every record
//! (schema, identifiers), and sends valid ones on `valid` (canonical, personal fields stripped;
//! the full record is kept in the private table) and invalid ones on `rejected` with their errors.
//! Event ids are derived from the receipt and record index, so a redelivered document produces
//! the same events and downstream dedupe keeps effects single.

use anyhow::Context as _;
use gongshi_domain::events::{
    DocumentRejected, Event as _, NoticeReceived, NoticeValid, Problem, RecordInvalid,
};
use gongshi_domain::rules::Catalogue;
use gongshi_domain::{Document, Limits, Schemas, check_record};
use gongshi_platform::bus::{self, Quarantine, topics};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events as telemetry;
use gongshi_platform::{Bus, Envelope, HandlerError, Store, store};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Consumer group of the validate service.
pub const GROUP: &str = "gongshi-validate";

/// Runs the validate consumer until `shutdown`.
pub async fn run(store: Store, bus: Bus, shutdown: CancellationToken) -> anyhow::Result<()> {
    let consumer = bus.consumer(GROUP, &[topics::RECEIVED])?;
    tracing::info!(message = "validate consuming", topic = topics::RECEIVED);
    let quarantine = Quarantine::new(store.clone(), bus.clone());
    bus::consume(consumer, "validate", &quarantine, shutdown, |event| {
        let (store, bus) = (store.clone(), bus.clone());
        async move { handle(&store, &bus, &event).await }
    })
    .await?;
    Ok(())
}

fn problems<'a>(findings: impl Iterator<Item = &'a gongshi_domain::Finding>) -> Vec<Problem> {
    findings.map(Problem::from).collect()
}

/// Findings as the receipt keeps them (the same shape events carry).
fn as_json(problems: &[Problem]) -> Value {
    serde_json::to_value(problems).unwrap_or(Value::Null)
}

/// Handles one `received` event.
pub async fn handle(store: &Store, bus: &Bus, event: &Envelope) -> Result<(), HandlerError> {
    let received: NoticeReceived = event.decode()?;
    let receipt = received.receipt.as_str();
    let Some(bytes) = store::receipts::document(&store.pool, receipt).await? else {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "receipt {receipt} not in the store"
        )));
    };
    let schemas = Schemas::embedded();
    let catalogue = Catalogue::embedded();
    // Ingest refused documents over its limit already; here the stored document is read whole.
    let limits = Limits {
        max_document_bytes: bytes.len().max(1),
        ..Limits::default()
    };
    let document = match Document::parse(&bytes, limits) {
        Ok(d) => d,
        Err(e) => {
            let rejected = DocumentRejected {
                receipt: receipt.to_owned(),
                errors: vec![Problem {
                    rule: e.rule().to_owned(),
                    path: String::new(),
                    message: e.to_string(),
                    severity: None,
                }],
            };
            store::receipts::set_error(&store.pool, receipt, &as_json(&rejected.errors)).await?;
            bus.send(&rejected).await?;
            telemetry::DocumentUnreadable {
                receipt,
                rule: e.rule(),
            }
            .emit();
            return Ok(());
        }
    };
    let mut valid_events = Vec::new();
    let mut rejected_events = Vec::new();
    for (index, raw) in document.records().iter().enumerate() {
        let idx = i32::try_from(index).unwrap_or(i32::MAX);
        let checked = check_record(schemas, catalogue, raw);
        let error_list = problems(checked.errors());
        let warning_list = problems(checked.warnings());
        let (errors, warnings) = (as_json(&error_list), as_json(&warning_list));
        let mut conn = store.pool.acquire().await?;
        match (&checked.notice, checked.is_valid()) {
            (Some(notice), true) => {
                let private = Value::Object(notice.canonical.clone());
                store::notices::store_private(&mut conn, &notice.id, &private).await?;
                let public = notice.public(schemas);
                let valid = NoticeValid {
                    receipt: receipt.to_owned(),
                    index: idx,
                    notice: public,
                    warnings: warning_list,
                }
                .envelope();
                store::receipts::set_status(
                    &mut conn,
                    receipt,
                    idx,
                    "received",
                    Some(&notice.id),
                    &errors,
                    &warnings,
                    None,
                )
                .await?;
                valid_events.push(valid);
                telemetry::RecordValid {
                    receipt,
                    index: idx,
                    notice_id: &notice.id,
                }
                .emit();
            }
            _ => {
                store::receipts::set_status(
                    &mut conn, receipt, idx, "invalid", None, &errors, &warnings, None,
                )
                .await?;
                let rejected = RecordInvalid {
                    receipt: receipt.to_owned(),
                    index: idx,
                    table: checked.table.clone(),
                    errors: error_list,
                    warnings: warning_list,
                    canonical: checked.canonical.as_ref().map(|c| {
                        gongshi_domain::notice::strip_personal(schemas, &checked.table, c)
                    }),
                }
                .envelope();
                rejected_events.push(rejected);
                telemetry::RecordInvalid {
                    receipt,
                    index: idx,
                    table: &checked.table,
                }
                .emit();
            }
        }
    }
    // Sent after the rows are written and before the offset is stored: a crash in between
    // redelivers the document, which produces the same event ids again.
    bus.publish_many(topics::VALID, &valid_events).await?;
    bus.publish_many(topics::REJECTED, &rejected_events)
        .await
        .context("sending rejected events")
        .map_err(HandlerError::Transient)?;
    Ok(())
}

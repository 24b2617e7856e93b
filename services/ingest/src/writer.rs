//! Commits accepted documents in groups: every document that arrives while one commit runs is
//! stored by the next, in one transaction (group commit).
//!
//! A document's receipt, its record rows and its `notice.received` event in the outbox are still
//! committed together, and the platform is still answered only after that commit. What changes
//! is how many documents share it: at 500 single-notice documents a second, one transaction (and
//! one WAL flush) per document was most of the store's work, and the statements of a group cost
//! what one document's cost. A lone document is committed at once, alone.
//!
//! A group whose transaction fails is committed again one document at a time, so a document the
//! store refuses is the only one answered 503; with the store away, each document is refused.
//! A document whose client hangs up while it waits is stored all the same; sent again, it is
//! judged a `duplicate` of itself, so nothing is lost either way.

use crate::sender::{self, Sender};
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use gongshi_domain::events::{Envelope, Event as _, NoticeReceived};
use gongshi_platform::store::receipts::{self, NewReceipt};
use gongshi_platform::{Store, store};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Documents in one group, at most.
const GROUP_DOCUMENTS: usize = 256;

/// Bytes of documents in one group, at most (ingest accepts documents of up to 2 MiB by default,
/// so a group of large ones stays a few of them).
const GROUP_BYTES: usize = 8 * 1024 * 1024;

/// Documents waiting for the writer; a handler waits for room beyond this.
const QUEUE: usize = 1024;

/// A parsed document waiting to be stored.
#[derive(Debug)]
pub(crate) struct Pending {
    pub receipt_id: String,
    pub received_at: DateTime<Utc>,
    pub content_type: String,
    pub document: Bytes,
    pub source: &'static str,
    pub tables: Vec<String>,
    pub event: Envelope,
}

type Outcome = Result<(), Arc<anyhow::Error>>;
type Queued = (Pending, oneshot::Sender<Outcome>);

/// A handle on the writing task (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Queued>,
}

impl Writer {
    /// Starts the task on the current Tokio runtime; it ends when every handle is dropped.
    pub(crate) fn spawn(store: Store, sender: Sender) -> Writer {
        let (queue, documents) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, sender, documents));
        Writer { queue }
    }

    /// Stores the document with its record rows and its event, and hands the event to the
    /// sender; returns once that has committed. An error means the document was not stored.
    pub(crate) async fn store(&self, pending: Pending) -> anyhow::Result<()> {
        let (done, outcome) = oneshot::channel();
        self.queue
            .send((pending, done))
            .await
            .map_err(|_| anyhow::anyhow!("ingest's writer has stopped"))?;
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::anyhow!("{e:#}")),
            Err(_) => Err(anyhow::anyhow!("ingest's writer stopped before committing")),
        }
    }
}

async fn run(store: Store, sender: Sender, mut queue: mpsc::Receiver<Queued>) {
    let mut carried: Option<Queued> = None;
    loop {
        let first = match carried.take() {
            Some(q) => q,
            None => match queue.recv().await {
                Some(q) => q,
                None => return,
            },
        };
        let mut bytes = first.0.document.len();
        let mut group = vec![first];
        // Whatever arrived meanwhile joins, up to the group's limits.
        while group.len() < GROUP_DOCUMENTS {
            let Ok(next) = queue.try_recv() else { break };
            if bytes + next.0.document.len() > GROUP_BYTES {
                carried = Some(next);
                break;
            }
            bytes += next.0.document.len();
            group.push(next);
        }
        commit(&store, &sender, group).await;
    }
}

/// Commits a group, or each of its documents alone when the group's transaction fails.
async fn commit(store: &Store, sender: &Sender, group: Vec<Queued>) {
    let pending: Vec<&Pending> = group.iter().map(|(p, _)| p).collect();
    match write(store, &pending).await {
        Ok(()) => {
            for (p, done) in group {
                sender.send(p.event);
                let _ = done.send(Ok(()));
            }
        }
        Err(e) if group.len() == 1 => {
            let e = Arc::new(e);
            for (_, done) in group {
                let _ = done.send(Err(e.clone()));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, documents = group.len(), message = "group commit failed; committing each document alone");
            for (p, done) in group {
                match write(store, &[&p]).await {
                    Ok(()) => {
                        sender.send(p.event);
                        let _ = done.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = done.send(Err(Arc::new(e)));
                    }
                }
            }
        }
    }
}

/// One transaction: the receipts with their record rows, and their events in the outbox.
async fn write(store: &Store, pending: &[&Pending]) -> anyhow::Result<()> {
    let receipts: Vec<NewReceipt<'_>> = pending
        .iter()
        .map(|p| NewReceipt {
            receipt_id: &p.receipt_id,
            received_at: Some(p.received_at),
            content_type: &p.content_type,
            document: &p.document,
            source: p.source,
            tables: &p.tables,
        })
        .collect();
    let events: Vec<Envelope> = pending.iter().map(|p| p.event.clone()).collect();
    let mut tx = store.pool.begin().await?;
    receipts::insert_many_in(&mut tx, &receipts).await?;
    store::outbox::enqueue_for_writer(&mut tx, NoticeReceived::TOPIC, &events, sender::GRACE)
        .await?;
    tx.commit().await?;
    Ok(())
}

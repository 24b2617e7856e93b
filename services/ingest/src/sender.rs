//! Sends each accepted document's `notice.received` event once its receipt has committed.
//!
//! The receipt and its event are written in one transaction (the event into the outbox), and
//! the platform is answered 202 at that commit: from then on the document is gongshi's to deliver,
//! whatever happens to this process or the broker. This task sends the events at once, in
//! batches, and removes each from the outbox when the broker has acknowledged it. What it could
//! not send (the broker away, the process killed mid-send, its queue full) stays in the outbox,
//! and enforce's relay sends it once [`GRACE`] has passed; validate handles a repeat as the same
//! document again, and downstream consumers dedupe on the event ids.

use gongshi_domain::events::{Envelope, Event as _, NoticeReceived};
use gongshi_platform::{Bus, Store, store};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the outbox relay leaves an accepted document's event to this task: well over a
/// healthy broker's acknowledgement (milliseconds), so the two seldom both send it.
pub const GRACE: Duration = Duration::from_secs(10);

/// Events waiting for the task; beyond this the relay sends them after [`GRACE`].
const QUEUE: usize = 4096;

/// Events sent at once, at most.
const BATCH: usize = 256;

/// A handle on the sending task (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    queue: mpsc::Sender<Envelope>,
}

impl Sender {
    /// Starts the task on the current Tokio runtime; it ends when every handle is dropped.
    pub(crate) fn spawn(store: Store, bus: Bus) -> Sender {
        let (queue, events) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, bus, events));
        Sender { queue }
    }

    /// Hands a committed event to the task. Never waits: with the queue full (the broker slower
    /// than ingest), the event is left to the outbox relay.
    pub(crate) fn send(&self, event: Envelope) {
        if let Err(e) = self.queue.try_send(event) {
            tracing::warn!(event = %e.into_inner().id, message = "sender queue full; the outbox relay sends the event after its grace");
        }
    }
}

async fn run(store: Store, bus: Bus, mut events: mpsc::Receiver<Envelope>) {
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        match bus.publish_many(NoticeReceived::TOPIC, &batch).await {
            Ok(()) => {
                let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
                if let Err(e) = store::outbox::remove_sent(&store.pool, &ids).await {
                    // Still queued: the relay sends them again after the grace (a repeat).
                    tracing::warn!(error = %e, events = ids.len(), message = "sent events not removed from the outbox");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), message = "received events not sent; the outbox relay sends them after its grace");
            }
        }
        batch.clear();
    }
}

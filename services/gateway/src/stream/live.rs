//! The process-wide tail of the feed store: one task polls `feed_entries` for rows above the
//! last it saw and broadcasts them to every stream client. Polling the store (rather than
//! hearing from the publish service in-process) keeps it correct when publish runs in another
//! process; serialised appends (`store::feed`) mean "above the last seen" never skips a row.

use crate::feeds::head::FeedHead;
use gongshi_platform::Store;
use gongshi_platform::feed_filter::FeedFilter;
use gongshi_platform::store::feed::{self, FeedRow};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Rows read per poll.
const BATCH: i64 = 500;

/// The broadcast of new feed entries.
#[derive(Debug, Clone)]
pub struct Live {
    tx: broadcast::Sender<Arc<FeedRow>>,
    shutdown: CancellationToken,
}

impl Live {
    /// A hub whose clients may each fall `buffer` entries behind before they are dropped.
    pub fn new(buffer: usize) -> Live {
        let (tx, _) = broadcast::channel(buffer.max(1));
        Live {
            tx,
            shutdown: CancellationToken::new(),
        }
    }

    /// New entries from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FeedRow>> {
        self.tx.subscribe()
    }

    /// Hands one new entry to every client (none listening is fine).
    pub(crate) fn publish(&self, row: FeedRow) {
        let _ = self.tx.send(Arc::new(row));
    }

    /// Cancelled when the gateway stops: open streams end so the server can.
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Polls the store every `poll`, and at once when `head` moves, until `shutdown`,
    /// broadcasting entries above `start` — the head read before the gateway accepts
    /// connections, so that no client can read a head the tail has not reached yet and miss
    /// what lies between. (The poll stays: notifications are a shortcut, not the guarantee.)
    pub async fn run(
        self,
        store: Store,
        start: i64,
        poll: Duration,
        head: FeedHead,
        shutdown: CancellationToken,
    ) {
        let mut last = start;
        let all = FeedFilter::default();
        loop {
            let step = async {
                let mut conn = store.pool.acquire().await?;
                feed::since(&mut conn, &all, last, i64::MAX, BATCH).await
            };
            match step.await {
                Ok(rows) => {
                    last = rows.last().map_or(last, |r| r.seq);
                    let full = rows.len() as i64 == BATCH;
                    for row in rows {
                        self.publish(row);
                    }
                    if full {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, message = "feed tail: store unavailable; retrying")
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = head.changed() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
        self.shutdown.cancel();
    }
}

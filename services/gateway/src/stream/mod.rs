//! The event stream's clients (`GET /v1/stream`, route in `routes::stream`): Server-Sent Events
//! of the feed's entries with the feeds' filters. Each event's `id:` is the entry's global
//! sequence, so a client that reconnects with `Last-Event-ID` (or `?last_event_id=`) gets every
//! matching entry after it, from the store, then live ones. Heartbeats are comment lines. A
//! client that falls more than `GONGSHI_STREAM_BUFFER` entries behind is dropped (its connection
//! ends); it loses nothing, as it resumes from its last id.

pub mod live;

use crate::feeds::item::Item;
use axum::response::sse::Event;
use futures::Stream;
use gongshi_platform::Store;
use gongshi_platform::feed_filter::FeedFilter;
use gongshi_platform::store::feed::{self, FeedRow};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::StreamClientDropped;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

/// Entries read from the store per replay query.
const REPLAY_BATCH: i64 = 200;

/// One stream client: replays matching entries after its cursor from the store, then follows
/// live ones.
pub(crate) struct Client {
    store: Store,
    filter: FeedFilter,
    base: String,
    /// The highest seq this client has been sent or has had filtered away.
    cursor: i64,
    replaying: bool,
    pending: VecDeque<FeedRow>,
    rx: broadcast::Receiver<Arc<FeedRow>>,
    shutdown: CancellationToken,
}

impl Client {
    /// A client that resumes after `cursor` (replaying from the store first).
    pub(crate) fn new(
        store: Store,
        filter: FeedFilter,
        base: String,
        cursor: i64,
        rx: broadcast::Receiver<Arc<FeedRow>>,
        shutdown: CancellationToken,
    ) -> Self {
        Client {
            store,
            filter,
            base,
            cursor,
            replaying: true,
            pending: VecDeque::new(),
            rx,
            shutdown,
        }
    }

    fn event(&self, row: &FeedRow) -> Event {
        Event::default()
            .id(row.seq.to_string())
            .data(Item::from_row(row, &self.base).json().to_string())
    }

    /// The next event, or `None` when the stream ends (shutdown, store error, lagging).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                self.cursor = self.cursor.max(row.seq);
                return Some(self.event(&row));
            }
            if self.replaying {
                let rows = async {
                    let mut conn = self.store.pool.acquire().await?;
                    feed::since(&mut conn, &self.filter, self.cursor, i64::MAX, REPLAY_BATCH).await
                }
                .await;
                match rows {
                    Ok(rows) => {
                        self.replaying = rows.len() as i64 == REPLAY_BATCH;
                        self.pending.extend(rows);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, message = "stream replay failed; closing");
                        return None;
                    }
                }
                continue;
            }
            let received = tokio::select! {
                () = self.shutdown.cancelled() => return None,
                r = self.rx.recv() => r,
            };
            match received {
                Ok(row) if row.seq > self.cursor => {
                    self.cursor = row.seq;
                    if self.filter.matches(&row.facts) {
                        return Some(self.event(&row));
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    StreamClientDropped { lagged: n }.emit();
                    return None;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// The client's events, until it ends.
pub(crate) fn events(client: Client) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(
        client,
        |mut c| async move { c.next().await.map(|e| (Ok(e), c)) },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gongshi_platform::feed_filter::{EntryFacts, FilterParams};

    fn row(seq: i64, region: &str) -> FeedRow {
        FeedRow {
            seq,
            entry_id: format!("e{seq}"),
            notice_id: format!("n{seq}"),
            procedure_key: "P/J/S".into(),
            event_type: "notice.published".into(),
            entry: serde_json::json!({"payload": {}}),
            facts: EntryFacts {
                kind: Some("tender".into()),
                category: Some("works".into()),
                region: Some(region.into()),
                status: Some("open".into()),
                title: format!("公告{seq}"),
                at: chrono::Utc::now(),
                search_text: String::new(),
            },
            stored_at: chrono::Utc::now(),
        }
    }

    fn client(live: &live::Live, region: &str) -> Client {
        // Live clients never touch the store; a lazy pool that cannot connect proves it.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://127.0.0.1:1/none")
            .expect("lazy pool");
        let filter = FeedFilter::parse(&FilterParams {
            region: Some(region.into()),
            ..Default::default()
        })
        .expect("filter");
        Client {
            store: Store { pool },
            filter,
            base: "http://gw".into(),
            cursor: 0,
            replaying: false,
            pending: VecDeque::new(),
            rx: live.subscribe(),
            shutdown: live.shutdown(),
        }
    }

    #[tokio::test]
    async fn live_clients_get_matching_entries_and_a_lagging_one_is_dropped() {
        let live = live::Live::new(3);
        let mut keeping_up = client(&live, "32");
        let mut lagging = client(&live, "32");
        live.publish(row(1, "110105"));
        live.publish(row(2, "320300"));
        assert!(keeping_up.next().await.is_some(), "the matching entry");
        assert_eq!(
            keeping_up.cursor, 2,
            "the filtered-away entry still moves the cursor"
        );
        for seq in 3..=8 {
            live.publish(row(seq, "320300"));
        }
        // Three entries of buffer: the client that read nothing is more than three behind.
        assert!(
            lagging.next().await.is_none(),
            "a lagging client is dropped"
        );
        live.shutdown().cancel();
    }
}

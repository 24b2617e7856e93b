//! The publish service: writes every publication event (a notice published, a window closed) to
//! the feed store, exactly once per event id, and marks the notice's receipt records published.
//! Indexers (the search index: [`SearchIndexer`]) plug in behind [`Indexer`]; [`reindex`] rebuilds
//! an index from the feed store.

use gongshi_domain::events::PublicEvent;
use gongshi_platform::bus::{self, Quarantine, topics};
use gongshi_platform::feed_filter::EntryFacts;
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::FeedEntryAppended;
use gongshi_platform::{Bus, Envelope, HandlerError, Store, store};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

mod indexer;
pub mod reindex;

pub use indexer::SearchIndexer;

/// Consumer group of the publish service.
pub const GROUP: &str = gongshi_platform::bus::PUBLISH.group;

/// Something that must see every feed entry after it is stored (a search index). It must be
/// idempotent: the same entry can arrive more than once.
pub trait Indexer: Send + Sync + std::fmt::Debug {
    /// Applies one entry; an error is retried.
    fn apply(&self, event: &PublicEvent) -> anyhow::Result<()>;
    /// Applies several entries in order (one commit where the index allows); an error is
    /// retried.
    fn apply_batch(&self, events: &[PublicEvent]) -> anyhow::Result<()> {
        events.iter().try_for_each(|e| self.apply(e))
    }
}

/// The publish service's parts.
#[derive(Debug, Clone)]
pub struct Publish {
    /// Store.
    pub store: Store,
    /// Bus.
    pub bus: Bus,
    /// Indexers fed after the feed store.
    pub indexers: Vec<Arc<dyn Indexer>>,
}

impl Publish {
    /// Events applied in one transaction and one index commit, at most: enough to take a
    /// commit's cost off each event, small enough that a batch holds the feed's append lock for
    /// milliseconds.
    pub const MAX_BATCH: usize = 256;

    /// Runs the consumer until `shutdown`, applying what has arrived in batches
    /// ([`bus::consume_batches`]).
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let consumer = self.bus.consumer(GROUP, &[topics::PUBLIC])?;
        tracing::info!(message = "publish consuming", topic = topics::PUBLIC);
        let quarantine = Quarantine::new(self.store.clone(), self.bus.clone());
        bus::consume_batches(
            consumer,
            bus::PUBLISH.name,
            &quarantine,
            shutdown,
            Publish::MAX_BATCH,
            |events| {
                let this = self.clone();
                async move { this.handle_batch(&events).await }
            },
            |event| {
                let this = self.clone();
                async move { this.handle(&event).await }
            },
        )
        .await?;
        Ok(())
    }

    /// Handles one publication event.
    pub async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        self.handle_batch(std::slice::from_ref(event)).await
    }

    /// Handles publication events in order, in one transaction: each is appended to the feed
    /// (once per event id) and a published notice's records are marked published; then the
    /// indexers see them all. An error before the commit leaves nothing of the batch in the
    /// store; an indexer's error after it leaves the entries committed, and the events' redelivery
    /// finds them there (appends are once per event id) and applies the index again.
    pub async fn handle_batch(&self, events: &[Envelope]) -> Result<(), HandlerError> {
        let publics: Vec<PublicEvent> = events
            .iter()
            .map(PublicEvent::decode)
            .collect::<Result<_, _>>()?;
        let mut tx = self.store.pool.begin().await?;
        let mut added = Vec::with_capacity(events.len());
        for (event, public) in events.iter().zip(&publics) {
            added.push(append(&mut tx, event, public).await?);
        }
        tx.commit().await?;
        for indexer in &self.indexers {
            indexer
                .apply_batch(&publics)
                .map_err(HandlerError::Transient)?;
        }
        for (event, added) in events.iter().zip(added) {
            if added {
                FeedEntryAppended {
                    entry_id: &event.id,
                    event_type: &event.event_type,
                }
                .emit();
            }
        }
        Ok(())
    }
}

/// Appends one event to the feed in `tx` and, for a published notice, marks it and its records
/// published; true when the entry is new.
async fn append(
    tx: &mut sqlx::PgConnection,
    event: &Envelope,
    public: &PublicEvent,
) -> Result<bool, HandlerError> {
    let notice_id = public.notice_id();
    let entry = serde_json::to_value(event).map_err(|e| HandlerError::Permanent(e.into()))?;
    let facts = match public {
        PublicEvent::Published(notice) => EntryFacts::of_published(notice),
        PublicEvent::WindowClosed(window) => {
            // A window event is filtered like its notice: kind, region, title and text come
            // from the notice's published entry when the feed has it.
            let notice = store::feed::published_facts(tx, notice_id).await?;
            EntryFacts::of_window(window, notice.as_ref())
        }
    };
    let added = store::feed::append(
        tx,
        &store::feed::NewEntry {
            entry_id: &event.id,
            notice_id,
            procedure_key: &event.key,
            event_type: &event.event_type,
            entry: &entry,
            facts: &facts,
        },
    )
    .await?;
    if let PublicEvent::Published(_) = public {
        store::notices::set_status(tx, notice_id, "published").await?;
        store::receipts::set_status_by_notice(tx, notice_id, "published", None).await?;
    }
    Ok(added)
}

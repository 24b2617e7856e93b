//! The publish service: writes every publication event (a notice published, a window closed) to
//! the feed store, exactly once per event id, and marks the notice's receipt records published.
//! Indexers (the search index: [`SearchIndexer`]) plug in behind [`Indexer`] and run on a thread
//! of their own (`index_thread.rs`); [`reindex`] rebuilds an index from the feed store.

use gongshi_domain::events::PublicEvent;
use gongshi_platform::bus::{self, Acks, Quarantine, topics};
use gongshi_platform::feed_filter::EntryFacts;
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::FeedEntryAppended;
use gongshi_platform::{Bus, Envelope, HandlerError, Store, store};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

mod index_thread;
mod indexer;
pub mod reindex;

use index_thread::IndexThread;

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
    /// Events applied in one transaction at most: enough to take a commit's cost off each
    /// event, small enough that a batch holds the feed's append lock for milliseconds. (The
    /// index thread may fold several batches into one index commit.)
    pub const MAX_BATCH: usize = 256;

    /// Runs the consumer until `shutdown`, applying what has arrived in batches
    /// ([`bus::consume_batches`]). The indexers run on their own thread ([`IndexThread`]): a
    /// batch's offsets are stored once its entries are in the feed store and in the indexes.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let consumer = self.bus.consumer(GROUP, &[topics::PUBLIC])?;
        tracing::info!(message = "publish consuming", topic = topics::PUBLIC);
        let quarantine = Quarantine::new(self.store.clone(), self.bus.clone());
        let indexes = IndexThread::start(self.indexers.clone())?;
        bus::consume_batches(
            consumer,
            bus::PUBLISH.name,
            &quarantine,
            shutdown,
            Publish::MAX_BATCH,
            |events| {
                let (this, indexes) = (self.clone(), indexes.clone());
                async move {
                    let publics = this.store_batch(&events).await?;
                    Ok(Acks::effect(indexes.apply(publics)))
                }
            },
            |event| {
                let (this, indexes) = (self.clone(), indexes.clone());
                async move {
                    let publics = this.store_batch(std::slice::from_ref(&event)).await?;
                    indexes
                        .apply(publics)
                        .await
                        .map_err(HandlerError::Transient)
                }
            },
        )
        .await?;
        Ok(())
    }

    /// Stores publication events in order, in one transaction: each is appended to the feed
    /// (once per event id) and a published notice's records are marked published. The store work
    /// is a fixed handful of statements per batch, not per event. Returns the decoded events for
    /// the indexers, which must see them after: an error before the commit leaves nothing of the
    /// batch in the store, and the events' redelivery after an indexer's error finds the entries
    /// there (appends are once per event id) and applies the index again.
    async fn store_batch(&self, events: &[Envelope]) -> Result<Vec<PublicEvent>, HandlerError> {
        let publics: Vec<PublicEvent> = events
            .iter()
            .map(PublicEvent::decode)
            .collect::<Result<_, _>>()?;
        let mut tx = self.store.pool.begin().await?;
        let facts = entry_facts(&mut tx, &publics).await?;
        let entries = events
            .iter()
            .zip(&publics)
            .map(|(event, public)| {
                serde_json::to_value(event)
                    .map(|entry| (entry, public.notice_id()))
                    .map_err(|e| HandlerError::Permanent(e.into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let new_entries: Vec<_> = events
            .iter()
            .zip(&entries)
            .zip(&facts)
            .map(
                |((event, (entry, notice_id)), facts)| store::feed::NewEntry {
                    entry_id: &event.id,
                    notice_id,
                    procedure_key: &event.key,
                    event_type: &event.event_type,
                    entry,
                    facts,
                },
            )
            .collect();
        let added = store::feed::append_many(&mut tx, &new_entries).await?;
        let published: Vec<&str> = publics
            .iter()
            .filter(|p| matches!(p, PublicEvent::Published(_)))
            .map(PublicEvent::notice_id)
            .collect();
        store::notices::set_published(&mut tx, &published).await?;
        store::receipts::set_status_by_notices(&mut tx, &published, "published").await?;
        tx.commit().await?;
        for (event, added) in events.iter().zip(added) {
            if added {
                FeedEntryAppended {
                    entry_id: &event.id,
                    event_type: &event.event_type,
                }
                .emit();
            }
        }
        Ok(publics)
    }
}

/// What filters read of each event's entry, in order. A window event is filtered like its
/// notice: kind, region, title and text come from the notice's published entry, in the feed
/// store or earlier in the same batch.
async fn entry_facts(
    tx: &mut sqlx::PgConnection,
    publics: &[PublicEvent],
) -> Result<Vec<EntryFacts>, HandlerError> {
    let windows: Vec<&str> = publics
        .iter()
        .filter(|p| matches!(p, PublicEvent::WindowClosed(_)))
        .map(PublicEvent::notice_id)
        .collect();
    let mut published = store::feed::published_facts_of(tx, &windows).await?;
    Ok(publics
        .iter()
        .map(|public| match public {
            PublicEvent::Published(notice) => {
                let facts = EntryFacts::of_published(notice);
                // The feed keeps a notice's first published entry's facts.
                published
                    .entry(public.notice_id().to_owned())
                    .or_insert_with(|| facts.clone());
                facts
            }
            PublicEvent::WindowClosed(window) => {
                EntryFacts::of_window(window, published.get(public.notice_id()))
            }
        })
        .collect())
}

//! The publish service: writes every publication event (a notice published, a window closed) to
//! the feed store, exactly once per event id, and marks the notice's receipt records published.
//! Indexers (the search index, coming with its own issue) plug in behind [`Indexer`].

use gongshi_platform::bus::{self, topics};
use gongshi_platform::feed_filter::EntryFacts;
use gongshi_platform::{Bus, Envelope, HandlerError, Store, store};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Consumer group of the publish service.
pub const GROUP: &str = "gongshi-publish";

/// Something that must see every feed entry after it is stored (a search index). It must be
/// idempotent: the same entry can arrive more than once.
pub trait Indexer: Send + Sync + std::fmt::Debug {
    /// Applies one entry; an error is retried.
    fn apply(&self, entry: &Envelope) -> anyhow::Result<()>;
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
    /// Runs the consumer until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let consumer = self.bus.consumer(GROUP, &[topics::PUBLIC])?;
        tracing::info!(message = "publish consuming", topic = topics::PUBLIC);
        bus::consume(consumer, "publish", shutdown, |event| {
            let this = self.clone();
            async move { this.handle(&event).await }
        })
        .await?;
        Ok(())
    }

    /// Handles one publication event.
    pub async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        let notice_id = event.payload["notice_id"].as_str().unwrap_or_default();
        if notice_id.is_empty() {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "event {} names no notice",
                event.id
            )));
        }
        let mut tx = self.store.pool.begin().await?;
        let entry = serde_json::to_value(event).map_err(|e| HandlerError::Permanent(e.into()))?;
        let facts = match event.event_type.as_str() {
            "notice.published" => EntryFacts::of_published(&event.payload, event.occurred_at),
            _ => {
                // A window event is filtered like its notice: kind, region, title and text come
                // from the notice's published entry.
                let mut notice = store::feed::published_facts(&mut tx, notice_id).await?;
                if notice.is_none() {
                    // Not (yet) in the feed: the notice row still knows its kind, region, title.
                    notice = store::notices::notice_json(&mut tx, notice_id)
                        .await?
                        .map(|n| EntryFacts::of_notice(&n, event.occurred_at));
                }
                EntryFacts::of_window(&event.payload, notice.as_ref(), event.occurred_at)
            }
        };
        let added = store::feed::append(
            &mut tx,
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
        if event.event_type == "notice.published" {
            store::notices::set_status(&mut tx, notice_id, "published").await?;
            store::receipts::set_status_by_notice(&mut tx, notice_id, "published", None).await?;
        }
        tx.commit().await?;
        for indexer in &self.indexers {
            indexer.apply(event).map_err(HandlerError::Transient)?;
        }
        if added {
            metrics::counter!("gongshi_feed_entries_total", "type" => event.event_type.clone())
                .increment(1);
        }
        Ok(())
    }
}

/// Keeps a search index in step with the feed: published notices are upserted, and status
/// changes (a window closed, an award or termination published) update the procedure's notices.
#[derive(Debug, Clone)]
pub struct SearchIndexer {
    /// The index.
    pub index: Arc<dyn gongshi_platform::search::SearchIndex>,
}

impl SearchIndexer {
    fn notice_doc(payload: &serde_json::Value) -> Option<gongshi_platform::search::SearchDoc> {
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        let table = gongshi_domain::Schemas::embedded().table(payload["table"].as_str()?)?;
        let record = &payload["record"];
        let body = table
            .body_field
            .as_deref()
            .and_then(|f| text(&record[f]))
            .unwrap_or_default();
        let procedure = &payload["procedure"];
        let mut codes = vec![
            format!(
                "{}/{}/{}",
                procedure["platform"].as_str()?,
                procedure["project"].as_str()?,
                procedure["section"].as_str()?
            ),
            procedure["project"].as_str()?.to_owned(),
        ];
        for p in payload["procedures"].as_array().into_iter().flatten() {
            if let Some(section) = p["section"].as_str() {
                codes.push(section.to_owned());
            }
        }
        let kind = payload["kind"].as_str()?.to_owned();
        let status = gongshi_platform::feed_filter::published_status(&kind);
        let instant = |v: &serde_json::Value| {
            v.as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
        };
        Some(gongshi_platform::search::SearchDoc {
            id: payload["notice_id"].as_str()?.to_owned(),
            title: payload["title"].as_str().unwrap_or_default().to_owned(),
            body,
            codes,
            kind,
            category: payload["regime"].as_str().unwrap_or_default().to_owned(),
            region: text(&payload["region"]),
            status: status.to_owned(),
            published_at: instant(&payload["published_at"]).unwrap_or_else(chrono::Utc::now),
            deadline: instant(&payload["windows"]["bid"]["end"]),
        })
    }

    fn procedure_ids(&self, procedure_key: &str) -> anyhow::Result<Vec<String>> {
        let q = gongshi_platform::search::SearchQuery {
            q: Some(procedure_key.to_owned()),
            page: 1,
            per_page: 100,
            ..Default::default()
        };
        Ok(self
            .index
            .search(&q)?
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect())
    }
}

impl Indexer for SearchIndexer {
    fn apply(&self, entry: &Envelope) -> anyhow::Result<()> {
        let payload = &entry.payload;
        match entry.event_type.as_str() {
            "notice.published" => {
                let Some(doc) = Self::notice_doc(payload) else {
                    tracing::warn!(event = %entry.id, message = "published event without indexable fields");
                    return Ok(());
                };
                let sibling_status = match doc.kind.as_str() {
                    "award" => Some("awarded"),
                    "termination" => Some("terminated"),
                    _ => None,
                };
                self.index.upsert(&doc)?;
                if let Some(status) = sibling_status {
                    for id in self.procedure_ids(&entry.key)? {
                        self.index.set_status(&id, status)?;
                    }
                }
            }
            "window.closed" => {
                let window = payload["window"].as_str().unwrap_or_default();
                if matches!(window, "bid" | "publicity")
                    && let Some(id) = payload["notice_id"].as_str()
                {
                    // A later award or termination has already set the final status.
                    let current = self.index.search(&gongshi_platform::search::SearchQuery {
                        q: Some(entry.key.clone()),
                        page: 1,
                        per_page: 100,
                        ..Default::default()
                    })?;
                    let settled = current.hits.iter().any(|h| {
                        h.id == id && matches!(h.status.as_str(), "awarded" | "terminated")
                    });
                    if !settled {
                        self.index.set_status(id, "closed")?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

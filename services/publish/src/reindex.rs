//! `gongshi reindex`: rebuilds a search index from scratch out of the feed store, the record of
//! everything published. Two passes over the feed up to its last entry at the start: the first
//! folds every entry's [`effects`](crate::indexer::effects) into each notice's final status (ids
//! and statuses, with a notice's sections' when it has several, so memory stays small), the second writes each published notice once, with
//! that status, in batches.

use crate::indexer::{Effect, Indexed, effects, notice_doc, procedures_of};
use gongshi_domain::events::{Envelope, PublicEvent};
use gongshi_platform::search::{SearchDoc, SearchIndex};
use gongshi_platform::store::feed;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries read from the store per query.
const PAGE: i64 = 5_000;

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Feed entries read.
    pub entries: u64,
    /// Notices written to the index.
    pub notices: u64,
    /// Notices whose status changed after publication (closed, awarded, terminated).
    pub status_changes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Final statuses folded from the feed: notice id → status (and its sections'), and procedure
/// key → notice ids.
#[derive(Debug, Default)]
struct Statuses {
    status: HashMap<String, Indexed>,
    procedures: HashMap<String, Vec<String>>,
    changes: u64,
}

impl Statuses {
    fn apply(&mut self, entry: &PublicEvent) -> anyhow::Result<()> {
        let key = entry.key();
        let (status, procedures) = (&self.status, &self.procedures);
        let mut procedure = |key: &str| -> anyhow::Result<Vec<Indexed>> {
            Ok(procedures
                .get(key)
                .into_iter()
                .flatten()
                .filter_map(|id| status.get(id).cloned())
                .collect())
        };
        for effect in effects(entry, &mut procedure)? {
            match effect {
                Effect::Upsert(doc) => {
                    for procedure in procedures_of(&doc, &key) {
                        let ids = self.procedures.entry(procedure).or_default();
                        if !ids.contains(&doc.id) {
                            ids.push(doc.id.clone());
                        }
                    }
                    self.status.insert(
                        doc.id.clone(),
                        Indexed {
                            id: doc.id,
                            kind: doc.kind,
                            status: doc.status,
                            sections: doc.sections,
                            deadline: doc.deadline,
                        },
                    );
                }
                Effect::SetStatus(change) => {
                    if let Some(known) = self.status.get_mut(&change.id) {
                        known.status = change.status;
                        known.sections = change.sections;
                        known.deadline = change.deadline.or(known.deadline);
                        self.changes += 1;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The feed entries with `seq <= up_to`, in order, a page at a time.
struct FeedPages<'a> {
    pool: &'a sqlx::PgPool,
    after: i64,
    up_to: i64,
}

impl FeedPages<'_> {
    async fn next(&mut self) -> anyhow::Result<Option<Vec<PublicEvent>>> {
        let page = feed::entries_between(self.pool, self.after, self.up_to, PAGE).await?;
        let Some((last, _)) = page.last() else {
            return Ok(None);
        };
        self.after = *last;
        let mut events = Vec::with_capacity(page.len());
        for (seq, value) in page {
            let envelope: Envelope = serde_json::from_value(value)
                .map_err(|e| anyhow::anyhow!("feed entry {seq} is not an event envelope: {e}"))?;
            match PublicEvent::decode(&envelope) {
                Ok(event) => events.push(event),
                // Like the live indexer: an entry the index cannot use is reported and skipped.
                Err(e) => {
                    tracing::warn!(seq, error = %e, message = "feed entry skipped by reindex")
                }
            }
        }
        Ok(Some(events))
    }
}

/// Clears `index` and rebuilds it from the feed store, writing `batch` notices per index commit.
pub async fn reindex(
    pool: &sqlx::PgPool,
    index: Arc<dyn SearchIndex>,
    batch: usize,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let up_to = feed::last_seq(pool).await?;
    let pages = |pool| FeedPages {
        pool,
        after: 0,
        up_to,
    };
    let mut statuses = Statuses::default();
    let mut entries = 0u64;
    let mut first = pages(pool);
    while let Some(page) = first.next().await? {
        for entry in &page {
            statuses.apply(entry)?;
        }
        entries += page.len() as u64;
    }

    let cleared = index.clone();
    tokio::task::spawn_blocking(move || cleared.clear()).await??;
    // Index writes run on a blocking thread while the store is read.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<SearchDoc>>(2);
    let writer = index.clone();
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        while let Some(docs) = rx.blocking_recv() {
            writer.upsert_many(&docs)?;
        }
        Ok(())
    });
    let mut pending: Vec<SearchDoc> = Vec::with_capacity(batch);
    let mut notices = 0u64;
    let mut second = pages(pool);
    let read: anyhow::Result<()> = async {
        while let Some(page) = second.next().await? {
            for entry in page {
                let PublicEvent::Published(notice) = entry else {
                    continue;
                };
                let mut doc = notice_doc(&notice);
                if let Some(known) = statuses.status.get(&doc.id) {
                    doc.status.clone_from(&known.status);
                    doc.sections.clone_from(&known.sections);
                    doc.deadline = known.deadline;
                }
                pending.push(doc);
                notices += 1;
                if pending.len() >= batch.max(1) {
                    tx.send(std::mem::take(&mut pending))
                        .await
                        .map_err(|_| anyhow::anyhow!("index writer stopped"))?;
                }
            }
        }
        if !pending.is_empty() {
            tx.send(std::mem::take(&mut pending))
                .await
                .map_err(|_| anyhow::anyhow!("index writer stopped"))?;
        }
        Ok(())
    }
    .await;
    drop(tx);
    // The writer's error explains a stopped writer better than the reader's.
    written.await??;
    read?;
    Ok(Summary {
        entries,
        notices,
        status_changes: statuses.changes,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Indexer as _;
    use crate::indexer::tests::{deadline_of, history, indexer, sections_of};

    #[test]
    fn the_rebuild_folds_the_feed_to_the_statuses_the_live_index_reaches() {
        let events = history();
        let live = indexer();
        let mut folded = Statuses::default();
        for e in &events {
            live.apply(e).expect("apply");
            folded.apply(e).expect("fold");
        }
        for id in [
            "a1", "a2", "a3", "b1", "b2", "c1", "c2", "c3", "c4", "d1", "d2",
        ] {
            let known = folded
                .status
                .get(id)
                .unwrap_or_else(|| panic!("{id} folded"));
            let sections: Vec<(String, String)> = known
                .sections
                .iter()
                .map(|(key, s)| {
                    (
                        key.rsplit('/').next().unwrap_or_default().to_owned(),
                        s.clone(),
                    )
                })
                .collect();
            assert_eq!(
                (known.status.clone(), sections),
                sections_of(live.index.as_ref(), id),
                "{id}"
            );
            assert_eq!(
                known.deadline,
                deadline_of(live.index.as_ref(), id),
                "{id}'s deadline"
            );
        }
    }
}

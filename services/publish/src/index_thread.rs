//! The indexers' own thread. An index commit is blocking work (Tantivy writes and syncs its
//! segments: tens of milliseconds), so it runs here, off the async runtime that serves the other
//! stages and HTTP. Batches are applied in the order publish committed them to the feed; what has
//! queued up while a commit ran is applied together, in one commit, so that under load the index
//! costs one commit per round, not one per batch. Each batch learns its outcome, and its offsets
//! are stored only after ([`gongshi_platform::bus::Acks::effect`]).

use crate::Indexer;
use gongshi_domain::events::PublicEvent;
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Events applied in one round at most (several batches' worth).
const MAX_ROUND: usize = 2048;

/// A batch waiting for the indexers.
struct Job {
    events: Vec<PublicEvent>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handle on the thread; the thread ends once every handle is dropped and its queue is done.
#[derive(Debug, Clone)]
pub(crate) struct IndexThread {
    jobs: mpsc::Sender<Job>,
}

impl IndexThread {
    /// Starts the thread over `indexers`.
    pub(crate) fn start(indexers: Vec<Arc<dyn Indexer>>) -> std::io::Result<IndexThread> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("gongshi-index".into())
            .spawn(move || run(&indexers, &queue))?;
        Ok(IndexThread { jobs })
    }

    /// Queues a batch's events; the future resolves once the indexers have applied them (an
    /// error says why they could not, and is retried by the caller).
    pub(crate) fn apply(
        &self,
        events: Vec<PublicEvent>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let (done, outcome) = oneshot::channel();
        let queued = self.jobs.send(Job { events, done });
        async move {
            queued.map_err(|_| anyhow::anyhow!("the index thread has stopped"))?;
            match outcome.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(anyhow::anyhow!("indexing: {e}")),
                Err(_) => Err(anyhow::anyhow!("the index thread stopped before the batch")),
            }
        }
    }
}

fn run(indexers: &[Arc<dyn Indexer>], queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut round = vec![first];
        let mut events: usize = round[0].events.len();
        while events < MAX_ROUND
            && let Ok(job) = queue.try_recv()
        {
            events += job.events.len();
            round.push(job);
        }
        let mut all = Vec::with_capacity(events);
        let mut waiting = Vec::with_capacity(round.len());
        for job in round {
            all.extend(job.events);
            waiting.push(job.done);
        }
        // One batch of all of them: the indexers fold a batch in order, as it came.
        let outcome = indexers
            .iter()
            .try_for_each(|indexer| indexer.apply_batch(&all))
            .map_err(|e| format!("{e:#}"));
        for done in waiting {
            // A batch whose waiter is gone (its stage stopped) needs no answer.
            let _ = done.send(outcome.clone());
        }
    }
}

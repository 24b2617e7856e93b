//! The indexers' own thread. An index commit is blocking work (Tantivy writes and syncs its
//! segments: tens of milliseconds), so it runs here, off the async runtime that serves the other
//! stages and HTTP. Batches are applied in the order publish committed them to the feed; what
//! queues up while a commit runs, and until [`COMMIT_EVERY`] has passed since it, is applied
//! together in one commit, so that under load the index costs a few commits a second, not one
//! per batch. Each batch learns its outcome, and its offsets are stored only after
//! ([`gongshi_platform::bus::Acks::effect`]). The feed does not wait for any of this.

use crate::Indexer;
use gongshi_domain::events::PublicEvent;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Events applied in one round at most (several batches' worth).
const MAX_ROUND: usize = 2048;

/// Shortest time from one commit to the next. Every commit writes a segment (its term dictionary
/// built anew) that merges later redo: profiled at 500 notices/s, commits back to back and their
/// merges took about a fifth of the process's CPU. A search sees a published notice this much
/// later at most (Elasticsearch refreshes every second by default).
const COMMIT_EVERY: Duration = Duration::from_millis(250);

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
    let mut last_commit: Option<Instant> = None;
    while let Ok(first) = queue.recv() {
        let mut round = vec![first];
        let mut events: usize = round[0].events.len();
        // Gather until the interval since the last commit has passed, then what is queued.
        let due = last_commit.map(|at| at + COMMIT_EVERY);
        while events < MAX_ROUND {
            let job = match due.map(|due| due.saturating_duration_since(Instant::now())) {
                Some(wait) if !wait.is_zero() => queue.recv_timeout(wait).ok(),
                _ => queue.try_recv().ok(),
            };
            let Some(job) = job else {
                break;
            };
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
        last_commit = Some(Instant::now());
        for done in waiting {
            // A batch whose waiter is gone (its stage stopped) needs no answer.
            let _ = done.send(outcome.clone());
        }
    }
}

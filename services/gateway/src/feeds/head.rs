//! The feed store's head as this gateway knows it, kept current by PostgreSQL notifications
//! (`LISTEN gongshi_feed`) rather than a query per request.
//!
//! The store sends a notification on [`feed::NOTIFY_CHANNEL`] after every commit that appended
//! entries, with the new head as payload (a trigger, so every appender does). The follower
//! LISTENs first and reads `max(seq)` second, on every (re)connection, so no commit falls between
//! the two. While the connection is down, the head is
//! *unknown*, and whoever relies on it (the page cache, [`super::cache`]) must go to the store.

use gongshi_platform::Store;
use gongshi_platform::store::feed;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The head is not known (not yet read, or the notification connection is down).
const UNKNOWN: i64 = -1;

/// The highest committed feed `seq` this process has been told of. Cheap to clone and to read.
#[derive(Debug, Clone)]
pub struct FeedHead {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    seq: AtomicI64,
    changed: Notify,
}

impl Default for FeedHead {
    fn default() -> FeedHead {
        FeedHead::new()
    }
}

impl FeedHead {
    /// A head that is unknown until [`FeedHead::follow`] has read it.
    pub fn new() -> FeedHead {
        FeedHead {
            inner: Arc::new(Inner {
                seq: AtomicI64::new(UNKNOWN),
                changed: Notify::new(),
            }),
        }
    }

    /// The head: every entry up to it is committed and visible to any later statement. `None`
    /// while it is unknown.
    pub fn current(&self) -> Option<i64> {
        let seq = self.inner.seq.load(Ordering::Acquire);
        (seq != UNKNOWN).then_some(seq)
    }

    /// Resolves at the next change of the head (a new entry, or the head becoming known).
    pub async fn changed(&self) {
        self.inner.changed.notified().await;
    }

    pub(super) fn advance(&self, seq: i64) {
        self.inner.seq.fetch_max(seq, Ordering::AcqRel);
        self.inner.changed.notify_waiters();
    }

    fn forget(&self) {
        self.inner.seq.store(UNKNOWN, Ordering::Release);
    }

    /// Follows the store's notifications until `shutdown`, reconnecting with back-off (up to
    /// 5 s) whenever the connection drops; the head is unknown in between.
    pub async fn follow(self, store: Store, shutdown: CancellationToken) {
        let mut retry_in = Duration::from_millis(200);
        loop {
            let outcome = tokio::select! {
                () = shutdown.cancelled() => break,
                outcome = self.follow_once(&store) => outcome,
            };
            self.forget();
            match outcome {
                Ok(()) => retry_in = Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = retry_in.as_millis(),
                        message = "feed head: notifications unavailable; pages are read from the store until they return");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(retry_in) => {}
                    }
                    retry_in = (retry_in * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.forget();
    }

    /// One connection's life: LISTEN, read the head, then apply each notification. Returns when
    /// the connection is lost (`Ok`) or cannot be made (`Err`).
    async fn follow_once(&self, store: &Store) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&store.pool).await?;
        listener.listen(feed::NOTIFY_CHANNEL).await?;
        let head = {
            let mut conn = store.pool.acquire().await?;
            feed::head(&mut conn).await?
        };
        self.inner.seq.store(head, Ordering::Release);
        self.inner.changed.notify_waiters();
        loop {
            // `try_recv` answers `None` once when the connection is lost (and would reconnect on
            // the next call, with the notifications sent meanwhile gone): the caller reconnects
            // and reads the head again instead.
            match listener.try_recv().await? {
                Some(notification) => match notification.payload().parse::<i64>() {
                    Ok(seq) => self.advance(seq),
                    Err(_) => anyhow::bail!(
                        "notification on {} with payload {:?}, not a seq",
                        feed::NOTIFY_CHANNEL,
                        notification.payload()
                    ),
                },
                None => return Ok(()),
            }
        }
    }
}

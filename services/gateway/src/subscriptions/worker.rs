//! The webhook worker (one per gateway process; several processes share the work through row
//! locks). It runs
//! 1. the fan-out, every poll: for each subscription, locks it, reads the feed entries above its
//!    cursor that match its saved search, queues one delivery each (with the exact body to send)
//!    and moves the cursor, all in one transaction;
//! 2. delivery lanes (`GONGSHI_WEBHOOK_CONCURRENCY` of them), each on its own: claim the next due
//!    delivery with `FOR UPDATE SKIP LOCKED`, POST it signed, and mark it delivered or schedule a
//!    retry (exponential back-off with jitter) or give it up after the configured horizon — in
//!    the claiming transaction, so a crash mid-send leaves the delivery pending and it is sent
//!    again after the restart (at least once, same `Idempotency-Key`).
//!
//! A lane never claims a delivery of a subscription another lane of this process is sending to:
//! one request in flight per receiver. A receiver that hangs until the timeout therefore holds
//! one lane and its own deliveries, never anybody else's (lanes used to send in rounds and wait
//! for the slowest request of each).
//!
//! Shutdown is checked only between deliveries: a delivery is never cut off half-way.

use super::signature;
use crate::config::GatewayConfig;
use crate::feeds::item::Item;
use gongshi_platform::Store;
use gongshi_platform::store::{StoreError, feed, subscriptions};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::{
    WebhookAttemptFailed, WebhookDelivered, WebhookDeliveriesQueued, WebhookGivenUp,
};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Entries read per subscription per transaction.
const FAN_OUT_BATCH: i64 = 200;
/// The longest wait between attempts.
const MAX_BACKOFF_MS: u64 = 3_600_000;

/// The worker's parts.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Store.
    pub store: Store,
    /// Settings (retry base, horizon, timeout, concurrency).
    pub config: Arc<GatewayConfig>,
    /// Public base URL for the links inside delivered items.
    pub base: String,
    /// HTTP client (with the configured timeout).
    pub client: reqwest::Client,
}

impl Worker {
    /// A worker with its HTTP client.
    pub fn new(store: Store, config: Arc<GatewayConfig>, base: String) -> anyhow::Result<Worker> {
        let mut client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.webhook_timeout_ms.max(1)))
            .user_agent(concat!("gongshi-webhooks/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        if !config.webhook_allow_private {
            // Every connection's addresses are checked, however the name is spelt or resolves.
            client = client.dns_resolver(Arc::new(super::egress::PublicOnly));
        }
        let client = client.build()?;
        Ok(Worker {
            store,
            config,
            base,
            client,
        })
    }

    /// Runs the fan-out every `poll` and the delivery lanes until `shutdown`.
    pub async fn run(self, poll: Duration, shutdown: CancellationToken) {
        let busy = Busy::default();
        let mut lanes = tokio::task::JoinSet::new();
        for _ in 0..self.config.webhook_concurrency.max(1) {
            lanes.spawn(self.clone().lane(busy.clone(), poll, shutdown.clone()));
        }
        loop {
            if let Err(e) = self.fan_out().await {
                tracing::warn!(error = %e, message = "webhook fan-out failed; will retry");
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(poll) => {}
            }
        }
        while lanes.join_next().await.is_some() {}
    }

    /// One delivery lane: delivers while deliveries are due, then waits `poll`.
    async fn lane(self, busy: Busy, poll: Duration, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let sent = match self.deliver_one(&busy).await {
                Ok(sent) => sent,
                Err(e) => {
                    tracing::warn!(error = %e, message = "webhook delivery failed; will retry");
                    false
                }
            };
            if !sent {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    }

    /// Queues the deliveries of every subscription's new matching entries.
    pub async fn fan_out(&self) -> Result<(), StoreError> {
        for id in subscriptions::behind_ids(&self.store.pool).await? {
            while self.fan_out_one(&id).await? {}
        }
        Ok(())
    }

    /// One batch of one subscription; true when there may be more.
    async fn fan_out_one(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.store.pool.begin().await?;
        let Some((filter, cursor)) = subscriptions::lock_for_fan_out(&mut tx, id).await? else {
            return Ok(false);
        };
        // Appends are serialised (store::feed), so every entry up to the head is visible now.
        let head = feed::head(&mut tx).await?;
        if head <= cursor {
            return Ok(false);
        }
        let rows = feed::since(&mut tx, &filter, cursor, head, FAN_OUT_BATCH).await?;
        let full = rows.len() as i64 == FAN_OUT_BATCH;
        for row in &rows {
            let delivery_id = format!("{id}-{}", row.seq);
            let body = json!({
                "delivery_id": delivery_id,
                "subscription_id": id,
                "item": Item::from_row(row, &self.base).json(),
            })
            .to_string();
            subscriptions::enqueue(&mut tx, &delivery_id, id, row.seq, &row.entry_id, &body)
                .await?;
        }
        let reached = if full {
            rows.last().map_or(head, |r| r.seq)
        } else {
            head
        };
        subscriptions::advance(&mut tx, id, reached).await?;
        tx.commit().await?;
        if !rows.is_empty() {
            WebhookDeliveriesQueued {
                subscription_id: id,
                count: rows.len(),
            }
            .emit();
        }
        Ok(full)
    }

    /// Back-off before attempt `attempts + 1`: base·2^(attempts−1), at most an hour, times a
    /// random factor in [0.5, 1) so that receivers coming back up are not hit all at once.
    fn backoff_ms(&self, attempts: i32) -> u64 {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let ceiling = self
            .config
            .webhook_retry_base_ms
            .max(1)
            .saturating_mul(1u64 << exp)
            .min(MAX_BACKOFF_MS);
        let random = (uuid::Uuid::new_v4().as_u128() % 1000) as u64;
        ceiling / 2 + ceiling * random / 2000
    }

    /// Sends the next due delivery of a subscription no other lane is sending to, and records
    /// the outcome; false when none is due.
    pub async fn deliver_one(&self, busy: &Busy) -> Result<bool, StoreError> {
        let mut tx = self.store.pool.begin().await?;
        let Some(d) = subscriptions::claim_due(&mut tx, &busy.ids()).await? else {
            return Ok(false);
        };
        // Another lane may have claimed a delivery of the same subscription meanwhile: leave this
        // one (the rollback unlocks it) and claim again.
        let Some(_sending) = busy.take(&d.subscription_id) else {
            return Ok(true);
        };
        let result = self.send(&d).await;
        let horizon = i64::try_from(self.config.webhook_give_up_after).unwrap_or(i64::MAX);
        match result {
            Ok(status) => {
                subscriptions::delivered(&mut tx, &d.delivery_id, i32::from(status)).await?;
                WebhookDelivered {
                    delivery_id: &d.delivery_id,
                    status,
                }
                .emit();
            }
            Err((status, error)) => {
                let wait = i64::try_from(self.backoff_ms(d.attempts + 1)).unwrap_or(i64::MAX);
                WebhookAttemptFailed {
                    delivery_id: &d.delivery_id,
                    attempts: d.attempts + 1,
                    error: &error,
                }
                .emit();
                let given_up = subscriptions::attempt_failed(
                    &mut tx,
                    &d.delivery_id,
                    status.map(i32::from),
                    &error,
                    wait,
                    horizon,
                )
                .await?;
                if given_up {
                    WebhookGivenUp {
                        delivery_id: &d.delivery_id,
                        attempts: d.attempts + 1,
                    }
                    .emit();
                }
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// POSTs one delivery; `Ok(status)` on 2xx.
    async fn send(&self, d: &subscriptions::Due) -> Result<u16, (Option<u16>, String)> {
        // Checked again at every delivery: a URL stored before a stricter check, or the setting
        // turned off since, must not reach inside now.
        let url = super::webhook_url(&d.webhook_url, self.config.webhook_allow_private)
            .map_err(|e| (None, e))?;
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(&url)
            .header("content-type", "application/json; charset=utf-8")
            .header(
                signature::HEADER,
                signature::sign(&d.secret, timestamp, d.body.as_bytes()),
            )
            .header("Gongshi-Delivery", &d.delivery_id)
            .header("Idempotency-Key", &d.delivery_id)
            .body(d.body.clone())
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => Err((
                Some(r.status().as_u16()),
                format!(
                    "接收方返回 {} (receiver answered {})",
                    r.status(),
                    r.status()
                ),
            )),
            Err(e) => {
                // reqwest's own message omits the cause (a refused address, a timeout): add the chain.
                let mut message = format!("请求失败 (request failed): {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    message.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                Err((None, message))
            }
        }
    }
}

/// The subscriptions this process's lanes are sending to (shared by the lanes).
#[derive(Debug, Clone, Default)]
pub struct Busy(Arc<std::sync::Mutex<HashSet<String>>>);

impl Busy {
    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A lane that panicked while holding it left a valid set: keep using it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ids(&self) -> Vec<String> {
        self.set().iter().cloned().collect()
    }

    /// Marks `subscription` busy until the guard is dropped; `None` when it already is.
    fn take(&self, subscription: &str) -> Option<Sending> {
        self.set().insert(subscription.to_owned()).then(|| Sending {
            busy: self.clone(),
            subscription: subscription.to_owned(),
        })
    }
}

/// A lane's hold on one subscription ([`Busy::take`]), released however the delivery ends.
#[derive(Debug)]
struct Sending {
    busy: Busy,
    subscription: String,
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.busy.set().remove(&self.subscription);
    }
}

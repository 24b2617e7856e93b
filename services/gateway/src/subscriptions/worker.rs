//! The webhook worker (one per gateway process; several processes share the work through row
//! locks and leases). It runs
//! 1. the fan-out, every poll: for each subscription, locks it, reads the feed entries above its
//!    cursor that match its saved search, queues one delivery each (with the exact body to send)
//!    and moves the cursor, all in one transaction;
//! 2. the dispatcher: leases the next due delivery (`FOR UPDATE SKIP LOCKED`, its
//!    `next_attempt_at` moved past the request timeout, committed at once), POSTs it signed in a
//!    task of its own, and records it delivered, to be retried (exponential back-off with jitter)
//!    or given up after the configured horizon. A worker that dies mid-send leaves the delivery
//!    due again when its lease runs out: at least once, same `Idempotency-Key`. A receiver that
//!    fails as a whole (no answer, 5xx, an answer about the endpoint) pauses its subscription:
//!    its oldest delivery alone tries again when the back-off ends (a circuit breaker, kept in
//!    PostgreSQL so that every gateway process sees it; see [`subscriptions::Receiver`]).
//!
//! No database connection or lock is held while a request is out, and at most one request per
//! subscription is in flight (of `GONGSHI_WEBHOOK_CONCURRENCY` in all): a receiver that hangs until
//! the timeout holds up its own deliveries, not the API's connections, the deletion of its
//! subscription or anybody else's deliveries.
//!
//! At shutdown the dispatcher stops leasing and waits for the requests in flight (each ends
//! within the timeout).

use super::signature;
use crate::config::GatewayConfig;
use crate::feeds::item::Item;
use gongshi_platform::Store;
use gongshi_platform::store::{StoreError, feed, subscriptions};
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::{
    WebhookAttemptFailed, WebhookDelivered, WebhookDeliveriesQueued, WebhookGivenUp,
    WebhookReceiverPaused,
};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
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

    /// Runs the fan-out every `poll` and the dispatcher until `shutdown`.
    pub async fn run(self, poll: Duration, shutdown: CancellationToken) {
        let dispatcher = tokio::spawn(self.clone().dispatch(poll, shutdown.clone()));
        loop {
            if let Err(e) = self.fan_out().await {
                tracing::warn!(error = %e, message = "webhook fan-out failed; will retry");
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(poll) => {}
            }
        }
        if let Err(e) = dispatcher.await {
            tracing::error!(error = %e, message = "webhook dispatcher ended abnormally");
        }
    }

    /// Leases due deliveries and sends each in a task of its own, at most
    /// `GONGSHI_WEBHOOK_CONCURRENCY` at once and one per subscription; waits `poll` when none is
    /// due (or all due belong to subscriptions in flight).
    async fn dispatch(self, poll: Duration, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.config.webhook_concurrency.max(1)));
        let busy = Busy::default();
        // A delivery that ends frees its subscription: the next of its deliveries is claimed then,
        // not at the next poll (a receiver back after an outage drains at its own pace).
        let finished = Arc::new(tokio::sync::Notify::new());
        let mut in_flight = tokio::task::JoinSet::new();
        // Past the request's own timeout, so that a lease never runs out while its request is
        // still out.
        let lease_ms =
            i64::try_from(self.config.webhook_timeout_ms.saturating_add(5_000)).unwrap_or(i64::MAX);
        while !shutdown.is_cancelled() {
            while in_flight.try_join_next().is_some() {}
            let slot = tokio::select! {
                () = shutdown.cancelled() => break,
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            };
            let due = subscriptions::claim_due(&self.store.pool, &busy.ids(), lease_ms).await;
            let d = match due {
                Ok(Some(d)) => d,
                nothing => {
                    drop(slot);
                    if let Err(e) = nothing {
                        tracing::warn!(error = %e, message = "webhook delivery claim failed; will retry");
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(poll) => {}
                        () = finished.notified() => {}
                    }
                    continue;
                }
            };
            // Only this task leases, so the subscription cannot have become busy meanwhile.
            let sending = busy.take(&d.subscription_id);
            let worker = self.clone();
            let finished = finished.clone();
            in_flight.spawn(async move {
                {
                    let (_slot, _sending) = (slot, sending);
                    if let Err(e) = worker.deliver(&d).await {
                        tracing::warn!(delivery = %d.delivery_id, error = %e,
                            message = "webhook outcome not recorded; sent again when its lease runs out");
                    }
                }
                finished.notify_one();
            });
        }
        while in_flight.join_next().await.is_some() {}
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

    /// Sends one leased delivery and records the outcome.
    async fn deliver(&self, d: &subscriptions::Due) -> Result<(), StoreError> {
        let result = self.send(d).await;
        let horizon = i64::try_from(self.config.webhook_give_up_after).unwrap_or(i64::MAX);
        let mut tx = self.store.pool.begin().await?;
        match result {
            Ok(status) => {
                subscriptions::delivered(&mut tx, d, i32::from(status)).await?;
                tx.commit().await?;
                WebhookDelivered {
                    delivery_id: &d.delivery_id,
                    status,
                }
                .emit();
            }
            Err(failed) => {
                let receiver_down = failed.receiver_down();
                // A receiver that is down backs off by its own failures in a row; one that
                // refuses this delivery alone, by this delivery's attempts.
                let tries = if receiver_down {
                    d.receiver_failures.max(d.attempts)
                } else {
                    d.attempts
                };
                let backoff = self.backoff_ms(tries + 1);
                let wait = failed.retry_after_ms.map_or(backoff, |asked| {
                    asked.clamp(backoff, MAX_BACKOFF_MS.max(backoff))
                });
                let wait = i64::try_from(wait).unwrap_or(i64::MAX);
                WebhookAttemptFailed {
                    delivery_id: &d.delivery_id,
                    attempts: d.attempts + 1,
                    error: &failed.error,
                }
                .emit();
                let attempt = subscriptions::Attempt {
                    status: failed.status.map(i32::from),
                    error: &failed.error,
                    retry_in_ms: wait,
                    give_up_after_secs: horizon,
                    receiver_down,
                };
                let given_up = subscriptions::attempt_failed(&mut tx, d, &attempt).await?;
                tx.commit().await?;
                if receiver_down {
                    WebhookReceiverPaused {
                        subscription_id: &d.subscription_id,
                        consecutive_failures: d.receiver_failures + 1,
                        paused_ms: wait,
                        given_up: given_up.others,
                    }
                    .emit();
                }
                if given_up.this {
                    WebhookGivenUp {
                        delivery_id: &d.delivery_id,
                        attempts: d.attempts + 1,
                    }
                    .emit();
                }
            }
        }
        Ok(())
    }

    /// POSTs one delivery; `Ok(status)` on 2xx.
    async fn send(&self, d: &subscriptions::Due) -> Result<u16, Failed> {
        // Checked again at every delivery: a URL stored before a stricter check, or the setting
        // turned off since, must not reach inside now.
        let url = super::webhook_url(&d.webhook_url, self.config.webhook_allow_private)
            .map_err(Failed::unsent)?;
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(&url)
            .header("content-type", "application/json; charset=utf-8")
            .header(
                signature::HEADER,
                // Rolled secrets first, the current one last (`signature`).
                signature::sign(
                    d.previous_secrets
                        .iter()
                        .chain([&d.secret])
                        .map(String::as_str),
                    timestamp,
                    d.body.as_bytes(),
                ),
            )
            .header("Gongshi-Delivery", &d.delivery_id)
            .header("Idempotency-Key", &d.delivery_id)
            .body(d.body.clone())
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => Err(Failed {
                status: Some(r.status().as_u16()),
                retry_after_ms: retry_after_ms(r.headers()),
                error: answered(&r, &d.subscription_id),
            }),
            Err(e) => {
                // Without the URL: the subscriber knows it, and it may hold a password that the
                // log of this failure must not.
                let e = e.without_url();
                // reqwest's own message omits the cause (a refused address, a timeout): add the chain.
                let mut message = format!("请求失败 (request failed): {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    message.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                Err(Failed::unsent(message))
            }
        }
    }
}

/// Why an attempt failed.
#[derive(Debug)]
struct Failed {
    /// The receiver's status, when it answered.
    status: Option<u16>,
    /// Its `Retry-After`, in ms (RFC 9110 §10.2.3: seconds or an HTTP date).
    retry_after_ms: Option<u64>,
    /// What went wrong, for the subscriber.
    error: String,
}

impl Failed {
    /// No answer came (refused address, unreachable, timeout).
    fn unsent(error: String) -> Failed {
        Failed {
            status: None,
            retry_after_ms: None,
            error,
        }
    }

    /// The receiver as a whole is failing, not this delivery: no answer, 5xx, or any answer
    /// about the endpoint rather than the body (a redirect, which is not followed; 401/403; 404,
    /// 405, 410; 408 Request Timeout; 429 Too Many Requests). Only the answers that refuse this
    /// body (400, 409, 413, 415, 422) leave the others going.
    fn receiver_down(&self) -> bool {
        !matches!(self.status, Some(400 | 409 | 413 | 415 | 422))
    }
}

/// What a receiver's non-2xx answer means for the subscriber of `subscription`.
fn answered(r: &reqwest::Response, subscription: &str) -> String {
    let status = r.status();
    let hint = match status.as_u16() {
        300..=399 => {
            let to = r
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                // A relative Location (RFC 9110 §10.2.2) is named in full, and a password in
                // it masked.
                .map_or_else(
                    || "?".to_owned(),
                    |l| {
                        r.url()
                            .join(l)
                            .map_or_else(|_| l.to_owned(), |u| super::shown_url(u.as_str()))
                    },
                );
            format!(
                "；不跟随重定向，请把订阅的地址改为 {to}（PATCH /v1/subscriptions/{subscription} 的 \
                 webhook_url） (redirects are not followed)"
            )
        }
        404 | 410 => format!(
            "；接收地址不存在，请更新（PATCH /v1/subscriptions/{subscription} 的 webhook_url）或删除\
             本订阅 (the webhook URL is gone)"
        ),
        401 | 403 => "；接收方拒绝了本服务的请求 (the receiver refuses gongshi)".to_owned(),
        _ => String::new(),
    };
    format!("接收方返回 {status}{hint} (receiver answered {status})")
}

/// A `Retry-After` header in ms: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
fn retry_after_ms(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let wait = at.duration_since(std::time::SystemTime::now()).ok()?;
    u64::try_from(wait.as_millis()).ok()
}

/// The subscriptions this process has a request out to (the dispatcher's, shared with its tasks).
#[derive(Debug, Clone, Default)]
struct Busy(Arc<std::sync::Mutex<HashSet<String>>>);

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

    /// Marks `subscription` busy until the guard is dropped.
    fn take(&self, subscription: &str) -> Sending {
        self.set().insert(subscription.to_owned());
        Sending {
            busy: self.clone(),
            subscription: subscription.to_owned(),
        }
    }
}

/// A request's hold on its subscription ([`Busy::take`]), released however the delivery ends.
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

//! Webhook subscriptions and their delivery outbox.
//!
//! A subscription is a saved search (a [`FeedFilter`]) with a webhook URL and secret, owned by the
//! SHA-256 of the subscriber token that made it. Its `cursor_seq` says how far the fan-out has
//! read the feed: the fan-out locks the subscription, queues one delivery per matching entry and
//! advances the cursor in one transaction, so an entry is queued exactly once. Deliveries are then
//! claimed with `FOR UPDATE SKIP LOCKED`, sent, and marked in the claiming transaction: a crash
//! mid-send rolls the claim back and the delivery is sent again (at least once, same id).

use super::StoreError;
use crate::feed_filter::FeedFilter;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};

/// A subscription as its owner sees it (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    /// Id.
    pub id: String,
    /// Where deliveries are POSTed.
    pub webhook_url: String,
    /// The saved search.
    pub filters: FeedFilter,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When its receiver or secret last changed ([`update`]).
    pub updated_at: Option<DateTime<Utc>>,
    /// Until when deliveries are signed with a rolled secret too (the latest of them; [`update`]).
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// The feed seq the fan-out has read up to.
    pub cursor: i64,
    /// Deliveries by state.
    pub deliveries: Counts,
    /// Its receiver as a whole: answering, or failing and paused.
    pub receiver: Receiver,
    /// The latest deliveries that failed or are being retried after an error.
    pub last_failures: Vec<Failure>,
}

/// A subscription's receiver as a whole. When it cannot be reached, times out or answers 5xx
/// or about the endpoint, all of the subscription's deliveries wait until `paused_until`, then
/// one tries again; its first 2xx clears this (a circuit breaker: a receiver that is down is
/// asked once per back-off, not once per queued delivery).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Receiver {
    /// Failures in a row since its last 2xx (0: answering).
    pub consecutive_failures: i32,
    /// The first of those failures.
    pub failing_since: Option<DateTime<Utc>>,
    /// No delivery is sent before this instant.
    pub paused_until: Option<DateTime<Utc>>,
    /// What went wrong last.
    pub last_error: Option<String>,
}

impl Receiver {
    /// Read from a `subscriptions` row.
    fn of(r: &sqlx::postgres::PgRow) -> Result<Receiver, sqlx::Error> {
        Ok(Receiver {
            consecutive_failures: r.try_get("consecutive_failures")?,
            failing_since: r.try_get("failing_since")?,
            paused_until: r.try_get("paused_until")?,
            last_error: r.try_get("last_receiver_error")?,
        })
    }
}

/// Deliveries by state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Waiting for a first or further attempt.
    pub pending: i64,
    /// Acknowledged with a 2xx.
    pub delivered: i64,
    /// Given up after the configured horizon.
    pub failed: i64,
}

/// A delivery that went wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Delivery id (the Idempotency-Key).
    pub delivery_id: String,
    /// Feed seq of its entry.
    pub seq: i64,
    /// pending (retrying) or failed (given up).
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// HTTP status of the last attempt, when one came back.
    pub last_status: Option<i32>,
    /// What went wrong last.
    pub last_error: Option<String>,
    /// When.
    pub last_attempt_at: Option<DateTime<Utc>>,
}

/// Creates a subscription that starts after the feed's current head (new entries only).
pub async fn create(
    pool: &PgPool,
    id: &str,
    token_hash: &str,
    filters: &FeedFilter,
    webhook_url: &str,
    secret: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO subscriptions (subscription_id, token_hash, filter, webhook_url, secret, cursor_seq) \
         VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(max(seq), 0) FROM feed_entries))",
    )
    .bind(id)
    .bind(token_hash)
    .bind(sqlx::types::Json(filters))
    .bind(webhook_url)
    .bind(secret)
    .execute(pool)
    .await?;
    Ok(())
}

async fn view(pool: &PgPool, r: &sqlx::postgres::PgRow) -> Result<Subscription, StoreError> {
    let id: String = r.try_get("subscription_id")?;
    let filters: sqlx::types::Json<FeedFilter> = r.try_get("filter")?;
    let mut counts = Counts::default();
    for row in sqlx::query(
        "SELECT state, count(*) AS n FROM deliveries WHERE subscription_id = $1 GROUP BY state",
    )
    .bind(&id)
    .fetch_all(pool)
    .await?
    {
        let n: i64 = row.try_get("n")?;
        match row.try_get::<String, _>("state")?.as_str() {
            "pending" => counts.pending = n,
            "delivered" => counts.delivered = n,
            _ => counts.failed = n,
        }
    }
    // Deliveries given up while their receiver was paused were never sent (no attempt time):
    // the ones that were come first.
    let failures = sqlx::query(
        "SELECT delivery_id, seq, state, attempts, last_status, last_error, last_attempt_at FROM deliveries \
         WHERE subscription_id = $1 AND state <> 'delivered' AND last_error IS NOT NULL \
         ORDER BY last_attempt_at DESC NULLS LAST, seq DESC LIMIT 10",
    )
    .bind(&id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|f| {
        Ok(Failure {
            delivery_id: f.try_get("delivery_id")?,
            seq: f.try_get("seq")?,
            state: f.try_get("state")?,
            attempts: f.try_get("attempts")?,
            last_status: f.try_get("last_status")?,
            last_error: f.try_get("last_error")?,
            last_attempt_at: f.try_get("last_attempt_at")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Subscription {
        id,
        webhook_url: r.try_get("webhook_url")?,
        filters: filters.0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        previous_secret_until: r.try_get("previous_secret_until")?,
        cursor: r.try_get("cursor_seq")?,
        deliveries: counts,
        receiver: Receiver::of(r)?,
        last_failures: failures,
    })
}

const SUB_COLUMNS: &str = "subscription_id, filter, webhook_url, created_at, cursor_seq, \
     consecutive_failures, failing_since, paused_until, last_receiver_error, updated_at, \
     (SELECT max((k->>'until')::timestamptz) FROM jsonb_array_elements(previous_secrets) AS k \
      WHERE (k->>'until')::timestamptz > now()) AS previous_secret_until";

/// The token's live subscriptions, oldest first.
pub async fn list(pool: &PgPool, token_hash: &str) -> Result<Vec<Subscription>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {SUB_COLUMNS} FROM subscriptions WHERE token_hash = $1 AND deleted_at IS NULL \
         ORDER BY created_at, subscription_id"
    ))
    .bind(token_hash)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(view(pool, r).await?);
    }
    Ok(out)
}

/// One of the token's live subscriptions.
pub async fn get(
    pool: &PgPool,
    token_hash: &str,
    id: &str,
) -> Result<Option<Subscription>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {SUB_COLUMNS} FROM subscriptions WHERE subscription_id = $1 AND token_hash = $2 \
         AND deleted_at IS NULL"
    ))
    .bind(id)
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => Ok(Some(view(pool, &r).await?)),
        None => Ok(None),
    }
}

/// Deletes one of the token's subscriptions and its undelivered deliveries; false when unknown.
pub async fn delete(pool: &PgPool, token_hash: &str, id: &str) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE subscriptions SET deleted_at = now() WHERE subscription_id = $1 AND token_hash = $2 \
         AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(token_hash)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM deliveries WHERE subscription_id = $1 AND state = 'pending'")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// What [`update`] changes; `None` leaves a part as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Change<'a> {
    /// A new receiver. A different one starts afresh: its predecessor's failures and pause are
    /// cleared, and every delivery waiting, a delivery's own back-off included, goes to it at
    /// once, in feed order.
    pub webhook_url: Option<&'a str>,
    /// A new HMAC key. The old one goes on signing beside it for `overlap_secs` (with the keys
    /// rolled before it still in their overlap, at most [`MAX_PREVIOUS_SECRETS`]).
    pub secret: Option<&'a str>,
    /// How long a rolled secret goes on signing, in seconds.
    pub overlap_secs: i64,
}

/// Rolled secrets kept signing at once (the newest): enough for a roll retried after a lost
/// answer, or rolled again by mistake, without signing every delivery with a growing list.
pub const MAX_PREVIOUS_SECRETS: i64 = 3;

/// Changes one of the token's live subscriptions (its receiver, its secret); false when the
/// token has no such subscription. The filters and the cursor stay: what was queued is delivered
/// to the new receiver, and nothing is queued twice. A change to what it already is changes
/// nothing (`updated_at` included).
pub async fn update(
    pool: &PgPool,
    token_hash: &str,
    id: &str,
    change: &Change<'_>,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let Some(row) = sqlx::query(
        "SELECT webhook_url, secret FROM subscriptions \
         WHERE subscription_id = $1 AND token_hash = $2 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    let url: String = row.try_get("webhook_url")?;
    let secret: String = row.try_get("secret")?;
    let moved = change.webhook_url.filter(|u| *u != url);
    let rolled = change.secret.filter(|s| *s != secret);
    if moved.is_none() && rolled.is_none() {
        return Ok(true);
    }
    sqlx::query(
        "UPDATE subscriptions SET \
           webhook_url = COALESCE($2, webhook_url), \
           consecutive_failures = CASE WHEN $2 IS NULL THEN consecutive_failures ELSE 0 END, \
           failing_since = CASE WHEN $2 IS NULL THEN failing_since END, \
           paused_until = CASE WHEN $2 IS NULL THEN paused_until END, \
           last_receiver_error = CASE WHEN $2 IS NULL THEN last_receiver_error END, \
           previous_secrets = CASE WHEN $3 IS NULL THEN previous_secrets ELSE ( \
             SELECT COALESCE(jsonb_agg(k ORDER BY (k->>'until')::timestamptz), '[]'::jsonb) FROM ( \
               SELECT k FROM ( \
                 SELECT k FROM jsonb_array_elements(previous_secrets) AS k \
                   WHERE (k->>'until')::timestamptz > now() \
                 UNION ALL SELECT jsonb_build_object('secret', secret, \
                   'until', now() + make_interval(secs => $4::double precision)) \
               ) AS rolled ORDER BY (k->>'until')::timestamptz DESC LIMIT $5 \
             ) AS newest) END, \
           secret = COALESCE($3, secret), \
           updated_at = now() \
         WHERE subscription_id = $1",
    )
    .bind(id)
    .bind(moved)
    .bind(rolled)
    .bind(change.overlap_secs)
    .bind(MAX_PREVIOUS_SECRETS)
    .execute(&mut *tx)
    .await?;
    if moved.is_some() {
        // Back in feed order for the new receiver: a delivery the old one refused on its own
        // waited out its own back-off.
        sqlx::query(
            "UPDATE deliveries SET next_attempt_at = created_at \
             WHERE subscription_id = $1 AND state = 'pending'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Queues again every delivery of one of the token's live subscriptions that was given up
/// (`failed`), as new (no attempts, a new horizon from now), and clears its receiver's pause:
/// what a subscriber asks once their receiver is mended. Returns how many were queued again, or
/// `None` when the token has no such subscription.
pub async fn redeliver(
    pool: &PgPool,
    token_hash: &str,
    id: &str,
) -> Result<Option<u64>, StoreError> {
    let mut tx = pool.begin().await?;
    let live = sqlx::query(
        "UPDATE subscriptions SET consecutive_failures = 0, failing_since = NULL, paused_until = NULL \
         WHERE subscription_id = $1 AND token_hash = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(token_hash)
    .execute(&mut *tx)
    .await?;
    if live.rows_affected() == 0 {
        return Ok(None);
    }
    let queued = sqlx::query(
        "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = now(), \
           created_at = now(), last_status = NULL, last_error = NULL, last_attempt_at = NULL \
         WHERE subscription_id = $1 AND state = 'failed'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Some(queued))
}

/// Webhook delivery across every live subscription: what the operators' overview shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Live subscriptions.
    pub subscriptions: i64,
    /// Deliveries waiting for a first or further attempt.
    pub pending: i64,
    /// When the oldest of them was queued.
    pub oldest_pending_at: Option<DateTime<Utc>>,
    /// Deliveries given up and not queued again since.
    pub failed: i64,
    /// Receivers failing now, the longest-failing first (at most [`FAILING_SHOWN`]).
    pub failing: Vec<Failing>,
    /// How many receivers are failing in all.
    pub failing_total: i64,
}

/// Failing receivers listed in a [`Summary`].
pub const FAILING_SHOWN: i64 = 20;

/// A subscription whose receiver is failing as a whole ([`Receiver`]).
#[derive(Debug, Clone, Serialize)]
pub struct Failing {
    /// Subscription id.
    pub subscription_id: String,
    /// Its webhook URL as stored (the caller shows what it may).
    pub webhook_url: String,
    /// Its receiver.
    pub receiver: Receiver,
    /// Its deliveries waiting.
    pub pending: i64,
}

/// The [`Summary`] of webhook delivery now.
pub async fn summary(pool: &PgPool) -> Result<Summary, StoreError> {
    let totals = sqlx::query(
        // Each count through a partial index: delivered deliveries are never read.
        "SELECT (SELECT count(*) FROM subscriptions WHERE deleted_at IS NULL) AS subscriptions, \
                (SELECT count(*) FROM subscriptions WHERE deleted_at IS NULL AND consecutive_failures > 0) AS failing, \
                (SELECT count(*) FROM deliveries WHERE state = 'pending') AS pending, \
                (SELECT min(created_at) FROM deliveries WHERE state = 'pending') AS oldest_pending_at, \
                (SELECT count(*) FROM deliveries d JOIN subscriptions s USING (subscription_id) \
                   WHERE d.state = 'failed' AND s.deleted_at IS NULL) AS failed",
    )
    .fetch_one(pool)
    .await?;
    let failing = sqlx::query(
        "SELECT s.subscription_id, s.webhook_url, s.consecutive_failures, s.failing_since, \
                s.paused_until, s.last_receiver_error, \
                (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.subscription_id \
                   AND d.state = 'pending') AS pending \
         FROM subscriptions s WHERE s.deleted_at IS NULL AND s.consecutive_failures > 0 \
         ORDER BY s.failing_since, s.subscription_id LIMIT $1",
    )
    .bind(FAILING_SHOWN)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(Failing {
            subscription_id: r.try_get("subscription_id")?,
            webhook_url: r.try_get("webhook_url")?,
            receiver: Receiver::of(r)?,
            pending: r.try_get("pending")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Summary {
        subscriptions: totals.try_get("subscriptions")?,
        pending: totals.try_get("pending")?,
        oldest_pending_at: totals.try_get("oldest_pending_at")?,
        failed: totals.try_get("failed")?,
        failing,
        failing_total: totals.try_get("failing")?,
    })
}

/// Ids of live subscriptions whose cursor is behind the feed's head (the fan-out's work; an idle
/// round costs this one query).
pub async fn behind_ids(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT subscription_id FROM subscriptions WHERE deleted_at IS NULL \
         AND cursor_seq < (SELECT COALESCE(max(seq), 0) FROM feed_entries) ORDER BY subscription_id",
    )
    .fetch_all(pool)
    .await?)
}

/// Locks a live subscription for fan-out (skipped when another worker holds it): its filter and
/// cursor.
pub async fn lock_for_fan_out(
    tx: &mut PgConnection,
    id: &str,
) -> Result<Option<(FeedFilter, i64)>, StoreError> {
    let row = sqlx::query(
        "SELECT filter, cursor_seq FROM subscriptions WHERE subscription_id = $1 AND deleted_at IS NULL \
         FOR UPDATE SKIP LOCKED",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| {
        let f: sqlx::types::Json<FeedFilter> = r.try_get("filter")?;
        Ok((f.0, r.try_get("cursor_seq")?))
    })
    .transpose()
}

/// Queues a delivery (a repeat of the same subscription and seq is ignored).
pub async fn enqueue(
    tx: &mut PgConnection,
    delivery_id: &str,
    subscription_id: &str,
    seq: i64,
    entry_id: &str,
    body: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deliveries (delivery_id, subscription_id, seq, entry_id, body) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(delivery_id)
    .bind(subscription_id)
    .bind(seq)
    .bind(entry_id)
    .bind(body)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Moves a subscription's cursor forward.
pub async fn advance(tx: &mut PgConnection, id: &str, seq: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE subscriptions SET cursor_seq = GREATEST(cursor_seq, $2) WHERE subscription_id = $1",
    )
    .bind(id)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A delivery claimed for sending.
#[derive(Debug, Clone)]
pub struct Due {
    /// Id (the Idempotency-Key).
    pub delivery_id: String,
    /// The subscription it belongs to.
    pub subscription_id: String,
    /// The exact body to POST and sign.
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i32,
    /// Its receiver's failures in a row before this attempt ([`Receiver`]).
    pub receiver_failures: i32,
    /// Where.
    pub webhook_url: String,
    /// HMAC key.
    pub secret: String,
    /// The keys it replaced that go on signing too, oldest first ([`Change::secret`]).
    pub previous_secrets: Vec<String>,
}

/// Leases the next due delivery of a live subscription, leaving out the subscriptions in `busy`
/// (those this process is sending to already: one request in flight per receiver) and those
/// whose receiver is paused ([`Receiver`]). The lease is
/// its `next_attempt_at` moved `lease_ms` on, committed at once: no transaction or lock is held
/// while the request is out, and a worker that dies mid-send leaves the delivery due again when
/// the lease runs out (at least once, same `Idempotency-Key`).
pub async fn claim_due(
    pool: &PgPool,
    busy: &[String],
    lease_ms: i64,
) -> Result<Option<Due>, StoreError> {
    let row = sqlx::query(
        "UPDATE deliveries d SET next_attempt_at = now() + make_interval(secs => $2::double precision / 1000) \
         FROM subscriptions s \
         WHERE s.subscription_id = d.subscription_id AND d.delivery_id = ( \
             SELECT d2.delivery_id FROM deliveries d2 JOIN subscriptions s2 USING (subscription_id) \
             WHERE d2.state = 'pending' AND d2.next_attempt_at <= now() AND s2.deleted_at IS NULL \
             AND (s2.paused_until IS NULL OR s2.paused_until <= now()) \
             AND NOT (d2.subscription_id = ANY($1)) \
             ORDER BY d2.next_attempt_at, d2.seq LIMIT 1 FOR UPDATE OF d2 SKIP LOCKED) \
         RETURNING d.delivery_id, d.subscription_id, d.body, d.attempts, s.consecutive_failures, \
                   s.webhook_url, s.secret, \
                   ARRAY(SELECT k->>'secret' FROM jsonb_array_elements(s.previous_secrets) AS k \
                         WHERE (k->>'until')::timestamptz > now() \
                         ORDER BY (k->>'until')::timestamptz) AS previous_secrets",
    )
    .bind(busy)
    .bind(lease_ms)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Due {
            delivery_id: r.try_get("delivery_id")?,
            subscription_id: r.try_get("subscription_id")?,
            body: r.try_get("body")?,
            attempts: r.try_get("attempts")?,
            receiver_failures: r.try_get("consecutive_failures")?,
            webhook_url: r.try_get("webhook_url")?,
            secret: r.try_get("secret")?,
            previous_secrets: r.try_get("previous_secrets")?,
        })
    })
    .transpose()
}

/// Records a 2xx; its receiver is answering again ([`Receiver`] cleared).
pub async fn delivered(tx: &mut PgConnection, due: &Due, status: i32) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, last_attempt_at = now(), \
         last_status = $2, delivered_at = now() WHERE delivery_id = $1 AND state = 'pending'",
    )
    .bind(&due.delivery_id)
    .bind(status)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE subscriptions SET consecutive_failures = 0, failing_since = NULL, paused_until = NULL \
         WHERE subscription_id = $1 AND (consecutive_failures > 0 OR paused_until IS NOT NULL)",
    )
    .bind(&due.subscription_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A failed attempt.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// HTTP status, when an answer came.
    pub status: Option<i32>,
    /// What went wrong.
    pub error: &'a str,
    /// Wait before the next attempt, in ms.
    pub retry_in_ms: i64,
    /// Seconds from a delivery's creation after which it is given up.
    pub give_up_after_secs: i64,
    /// The receiver failed as a whole (unreachable, timeout, 5xx, an answer about the endpoint),
    /// not this delivery:
    /// every delivery of the subscription waits `retry_in_ms`.
    pub receiver_down: bool,
}

/// What a failed attempt gave up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GivenUp {
    /// This delivery.
    pub this: bool,
    /// Other deliveries of its subscription, queued behind a receiver that stayed down past
    /// their horizon (never or no longer sent).
    pub others: u64,
}

/// Records a failed attempt: retried after `retry_in_ms`, or given up (`failed`) when that would
/// fall beyond `give_up_after_secs` from the delivery's creation. When the receiver is down, the
/// subscription is paused for `retry_in_ms`, the delivery keeps its place in the queue (it goes
/// first when the pause ends), and its other deliveries that the pause carries past their
/// horizon are given up too.
pub async fn attempt_failed(
    tx: &mut PgConnection,
    due: &Due,
    attempt: &Attempt<'_>,
) -> Result<GivenUp, StoreError> {
    let state: Option<String> = sqlx::query_scalar(
        "UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = now(), last_status = $2, last_error = $3, \
           next_attempt_at = CASE WHEN $6 THEN created_at \
                                  ELSE now() + make_interval(secs => $4::double precision / 1000) END, \
           state = CASE WHEN now() + make_interval(secs => $4::double precision / 1000) \
                             > created_at + make_interval(secs => $5::double precision) \
                        THEN 'failed' ELSE 'pending' END \
         WHERE delivery_id = $1 AND state = 'pending' RETURNING state",
    )
    .bind(&due.delivery_id)
    .bind(attempt.status)
    .bind(attempt.error)
    .bind(attempt.retry_in_ms)
    .bind(attempt.give_up_after_secs)
    .bind(attempt.receiver_down)
    .fetch_optional(&mut *tx)
    .await?;
    let mut given_up = GivenUp {
        this: state.as_deref() == Some("failed"),
        others: 0,
    };
    if !attempt.receiver_down {
        return Ok(given_up);
    }
    // Only while the subscription still points where this attempt went: a receiver moved
    // meanwhile ([`update`]) does not inherit its predecessor's failure.
    let Some(paused_until): Option<DateTime<Utc>> = sqlx::query_scalar(
        "UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1, \
           failing_since = COALESCE(failing_since, now()), last_receiver_error = $3, \
           paused_until = now() + make_interval(secs => $2::double precision / 1000) \
         WHERE subscription_id = $1 AND webhook_url = $4 RETURNING paused_until",
    )
    .bind(&due.subscription_id)
    .bind(attempt.retry_in_ms)
    .bind(attempt.error)
    .bind(&due.webhook_url)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(given_up);
    };
    given_up.others = sqlx::query(
        "UPDATE deliveries d SET state = 'failed', \
           last_error = COALESCE(d.last_error, '接收方自 ' || \
             to_char(s.failing_since AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') || \
             '（北京时间）起持续失败，本投递在重试期限内未能送出 (given up: its receiver kept failing)') \
         FROM subscriptions s \
         WHERE s.subscription_id = d.subscription_id AND d.subscription_id = $1 AND d.state = 'pending' \
           AND $2 > d.created_at + make_interval(secs => $3::double precision)",
    )
    .bind(&due.subscription_id)
    .bind(paused_until)
    .bind(attempt.give_up_after_secs)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(given_up)
}

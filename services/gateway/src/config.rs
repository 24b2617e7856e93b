//! Options of the gateway's public feeds, event stream, webhook subscriptions and OCDS export;
//! each also reads a `GONGSHI_*` variable shown in `--help`.

use clap::Args;

/// Feeds, stream and subscription settings.
#[derive(Debug, Clone, Args)]
pub struct GatewayConfig {
    /// The gateway's public base URL, used in feed links (default: `http://` + the request's Host).
    #[arg(long, env = "GONGSHI_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Bearer tokens accepted by `/v1/subscriptions` (comma-separated); each token owns the
    /// subscriptions made with it.
    #[arg(
        long,
        env = "GONGSHI_SUBSCRIBER_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub subscriber_tokens: Vec<String>,
    /// How often the event stream and the webhook fan-out look for new feed entries, in ms.
    #[arg(long, env = "GONGSHI_FEED_POLL_MS", default_value_t = 250)]
    pub feed_poll_ms: u64,
    /// Memory for rendered feed pages served again while still true (`feeds::cache`), in MiB;
    /// 0 renders every request afresh.
    #[arg(long, env = "GONGSHI_FEED_CACHE_MB", default_value_t = 64)]
    pub feed_cache_mb: u64,
    /// Seconds between heartbeat comments on `/v1/stream`.
    #[arg(long, env = "GONGSHI_STREAM_HEARTBEAT_SECS", default_value_t = 15)]
    pub stream_heartbeat_secs: u64,
    /// Entries a stream client may fall behind before it is dropped (it resumes with Last-Event-ID).
    #[arg(long, env = "GONGSHI_STREAM_BUFFER", default_value_t = 256)]
    pub stream_buffer: usize,
    /// First webhook retry delay in ms; it doubles at each attempt (with jitter), up to an hour.
    /// A receiver that is down (no connection, timeout, 5xx, 3xx, 401, 403, 404, 405, 408, 410,
    /// 429) pauses its whole subscription for that long, doubling with its failures in a row.
    #[arg(long, env = "GONGSHI_WEBHOOK_RETRY_BASE_MS", default_value_t = 1000)]
    pub webhook_retry_base_ms: u64,
    /// Seconds after which an undelivered webhook is given up and shown as failed.
    #[arg(long, env = "GONGSHI_WEBHOOK_GIVE_UP_AFTER", default_value_t = 86_400)]
    pub webhook_give_up_after: u64,
    /// Timeout of one webhook request, in ms.
    #[arg(long, env = "GONGSHI_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,
    /// Accept webhook URLs on loopback, private, link-local or unspecified addresses (tests, a
    /// receiver inside the same network). Off by default: a public subscriber must not make the
    /// gateway call into its own network.
    #[arg(long, env = "GONGSHI_WEBHOOK_ALLOW_PRIVATE", default_value_t = false)]
    pub webhook_allow_private: bool,
    /// Webhook requests in flight at once, at most one per subscription. A request holds no
    /// database connection, only a task: receivers that hang until the timeout hold up others
    /// only once they are this many.
    #[arg(long, env = "GONGSHI_WEBHOOK_CONCURRENCY", default_value_t = 64)]
    pub webhook_concurrency: usize,
    /// Operators of the console (`/ops/`), comma-separated `name:token` pairs; the name is what
    /// the audit log records.
    #[arg(
        long,
        env = "GONGSHI_OPERATOR_TOKENS",
        value_delimiter = ',',
        value_parser = crate::ops::auth::OperatorToken::check,
        hide_env_values = true
    )]
    pub operator_tokens: Vec<String>,
    /// How long an operator's browser session lasts after sign-in, in seconds (default: a
    /// working day, 8 h).
    #[arg(long, env = "GONGSHI_OPERATOR_SESSION_SECS", default_value_t = 28_800)]
    pub operator_session_secs: u64,
    /// The operators' legal clocks flag a notice parked (waiting for its parent stage) longer
    /// than this many calendar days: a parent that has not arrived in a week is rarely late,
    /// mostly lost or misnumbered, and worth a call to the platform.
    /// At most 36,500 (a hundred years).
    #[arg(long, env = "GONGSHI_OPS_PARKED_FLAG_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub ops_parked_flag_days: u32,
    /// Requests per second each client may make to the public routes, sustained (0: no limit).
    #[arg(long, env = "GONGSHI_RATE_LIMIT_PER_SECOND", default_value_t = 20)]
    pub rate_limit_per_second: u32,
    /// Requests a client may make at once above its sustained rate (the bucket's size).
    #[arg(long, env = "GONGSHI_RATE_LIMIT_BURST", default_value_t = 120)]
    pub rate_limit_burst: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (comma-separated addresses);
    /// from anyone else the header is ignored and the peer address is the client.
    #[arg(long, env = "GONGSHI_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// OCDS export settings.
    #[command(flatten)]
    pub ocds: crate::OcdsConfig,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            public_url: None,
            subscriber_tokens: Vec::new(),
            feed_poll_ms: 250,
            feed_cache_mb: 64,
            stream_heartbeat_secs: 15,
            stream_buffer: 256,
            webhook_retry_base_ms: 1000,
            webhook_give_up_after: 86_400,
            webhook_timeout_ms: 10_000,
            webhook_allow_private: false,
            ocds: crate::OcdsConfig::default(),
            webhook_concurrency: 64,
            operator_tokens: Vec::new(),
            operator_session_secs: 28_800,
            ops_parked_flag_days: 7,
            rate_limit_per_second: 20,
            rate_limit_burst: 120,
            trusted_proxies: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        config: GatewayConfig,
    }

    #[test]
    fn a_parked_flag_beyond_a_hundred_years_is_refused_at_start() {
        let days = |v: &str| {
            Cli::try_parse_from(["gongshi", "--ops-parked-flag-days", v])
                .map(|c| c.config.ops_parked_flag_days)
        };
        assert_eq!(days("0").ok(), Some(0));
        assert_eq!(days("36500").ok(), Some(36_500));
        // The clocks' SQL subtracts it from now(): 4294967295 days is out of PostgreSQL's range.
        let refused = days("4294967295").expect_err("refused");
        assert!(refused.to_string().contains("0..=36500"), "{refused}");
    }
}

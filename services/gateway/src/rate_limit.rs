//! Per-client rate limits on the public routes (api.md: "Public routes are read-only and
//! rate-limited per client"), with `tower_governor` (GCRA): each client may make
//! `GONGSHI_RATE_LIMIT_PER_SECOND` requests a second sustained and `GONGSHI_RATE_LIMIT_BURST` at
//! once; beyond that it gets 429 `rate-limited` with `Retry-After`, counted in
//! `gongshi_http_rate_limited_total`. The client is the peer address — or, when the peer is one of
//! `GONGSHI_TRUSTED_PROXIES`, the address that proxy names in `X-Forwarded-For` (from anyone
//! else that header is ignored: it would let a client pick its own key).

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, header};
use axum::response::IntoResponse;
use gongshi_platform::telemetry::InternalEvent as _;
use gongshi_platform::telemetry::events::RateLimited;
use gongshi_platform::{ApiError, ErrorCode};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

/// The rate limit's key: the client's address.
#[derive(Debug, Clone)]
pub struct ClientAddress {
    trusted: Arc<Vec<IpAddr>>,
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        // A router served without connection info (an in-process test) has one shared key.
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |c| c.0.ip());
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(client_address(peer, &forwarded, &self.trusted))
    }
}

/// The client of a request from `peer` with these `X-Forwarded-For` values: `peer` itself unless
/// it is a trusted proxy; then the right-most address in the header that is not a trusted proxy
/// (each proxy appends the address it received from), or `peer` when the header is missing or
/// unreadable (never an address a client could have written past a trusted proxy).
pub fn client_address(peer: IpAddr, forwarded: &[&str], trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            return client;
        };
        client = ip;
        if !trusted.contains(&ip) {
            return ip;
        }
    }
    client
}

/// The 429 answer: the contract's JSON error, with `Retry-After` in seconds.
fn refused(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let wait = wait_time.max(1);
            RateLimited {
                retry_after_s: wait,
            }
            .emit();
            let mut response = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "请求过于频繁，请 {wait} 秒后再试 (rate limit exceeded; retry after {wait} s)"
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            response
        }
        other => {
            tracing::error!(error = %other, message = "rate limiter failed; request refused");
            ApiError::new(ErrorCode::Internal, "限流器故障 (rate limiter failed)").into_response()
        }
    }
}

/// `routes` with the limit in front of them (as they are when `per_second` is 0: no limit). Keys
/// not seen for a while are forgotten every minute, so memory follows the clients of the last
/// minutes.
pub fn limit<S: Clone + Send + Sync + 'static>(
    routes: axum::Router<S>,
    per_second: u32,
    burst: u32,
    trusted: &[IpAddr],
) -> axum::Router<S> {
    if per_second == 0 {
        return routes;
    }
    let config = GovernorConfigBuilder::default()
        .key_extractor(ClientAddress {
            trusted: Arc::new(trusted.to_vec()),
        })
        .period(Duration::from_secs(1) / per_second)
        .burst_size(burst.max(1))
        .finish();
    let Some(config) = config else {
        tracing::error!(
            per_second,
            burst,
            message = "rate limit not configurable; public routes unlimited"
        );
        return routes;
    };
    let config = Arc::new(config);
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let limiter = Arc::downgrade(&config);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(config) = limiter.upgrade() else {
                    return;
                };
                config.limiter().retain_recent();
                config.limiter().shrink_to_fit();
            }
        });
    }
    routes.layer(GovernorLayer::new(config).error_handler(refused))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_names_it() {
        let proxy = ip("10.0.0.5");
        let trusted = [proxy];
        // Anyone else's header is ignored.
        assert_eq!(
            client_address(ip("203.0.113.7"), &["198.51.100.1"], &trusted),
            ip("203.0.113.7")
        );
        // The proxy's appended hop is the client; what the client wrote before it is not.
        assert_eq!(
            client_address(proxy, &["1.2.3.4, 198.51.100.9"], &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(
            client_address(proxy, &["198.51.100.9", "10.0.0.5"], &trusted),
            ip("198.51.100.9")
        );
        // No header, or garbage in it: the proxy itself.
        assert_eq!(client_address(proxy, &[], &trusted), proxy);
        assert_eq!(client_address(proxy, &["not-an-ip"], &trusted), proxy);
    }
}

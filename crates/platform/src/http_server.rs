//! The HTTP server every gongshi listener runs (the gateway, and ingest on its own): hyper's
//! connection builder with the limits `axum::serve` leaves out, so that a client who opens
//! connections and then sends nothing, or a request's headers a byte at a time, or half a body
//! and then nothing, cannot hold the server's connections (and file descriptors) for ever.
//!
//! - **Headers**: a connection that has not sent a request's complete headers within
//!   [`HttpTimeouts::header_timeout_ms`] of the server's starting to wait for them (on opening,
//!   or after the previous answer) is closed: hyper's `header_read_timeout`, whose default of
//!   30 s only takes effect with a timer, which `axum::serve` does not set. Hyper arms a new
//!   tokio timer for every request's headers, which costs the cheapest answers measurably (a
//!   feed's 304 served 10–20 % fewer requests a second with it in `tests/bench_feeds.rs`);
//!   a cheaper timer per connection would be our own code where hyper's is kept and tested.
//! - **Bodies**: a request body that sends nothing for [`HttpTimeouts::body_timeout_ms`] fails
//!   (tower-http's `RequestBodyTimeoutLayer`: the wait is between two pieces, so a slow upload that
//!   keeps moving is not cut off). Ingest then answers 408 naming the limit.
//!
//! Responses are not limited: the event stream (`/v1/stream`) and the OCDS export are meant to
//! run long. The listener speaks HTTP/1.1 only (`axum::serve` also took cleartext HTTP/2, which
//! nothing used); a reverse proxy in front ends TLS and HTTP/2.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// How long a client may take: the limits of every gongshi HTTP listener.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpTimeouts {
    /// How long a client may take to send a request's headers, in milliseconds, counted from when
    /// the server starts waiting for a request (the connection opened, or the previous answer
    /// sent); then its connection is closed. A connection that sends nothing, or idles between
    /// requests, is closed after this too.
    #[arg(long, env = "GONGSHI_HTTP_HEADER_TIMEOUT_MS", default_value_t = 30_000)]
    pub header_timeout_ms: u64,
    /// How long a request body may send nothing, in milliseconds; then reading it fails (ingest
    /// answers 408). The wait is between two pieces of the body, not for the whole of it.
    #[arg(long, env = "GONGSHI_HTTP_BODY_TIMEOUT_MS", default_value_t = 60_000)]
    pub body_timeout_ms: u64,
}

/// Serves `router` on `listener` until `shutdown`, then lets the open requests finish (idle
/// connections are closed at once). Each request carries `ConnectInfo<SocketAddr>`, the
/// client's address, as `Router::into_make_service_with_connect_info` would give it.
///
/// # Errors
/// None once listening: a failed `accept` (file descriptors exhausted, say) is logged and
/// retried after a pause, as `axum::serve` does, and a failed connection ends only itself.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: &HttpTimeouts,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        Duration::from_millis(timeouts.body_timeout_ms.max(1)),
    ));
    let header_timeout = Duration::from_millis(timeouts.header_timeout_ms.max(1));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, client) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // The client went away before it was accepted: nothing to wait for.
                Err(e) if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, message = "accept failed; retrying in 50 ms");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = router
            .clone()
            .map_request(move |mut request: axum::extract::Request<_>| {
                request.extensions_mut().insert(ConnectInfo(client));
                request
            });
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // HTTP/1 only: telling HTTP/1 from HTTP/2 waits for a first byte with no time limit,
            // so a connection that sent nothing was never closed (the test's silent client).
            // Nothing here speaks HTTP/2; a proxy in front ends TLS and HTTP/2.
            let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder.serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, %client, message = "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

//! Tracing (JSON lines by default) and Prometheus metrics named `gongshi_*`.
//!
//! Each notable occurrence is an [`events`] struct that logs and counts together; every metric
//! name, kind and help text is in the one list [`names::ALL`].

#[allow(clippy::disallowed_macros)] // The one place that counts (clippy.toml).
pub mod events;
pub mod names;

pub use events::InternalEvent;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Text,
}

/// Installs the global subscriber once (later calls are ignored, as in tests).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("GONGSHI_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The exporter's configuration: histogram buckets from [`names::ALL`].
fn builder() -> PrometheusBuilder {
    let mut builder = PrometheusBuilder::new();
    for m in names::ALL {
        if let names::Kind::Histogram { buckets } = m.kind {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(m.name.to_owned()), buckets)
                .expect("bucket lists in names::ALL are not empty");
        }
    }
    builder
}

/// The process-wide Prometheus recorder, installed on first use with every metric of
/// [`names::ALL`] described.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        // Another recorder may exist only if a test installed one first; then this handle renders
        // nothing, which tests tolerate.
        if metrics::set_global_recorder(recorder).is_ok() {
            names::describe();
        }
        handle
    })
}

//! Configuration every service shares. Each option also reads a `GONGSHI_*` (or `DATABASE_URL`)
//! environment variable, shown in `--help`.

use clap::Args;
use std::path::PathBuf;

/// Connection settings shared by every service.
#[derive(Debug, Clone, Args)]
pub struct CommonConfig {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Kafka bootstrap servers (comma-separated host:port).
    #[arg(long, env = "GONGSHI_KAFKA_BROKERS", default_value = "127.0.0.1:19092")]
    pub kafka_brokers: String,
    /// Prefix for topic names and consumer groups (several pipelines on one broker, tests).
    #[arg(long, env = "GONGSHI_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
    /// Partitions for topics gongshi creates at start (existing topics are left as they are).
    /// Each stage runs one consumer, which reads every partition of its topic, so more than one
    /// helps only when several instances of a stage share its group; each one costs the broker a
    /// read per poll (an idle `gongshi run` kept the local broker 0.39 of a core busy with 1
    /// partition, 0.72 with 4, and ingest→feed p99 at 500 documents/s was 0.6 s against 1.0–1.3 s).
    #[arg(long, env = "GONGSHI_TOPIC_PARTITIONS", default_value_t = 1)]
    pub topic_partitions: i32,
    /// Replication factor for topics gongshi creates.
    #[arg(long, env = "GONGSHI_TOPIC_REPLICATION", default_value_t = 1)]
    pub topic_replication: i32,
    /// Local data folder (search index, files).
    #[arg(long, env = "GONGSHI_DATA_DIR", default_value = ".data/gongshi")]
    pub data_dir: PathBuf,
    /// Read "now" from this file (an RFC 3339 instant, re-read at every tick; replace it by
    /// renaming a whole file over it) instead of the system clock: for tests and rehearsals.
    /// It moves the legal clocks (periods, holds, windows, feed and search dates); the moments
    /// the store records stay PostgreSQL's (a notice's `published_at` in `/v1/notices` and the
    /// OCDS export, whose `from`/`to` and paging rely on it being the transaction's own time).
    #[arg(long, env = "GONGSHI_CLOCK_FILE")]
    pub clock_file: Option<PathBuf>,
    /// A fixed "now" (RFC 3339 or `yyyy-MM-dd HH:mm`, Beijing time) instead of the system clock.
    #[arg(long, env = "GONGSHI_NOW")]
    pub now: Option<String>,
    /// Log as JSON lines (default) or human-readable text.
    #[arg(long, env = "GONGSHI_LOG_FORMAT", default_value = "json")]
    pub log_format: crate::telemetry::LogFormat,
    /// Seconds the services get to stop after SIGINT/SIGTERM (or after one of them failed);
    /// tasks still running then are aborted.
    #[arg(long, env = "GONGSHI_SHUTDOWN_DEADLINE_SECS", default_value_t = 20)]
    pub shutdown_deadline_secs: u64,
}

impl CommonConfig {
    /// The shutdown deadline as a duration.
    pub fn shutdown_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_deadline_secs)
    }
}

//! Starting services: connect the store (migrating it) and the bus (creating topics), then run
//! one service or all of them until SIGINT/SIGTERM.

use clap::Args;
use gongshi_enforce::Enforce;
use gongshi_gateway::config::GatewayConfig;
use gongshi_gateway::feeds::cache::PageCache;
use gongshi_gateway::feeds::head::FeedHead;
use gongshi_gateway::stream::live::Live;
use gongshi_gateway::{Gateway, Mounted};
use gongshi_ingest::{Ingest, IngestConfig};
use gongshi_platform::bus::topics;
use gongshi_platform::http_server::HttpTimeouts;
use gongshi_platform::search::{Access, SearchConfig};
use gongshi_platform::shutdown::Supervisor;
use gongshi_platform::{Bus, Clock, CommonConfig, Store, shutdown, telemetry};
use gongshi_publish::Publish;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Options every service takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    common: CommonConfig,
}

/// Options of the publish service.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    common: CommonConfig,
    #[command(flatten)]
    search: SearchConfig,
}

/// Options of the gateway alone: the ingest endpoint's, and the search index it reads.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    #[command(flatten)]
    http: IngestArgs,
    #[command(flatten)]
    search: SearchConfig,
    #[command(flatten)]
    gateway: GatewayConfig,
}

/// Options of services that listen for HTTP.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    common: CommonConfig,
    #[command(flatten)]
    ingest: IngestConfig,
    /// Address to listen on.
    #[arg(long, env = "GONGSHI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    timeouts: HttpTimeouts,
}

/// Options of the enforce service.
#[derive(Debug, Clone, Args)]
pub struct EnforceArgs {
    #[command(flatten)]
    common: CommonConfig,
    /// How often due timers and the outbox are polled, in milliseconds.
    #[arg(long, env = "GONGSHI_TICK_MS", default_value_t = 500)]
    tick_ms: u64,
}

/// Options of `gongshi run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    http: IngestArgs,
    #[command(flatten)]
    search: SearchConfig,
    #[command(flatten)]
    gateway: GatewayConfig,
    /// How often due timers and the outbox are polled, in milliseconds.
    #[arg(long, env = "GONGSHI_TICK_MS", default_value_t = 500)]
    tick_ms: u64,
}

/// Exit code from a service's result, logging the error chain.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), message = "service failed");
            eprintln!("gongshi: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(common: &CommonConfig) -> anyhow::Result<(Store, Bus)> {
    let store = connect_store(common).await?;
    let bus = Bus::connect(&common.kafka_brokers, &common.topic_prefix)?;
    // The broker may still be starting: retry topic creation for a while before giving up.
    create_topics(&bus, common, Some(20)).await?;
    Ok((store, bus))
}

/// Starts telemetry and connects to the store, retrying while PostgreSQL is starting or in
/// crash recovery (about a minute) before giving up.
async fn connect_store(common: &CommonConfig) -> anyhow::Result<Store> {
    telemetry::init(common.log_format);
    let _ = telemetry::metrics();
    let mut attempt = 0;
    loop {
        match Store::connect(&common.database_url).await {
            Ok(store) => return Ok(store),
            Err(e) if attempt < 30 && !e.is_permanent() => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, message = "store not ready; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(anyhow::anyhow!("connecting to the store: {e}")),
        }
    }
}

/// Creates gongshi's topics, trying `attempts` times (every 500 ms; without a limit, every 10 s
/// after the first 20) before giving up.
async fn create_topics(
    bus: &Bus,
    common: &CommonConfig,
    attempts: Option<u32>,
) -> anyhow::Result<()> {
    let mut attempt = 0;
    loop {
        match bus
            .ensure_topics(
                topics::ALL,
                common.topic_partitions,
                common.topic_replication,
            )
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) if attempts.is_none_or(|most| attempt < most) => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, message = "broker not ready; retrying");
                let pause = if attempt < 20 { 500 } else { 10_000 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "creating topics on {}: {e}",
                    common.kafka_brokers
                ));
            }
        }
    }
}

/// `gongshi run`: every service in one process.
pub async fn run_all(args: RunArgs) -> anyhow::Result<()> {
    let (store, bus) = connect(&args.http.common).await?;
    let token = shutdown::on_signals();
    let ingest = Ingest::new(store.clone(), bus.clone(), &args.http.ingest);
    let enforce = Enforce {
        store: store.clone(),
        bus: bus.clone(),
        clock: Clock::from_config(&args.http.common)?,
        tick: Duration::from_millis(args.tick_ms),
    };
    // One process: the publish service writes the index the gateway searches.
    let index = args
        .search
        .open(&args.http.common.data_dir, Access::Write)?;
    let publish = Publish {
        store: store.clone(),
        bus: bus.clone(),
        indexers: vec![std::sync::Arc::new(gongshi_publish::SearchIndexer {
            index: index.clone(),
        })],
    };
    let gateway = Gateway {
        store: store.clone(),
        bus: bus.clone(),
        clock: Clock::from_config(&args.http.common)?,
        search: Some(index),
        live: Live::new(args.gateway.stream_buffer),
        feed_pages: PageCache::new(FeedHead::new(), args.gateway.feed_cache_mb << 20),
        config: std::sync::Arc::new(args.gateway),
    };
    let deadline = args.http.common.shutdown_deadline();
    let mut tasks = Supervisor::new();
    let (listen, timeouts) = (args.http.listen.clone(), args.http.timeouts.clone());
    let t = token.clone();
    tasks.spawn("gateway", async move {
        gateway
            .run(ingest_routes(ingest), &listen, &timeouts, t)
            .await
    });
    let (s, b, t) = (store.clone(), bus.clone(), token.clone());
    tasks.spawn(
        "validate",
        async move { gongshi_validate::run(s, b, t).await },
    );
    let t = token.clone();
    tasks.spawn("enforce", async move { enforce.run(t).await });
    let t = token.clone();
    tasks.spawn("publish", async move { publish.run(t).await });
    tasks.run(token, deadline).await
}

/// Runs one service as the process's only task: after SIGINT/SIGTERM it gets the shutdown
/// deadline to stop, then it is aborted.
async fn run_one<F>(
    name: &'static str,
    common: &CommonConfig,
    token: CancellationToken,
    service: F,
) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let mut tasks = Supervisor::new();
    tasks.spawn(name, service);
    tasks.run(token, common.shutdown_deadline()).await
}

/// `gongshi ingest`.
pub async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let store = connect_store(&args.common).await?;
    let bus = Bus::connect(&args.common.kafka_brokers, &args.common.topic_prefix)?;
    // Ingest accepts into the store alone (a document's event waits in the outbox until the
    // broker takes it), so a broker that is away does not keep it from starting; the topics are
    // created once the broker answers.
    let (topics_bus, common) = (bus.clone(), args.common.clone());
    tokio::spawn(async move { create_topics(&topics_bus, &common, None).await });
    let token = shutdown::on_signals();
    let ingest = Ingest::new(store, bus, &args.ingest);
    let (listen, timeouts, t) = (args.listen.clone(), args.timeouts.clone(), token.clone());
    run_one("ingest", &args.common, token, async move {
        gongshi_ingest::run(ingest, &listen, &timeouts, t).await
    })
    .await
}

/// `gongshi validate`.
pub async fn validate(args: CommonArgs) -> anyhow::Result<()> {
    let (store, bus) = connect(&args.common).await?;
    let token = shutdown::on_signals();
    let t = token.clone();
    run_one("validate", &args.common, token, async move {
        gongshi_validate::run(store, bus, t).await
    })
    .await
}

/// `gongshi enforce`.
pub async fn enforce(args: EnforceArgs) -> anyhow::Result<()> {
    let (store, bus) = connect(&args.common).await?;
    let enforce = Enforce {
        store,
        bus,
        clock: Clock::from_config(&args.common)?,
        tick: Duration::from_millis(args.tick_ms),
    };
    let token = shutdown::on_signals();
    let t = token.clone();
    run_one("enforce", &args.common, token, async move {
        enforce.run(t).await
    })
    .await
}

/// `gongshi publish`.
pub async fn publish(args: PublishArgs) -> anyhow::Result<()> {
    let (store, bus) = connect(&args.common).await?;
    let index = args.search.open(&args.common.data_dir, Access::Write)?;
    let publish = Publish {
        store,
        bus,
        indexers: vec![std::sync::Arc::new(gongshi_publish::SearchIndexer {
            index,
        })],
    };
    let token = shutdown::on_signals();
    let t = token.clone();
    run_one("publish", &args.common, token, async move {
        publish.run(t).await
    })
    .await
}

/// `gongshi gateway`.
pub async fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    let http = &args.http;
    let (store, bus) = connect(&http.common).await?;
    let ingest = Ingest::new(store.clone(), bus.clone(), &http.ingest);
    // The publish service writes the index; a gateway of its own only reads it (the embedded
    // index on a shared data folder, or Meilisearch).
    let search = args.search.open(&http.common.data_dir, Access::Read)?;
    let gateway = Gateway {
        store,
        bus,
        clock: Clock::from_config(&http.common)?,
        search: Some(search),
        live: Live::new(args.gateway.stream_buffer),
        feed_pages: PageCache::new(FeedHead::new(), args.gateway.feed_cache_mb << 20),
        config: std::sync::Arc::new(args.gateway.clone()),
    };
    let token = shutdown::on_signals();
    let (listen, timeouts, t) = (http.listen.clone(), http.timeouts.clone(), token.clone());
    run_one("gateway", &http.common, token, async move {
        gateway
            .run(ingest_routes(ingest), &listen, &timeouts, t)
            .await
    })
    .await
}

/// The ingest route and its description, served on the gateway's listener: the services meet
/// only on topics and the store, the binary puts their routes together.
fn ingest_routes(ingest: Ingest) -> Mounted {
    Mounted {
        router: ingest.router(),
        openapi: gongshi_ingest::openapi(),
    }
}

/// Options of `gongshi reindex`.
#[derive(Debug, Clone, Args)]
pub struct ReindexArgs {
    /// PostgreSQL URL of the feed store.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Data folder holding the embedded index (`<dir>/index`).
    #[arg(long, env = "GONGSHI_DATA_DIR", default_value = ".data/gongshi")]
    data_dir: std::path::PathBuf,
    #[command(flatten)]
    search: SearchConfig,
    /// Notices written per index commit.
    #[arg(long, default_value_t = 5_000)]
    batch: usize,
}

/// `gongshi reindex`: clears the configured index and rebuilds it from the feed store.
pub async fn reindex(args: ReindexArgs) -> anyhow::Result<()> {
    let store = Store::connect(&args.database_url).await?;
    let index = args.search.open(&args.data_dir, Access::Write)?;
    let summary = gongshi_publish::reindex::reindex(&store.pool, index, args.batch).await?;
    println!(
        "reindexed {} notices from {} feed entries ({} status changes) in {:.1} s",
        summary.notices,
        summary.entries,
        summary.status_changes,
        summary.elapsed.as_secs_f64()
    );
    Ok(())
}

//! `gongshi`: the one binary. Each subcommand runs one service, all of them (`run`), or an
//! offline or operator tool (`check`, `import`, `reindex`, `quarantine`, `release`).

mod check;
mod import;
mod quarantine;
mod release;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc rather than glibc's allocator: records, events and pages are many small, short-lived
/// allocations, and the check benchmark spent about 15 % of its time in malloc and free
/// (`crates/domain/benches/check_throughput.rs` uses the same allocator, to measure what runs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// gongshi (公示): validates public-resource trading notices, enforces the legal publicity
/// periods, and publishes them.
#[derive(Debug, Parser)]
#[command(name = "gongshi", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every service in one process, talking through the broker (the default for one machine).
    Run(serve::RunArgs),
    /// The ingest HTTP endpoint alone (`POST /v1/notices`).
    Ingest(serve::IngestArgs),
    /// The validate consumer alone.
    Validate(serve::CommonArgs),
    /// The enforce consumer, timers and outbox relay alone.
    Enforce(serve::EnforceArgs),
    /// The publish consumer alone (feed store and search index).
    Publish(serve::PublishArgs),
    /// The HTTP gateway alone (read API, search, ingest route, health, metrics).
    Gateway(serve::GatewayArgs),
    /// Clear the search index and rebuild it from the feed store (stop the publish service
    /// first when it uses the embedded index: the index allows one writer).
    Reindex(serve::ReindexArgs),
    /// Parse, validate and apply the period rules to files, offline (no servers).
    Check(check::CheckArgs),
    /// Send files or folders of notices to a running gateway.
    Import(import::ImportArgs),
    /// Events the consumers set aside (隔离): list them, retry one through its stage, or discard it.
    Quarantine(quarantine::QuarantineArgs),
    /// Release a record from one rule with a reason (the console's release action, audited): an
    /// invalid record is validated again, a held, rejected or parked notice published now.
    Release(release::ReleaseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args),
        other => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("gongshi: cannot start the async runtime: {e}");
                    return ExitCode::from(2);
                }
            };
            runtime.block_on(async move {
                match other {
                    Command::Import(args) => import::run(args).await,
                    Command::Quarantine(args) => quarantine::run(args).await,
                    Command::Release(args) => release::run(args).await,
                    Command::Run(args) => serve::report(serve::run_all(args).await),
                    Command::Ingest(args) => serve::report(serve::ingest(args).await),
                    Command::Validate(args) => serve::report(serve::validate(args).await),
                    Command::Enforce(args) => serve::report(serve::enforce(args).await),
                    Command::Publish(args) => serve::report(serve::publish(args).await),
                    Command::Gateway(args) => serve::report(serve::gateway(args).await),
                    Command::Reindex(args) => serve::report(serve::reindex(args).await),
                    Command::Check(_) => unreachable!("handled above"),
                }
            })
        }
    }
}

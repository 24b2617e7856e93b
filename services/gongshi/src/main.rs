//! `gongshi`: the one binary. Each subcommand runs one part of the pipeline, or an offline tool.

mod check;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    /// Parse, validate and apply the period rules to files, offline (no servers).
    Check(check::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args),
    }
}

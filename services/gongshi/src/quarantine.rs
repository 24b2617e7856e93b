//! `gongshi quarantine list|retry|discard`: what the consumers set aside, and the operator's two
//! actions on it. `retry` re-sends the event as it was delivered to the topic it came from, so
//! the same stage handles it again (every effect is idempotent; an event that fails again is
//! quarantined anew); `discard` ends it, and its records show `discarded`. Both need a reason and
//! record who acted, in the quarantine record and in the operators' audit log (one entry per
//! record moved, as the console's actions write them).

use clap::{Args, Subcommand};
use gongshi_platform::store::operators::{self, NewAuditEntry};
use gongshi_platform::store::quarantine::{self, QuarantineRow};
use gongshi_platform::{Bus, CommonConfig, Store};
use serde_json::json;
use std::process::ExitCode;

/// Options of `gongshi quarantine`.
#[derive(Debug, Args)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    common: CommonConfig,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Events set aside, newest first.
    List {
        /// Only those in this state: quarantined (default), retried, discarded, or all.
        #[arg(long, default_value = "quarantined")]
        state: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Re-send a quarantined event through the stage that set it aside.
    Retry(Resolve),
    /// End a quarantined event: it is not processed; its records show `discarded`.
    Discard(Resolve),
}

#[derive(Debug, Args)]
struct Resolve {
    /// The quarantine id (`gongshi quarantine list`).
    id: i64,
    /// Why (kept with the quarantine record).
    #[arg(long)]
    reason: String,
    /// Who acts.
    #[arg(long, env = "GONGSHI_OPERATOR", default_value = "cli")]
    operator: String,
}

/// Runs the subcommand; exit 0 on success, 1 when the id names no open quarantine, 2 on errors.
pub async fn run(args: QuarantineArgs) -> ExitCode {
    match act(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gongshi quarantine: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn act(args: QuarantineArgs) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&args.common.database_url).await?;
    match args.action {
        Action::List { state, limit, json } => {
            let filter = (state != "all").then_some(state.as_str());
            let rows = quarantine::list(&store.pool, filter, limit).await?;
            for row in &rows {
                if json {
                    println!("{}", serde_json::to_string(row)?);
                } else {
                    println!("{}", line(row));
                }
            }
            if !json {
                eprintln!("{} event(s)", rows.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Retry(r) => resolve(&store, &args.common, r, true).await,
        Action::Discard(r) => resolve(&store, &args.common, r, false).await,
    }
}

async fn resolve(
    store: &Store,
    common: &CommonConfig,
    r: Resolve,
    retry: bool,
) -> anyhow::Result<ExitCode> {
    if r.reason.trim().is_empty() {
        anyhow::bail!("--reason 不能为空 (a reason is required)");
    }
    let reason = r.reason.trim();
    let bus = if retry {
        Some(Bus::connect(&common.kafka_brokers, &common.topic_prefix)?)
    } else {
        None
    };
    // The resolution, its records' moves and their audit entries (as the console writes them)
    // commit together, and a retry's event is sent before that commit: a retry that could not be
    // sent leaves the event quarantined, not logged as retried.
    let mut tx = store.pool.begin().await?;
    let Some(redrive) = quarantine::resolve_in(&mut tx, r.id, retry, &r.operator, reason).await?
    else {
        eprintln!(
            "没有待处理的隔离记录 {} (no open quarantine with that id)",
            r.id
        );
        return Ok(ExitCode::from(1));
    };
    let (action, after) = if retry {
        ("retry", "received")
    } else {
        ("discard", "discarded")
    };
    for (receipt, index) in &redrive.records {
        operators::append(
            &mut tx,
            &NewAuditEntry {
                operator: &r.operator,
                action,
                receipt,
                index: *index,
                reason,
                before: "quarantined",
                after,
                detail: json!({ "quarantine": r.id, "via": "gongshi quarantine" }),
            },
        )
        .await?;
    }
    if let Some(bus) = bus {
        bus.redrive(&redrive).await?;
    }
    tx.commit().await?;
    if retry {
        println!(
            "{}: re-sent to {} for {}",
            r.id, redrive.row.topic, redrive.row.stage
        );
    } else {
        println!("{}: discarded", r.id);
    }
    Ok(ExitCode::SUCCESS)
}

fn line(row: &QuarantineRow) -> String {
    let record = match (&row.receipt_id, row.record_index) {
        (Some(r), Some(i)) => format!("{r}#{i}"),
        (Some(r), None) => r.clone(),
        (None, _) => row.notice_id.clone().unwrap_or_else(|| "-".into()),
    };
    format!(
        "{id}\t{state}\t{stage}\t{reason}\t{attempts}×\t{at}\t{event}\t{record}\t{error}",
        id = row.quarantine_id,
        state = row.state,
        stage = row.stage,
        reason = row.reason,
        attempts = row.attempts,
        at = row.quarantined_at.to_rfc3339(),
        event = row.event_id.as_deref().unwrap_or("(undecodable)"),
        error = row.error,
    )
}

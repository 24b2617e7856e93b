//! `gongshi release RECEIPT INDEX [--rule RULE] --reason TEXT`: an operator releases a record from
//! one rule (a pre-2016 统一社会信用代码 whose outer check character is wrong while the supplier
//! is genuinely registered, say) — the console's `release` action from the command line, with
//! the same checks and the same audit entry. For an invalid record the release travels as a
//! `record.released` event: validation records it, checks the record again with that rule's
//! findings released (who and why kept on them), and a record nothing else blocks continues
//! through enforcement and publication like any other; a held, rejected or parked notice's release goes
//! to enforcement as `notice.decided`. The events are queued in the outbox and sent by the running
//! pipeline's relay (within a tick), never from here: nothing checks this process's topic prefix.

use clap::Args;
use gongshi_gateway::ops::actions::{Action, ActionRequest, MIN_REASON_CHARS, act};
use gongshi_platform::{CommonConfig, Store};
use std::process::ExitCode;

/// Options of `gongshi release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The document's receipt.
    receipt: String,
    /// The record in it (from 0, as `GET /v1/receipts/{receipt}` lists them).
    index: i32,
    /// The rule to release the record from (`USCC-CHECK`, …); repeat it for a notice that fails
    /// several (a rejected notice is released from all its rules at once). Without it, every
    /// rule the record fails; a held notice fails none (it is published now).
    #[arg(long = "rule")]
    rules: Vec<String>,
    /// Why (at least 4 characters; kept on the released finding).
    #[arg(long)]
    reason: String,
    /// Who releases it.
    #[arg(long, env = "GONGSHI_OPERATOR", default_value = "cli")]
    operator: String,
    #[command(flatten)]
    common: CommonConfig,
}

/// Sends the release; exit 0 when sent, 1 when it does not apply (no such record, a status that
/// cannot be released, a rule the record does not fail), 2 on errors.
pub async fn run(args: ReleaseArgs) -> ExitCode {
    match release(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gongshi release: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn release(args: ReleaseArgs) -> anyhow::Result<ExitCode> {
    let reason = args.reason.trim();
    if reason.chars().count() < MIN_REASON_CHARS {
        anyhow::bail!(
            "--reason 至少 {MIN_REASON_CHARS} 个字符 (a reason of at least {MIN_REASON_CHARS} characters is required)"
        );
    }
    let store = Store::connect(&args.common.database_url).await?;
    let request = ActionRequest {
        reason: reason.to_owned(),
        rules: (!args.rules.is_empty()).then(|| args.rules.clone()),
    };
    // The console's own action: the same checks, the same audit entry, the same events.
    match act(
        &store,
        None,
        &args.operator,
        &args.receipt,
        args.index,
        Action::Release,
        &request,
    )
    .await
    {
        Ok(done) => {
            let from = if args.rules.is_empty() {
                "every rule it fails".to_owned()
            } else {
                args.rules.join(", ")
            };
            println!(
                "{}#{}: released from {from} (audit #{}); the pipeline checks it again",
                args.receipt, args.index, done.audit_id
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.status().is_client_error() => {
            eprintln!("{}", e.message());
            Ok(ExitCode::from(1))
        }
        Err(e) => anyhow::bail!("{}", e.message()),
    }
}

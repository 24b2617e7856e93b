//! `gongshi release RECEIPT INDEX --rule RULE --reason TEXT`: an operator releases an invalid
//! record from one rule (a pre-2016 统一社会信用代码 whose outer check character is wrong while the
//! supplier is genuinely registered, say). The release travels as a `record.released` event:
//! validation records it, checks the record again with that rule's findings released (who and
//! why kept on them), and a record nothing else blocks continues through enforcement and
//! publication like any other.

use clap::Args;
use gongshi_domain::events::RecordReleased;
use gongshi_platform::{Bus, CommonConfig, Store, store};
use std::process::ExitCode;

/// Options of `gongshi release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The document's receipt.
    receipt: String,
    /// The record in it (from 0, as `GET /v1/receipts/{receipt}` lists them).
    index: i32,
    /// The rule to release the record from (`USCC-CHECK`, …).
    #[arg(long)]
    rule: String,
    /// Why (at least 4 characters; kept on the released finding).
    #[arg(long)]
    reason: String,
    /// Who releases it.
    #[arg(long, env = "GONGSHI_OPERATOR", default_value = "cli")]
    operator: String,
    #[command(flatten)]
    common: CommonConfig,
}

/// Sends the release; exit 0 when sent, 1 when the record is not an invalid one failing that
/// rule, 2 on errors.
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
    if reason.chars().count() < 4 {
        anyhow::bail!("--reason 至少 4 个字符 (a reason of at least 4 characters is required)");
    }
    let store = Store::connect(&args.common.database_url).await?;
    let records = store::receipts::records(&store.pool, &args.receipt)
        .await?
        .unwrap_or_default();
    let Some(record) = records.iter().find(|r| r.index == args.index) else {
        eprintln!("没有记录 {}#{} (no such record)", args.receipt, args.index);
        return Ok(ExitCode::from(1));
    };
    let fails_rule = record
        .errors
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e.get("rule").and_then(|r| r.as_str()) == Some(args.rule.as_str()));
    if record.status != "invalid" || !fails_rule {
        eprintln!(
            "记录 {}#{} 的状态为 {}，没有 {} 错误，无需放行 (only an invalid record failing that rule can be released)",
            args.receipt, args.index, record.status, args.rule
        );
        return Ok(ExitCode::from(1));
    }
    let bus = Bus::connect(&args.common.kafka_brokers, &args.common.topic_prefix)?;
    bus.send(&RecordReleased {
        receipt: args.receipt.clone(),
        index: args.index,
        rule: args.rule.clone(),
        released_by: args.operator.clone(),
        reason: reason.to_owned(),
    })
    .await?;
    println!(
        "{}#{}: released from {}; validation checks it again",
        args.receipt, args.index, args.rule
    );
    Ok(ExitCode::SUCCESS)
}

//! `gongshi import PATH…`: sends files and folders of notices to a running gateway, with a
//! progress bar on a terminal and a summary; exits non-zero when anything was refused. With
//! `--wait`, it then follows the receipts until no record is still `received`.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Arguments of `gongshi import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Gateway base URL.
    #[arg(long, env = "GONGSHI_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Ingest bearer token (one of the gateway's GONGSHI_INGEST_TOKENS).
    #[arg(long, env = "GONGSHI_INGEST_TOKEN", hide_env_values = true)]
    token: String,
    /// After sending, wait up to this many seconds for every record to leave `received`.
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u64>,
    /// Documents sent at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Files (.xml, .json) or folders of them.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

struct Sent {
    path: PathBuf,
    result: Result<String, String>,
}

/// Runs the import.
pub async fn run(args: ImportArgs) -> ExitCode {
    let mut files = Vec::new();
    for p in &args.paths {
        if let Err(e) = collect(p, &mut files) {
            eprintln!("gongshi import: {}: {e}", p.display());
            return ExitCode::from(2);
        }
    }
    let client = reqwest::Client::new();
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let base = args.url.trim_end_matches('/').to_owned();
    let mut results: Vec<Sent> = Vec::with_capacity(files.len());
    for chunk in files.chunks(args.concurrency.max(1)) {
        let mut tasks = tokio::task::JoinSet::new();
        for path in chunk {
            let (client, base, token, path) = (
                client.clone(),
                base.clone(),
                args.token.clone(),
                path.clone(),
            );
            tasks.spawn(async move {
                let result = send(&client, &base, &token, &path).await;
                Sent { path, result }
            });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(sent) = done {
                bar.inc(1);
                results.push(sent);
            }
        }
    }
    bar.finish_and_clear();
    let refused: Vec<&Sent> = results.iter().filter(|s| s.result.is_err()).collect();
    for s in &refused {
        if let Err(e) = &s.result {
            eprintln!("refused {}: {e}", s.path.display());
        }
    }
    println!(
        "{} documents: {} accepted, {} refused",
        results.len(),
        results.len() - refused.len(),
        refused.len()
    );
    let receipts: Vec<String> = results
        .iter()
        .filter_map(|s| s.result.as_ref().ok().cloned())
        .collect();
    if let Some(seconds) = args.wait {
        match wait(&client, &base, &receipts, Duration::from_secs(seconds)).await {
            Ok(counts) => {
                let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
                println!("records: {}", parts.join(", "));
            }
            Err(e) => {
                eprintln!("gongshi import: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::from(u8::from(!refused.is_empty()))
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &Path,
) -> Result<String, String> {
    let body = tokio::fs::read(path).await.map_err(|e| e.to_string())?;
    let content_type = if path.extension().is_some_and(|x| x == "json") {
        "application/json"
    } else {
        "application/xml"
    };
    let response = client
        .post(format!("{base}/v1/notices"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if status.as_u16() == 202 {
        json["receipt"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "202 without a receipt".to_owned())
    } else {
        Err(format!(
            "{status}: {}",
            json["error"]["message"].as_str().unwrap_or_default()
        ))
    }
}

async fn wait(
    client: &reqwest::Client,
    base: &str,
    receipts: &[String],
    limit: Duration,
) -> Result<BTreeMap<String, usize>, String> {
    let start = Instant::now();
    loop {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in receipts {
            let json: serde_json::Value = client
                .get(format!("{base}/v1/receipts/{r}"))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            for rec in json["records"].as_array().into_iter().flatten() {
                *counts
                    .entry(rec["status"].as_str().unwrap_or("?").to_owned())
                    .or_default() += 1;
            }
        }
        if !counts.contains_key("received") {
            return Ok(counts);
        }
        if start.elapsed() > limit {
            return Err(format!(
                "records still received after {}s: {counts:?}",
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for p in entries {
            if p.is_dir() || p.extension().is_some_and(|x| x == "xml" || x == "json") {
                collect(&p, out)?;
            }
        }
    } else {
        std::fs::metadata(path)?;
        out.push(path.to_path_buf());
    }
    Ok(())
}

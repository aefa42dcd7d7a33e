//! `embedd load`: many concurrent clients against a running server for a fixed time, mixing
//! single texts, batches and long passages as real traffic does; per kind of request the count,
//! the statuses and p50/p99 latency, the throughput, and the server's memory before and after.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;
use serde_json::json;

use crate::cli::LoadArgs;

/// The kinds of request the clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    /// One short text.
    Single,
    /// Thirty-two short texts.
    Batch,
    /// One long passage (truncated by the model).
    Long,
}

/// The mix, in tenths: six singles, three batches, one long passage. Each client walks it from
/// its own offset, so the mix holds at every moment, with no randomness to seed.
const MIX: [Kind; 10] = [
    Kind::Single,
    Kind::Batch,
    Kind::Single,
    Kind::Long,
    Kind::Single,
    Kind::Batch,
    Kind::Single,
    Kind::Single,
    Kind::Batch,
    Kind::Single,
];

/// One answered (or failed) request.
struct Sample {
    kind: Kind,
    /// The HTTP status; 0 when no answer came (a refused or dropped connection).
    status: u16,
    latency: Duration,
    texts: usize,
}

/// What one kind of request saw.
#[derive(Debug, Serialize)]
struct KindReport {
    requests: usize,
    statuses: BTreeMap<u16, usize>,
    p50_ms: f64,
    p99_ms: f64,
}

/// The whole run.
#[derive(Debug, Serialize)]
struct LoadReport {
    url: String,
    clients: usize,
    seconds: f64,
    requests: usize,
    requests_per_second: f64,
    texts_per_second: f64,
    /// Requests answered with something other than 200 (0 = no answer at all).
    not_ok: usize,
    kinds: BTreeMap<Kind, KindReport>,
    rss_before_mib: Option<f64>,
    rss_after_mib: Option<f64>,
}

/// Run the load and print the report.
pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let short = lines(&args.corpus)?;
    let long = lines(&args.long)?;
    let url = format!("{}/v1/embeddings", args.url.trim_end_matches('/'));
    let rss_before = args.pid.and_then(rss_mib);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let texts = Arc::new((short, long));
    let deadline = Instant::now() + args.duration;
    let started = Instant::now();
    let mut workers = Vec::with_capacity(args.clients);
    for id in 0..args.clients {
        let (client, url, texts, model) = (
            client.clone(),
            url.clone(),
            texts.clone(),
            args.model.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut step = id;
            while Instant::now() < deadline {
                let kind = MIX[step % MIX.len()];
                let input = inputs(kind, &texts.0, &texts.1, step);
                let count = input.len();
                let mut body = json!({ "input": input });
                if let Some(model) = &model {
                    body["model"] = json!(model);
                }
                let sent = Instant::now();
                let status = match client.post(&url).json(&body).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        // Read the whole answer: its time is part of the request's.
                        match response.bytes().await {
                            Ok(_) => status,
                            Err(_) => 0,
                        }
                    }
                    Err(_) => 0,
                };
                samples.push(Sample {
                    kind,
                    status,
                    latency: sent.elapsed(),
                    texts: count,
                });
                step += 1;
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.context("a load client failed")?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let report = summarise(&args, samples, seconds, rss_before);
    if args.json {
        say!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report)?;
    }
    Ok(())
}

/// The inputs of request number `step` of `kind`.
fn inputs(kind: Kind, short: &[String], long: &[String], step: usize) -> Vec<String> {
    match kind {
        Kind::Single => vec![short[step % short.len()].clone()],
        Kind::Batch => (0..32)
            .map(|i| short[(step * 32 + i) % short.len()].clone())
            .collect(),
        Kind::Long => vec![long[step % long.len()].clone()],
    }
}

fn summarise(
    args: &LoadArgs,
    samples: Vec<Sample>,
    seconds: f64,
    rss_before: Option<f64>,
) -> LoadReport {
    let mut kinds: BTreeMap<Kind, Vec<&Sample>> = BTreeMap::new();
    for sample in &samples {
        kinds.entry(sample.kind).or_default().push(sample);
    }
    let texts: usize = samples
        .iter()
        .filter(|s| s.status == 200)
        .map(|s| s.texts)
        .sum();
    LoadReport {
        url: args.url.clone(),
        clients: args.clients,
        seconds,
        requests: samples.len(),
        requests_per_second: samples.len() as f64 / seconds,
        texts_per_second: texts as f64 / seconds,
        not_ok: samples.iter().filter(|s| s.status != 200).count(),
        kinds: kinds
            .into_iter()
            .map(|(kind, of_kind)| (kind, kind_report(&of_kind)))
            .collect(),
        rss_before_mib: rss_before,
        rss_after_mib: args.pid.and_then(rss_mib),
    }
}

fn kind_report(samples: &[&Sample]) -> KindReport {
    let mut latencies: Vec<f64> = samples
        .iter()
        .map(|s| s.latency.as_secs_f64() * 1e3)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let mut statuses = BTreeMap::new();
    for sample in samples {
        *statuses.entry(sample.status).or_insert(0) += 1;
    }
    KindReport {
        requests: samples.len(),
        statuses,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

fn print_table(report: &LoadReport) -> std::io::Result<()> {
    say!(
        "{} clients for {:.0} s against {}: {} requests ({:.1}/s, {:.1} texts/s), {} not 200",
        report.clients,
        report.seconds,
        report.url,
        report.requests,
        report.requests_per_second,
        report.texts_per_second,
        report.not_ok
    );
    say!("| request | count | statuses | p50 ms | p99 ms |");
    say!("|---|---|---|---|---|");
    for (kind, k) in &report.kinds {
        let statuses: Vec<String> = k
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        say!(
            "| {kind:?} | {} | {} | {:.1} | {:.1} |",
            k.requests,
            statuses.join(", "),
            k.p50_ms,
            k.p99_ms
        );
    }
    if let (Some(before), Some(after)) = (report.rss_before_mib, report.rss_after_mib) {
        say!("server RSS: {before:.0} MiB before, {after:.0} MiB after");
    }
    Ok(())
}

/// The non-empty lines of a corpus file.
fn lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if lines.is_empty() {
        bail!("{} holds no text", path.display());
    }
    Ok(lines)
}

/// The resident memory of process `pid`, from `/proc` (Linux).
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

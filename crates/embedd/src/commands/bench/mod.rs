//! `embedd bench`: a model's speed on a corpus — throughput in-process, latency of one text, or
//! throughput through HTTP with concurrent clients — optionally beside Python peers
//! (sentence-transformers, ONNX Runtime), measured in the same run.

mod calibration;
mod latency;
mod peer;
mod server;
mod throughput;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::cli::{BenchArgs, BenchMode, Peer};
use crate::setup;

/// Throughput figures, printed as one JSON object with `--json`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Mode measured.
    pub mode: &'static str,
    /// The model.
    pub model: String,
    /// Its provider.
    pub provider: &'static str,
    /// Texts in the corpus (after `--limit`).
    pub texts: usize,
    /// Tokens the model read for them.
    pub tokens: usize,
    /// Texts per call (per HTTP request in server mode).
    pub batch: usize,
    /// Median time of one pass over the corpus.
    pub seconds: f64,
    /// Texts per second.
    pub texts_per_s: f64,
    /// Tokens per second.
    pub tokens_per_s: f64,
    /// Timed runs.
    pub runs: usize,
    /// Passes over the corpus per run.
    pub passes_per_run: usize,
    /// Each run's time per pass.
    pub runs_s: Vec<f64>,
}

/// The texts of a corpus file: non-empty lines, the first `limit` (0: all).
fn corpus(args: &BenchArgs) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(&args.corpus)
        .with_context(|| format!("reading corpus {}", args.corpus.display()))?;
    let mut texts: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if args.limit > 0 {
        texts.truncate(args.limit);
    }
    if texts.is_empty() {
        bail!("corpus {} has no non-empty lines", args.corpus.display());
    }
    Ok(texts)
}

/// Time `pass` (one pass over the corpus, returning the tokens read) `--runs` times, each run
/// repeating it until `--min-seconds`; a report of the median.
async fn timed<F, Fut>(
    mode: &'static str,
    model: &dyn embedd_core::EmbeddingModel,
    texts: usize,
    args: &BenchArgs,
    mut pass: F,
) -> anyhow::Result<Report>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    let mut per_pass = Vec::with_capacity(args.runs);
    let (mut tokens, mut passes_per_run) = (0, 0);
    for _ in 0..args.runs {
        let started = std::time::Instant::now();
        let mut passes = 0;
        while passes == 0 || started.elapsed().as_secs_f64() < args.min_seconds {
            tokens = pass().await?;
            passes += 1;
        }
        per_pass.push(started.elapsed().as_secs_f64() / passes as f64);
        passes_per_run = passes_per_run.max(passes);
    }
    let seconds = median(&per_pass);
    Ok(Report {
        mode,
        model: model.name().to_owned(),
        provider: model.provider().as_str(),
        texts,
        tokens,
        batch: args.batch,
        seconds,
        texts_per_s: texts as f64 / seconds,
        tokens_per_s: tokens as f64 / seconds,
        runs: args.runs,
        passes_per_run,
        runs_s: per_pass,
    })
}

/// The peers asked for, each once, in the order first asked.
fn dedup(peers: &[Peer]) -> Vec<Peer> {
    let mut once = Vec::new();
    for peer in peers {
        if !once.contains(peer) {
            once.push(*peer);
        }
    }
    once
}

/// The median of some timings.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// Measure as the arguments say and print the figures.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.batch == 0 || args.runs == 0 || args.clients == 0 {
        bail!("--batch, --runs and --clients must be at least 1");
    }
    let config = setup::load_config(&args.config)?;
    let registry = setup::registry(&config, None)?;
    let name = setup::model_name(&registry, args.model.as_deref())?;
    let model = registry.get_or_create(&name).await?;
    let texts = corpus(&args)?;
    let report = match args.mode {
        BenchMode::Latency => return latency::run(model.as_ref(), &texts, &args).await,
        BenchMode::Throughput => throughput::run(model.as_ref(), &texts, &args).await?,
        BenchMode::Server => server::run(registry.clone(), &config, &name, &texts, &args).await?,
    };
    let mut peers = Vec::new();
    for peer in dedup(&args.peer) {
        let figures = peer::run(&config, &name, &args, peer).await?;
        let ratio = figures["texts_per_s"]
            .as_f64()
            .map(|p| report.texts_per_s / p);
        peers.push((peer, figures, ratio));
    }
    let rate = calibration::model_gflops(model.as_ref(), &texts, report.seconds).await;
    let machine = calibration::measure(rate);
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("machine".to_owned(), serde_json::to_value(&machine)?);
            if !peers.is_empty() {
                let (figures, ratios): (serde_json::Map<_, _>, serde_json::Map<_, _>) = peers
                    .into_iter()
                    .map(|(peer, figures, ratio)| {
                        let name = peer.name().to_owned();
                        ((name.clone(), figures), (name, serde_json::json!(ratio)))
                    })
                    .unzip();
                object.insert("peers".to_owned(), figures.into());
                object.insert("ratios".to_owned(), ratios.into());
            }
        }
        say!("{value}");
    } else {
        say!(
            "{} ({}): {} texts, {} tokens, batch {} — {:.4} s a pass, {:.1} texts/s, {:.1} tokens/s (median of {} runs)",
            report.model, report.mode, report.texts, report.tokens, report.batch, report.seconds, report.texts_per_s, report.tokens_per_s, report.runs
        );
        let reached = match (machine.model_gflops, machine.gemm_fraction) {
            (Some(rate), Some(fraction)) => format!(
                "; the model's products ran at {rate:.1} GFLOP/s, {:.0}% of it",
                fraction * 100.0
            ),
            _ => String::new(),
        };
        say!(
            "kernels: {} (int8: {}); this machine's GEMM: {:.1} GFLOP/s{reached}",
            machine.simd,
            machine.int8_kernel,
            machine.gemm_gflops
        );
        for (peer, figures, ratio) in peers {
            if let Some(ratio) = ratio {
                say!(
                    "peer {}: {} texts/s — embedd is {ratio:.2}x",
                    peer.name(),
                    figures["texts_per_s"]
                );
            }
        }
    }
    registry.close_all().await;
    Ok(())
}

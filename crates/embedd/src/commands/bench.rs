//! `embedd bench`: a model's throughput on a corpus, in texts and tokens per second.

use std::time::Instant;

use anyhow::{bail, Context};
use embedd_core::EmbeddingModel;
use serde::Serialize;

use crate::cli::BenchArgs;
use crate::setup;

/// The figures of one benchmark, printed as one JSON object with `--json`.
#[derive(Debug, Serialize)]
struct Report {
    model: String,
    provider: &'static str,
    texts: usize,
    tokens: usize,
    batch: usize,
    /// Median time of one pass over the corpus.
    seconds: f64,
    texts_per_s: f64,
    tokens_per_s: f64,
    runs: usize,
    passes_per_run: usize,
    /// Each run's time per pass.
    runs_s: Vec<f64>,
}

/// Time the model over the corpus and print the figures.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.batch == 0 || args.runs == 0 {
        bail!("--batch and --runs must be at least 1");
    }
    let config = setup::load_config(&args.config)?;
    let registry = setup::registry(&config, None)?;
    let name = setup::model_name(&registry, args.model.as_deref())?;
    let model = registry.get_or_create(&name).await?;
    let corpus = std::fs::read_to_string(&args.corpus)
        .with_context(|| format!("reading corpus {}", args.corpus.display()))?;
    let texts: Vec<String> = corpus
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if texts.is_empty() {
        bail!("corpus {} has no non-empty lines", args.corpus.display());
    }

    // Warm-up: first-call costs (allocations, lazy tables) are not throughput.
    let warm = &texts[..texts.len().min(args.batch * 2)];
    pass(model.as_ref(), warm, args.batch).await?;

    let mut per_pass = Vec::with_capacity(args.runs);
    let mut tokens = 0;
    let mut passes_per_run = 0;
    for _ in 0..args.runs {
        let started = Instant::now();
        let mut passes = 0;
        while passes == 0 || started.elapsed().as_secs_f64() < args.min_seconds {
            tokens = pass(model.as_ref(), &texts, args.batch).await?;
            passes += 1;
        }
        per_pass.push(started.elapsed().as_secs_f64() / passes as f64);
        passes_per_run = passes_per_run.max(passes);
    }
    let mut sorted = per_pass.clone();
    sorted.sort_by(f64::total_cmp);
    let seconds = sorted[sorted.len() / 2];
    let report = Report {
        model: model.name().to_owned(),
        provider: model.provider().as_str(),
        texts: texts.len(),
        tokens,
        batch: args.batch,
        seconds,
        texts_per_s: texts.len() as f64 / seconds,
        tokens_per_s: tokens as f64 / seconds,
        runs: args.runs,
        passes_per_run,
        runs_s: per_pass,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{}: {} texts, {} tokens, batch {} — {:.4} s a pass, {:.1} texts/s, {:.1} tokens/s (median of {} runs)",
            report.model, report.texts, report.tokens, report.batch, report.seconds, report.texts_per_s, report.tokens_per_s, report.runs
        );
    }
    registry.close_all().await;
    Ok(())
}

/// Encode every text once in batches; the tokens read.
async fn pass(model: &dyn EmbeddingModel, texts: &[String], batch: usize) -> anyhow::Result<usize> {
    let mut tokens = 0;
    for chunk in texts.chunks(batch) {
        tokens += model.encode(chunk).await?.prompt_tokens;
    }
    Ok(tokens)
}

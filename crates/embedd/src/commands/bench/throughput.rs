//! Throughput in-process: the corpus in batches, straight to the model.

use std::time::Instant;

use embedd_core::EmbeddingModel;

use super::{median, Report};
use crate::cli::BenchArgs;

/// Encode the corpus in batches, `--runs` times (each run repeated until `--min-seconds`).
pub async fn run(
    model: &dyn EmbeddingModel,
    texts: &[String],
    args: &BenchArgs,
) -> anyhow::Result<Report> {
    // Warm-up: first-call costs (allocations, lazy tables) are not throughput.
    pass(model, &texts[..texts.len().min(args.batch * 2)], args.batch).await?;
    let mut per_pass = Vec::with_capacity(args.runs);
    let (mut tokens, mut passes_per_run) = (0, 0);
    for _ in 0..args.runs {
        let started = Instant::now();
        let mut passes = 0;
        while passes == 0 || started.elapsed().as_secs_f64() < args.min_seconds {
            tokens = pass(model, texts, args.batch).await?;
            passes += 1;
        }
        per_pass.push(started.elapsed().as_secs_f64() / passes as f64);
        passes_per_run = passes_per_run.max(passes);
    }
    let seconds = median(&per_pass);
    Ok(Report {
        mode: "throughput",
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
    })
}

/// Encode every text once in batches; the tokens read.
async fn pass(model: &dyn EmbeddingModel, texts: &[String], batch: usize) -> anyhow::Result<usize> {
    let mut tokens = 0;
    for chunk in texts.chunks(batch) {
        tokens += model.encode(chunk).await?.prompt_tokens;
    }
    Ok(tokens)
}

//! Throughput in-process: the corpus in batches, straight to the model.

use embedd_core::EmbeddingModel;

use super::{timed, Report};
use crate::cli::BenchArgs;

/// Encode the corpus in batches, `--runs` times (each run repeated until `--min-seconds`).
pub async fn run(
    model: &dyn EmbeddingModel,
    texts: &[String],
    args: &BenchArgs,
) -> anyhow::Result<Report> {
    // Warm-up: first-call costs (allocations, lazy tables) are not throughput.
    pass(model, &texts[..texts.len().min(args.batch * 2)], args.batch).await?;
    timed("throughput", model, texts.len(), args, || {
        pass(model, texts, args.batch)
    })
    .await
}

/// Encode every text once in batches; the tokens read.
async fn pass(model: &dyn EmbeddingModel, texts: &[String], batch: usize) -> anyhow::Result<usize> {
    let mut tokens = 0;
    for chunk in texts.chunks(batch) {
        tokens += model
            .encode(chunk, &Default::default())
            .await?
            .prompt_tokens;
    }
    Ok(tokens)
}

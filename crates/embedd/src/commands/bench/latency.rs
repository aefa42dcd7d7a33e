//! Latency: one text at a time, as an interactive caller sends them; p50 and p99.

use std::time::Instant;

use embedd_core::EmbeddingModel;

use crate::cli::BenchArgs;

/// Time each text alone and print the percentiles.
pub async fn run(
    model: &dyn EmbeddingModel,
    texts: &[String],
    args: &BenchArgs,
) -> anyhow::Result<()> {
    for text in texts.iter().take(8) {
        model
            .encode(std::slice::from_ref(text), &Default::default())
            .await?;
    }
    let mut millis = Vec::with_capacity(texts.len() * args.runs);
    for _ in 0..args.runs {
        for text in texts {
            let started = Instant::now();
            model
                .encode(std::slice::from_ref(text), &Default::default())
                .await?;
            millis.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() - 1) as f64 * q).round() as usize];
    let (p50, p99, mean) = (
        at(0.5),
        at(0.99),
        millis.iter().sum::<f64>() / millis.len() as f64,
    );
    if args.json {
        say!(
            "{}",
            serde_json::json!({"mode": "latency", "model": model.name(), "requests": millis.len(), "p50_ms": p50, "p99_ms": p99, "mean_ms": mean})
        );
    } else {
        say!("{} (latency): {} requests of one text — p50 {p50:.2} ms, p99 {p99:.2} ms, mean {mean:.2} ms", model.name(), millis.len());
    }
    Ok(())
}

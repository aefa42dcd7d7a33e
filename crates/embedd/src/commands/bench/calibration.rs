//! What the machine can do, beside what the model did: the instruction-set path the kernels run,
//! a short calibration product at the feed-forward shape in GFLOP/s, and the rate the model's
//! own products reached, as a fraction of it.

use std::time::Instant;

use embedd_core::EmbeddingModel;
use embedd_native::ops::{linear, View};
use embedd_native::quant::Kernel;
use embedd_native::simd;
use serde::Serialize;

/// The kernels a run used and the GEMM rate this machine reaches.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// The f32 kernels' instruction-set path (`EMBEDD_SIMD`, capped at what the CPU has).
    pub simd: &'static str,
    /// The int8 product kernel.
    pub int8_kernel: &'static str,
    /// The best of ten rounds of `256 × 384 · 384 × 1536` products, one on every core at
    /// once, in GFLOP/s: the feed-forward shape of a batch as the engine splits it, through the
    /// same code the models run.
    pub gemm_gflops: f64,
    /// The model's products (`ModelInfo::compute` over the corpus's texts, as truncated) per
    /// second of the measured pass, in GFLOP/s; `None` where embedd does not run the model. An
    /// int8 model's count is that of the f32 products it replaces.
    pub model_gflops: Option<f64>,
    /// `model_gflops / gemm_gflops`: how close to this machine's limit the model ran.
    pub gemm_fraction: Option<f64>,
}

/// The model's product rate over `texts`, one pass of which took `seconds`.
pub async fn model_gflops(
    model: &dyn EmbeddingModel,
    texts: &[String],
    seconds: f64,
) -> Option<f64> {
    let compute = model.info().compute?;
    let tokens = model.tokenize(texts, true).await.ok()?;
    let limit = model.max_tokens();
    let flops: u64 = tokens
        .iter()
        .map(|t| compute.flops(t.len().min(limit)))
        .sum();
    (seconds > 0.0).then(|| flops as f64 / seconds / 1e9)
}

/// Measure (a few tenths of a second), beside the model's rate from [`model_gflops`].
pub fn measure(model_gflops: Option<f64>) -> Machine {
    // As the engine runs a batch: every core its own product of a few hundred token rows.
    let (rows, k, out) = (256, 384, 1536);
    let values = |n: usize, seed: usize| -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 2_654_435_761 + seed) % 2000) as f32 / 1000.0 - 1.0)
            .collect()
    };
    let (x, w, b) = (values(rows * k, 1), values(out * k, 2), values(out, 3));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let start = Instant::now();
        let all_ran = std::thread::scope(|scope| {
            let running: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut y = Vec::new();
                        linear(&x, rows, View::rows(&w, out, k), &b, &mut y, 1).is_ok()
                    })
                })
                .collect();
            running.into_iter().all(|t| t.join().unwrap_or(false))
        });
        if !all_ran {
            break;
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let flops = 2.0 * (threads * rows * k * out) as f64;
    let gemm_gflops = if best.is_finite() {
        flops / best / 1e9
    } else {
        0.0
    };
    Machine {
        simd: simd::active().name(),
        int8_kernel: Kernel::detect().name(),
        gemm_gflops,
        model_gflops,
        gemm_fraction: model_gflops
            .filter(|_| gemm_gflops > 0.0)
            .map(|m| m / gemm_gflops),
    }
}

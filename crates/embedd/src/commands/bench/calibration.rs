//! What the machine can do, beside what the model did: the instruction-set path the kernels run
//! and a short calibration product at the feed-forward shape, in GFLOP/s.

use std::time::Instant;

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
    /// The best of five `4096 × 384 · 384 × 1536` products on every core, in GFLOP/s: the
    /// feed-forward shape of a batch, through the same code the models run.
    pub gemm_gflops: f64,
}

/// Measure (about a tenth of a second).
pub fn measure() -> Machine {
    let (rows, k, out) = (4096, 384, 1536);
    let values = |n: usize, seed: usize| -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 2_654_435_761 + seed) % 2000) as f32 / 1000.0 - 1.0)
            .collect()
    };
    let (x, w, b) = (values(rows * k, 1), values(out * k, 2), values(out, 3));
    let split = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut y = Vec::new();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        if linear(&x, rows, View::rows(&w, out, k), &b, &mut y, split).is_err() {
            break;
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let flops = 2.0 * (rows * k * out) as f64;
    Machine {
        simd: simd::active().name(),
        int8_kernel: Kernel::detect().name(),
        gemm_gflops: if best.is_finite() {
            flops / best / 1e9
        } else {
            0.0
        },
    }
}

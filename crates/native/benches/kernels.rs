//! Micro-benchmarks of the encoder's kernels at the shapes all-MiniLM-L6-v2 runs them:
//! `cargo bench -p embedd-native --bench kernels`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use embedd_native::ops::{linear, View};
use embedd_native::quant::{self, Int8Linear, Kernel, QuantizedRows};
use embedd_native::simd::{self, Simd};
use embedd_native::vmath;

/// Deterministic, varied values (no RNG needed for timing).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

/// The feed-forward projections (384 → 1536 up, 1536 → 384 down) for a few rows (one short
/// text) and for many (a batch), one core and both, on every instruction-set path this CPU runs
/// (on `avx2`, many rows run the `gemm` crate), beside `matrixmultiply` (the general GEMM the
/// AVX-512 path keeps) on the same shapes.
fn projections(c: &mut Criterion) {
    for (k, out) in [(384, 1536), (1536, 384)] {
        let w = values(out * k, 1);
        let b = values(out, 2);
        let mut group = c.benchmark_group(format!("linear_{k}x{out}"));
        for rows in [20, 256, 700] {
            let x = values(rows * k, 3);
            group.throughput(Throughput::Elements((2 * rows * k * out) as u64));
            for path in Simd::available() {
                for split in [1, 2] {
                    let id = format!("{path}/split{split}");
                    group.bench_with_input(BenchmarkId::new(id, rows), &rows, |bench, &rows| {
                        simd::force(path);
                        let mut y = Vec::new();
                        bench.iter(|| linear(&x, rows, View::rows(&w, out, k), &b, &mut y, split));
                    });
                }
            }
            group.bench_with_input(
                BenchmarkId::new("matrixmultiply/split1", rows),
                &rows,
                |bench, &rows| {
                    let mut y = vec![0.0f32; rows * out];
                    bench.iter(|| {
                        // SAFETY: x is rows × k, w is out × k (read transposed), y is rows ×
                        // out, all row-major and exactly that long.
                        unsafe {
                            matrixmultiply::sgemm(
                                rows,
                                k,
                                out,
                                1.0,
                                x.as_ptr(),
                                k as isize,
                                1,
                                w.as_ptr(),
                                1,
                                k as isize,
                                0.0,
                                y.as_mut_ptr(),
                                out as isize,
                                1,
                            )
                        }
                    });
                },
            );
        }
        group.finish();
    }
    simd::force(Simd::detected());
}

/// The same up-projection in int8 (activations quantized inside the timing, as in the model),
/// on every int8 kernel this CPU runs.
fn int8_projections(c: &mut Criterion) {
    let (k, out) = (384, 1536);
    let w = values(out * k, 1);
    let b = values(out, 2);
    let layer = Int8Linear::new(&w, &b, out, k).expect("layer");
    let mut group = c.benchmark_group("int8_linear_384x1536");
    for rows in [20, 256, 700] {
        let x = values(rows * k, 3);
        group.throughput(Throughput::Elements((2 * rows * k * out) as u64));
        for kernel in Kernel::available() {
            for split in [1, 2] {
                let id = format!("{}/split{split}", kernel.name());
                group.bench_with_input(BenchmarkId::new(id, rows), &rows, |bench, &rows| {
                    let (mut q, mut y) = (QuantizedRows::default(), Vec::new());
                    bench.iter(|| {
                        q.quantize(&x, rows, k)?;
                        quant::linear(kernel, &x, &q, &layer, &w, &mut y, split)
                    });
                });
            }
        }
    }
    group.finish();
}

/// The elementwise work of one layer of a 256-token text.
fn elementwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("elementwise");
    let up = values(256 * 1536, 4);
    group.throughput(Throughput::Elements(up.len() as u64));
    group.bench_function("gelu_256x1536", |bench| {
        bench.iter_batched_ref(
            || up.clone(),
            |x| vmath::gelu(x),
            criterion::BatchSize::LargeInput,
        )
    });
    let scores = values(12 * 256 * 256, 5);
    group.throughput(Throughput::Elements(scores.len() as u64));
    group.bench_function("softmax_12x256x256", |bench| {
        bench.iter_batched_ref(
            || scores.clone(),
            |x| vmath::softmax_rows(x, 256),
            criterion::BatchSize::LargeInput,
        )
    });
    let hidden = values(256 * 384, 6);
    let (gamma, beta) = (values(384, 7), values(384, 8));
    group.throughput(Throughput::Elements(hidden.len() as u64));
    group.bench_function("layer_norm_256x384", |bench| {
        bench.iter_batched_ref(
            || hidden.clone(),
            |x| vmath::layer_norm(x, 384, &gamma, &beta, 1e-12),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(kernels, projections, int8_projections, elementwise);
criterion_main!(kernels);

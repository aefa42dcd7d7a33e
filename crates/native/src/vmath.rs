//! Elementwise math that the compiler can vectorise: `exp`, the erf GELU, softmax, layer norm.
//!
//! libm's `expf` and `erff` are scalar calls; in a profile of long texts they took a quarter of
//! the time. Here they are polynomial approximations written branch-free, so each loop becomes
//! SIMD code, compiled twice: once for the baseline target and once with AVX2 + FMA, picked at
//! run time. Reductions keep 16 partial sums, which lets them vectorise too (the order of
//! additions changes, by design; the parity tests bound the effect).
//!
//! Accuracy: `exp` within 2 ulp of the true value over the softmax's range; `erf` within 2e-7
//! absolute (a Taylor series near 0, Abramowitz & Stegun 7.1.26 beyond), both far below what cosine >= 0.9999 can see.

const LANES: usize = 16;

/// e^x for x in the float range softmax and erf need (clamped to avoid overflow).
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    // ln 2 split in two so n * ln2 is exact enough (Cephes' constants).
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * two_to(n)
}

/// 2^n for a whole `n` in -126..=127, built in the exponent bits without a float-to-int
/// conversion: Rust's saturating `as i32` stays scalar (a compare and two moves a value), which
/// made softmax run at 7-8 cycles a value. `n + 127` is added to 2^23, so it lands, exactly, in
/// the low mantissa bits, and the shift moves it into the exponent field.
#[inline(always)]
fn two_to(n: f32) -> f32 {
    f32::from_bits((n + (8_388_608.0 + 127.0)).to_bits() << 23)
}

/// erf(x): its Taylor series near 0, where the rational form loses digits to cancellation, and
/// Abramowitz & Stegun 7.1.26 beyond. Both are computed and one is selected, so the loop stays
/// branch-free.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let a2 = a * a;
    let mut taylor = 0.000_120_553_3;
    for c in [
        -0.000_854_832_4,
        0.005_223_978,
        -0.026_866_17,
        0.112_837_92,
        -0.376_126_4,
        std::f32::consts::FRAC_2_SQRT_PI,
    ] {
        taylor = taylor * a2 + c;
    }
    let taylor = taylor * a;
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let mut poly = 1.061_405_4;
    for c in [-1.453_152, 1.421_413_8, -0.284_496_74, 0.254_829_6] {
        poly = poly * t + c;
    }
    let rational = 1.0 - poly * t * exp(-a2);
    let y = if a < 0.5 { taylor } else { rational };
    y.copysign(x)
}

#[inline(always)]
fn gelu_body(x: &mut [f32]) {
    for v in x {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

#[inline(always)]
fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[inline(always)]
fn max(values: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    for chunk in chunks {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l = l.max(*v);
        }
    }
    lanes.iter().copied().fold(tail, f32::max)
}

#[inline(always)]
fn softmax_body(x: &mut [f32], width: usize) {
    for row in x.chunks_exact_mut(width) {
        let m = max(row);
        for v in row.iter_mut() {
            *v = exp(*v - m);
        }
        let inv = 1.0 / sum(row);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

#[inline(always)]
fn layer_norm_body(x: &mut [f32], dim: usize, gamma: &[f32], beta: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(dim) {
        let mean = sum(row) / dim as f32;
        for v in row.iter_mut() {
            *v -= mean;
        }
        let mut squares = [0.0f32; LANES];
        let chunks = row.chunks_exact(LANES);
        let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
        for chunk in chunks {
            for (s, v) in squares.iter_mut().zip(chunk) {
                *s += v * v;
            }
        }
        let var = (squares.iter().sum::<f32>() + tail) / dim as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = *v * inv * g + b;
        }
    }
}

#[inline(always)]
fn rms_norm_body(x: &mut [f32], dim: usize, weight: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(dim) {
        let squares: f32 = row.iter().map(|v| v * v).sum();
        let inv = 1.0 / (squares / dim as f32 + eps).sqrt();
        for (v, w) in row.iter_mut().zip(weight) {
            *v = *v * inv * w;
        }
    }
}

#[inline(always)]
fn silu_gate_body(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + exp(-*g)) * u;
    }
}

#[inline(always)]
fn gelu_tanh_gate_body(gate: &mut [f32], up: &[f32]) {
    const C: f32 = 0.797_884_6; // √(2/π)
    for (g, u) in gate.iter_mut().zip(up) {
        let x = *g;
        // tanh(y) = 1 - 2 / (e^{2y} + 1), through the clamped exp so it vectorises.
        let y = C * (x + 0.044715 * x * x * x);
        let tanh = 1.0 - 2.0 / (exp(2.0 * y) + 1.0);
        *g = 0.5 * x * (1.0 + tanh) * u;
    }
}

dispatch!(
    /// Root-mean-square normalisation of each `dim`-long row, times `weight`, in place.
    rms_norm, rms_norm_on, rms_norm_avx2, rms_norm_body, (x: &mut [f32], dim: usize, weight: &[f32], eps: f32)
);
dispatch!(
    /// `gate = SiLU(gate) · up`, the SwiGLU feed-forward's middle (Qwen3), in place.
    silu_gate, silu_gate_on, silu_gate_avx2, silu_gate_body, (gate: &mut [f32], up: &[f32])
);
dispatch!(
    /// `gate = GELU_tanh(gate) · up`, GeGLU's middle (Gemma's `gelu_pytorch_tanh`), in place.
    gelu_tanh_gate, gelu_tanh_gate_on, gelu_tanh_gate_avx2, gelu_tanh_gate_body, (gate: &mut [f32], up: &[f32])
);
dispatch!(
    /// The exact (erf) GELU of BERT's `hidden_act: gelu`, in place.
    gelu, gelu_on, gelu_avx2, gelu_body, (x: &mut [f32])
);
dispatch!(
    /// Softmax of each `width`-long row, in place.
    softmax_rows, softmax_rows_on, softmax_avx2, softmax_body, (x: &mut [f32], width: usize)
);
dispatch!(
    /// Layer normalisation of each `dim`-long row of `x`, in place.
    layer_norm, layer_norm_on, layer_norm_avx2, layer_norm_body, (x: &mut [f32], dim: usize, gamma: &[f32], beta: &[f32], eps: f32)
);

#[cfg(test)]
mod tests {
    use super::*;

    use crate::simd::Simd;

    #[test]
    fn gated_activations_and_rms_norm_match_their_formulas() {
        for path in Simd::available() {
            gated_and_rms_on(path);
        }
    }

    fn gated_and_rms_on(path: Simd) {
        let xs = [-6.0f32, -1.5, -0.2, 0.0, 0.3, 2.0, 9.0];
        let up = [2.0f32; 7];
        let (mut silu, mut gelu) = (xs, xs);
        silu_gate_on(path, &mut silu, &up);
        gelu_tanh_gate_on(path, &mut gelu, &up);
        for (i, &x) in xs.iter().enumerate() {
            let x64 = f64::from(x);
            let want_silu = 2.0 * x64 / (1.0 + (-x64).exp());
            let inner = (2.0 / std::f64::consts::PI).sqrt() * (x64 + 0.044715 * x64.powi(3));
            let want_gelu = x64 * (1.0 + inner.tanh());
            assert!(
                (f64::from(silu[i]) - want_silu).abs() < 1e-5,
                "{path} silu {x}"
            );
            assert!(
                (f64::from(gelu[i]) - want_gelu).abs() < 1e-5,
                "{path} gelu {x}"
            );
        }
        let mut row = [3.0f32, 4.0];
        rms_norm_on(path, &mut row, 2, &[1.0, 2.0], 0.0);
        let rms = (12.5f32).sqrt();
        assert!((row[0] - 3.0 / rms).abs() < 1e-6 && (row[1] - 8.0 / rms).abs() < 1e-6);
    }

    #[test]
    fn exp_is_accurate_over_the_softmax_range() {
        let mut worst = 0.0f64;
        for i in -8700..=0 {
            let x = i as f32 / 100.0;
            let (ours, exact) = (f64::from(exp(x)), f64::from(x).exp());
            worst = worst.max(((ours - exact) / exact).abs());
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) >= 0.0 && exp(-1000.0) < 1e-37);
    }

    #[test]
    fn two_to_is_the_exponent_field_for_every_whole_power_exp_uses() {
        for n in -126..=127 {
            let want = f32::from_bits(((n + 127) as u32) << 23);
            assert_eq!(two_to(n as f32).to_bits(), want.to_bits(), "2^{n}");
        }
    }

    #[test]
    fn erf_is_accurate() {
        for i in -600..=600 {
            let x = i as f32 / 100.0;
            let exact = libm::erf(f64::from(x));
            assert!(
                (f64::from(erf(x)) - exact).abs() < 3e-7,
                "erf({x}): {} vs {exact}",
                erf(x)
            );
        }
    }

    #[test]
    fn vector_and_scalar_builds_agree_with_the_definitions() {
        for path in Simd::available() {
            definitions_hold_on(path);
        }
    }

    fn definitions_hold_on(path: Simd) {
        let values: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 8.0).collect();
        let mut g = values.clone();
        gelu_on(path, &mut g);
        for (v, out) in values.iter().zip(&g) {
            let exact =
                0.5 * f64::from(*v) * (1.0 + libm::erf(f64::from(*v) / std::f64::consts::SQRT_2));
            assert!((f64::from(*out) - exact).abs() < 1e-5, "{path} gelu({v})");
        }
        let mut s = values[..250].to_vec();
        softmax_rows_on(path, &mut s, 50);
        for row in s.chunks(50) {
            assert!((row.iter().map(|v| f64::from(*v)).sum::<f64>() - 1.0).abs() < 1e-5);
        }
        let mut n = values[..384].to_vec();
        layer_norm_on(path, &mut n, 384, &[1.0; 384], &[0.0; 384], 1e-12);
        assert!(n.iter().map(|v| f64::from(*v)).sum::<f64>().abs() < 1e-3);
        assert!((n.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / 384.0 - 1.0).abs() < 1e-4);
    }
}

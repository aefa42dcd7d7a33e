//! The pieces the rotary-position transformers are built from: projections with optional bias,
//! the two kinds of normalisation they use, RoPE, and which keys each query sees.

use crate::arch::rotary::AttentionSpan;
use crate::error::NativeError;
use crate::ops::{self, View};
use crate::vmath;
use crate::weights::{Tensor, Weights};

/// A projection; the bias is zeros where the checkpoint has none (these models mostly have none).
pub(super) struct Linear {
    weight: Tensor,
    bias: Vec<f32>,
}

impl Linear {
    pub(super) fn load(
        w: &Weights,
        name: &str,
        out: usize,
        input: usize,
    ) -> Result<Self, NativeError> {
        let weight = w.get(&format!("{name}.weight"), &[out, input])?;
        Ok(Self::with_bias(weight, bias(w, name, out)?))
    }

    /// Rows `start..start + out` of the fused projection `name` (`[total, input]`), as one layer.
    pub(super) fn part(
        w: &Weights,
        name: &str,
        total: usize,
        input: usize,
        start: usize,
        out: usize,
    ) -> Result<Self, NativeError> {
        let fused = w.get(&format!("{name}.weight"), &[total, input])?;
        let weight = fused
            .rows(start, out)
            .ok_or_else(|| NativeError::Bug(format!("`{name}` cannot be split")))?;
        let full = bias(w, name, total)?;
        Ok(Self::with_bias(weight, full[start..start + out].to_vec()))
    }

    fn with_bias(weight: Tensor, bias: Vec<f32>) -> Self {
        Self { weight, bias }
    }

    pub(super) fn forward(
        &self,
        x: &[f32],
        rows: usize,
        y: &mut Vec<f32>,
        split: usize,
    ) -> Result<(), NativeError> {
        let view = View::rows(
            self.weight.data(),
            self.weight.shape[0],
            self.weight.shape[1],
        );
        ops::linear(x, rows, view, &self.bias, y, split)
    }
}

/// `name.bias` (`[out]`) if the checkpoint has it, else zeros.
fn bias(w: &Weights, name: &str, out: usize) -> Result<Vec<f32>, NativeError> {
    let bias_name = format!("{name}.bias");
    if w.contains(&bias_name) {
        Ok(w.get(&bias_name, &[out])?.data().to_vec())
    } else {
        Ok(vec![0.0; out])
    }
}

/// A normalisation of each row.
pub(super) enum Norm {
    /// `x / rms(x) · w`; Gemma stores `w - 1`, and the `1` is added at load.
    Rms { weight: Vec<f32>, eps: f32 },
    /// Layer norm (ModernBERT's has no bias: zeros then).
    Layer {
        gamma: Vec<f32>,
        beta: Vec<f32>,
        eps: f32,
    },
}

impl Norm {
    /// An RMSNorm `name` over `dim` values, its stored weight plus `offset`.
    pub(super) fn rms(
        w: &Weights,
        name: &str,
        dim: usize,
        offset: f32,
        eps: f32,
    ) -> Result<Self, NativeError> {
        let stored = w.get(&format!("{name}.weight"), &[dim])?;
        Ok(Self::Rms {
            weight: stored.data().iter().map(|v| v + offset).collect(),
            eps,
        })
    }

    /// A layer norm `name` over `dim` values, with or without a bias.
    pub(super) fn layer(
        w: &Weights,
        name: &str,
        dim: usize,
        eps: f32,
    ) -> Result<Self, NativeError> {
        Ok(Self::Layer {
            gamma: w.get(&format!("{name}.weight"), &[dim])?.data().to_vec(),
            beta: bias(w, name, dim)?,
            eps,
        })
    }

    pub(super) fn apply(&self, x: &mut [f32]) {
        match self {
            Self::Rms { weight, eps } => vmath::rms_norm(x, weight.len(), weight, *eps),
            Self::Layer { gamma, beta, eps } => {
                vmath::layer_norm(x, gamma.len(), gamma, beta, *eps)
            }
        }
    }
}

/// The keys query `query` of a `len`-token sequence sees: `lo..hi`, never empty (itself).
pub(super) fn keys_seen(
    query: usize,
    len: usize,
    span: AttentionSpan,
    causal: bool,
) -> (usize, usize) {
    let hi = if causal { query + 1 } else { len };
    match span {
        AttentionSpan::Full => (0, hi),
        // Keys fewer than `window` positions away; causal adds "not later".
        AttentionSpan::Sliding(window) => {
            ((query + 1).saturating_sub(window), hi.min(query + window))
        }
    }
}

/// RoPE's cosines and sines for positions `0..len`, as transformers computes them: the angle
/// `position · θ^(-2i/d)` in f32, its halves rotated (`rotate_half`).
pub(super) struct Rope {
    half: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    pub(super) fn new(len: usize, head_dim: usize, theta: f64) -> Self {
        let half = head_dim / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| (1.0 / theta.powf((2 * i) as f64 / head_dim as f64)) as f32)
            .collect();
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for position in 0..len {
            for f in &inv_freq {
                let angle = position as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Self { half, cos, sin }
    }

    /// Rotate each head of the `len` rows of `x` (row width `heads × 2·half`) in place.
    pub(super) fn apply(&self, x: &mut [f32], len: usize, heads: usize) {
        let hd = 2 * self.half;
        for (position, row) in x.chunks_exact_mut(heads * hd).take(len).enumerate() {
            let cos = &self.cos[position * self.half..(position + 1) * self.half];
            let sin = &self.sin[position * self.half..(position + 1) * self.half];
            for head in row.chunks_exact_mut(hd) {
                let (a, b) = head.split_at_mut(self.half);
                for i in 0..self.half {
                    let (x1, x2) = (a[i], b[i]);
                    a[i] = x1 * cos[i] - x2 * sin[i];
                    b[i] = x2 * cos[i] + x1 * sin[i];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_query_sees_the_keys_transformers_lets_it() {
        // Causal full, bidirectional full, bidirectional window of 2 (distance < 2), causal window.
        assert_eq!(keys_seen(3, 6, AttentionSpan::Full, true), (0, 4));
        assert_eq!(keys_seen(3, 6, AttentionSpan::Full, false), (0, 6));
        assert_eq!(keys_seen(3, 6, AttentionSpan::Sliding(2), false), (2, 5));
        assert_eq!(keys_seen(3, 6, AttentionSpan::Sliding(2), true), (2, 4));
        assert_eq!(keys_seen(0, 6, AttentionSpan::Sliding(2), false), (0, 2));
        assert_eq!(keys_seen(5, 6, AttentionSpan::Sliding(9), false), (0, 6));
    }

    #[test]
    fn rope_rotates_pairs_half_a_head_apart() {
        let rope = Rope::new(2, 4, 10_000.0);
        // Position 0 is the identity; position 1 turns (x_i, x_{i+2}) by θ^(-i/2).
        let mut x = vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0];
        rope.apply(&mut x, 2, 1);
        assert_eq!(&x[..4], &[1.0, 2.0, 3.0, 4.0]);
        let (c0, s0) = (1f32.cos(), 1f32.sin());
        assert!((x[4] - (c0 - 3.0 * s0)).abs() < 1e-6);
        assert!((x[6] - (3.0 * c0 + s0)).abs() < 1e-6);
    }
}

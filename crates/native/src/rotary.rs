//! The rotary-position transformers (Qwen3, Gemma 3; see [`crate::arch::rotary`]), run like
//! [`crate::encoder`]: every sequence's tokens stacked, no padding, projections as one product.
//!
//! Each sequence is computed alone from position 0, so left or right padding in the reference
//! (Qwen3-Embedding pads left) changes nothing here: RoPE depends only on relative positions, and
//! padded tokens are masked out there.

use crate::arch::rotary::{AttentionSpan, LayerKind, RotaryConfig, RotaryFamily};
use crate::error::NativeError;
use crate::ops::{self, View};
use crate::vmath;
use crate::weights::{Tensor, Weights};

/// A projection; the bias is zeros where the checkpoint has none (these models mostly have none).
struct Linear {
    weight: Tensor,
    bias: Vec<f32>,
}

impl Linear {
    fn load(w: &Weights, name: &str, out: usize, input: usize) -> Result<Self, NativeError> {
        let weight = w.get(&format!("{name}.weight"), &[out, input])?;
        let bias_name = format!("{name}.bias");
        let bias = if w.contains(&bias_name) {
            w.get(&bias_name, &[out])?.data().to_vec()
        } else {
            vec![0.0; out]
        };
        Ok(Self { weight, bias })
    }

    fn forward(
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

/// An RMSNorm with its effective multiplier (Gemma stores `w - 1`; the `1` is added at load).
struct RmsNorm {
    weight: Vec<f32>,
    eps: f32,
}

impl RmsNorm {
    fn load(
        w: &Weights,
        name: &str,
        dim: usize,
        config: &RotaryConfig,
    ) -> Result<Self, NativeError> {
        let stored = w.get(&format!("{name}.weight"), &[dim])?;
        let offset = match config.family {
            RotaryFamily::Gemma3 => 1.0,
            RotaryFamily::Qwen3 => 0.0,
        };
        Ok(Self {
            weight: stored.data().iter().map(|v| v + offset).collect(),
            eps: config.eps,
        })
    }

    fn apply(&self, x: &mut [f32]) {
        vmath::rms_norm(x, self.weight.len(), &self.weight, self.eps);
    }
}

struct Layer {
    kind: LayerKind,
    input_norm: RmsNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    /// Gemma only: the attention block's output is normalised before the residual.
    post_attention_norm: Option<RmsNorm>,
    /// Before the feed-forward (Qwen3 calls it `post_attention_layernorm`).
    feed_forward_norm: RmsNorm,
    /// Gemma only: the feed-forward's output is normalised before the residual.
    post_feed_forward_norm: Option<RmsNorm>,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// A loaded rotary-position transformer.
pub struct RotaryNetwork {
    config: RotaryConfig,
    embed: Tensor,
    embed_scale: f32,
    layers: Vec<Layer>,
    norm: RmsNorm,
}

#[derive(Default)]
struct Scratch {
    normed: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    context: Vec<f32>,
    out: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    scores: Vec<f32>,
}

impl RotaryNetwork {
    /// Bind every tensor the config calls for, checking each one's shape.
    pub fn load(w: &Weights, config: RotaryConfig) -> Result<Self, NativeError> {
        let prefix = if w.contains("embed_tokens.weight") {
            ""
        } else {
            "model."
        };
        let (h, hd) = (config.hidden, config.head_dim);
        let (q_width, kv_width) = (config.heads * hd, config.kv_heads * hd);
        let gemma = config.family == RotaryFamily::Gemma3;
        let layers = config
            .layers
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let p = format!("{prefix}layers.{i}.");
                let norm = |name: &str, dim| RmsNorm::load(w, &format!("{p}{name}"), dim, &config);
                let linear =
                    |name: &str, out, input| Linear::load(w, &format!("{p}{name}"), out, input);
                Ok(Layer {
                    kind: *kind,
                    input_norm: norm("input_layernorm", h)?,
                    q: linear("self_attn.q_proj", q_width, h)?,
                    k: linear("self_attn.k_proj", kv_width, h)?,
                    v: linear("self_attn.v_proj", kv_width, h)?,
                    o: linear("self_attn.o_proj", h, q_width)?,
                    q_norm: norm("self_attn.q_norm", hd)?,
                    k_norm: norm("self_attn.k_norm", hd)?,
                    post_attention_norm: if gemma {
                        Some(norm("post_attention_layernorm", h)?)
                    } else {
                        None
                    },
                    feed_forward_norm: if gemma {
                        norm("pre_feedforward_layernorm", h)?
                    } else {
                        norm("post_attention_layernorm", h)?
                    },
                    post_feed_forward_norm: if gemma {
                        Some(norm("post_feedforward_layernorm", h)?)
                    } else {
                        None
                    },
                    gate: linear("mlp.gate_proj", config.intermediate, h)?,
                    up: linear("mlp.up_proj", config.intermediate, h)?,
                    down: linear("mlp.down_proj", h, config.intermediate)?,
                })
            })
            .collect::<Result<_, NativeError>>()?;
        Ok(Self {
            embed: w.get(&format!("{prefix}embed_tokens.weight"), &[config.vocab, h])?,
            // Gemma scales embeddings by √hidden, computed in f64 and stored as f32 (as torch).
            embed_scale: if gemma { (h as f64).sqrt() as f32 } else { 1.0 },
            norm: RmsNorm::load(w, &format!("{prefix}norm"), h, &config)?,
            layers,
            config,
        })
    }

    /// The shape this network was loaded with.
    pub fn config(&self) -> &RotaryConfig {
        &self.config
    }

    /// Hidden states of every token of every sequence, sequences stacked in order.
    pub fn forward(&self, sequences: &[Vec<u32>], split: usize) -> Result<Vec<f32>, NativeError> {
        let c = &self.config;
        let total: usize = sequences.iter().map(Vec::len).sum();
        let mut x = self.embed(sequences)?;
        let mut s = Scratch::default();
        for layer in &self.layers {
            s.normed.clone_from(&x);
            layer.input_norm.apply(&mut s.normed);
            layer.q.forward(&s.normed, total, &mut s.q, split)?;
            layer.k.forward(&s.normed, total, &mut s.k, split)?;
            layer.v.forward(&s.normed, total, &mut s.v, split)?;
            layer.q_norm.apply(&mut s.q);
            layer.k_norm.apply(&mut s.k);
            let mut offset = 0;
            s.context.clear();
            s.context.resize(total * c.heads * c.head_dim, 0.0);
            for seq in sequences {
                let rope = Rope::new(seq.len(), c.head_dim, layer.kind.rope_theta);
                rope.apply(
                    &mut s.q[offset * c.heads * c.head_dim..],
                    seq.len(),
                    c.heads,
                );
                rope.apply(
                    &mut s.k[offset * c.kv_heads * c.head_dim..],
                    seq.len(),
                    c.kv_heads,
                );
                self.attend(&mut s, offset, seq.len(), layer.kind.span)?;
                offset += seq.len();
            }
            layer.o.forward(&s.context, total, &mut s.out, split)?;
            if let Some(norm) = &layer.post_attention_norm {
                norm.apply(&mut s.out);
            }
            ops::add_in_place(&mut x, &s.out);

            s.normed.clone_from(&x);
            layer.feed_forward_norm.apply(&mut s.normed);
            layer.gate.forward(&s.normed, total, &mut s.gate, split)?;
            layer.up.forward(&s.normed, total, &mut s.up, split)?;
            match c.family {
                RotaryFamily::Qwen3 => vmath::silu_gate(&mut s.gate, &s.up),
                RotaryFamily::Gemma3 => vmath::gelu_tanh_gate(&mut s.gate, &s.up),
            }
            layer.down.forward(&s.gate, total, &mut s.out, split)?;
            if let Some(norm) = &layer.post_feed_forward_norm {
                norm.apply(&mut s.out);
            }
            ops::add_in_place(&mut x, &s.out);
        }
        self.norm.apply(&mut x);
        Ok(x)
    }

    fn embed(&self, sequences: &[Vec<u32>]) -> Result<Vec<f32>, NativeError> {
        let h = self.config.hidden;
        let table = self.embed.data();
        let mut x = Vec::with_capacity(sequences.iter().map(Vec::len).sum::<usize>() * h);
        for &id in sequences.iter().flatten() {
            let id = id as usize;
            let row = table
                .get(id * h..(id + 1) * h)
                .ok_or_else(|| NativeError::Bug(format!("token id {id} reached the network")))?;
            x.extend(row.iter().map(|v| v * self.embed_scale));
        }
        Ok(x)
    }

    /// Grouped-query attention of the `len` tokens from row `offset`, into `s.context`: each query
    /// sees a contiguous range of keys (causal, sliding window, or all), softmax over that range.
    fn attend(
        &self,
        s: &mut Scratch,
        offset: usize,
        len: usize,
        span: AttentionSpan,
    ) -> Result<(), NativeError> {
        let c = &self.config;
        let hd = c.head_dim;
        let (q_width, kv_width) = (c.heads * hd, c.kv_heads * hd);
        let group = c.heads / c.kv_heads;
        s.scores.resize(len * len, 0.0);
        fn view(m: &[f32], start: usize, len: usize, hd: usize, stride: usize) -> View<'_> {
            View {
                data: m.get(start..).unwrap_or_default(),
                rows: len,
                cols: hd,
                row_stride: stride,
                col_stride: 1,
            }
        }
        for head in 0..c.heads {
            let kv = head / group;
            ops::gemm(
                c.scale,
                view(&s.q, offset * q_width + head * hd, len, hd, q_width),
                view(&s.k, offset * kv_width + kv * hd, len, hd, kv_width).t(),
                0.0,
                &mut s.scores,
                len,
            )?;
            for (query, row) in s.scores.chunks_exact_mut(len).enumerate() {
                let (lo, hi) = keys_seen(query, len, span, c.causal);
                row[..lo].fill(0.0);
                row[hi..].fill(0.0);
                vmath::softmax_rows(&mut row[lo..hi], hi - lo);
            }
            ops::gemm(
                1.0,
                View::rows(&s.scores, len, len),
                view(&s.v, offset * kv_width + kv * hd, len, hd, kv_width),
                0.0,
                &mut s.context[offset * q_width + head * hd..],
                q_width,
            )?;
        }
        Ok(())
    }
}

/// The keys query `query` of a `len`-token sequence sees: `lo..hi`, never empty (itself).
fn keys_seen(query: usize, len: usize, span: AttentionSpan, causal: bool) -> (usize, usize) {
    let hi = if causal { query + 1 } else { len };
    match span {
        AttentionSpan::Full => (0, hi),
        // transformers: a key at distance < window; causal adds "not later".
        AttentionSpan::Sliding(window) => {
            ((query + 1).saturating_sub(window), hi.min(query + window))
        }
    }
}

/// RoPE's cosines and sines for positions `0..len`, as transformers computes them: the angle
/// `position · θ^(-2i/d)` in f32, its halves rotated (`rotate_half`).
struct Rope {
    half: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    fn new(len: usize, head_dim: usize, theta: f64) -> Self {
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
    fn apply(&self, x: &mut [f32], len: usize, heads: usize) {
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

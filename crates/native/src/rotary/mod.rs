//! The rotary-position transformers (Qwen3, Gemma 3, ModernBERT; see [`crate::arch::rotary`]),
//! run like [`crate::encoder`]: every sequence's tokens stacked, no padding, projections as one
//! product.
//!
//! Each sequence is computed alone from position 0, so left or right padding in the reference
//! (Qwen3-Embedding pads left) changes nothing here: RoPE depends only on relative positions, and
//! padded tokens are masked out there.

mod parts;

use crate::arch::rotary::{AttentionSpan, LayerKind, RotaryConfig, RotaryFamily};
use crate::error::NativeError;
use crate::ops::{self, View};
use crate::vmath;
use crate::weights::{Tensor, Weights};
use parts::{keys_seen, Linear, Norm, Rope};

struct Layer {
    kind: LayerKind,
    /// Before attention (ModernBERT's first layer has none).
    input_norm: Option<Norm>,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    /// Per-head norms of queries and keys (Qwen3, Gemma).
    q_norm: Option<Norm>,
    k_norm: Option<Norm>,
    /// Gemma only: the attention block's output is normalised before the residual.
    post_attention_norm: Option<Norm>,
    /// Before the feed-forward (Qwen3 calls it `post_attention_layernorm`).
    feed_forward_norm: Norm,
    /// Gemma only: the feed-forward's output is normalised before the residual.
    post_feed_forward_norm: Option<Norm>,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// A loaded rotary-position transformer.
pub struct RotaryNetwork {
    config: RotaryConfig,
    embed: Tensor,
    embed_scale: f32,
    /// ModernBERT normalises the embeddings.
    embed_norm: Option<Norm>,
    layers: Vec<Layer>,
    norm: Norm,
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
        let prefix = ["", "model."]
            .into_iter()
            .find(|p| {
                w.contains(&format!("{p}embed_tokens.weight"))
                    || w.contains(&format!("{p}embeddings.tok_embeddings.weight"))
            })
            .unwrap_or("");
        let layers = (0..config.layers.len())
            .map(|i| load_layer(w, &config, &format!("{prefix}layers.{i}."), i))
            .collect::<Result<_, NativeError>>()?;
        let (h, eps) = (config.hidden, config.eps);
        let (embed, embed_norm, norm) = match config.family {
            RotaryFamily::ModernBert => (
                w.get(
                    &format!("{prefix}embeddings.tok_embeddings.weight"),
                    &[config.vocab, h],
                )?,
                Some(Norm::layer(w, &format!("{prefix}embeddings.norm"), h, eps)?),
                Norm::layer(w, &format!("{prefix}final_norm"), h, eps)?,
            ),
            family => (
                w.get(&format!("{prefix}embed_tokens.weight"), &[config.vocab, h])?,
                None,
                Norm::rms(w, &format!("{prefix}norm"), h, rms_offset(family), eps)?,
            ),
        };
        Ok(Self {
            embed,
            // Gemma scales embeddings by √hidden, computed in f64 and stored as f32 (as torch).
            embed_scale: if config.family == RotaryFamily::Gemma3 {
                (h as f64).sqrt() as f32
            } else {
                1.0
            },
            embed_norm,
            norm,
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
        if let Some(norm) = &self.embed_norm {
            norm.apply(&mut x);
        }
        // One table per RoPE base, long enough for the longest sequence, shared by every layer.
        let longest = sequences.iter().map(Vec::len).max().unwrap_or(0);
        let mut ropes: Vec<(f64, Rope)> = Vec::new();
        for layer in &self.layers {
            let theta = layer.kind.rope_theta;
            if !ropes.iter().any(|(t, _)| *t == theta) {
                ropes.push((theta, Rope::new(longest, c.head_dim, theta)));
            }
        }
        for layer in &self.layers {
            let rope = ropes
                .iter()
                .find(|(t, _)| *t == layer.kind.rope_theta)
                .map(|(_, rope)| rope)
                .ok_or_else(|| NativeError::Bug("a layer's RoPE table is missing".to_owned()))?;
            s.normed.clone_from(&x);
            if let Some(norm) = &layer.input_norm {
                norm.apply(&mut s.normed);
            }
            layer.q.forward(&s.normed, total, &mut s.q, split)?;
            layer.k.forward(&s.normed, total, &mut s.k, split)?;
            layer.v.forward(&s.normed, total, &mut s.v, split)?;
            if let (Some(q_norm), Some(k_norm)) = (&layer.q_norm, &layer.k_norm) {
                q_norm.apply(&mut s.q);
                k_norm.apply(&mut s.k);
            }
            let mut offset = 0;
            s.context.clear();
            s.context.resize(total * c.heads * c.head_dim, 0.0);
            for seq in sequences {
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
                RotaryFamily::ModernBert => {
                    vmath::gelu(&mut s.gate);
                    ops::mul_in_place(&mut s.gate, &s.up);
                }
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

/// What Gemma adds to its stored RMSNorm weights (it keeps `w - 1`).
fn rms_offset(family: RotaryFamily) -> f32 {
    if family == RotaryFamily::Gemma3 {
        1.0
    } else {
        0.0
    }
}

/// Layer `index`'s tensors under `p` (`layers.{index}.`), named as the family names them.
fn load_layer(w: &Weights, c: &RotaryConfig, p: &str, index: usize) -> Result<Layer, NativeError> {
    let (h, hd, eps) = (c.hidden, c.head_dim, c.eps);
    let (q_width, kv_width) = (c.heads * hd, c.kv_heads * hd);
    let kind = c.layers[index];
    if c.family == RotaryFamily::ModernBert {
        // Fused projections: Wqkv holds Q, K, V; Wi the activated half, then the gate.
        let qkv = format!("{p}attn.Wqkv");
        let wi = format!("{p}mlp.Wi");
        let total = 2 * c.intermediate;
        return Ok(Layer {
            kind,
            input_norm: if index == 0 {
                None
            } else {
                Some(Norm::layer(w, &format!("{p}attn_norm"), h, eps)?)
            },
            q: Linear::part(w, &qkv, 3 * h, h, 0, h)?,
            k: Linear::part(w, &qkv, 3 * h, h, h, h)?,
            v: Linear::part(w, &qkv, 3 * h, h, 2 * h, h)?,
            o: Linear::load(w, &format!("{p}attn.Wo"), h, h)?,
            q_norm: None,
            k_norm: None,
            post_attention_norm: None,
            feed_forward_norm: Norm::layer(w, &format!("{p}mlp_norm"), h, eps)?,
            post_feed_forward_norm: None,
            gate: Linear::part(w, &wi, total, h, 0, c.intermediate)?,
            up: Linear::part(w, &wi, total, h, c.intermediate, c.intermediate)?,
            down: Linear::load(w, &format!("{p}mlp.Wo"), h, c.intermediate)?,
        });
    }
    let offset = rms_offset(c.family);
    let norm = |name: &str, dim| Norm::rms(w, &format!("{p}{name}"), dim, offset, eps);
    let linear = |name: &str, out, input| Linear::load(w, &format!("{p}{name}"), out, input);
    let gemma = c.family == RotaryFamily::Gemma3;
    Ok(Layer {
        kind,
        input_norm: Some(norm("input_layernorm", h)?),
        q: linear("self_attn.q_proj", q_width, h)?,
        k: linear("self_attn.k_proj", kv_width, h)?,
        v: linear("self_attn.v_proj", kv_width, h)?,
        o: linear("self_attn.o_proj", h, q_width)?,
        q_norm: Some(norm("self_attn.q_norm", hd)?),
        k_norm: Some(norm("self_attn.k_norm", hd)?),
        post_attention_norm: gemma
            .then(|| norm("post_attention_layernorm", h))
            .transpose()?,
        feed_forward_norm: if gemma {
            norm("pre_feedforward_layernorm", h)?
        } else {
            norm("post_attention_layernorm", h)?
        },
        post_feed_forward_norm: gemma
            .then(|| norm("post_feedforward_layernorm", h))
            .transpose()?,
        gate: linear("mlp.gate_proj", c.intermediate, h)?,
        up: linear("mlp.up_proj", c.intermediate, h)?,
        down: linear("mlp.down_proj", h, c.intermediate)?,
    })
}

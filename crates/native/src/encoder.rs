//! One transformer encoder for every supported architecture, run without padding.
//!
//! The tokens of all sequences in a batch are stacked into one `tokens × hidden` matrix, so every
//! projection and feed-forward layer is one large matrix product over real tokens only; attention
//! alone works sequence by sequence, over each sequence's real length. No padding token is ever
//! computed, so batching texts of mixed length wastes nothing.

use std::collections::HashMap;

use crate::arch::{mpnet, EncoderConfig};
use crate::error::NativeError;
use crate::ops::{self, View};
use crate::quant::{self, Int8Linear, Kernel, Precision, QuantizedRows};
use crate::tokenize::SECOND_TEXT;
use crate::vmath;
use crate::weights::{Tensor, Weights};

struct Linear {
    weight: Tensor,
    bias: Tensor,
    /// The same layer in int8, when the model runs int8.
    int8: Option<Int8Linear>,
}

impl Linear {
    fn load(
        w: &Weights,
        name: &str,
        out: usize,
        input: usize,
        precision: Precision,
    ) -> Result<Self, NativeError> {
        let weight = w.get(&format!("{name}.weight"), &[out, input])?;
        let bias = w.get(&format!("{name}.bias"), &[out])?;
        let int8 = match precision {
            Precision::F32 => None,
            Precision::Int8 => Some(Int8Linear::new(weight.data(), bias.data(), out, input)?),
        };
        Ok(Self { weight, bias, int8 })
    }

    /// `y = x · wᵀ + bias`; an int8 layer reads `quantized`, the same rows as `x` quantized.
    fn forward(
        &self,
        x: &[f32],
        quantized: Option<&QuantizedRows>,
        rows: usize,
        y: &mut Vec<f32>,
        split: usize,
    ) -> Result<(), NativeError> {
        if let (Some(layer), Some(q)) = (&self.int8, quantized) {
            return quant::linear(Kernel::detect(), x, q, layer, self.weight.data(), y, split);
        }
        let view = View::rows(
            self.weight.data(),
            self.weight.shape[0],
            self.weight.shape[1],
        );
        ops::linear(x, rows, view, self.bias.data(), y, split)
    }
}

struct Norm {
    gamma: Tensor,
    beta: Tensor,
}

impl Norm {
    fn load(w: &Weights, name: &str, dim: usize) -> Result<Self, NativeError> {
        Ok(Self {
            gamma: w.get(&format!("{name}.weight"), &[dim])?,
            beta: w.get(&format!("{name}.bias"), &[dim])?,
        })
    }

    fn apply(&self, x: &mut [f32], eps: f32) {
        vmath::layer_norm(
            x,
            self.gamma.shape[0],
            self.gamma.data(),
            self.beta.data(),
            eps,
        );
    }
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    attention_norm: Norm,
    up: Linear,
    down: Linear,
    output_norm: Norm,
}

/// A loaded encoder: borrowed weights and the config that shapes them.
pub struct Encoder {
    config: EncoderConfig,
    word: Tensor,
    position: Tensor,
    token_type: Option<Tensor>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    relative_bias: Option<Tensor>,
    precision: Precision,
}

/// Scratch buffers reused across layers of one forward pass.
#[derive(Default)]
struct Scratch {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    context: Vec<f32>,
    attended: Vec<f32>,
    up: Vec<f32>,
    down: Vec<f32>,
    scores: Vec<f32>,
    /// The current layer input quantized (int8 models only).
    quantized: QuantizedRows,
}

impl Encoder {
    /// Bind every tensor the config calls for, checking each one's shape; with
    /// [`Precision::Int8`] the linear layers are also quantized (the rest stays `f32`).
    pub fn load(
        w: &Weights,
        config: EncoderConfig,
        precision: Precision,
    ) -> Result<Self, NativeError> {
        let arch = config.architecture;
        let prefix = if w.contains("embeddings.word_embeddings.weight") {
            ""
        } else {
            arch.checkpoint_prefix()
        };
        let h = config.hidden;
        let names = arch.layer_names();
        let layers = (0..config.layers)
            .map(|i| {
                let p = format!("{prefix}encoder.layer.{i}.");
                Ok(Layer {
                    q: Linear::load(w, &format!("{p}{}", names.q), h, h, precision)?,
                    k: Linear::load(w, &format!("{p}{}", names.k), h, h, precision)?,
                    v: Linear::load(w, &format!("{p}{}", names.v), h, h, precision)?,
                    o: Linear::load(w, &format!("{p}{}", names.o), h, h, precision)?,
                    attention_norm: Norm::load(w, &format!("{p}{}", names.attention_norm), h)?,
                    up: Linear::load(
                        w,
                        &format!("{p}intermediate.dense"),
                        config.intermediate,
                        h,
                        precision,
                    )?,
                    down: Linear::load(
                        w,
                        &format!("{p}output.dense"),
                        h,
                        config.intermediate,
                        precision,
                    )?,
                    output_norm: Norm::load(w, &format!("{p}output.LayerNorm"), h)?,
                })
            })
            .collect::<Result<_, NativeError>>()?;
        let token_type = match config.type_vocab {
            0 => None,
            n => Some(w.get(
                &format!("{prefix}embeddings.token_type_embeddings.weight"),
                &[n, h],
            )?),
        };
        let relative_bias = match config.relative_buckets {
            Some(buckets) => Some(w.get(
                &format!("{prefix}encoder.relative_attention_bias.weight"),
                &[buckets, config.heads],
            )?),
            None => None,
        };
        Ok(Self {
            word: w.get(
                &format!("{prefix}embeddings.word_embeddings.weight"),
                &[config.vocab, h],
            )?,
            position: w.get(
                &format!("{prefix}embeddings.position_embeddings.weight"),
                &[config.max_positions, h],
            )?,
            token_type,
            embedding_norm: Norm::load(w, &format!("{prefix}embeddings.LayerNorm"), h)?,
            layers,
            relative_bias,
            precision,
            config,
        })
    }

    /// The shape this encoder was loaded with.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Hidden states of every token of every sequence, sequences stacked in order
    /// (`Σ len × hidden`). Ids must be in the vocabulary and sequences within `max_tokens`.
    /// `split > 1` computes each projection in that many row blocks on the current rayon pool.
    pub fn forward(&self, sequences: &[Vec<u32>], split: usize) -> Result<Vec<f32>, NativeError> {
        let h = self.config.hidden;
        let total: usize = sequences.iter().map(Vec::len).sum();
        let mut x = self.embed(sequences)?;
        let mut s = Scratch::default();
        let mut bucket_cache: HashMap<usize, Vec<u8>> = HashMap::new();
        if let Some(buckets) = self.config.relative_buckets {
            for seq in sequences {
                bucket_cache
                    .entry(seq.len())
                    .or_insert_with(|| mpnet::buckets(seq.len(), buckets, 128));
            }
        }
        for layer in &self.layers {
            let q = self.quantize(&x, total, h, &mut s.quantized)?;
            layer.q.forward(&x, q, total, &mut s.q, split)?;
            layer.k.forward(&x, q, total, &mut s.k, split)?;
            layer.v.forward(&x, q, total, &mut s.v, split)?;
            s.context.clear();
            s.context.resize(total * h, 0.0);
            let mut offset = 0;
            for seq in sequences {
                self.attend(&mut s, offset, seq.len(), bucket_cache.get(&seq.len()))?;
                offset += seq.len();
            }
            let q = self.quantize(&s.context, total, h, &mut s.quantized)?;
            layer
                .o
                .forward(&s.context, q, total, &mut s.attended, split)?;
            ops::add_in_place(&mut s.attended, &x);
            layer.attention_norm.apply(&mut s.attended, self.config.eps);
            std::mem::swap(&mut x, &mut s.attended);

            let q = self.quantize(&x, total, h, &mut s.quantized)?;
            layer.up.forward(&x, q, total, &mut s.up, split)?;
            vmath::gelu(&mut s.up);
            let q = self.quantize(&s.up, total, self.config.intermediate, &mut s.quantized)?;
            layer.down.forward(&s.up, q, total, &mut s.down, split)?;
            ops::add_in_place(&mut s.down, &x);
            layer.output_norm.apply(&mut s.down, self.config.eps);
            std::mem::swap(&mut x, &mut s.down);
        }
        Ok(x)
    }

    /// `x` quantized into `into` when this encoder runs int8: once per layer input, shared by
    /// every projection that reads it (Q, K and V read the same rows).
    fn quantize<'a>(
        &self,
        x: &[f32],
        rows: usize,
        k: usize,
        into: &'a mut QuantizedRows,
    ) -> Result<Option<&'a QuantizedRows>, NativeError> {
        match self.precision {
            Precision::F32 => Ok(None),
            Precision::Int8 => {
                into.quantize(x, rows, k)?;
                Ok(Some(into))
            }
        }
    }

    /// Word + position (+ token type 0) embeddings, layer-normalised.
    fn embed(&self, sequences: &[Vec<u32>]) -> Result<Vec<f32>, NativeError> {
        let h = self.config.hidden;
        let (word, position) = (self.word.data(), self.position.data());
        // Every row of the token-type table: a cross-encoder's second text reads row 1.
        let token_types = self.token_type.as_ref().map(|t| t.data());
        let mut x = Vec::with_capacity(sequences.iter().map(Vec::len).sum::<usize>() * h);
        for seq in sequences {
            if seq.len() > self.config.max_tokens() {
                return Err(NativeError::Bug(format!(
                    "a sequence of {} tokens reached the encoder",
                    seq.len()
                )));
            }
            let mut non_padding = 0;
            for &marked in seq {
                let id = (marked & !SECOND_TEXT) as usize;
                // A model with one token type (XLM-R) reads type 0 for both texts, as
                // transformers does when the tokenizer sends no type ids.
                let kind = usize::from(marked & SECOND_TEXT != 0);
                let token_type = token_types.map(|t| {
                    let row = if (kind + 1) * h <= t.len() { kind } else { 0 };
                    &t[row * h..(row + 1) * h]
                });
                let w = word.get(id * h..(id + 1) * h).ok_or_else(|| {
                    NativeError::Bug(format!("token id {id} reached the encoder"))
                })?;
                let p = self.position_id(id, &mut non_padding) * h;
                let p = &position[p..p + h];
                match token_type {
                    Some(t) => x.extend(w.iter().zip(p).zip(t).map(|((a, b), c)| a + b + c)),
                    None => x.extend(w.iter().zip(p).map(|(a, b)| a + b)),
                }
            }
        }
        self.embedding_norm.apply(&mut x, self.config.eps);
        Ok(x)
    }

    /// The position id of the next token, as transformers computes it: BERT counts from 0;
    /// RoBERTa and MPNet count only non-padding tokens from `padding id + 1`, and a padding token
    /// (even one written in the text) sits at the padding id itself.
    fn position_id(&self, id: usize, non_padding: &mut usize) -> usize {
        let offset = self.config.position_offset;
        if offset == 0 {
            *non_padding += 1;
            return *non_padding - 1;
        }
        let padding_id = offset - 1;
        if id == padding_id {
            padding_id
        } else {
            *non_padding += 1;
            padding_id + *non_padding
        }
    }

    /// Multi-head self-attention of the `len` tokens starting at row `offset`, into `s.context`.
    fn attend(
        &self,
        s: &mut Scratch,
        offset: usize,
        len: usize,
        buckets: Option<&Vec<u8>>,
    ) -> Result<(), NativeError> {
        let (h, heads, d) = (
            self.config.hidden,
            self.config.heads,
            self.config.head_dim(),
        );
        let scale = 1.0 / (d as f32).sqrt();
        s.scores.resize(len * len, 0.0);
        fn rows(m: &[f32], start: usize, len: usize, d: usize, h: usize) -> View<'_> {
            View {
                data: &m[start..],
                rows: len,
                cols: d,
                row_stride: h,
                col_stride: 1,
            }
        }
        for head in 0..heads {
            ops::gemm(
                scale,
                rows(&s.q, offset * h + head * d, len, d, h),
                rows(&s.k, offset * h + head * d, len, d, h).t(),
                0.0,
                &mut s.scores,
                len,
            )?;
            if let (Some(bias), Some(buckets)) = (&self.relative_bias, buckets) {
                let bias = bias.data();
                for (score, &bucket) in s.scores.iter_mut().zip(buckets) {
                    *score += bias[bucket as usize * heads + head];
                }
            }
            vmath::softmax_rows(&mut s.scores, len);
            let out = &mut s.context[offset * h + head * d..];
            ops::gemm(
                1.0,
                View::rows(&s.scores, len, len),
                rows(&s.v, offset * h + head * d, len, d, h),
                0.0,
                out,
                h,
            )?;
        }
        Ok(())
    }
}

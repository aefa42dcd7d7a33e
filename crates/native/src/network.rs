//! The transformer a model runs, whichever engine computes it: embedd's own forward pass, or ONNX
//! Runtime on an exported graph. Both give the same thing, every token's hidden state, so the
//! tokenizer, pooling, heads and scheduler around them are shared.

use embedd_core::Compute;

use crate::encoder::Encoder;
use crate::error::NativeError;
#[cfg(feature = "onnx")]
use crate::onnx::OnnxNetwork;
use crate::rotary::RotaryNetwork;

/// Which engine computes a model's token states (the config's `provider: native` or `onnx`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// embedd's own forward pass over the safetensors (or PyTorch) weights.
    #[default]
    Native,
    /// ONNX Runtime on `onnx/model.onnx`, the library loaded at run time.
    Onnx,
}

/// A loaded transformer.
pub enum Network {
    /// A BERT-family encoder run by embedd.
    Encoder(Box<Encoder>),
    /// A rotary-position transformer (Qwen3, Gemma 3) run by embedd.
    Rotary(Box<RotaryNetwork>),
    /// An exported graph run by ONNX Runtime.
    #[cfg(feature = "onnx")]
    Onnx(OnnxNetwork),
}

impl Network {
    /// Width of every token's hidden state.
    pub fn hidden(&self) -> usize {
        match self {
            Self::Encoder(encoder) => encoder.config().hidden,
            Self::Rotary(network) => network.config().hidden,
            #[cfg(feature = "onnx")]
            Self::Onnx(onnx) => onnx.hidden(),
        }
    }

    /// The products one text costs, counted from the shape (see [`Compute`]); the ONNX graph's
    /// shape is its own, so it has none.
    pub fn compute(&self) -> Option<Compute> {
        let count = |v: usize| v as u64;
        match self {
            Self::Encoder(encoder) => {
                let c = encoder.config();
                let (h, i) = (count(c.hidden), count(c.intermediate));
                // Q, K, V and the output projection, then up and down; QKᵀ and P·V.
                Some(Compute {
                    per_token: 2 * count(c.layers) * (4 * h * h + 2 * h * i),
                    per_token_pair: 4 * count(c.layers) * h,
                })
            }
            Self::Rotary(network) => {
                let c = network.config();
                let (h, i, d) = (count(c.hidden), count(c.intermediate), count(c.head_dim));
                let (heads, kv) = (count(c.heads), count(c.kv_heads));
                let layers = count(c.layers.len());
                // Q and O over every head, K and V over the shared ones; gate, up and down.
                // Attention as if every token saw every other (causal models see half).
                Some(Compute {
                    per_token: 2 * layers * (h * d * (2 * heads + 2 * kv) + 3 * h * i),
                    per_token_pair: 4 * layers * heads * d,
                })
            }
            #[cfg(feature = "onnx")]
            Self::Onnx(_) => None,
        }
    }

    /// Whether one call already uses every inference thread (ONNX Runtime has its own pool), so
    /// the engine hands it a whole batch instead of splitting the batch over its threads.
    pub fn threads_itself(&self) -> bool {
        match self {
            Self::Encoder(_) | Self::Rotary(_) => false,
            #[cfg(feature = "onnx")]
            Self::Onnx(_) => true,
        }
    }

    /// Hidden states of every token of every sequence, sequences stacked in order
    /// (`Σ len × hidden`). `split` is how many row blocks embedd's own products may use.
    pub fn forward(&self, sequences: &[Vec<u32>], split: usize) -> Result<Vec<f32>, NativeError> {
        match self {
            Self::Encoder(encoder) => encoder.forward(sequences, split),
            Self::Rotary(network) => network.forward(sequences, split),
            #[cfg(feature = "onnx")]
            Self::Onnx(onnx) => onnx.forward(sequences),
        }
    }
}

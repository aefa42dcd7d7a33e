//! The transformer a model runs, whichever engine computes it: embedd's own forward pass, or ONNX
//! Runtime on an exported graph. Both give the same thing, every token's hidden state, so the
//! tokenizer, pooling, heads and scheduler around them are shared.

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

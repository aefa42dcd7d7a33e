//! sentence-transformers' `Dense` modules: linear layers after pooling that change the sentence
//! vector's width (EmbeddingGemma's 768 → 3072 → 768), each in its own folder with a
//! `config.json` and its weights (`linear.weight`, `linear.bias`).

use std::path::Path;

use serde::Deserialize;

use crate::error::NativeError;
use crate::layout::WEIGHT_FILES;
use crate::weights::{Tensor, Weights};

/// The activations a `Dense` module may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    Identity,
    Tanh,
}

#[derive(Deserialize)]
struct DenseConfig {
    in_features: usize,
    out_features: usize,
    #[serde(default = "with_bias")]
    bias: bool,
    /// sentence-transformers' default, for configs that do not say, is Tanh.
    #[serde(default = "tanh")]
    activation_function: String,
}

fn with_bias() -> bool {
    true
}

fn tanh() -> String {
    "torch.nn.modules.activation.Tanh".to_owned()
}

/// One `Dense` module.
pub struct Dense {
    weight: Tensor,
    bias: Option<Tensor>,
    activation: Activation,
}

impl Dense {
    /// Load the module in `dir`, which must take `input` values.
    pub fn load(dir: &Path, input: usize) -> Result<Self, NativeError> {
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path)
            .map_err(|e| NativeError::file(&config_path, e.to_string()))?;
        let config: DenseConfig = serde_json::from_str(&text)
            .map_err(|e| NativeError::file(&config_path, format!("malformed: {e}")))?;
        if config.in_features != input {
            return Err(NativeError::file(
                &config_path,
                format!(
                    "takes {} values but the module before it gives {input}",
                    config.in_features
                ),
            ));
        }
        let activation = match config.activation_function.rsplit('.').next() {
            Some("Identity") => Activation::Identity,
            Some("Tanh") => Activation::Tanh,
            _ => {
                return Err(NativeError::file(
                    &config_path,
                    format!(
                        "activation `{}` is not supported (Identity and Tanh are)",
                        config.activation_function
                    ),
                ))
            }
        };
        let weights_path = WEIGHT_FILES
            .iter()
            .map(|file| dir.join(file))
            .find(|path| path.is_file())
            .ok_or_else(|| NativeError::file(&dir.join(WEIGHT_FILES[0]), "is missing"))?;
        let weights = Weights::open(&weights_path)?;
        let (out, input) = (config.out_features, config.in_features);
        Ok(Self {
            weight: weights.get("linear.weight", &[out, input])?,
            bias: if config.bias {
                Some(weights.get("linear.bias", &[out])?)
            } else {
                None
            },
            activation,
        })
    }

    /// A layer from tensors already loaded: a cross-encoder's pooler or classifier
    /// ([`crate::rerank`]), followed by tanh or by nothing.
    pub fn from_tensors(weight: Tensor, bias: Tensor, tanh: bool) -> Self {
        Self {
            weight,
            bias: Some(bias),
            activation: if tanh {
                Activation::Tanh
            } else {
                Activation::Identity
            },
        }
    }

    /// The width of what it gives.
    pub fn output(&self) -> usize {
        self.weight.shape[0]
    }

    /// The module applied to one sentence vector.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let input = self.weight.shape[1];
        self.weight
            .data()
            .chunks_exact(input)
            .enumerate()
            .map(|(row, w)| {
                let dot: f32 = w.iter().zip(x).map(|(a, b)| a * b).sum();
                let value = dot + self.bias.as_ref().map_or(0.0, |b| b.data()[row]);
                match self.activation {
                    Activation::Identity => value,
                    Activation::Tanh => value.tanh(),
                }
            })
            .collect()
    }
}

//! The architectures embedd runs, read from a model's `config.json`.
//!
//! The set is closed. BERT-family encoders: BERT (all-MiniLM-L6-v2, BGE v1.5), RoBERTa and
//! XLM-RoBERTa (CodeBERT, BGE-M3), and MPNet (all-mpnet-base-v2); and the rotary-position
//! transformers of [`rotary`] (Qwen3-Embedding, EmbeddingGemma), run by [`crate::rotary`].
//! The encoders share one forward pass ([`crate::encoder`]);
//! what differs is told by [`Architecture`]: tensor names, where position ids start, whether
//! there are token-type embeddings, and MPNet's relative position bias.

pub mod mpnet;
pub mod rotary;
mod shape;

pub use shape::ModelShape;

use std::path::Path;

use serde::Deserialize;

use crate::error::NativeError;

/// Which family a model belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// BERT: absolute positions from 0, token-type embeddings.
    Bert,
    /// RoBERTa and XLM-RoBERTa: BERT's layers, positions start after the padding id.
    Roberta,
    /// MPNet: positions start after the padding id, no token types, a relative position bias
    /// shared by every layer.
    MpNet,
}

/// Tensor names of one encoder layer, relative to `encoder.layer.{i}.`.
pub struct LayerNames {
    /// Query, key, value and attention-output projections.
    pub q: &'static str,
    /// Key projection.
    pub k: &'static str,
    /// Value projection.
    pub v: &'static str,
    /// Attention output projection.
    pub o: &'static str,
    /// Layer norm after attention.
    pub attention_norm: &'static str,
}

impl Architecture {
    /// The tensor-name prefix a full (not headless) checkpoint puts before `embeddings.`.
    pub fn checkpoint_prefix(self) -> &'static str {
        match self {
            Self::Bert => "bert.",
            Self::Roberta => "roberta.",
            Self::MpNet => "mpnet.",
        }
    }

    /// Names of the attention tensors, which differ between BERT-style and MPNet.
    pub fn layer_names(self) -> LayerNames {
        match self {
            Self::Bert | Self::Roberta => LayerNames {
                q: "attention.self.query",
                k: "attention.self.key",
                v: "attention.self.value",
                o: "attention.output.dense",
                attention_norm: "attention.output.LayerNorm",
            },
            Self::MpNet => LayerNames {
                q: "attention.attn.q",
                k: "attention.attn.k",
                v: "attention.attn.v",
                o: "attention.attn.o",
                attention_norm: "attention.LayerNorm",
            },
        }
    }
}

/// The shape of an encoder, from `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    /// The family.
    pub architecture: Architecture,
    /// Width of every token's hidden state.
    pub hidden: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate: usize,
    /// Layer-norm epsilon.
    pub eps: f32,
    /// Rows of the position-embedding table.
    pub max_positions: usize,
    /// Rows of the word-embedding table.
    pub vocab: usize,
    /// Rows of the token-type table (0: none).
    pub type_vocab: usize,
    /// Position id of the first token (0 for BERT; padding id + 1 for RoBERTa and MPNet).
    pub position_offset: usize,
    /// Buckets of MPNet's relative position bias.
    pub relative_buckets: Option<usize>,
}

#[derive(Deserialize)]
struct RawConfig {
    model_type: String,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    max_position_embeddings: usize,
    vocab_size: usize,
    #[serde(default)]
    type_vocab_size: usize,
    #[serde(default)]
    pad_token_id: Option<usize>,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default)]
    position_embedding_type: Option<String>,
    #[serde(default)]
    relative_attention_num_buckets: Option<usize>,
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".to_owned()
}

impl EncoderConfig {
    /// Read `config.json`; an architecture or setting embedd cannot run is an error naming it.
    pub fn from_file(path: &Path) -> Result<Self, NativeError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| NativeError::file(path, e.to_string()))?;
        Self::from_json(&text).map_err(|message| NativeError::file(path, message))
    }

    /// Parse the text of `config.json`.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: RawConfig =
            serde_json::from_str(text).map_err(|e| format!("not a model config: {e}"))?;
        let architecture = match raw.model_type.as_str() {
            "bert" => Architecture::Bert,
            "roberta" | "xlm-roberta" => Architecture::Roberta,
            "mpnet" => Architecture::MpNet,
            other => {
                return Err(format!(
                    "model_type `{other}` is not supported (bert, roberta, xlm-roberta, mpnet are)"
                ))
            }
        };
        if raw.hidden_act != "gelu" {
            return Err(format!(
                "hidden_act `{}` is not supported (gelu is)",
                raw.hidden_act
            ));
        }
        if let Some(kind) = raw
            .position_embedding_type
            .as_deref()
            .filter(|k| *k != "absolute")
        {
            return Err(format!(
                "position_embedding_type `{kind}` is not supported (absolute is)"
            ));
        }
        if raw.num_attention_heads == 0 || !raw.hidden_size.is_multiple_of(raw.num_attention_heads)
        {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                raw.hidden_size, raw.num_attention_heads
            ));
        }
        let position_offset = shape::position_offset(&raw.model_type, raw.pad_token_id);
        if raw.max_position_embeddings <= position_offset {
            return Err("max_position_embeddings leaves no room for a token".to_owned());
        }
        Ok(Self {
            architecture,
            hidden: raw.hidden_size,
            layers: raw.num_hidden_layers,
            heads: raw.num_attention_heads,
            intermediate: raw.intermediate_size,
            eps: raw.layer_norm_eps as f32,
            max_positions: raw.max_position_embeddings,
            vocab: raw.vocab_size,
            type_vocab: if architecture == Architecture::MpNet {
                0
            } else {
                raw.type_vocab_size
            },
            position_offset,
            relative_buckets: match architecture {
                Architecture::MpNet => Some(raw.relative_attention_num_buckets.unwrap_or(32)),
                _ => None,
            },
        })
    }

    /// The longest input the position table allows, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_positions - self.position_offset
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shipped_architectures() {
        let bert = EncoderConfig::from_json(r#"{"model_type":"bert","hidden_size":384,"num_hidden_layers":6,"num_attention_heads":12,"intermediate_size":1536,"max_position_embeddings":512,"vocab_size":30522,"type_vocab_size":2,"pad_token_id":0}"#).unwrap();
        assert_eq!(
            (bert.max_tokens(), bert.head_dim(), bert.position_offset),
            (512, 32, 0)
        );
        let mpnet = EncoderConfig::from_json(r#"{"model_type":"mpnet","hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072,"layer_norm_eps":1e-05,"max_position_embeddings":514,"vocab_size":30527,"pad_token_id":1}"#).unwrap();
        assert_eq!(
            (
                mpnet.max_tokens(),
                mpnet.position_offset,
                mpnet.relative_buckets
            ),
            (512, 2, Some(32))
        );
        let xlmr = EncoderConfig::from_json(r#"{"model_type":"xlm-roberta","hidden_size":1024,"num_hidden_layers":24,"num_attention_heads":16,"intermediate_size":4096,"max_position_embeddings":8194,"vocab_size":250002,"type_vocab_size":1,"pad_token_id":1}"#).unwrap();
        assert_eq!(
            (xlmr.architecture, xlmr.max_tokens()),
            (Architecture::Roberta, 8192)
        );
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let base = r#""hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8,"max_position_embeddings":8,"vocab_size":8"#;
        assert!(
            EncoderConfig::from_json(&format!(r#"{{"model_type":"llama",{base}}}"#))
                .unwrap_err()
                .contains("llama")
        );
        assert!(EncoderConfig::from_json(&format!(
            r#"{{"model_type":"bert","hidden_act":"relu",{base}}}"#
        ))
        .unwrap_err()
        .contains("relu"));
        assert!(EncoderConfig::from_json("{").is_err());
    }
}

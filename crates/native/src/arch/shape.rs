//! What every backend needs from `config.json`, whatever the architecture: the width of the token
//! states, the vocabulary and the longest input. The in-process engine reads the rest itself; the
//! ONNX backend needs only this, so it also runs architectures embedd has no forward pass for.

use std::path::Path;

use serde::Deserialize;

use crate::error::NativeError;

/// The widths and limits of a model, read leniently from its `config.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelShape {
    /// `model_type`, as the config names it.
    pub model_type: String,
    /// Width of every token's hidden state (the dense vector's dimensions before any `Dense`).
    pub hidden: usize,
    /// Rows of the word-embedding table: every token id must be below it.
    pub vocab: usize,
    /// The longest input the position table allows, special tokens included.
    pub max_tokens: usize,
}

#[derive(Deserialize)]
struct RawShape {
    #[serde(default)]
    model_type: String,
    hidden_size: usize,
    vocab_size: usize,
    #[serde(default)]
    max_position_embeddings: Option<usize>,
    #[serde(default)]
    pad_token_id: Option<usize>,
}

/// Position id of a model's first token: RoBERTa-style models count positions from the padding
/// id + 1 (transformers' `create_position_ids_from_input_ids`), the others from 0.
pub(crate) fn position_offset(model_type: &str, pad_token_id: Option<usize>) -> usize {
    match model_type {
        "roberta" | "xlm-roberta" | "camembert" | "mpnet" => pad_token_id.unwrap_or(1) + 1,
        _ => 0,
    }
}

impl ModelShape {
    /// Read `config.json`; a file without the widths is an error naming it.
    pub fn from_file(path: &Path) -> Result<Self, NativeError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| NativeError::file(path, e.to_string()))?;
        Self::from_json(&text).map_err(|message| NativeError::file(path, message))
    }

    /// Parse the text of `config.json`.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: RawShape =
            serde_json::from_str(text).map_err(|e| format!("not a model config: {e}"))?;
        let offset = position_offset(&raw.model_type, raw.pad_token_id);
        // Models without a position table (rotary positions) have no limit of their own here;
        // sentence_bert_config.json's max_seq_length then sets it.
        let positions = raw.max_position_embeddings.unwrap_or(usize::MAX);
        if positions <= offset || raw.hidden_size == 0 {
            return Err("the config leaves no room for a token".to_owned());
        }
        Ok(Self {
            model_type: raw.model_type,
            hidden: raw.hidden_size,
            vocab: raw.vocab_size,
            max_tokens: positions - offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_any_architecture_leniently() {
        let xlmr = ModelShape::from_json(r#"{"model_type":"xlm-roberta","hidden_size":1024,"vocab_size":250002,"max_position_embeddings":8194,"pad_token_id":1,"anything":"else"}"#).unwrap();
        assert_eq!((xlmr.hidden, xlmr.max_tokens), (1024, 8192));
        let other = ModelShape::from_json(
            r#"{"model_type":"something-new","hidden_size":64,"vocab_size":100}"#,
        )
        .unwrap();
        assert_eq!((other.hidden, other.max_tokens), (64, usize::MAX));
        assert!(ModelShape::from_json(r#"{"hidden_size":0,"vocab_size":1}"#).is_err());
        assert!(ModelShape::from_json(r#"{"vocab_size":1}"#).is_err());
    }
}

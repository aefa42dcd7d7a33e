//! Cross-encoders (rerankers): a `*ForSequenceClassification` checkpoint scores a query and a
//! document read together, as sentence-transformers' `CrossEncoder` does.
//!
//! The encoder is the same one embeddings run; what differs is the input (the pair in the
//! tokenizer's pair template, the document's tokens with token type 1, see
//! [`crate::tokenize::TextTokenizer::encode_pair`]) and the head on the first token, which
//! transformers names in two ways:
//!
//! - BERT: `bert.pooler.dense` (then tanh) and `classifier`;
//! - RoBERTa, XLM-R (BAAI/bge-reranker-*), MPNet: `classifier.dense` (then tanh) and
//!   `classifier.out_proj`.
//!
//! Both become two [`Dense`] layers after CLS pooling, so the engine computes a reranker's
//! raw score (the logit) as it computes a vector; the routes apply the activation
//! ([`embedd_core::vector::sigmoid`]).

use std::path::Path;

use serde::Deserialize;

use crate::dense::Dense;
use crate::error::NativeError;
use crate::weights::Weights;

/// What `config.json` says of a classifier.
#[derive(Deserialize)]
struct ClassifierConfig {
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    num_labels: Option<usize>,
    #[serde(default)]
    id2label: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Whether the model in `config_file` is a cross-encoder: `Some(labels)` where its
/// architecture is a `*ForSequenceClassification`.
pub fn labels(config_file: &Path) -> Result<Option<usize>, NativeError> {
    let text = std::fs::read_to_string(config_file)
        .map_err(|e| NativeError::file(config_file, e.to_string()))?;
    let config: ClassifierConfig = serde_json::from_str(&text)
        .map_err(|e| NativeError::file(config_file, format!("malformed: {e}")))?;
    if !config
        .architectures
        .iter()
        .any(|a| a.ends_with("ForSequenceClassification"))
    {
        return Ok(None);
    }
    // transformers writes `id2label` and derives the count from it; `num_labels` where given.
    let labels = config
        .num_labels
        .or_else(|| config.id2label.as_ref().map(|m| m.len()))
        .unwrap_or(2);
    Ok(Some(labels))
}

/// The classifier head of a cross-encoder with one label: its two layers, from `weights`.
pub fn head(weights: &Weights, hidden: usize) -> Result<Vec<Dense>, NativeError> {
    let layer = |name: &str, out: usize, tanh: bool| -> Result<Dense, NativeError> {
        Ok(Dense::from_tensors(
            weights.get(&format!("{name}.weight"), &[out, hidden])?,
            weights.get(&format!("{name}.bias"), &[out])?,
            tanh,
        ))
    };
    if weights.contains("classifier.out_proj.weight") {
        return Ok(vec![
            layer("classifier.dense", hidden, true)?,
            layer("classifier.out_proj", 1, false)?,
        ]);
    }
    let pooler = if weights.contains("bert.pooler.dense.weight") {
        "bert.pooler.dense"
    } else {
        "pooler.dense"
    };
    Ok(vec![
        layer(pooler, hidden, true)?,
        layer("classifier", 1, false)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_classifier_is_a_cross_encoder_with_its_labels() {
        let dir = std::env::temp_dir().join(format!("embedd-rerank-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.json");
        let cases = [
            (r#"{"architectures": ["BertModel"]}"#, None),
            (
                r#"{"architectures": ["BertForSequenceClassification"], "id2label": {"0": "LABEL_0"}}"#,
                Some(1),
            ),
            (
                r#"{"architectures": ["XLMRobertaForSequenceClassification"], "num_labels": 3}"#,
                Some(3),
            ),
            (r#"{"model_type": "bert"}"#, None),
        ];
        for (config, want) in cases {
            std::fs::write(&file, config).unwrap();
            assert_eq!(labels(&file).unwrap(), want, "{config}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! A sentence-transformers model directory, read as sentence-transformers reads it.
//!
//! `modules.json` lists the modules (Transformer, Pooling, Normalize) and where each lives;
//! `1_Pooling/config.json` says how tokens are pooled; `sentence_bert_config.json` gives
//! `max_seq_length`; `config.json` the encoder's shape. A plain Hugging Face model directory (no
//! `modules.json`) gets sentence-transformers' defaults: mean pooling, no normalisation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::arch::ModelShape;
use crate::error::NativeError;
use crate::network::Backend;
use crate::pooling::{Pooling, PoolingFlags};

/// The files that must be present for a model to load, besides its weights.
pub const REQUIRED_FILES: [&str; 2] = ["config.json", "tokenizer.json"];

/// The weight files a model may have, in the order they are preferred: safetensors, else a
/// PyTorch checkpoint (read without Python, see [`crate::checkpoint`]).
pub const WEIGHT_FILES: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];

/// Where sentence-transformers' ONNX backend keeps the exported transformer, under the
/// transformer's directory.
pub const ONNX_FILE: &str = "onnx/model.onnx";

/// Everything read from a model directory before its weights are read.
#[derive(Debug, Clone)]
pub struct ModelLayout {
    /// Where the transformer's files are (`config.json`, `tokenizer.json`, the weights).
    pub transformer_dir: PathBuf,
    /// The weights: `model.safetensors`, or `pytorch_model.bin` when that is all there is; for
    /// the ONNX backend, the exported graph.
    pub weights_file: PathBuf,
    /// The transformer's `config.json`.
    pub config_file: PathBuf,
    /// The transformer's widths and limits.
    pub shape: ModelShape,
    /// How tokens become a sentence vector.
    pub pooling: Pooling,
    /// Whether vectors are L2-normalised (a `Normalize` module is listed).
    pub normalize: bool,
    /// The folders of the `Dense` modules after pooling, in order.
    pub dense: Vec<PathBuf>,
    /// Tokens read per input, special tokens included; longer inputs are truncated.
    pub max_seq_length: usize,
    /// The model's named prompts (`config_sentence_transformers.json`).
    pub prompts: Prompts,
    /// The widths it was trained to be cut to (Matryoshka), from its model card.
    pub trained_dimensions: Vec<usize>,
}

/// What identifies the weights in `weights_file`: their SHA-256 from embedd's install manifest in
/// `dir`, else the file's size and modification time (hashing gigabytes at every load would cost
/// seconds).
pub fn revision(dir: &Path, weights_file: &Path) -> String {
    let from_manifest = || -> Option<String> {
        let text = std::fs::read_to_string(dir.join("embedd-manifest.json")).ok()?;
        let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
        let relative = weights_file
            .strip_prefix(dir)
            .ok()?
            .to_str()?
            .replace('\\', "/");
        let sha = manifest["files"][relative.as_str()]["sha256"].as_str()?;
        Some(format!("sha256:{sha}"))
    };
    from_manifest().unwrap_or_else(|| {
        let meta = std::fs::metadata(weights_file).ok();
        let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
        let modified = meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("file:{size}:{modified}")
    })
}

/// The Matryoshka widths a model card (`README.md`) records: sentence-transformers writes the
/// training loss's parameters there, `"matryoshka_dims": [768, 512, 256, 128, 64]`. Largest first;
/// empty when the card does not say (or is absent).
pub fn trained_dimensions(card: &str) -> Vec<usize> {
    let Some(at) = card.find("\"matryoshka_dims\"") else {
        return Vec::new();
    };
    let rest = &card[at..];
    let list = rest
        .find('[')
        .zip(rest.find(']'))
        .filter(|(open, close)| open < close)
        .map(|(open, close)| &rest[open..=close]);
    let mut dims: Vec<usize> = list
        .and_then(|list| serde_json::from_str(list).ok())
        .unwrap_or_default();
    dims.sort_unstable_by(|a, b| b.cmp(a));
    dims.dedup();
    dims
}

/// Texts put before the input, by name, as sentence-transformers' `prompts` and
/// `default_prompt_name` define them (`query: `, an instruction for Qwen3-Embedding, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Prompts {
    /// Each prompt's text, by name.
    #[serde(default)]
    pub prompts: BTreeMap<String, String>,
    /// The prompt used when a request names none.
    #[serde(default)]
    pub default_prompt_name: Option<String>,
}

impl Prompts {
    /// The text to put before each input: the named prompt, else the default one, else none.
    pub fn text(&self, name: Option<&str>) -> &str {
        name.or(self.default_prompt_name.as_deref())
            .and_then(|name| self.prompts.get(name))
            .map_or("", String::as_str)
    }

    /// The prompts' names.
    pub fn names(&self) -> Vec<String> {
        self.prompts.keys().cloned().collect()
    }
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

/// `tokenizer_config.json`'s limit, which sentence-transformers falls back to (and which version 6
/// writes instead of `max_seq_length`).
#[derive(Deserialize)]
struct TokenizerConfig {
    #[serde(default)]
    model_max_length: Option<f64>,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    #[serde(default)]
    max_seq_length: Option<usize>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, NativeError> {
    let text = std::fs::read_to_string(path).map_err(|e| NativeError::file(path, e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| NativeError::file(path, format!("malformed: {e}")))
}

impl ModelLayout {
    /// Read the directory's configuration files, finding the weights `backend` runs; a missing or
    /// malformed file is an error naming it.
    pub fn read(dir: &Path, backend: Backend) -> Result<Self, NativeError> {
        if !dir.is_dir() {
            return Err(NativeError::file(dir, "is not a model directory"));
        }
        let modules_path = dir.join("modules.json");
        let modules: Vec<Module> = if modules_path.exists() {
            read_json(&modules_path)?
        } else {
            Vec::new()
        };
        let find = |suffix: &str| modules.iter().find(|m| m.kind.ends_with(suffix));
        if let Some(other) = modules.iter().find(|m| {
            ![".Transformer", ".Pooling", ".Dense", ".Normalize"]
                .iter()
                .any(|known| m.kind.ends_with(known))
        }) {
            return Err(NativeError::file(
                &modules_path,
                format!(
                    "module `{}` is not supported (Transformer, Pooling, Dense and Normalize are)",
                    other.kind
                ),
            ));
        }
        let dense = modules
            .iter()
            .filter(|m| m.kind.ends_with(".Dense"))
            .map(|m| dir.join(&m.path))
            .collect();
        let transformer_dir = match find(".Transformer") {
            Some(m) if !m.path.is_empty() => dir.join(&m.path),
            _ => dir.to_owned(),
        };
        for file in REQUIRED_FILES {
            let path = transformer_dir.join(file);
            if !path.is_file() {
                return Err(NativeError::file(
                    &path,
                    "is missing; run `embedd fetch` for this model again",
                ));
            }
        }
        let weights_file = match backend {
            Backend::Native => WEIGHT_FILES
                .iter()
                .map(|file| transformer_dir.join(file))
                .find(|path| path.is_file())
                .ok_or_else(|| {
                    NativeError::file(
                        &transformer_dir.join(WEIGHT_FILES[0]),
                        "is missing (and there is no pytorch_model.bin); run `embedd fetch` for this model again",
                    )
                })?,
            Backend::Onnx => {
                let path = transformer_dir.join(ONNX_FILE);
                if !path.is_file() {
                    return Err(NativeError::file(
                        &path,
                        "is missing: the onnx provider reads the transformer exported there \
                         (scripts/export_onnx.py makes one)",
                    ));
                }
                path
            }
        };
        let config_file = transformer_dir.join("config.json");
        let shape = ModelShape::from_file(&config_file)?;
        let pooling = match find(".Pooling") {
            Some(m) => {
                let path = dir.join(&m.path).join("config.json");
                let flags: PoolingFlags = read_json(&path)?;
                flags
                    .mode()
                    .map_err(|message| NativeError::file(&path, message))?
            }
            None => Pooling::Mean,
        };
        let sbert_path = transformer_dir.join("sentence_bert_config.json");
        let configured = if sbert_path.exists() {
            read_json::<SentenceBertConfig>(&sbert_path)?.max_seq_length
        } else {
            None
        };
        // Without max_seq_length, sentence-transformers takes the tokenizer's model_max_length
        // (transformers writes ~1e30 for "none": such values are not limits).
        let tokenizer_config = transformer_dir.join("tokenizer_config.json");
        let configured = match configured {
            Some(limit) => Some(limit),
            None if tokenizer_config.is_file() => read_json::<TokenizerConfig>(&tokenizer_config)?
                .model_max_length
                .filter(|limit| *limit >= 1.0 && *limit < 1e9)
                .map(|limit| limit as usize),
            None => None,
        };
        let max_seq_length = configured.unwrap_or(shape.max_tokens).min(shape.max_tokens);
        if max_seq_length < 2 || max_seq_length == usize::MAX {
            return Err(NativeError::file(
                &sbert_path,
                "max_seq_length must be set (the config has no position table) and leave room \
                 for the special tokens",
            ));
        }
        let prompts_path = dir.join("config_sentence_transformers.json");
        let prompts: Prompts = if prompts_path.exists() {
            read_json(&prompts_path)?
        } else {
            Prompts::default()
        };
        if let Some(name) = prompts
            .default_prompt_name
            .as_ref()
            .filter(|name| !prompts.prompts.contains_key(*name))
        {
            return Err(NativeError::file(
                &prompts_path,
                format!("default_prompt_name `{name}` is not one of its prompts"),
            ));
        }
        let trained_dimensions = std::fs::read_to_string(dir.join("README.md"))
            .map(|card| trained_dimensions(&card))
            .unwrap_or_default();
        Ok(Self {
            trained_dimensions,
            prompts,
            weights_file,
            transformer_dir,
            normalize: find(".Normalize").is_some(),
            dense,
            pooling,
            max_seq_length,
            config_file,
            shape,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_card_gives_the_matryoshka_widths() {
        let card = "tags:\n- loss:MatryoshkaLoss\n```json\n{\n    \"loss\": \"MultipleNegativesRankingLoss\",\n    \"matryoshka_dims\": [\n        256,\n        768,\n        512\n    ],\n    \"matryoshka_weights\": [1, 1, 1]\n}\n```";
        assert_eq!(trained_dimensions(card), vec![768, 512, 256]);
        assert!(trained_dimensions("# A model\nNo training details.").is_empty());
        assert!(trained_dimensions("\"matryoshka_dims\": [broken").is_empty());
    }
}

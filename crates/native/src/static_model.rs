//! Static embeddings: a token-embedding table and a mean, no transformer (model2vec's models,
//! the potion family, sentence-transformers' `StaticEmbedding`). A text's vector is the mean of
//! its tokens' rows, normalised where the model says so, computed as model2vec's `encode` does:
//! tokens without special tokens, the unknown token dropped, at most `max_length` of them.
//!
//! Two layouts: model2vec's (`model.safetensors` holding `embeddings` and optionally per-token
//! `weights`, `tokenizer.json`, `config.json` with `normalize` and `max_length`, and a
//! `modules.json` naming a `StaticEmbedding` at `.`; a quantized vocabulary's `mapping` is refused
//! for now), and sentence-transformers' (`0_StaticEmbedding/` with `model.safetensors` holding
//! `embedding.weight` and `tokenizer.json`; a `Normalize` module after it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use embedd_core::vector::normalize;
use embedd_core::{
    EmbedError, EmbeddingModel, Embeddings, EncodeOptions, ModelInfo, Outputs, ProviderKind,
};
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

use crate::error::NativeError;
use crate::weights::{Tensor, Weights};

/// model2vec's `config.json`, the parts read here.
#[derive(Deserialize)]
struct Model2VecConfig {
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    normalize: bool,
    /// model2vec's default is 512 tokens; `null` means no limit.
    #[serde(default = "default_max_length")]
    max_length: Option<usize>,
}

fn default_max_length() -> Option<usize> {
    Some(512)
}

/// Where a static model's files are, if `dir` holds one.
struct Files {
    weights: PathBuf,
    tokenizer: PathBuf,
    normalize: bool,
    max_length: Option<usize>,
}

/// A `modules.json` entry.
#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

/// Whether `dir` holds a static model (either layout).
pub fn is_static(dir: &Path) -> bool {
    matches!(files(dir), Ok(Some(_)))
}

/// A static model's files: where `modules.json` puts a `StaticEmbedding` (model2vec saves one
/// at `.`, sentence-transformers at `0_StaticEmbedding`), else a model2vec `config.json`.
fn files(dir: &Path) -> Result<Option<Files>, NativeError> {
    let config_path = dir.join("config.json");
    let config: Option<Model2VecConfig> = match std::fs::read_to_string(&config_path) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| NativeError::file(&config_path, format!("malformed: {e}")))?,
        ),
        Err(_) => None,
    };
    let modules_path = dir.join("modules.json");
    let modules: Vec<Module> = match std::fs::read_to_string(&modules_path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| NativeError::file(&modules_path, format!("malformed: {e}")))?,
        Err(_) => Vec::new(),
    };
    let module = modules
        .iter()
        .find(|m| m.kind.ends_with(".StaticEmbedding"));
    let model2vec = config
        .as_ref()
        .is_some_and(|c| c.model_type.as_deref() == Some("model2vec"));
    let home = match module {
        Some(m) => dir.join(&m.path),
        None if model2vec => dir.to_owned(),
        None => return Ok(None),
    };
    let normalize = if modules.is_empty() {
        config.as_ref().is_some_and(|c| c.normalize)
    } else {
        modules.iter().any(|m| m.kind.ends_with(".Normalize"))
    };
    // model2vec's own config sets the length limit; sentence-transformers' module has none.
    let max_length = match (&config, home == dir) {
        (Some(c), true) => c.max_length,
        _ => None,
    };
    Ok(Some(Files {
        weights: home.join("model.safetensors"),
        tokenizer: home.join("tokenizer.json"),
        normalize,
        max_length,
    }))
}

/// A loaded static model.
pub struct StaticModel {
    info: ModelInfo,
    /// Shared with the blocking threads that compute.
    table: Arc<Table>,
}

/// What a static model computes with.
struct Table {
    tokenizer: Tokenizer,
    table: Tensor,
    /// model2vec's per-token weights (a row of `table` times its token's weight), if any.
    token_weights: Option<Tensor>,
    unknown: Option<u32>,
    normalize: bool,
    dimensions: usize,
}

impl StaticModel {
    /// Load the static model in `dir` under registry name `name`, in vector space `space`.
    pub fn load(name: &str, model_id: &str, dir: &Path, space: &str) -> Result<Self, NativeError> {
        let files = files(dir)?.ok_or_else(|| NativeError::file(dir, "holds no static model"))?;
        let mut tokenizer = Tokenizer::from_file(&files.tokenizer).map_err(|e| {
            NativeError::file(&files.tokenizer, format!("not a valid tokenizer: {e}"))
        })?;
        tokenizer.with_padding(None);
        let truncation = files.max_length.map(|max_length| TruncationParams {
            max_length,
            ..Default::default()
        });
        tokenizer.with_truncation(truncation).map_err(|e| {
            NativeError::file(&files.tokenizer, format!("cannot set truncation: {e}"))
        })?;
        let weights = Weights::open(&files.weights)?;
        // model2vec names the table `embeddings`; sentence-transformers' module `embedding.weight`.
        let table_name = ["embeddings", "embedding.weight"]
            .into_iter()
            .find(|name| weights.contains(name))
            .ok_or_else(|| NativeError::file(&files.weights, "has no embedding table"))?;
        let shape = weights.shape(table_name).unwrap_or_default().to_vec();
        let [rows, dimensions] = shape[..] else {
            return Err(NativeError::file(
                &files.weights,
                "the table is not a matrix",
            ));
        };
        let table = weights.get(table_name, &[rows, dimensions])?;
        let vocab = tokenizer.get_vocab_size(true);
        let token_weights = if weights.contains("weights") {
            Some(weights.get("weights", &[vocab])?)
        } else {
            None
        };
        if weights.contains("mapping") {
            return Err(NativeError::Unsupported(
                "model2vec models with a quantized vocabulary (a `mapping` tensor) are not supported yet"
                    .to_owned(),
            ));
        }
        if vocab > rows {
            return Err(NativeError::file(
                &files.weights,
                format!("the tokenizer has {vocab} tokens but the table {rows} rows"),
            ));
        }
        let unknown = unknown_token(&tokenizer);
        Ok(Self {
            info: ModelInfo {
                name: name.to_owned(),
                provider: ProviderKind::Native,
                model_id: model_id.to_owned(),
                dimensions,
                max_tokens: files.max_length.unwrap_or(usize::MAX),
                space: space.to_owned(),
                pooling: Some("mean".to_owned()),
                precision: None,
                outputs: Outputs::DENSE,
                prompts: Vec::new(),
                trained_dimensions: Vec::new(),
                revision: None,
                compute: None,
            },
            table: Arc::new(Table {
                tokenizer,
                table,
                token_weights,
                unknown,
                normalize: files.normalize,
                dimensions,
            }),
        })
    }
}

impl Table {
    /// The vector of one text, and how many tokens it read.
    fn embed(&self, text: &str) -> Result<(Vec<f32>, usize), NativeError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| NativeError::Tokenizer(e.to_string()))?;
        let dims = self.dimensions;
        let table = self.table.data();
        let mut sum = vec![0.0f32; dims];
        let mut count = 0usize;
        for &id in encoding.get_ids() {
            if Some(id) == self.unknown {
                continue;
            }
            let id = id as usize;
            let Some(values) = table.get(id * dims..(id + 1) * dims) else {
                return Err(NativeError::Bug(format!("token id {id} has no row")));
            };
            let weight = self
                .token_weights
                .as_ref()
                .and_then(|w| w.data().get(id).copied())
                .unwrap_or(1.0);
            for (s, v) in sum.iter_mut().zip(values) {
                *s += v * weight;
            }
            count += 1;
        }
        if count > 0 {
            let scale = 1.0 / count as f32;
            sum.iter_mut().for_each(|s| *s *= scale);
        }
        if self.normalize {
            normalize(&mut sum);
        }
        Ok((sum, count))
    }
}

/// The tokenizer's unknown token, which model2vec leaves out of every mean.
fn unknown_token(tokenizer: &Tokenizer) -> Option<u32> {
    let model: serde_json::Value = serde_json::from_str(&tokenizer.to_string(false).ok()?).ok()?;
    let model = &model["model"];
    match model["unk_token"].as_str() {
        Some(token) => tokenizer.token_to_id(token),
        None => model["unk_id"]
            .as_u64()
            .and_then(|id| u32::try_from(id).ok()),
    }
}

#[async_trait]
impl EmbeddingModel for StaticModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn encode(
        &self,
        texts: &[String],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        let _ = options;
        // Tokenizing is most of the work: off the async threads, as every model's is.
        let (table, texts) = (self.table.clone(), texts.to_vec());
        let computed = tokio::task::spawn_blocking(move || -> Result<Embeddings, NativeError> {
            let mut out = Embeddings::default();
            for text in &texts {
                let (vector, tokens) = table.embed(text)?;
                out.vectors.push(vector);
                out.prompt_tokens += tokens;
            }
            Ok(out)
        })
        .await
        .map_err(|e| EmbedError::Bug(format!("model `{}`: worker failed: {e}", self.info.name)))?;
        computed.map_err(|e| e.into_embed_error(&self.info.name))
    }

    async fn health(&self) -> Result<(), EmbedError> {
        Ok(())
    }
}

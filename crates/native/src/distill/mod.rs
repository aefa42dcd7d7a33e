//! Distillation: a static model (a token table and a mean, [`crate::static_model`]) made from a
//! transformer, as model2vec's `distill` makes one. Every token of the vocabulary is read by the
//! transformer on its own (`[CLS] token [SEP]`), the mean of its last-layer states is its vector;
//! PCA over the vocabulary reduces the width, and Zipf weighting scales down frequent tokens.
//! The result is saved in model2vec's layout, which embedd and model2vec both load; it is a
//! model of its own, in its own vector space.

mod reduce;
mod vocabulary;

use std::path::{Path, PathBuf};

use regex::Regex;
use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

use crate::error::NativeError;
use crate::layout::ModelLayout;
use crate::model::{LoadOptions, NativeModel};
use crate::network::Backend;
use vocabulary::Vocabulary;

pub use reduce::{project, zipf_weights, Projection};

/// Tokens read by the transformer per call (3 ids each): progress is reported between calls.
const TOKENS_PER_CALL: usize = 1024;

/// How to distill; the defaults are model2vec's.
#[derive(Debug, Clone)]
pub struct DistillOptions {
    /// PCA to this many dimensions (at most the transformer's width); `None` keeps the width
    /// without PCA.
    pub pca_dims: Option<usize>,
    /// SIF's coefficient for the Zipf weights, in (0, 1); `None` weighs every token alike.
    pub sif_coefficient: Option<f64>,
    /// Tokens matching this regular expression at their start are left out.
    pub remove_pattern: Option<String>,
    /// Inference threads.
    pub threads: usize,
}

impl Default for DistillOptions {
    /// 256 dimensions, SIF 1e-4, `[unusedN]` tokens left out, one thread per core.
    fn default() -> Self {
        Self {
            pca_dims: Some(256),
            sif_coefficient: Some(1e-4),
            remove_pattern: Some(r"\[unused\d+\]".to_owned()),
            threads: LoadOptions::default().threads,
        }
    }
}

impl DistillOptions {
    /// Whether the options can be used, before any work; the removal pattern, compiled.
    pub fn check(&self) -> Result<Option<Regex>, NativeError> {
        if let Some(sif) = self.sif_coefficient.filter(|s| !(*s > 0.0 && *s < 1.0)) {
            return Err(NativeError::Unsupported(format!(
                "the SIF coefficient must be between 0 and 1 (exclusive), not {sif}"
            )));
        }
        if self.pca_dims == Some(0) {
            return Err(NativeError::Unsupported(
                "PCA to 0 dimensions leaves nothing; ask for at least 1".to_owned(),
            ));
        }
        self.remove_pattern
            .as_deref()
            .map(|p| {
                Regex::new(p).map_err(|e| {
                    NativeError::Unsupported(format!("the token removal pattern is not valid: {e}"))
                })
            })
            .transpose()
    }
}

/// What a distillation made.
#[derive(Debug, Clone, PartialEq)]
pub struct Distilled {
    /// Tokens in the static model's vocabulary.
    pub tokens: usize,
    /// Its vectors' width.
    pub dimensions: usize,
    /// The share of the token vectors' variance PCA kept.
    pub explained_variance: f64,
}

/// Distill the transformer in `source` (a sentence-transformers or transformers directory) into
/// a static model written to `out`, which must not exist yet; `model_id` is recorded as its
/// source. `progress` hears (tokens done, tokens in all) as the vocabulary is read.
pub fn distill(
    source: &Path,
    model_id: &str,
    out: &Path,
    options: &DistillOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Distilled, NativeError> {
    let remove = options.check()?;
    if out.exists() {
        return Err(NativeError::file(
            out,
            "already exists; choose another output",
        ));
    }
    let layout = ModelLayout::read(source, Backend::Native)?;
    let vocabulary = Vocabulary::read(
        &layout.transformer_dir.join("tokenizer.json"),
        remove.as_ref(),
    )?;
    let sequences = vocabulary.sequences();
    if let Some(id) = sequences
        .iter()
        .flatten()
        .find(|id| **id as usize >= layout.shape.vocab)
    {
        return Err(NativeError::Unsupported(format!(
            "the tokenizer has token id {id}, beyond the transformer's {} embeddings",
            layout.shape.vocab
        )));
    }
    let model = NativeModel::load(
        "distill-source",
        model_id,
        source,
        &LoadOptions {
            threads: options.threads,
            ..LoadOptions::default()
        },
    )?;
    let mut states = Vec::with_capacity(sequences.len());
    progress(0, sequences.len());
    for batch in sequences.chunks(TOKENS_PER_CALL) {
        states.extend(model.mean_token_states_blocking(batch)?);
        progress(states.len(), sequences.len());
    }
    drop(model);
    let mut projection = project(&states, options.pca_dims);
    drop(states);
    if let Some(sif) = options.sif_coefficient {
        let weights = zipf_weights(vocabulary.tokens.len(), sif);
        // `max(1)`: a zero-width table (no transformer has one) has no rows to scale.
        for (row, weight) in projection
            .rows
            .chunks_mut(projection.dims.max(1))
            .zip(weights)
        {
            row.iter_mut()
                .for_each(|v| *v = (f64::from(*v) * weight) as f32);
        }
    }
    let made = Distilled {
        tokens: vocabulary.tokens.len(),
        dimensions: projection.dims,
        explained_variance: projection.explained,
    };
    // Written beside `out` and renamed into place: an interrupted run leaves no half a model.
    let staging = staging_dir(out);
    let _ = std::fs::remove_dir_all(&staging);
    let written =
        write_model(&staging, model_id, &vocabulary, &projection, options).and_then(|()| {
            std::fs::rename(&staging, out).map_err(|e| NativeError::file(out, e.to_string()))
        });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written.map(|()| made)
}

/// A sibling of `out` for the files being written.
fn staging_dir(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "distilled".to_owned());
    out.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// model2vec's files: `model.safetensors` (`embeddings`), `tokenizer.json`, `config.json` and
/// `modules.json` (a `StaticEmbedding` at `.`, then `Normalize`).
fn write_model(
    dir: &Path,
    model_id: &str,
    vocabulary: &Vocabulary,
    projection: &Projection,
    options: &DistillOptions,
) -> Result<(), NativeError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |e: std::io::Error| NativeError::file(&path, e.to_string())
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let shape = vec![vocabulary.tokens.len(), projection.dims];
    let bytes: &[u8] = bytemuck::cast_slice(&projection.rows);
    let table = TensorView::new(Dtype::F32, shape, bytes)
        .map_err(|e| NativeError::Bug(format!("the table's shape: {e}")))?;
    let weights = dir.join("model.safetensors");
    safetensors::serialize_to_file([("embeddings", table)], None, &weights)
        .map_err(|e| NativeError::file(&weights, e.to_string()))?;
    let tokenizer = dir.join("tokenizer.json");
    std::fs::write(&tokenizer, vocabulary.static_tokenizer()?).map_err(io(&tokenizer))?;
    let config = json!({
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": model_id,
        "apply_pca": options.pca_dims,
        "sif_coefficient": options.sif_coefficient,
        "hidden_dim": projection.dims,
        "seq_length": 1_000_000,
        "normalize": true,
        "pooling": "mean",
        "embedding_dtype": "float32",
        "distilled_by": "embedd",
    });
    let modules = json!([
        {"idx": 0, "name": "0", "path": ".", "type": "sentence_transformers.models.StaticEmbedding"},
        {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]);
    for (name, value) in [("config.json", config), ("modules.json", modules)] {
        let path = dir.join(name);
        let text =
            serde_json::to_string_pretty(&value).map_err(|e| NativeError::Bug(e.to_string()))?;
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
}

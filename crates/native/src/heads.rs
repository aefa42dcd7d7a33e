//! BGE-M3's two extra heads, computed from the same token states as the dense vector, so all three
//! outputs come from one forward pass (as FlagEmbedding's `BGEM3FlagModel` computes them):
//!
//! - **sparse** (`sparse_linear.pt`, a `Linear(hidden, 1)`): each token's weight is the ReLU of the
//!   head; a vocabulary id keeps the largest weight of its tokens; the tokenizer's CLS, EOS, PAD and
//!   UNK tokens and weights that are not positive are dropped;
//! - **multi-vector** (`colbert_linear.pt`, a `Linear(hidden, d)`): the head on every token but the
//!   first, each vector L2-normalised.
//!
//! A model directory without these files has neither output.

use std::collections::BTreeMap;
use std::path::Path;

use embedd_core::vector::normalize;
use embedd_core::{Outputs, SparseVector};
use serde_json::Value;

use crate::error::NativeError;
use crate::ops::{self, View};
use crate::tokenize::TextTokenizer;
use crate::weights::{Tensor, Weights};

/// The file names BAAI/bge-m3 ships its heads under, beside `config.json`.
pub const SPARSE_FILE: &str = "sparse_linear.pt";
/// The multi-vector head's file.
pub const COLBERT_FILE: &str = "colbert_linear.pt";

/// A linear layer read from a PyTorch checkpoint (`weight` `[out, hidden]`, `bias` `[out]`).
struct Head {
    weight: Tensor,
    bias: Tensor,
}

impl Head {
    fn load(path: &Path, hidden: usize) -> Result<Self, NativeError> {
        let weights = Weights::open(path)?;
        let out = weights
            .shape("weight")
            .and_then(|shape| shape.first().copied())
            .ok_or_else(|| NativeError::file(path, "has no `weight` tensor"))?;
        Ok(Self {
            weight: weights.get("weight", &[out, hidden])?,
            bias: weights.get("bias", &[out])?,
        })
    }

    fn apply(&self, states: &[f32], tokens: usize) -> Result<Vec<f32>, NativeError> {
        let view = View::rows(
            self.weight.data(),
            self.weight.shape[0],
            self.weight.shape[1],
        );
        let mut out = Vec::new();
        ops::linear(states, tokens, view, self.bias.data(), &mut out, 1)?;
        Ok(out)
    }
}

/// The extra heads a model directory has, and the token ids the sparse output leaves out.
#[derive(Default)]
pub struct Heads {
    sparse: Option<Head>,
    colbert: Option<Head>,
    skipped: Vec<u32>,
}

impl Heads {
    /// Read the heads present in `dir` for states `hidden` wide; `transformer_dir` holds the
    /// tokenizer's `special_tokens_map.json`, which names the tokens sparse output drops.
    pub fn load(
        dir: &Path,
        transformer_dir: &Path,
        hidden: usize,
        tokenizer: &TextTokenizer,
    ) -> Result<Self, NativeError> {
        let load = |name: &str| {
            let path = dir.join(name);
            path.is_file()
                .then(|| Head::load(&path, hidden))
                .transpose()
        };
        let sparse = load(SPARSE_FILE)?;
        if let Some(head) = &sparse {
            if head.weight.shape[0] != 1 {
                return Err(NativeError::file(
                    &dir.join(SPARSE_FILE),
                    "the sparse head must give one weight per token",
                ));
            }
        }
        let skipped = if sparse.is_some() {
            special_ids(transformer_dir, tokenizer)?
        } else {
            Vec::new()
        };
        Ok(Self {
            sparse,
            colbert: load(COLBERT_FILE)?,
            skipped,
        })
    }

    /// The outputs a model with these heads gives.
    pub fn outputs(&self) -> Outputs {
        Outputs {
            dense: true,
            sparse: self.sparse.is_some(),
            multi_vector: self.colbert.is_some(),
        }
    }

    /// The sparse vector of one sequence from its token states (`ids.len()` rows).
    pub fn sparse(&self, states: &[f32], ids: &[u32]) -> Result<SparseVector, NativeError> {
        let Some(head) = &self.sparse else {
            return Err(NativeError::Bug("no sparse head".to_owned()));
        };
        let weights = head.apply(states, ids.len())?;
        let mut best: BTreeMap<u32, f32> = BTreeMap::new();
        for (id, weight) in ids.iter().zip(weights) {
            let weight = weight.max(0.0);
            if weight > 0.0 && !self.skipped.contains(id) {
                let kept = best.entry(*id).or_insert(weight);
                *kept = kept.max(weight);
            }
        }
        Ok(SparseVector {
            indices: best.keys().copied().collect(),
            values: best.values().copied().collect(),
        })
    }

    /// The per-token vectors of one sequence (every token but the first), each normalised.
    pub fn multi_vector(
        &self,
        states: &[f32],
        tokens: usize,
        hidden: usize,
    ) -> Result<Vec<Vec<f32>>, NativeError> {
        let Some(head) = &self.colbert else {
            return Err(NativeError::Bug("no multi-vector head".to_owned()));
        };
        if tokens < 2 {
            return Ok(Vec::new());
        }
        let out = head.weight.shape[0];
        let projected = head.apply(&states[hidden..tokens * hidden], tokens - 1)?;
        Ok(projected
            .chunks_exact(out)
            .map(|v| {
                let mut v = v.to_vec();
                normalize(&mut v);
                v
            })
            .collect())
    }
}

/// The ids of the tokenizer's CLS, EOS, PAD and UNK tokens (FlagEmbedding drops exactly these
/// from sparse output), as `special_tokens_map.json` names them, or `tokenizer_config.json` where
/// newer `transformers` versions write them instead.
fn special_ids(dir: &Path, tokenizer: &TextTokenizer) -> Result<Vec<u32>, NativeError> {
    let files = ["special_tokens_map.json", "tokenizer_config.json"].map(|f| dir.join(f));
    let Some(path) = files.iter().find(|path| path.is_file()) else {
        return Err(NativeError::file(
            &files[0],
            "is missing, and so is tokenizer_config.json: the sparse head needs to know the special tokens",
        ));
    };
    let text = std::fs::read_to_string(path).map_err(|e| NativeError::file(path, e.to_string()))?;
    let map: BTreeMap<String, Value> = serde_json::from_str(&text)
        .map_err(|e| NativeError::file(path, format!("malformed: {e}")))?;
    Ok(["cls_token", "eos_token", "pad_token", "unk_token"]
        .iter()
        .filter_map(|key| match map.get(*key)? {
            Value::String(token) => Some(token.as_str()),
            Value::Object(object) => object.get("content")?.as_str(),
            _ => None,
        })
        .filter_map(|token| tokenizer.id_of(token))
        .collect())
}

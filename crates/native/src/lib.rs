//! In-process inference for sentence-transformers models, matching sentence-transformers' vectors.
//!
//! # Layout
//!
//! - [`layout`]: reading a sentence-transformers directory (modules, pooling, max length, config).
//! - [`weights`]: `model.safetensors` memory-mapped; tensors are views into the file, not copies.
//! - [`tokenize`]: the model's `tokenizer.json`, truncating at the model's limit.
//! - [`arch`]: the supported architectures (BERT, RoBERTa, MPNet) and their `config.json`.
//! - [`encoder`]: one transformer encoder for all of them, run on real tokens only (no padding).
//! - [`ops`]: matrix products (and the row split that lets one text use every core).
//! - [`vmath`]: vectorised elementwise math: `exp`, GELU, softmax, layer norm.
//! - [`pooling`]: token states to one vector (mean, CLS, max, last token).
//! - [`model`]: [`NativeModel`], the [`embedd_core::EmbeddingModel`] over all of the above.
#![deny(missing_docs)]

pub mod arch;
pub mod encoder;
pub mod error;
pub mod layout;
pub mod model;
pub mod ops;
pub mod pooling;
pub mod tokenize;
pub mod vmath;
pub mod weights;

pub use error::NativeError;
pub use model::NativeModel;

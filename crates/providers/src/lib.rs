//! Model providers: the code that turns a [`ModelConfig`] into a working [`EmbeddingModel`].
//!
//! # Layout
//!
//! - [`local`]: the `local` (alias `hash`) provider, the seed's deterministic hash fallback.
//! - [`native`] (feature `native`, on by default): in-process models, fetched on first use; with
//!   feature `onnx` (also default) the same models exported to ONNX, run by ONNX Runtime.
//! - [`remote`]: `openai`, `ollama`, `sentence-transformers`, `huggingface`, over one pooled HTTP
//!   client with retries, backoff and `Retry-After`.
//! - [`factory`]: [`ProviderFactory`], which the registry calls to build a model from its config.
//!
//! [`ModelConfig`]: embedd_core::ModelConfig
//! [`EmbeddingModel`]: embedd_core::EmbeddingModel
#![deny(missing_docs)]

pub mod factory;
pub mod local;
#[cfg(feature = "native")]
pub mod native;
pub mod remote;

pub use factory::ProviderFactory;
pub use local::HashModel;

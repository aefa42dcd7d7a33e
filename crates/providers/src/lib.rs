//! Model providers: the code that turns a [`ModelConfig`] into a working [`EmbeddingModel`].
//!
//! # Layout
//!
//! - [`local`]: the `local` (alias `hash`) provider, the seed's deterministic hash fallback.
//! - [`factory`]: [`ProviderFactory`], which the registry calls to build a model from its config.
//!
//! [`ModelConfig`]: embedd_core::ModelConfig
//! [`EmbeddingModel`]: embedd_core::EmbeddingModel
#![deny(missing_docs)]

pub mod factory;
pub mod local;

pub use factory::ProviderFactory;
pub use local::HashModel;

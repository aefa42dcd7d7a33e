//! The heart of embedd: what a model is, how models are found, and what happens when one fails.
//!
//! # Layout
//!
//! - [`model`]: the [`EmbeddingModel`] trait every provider implements, and the [`Embeddings`]
//!   it returns.
//! - [`output`]: the kinds of output a model gives (dense, sparse, multi-vector) and sets of them.
//! - [`error`]: [`EmbedError`], the one error type of the model layer, and the [`Fault`] it carries
//!   (the caller's, the provider's, or ours), which decides both the HTTP status and whether a
//!   fallback chain moves on.
//! - [`request`]: [`EmbedRequest`], one request as every dialect states it, the
//!   [`RequestLimits`] every request respects, and the id of the request a task serves.
//! - [`pipeline`]: [`Registry::embed`], the one path every request takes: resolve, limits,
//!   fallback walk, model, shorten.
//! - [`rerank`]: [`Registry::rerank`], a query and documents to a reranker (cross-encoder).
//! - [`token_ids`]: token-id inputs in another vocabulary (tiktoken's), decoded to text.
//! - [`registry`]: the [`Registry`] of configured models, built lazily and exactly once, handing
//!   out [`ModelHandle`]s.
//! - [`fallback`]: the walk down the fallback chain that never mixes vector spaces silently and
//!   fails fast past a provider that cannot be reached.
//! - [`cache`]: the in-process vector cache: keys, a byte bound, TTLs, collapsed misses; a batch
//!   computes only what it does not find.
//! - [`circuit`]: the circuit breaker that lets the chain skip a model that keeps failing.
//! - [`config`]: the YAML configuration (the seed's format), `${VAR}` interpolation, the built-in
//!   default, and start-up validation.
//! - [`catalog`]: facts about well-known hosted models (dimensions, limits, prices).
//! - [`vector`]: small vector helpers (normalise, truncate, cosine).
//!
//! This crate has no heavy dependencies: inference engines live in `embedd-native`, remote
//! providers and the hash model in `embedd-providers`, HTTP in `embedd-server`.
#![deny(missing_docs)]

pub mod cache;
pub mod catalog;
pub mod circuit;
pub mod config;
pub mod error;
pub mod fallback;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod registry;
pub mod request;
pub mod rerank;
pub mod token_ids;
pub mod vector;

pub use config::{Config, ModelConfig, ProviderKind};
pub use error::{EmbedError, Fault, Limit};
pub use fallback::{Encoded, FallbackPolicy};
pub use model::{Compute, EmbeddingModel, Embeddings, EncodeOptions, ModelInfo, Scores, Token};
pub use output::{Output, Outputs, SparseVector};
pub use registry::{ModelFactory, ModelHandle, Registry};
pub use request::{request_id, with_request_id, EmbedRequest, Input, RequestLimits};
pub use rerank::{RerankRequest, Reranked};

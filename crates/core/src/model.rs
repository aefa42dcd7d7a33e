//! The interface every embedding model implements, whatever runs it.

use async_trait::async_trait;

use crate::config::{Precision, ProviderKind};
use crate::error::EmbedError;
use crate::output::{Outputs, SparseVector};

/// What a model is, independent of how it computes: the facts routes and the registry need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The registry name (the key in the config's `models` map).
    pub name: String,
    /// The provider that runs it.
    pub provider: ProviderKind,
    /// The provider's own identifier for the model (`text-embedding-3-small`, a hub id, ...).
    pub model_id: String,
    /// Length of every vector it returns.
    pub dimensions: usize,
    /// The most tokens of one input it reads; longer inputs are truncated or refused.
    pub max_tokens: usize,
    /// The vector space its vectors live in; only models of one space are interchangeable.
    pub space: String,
    /// How token states become one vector (`mean`, `cls`, ...), where embedd computes it; `None`
    /// for models it does not run itself (remote, hash), whose pooling it cannot know.
    pub pooling: Option<String>,
    /// The precision of the linear layers, where embedd computes them; `None` for remote models.
    pub precision: Option<Precision>,
    /// The outputs it can give (dense for every model; sparse and multi-vector for BGE-M3).
    pub outputs: Outputs,
    /// The names of its prompts (sentence-transformers' `prompts`: `query`, `document`, ...).
    pub prompts: Vec<String>,
    /// The widths it was trained to be cut to (Matryoshka), largest first, where its files say;
    /// `dimensions` in a request may take any width, these keep most of the quality.
    pub trained_dimensions: Vec<usize>,
    /// What identifies its weights (their SHA-256 for installed native models), where embedd
    /// knows: part of the cache key, so replicas with other weights never share vectors.
    pub revision: Option<String>,
    /// The arithmetic it does per text, where embedd runs it: what a benchmark divides by its
    /// time to tell how close to the machine's limit the model runs.
    pub compute: Option<Compute>,
}

/// Floating-point operations (a multiply-add counts two) a model does for one text: the
/// products whose size grows with the tokens (projections, feed-forward) and attention's,
/// which grow with their square. Elementwise work (norms, GELU, softmax) is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compute {
    /// Per token.
    pub per_token: u64,
    /// Per pair of tokens of one text (attention's scores and weighted sums).
    pub per_token_pair: u64,
}

impl Compute {
    /// Operations for one text of `tokens` tokens.
    pub fn flops(&self, tokens: usize) -> u64 {
        let n = tokens as u64;
        self.per_token * n + self.per_token_pair * n * n
    }
}

/// How one call should treat its inputs; the pipeline sets it per request and per attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Cut inputs longer than the model reads (`true`), or refuse them as the caller's error.
    /// A model without a tokenizer passes `false` on to its provider, which refuses for itself.
    pub truncate: bool,
    /// Most tokens all inputs of the call may hold together; more is the caller's error. Only
    /// models that count tokens before computing can hold it.
    pub max_total_tokens: Option<usize>,
    /// Give up at once when the provider cannot be reached at all (connection refused), instead
    /// of retrying with backoff: the fallback walk sets it while another model may still answer.
    pub fail_fast: bool,
    /// The outputs wanted; a model is asked only for outputs its [`ModelInfo::outputs`] holds.
    pub outputs: Outputs,
    /// The model's prompt to put before every text; a model is asked only for a prompt its
    /// [`ModelInfo::prompts`] names. `None`: the model's default prompt, if it has one.
    pub prompt_name: Option<String>,
}

impl Default for EncodeOptions {
    /// Truncate, no token cap, retry as the provider's policy says, the dense vector only.
    fn default() -> Self {
        Self {
            truncate: true,
            max_total_tokens: None,
            fail_fast: false,
            outputs: Outputs::DENSE,
            prompt_name: None,
        }
    }
}

/// The vectors for a batch of inputs, in input order, and what they cost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embeddings {
    /// One vector per input, each [`ModelInfo::dimensions`] long (also when only other outputs
    /// were asked for: every model computes it anyway).
    pub vectors: Vec<Vec<f32>>,
    /// One sparse vector per input when [`EncodeOptions::outputs`] asked for them, else empty.
    pub sparse: Vec<SparseVector>,
    /// The per-token vectors of each input when asked for, else empty.
    pub multi_vectors: Vec<Vec<Vec<f32>>>,
    /// Tokens the model read for the whole batch (after truncation, special tokens included).
    pub prompt_tokens: usize,
}

/// A reranker's raw scores (logits) for a query against documents, in document order, and what
/// they cost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scores {
    /// One score per document: higher is more relevant.
    pub scores: Vec<f32>,
    /// Tokens the model read for all the pairs.
    pub prompt_tokens: usize,
}

/// One token of a text, as the model's tokenizer cut it (TEI's `/tokenize` shape).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Token {
    /// The id in the model's vocabulary.
    pub id: u32,
    /// The token's text.
    pub text: String,
    /// Whether the tokenizer added it (`[CLS]`, `</s>`), rather than cutting it from the text.
    pub special: bool,
    /// Byte offset in the text where it starts (0 for added tokens).
    pub start: usize,
    /// Byte offset where it ends.
    pub stop: usize,
}

/// An embedding model: something that turns texts into vectors of one fixed length.
///
/// Implementations must be cheap to share (`Arc<dyn EmbeddingModel>`) and safe to call from many
/// requests at once. CPU-heavy work must not block the async runtime's threads.
#[async_trait]
pub trait EmbeddingModel: Send + Sync {
    /// The model's identity and shape.
    fn info(&self) -> &ModelInfo;

    /// Embed a batch of texts; one vector per text, in order.
    async fn encode(
        &self,
        texts: &[String],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError>;

    /// Embed pre-tokenised inputs (token ids of the model's own vocabulary).
    ///
    /// Only models with a tokenizer can; the default refuses, which is the caller's fault.
    async fn encode_tokens(
        &self,
        inputs: &[Vec<u32>],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        let _ = (inputs, options);
        Err(EmbedError::Unsupported {
            model: self.name().to_owned(),
            param: "input",
            what: "has no tokenizer, so it cannot take token ids; send text instead".to_owned(),
        })
    }

    /// Cut texts into tokens, without truncation, so callers can see and count them.
    ///
    /// Only models with a tokenizer can; the default refuses, which is the caller's fault.
    async fn tokenize(
        &self,
        texts: &[String],
        add_special_tokens: bool,
    ) -> Result<Vec<Vec<Token>>, EmbedError> {
        let _ = (texts, add_special_tokens);
        Err(EmbedError::Unsupported {
            model: self.name().to_owned(),
            param: "input",
            what: "has no tokenizer to show".to_owned(),
        })
    }

    /// Embed one text.
    async fn encode_single(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut out = self
            .encode(&[text.to_owned()], &EncodeOptions::default())
            .await?;
        match out.vectors.pop() {
            Some(vector) if out.vectors.is_empty() => Ok(vector),
            _ => Err(EmbedError::Bug(format!(
                "model `{}` returned the wrong number of vectors for one input",
                self.name()
            ))),
        }
    }

    /// Score each document's relevance to `query` (a cross-encoder reads each pair together).
    ///
    /// Only rerankers can; the default refuses, which is the caller's fault.
    async fn rerank(
        &self,
        query: &str,
        documents: &[String],
        options: &EncodeOptions,
    ) -> Result<Scores, EmbedError> {
        let _ = (query, documents, options);
        Err(EmbedError::Unsupported {
            model: self.name().to_owned(),
            param: "model",
            what: "is an embedding model, not a reranker (a cross-encoder)".to_owned(),
        })
    }

    /// Whether the model can serve now (a remote provider is reachable, weights are loaded).
    async fn health(&self) -> Result<(), EmbedError>;

    /// Release what the model holds (connections, threads). Further calls may fail.
    async fn close(&self) -> Result<(), EmbedError> {
        Ok(())
    }

    /// The registry name.
    fn name(&self) -> &str {
        &self.info().name
    }

    /// Length of every vector.
    fn dimensions(&self) -> usize {
        self.info().dimensions
    }

    /// The most tokens of one input the model reads.
    fn max_tokens(&self) -> usize {
        self.info().max_tokens
    }

    /// The provider that runs the model.
    fn provider(&self) -> ProviderKind {
        self.info().provider
    }
}

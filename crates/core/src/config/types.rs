//! The typed shape of the configuration file.

use std::fmt;
use std::time::Duration;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::units::{self, ByteSize};
use crate::catalog;
use crate::token_ids::TokenIds;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Models, the default, and the fallback chain (the seed's `embeddings:` section).
    pub embeddings: EmbeddingsConfig,
    /// HTTP server settings; command-line flags override them.
    #[serde(default)]
    pub server: ServerConfig,
}

/// The seed's `embeddings:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsConfig {
    /// The model used when a request names none.
    pub default_model: String,
    /// Every model, in the order the file lists them.
    #[serde(deserialize_with = "ordered_models")]
    pub models: Vec<ModelConfig>,
    /// Models to try, in order, when the one asked for fails.
    #[serde(default)]
    pub fallback_chain: Vec<String>,
    /// Whether the fallback chain may answer with a model of another vector space even when the
    /// request did not ask for that (`use_fallback`). Off by default: such vectors are not
    /// comparable with the ones the caller already stored.
    #[serde(default)]
    pub allow_cross_space_fallback: bool,
    /// When a failing model is skipped, and for how long.
    #[serde(default)]
    pub circuit_breaker: crate::circuit::BreakerPolicy,
    /// The vector cache, for the models with `cache_enabled`.
    #[serde(default)]
    pub cache: CacheConfig,
}

/// The `cache:` section under `embeddings:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// The most vector bytes the in-process cache holds (`256MiB`).
    #[serde(default = "default_cache_memory")]
    pub memory: ByteSize,
    /// A Redis shared by replicas, behind the in-process tier (`redis://host:6379/0`).
    #[serde(default)]
    pub redis_url: Option<String>,
    /// The longest a Redis call may hold a request (`100ms`); past it, the call counts as a miss.
    #[serde(
        default = "default_redis_timeout",
        deserialize_with = "units::duration"
    )]
    pub redis_timeout: Duration,
}

fn default_redis_timeout() -> Duration {
    Duration::from_millis(100)
}

fn default_cache_memory() -> ByteSize {
    ByteSize(256 * 1024 * 1024)
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            memory: default_cache_memory(),
            redis_url: None,
            redis_timeout: default_redis_timeout(),
        }
    }
}

/// How an in-process model's linear layers compute (`quantize:` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum Precision {
    /// `f32` throughout: the default, matching sentence-transformers to cosine 0.9999.
    #[default]
    #[serde(rename = "none", alias = "f32", alias = "fp32")]
    F32,
    /// int8 linear layers (per-channel weight scales, per-token activation scales); embeddings,
    /// layer norms, attention, GELU and pooling stay `f32`. Cosine >= 0.99 to the `f32` vectors.
    #[serde(rename = "int8")]
    Int8,
}

/// Which implementation runs a model. The set is closed: adding a provider means adding a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// In-process inference from safetensors weights.
    Native,
    /// An ONNX model through ONNX Runtime.
    Onnx,
    /// The OpenAI embeddings API, or anything that speaks it.
    #[serde(rename = "openai")]
    OpenAi,
    /// An Ollama server.
    Ollama,
    /// The seed's sentence-transformers HTTP service (`POST /encode`).
    #[serde(alias = "sentence_transformers")]
    SentenceTransformers,
    /// The Hugging Face Inference API, an Inference Endpoint or a TEI server.
    #[serde(rename = "huggingface", alias = "hf", alias = "tei")]
    HuggingFace,
    /// The deterministic hash model: no weights, no network, always available.
    #[serde(alias = "hash")]
    Local,
    /// A remote reranker (a cross-encoder behind TEI's `/rerank` or a Cohere-compatible
    /// `/rerank`, as `api` says): it scores documents against a query, and gives no embeddings.
    Rerank,
}

impl ProviderKind {
    /// The canonical name, as written in configs and shown in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Onnx => "onnx",
            Self::OpenAi => "openai",
            Self::Ollama => "ollama",
            Self::SentenceTransformers => "sentence-transformers",
            Self::HuggingFace => "huggingface",
            Self::Local => "local",
            Self::Rerank => "rerank",
        }
    }

    /// Whether the provider reaches a server over the network.
    pub fn is_remote(self) -> bool {
        matches!(
            self,
            Self::OpenAi
                | Self::Ollama
                | Self::SentenceTransformers
                | Self::HuggingFace
                | Self::Rerank
        )
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One model's entry under `embeddings.models` (the seed's `EmbeddingModelConfig`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The registry name: the key this entry sits under.
    #[serde(skip)]
    pub name: String,
    /// What runs the model.
    pub provider: ProviderKind,
    /// The provider's identifier for the model; required except for `local`.
    #[serde(default)]
    pub model_id: Option<String>,
    /// Vector length; the provider's default when absent.
    #[serde(default)]
    pub dimensions: Option<usize>,
    /// Most tokens of one input; the model's own limit when absent.
    #[serde(default)]
    pub max_tokens: Option<usize>,
    /// Most inputs sent to the model in one call.
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// How long one call may take before the model counts as failed (`30s`, `2m`).
    #[serde(default, deserialize_with = "units::opt_duration")]
    pub timeout: Option<Duration>,
    /// Whether vectors of this model are cached.
    #[serde(default)]
    pub cache_enabled: bool,
    /// How long a cached vector stays valid (`1h`).
    #[serde(default, deserialize_with = "units::opt_duration")]
    pub cache_ttl: Option<Duration>,
    /// Whether the model should run on a GPU when one is present.
    #[serde(default)]
    pub gpu_enabled: bool,
    /// Where a remote provider listens.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding the API key (the provider's usual one when absent).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// A clear-text key is refused at validation; this field exists only to say so clearly.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The vector space; models sharing one are interchangeable in a fallback chain.
    #[serde(default)]
    pub space: Option<String>,
    /// Other names requests may use for this model (Ollama's `all-minilm`, say).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// US dollars per 1,000 tokens, for the usage summary (the seed's prices for OpenAI's models
    /// when absent).
    #[serde(default)]
    pub cost_per_1k_tokens: Option<f64>,
    /// In-process models: most tokens merged into one batch (it must hold the longest input).
    #[serde(default)]
    pub max_batch_tokens: Option<usize>,
    /// In-process models: most requests waiting; more are refused with 503 and Retry-After.
    #[serde(default)]
    pub queue_size: Option<usize>,
    /// In-process models: `int8` runs the linear layers in int8 (faster, cosine >= 0.99 to f32).
    #[serde(default)]
    pub quantize: Option<Precision>,
    /// The vocabulary token-id inputs are in: `model` (the default) or `cl100k_base`, for
    /// clients that tokenize with tiktoken (LangChain's `OpenAIEmbeddings`); a request's
    /// `x-embedd-token-ids` header overrides it.
    #[serde(default)]
    pub token_ids: Option<TokenIds>,
    /// `rerank` models: the API the remote speaks (`tei`, the default, or `cohere`).
    #[serde(default)]
    pub api: Option<RerankApi>,
}

/// The APIs a remote reranker is reached by. The set is closed: another is another variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RerankApi {
    /// TEI's `POST {base_url}/rerank` `{"query", "texts", "raw_scores": true}`.
    #[default]
    Tei,
    /// Cohere's `POST {base_url}/rerank` `{"model", "query", "documents"}` (also Jina's, and
    /// embedd's own `/v1/rerank`); `base_url` defaults to Cohere's API.
    Cohere,
}

impl ModelConfig {
    /// The vector length this model produces.
    pub fn effective_dimensions(&self) -> Option<usize> {
        self.dimensions.or_else(|| match self.provider {
            ProviderKind::Local => Some(catalog::LOCAL_DEFAULT_DIMENSIONS),
            ProviderKind::OpenAi => self
                .model_id
                .as_deref()
                .and_then(catalog::openai_model)
                .map(|m| m.dimensions),
            _ => None,
        })
    }

    /// US dollars per 1,000 tokens: the configured price, else the catalog's for hosted models.
    pub fn price_per_1k_tokens(&self) -> Option<f64> {
        self.cost_per_1k_tokens.or_else(|| match self.provider {
            ProviderKind::OpenAi => self
                .model_id
                .as_deref()
                .and_then(catalog::openai_model)
                .map(|m| m.usd_per_1k_tokens),
            _ => None,
        })
    }

    /// The vector space: the explicit `space`, else one derived from what determines the vectors:
    /// for the hash model its width, for others the model id's last segment, lower-cased.
    pub fn effective_space(&self) -> String {
        if let Some(space) = &self.space {
            return space.clone();
        }
        match (self.provider, &self.model_id) {
            (ProviderKind::Local, _) | (_, None) => format!(
                "local-hash-{}",
                self.effective_dimensions()
                    .unwrap_or(catalog::LOCAL_DEFAULT_DIMENSIONS)
            ),
            // The id's last segment, so `bge-m3` on Ollama and `BAAI/bge-m3` native share a space.
            (_, Some(id)) => space_of(id),
        }
    }
}

/// The default vector space of a model id: its last path segment, lower-cased.
pub fn space_of(model_id: &str) -> String {
    model_id
        .rsplit('/')
        .next()
        .unwrap_or(model_id)
        .to_lowercase()
}

/// The `server:` section; every value can also come from a command-line flag.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    #[serde(default = "default_host")]
    pub host: String,
    /// Port to listen on.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Largest request body accepted (`2MiB`, `512KiB`, or a number of bytes).
    #[serde(default = "default_body_limit")]
    pub body_limit: ByteSize,
    /// Most inputs in one request.
    #[serde(default = "default_max_inputs")]
    pub max_inputs: usize,
    /// Most tokens the inputs of one request may hold together (OpenAI's 300,000 by default);
    /// held by models that count tokens before computing (native, hash).
    #[serde(default = "default_max_tokens_per_request")]
    pub max_tokens_per_request: usize,
    /// The environment variable holding the API keys, comma-separated; with it (or
    /// `api_keys_file`) every route but `public_routes` needs `Authorization: Bearer KEY`.
    #[serde(default)]
    pub api_keys_env: Option<String>,
    /// A file holding API keys, one a line (blank lines and `#` comments skipped).
    #[serde(default)]
    pub api_keys_file: Option<std::path::PathBuf>,
    /// Routes that need no key even when keys are set (probes, scrapers, the status page).
    #[serde(default = "default_public_routes")]
    pub public_routes: Vec<String>,
    /// What each key may use per minute; unlimited when absent.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// After SIGTERM, how long the server keeps answering new requests with 503 (and `/ready`
    /// with 503) before it stops accepting connections, while a load balancer takes it out.
    #[serde(
        default = "default_shutdown_drain",
        deserialize_with = "units::duration"
    )]
    pub shutdown_drain: Duration,
    /// After that, how long requests in flight may take to finish before the process exits anyway.
    #[serde(
        default = "default_shutdown_grace",
        deserialize_with = "units::duration"
    )]
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request's line and headers, or stay idle between
    /// requests on a kept-alive connection, before the connection is closed.
    #[serde(
        default = "default_header_timeout",
        deserialize_with = "units::duration"
    )]
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body (408 past it).
    #[serde(default = "default_body_timeout", deserialize_with = "units::duration")]
    pub body_timeout: Duration,
    /// The largest request line and headers (`64KiB`; 431 past it).
    #[serde(default = "default_max_header_size")]
    pub max_header_size: ByteSize,
}

fn default_header_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_body_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_max_header_size() -> ByteSize {
    ByteSize(64 * 1024)
}

fn default_shutdown_drain() -> Duration {
    Duration::from_secs(2)
}

fn default_shutdown_grace() -> Duration {
    Duration::from_secs(25)
}

/// Per-key limits, per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests a key may make in a minute.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Tokens a key's requests may embed in a minute.
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: default_host(),
            port: default_port(),
            body_limit: default_body_limit(),
            max_inputs: default_max_inputs(),
            max_tokens_per_request: default_max_tokens_per_request(),
            api_keys_env: None,
            api_keys_file: None,
            public_routes: default_public_routes(),
            rate_limit: None,
            shutdown_drain: default_shutdown_drain(),
            shutdown_grace: default_shutdown_grace(),
            header_timeout: default_header_timeout(),
            body_timeout: default_body_timeout(),
            max_header_size: default_max_header_size(),
        }
    }
}

fn default_public_routes() -> Vec<String> {
    [
        "/health",
        "/ready",
        "/metrics",
        "/",
        "/status/models",
        "/openapi.json",
        "/docs",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn default_host() -> String {
    "127.0.0.1".to_owned()
}

fn default_port() -> u16 {
    8080
}

fn default_body_limit() -> ByteSize {
    ByteSize(2 * 1024 * 1024)
}

fn default_max_inputs() -> usize {
    2048
}

fn default_max_tokens_per_request() -> usize {
    300_000
}

/// Read the `models:` map keeping the file's order, giving each entry its key as its name and
/// refusing a name given twice.
fn ordered_models<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ModelConfig>, D::Error> {
    struct Models;
    impl<'de> Visitor<'de> for Models {
        type Value = Vec<ModelConfig>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map from model name to model settings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut models: Vec<ModelConfig> = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                let mut model: ModelConfig = map.next_value()?;
                if models.iter().any(|m| m.name == name) {
                    return Err(serde::de::Error::custom(format!(
                        "model `{name}` is defined twice"
                    )));
                }
                model.name = name;
                models.push(model);
            }
            Ok(models)
        }
    }
    d.deserialize_map(Models)
}

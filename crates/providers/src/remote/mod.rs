//! Remote providers: one module per API, one [`RemoteModel`] that batches, probes, counts and
//! prices for all of them, and one pooled HTTP client with a shared retry policy ([`http`]).

pub mod http;
pub mod huggingface;
pub mod ollama;
pub mod openai;
pub mod rerank;
pub mod st_service;

use async_trait::async_trait;
use embedd_core::config::ConfigError;
use embedd_core::{EmbedError, EmbeddingModel, Embeddings, EncodeOptions, ModelConfig, ModelInfo};

use self::http::Http;

/// One remote API: how to embed a request's worth of texts and how to check health.
#[async_trait]
pub trait RemoteApi: Send + Sync + 'static {
    /// Embed texts already split to the API's limits; `options.truncate` goes on to APIs that
    /// take it, so an API refuses an over-long input itself when the caller asked for that.
    async fn embed(
        &self,
        http: &Http,
        texts: &[String],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError>;
    /// Whether the remote answers.
    async fn health(&self, http: &Http) -> Result<(), EmbedError>;
    /// Most texts the API takes in one request.
    fn max_batch(&self) -> usize;
    /// Most bytes of text to send in one request (a stand-in for the API's token limit).
    fn max_request_bytes(&self) -> usize {
        8 << 20
    }
}

/// What a provider module hands to [`RemoteModel::build`].
pub struct Setup<A> {
    /// The API.
    pub api: A,
    /// The variable holding the key when the config names none.
    pub default_key_env: Option<&'static str>,
    /// Whether a missing key is an error (only the real hosted APIs insist).
    pub key_required: bool,
    /// The vector length, when known without asking the remote.
    pub dimensions: Option<usize>,
}

/// A model served by a remote API.
pub struct RemoteModel<A> {
    info: ModelInfo,
    http: Http,
    api: A,
    batch: usize,
}

impl<A: RemoteApi> RemoteModel<A> {
    /// Build the model `config` describes; asks the remote for the vector length if nothing says it.
    pub async fn build(
        config: &ModelConfig,
        client: reqwest::Client,
        provider: &'static str,
        setup: Setup<A>,
    ) -> Result<Self, EmbedError> {
        let key = api_key(config, setup.default_key_env, setup.key_required)?;
        let http = Http::for_model(config, client, provider, key);
        let batch = config
            .batch_size
            .unwrap_or(usize::MAX)
            .min(setup.api.max_batch())
            .max(1);
        let dimensions = match config.dimensions.or(setup.dimensions) {
            Some(d) => d,
            None => {
                // A remote that cannot be reached fails the build at once; the next request
                // builds again, and a fallback answers meanwhile.
                let fail_fast = EncodeOptions {
                    fail_fast: true,
                    ..EncodeOptions::default()
                };
                let probe = setup
                    .api
                    .embed(
                        &http.for_call(&fail_fast),
                        &["dimensions probe".to_owned()],
                        &fail_fast,
                    )
                    .await?;
                probe
                    .vectors
                    .first()
                    .map(Vec::len)
                    .filter(|d| *d > 0)
                    .ok_or_else(|| http.error("the probe returned no vector".to_owned(), None))?
            }
        };
        Ok(Self {
            info: ModelInfo {
                name: config.name.clone(),
                provider: config.provider,
                model_id: config
                    .model_id
                    .clone()
                    .unwrap_or_else(|| config.name.clone()),
                dimensions,
                max_tokens: config.max_tokens.unwrap_or(8192),
                space: config.effective_space(),
                pooling: None,
                precision: None,
                outputs: embedd_core::Outputs::DENSE,
                prompts: Vec::new(),
                trained_dimensions: Vec::new(),
                revision: None,
                compute: None,
            },
            http,
            api: setup.api,
            batch,
        })
    }

    /// Split texts into requests the API accepts: by count and by bytes.
    fn requests<'t>(&self, texts: &'t [String]) -> Vec<&'t [String]> {
        let mut out = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (i, text) in texts.iter().enumerate() {
            if i > start
                && (i - start >= self.batch || bytes + text.len() > self.api.max_request_bytes())
            {
                out.push(&texts[start..i]);
                start = i;
                bytes = 0;
            }
            bytes += text.len();
        }
        if start < texts.len() {
            out.push(&texts[start..]);
        }
        out
    }
}

#[async_trait]
impl<A: RemoteApi> EmbeddingModel for RemoteModel<A> {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn encode(
        &self,
        texts: &[String],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        let mut out = Embeddings {
            vectors: Vec::with_capacity(texts.len()),
            prompt_tokens: 0,
            ..Default::default()
        };
        let http = self.http.for_call(options);
        for request in self.requests(texts) {
            let part = self.api.embed(&http, request, options).await?;
            if part.vectors.len() != request.len()
                || part.vectors.iter().any(|v| v.len() != self.info.dimensions)
            {
                return Err(self.http.error(
                    format!(
                        "answered {} vectors for {} texts, or vectors not {} long",
                        part.vectors.len(),
                        request.len(),
                        self.info.dimensions
                    ),
                    None,
                ));
            }
            out.vectors.extend(part.vectors);
            out.prompt_tokens += part.prompt_tokens;
        }
        Ok(out)
    }

    async fn health(&self) -> Result<(), EmbedError> {
        self.api.health(&self.http).await
    }
}

/// The texts' vectors from a JSON array of arrays of numbers.
pub fn vectors(value: &serde_json::Value, http: &Http) -> Result<Vec<Vec<f32>>, EmbedError> {
    let rows = value
        .as_array()
        .ok_or_else(|| http.error("the answer holds no list of vectors".to_owned(), None))?;
    rows.iter()
        .map(|row| {
            // A number beyond f32's range would become infinity: refused like any non-number.
            row.as_array()
                .and_then(|xs| {
                    xs.iter()
                        .map(|x| x.as_f64().map(|f| f as f32).filter(|f| f.is_finite()))
                        .collect::<Option<Vec<f32>>>()
                })
                .ok_or_else(|| {
                    http.error(
                        "a vector in the answer is not a list of finite numbers".to_owned(),
                        None,
                    )
                })
        })
        .collect()
}

/// The model's API key, from the variable `api_key_env` names or else `default_env`; a missing
/// key is a configuration error where the API `required` one.
pub fn api_key(
    config: &ModelConfig,
    default_env: Option<&str>,
    required: bool,
) -> Result<Option<String>, EmbedError> {
    let key_env = config.api_key_env.as_deref().or(default_env);
    let key = key_env
        .and_then(|var| std::env::var(var).ok())
        .filter(|k| !k.is_empty());
    if required && key.is_none() {
        return Err(EmbedError::Config(ConfigError::Model {
            model: config.name.clone(),
            message: format!(
                "no API key: set {}",
                key_env.unwrap_or("the api_key_env variable")
            ),
        }));
    }
    Ok(key)
}

/// Join a base URL and a path with exactly one slash.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

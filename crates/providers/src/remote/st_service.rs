//! The `sentence-transformers` provider: the seed's service, `POST {base_url}/encode`
//! `{"texts"}` → `{"embeddings"}` (`deploy/sentence-transformers/server.py`).

use async_trait::async_trait;
use embedd_core::{EmbedError, Embeddings, EncodeOptions, ModelConfig};
use reqwest::Method;
use serde_json::json;

use super::http::Http;
use super::{join, vectors, RemoteApi, Setup};

/// The service's default address (seed §6).
pub const ST_BASE_URL: &str = "http://localhost:8014";

/// The sentence-transformers service API.
pub struct SentenceTransformersService {
    base_url: String,
}

/// The API and what is known of the model.
pub fn setup(config: &ModelConfig) -> Setup<SentenceTransformersService> {
    Setup {
        api: SentenceTransformersService {
            base_url: config
                .base_url
                .clone()
                .unwrap_or_else(|| ST_BASE_URL.to_owned()),
        },
        default_key_env: None,
        key_required: false,
        dimensions: config.dimensions,
    }
}

#[async_trait]
impl RemoteApi for SentenceTransformersService {
    async fn embed(
        &self,
        http: &Http,
        texts: &[String],
        _options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        // The service always truncates; it takes no option to refuse.
        let answer = http
            .json(
                Method::POST,
                &join(&self.base_url, "encode"),
                Some(&json!({ "texts": texts })),
            )
            .await?;
        Ok(Embeddings {
            vectors: vectors(&answer["embeddings"], http)?,
            // The service does not count tokens.
            prompt_tokens: 0,
            ..Default::default()
        })
    }

    async fn health(&self, http: &Http) -> Result<(), EmbedError> {
        http.json(Method::GET, &join(&self.base_url, "health"), None)
            .await
            .map(|_| ())
    }

    fn max_batch(&self) -> usize {
        256
    }
}

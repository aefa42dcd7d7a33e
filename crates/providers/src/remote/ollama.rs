//! The `ollama` provider: `POST {base_url}/api/embed`, falling back to the legacy
//! `/api/embeddings` (one text a request) for servers older than the batch route.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use embedd_core::{EmbedError, Embeddings, EncodeOptions, ModelConfig};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::http::Http;
use super::{join, vectors, RemoteApi, Setup};

/// Ollama's default address.
pub const OLLAMA_BASE_URL: &str = "http://localhost:11434";

/// The Ollama API.
pub struct Ollama {
    base_url: String,
    model_id: String,
    /// Set once the server turned out not to have `/api/embed`.
    legacy: AtomicBool,
}

/// The API and what is known of the model.
pub fn setup(config: &ModelConfig) -> Setup<Ollama> {
    Setup {
        api: Ollama {
            base_url: config
                .base_url
                .clone()
                .unwrap_or_else(|| OLLAMA_BASE_URL.to_owned()),
            model_id: config.model_id.clone().unwrap_or_default(),
            legacy: AtomicBool::new(false),
        },
        default_key_env: None,
        key_required: false,
        dimensions: config.dimensions,
    }
}

#[async_trait]
impl RemoteApi for Ollama {
    async fn embed(
        &self,
        http: &Http,
        texts: &[String],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        if !self.legacy.load(Ordering::Relaxed) {
            let body =
                json!({ "model": self.model_id, "input": texts, "truncate": options.truncate });
            match http
                .call(
                    Method::POST,
                    &join(&self.base_url, "api/embed"),
                    Some(&body),
                )
                .await?
            {
                Ok(answer) => {
                    return Ok(Embeddings {
                        vectors: vectors(&answer["embeddings"], http)?,
                        prompt_tokens: answer["prompt_eval_count"].as_u64().unwrap_or(0) as usize,
                        ..Default::default()
                    })
                }
                // A missing route answers a plain-text 404; a missing model answers JSON.
                Err(refusal)
                    if refusal.status == StatusCode::NOT_FOUND
                        && !refusal.body.trim_start().starts_with('{') =>
                {
                    tracing::info!(model = %http.model, "this Ollama has no /api/embed; using /api/embeddings");
                    self.legacy.store(true, Ordering::Relaxed);
                }
                Err(refusal) => return Err(http.refused(&refusal)),
            }
        }
        let mut out = Embeddings::default();
        for text in texts {
            let body = json!({ "model": self.model_id, "prompt": text });
            let answer = http
                .json(
                    Method::POST,
                    &join(&self.base_url, "api/embeddings"),
                    Some(&body),
                )
                .await?;
            let row = vectors(&json!([answer["embedding"]]), http)?;
            out.vectors.extend(row);
        }
        Ok(out)
    }

    async fn health(&self, http: &Http) -> Result<(), EmbedError> {
        http.json(Method::GET, &join(&self.base_url, "api/tags"), None)
            .await
            .map(|_| ())
    }

    fn max_batch(&self) -> usize {
        512
    }
}

//! The `huggingface` provider: with a `base_url`, a TEI server or an Inference Endpoint
//! (`POST {base_url}/embed` `{"inputs", "truncate": true}`); without one, the hosted Inference
//! API's feature extraction for `model_id`. Bearer token from `HF_TOKEN`.

use async_trait::async_trait;
use embedd_core::{EmbedError, Embeddings, EncodeOptions, ModelConfig};
use reqwest::Method;
use serde_json::json;

use super::http::Http;
use super::{join, vectors, RemoteApi, Setup};

/// The hosted Inference API's address.
pub const HF_INFERENCE_URL: &str = "https://api-inference.huggingface.co/models";

/// A TEI server, an Inference Endpoint, or the hosted Inference API.
pub struct HuggingFace {
    url: String,
    health_url: Option<String>,
    tei: bool,
}

/// The API and what is known of the model.
pub fn setup(config: &ModelConfig) -> Setup<HuggingFace> {
    let model_id = config.model_id.clone().unwrap_or_default();
    let api = match &config.base_url {
        Some(base) => HuggingFace {
            url: join(base, "embed"),
            health_url: Some(join(base, "health")),
            tei: true,
        },
        None => HuggingFace {
            url: join(HF_INFERENCE_URL, &model_id),
            health_url: None,
            tei: false,
        },
    };
    Setup {
        key_required: !api.tei,
        api,
        default_key_env: Some("HF_TOKEN"),
        dimensions: config.dimensions,
    }
}

#[async_trait]
impl RemoteApi for HuggingFace {
    async fn embed(
        &self,
        http: &Http,
        texts: &[String],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        let body = if self.tei {
            json!({ "inputs": texts, "truncate": options.truncate })
        } else {
            json!({ "inputs": texts })
        };
        let answer = http.json(Method::POST, &self.url, Some(&body)).await?;
        Ok(Embeddings {
            vectors: vectors(&answer, http)?,
            prompt_tokens: 0,
            ..Default::default()
        })
    }

    async fn health(&self, http: &Http) -> Result<(), EmbedError> {
        match &self.health_url {
            Some(url) => match http.call(Method::GET, url, None).await? {
                Ok(_) => Ok(()),
                Err(refusal) => Err(http.refused(&refusal)),
            },
            None => self
                .embed(http, &["health".to_owned()], &EncodeOptions::default())
                .await
                .map(|_| ()),
        }
    }

    fn max_batch(&self) -> usize {
        32
    }
}

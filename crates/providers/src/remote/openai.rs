//! The `openai` provider: `POST {base_url}/embeddings`, bearer key from `OPENAI_API_KEY`.

use async_trait::async_trait;
use embedd_core::{catalog, EmbedError, Embeddings, EncodeOptions, ModelConfig};
use reqwest::Method;
use serde_json::{json, Value};

use super::http::Http;
use super::{join, vectors, RemoteApi, Setup};

/// OpenAI's own address; another `base_url` (a proxy, a compatible server) needs no key.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// The OpenAI embeddings API.
pub struct OpenAi {
    base_url: String,
    model_id: String,
    /// Sent as `dimensions` when the config shortens a model that can be shortened.
    dimensions: Option<usize>,
}

/// The API and what is known of the model.
pub fn setup(config: &ModelConfig) -> Setup<OpenAi> {
    let model_id = config.model_id.clone().unwrap_or_default();
    let known = catalog::openai_model(&model_id);
    let base_url = config
        .base_url
        .clone()
        .unwrap_or_else(|| OPENAI_BASE_URL.to_owned());
    let dimensions = match (known, config.dimensions) {
        (Some(k), Some(d)) if k.shortenable && d < k.dimensions => Some(d),
        _ => None,
    };
    Setup {
        key_required: base_url == OPENAI_BASE_URL,
        api: OpenAi {
            base_url,
            model_id,
            dimensions,
        },
        default_key_env: Some("OPENAI_API_KEY"),
        dimensions: config.dimensions.or(known.map(|k| k.dimensions)),
    }
}

#[async_trait]
impl RemoteApi for OpenAi {
    async fn embed(
        &self,
        http: &Http,
        texts: &[String],
        _options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        // OpenAI never truncates: an over-long input is its 400, whatever `truncate` says.
        let mut body =
            json!({ "model": self.model_id, "input": texts, "encoding_format": "float" });
        if let Some(d) = self.dimensions {
            body["dimensions"] = json!(d);
        }
        let answer = http
            .json(
                Method::POST,
                &join(&self.base_url, "embeddings"),
                Some(&body),
            )
            .await?;
        let mut data: Vec<&Value> = answer["data"]
            .as_array()
            .map(|d| d.iter().collect())
            .unwrap_or_default();
        data.sort_by_key(|d| d["index"].as_u64().unwrap_or(u64::MAX));
        let rows = Value::Array(data.iter().map(|d| d["embedding"].clone()).collect());
        Ok(Embeddings {
            vectors: vectors(&rows, http)?,
            prompt_tokens: answer["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as usize,
            ..Default::default()
        })
    }

    async fn health(&self, http: &Http) -> Result<(), EmbedError> {
        http.json(Method::GET, &join(&self.base_url, "models"), None)
            .await
            .map(|_| ())
    }

    fn max_batch(&self) -> usize {
        2048
    }

    fn max_request_bytes(&self) -> usize {
        // OpenAI takes 300,000 tokens a request; at ~4 bytes a token this stays under it.
        1_000_000
    }
}

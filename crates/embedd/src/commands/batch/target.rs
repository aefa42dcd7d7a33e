//! What embeds a batch: the models of this process, or one running embedd server.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use embedd_core::error::Fault;
use embedd_core::{EmbedRequest, Input, Registry, RequestLimits};
use serde::Deserialize;

/// The vectors of one batch and the model that made them.
pub struct Answer {
    /// The model that answered (a fallback of the same vector space may answer).
    pub model: String,
    /// One vector per text, in order.
    pub vectors: Vec<Vec<f32>>,
}

/// Why a batch failed, and whether another attempt may succeed.
#[derive(Debug)]
pub enum Failure {
    /// The target is down, overloaded or broke: the batch may go to another (or the same, later).
    Retry(anyhow::Error),
    /// The batch itself is refused: sending it again anywhere gives the same answer.
    Fatal(anyhow::Error),
}

/// Where batches are embedded.
pub enum Target {
    /// This process's registry (loads the model).
    Local {
        /// The configured models.
        registry: Arc<Registry>,
        /// The registry name of the model.
        model: String,
    },
    /// A running embedd (or any OpenAI-compatible) server.
    Remote(Remote),
}

/// A server's `POST /v1/embeddings` and how to call it.
pub struct Remote {
    /// The server's base URL as given, for messages.
    pub url: String,
    /// The shared HTTP client.
    pub client: reqwest::Client,
    /// The model to ask for; the server's default when absent.
    pub model: Option<String>,
    /// A bearer key, when the server wants one.
    pub api_key: Option<String>,
    /// How long one batch may take.
    pub timeout: Duration,
}

impl Target {
    /// The target's name in messages.
    pub fn name(&self) -> &str {
        match self {
            Self::Local { .. } => "this process",
            Self::Remote(remote) => &remote.url,
        }
    }

    /// Embed `texts`.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Answer, Failure> {
        match self {
            Self::Local { registry, model } => {
                let request =
                    EmbedRequest::new(Input::Texts(texts), "input").with_model(Some(model.clone()));
                let limits = RequestLimits {
                    max_inputs: usize::MAX,
                    max_tokens_per_request: usize::MAX,
                };
                match registry.embed(request, &limits).await {
                    Ok(encoded) => Ok(Answer {
                        model: encoded.model.name().to_owned(),
                        vectors: encoded.embeddings.vectors,
                    }),
                    Err(error) if error.fault() == Fault::User => Err(Failure::Fatal(error.into())),
                    Err(error) => Err(Failure::Retry(error.into())),
                }
            }
            Self::Remote(remote) => remote.embed(texts).await,
        }
    }
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Datum>,
    model: String,
}

#[derive(Deserialize)]
struct Datum {
    index: usize,
    embedding: String,
}

impl Remote {
    async fn embed(&self, texts: Vec<String>) -> Result<Answer, Failure> {
        let count = texts.len();
        let mut body = serde_json::json!({"input": texts, "encoding_format": "base64"});
        if let Some(model) = &self.model {
            body["model"] = serde_json::Value::String(model.clone());
        }
        let endpoint = format!("{}/v1/embeddings", self.url.trim_end_matches('/'));
        let mut request = self.client.post(endpoint).json(&body).timeout(self.timeout);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let retry = |error: anyhow::Error| Failure::Retry(error.context(self.url.clone()));
        let response = request.send().await.map_err(|e| retry(e.into()))?;
        let status = response.status();
        if !status.is_success() {
            // A 4xx other than "too many requests" or "timed out" is about the batch itself.
            let body = response.text().await.unwrap_or_default();
            let error = anyhow::anyhow!("{}: {status}: {}", self.url, body.trim());
            let transient = status.is_server_error()
                || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || status == reqwest::StatusCode::REQUEST_TIMEOUT;
            return Err(if transient {
                Failure::Retry(error)
            } else {
                Failure::Fatal(error)
            });
        }
        let answer: Response = response.json().await.map_err(|e| retry(e.into()))?;
        decode(answer, count).map_err(retry)
    }
}

/// The vectors of an OpenAI answer, in input order, checked to be one per text.
fn decode(answer: Response, count: usize) -> anyhow::Result<Answer> {
    if answer.data.len() != count {
        anyhow::bail!("answered {} vectors for {count} texts", answer.data.len());
    }
    let mut vectors = vec![Vec::new(); count];
    for datum in answer.data {
        let bytes = base64::engine::general_purpose::STANDARD.decode(&datum.embedding)?;
        let slot = vectors
            .get_mut(datum.index)
            .ok_or_else(|| anyhow::anyhow!("answered index {} of {count}", datum.index))?;
        *slot = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
    }
    if vectors.iter().any(Vec::is_empty) {
        anyhow::bail!("answered some texts twice and others not at all");
    }
    Ok(Answer {
        model: answer.model,
        vectors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(values: &[f32]) -> String {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn answers_are_put_back_in_input_order_and_checked() {
        let answer = |indices: &[usize]| Response {
            model: "m".into(),
            data: indices
                .iter()
                .map(|&index| Datum {
                    index,
                    embedding: encoded(&[index as f32, 1.5]),
                })
                .collect(),
        };
        let decoded = decode(answer(&[1, 0]), 2).unwrap();
        assert_eq!(decoded.vectors, vec![vec![0.0, 1.5], vec![1.0, 1.5]]);
        assert!(decode(answer(&[0]), 2).is_err());
        assert!(decode(answer(&[0, 0]), 2).is_err());
        assert!(decode(answer(&[0, 5]), 2).is_err());
    }
}

//! The `rerank` provider: a cross-encoder served elsewhere, scoring documents against a query.
//! `api: tei` (the default) calls TEI's `POST {base_url}/rerank` and asks for raw scores;
//! `api: cohere` calls a Cohere-compatible `POST {base_url}/rerank` (Cohere, Jina, embedd's own
//! `/v1`), whose relevance scores are probabilities, turned back into the logits every reranker
//! here answers with. Bearer key from `api_key_env` (`COHERE_API_KEY` for Cohere).

use async_trait::async_trait;
use embedd_core::config::{ConfigError, RerankApi};
use embedd_core::{
    EmbedError, EmbeddingModel, Embeddings, EncodeOptions, ModelConfig, ModelInfo, Outputs, Scores,
};
use reqwest::Method;
use serde_json::{json, Value};

use super::http::Http;
use super::{api_key, join};

/// Cohere's own address; another `base_url` needs no key.
pub const COHERE_BASE_URL: &str = "https://api.cohere.com/v1";

/// Documents per call: TEI's default `max_client_batch_size`, and well under Cohere's 1,000.
const DOCUMENTS_PER_CALL: usize = 32;

/// A probability this close to 0 or 1 still has a finite logit.
const EDGE: f64 = 1e-7;

/// A reranker reached over HTTP.
pub struct RemoteReranker {
    info: ModelInfo,
    http: Http,
    api: RerankApi,
    url: String,
    health_url: Option<String>,
    batch: usize,
}

impl RemoteReranker {
    /// The reranker `config` describes, on the shared `client`; nothing is sent yet.
    pub fn build(config: &ModelConfig, client: reqwest::Client) -> Result<Self, EmbedError> {
        let api = config.api.unwrap_or_default();
        let base = match (&config.base_url, api) {
            (Some(base), _) => base.clone(),
            (None, RerankApi::Cohere) => COHERE_BASE_URL.to_owned(),
            (None, RerankApi::Tei) => {
                return Err(EmbedError::Config(ConfigError::Model {
                    model: config.name.clone(),
                    message: "a TEI reranker needs base_url".to_owned(),
                }))
            }
        };
        let default_env = (api == RerankApi::Cohere).then_some("COHERE_API_KEY");
        let key = api_key(config, default_env, base == COHERE_BASE_URL)?;
        let http = Http::for_model(config, client, config.provider.as_str(), key);
        let model_id = config
            .model_id
            .clone()
            .unwrap_or_else(|| config.name.clone());
        Ok(Self {
            info: ModelInfo {
                name: config.name.clone(),
                provider: config.provider,
                model_id,
                // One score per document, as a native cross-encoder reports itself.
                dimensions: 1,
                max_tokens: config.max_tokens.unwrap_or(512),
                space: config.effective_space(),
                pooling: None,
                precision: None,
                outputs: Outputs::DENSE,
                prompts: Vec::new(),
                trained_dimensions: Vec::new(),
                revision: None,
                compute: None,
            },
            http,
            api,
            url: join(&base, "rerank"),
            health_url: (api == RerankApi::Tei).then(|| join(&base, "health")),
            batch: config
                .batch_size
                .unwrap_or(DOCUMENTS_PER_CALL)
                .clamp(1, 1000),
        })
    }

    /// One call's logits, in the documents' order.
    async fn score(
        &self,
        http: &Http,
        query: &str,
        documents: &[String],
        truncate: bool,
    ) -> Result<Vec<f32>, EmbedError> {
        // The request, where the answer's list is (Cohere's is under `results`), and the score's key.
        let (body, list, score_key) = match self.api {
            RerankApi::Tei => (
                json!({"query": query, "texts": documents, "raw_scores": true, "truncate": truncate}),
                None,
                "score",
            ),
            RerankApi::Cohere => (
                json!({"model": self.info.model_id, "query": query, "documents": documents,
                       "top_n": documents.len(), "return_documents": false}),
                Some("results"),
                "relevance_score",
            ),
        };
        let answer = http.json(Method::POST, &self.url, Some(&body)).await?;
        let results = match list {
            Some(key) => answer.get(key).unwrap_or(&Value::Null),
            None => &answer,
        };
        let bad = |what: &str| http.error(format!("the rerank answer {what}"), None);
        let mut logits: Vec<Option<f32>> = vec![None; documents.len()];
        for result in results
            .as_array()
            .ok_or_else(|| bad("holds no list of results"))?
        {
            let index = result["index"]
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .filter(|i| *i < documents.len())
                .ok_or_else(|| bad("names a document that was not sent"))?;
            let score = result[score_key]
                .as_f64()
                .filter(|s| s.is_finite())
                .ok_or_else(|| bad("has a score that is not a finite number"))?;
            let logit = match self.api {
                RerankApi::Tei => score,
                RerankApi::Cohere => {
                    let p = score.clamp(EDGE, 1.0 - EDGE);
                    (p / (1.0 - p)).ln()
                }
            };
            logits[index] = Some(logit as f32);
        }
        logits
            .into_iter()
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| bad("left documents without a score"))
    }
}

#[async_trait]
impl EmbeddingModel for RemoteReranker {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn encode(
        &self,
        texts: &[String],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        let _ = (texts, options);
        Err(EmbedError::reranker_gives_no_embeddings(&self.info.name))
    }

    async fn rerank(
        &self,
        query: &str,
        documents: &[String],
        options: &EncodeOptions,
    ) -> Result<Scores, EmbedError> {
        let http = self.http.for_call(options);
        let mut scores = Vec::with_capacity(documents.len());
        for part in documents.chunks(self.batch) {
            scores.extend(self.score(&http, query, part, options.truncate).await?);
        }
        // Neither API says how many tokens it read.
        Ok(Scores {
            scores,
            prompt_tokens: 0,
        })
    }

    async fn health(&self) -> Result<(), EmbedError> {
        match &self.health_url {
            Some(url) => match self.http.call(Method::GET, url, None).await? {
                Ok(_) => Ok(()),
                Err(refusal) => Err(self.http.refused(&refusal)),
            },
            None => self
                .rerank("health", &["health".to_owned()], &EncodeOptions::default())
                .await
                .map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedd_core::Config;

    fn config(yaml: &str) -> ModelConfig {
        let text = format!("embeddings:\n  default_model: r\n  models:\n    r: {yaml}\n");
        Config::from_yaml(&text, &|_| None)
            .unwrap()
            .embeddings
            .models
            .remove(0)
    }

    #[test]
    fn builds_for_either_api_and_says_what_is_missing() {
        let client = reqwest::Client::new();
        let tei = RemoteReranker::build(
            &config("{provider: rerank, model_id: m, base_url: 'http://127.0.0.1:9/'}"),
            client.clone(),
        )
        .unwrap();
        assert_eq!(tei.url, "http://127.0.0.1:9/rerank");
        assert_eq!(tei.info.dimensions, 1);
        let cohere = RemoteReranker::build(
            &config(
                "{provider: rerank, api: cohere, model_id: m, base_url: 'http://127.0.0.1:9/v1'}",
            ),
            client.clone(),
        )
        .unwrap();
        assert_eq!(cohere.url, "http://127.0.0.1:9/v1/rerank");
        assert_eq!(cohere.health_url, None);
        let hosted = RemoteReranker::build(
            &config(
                "{provider: rerank, api: cohere, model_id: m, api_key_env: EMBEDD_TEST_UNSET_KEY}",
            ),
            client,
        );
        let Err(error) = hosted else {
            panic!("Cohere's own API without a key was accepted");
        };
        assert!(
            error.to_string().contains("EMBEDD_TEST_UNSET_KEY"),
            "{error}"
        );
    }
}

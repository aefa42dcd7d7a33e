//! Reranking: text-embeddings-inference's `POST /rerank` and the Cohere/Jina shape
//! `POST /v1/rerank` (and Cohere's `/v2/rerank`) that LangChain's and LlamaIndex's rerankers call, both on a reranker
//! (cross-encoder) model. Each document is scored with the query; answers are best first.
//!
//! Scores are the model's logit through the logistic function (sentence-transformers'
//! `CrossEncoder` default for one label), or the logit itself with TEI's `raw_scores`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::vector::sigmoid;
use embedd_core::{FallbackPolicy, RerankRequest, Reranked};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::error::{ApiError, TeiError};
use crate::openai::with_model_header;
use crate::openapi::{OpenAiErrors, TeiErrors};
use crate::state::AppState;
use crate::tei::check_truncation_direction;

/// The body of TEI's `POST /rerank`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = TeiRerankRequest)]
pub struct TeiRerankBody {
    /// What the texts are scored against.
    pub query: String,
    /// The texts to score.
    pub texts: Vec<String>,
    /// The model's logits instead of sigmoid scores (default: false).
    #[serde(default)]
    pub raw_scores: bool,
    /// Each answer carries its text (default: false).
    #[serde(default)]
    pub return_text: bool,
    /// Truncate pairs longer than the model reads (default: no, they are refused).
    #[serde(default)]
    pub truncate: Option<bool>,
    /// `Right` (the only direction embedd truncates in) or `Left`.
    #[serde(default)]
    pub truncation_direction: Option<String>,
    /// The reranker to use (embedd's addition; TEI serves one): the default model when absent.
    #[serde(default)]
    pub model: Option<String>,
}

/// One scored text of TEI's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeiRank {
    /// The text's position in `texts`.
    pub index: usize,
    /// Its score: higher is more relevant.
    pub score: f32,
    /// The text, when `return_text` asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `POST /rerank`: each text scored against the query, best first, in TEI's shape.
#[utoipa::path(
    post,
    path = "/rerank",
    operation_id = "teiRerank",
    tag = "TEI",
    summary = "Score texts against a query with a reranker (text-embeddings-inference's API)",
    request_body = TeiRerankBody,
    responses((status = 200, description = "Each text's score, best first", body = Vec<TeiRank>), TeiErrors)
)]
pub async fn tei_rerank(
    State(state): State<AppState>,
    JsonBody(body, _): JsonBody<TeiRerankBody, TeiError>,
) -> Result<Response, TeiError> {
    check_truncation_direction(body.truncation_direction.as_deref(), "truncation_direction")?;
    let texts = body.return_text.then(|| body.texts.clone());
    let request = RerankRequest {
        model: body.model,
        query: body.query,
        documents: body.texts,
        documents_field: "texts",
        truncate: body.truncate.unwrap_or(false),
        policy: FallbackPolicy::SAME_SPACE,
    };
    let reranked = rerank(&state, request).await?;
    let raw = body.raw_scores;
    let answer: Vec<TeiRank> = best_first(&reranked)
        .into_iter()
        .map(|(index, logit)| TeiRank {
            index,
            score: if raw { logit } else { sigmoid(logit) },
            text: texts.as_ref().and_then(|t| t.get(index).cloned()),
        })
        .collect();
    Ok(with_model_header(
        Json(answer).into_response(),
        reranked.model.name(),
    ))
}

/// The body of `POST /v1/rerank`, as Cohere and Jina define it.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = RerankRequest)]
pub struct RerankBody {
    /// The reranker; the default model when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// What the documents are scored against.
    pub query: String,
    /// The documents: strings, or objects with a `text` field.
    #[schema(value_type = Vec<Object>)]
    pub documents: Vec<Value>,
    /// Answer only the best this many (default: all).
    #[serde(default)]
    pub top_n: Option<usize>,
    /// Each result carries its document as `{"text": ...}` (default: false).
    #[serde(default)]
    pub return_documents: bool,
}

/// One scored document of a `/v1/rerank` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RerankResult {
    /// The document's position in `documents`.
    pub index: usize,
    /// How relevant it is, from 0 to 1.
    pub relevance_score: f32,
    /// The document, when `return_documents` asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentText>,
}

/// A document as the answer returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentText {
    /// Its text.
    pub text: String,
}

/// What a `/v1/rerank` request cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct RerankUsage {
    /// Tokens the model read, all pairs together.
    pub total_tokens: usize,
}

/// The answer of `POST /v1/rerank`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RerankResponse)]
pub struct RerankAnswer {
    /// The reranker that scored the documents.
    pub model: String,
    /// The documents' scores, best first.
    pub results: Vec<RerankResult>,
    /// What the request cost.
    pub usage: RerankUsage,
}

/// `POST /v1/rerank`: the Cohere/Jina rerank API, best first, `top_n` of them.
#[utoipa::path(
    post,
    path = "/v1/rerank",
    operation_id = "rerank",
    tag = "Rerank",
    summary = "Score documents against a query with a reranker (Cohere's and Jina's API)",
    request_body = RerankBody,
    responses((status = 200, description = "The documents' scores, best first", body = RerankAnswer), OpenAiErrors)
)]
pub async fn rerank_v1(
    State(state): State<AppState>,
    JsonBody(body, _): JsonBody<RerankBody>,
) -> Result<Response, ApiError> {
    if body.top_n == Some(0) {
        return Err(ApiError::invalid(
            "top_n",
            "`top_n` is 0; ask for at least one result",
        ));
    }
    let documents = documents(body.documents)?;
    let kept = body.return_documents.then(|| documents.clone());
    let request = RerankRequest {
        model: body.model,
        query: body.query,
        documents,
        documents_field: "documents",
        // Cohere and Jina cut long documents rather than refuse them.
        truncate: true,
        policy: FallbackPolicy::SAME_SPACE,
    };
    let reranked = rerank(&state, request).await?;
    let results = best_first(&reranked)
        .into_iter()
        .take(body.top_n.unwrap_or(usize::MAX))
        .map(|(index, logit)| RerankResult {
            index,
            relevance_score: sigmoid(logit),
            document: kept
                .as_ref()
                .and_then(|d| d.get(index))
                .map(|text| DocumentText { text: text.clone() }),
        })
        .collect();
    let name = reranked.model.name().to_owned();
    let answer = RerankAnswer {
        model: name.clone(),
        results,
        usage: RerankUsage {
            total_tokens: reranked.scores.prompt_tokens,
        },
    };
    Ok(with_model_header(Json(answer).into_response(), &name))
}

/// `POST /v2/rerank`: the same API at the path Cohere's second client (`cohere.ClientV2`, which
/// LangChain's `CohereRerank` uses) calls.
#[utoipa::path(
    post,
    path = "/v2/rerank",
    operation_id = "rerankV2",
    tag = "Rerank",
    summary = "Score documents against a query with a reranker (Cohere's v2 API)",
    request_body = RerankBody,
    responses((status = 200, description = "The documents' scores, best first", body = RerankAnswer), OpenAiErrors)
)]
pub async fn rerank_v2(
    state: State<AppState>,
    body: JsonBody<RerankBody>,
) -> Result<Response, ApiError> {
    rerank_v1(state, body).await
}

/// The documents' texts: each a string or an object with a string `text`.
fn documents(values: Vec<Value>) -> Result<Vec<String>, ApiError> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| match value {
            Value::String(text) => Ok(text),
            Value::Object(mut fields) => match fields.remove("text") {
                Some(Value::String(text)) => Ok(text),
                _ => Err(ApiError::invalid(
                    format!("documents[{i}]"),
                    format!("`documents[{i}]` is an object without a string `text`"),
                )),
            },
            _ => Err(ApiError::invalid(
                format!("documents[{i}]"),
                format!("`documents[{i}]` must be a string or an object with a `text` field"),
            )),
        })
        .collect()
}

/// The request through the registry, logged without its text.
async fn rerank(state: &AppState, request: RerankRequest) -> Result<Reranked, ApiError> {
    let started = std::time::Instant::now();
    let documents = request.documents.len();
    let reranked = state
        .registry
        .rerank(request, &state.limits.request())
        .await?;
    crate::auth::charge_tokens(reranked.scores.prompt_tokens);
    tracing::info!(
        model = %reranked.model.name(),
        documents,
        tokens = reranked.scores.prompt_tokens,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "reranked"
    );
    Ok(reranked)
}

/// Each document's index and logit, highest first (ties in document order).
fn best_first(reranked: &Reranked) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> =
        reranked.scores.scores.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_are_strings_or_objects_with_text() {
        let texts = documents(vec![json!("a"), json!({"text": "b", "id": 7})]).unwrap();
        assert_eq!(texts, ["a", "b"]);
        for bad in [
            json!(5),
            json!({"title": "b"}),
            json!({"text": 3}),
            json!(null),
        ] {
            let error = documents(vec![json!("a"), bad.clone()]).unwrap_err();
            assert_eq!(error.param.as_deref(), Some("documents[1]"), "{bad}");
        }
    }
}

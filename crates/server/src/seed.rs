//! The seed's own route: `POST /v1/embeddings/generate` (seed §8's challenge script calls it).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::{EmbedRequest, FallbackPolicy, Input, Output, Outputs, SparseVector};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::error::ApiError;
use crate::openai::{with_model_header, Usage};
use crate::openapi::OpenAiErrors;
use crate::state::AppState;

/// The body of `POST /v1/embeddings/generate`: `text` or `texts`, not both.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GenerateRequest {
    /// One text.
    #[serde(default)]
    pub text: Option<String>,
    /// Several texts.
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// The model; the default when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// Let the fallback chain answer with a model of another vector space when the asked one fails.
    #[serde(default)]
    pub use_fallback: bool,
    /// One of the model's prompts to put before every text; the model's default when absent.
    #[serde(default)]
    pub prompt_name: Option<String>,
    /// The outputs wanted: `dense` (the default), `sparse`, `multi_vector`.
    #[serde(default)]
    pub outputs: Option<Vec<Output>>,
}

/// The answer of `POST /v1/embeddings/generate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GenerateResponse {
    /// Present when the request sent `text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    /// The dense vectors; left out when `outputs` did not ask for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<Vec<Vec<f32>>>,
    /// One sparse vector (token ids and weights) per text, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse: Option<Vec<SparseVector>>,
    /// The per-token vectors of each text, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_vector: Option<Vec<Vec<Vec<f32>>>>,
    /// The model that answered: the one asked for, or a fallback.
    pub model: String,
    /// Its provider.
    pub provider: &'static str,
    /// Its vector length.
    pub dimensions: usize,
    /// Whether a fallback model answered (then `model` names it).
    pub fallback_used: bool,
    /// Tokens read.
    pub usage: Usage,
}

/// `POST /v1/embeddings/generate`.
#[utoipa::path(
    post,
    path = "/v1/embeddings/generate",
    operation_id = "generateEmbeddings",
    tag = "Seed",
    summary = "Embed one text or several, with the fallback chain (the seed's route)",
    request_body = GenerateRequest,
    responses((status = 200, description = "The vectors and the model that made them", body = GenerateResponse), OpenAiErrors)
)]
pub async fn generate(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<GenerateRequest>,
) -> Result<Response, ApiError> {
    let single = request.text.is_some();
    let texts = match (request.text, request.texts) {
        (Some(text), None) => vec![text],
        (None, Some(texts)) => texts,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "text",
                "send either `text` or `texts`, not both",
            ))
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "text",
                "`text` (a string) or `texts` (an array of strings) is required",
            ))
        }
    };
    let field = if single { "text" } else { "texts" };
    let policy = FallbackPolicy {
        use_chain: true,
        cross_space: request.use_fallback,
    };
    let outputs = match request.outputs.as_deref() {
        None => Outputs::DENSE,
        Some([]) => {
            return Err(ApiError::invalid(
                "outputs",
                "`outputs` is empty; ask for at least one of dense, sparse, multi_vector",
            ))
        }
        Some(list) => Outputs::of(list),
    };
    let mut embed = EmbedRequest::new(Input::Texts(texts), field)
        .with_model(request.model)
        .with_policy(policy);
    embed.prompt_name = request.prompt_name;
    embed.outputs = outputs;
    let encoded = state.embed(embed).await?;
    let embeddings = encoded.embeddings;
    let body = GenerateResponse {
        embedding: if single && outputs.dense {
            embeddings.vectors.first().cloned()
        } else {
            None
        },
        embeddings: outputs.dense.then_some(embeddings.vectors),
        sparse: outputs.sparse.then_some(embeddings.sparse),
        multi_vector: outputs.multi_vector.then_some(embeddings.multi_vectors),
        model: encoded.model.name().to_owned(),
        provider: encoded.model.provider().as_str(),
        dimensions: encoded.model.dimensions(),
        fallback_used: encoded.fell_back,
        usage: Usage::new(embeddings.prompt_tokens),
    };
    let response = Json(body).into_response();
    Ok(with_model_header(response, encoded.model.name()))
}

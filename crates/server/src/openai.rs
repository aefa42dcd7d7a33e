//! The OpenAI dialect: `POST /v1/embeddings`, `GET /v1/models`, `GET /v1/models/{model}`.

use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use embedd_core::registry::ModelListing;
use embedd_core::EmbedRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::JsonBody;
use crate::error::ApiError;
use crate::input::parse_input;
use crate::state::AppState;

/// The header naming the model that produced the vectors, on every embedding response.
pub const MODEL_HEADER: &str = "x-embedd-model";

/// The body of `POST /v1/embeddings`.
#[derive(Debug, Deserialize)]
pub struct EmbeddingsRequest {
    /// A string, an array of strings, an array of token ids, or an array of such arrays.
    #[serde(default)]
    pub input: Value,
    /// The model; the default model when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// `float` (default) or `base64`.
    #[serde(default)]
    pub encoding_format: Option<EncodingFormat>,
    /// Shorten vectors to this length, then re-normalise.
    #[serde(default)]
    pub dimensions: Option<u64>,
    /// The caller's end-user id; accepted for compatibility, never logged.
    #[serde(default)]
    pub user: Option<String>,
    /// An extension: one of the model's prompts to put before every input (`query`, ...); the
    /// model's default prompt when absent.
    #[serde(default)]
    pub prompt_name: Option<String>,
}

/// How vectors are written in the response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON arrays of numbers.
    #[default]
    Float,
    /// Base64 of the little-endian `f32` bytes (what the OpenAI Python SDK asks for).
    Base64,
}

#[derive(Serialize)]
struct EmbeddingsResponse<'a> {
    object: &'static str,
    data: Vec<EmbeddingObject>,
    model: &'a str,
    usage: Usage,
}

#[derive(Serialize)]
struct EmbeddingObject {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Float(Vec<f32>),
    Base64(String),
}

/// Token counts, as OpenAI reports them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    /// Tokens read.
    pub prompt_tokens: usize,
    /// The same: embeddings produce no tokens.
    pub total_tokens: usize,
}

impl Usage {
    /// Usage for `tokens` tokens read.
    pub fn new(tokens: usize) -> Self {
        Self {
            prompt_tokens: tokens,
            total_tokens: tokens,
        }
    }
}

/// `POST /v1/embeddings`: OpenAI truncates nothing, but embedd keeps its models' own
/// truncation here (what sentence-transformers does), so over-long inputs are cut, not refused.
pub async fn embeddings(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<EmbeddingsRequest>,
) -> Result<Response, ApiError> {
    let mut embed =
        EmbedRequest::new(parse_input(request.input, "input")?, "input").with_model(request.model);
    embed.dimensions = request.dimensions;
    embed.prompt_name = request.prompt_name;
    let encoded = state.embed(embed).await?;
    let format = request.encoding_format.unwrap_or_default();
    let data = encoded
        .embeddings
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| EmbeddingObject {
            object: "embedding",
            index,
            embedding: match format {
                EncodingFormat::Float => Vector::Float(vector),
                EncodingFormat::Base64 => Vector::Base64(to_base64(&vector)),
            },
        })
        .collect();
    let body = EmbeddingsResponse {
        object: "list",
        data,
        model: encoded.model.name(),
        usage: Usage::new(encoded.embeddings.prompt_tokens),
    };
    Ok(with_model_header(
        Json(body).into_response(),
        encoded.model.name(),
    ))
}

/// Little-endian `f32` bytes in standard base64, as OpenAI encodes vectors.
pub fn to_base64(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Add the header that names the model that answered.
pub fn with_model_header(mut response: Response, model: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(model) {
        response.headers_mut().insert(MODEL_HEADER, value);
    }
    response
}

/// `GET /v1/models`.
pub async fn list_models(State(state): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = state.registry.list().iter().map(model_object).collect();
    Json(serde_json::json!({ "object": "list", "data": data }))
}

/// `GET /v1/models/{model}`.
pub async fn get_model(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let handle = state.registry.handle(&model)?;
    Ok(Json(model_object(&handle.listing())))
}

fn model_object(m: &ModelListing) -> Value {
    serde_json::json!({
        "id": m.name,
        "object": "model",
        "created": 0,
        "owned_by": m.provider.as_str(),
        "model_id": m.model_id,
        "dimensions": m.dimensions,
        "max_tokens": m.max_tokens,
        "space": m.space,
        "loaded": m.loaded,
    })
}

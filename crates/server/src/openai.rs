//! The OpenAI dialect: `POST /v1/embeddings`, `GET /v1/models`, `GET /v1/models/{model}`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use embedd_core::registry::ModelListing;
use embedd_core::EmbedRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::error::ApiError;
use crate::input::{parse_input, token_ids_header, InputSchema};
use crate::openapi::OpenAiErrors;
use crate::state::AppState;

/// The header naming the model that produced the vectors, on every embedding response.
pub const MODEL_HEADER: &str = "x-embedd-model";

/// The body of `POST /v1/embeddings`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    /// A string, an array of strings, an array of token ids, or an array of such arrays.
    #[serde(default)]
    #[schema(value_type = InputSchema, required = true)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON arrays of numbers.
    #[default]
    Float,
    /// Base64 of the little-endian `f32` bytes (what the OpenAI Python SDK asks for).
    Base64,
}

/// The answer of `POST /v1/embeddings`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    pub object: &'static str,
    /// One entry per input, in input order.
    pub data: Vec<EmbeddingObject>,
    /// The model that produced the vectors (also in the `x-embedd-model` header).
    pub model: String,
    /// Tokens read.
    pub usage: Usage,
}

/// One input's vector.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingObject {
    /// Always `embedding`.
    pub object: &'static str,
    /// The input's position in the request.
    pub index: usize,
    /// The vector, as numbers or as base64, following `encoding_format`.
    pub embedding: Vector,
}

/// A vector as `encoding_format` asked for it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Vector {
    /// JSON numbers.
    Float(Vec<f32>),
    /// Base64 of the little-endian `f32` bytes.
    Base64(String),
}

/// Token counts, as OpenAI reports them.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
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
#[utoipa::path(
    post,
    path = "/v1/embeddings",
    operation_id = "createEmbeddings",
    tag = "OpenAI",
    summary = "Embed texts or token ids (OpenAI's embeddings API)",
    description = "Over-long inputs are cut to what the model reads, as sentence-transformers does.",
    request_body = EmbeddingsRequest,
    responses((status = 200, description = "One vector per input", body = EmbeddingsResponse), OpenAiErrors)
)]
pub async fn embeddings(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request, _): JsonBody<EmbeddingsRequest>,
) -> Result<Response, ApiError> {
    let mut embed =
        EmbedRequest::new(parse_input(request.input, "input")?, "input").with_model(request.model);
    embed.token_ids = token_ids_header(&headers)?;
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
        model: encoded.model.name().to_owned(),
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

/// The answer of `GET /v1/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: &'static str,
    /// Every configured model, loaded or not.
    pub data: Vec<ModelObject>,
}

/// One model, as OpenAI lists models, with what embedd knows of it beside.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelObject {
    /// The name requests use.
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    /// Always 0: embedd does not track it.
    pub created: u64,
    /// The provider serving it (`native`, `openai`, `ollama`, ...).
    pub owned_by: &'static str,
    /// The provider's id for the model (`sentence-transformers/all-MiniLM-L6-v2`).
    pub model_id: String,
    /// Vector length, once known (configured or built).
    pub dimensions: Option<usize>,
    /// Tokens read per input, once known.
    pub max_tokens: Option<usize>,
    /// The vector space: models of one space give comparable vectors.
    pub space: String,
    /// Whether it is built (models are built on first use).
    pub loaded: bool,
}

impl From<&ModelListing> for ModelObject {
    fn from(m: &ModelListing) -> Self {
        Self {
            id: m.name.clone(),
            object: "model",
            created: 0,
            owned_by: m.provider.as_str(),
            model_id: m.model_id.clone(),
            dimensions: m.dimensions,
            max_tokens: m.max_tokens,
            space: m.space.clone(),
            loaded: m.loaded,
        }
    }
}

/// `GET /v1/models`.
#[utoipa::path(
    get,
    path = "/v1/models",
    operation_id = "listModels",
    tag = "OpenAI",
    summary = "List the configured models",
    responses((status = 200, description = "Every model", body = ModelList), OpenAiErrors)
)]
pub async fn list_models(State(state): State<AppState>) -> Json<ModelList> {
    let data = state
        .registry
        .list()
        .iter()
        .map(ModelObject::from)
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}

/// `GET /v1/models/{model}`; the name may hold slashes (`sentence-transformers/...`).
#[utoipa::path(
    get,
    path = "/v1/models/{model}",
    operation_id = "getModel",
    tag = "OpenAI",
    summary = "Describe one model",
    params(("model" = String, Path, description = "The model's name; may contain `/`")),
    responses((status = 200, description = "The model", body = ModelObject), OpenAiErrors)
)]
pub async fn get_model(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<Json<ModelObject>, ApiError> {
    let handle = state.registry.handle(&model)?;
    Ok(Json(ModelObject::from(&handle.listing())))
}

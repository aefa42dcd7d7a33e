//! The Ollama dialect: `POST /api/embed`, the legacy `POST /api/embeddings`, `GET /api/tags`,
//! `GET /api/version`. Errors are Ollama's `{"error": "..."}`.

use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::config::Precision;
use embedd_core::{EmbedRequest, Input, ModelHandle};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::error::{ApiError, PlainError};
use crate::input::{parse_texts, TextsSchema};
use crate::openai::with_model_header;
use crate::openapi::PlainErrors;
use crate::state::AppState;

/// The body of `POST /api/embed`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = OllamaEmbedRequest)]
pub struct EmbedBody {
    /// The model (an Ollama tag such as `all-minilm:latest` resolves without its tag).
    #[serde(default)]
    pub model: Option<String>,
    /// A string or an array of strings.
    #[serde(default)]
    #[schema(value_type = TextsSchema, required = true)]
    pub input: Value,
    /// Truncate inputs longer than the model reads (Ollama's default); with `false` they are a 400.
    #[serde(default)]
    pub truncate: Option<bool>,
    /// Shorten vectors to this length, then re-normalise.
    #[serde(default)]
    pub dimensions: Option<u64>,
    /// An extension: one of the model's prompts to put before every input.
    #[serde(default)]
    pub prompt_name: Option<String>,
    /// Accepted for compatibility; embedd keeps models loaded.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub keep_alive: Option<Value>,
    /// Accepted for compatibility; model options do not apply to embedding.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub options: Option<Value>,
}

/// The body of the legacy `POST /api/embeddings`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = OllamaLegacyRequest)]
pub struct LegacyRequest {
    /// The model.
    #[serde(default)]
    pub model: Option<String>,
    /// One text.
    #[serde(default)]
    #[schema(required = true)]
    pub prompt: Option<String>,
    /// Accepted for compatibility.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub keep_alive: Option<Value>,
    /// Accepted for compatibility.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub options: Option<Value>,
}

/// The answer of `POST /api/embed`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OllamaEmbedResponse)]
pub struct EmbedResponse {
    /// The model that answered.
    pub model: String,
    /// One vector per input, in order.
    pub embeddings: Vec<Vec<f32>>,
    /// Nanoseconds the request took.
    pub total_duration: u64,
    /// Nanoseconds spent building the model for this request (0 when it was loaded).
    pub load_duration: u64,
    /// Tokens read.
    pub prompt_eval_count: usize,
}

/// The answer of the legacy `POST /api/embeddings`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OllamaLegacyResponse)]
pub struct LegacyResponse {
    /// The prompt's vector.
    pub embedding: Vec<f32>,
}

/// `POST /api/embed`.
#[utoipa::path(
    post,
    path = "/api/embed",
    operation_id = "ollamaEmbed",
    tag = "Ollama",
    summary = "Embed texts (Ollama's embed API)",
    request_body = EmbedBody,
    responses((status = 200, description = "One vector per input", body = EmbedResponse), PlainErrors)
)]
pub async fn embed(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<EmbedBody, PlainError>,
) -> Result<Response, PlainError> {
    let started = Instant::now();
    let input = Input::Texts(parse_texts(request.input, "input")?);
    let mut embed = EmbedRequest::new(input, "input").with_model(request.model);
    embed.truncate = request.truncate.unwrap_or(true);
    embed.dimensions = request.dimensions;
    embed.prompt_name = request.prompt_name;
    let encoded = state.embed(embed).await?;
    let body = EmbedResponse {
        model: encoded.model.name().to_owned(),
        embeddings: encoded.embeddings.vectors,
        total_duration: nanos(started.elapsed()),
        load_duration: nanos(encoded.load_time),
        prompt_eval_count: encoded.embeddings.prompt_tokens,
    };
    Ok(with_model_header(
        Json(body).into_response(),
        encoded.model.name(),
    ))
}

/// Nanoseconds, as Ollama counts durations.
fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `POST /api/embeddings` (legacy): one prompt, one vector.
#[utoipa::path(
    post,
    path = "/api/embeddings",
    operation_id = "ollamaEmbeddings",
    tag = "Ollama",
    summary = "Embed one prompt (Ollama's legacy API)",
    request_body = LegacyRequest,
    responses((status = 200, description = "The prompt's vector", body = LegacyResponse), PlainErrors)
)]
pub async fn embeddings(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<LegacyRequest, PlainError>,
) -> Result<Response, PlainError> {
    let prompt = request
        .prompt
        .ok_or_else(|| ApiError::invalid("prompt", "`prompt` (a string) is required"))?;
    let embed = EmbedRequest::new(Input::Texts(vec![prompt]), "prompt").with_model(request.model);
    let mut encoded = state.embed(embed).await?;
    let embedding = encoded.embeddings.vectors.pop().unwrap_or_default();
    let body = LegacyResponse { embedding };
    Ok(with_model_header(
        Json(body).into_response(),
        encoded.model.name(),
    ))
}

/// The precision of a model's weights, where embedd knows it without building the model: its
/// own models' (`quantize`), nothing for remote and hash models.
fn precision(handle: &ModelHandle) -> Option<Precision> {
    match handle.built() {
        Some(model) => model.info().precision,
        None => handle
            .config()
            .filter(|c| c.provider == embedd_core::ProviderKind::Native)
            .map(|c| c.quantize.unwrap_or_default()),
    }
}

/// The answer of `GET /api/tags`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    /// Every configured model.
    pub models: Vec<Tag>,
}

/// One model, in the shape Ollama lists local models.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tag {
    /// `<name>:latest`.
    pub name: String,
    /// The same as `name`.
    pub model: String,
    /// Always the epoch: embedd does not track it.
    pub modified_at: &'static str,
    /// Always 0.
    pub size: u64,
    /// Always empty.
    pub digest: &'static str,
    /// What embedd knows of the model.
    pub details: TagDetails,
}

/// The `details` of a [`Tag`].
#[derive(Debug, Serialize, ToSchema)]
pub struct TagDetails {
    /// Always empty.
    pub parent_model: &'static str,
    /// The provider (`native`, `openai`, ...).
    pub format: &'static str,
    /// The vector space.
    pub family: String,
    /// The vector space, alone.
    pub families: Vec<String>,
    /// `F32` or `INT8` for embedd's own models; left out for others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantization_level: Option<&'static str>,
}

/// `GET /api/tags`: every model, in the shape Ollama lists local models; details embedd does not
/// know of a model (a remote's precision) are left out rather than guessed.
#[utoipa::path(
    get,
    path = "/api/tags",
    operation_id = "ollamaTags",
    tag = "Ollama",
    summary = "List the configured models (Ollama's shape)",
    responses((status = 200, description = "Every model", body = TagList))
)]
pub async fn tags(State(state): State<AppState>) -> Json<TagList> {
    let models = state
        .registry
        .handles()
        .iter()
        .map(|handle| {
            let m = handle.listing();
            let name = format!("{}:latest", m.name);
            Tag {
                model: name.clone(),
                name,
                modified_at: "1970-01-01T00:00:00Z",
                size: 0,
                digest: "",
                details: TagDetails {
                    parent_model: "",
                    format: m.provider.as_str(),
                    family: m.space.clone(),
                    families: vec![m.space],
                    quantization_level: precision(handle).map(|p| match p {
                        Precision::F32 => "F32",
                        Precision::Int8 => "INT8",
                    }),
                },
            }
        })
        .collect();
    Json(TagList { models })
}

/// The answer of `GET /api/version`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    /// embedd's version.
    pub version: &'static str,
}

/// `GET /api/version`.
#[utoipa::path(
    get,
    path = "/api/version",
    operation_id = "ollamaVersion",
    tag = "Ollama",
    summary = "The server's version",
    responses((status = 200, description = "embedd's version", body = Version))
)]
pub async fn version() -> Json<Version> {
    Json(Version {
        version: env!("CARGO_PKG_VERSION"),
    })
}

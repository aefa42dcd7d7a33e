//! The Ollama dialect: `POST /api/embed`, the legacy `POST /api/embeddings`, `GET /api/tags`,
//! `GET /api/version`. Errors are Ollama's `{"error": "..."}`.

use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::config::Precision;
use embedd_core::{EmbedRequest, Input, ModelHandle};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::error::{ApiError, PlainError};
use crate::input::parse_texts;
use crate::openai::with_model_header;
use crate::state::AppState;

/// The body of `POST /api/embed`.
#[derive(Debug, Deserialize)]
pub struct EmbedBody {
    /// The model (an Ollama tag such as `all-minilm:latest` resolves without its tag).
    #[serde(default)]
    pub model: Option<String>,
    /// A string or an array of strings.
    #[serde(default)]
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
    pub keep_alive: Option<Value>,
    /// Accepted for compatibility; model options do not apply to embedding.
    #[serde(default)]
    pub options: Option<Value>,
}

/// The body of the legacy `POST /api/embeddings`.
#[derive(Debug, Deserialize)]
pub struct LegacyRequest {
    /// The model.
    #[serde(default)]
    pub model: Option<String>,
    /// One text.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub keep_alive: Option<Value>,
    /// Accepted for compatibility.
    #[serde(default)]
    pub options: Option<Value>,
}

/// `POST /api/embed`.
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
    let body = json!({
        "model": encoded.model.name(),
        "embeddings": encoded.embeddings.vectors,
        "total_duration": started.elapsed().as_nanos() as u64,
        "load_duration": encoded.load_time.as_nanos() as u64,
        "prompt_eval_count": encoded.embeddings.prompt_tokens,
    });
    Ok(with_model_header(
        Json(body).into_response(),
        encoded.model.name(),
    ))
}

/// `POST /api/embeddings` (legacy): one prompt, one vector.
pub async fn embeddings(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<LegacyRequest, PlainError>,
) -> Result<Response, PlainError> {
    let prompt = request
        .prompt
        .ok_or_else(|| ApiError::invalid("prompt", "`prompt` (a string) is required"))?;
    let embed = EmbedRequest::new(Input::Texts(vec![prompt]), "prompt").with_model(request.model);
    let mut encoded = state.embed(embed).await?;
    let vector = encoded.embeddings.vectors.pop().unwrap_or_default();
    let body = json!({ "embedding": vector });
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

/// `GET /api/tags`: every model, in the shape Ollama lists local models; details embedd does not
/// know of a model (a remote's precision) are left out rather than guessed.
pub async fn tags(State(state): State<AppState>) -> Json<Value> {
    let models: Vec<Value> = state
        .registry
        .handles()
        .iter()
        .map(|handle| {
            let m = handle.listing();
            let mut details = json!({
                "parent_model": "",
                "format": m.provider.as_str(),
                "family": m.space,
                "families": [m.space],
            });
            if let Some(p) = precision(handle) {
                details["quantization_level"] = json!(match p {
                    Precision::F32 => "F32",
                    Precision::Int8 => "INT8",
                });
            }
            json!({
                "name": format!("{}:latest", m.name),
                "model": format!("{}:latest", m.name),
                "modified_at": "1970-01-01T00:00:00Z",
                "size": 0,
                "digest": "",
                "details": details,
            })
        })
        .collect();
    Json(json!({ "models": models }))
}

/// `GET /api/version`.
pub async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}

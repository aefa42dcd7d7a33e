//! The Ollama dialect: `POST /api/embed`, the legacy `POST /api/embeddings`, `GET /api/tags`,
//! `GET /api/version`. Errors are Ollama's `{"error": "..."}`.

use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::FallbackPolicy;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::error::{ApiError, PlainError};
use crate::input::{check_dimensions, shorten, EmbedInput};
use crate::openai::with_model_header;
use crate::state::AppState;

/// The body of `POST /api/embed`.
#[derive(Debug, Deserialize)]
pub struct EmbedRequest {
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

/// Resolve an Ollama model name: as given, else without its `:tag`.
fn resolve(state: &AppState, model: Option<&str>) -> Result<String, PlainError> {
    let name = model
        .filter(|m| !m.is_empty())
        .unwrap_or(state.registry.default_name());
    match state.registry.resolve(name) {
        Ok(found) => Ok(found),
        Err(e) => match name.rsplit_once(':') {
            Some((base, _tag)) => state.registry.resolve(base).map_err(|_| e.into()),
            None => Err(e.into()),
        },
    }
}

/// `POST /api/embed`.
pub async fn embed(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<EmbedRequest, PlainError>,
) -> Result<Response, PlainError> {
    let started = Instant::now();
    let input = match EmbedInput::from_openai(request.input, "input")? {
        EmbedInput::Tokens(_) => {
            return Err(ApiError::invalid(
                "input",
                "`input` must be a string or an array of strings",
            )
            .into())
        }
        texts => texts,
    };
    input.check("input", state.limits.max_inputs)?;
    let name = resolve(&state, request.model.as_deref())?;
    let dimensions = match request.dimensions {
        Some(d) => Some(check_dimensions(d, state.dimensions_of(&name))?),
        None => None,
    };
    let loading = Instant::now();
    state.registry.get_or_create(&name).await?;
    let load_duration = loading.elapsed();
    if let (Some(false), EmbedInput::Texts(texts)) = (request.truncate, &input) {
        state.refuse_overlong(&name, "input", texts).await?;
    }
    let mut encoded = state
        .embed(Some(&name), &input, FallbackPolicy::SAME_SPACE)
        .await?;
    shorten(
        &mut encoded.embeddings.vectors,
        dimensions,
        encoded.model.dimensions(),
    )?;
    let body = json!({
        "model": encoded.model.name(),
        "embeddings": encoded.embeddings.vectors,
        "total_duration": started.elapsed().as_nanos() as u64,
        "load_duration": load_duration.as_nanos() as u64,
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
    let input = EmbedInput::Texts(vec![prompt]);
    input.check("prompt", 1)?;
    let name = resolve(&state, request.model.as_deref())?;
    let mut encoded = state
        .embed(Some(&name), &input, FallbackPolicy::SAME_SPACE)
        .await?;
    let vector = encoded.embeddings.vectors.pop().unwrap_or_default();
    let body = json!({ "embedding": vector });
    Ok(with_model_header(
        Json(body).into_response(),
        encoded.model.name(),
    ))
}

/// `GET /api/tags`: every model, in the shape Ollama lists local models.
pub async fn tags(State(state): State<AppState>) -> Json<Value> {
    let models: Vec<Value> = state
        .registry
        .list()
        .iter()
        .map(|m| {
            json!({
                "name": format!("{}:latest", m.name),
                "model": format!("{}:latest", m.name),
                "modified_at": "1970-01-01T00:00:00Z",
                "size": 0,
                "digest": "",
                "details": {
                    "parent_model": "",
                    "format": m.provider.as_str(),
                    "family": m.space,
                    "families": [m.space],
                    "parameter_size": "",
                    "quantization_level": "F32",
                },
            })
        })
        .collect();
    Json(json!({ "models": models }))
}

/// `GET /api/version`.
pub async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}

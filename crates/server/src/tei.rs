//! The Hugging Face text-embeddings-inference dialect: `POST /embed`, `POST /tokenize`,
//! `GET /info`, on the default model (TEI serves one). Errors are TEI's
//! `{"error": "...", "error_type": "..."}`: 413 for inputs over a limit, 422 for other invalid
//! input, 424 when the model fails, 503 when it is unavailable.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::{EmbedError, FallbackPolicy};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::error::ApiError;
use crate::input::{check_dimensions, shorten, EmbedInput};
use crate::openai::with_model_header;
use crate::state::AppState;

/// An error in TEI's shape.
#[derive(Debug)]
pub struct TeiError(pub ApiError);

impl From<ApiError> for TeiError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<EmbedError> for TeiError {
    fn from(e: EmbedError) -> Self {
        Self(ApiError::from(e))
    }
}

impl IntoResponse for TeiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let (status, kind) = match e.status.as_u16() {
            413 => (StatusCode::PAYLOAD_TOO_LARGE, "Validation"),
            400 if e.code == "input_too_long" => (StatusCode::PAYLOAD_TOO_LARGE, "Validation"),
            400 if e.code == "invalid_json" || e.code == "invalid_type" => {
                (StatusCode::UNPROCESSABLE_ENTITY, "Validation")
            }
            400..=499 => (StatusCode::UNPROCESSABLE_ENTITY, "Validation"),
            503 if e.code == "overloaded" => (StatusCode::TOO_MANY_REQUESTS, "Overloaded"),
            503 => (StatusCode::SERVICE_UNAVAILABLE, "Unhealthy"),
            _ => (StatusCode::FAILED_DEPENDENCY, "Backend"),
        };
        (
            status,
            Json(json!({ "error": e.message, "error_type": kind })),
        )
            .into_response()
    }
}

/// The body of `POST /embed`.
#[derive(Debug, Deserialize)]
pub struct EmbedRequest {
    /// A string, an array of strings, or token ids.
    #[serde(default)]
    pub inputs: Value,
    /// Whether vectors are L2-normalised (TEI's default: yes).
    #[serde(default)]
    pub normalize: Option<bool>,
    /// Truncate inputs longer than the model reads (TEI's default: no, they are refused).
    #[serde(default)]
    pub truncate: Option<bool>,
    /// `Right` (the only direction embedd truncates in) or `Left`.
    #[serde(default)]
    pub truncation_direction: Option<String>,
    /// A named prompt from the model's sentence-transformers config.
    #[serde(default)]
    pub prompt_name: Option<String>,
    /// Shorten vectors to this length, then re-normalise.
    #[serde(default)]
    pub dimensions: Option<u64>,
}

/// `POST /embed`.
pub async fn embed(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<EmbedRequest, TeiError>,
) -> Result<Response, TeiError> {
    let input = EmbedInput::from_openai(request.inputs, "inputs")?;
    input.check("inputs", state.limits.max_inputs)?;
    if request.normalize == Some(false) {
        return Err(ApiError::invalid("normalize", "`normalize: false` is not supported: embedd's models return the vectors their sentence-transformers modules define").into());
    }
    if let Some(name) = request.prompt_name {
        return Err(ApiError::invalid(
            "prompt_name",
            format!("prompt `{name}` is not defined for this model"),
        )
        .into());
    }
    if request
        .truncation_direction
        .as_deref()
        .is_some_and(|d| !d.eq_ignore_ascii_case("right"))
    {
        return Err(ApiError::invalid(
            "truncation_direction",
            "only `Right` truncation is supported",
        )
        .into());
    }
    let name = state.registry.default_name().to_owned();
    let dimensions = match request.dimensions {
        Some(d) => Some(check_dimensions(d, state.dimensions_of(&name))?),
        None => None,
    };
    if let (false, EmbedInput::Texts(texts)) = (request.truncate.unwrap_or(false), &input) {
        state.refuse_overlong(&name, "inputs", texts).await?;
    }
    let policy = FallbackPolicy::SAME_SPACE;
    let mut encoded = state.embed(Some(&name), &input, policy).await?;
    shorten(
        &mut encoded.embeddings.vectors,
        dimensions,
        encoded.model.dimensions(),
    )?;
    let response = Json(&encoded.embeddings.vectors).into_response();
    Ok(with_model_header(response, encoded.model.name()))
}

/// The body of `POST /tokenize`.
#[derive(Debug, Deserialize)]
pub struct TokenizeRequest {
    /// A string or an array of strings.
    #[serde(default)]
    pub inputs: Value,
    /// Whether to add the model's special tokens (default: yes).
    #[serde(default)]
    pub add_special_tokens: Option<bool>,
}

/// `POST /tokenize`: each input's tokens, untruncated.
pub async fn tokenize(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<TokenizeRequest, TeiError>,
) -> Result<Json<Value>, TeiError> {
    let texts = match EmbedInput::from_openai(request.inputs, "inputs")? {
        EmbedInput::Texts(texts) => texts,
        EmbedInput::Tokens(_) => {
            return Err(ApiError::invalid(
                "inputs",
                "`inputs` must be a string or an array of strings",
            )
            .into())
        }
    };
    EmbedInput::Texts(texts.clone()).check("inputs", state.limits.max_inputs)?;
    let model = state.registry.get_default().await?;
    let tokens = model
        .tokenize(&texts, request.add_special_tokens.unwrap_or(true))
        .await?;
    let body: Vec<Vec<Value>> = tokens
        .iter()
        .map(|seq| {
            seq.iter()
                .map(|t| json!({"id": t.id, "text": t.text, "special": t.special, "start": t.start, "stop": t.stop}))
                .collect()
        })
        .collect();
    Ok(Json(json!(body)))
}

/// `GET /info`: the default model, as TEI describes the one it serves.
pub async fn info(State(state): State<AppState>) -> Result<Json<Value>, TeiError> {
    let model = state.registry.get_default().await?;
    let info = model.info();
    Ok(Json(json!({
        "model_id": info.model_id,
        "model_sha": null,
        "model_dtype": "float32",
        "model_type": { "embedding": { "pooling": "mean" } },
        "max_concurrent_requests": 512,
        "max_input_length": info.max_tokens,
        "max_batch_tokens": info.max_tokens * state.limits.max_inputs,
        "max_client_batch_size": state.limits.max_inputs,
        "auto_truncate": false,
        "tokenization_workers": 1,
        "version": env!("CARGO_PKG_VERSION"),
        "embedd": { "name": info.name, "provider": info.provider.as_str(), "dimensions": info.dimensions },
    })))
}

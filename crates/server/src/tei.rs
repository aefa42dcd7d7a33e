//! The Hugging Face text-embeddings-inference dialect: `POST /embed`, `POST /embed_sparse`,
//! `POST /tokenize`,
//! `GET /info`, on the default model (TEI serves one). Errors are TEI's
//! `{"error": "...", "error_type": "..."}` with TEI's statuses ([`crate::error::ErrorCode::tei`]).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::config::Precision;
use embedd_core::{EmbedRequest, Input, Output, Outputs};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::body::JsonBody;
use crate::error::{ApiError, TeiError};
use crate::input::{parse_input, parse_texts};
use crate::openai::with_model_header;
use crate::state::AppState;

/// The body of `POST /embed`.
#[derive(Debug, Deserialize)]
pub struct EmbedBody {
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

/// `POST /embed`, on the default model (TEI serves one).
pub async fn embed(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<EmbedBody, TeiError>,
) -> Result<Response, TeiError> {
    let embed = embed_request(request, Outputs::DENSE)?;
    let encoded = state.embed(embed).await?;
    let response = Json(&encoded.embeddings.vectors).into_response();
    Ok(with_model_header(response, encoded.model.name()))
}

/// One entry of TEI's sparse answer.
#[derive(Serialize)]
struct SparseValue {
    index: u32,
    value: f32,
}

/// `POST /embed_sparse`: TEI's shape, `[[{"index", "value"}, ...], ...]`, from a model with a
/// sparse output (BGE-M3's head); any other model is a 422 naming what it gives.
pub async fn embed_sparse(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<EmbedBody, TeiError>,
) -> Result<Response, TeiError> {
    if request.dimensions.is_some() {
        return Err(
            ApiError::invalid("dimensions", "`dimensions` applies to dense vectors only").into(),
        );
    }
    let embed = embed_request(request, Outputs::of(&[Output::Sparse]))?;
    let encoded = state.embed(embed).await?;
    let answer: Vec<Vec<SparseValue>> = encoded
        .embeddings
        .sparse
        .iter()
        .map(|sparse| {
            sparse
                .indices
                .iter()
                .zip(&sparse.values)
                .map(|(index, value)| SparseValue {
                    index: *index,
                    value: *value,
                })
                .collect()
        })
        .collect();
    Ok(with_model_header(
        Json(answer).into_response(),
        encoded.model.name(),
    ))
}

/// The request `/embed` and `/embed_sparse` describe, for `outputs`.
fn embed_request(request: EmbedBody, outputs: Outputs) -> Result<EmbedRequest, TeiError> {
    if request.normalize == Some(false) {
        return Err(ApiError::invalid("normalize", "`normalize: false` is not supported: embedd's models return the vectors their sentence-transformers modules define").into());
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
    let mut embed = EmbedRequest::new(parse_input(request.inputs, "inputs")?, "inputs");
    embed.truncate = request.truncate.unwrap_or(false);
    embed.dimensions = request.dimensions;
    embed.prompt_name = request.prompt_name;
    embed.outputs = outputs;
    Ok(embed)
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
    let texts = parse_texts(request.inputs, "inputs")?;
    Input::Texts(texts.clone()).check("inputs", state.limits.max_inputs)?;
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

/// `GET /info`: the default model, as TEI describes the one it serves. Only what embedd knows:
/// pooling and dtype for the models it runs itself; left out for remote and hash models.
pub async fn info(State(state): State<AppState>) -> Result<Json<Value>, TeiError> {
    let model = state.registry.get_default().await?;
    let info = model.info();
    let embedding = match &info.pooling {
        Some(pooling) => json!({ "pooling": pooling }),
        None => json!({}),
    };
    let mut body = json!({
        "model_id": info.model_id,
        "model_sha": null,
        "model_type": { "embedding": embedding },
        "max_input_length": info.max_tokens,
        "max_batch_tokens": state.limits.max_tokens_per_request,
        "max_client_batch_size": state.limits.max_inputs,
        "auto_truncate": false,
        "version": env!("CARGO_PKG_VERSION"),
        "embedd": { "name": info.name, "provider": info.provider.as_str(), "dimensions": info.dimensions },
    });
    if let Some(precision) = info.precision {
        body["model_dtype"] = json!(match precision {
            Precision::F32 => "float32",
            Precision::Int8 => "int8",
        });
    }
    Ok(Json(body))
}

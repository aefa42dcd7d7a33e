//! The Hugging Face text-embeddings-inference dialect: `POST /embed`, `POST /embed_sparse`,
//! `POST /tokenize`,
//! `GET /info`, on the default model (TEI serves one). Errors are TEI's
//! `{"error": "...", "error_type": "..."}` with TEI's statuses ([`crate::error::ErrorCode::tei`]).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::config::Precision;
use embedd_core::{EmbedRequest, Input, Output, Outputs, Token};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::error::{ApiError, ErrorCode, TeiError};
use crate::input::{parse_input, parse_texts, token_ids_header, InputSchema, TextsSchema};
use crate::openai::with_model_header;
use crate::openapi::TeiErrors;
use crate::state::AppState;

/// The body of `POST /embed` and `POST /embed_sparse`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = TeiEmbedRequest)]
pub struct EmbedBody {
    /// A string, an array of strings, or token ids.
    #[serde(default)]
    #[schema(value_type = InputSchema, required = true)]
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
#[utoipa::path(
    post,
    path = "/embed",
    operation_id = "teiEmbed",
    tag = "TEI",
    summary = "Embed on the default model (text-embeddings-inference's API)",
    request_body = EmbedBody,
    responses((status = 200, description = "One vector per input", body = Vec<Vec<f32>>), TeiErrors)
)]
pub async fn embed(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request, _): JsonBody<EmbedBody, TeiError>,
) -> Result<Response, TeiError> {
    let mut embed = embed_request(request, Outputs::DENSE)?;
    embed.token_ids = token_ids_header(&headers)?;
    let encoded = state.embed(embed).await?;
    let response = Json(&encoded.embeddings.vectors).into_response();
    Ok(with_model_header(response, encoded.model.name()))
}

/// One entry of TEI's sparse answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SparseValue {
    /// A token id of the model's vocabulary.
    pub index: u32,
    /// Its weight.
    pub value: f32,
}

/// `POST /embed_sparse`: TEI's shape, `[[{"index", "value"}, ...], ...]`, from a model with a
/// sparse output (BGE-M3's head); any other model is a 422 naming what it gives.
#[utoipa::path(
    post,
    path = "/embed_sparse",
    operation_id = "teiEmbedSparse",
    tag = "TEI",
    summary = "Sparse (lexical) vectors from a model with a sparse head, such as BGE-M3",
    request_body = EmbedBody,
    responses((status = 200, description = "One sparse vector per input", body = Vec<Vec<SparseValue>>), TeiErrors)
)]
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
    check_truncation_direction(
        request.truncation_direction.as_deref(),
        "truncation_direction",
    )?;
    let mut embed = EmbedRequest::new(parse_input(request.inputs, "inputs")?, "inputs");
    embed.truncate = request.truncate.unwrap_or(false);
    embed.dimensions = request.dimensions;
    embed.prompt_name = request.prompt_name;
    embed.outputs = outputs;
    Ok(embed)
}

/// Refuses a TEI `truncation_direction` other than `Right`, the only direction embedd truncates
/// in, naming the request's `field`.
pub fn check_truncation_direction(direction: Option<&str>, field: &str) -> Result<(), ApiError> {
    match direction.filter(|d| !d.eq_ignore_ascii_case("right")) {
        Some(direction) => Err(ApiError::invalid(
            field,
            format!("`{field}` is `{direction}`; only `Right` truncation is supported"),
        )),
        None => Ok(()),
    }
}

/// The body of `POST /tokenize`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = TeiTokenizeRequest)]
pub struct TokenizeRequest {
    /// A string or an array of strings.
    #[serde(default)]
    #[schema(value_type = TextsSchema, required = true)]
    pub inputs: Value,
    /// Whether to add the model's special tokens (default: yes).
    #[serde(default)]
    pub add_special_tokens: Option<bool>,
}

/// `POST /tokenize`: each input's tokens, untruncated, up to `server.max_tokens_per_request`
/// in all (413 past it).
#[utoipa::path(
    post,
    path = "/tokenize",
    operation_id = "teiTokenize",
    tag = "TEI",
    summary = "The default model's tokens for each input",
    request_body = TokenizeRequest,
    responses((status = 200, description = "Each input's tokens", body = Vec<Vec<Token>>), TeiErrors)
)]
pub async fn tokenize(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<TokenizeRequest, TeiError>,
) -> Result<Json<Vec<Vec<Token>>>, TeiError> {
    let texts = parse_texts(request.inputs, "inputs")?;
    Input::Texts(texts.clone()).check("inputs", state.limits.max_inputs)?;
    let model = state.registry.get_default().await?;
    let tokens = model
        .tokenize(&texts, request.add_special_tokens.unwrap_or(true))
        .await?;
    // The answer is an object per token: a request's worth of text could otherwise make an
    // answer fifty times its size (TEI #235). The same cap as embedding holds here.
    let total: usize = tokens.iter().map(Vec::len).sum();
    let limit = state.limits.max_tokens_per_request;
    if total > limit {
        return Err(ApiError::new(
            ErrorCode::TooManyTokens,
            format!("the inputs hold {total} tokens; at most {limit} can be listed in one request"),
        )
        .into());
    }
    Ok(Json(tokens))
}

/// The answer of `GET /info`, as TEI describes the model it serves.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TeiInfo)]
pub struct Info {
    /// The provider's id of the default model.
    pub model_id: String,
    /// Always null: embedd identifies weights by their own checksum, not a hub commit.
    pub model_sha: Option<String>,
    /// `float32` or `int8` for embedd's own models; left out for others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_dtype: Option<&'static str>,
    /// What kind of model it is.
    pub model_type: ModelType,
    /// Tokens read per input.
    pub max_input_length: usize,
    /// Tokens one request may hold.
    pub max_batch_tokens: usize,
    /// Inputs one request may hold.
    pub max_client_batch_size: usize,
    /// Always false: `/embed` refuses over-long inputs unless asked to truncate.
    pub auto_truncate: bool,
    /// embedd's version.
    pub version: &'static str,
    /// embedd's own description of the model.
    pub embedd: EmbeddInfo,
}

/// TEI's `model_type`: always an embedding model here.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelType {
    /// The pooling, where embedd runs the model itself.
    pub embedding: Pooling,
}

/// How token vectors become one vector.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pooling {
    /// `mean`, `cls`, `last_token`, ...; left out for remote and hash models.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pooling: Option<String>,
}

/// The default model as embedd names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddInfo {
    /// The registry name.
    pub name: String,
    /// The provider.
    pub provider: &'static str,
    /// The vector length.
    pub dimensions: usize,
}

/// `GET /info`: the default model, as TEI describes the one it serves. Only what embedd knows:
/// pooling and dtype for the models it runs itself; left out for remote and hash models.
#[utoipa::path(
    get,
    path = "/info",
    operation_id = "teiInfo",
    tag = "TEI",
    summary = "The default model, as TEI describes the model it serves",
    responses((status = 200, description = "The default model", body = Info), TeiErrors)
)]
pub async fn info(State(state): State<AppState>) -> Result<Json<Info>, TeiError> {
    let model = state.registry.get_default().await?;
    let info = model.info();
    Ok(Json(Info {
        model_id: info.model_id.clone(),
        model_sha: None,
        model_dtype: info.precision.map(|p| match p {
            Precision::F32 => "float32",
            Precision::Int8 => "int8",
        }),
        model_type: ModelType {
            embedding: Pooling {
                pooling: info.pooling.clone(),
            },
        },
        max_input_length: info.max_tokens,
        max_batch_tokens: state.limits.max_tokens_per_request,
        max_client_batch_size: state.limits.max_inputs,
        auto_truncate: false,
        version: env!("CARGO_PKG_VERSION"),
        embedd: EmbeddInfo {
            name: info.name.clone(),
            provider: info.provider.as_str(),
            dimensions: info.dimensions,
        },
    }))
}

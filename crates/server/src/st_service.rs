//! The seed's sentence-transformers service dialect: `POST /encode` `{"texts"}` → `{"embeddings"}`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::{EmbedRequest, Input};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::error::{ApiError, PlainError};
use crate::openai::with_model_header;
use crate::openapi::PlainErrors;
use crate::state::AppState;

/// The body of `POST /encode`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EncodeRequest {
    /// The texts.
    #[serde(default)]
    #[schema(required = true)]
    pub texts: Option<Vec<String>>,
    /// The model (an extension; the seed's service serves one).
    #[serde(default)]
    pub model: Option<String>,
}

/// The answer of `POST /encode`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EncodeResponse {
    /// One vector per text, in order.
    pub embeddings: Vec<Vec<f32>>,
}

/// `POST /encode`.
#[utoipa::path(
    post,
    path = "/encode",
    operation_id = "stEncode",
    tag = "sentence-transformers service",
    summary = "Embed texts (the seed's sentence-transformers service)",
    request_body = EncodeRequest,
    responses((status = 200, description = "One vector per text", body = EncodeResponse), PlainErrors)
)]
pub async fn encode(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<EncodeRequest, PlainError>,
) -> Result<Response, PlainError> {
    let texts = request
        .texts
        .ok_or_else(|| ApiError::invalid("texts", "`texts` (an array of strings) is required"))?;
    let embed = EmbedRequest::new(Input::Texts(texts), "texts").with_model(request.model);
    let encoded = state.embed(embed).await?;
    let body = EncodeResponse {
        embeddings: encoded.embeddings.vectors,
    };
    Ok(with_model_header(
        Json(body).into_response(),
        encoded.model.name(),
    ))
}

//! The seed's sentence-transformers service dialect: `POST /encode` `{"texts"}` → `{"embeddings"}`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::{EmbedRequest, Input};
use serde::Deserialize;
use serde_json::json;

use crate::body::JsonBody;
use crate::error::{ApiError, PlainError};
use crate::openai::with_model_header;
use crate::state::AppState;

/// The body of `POST /encode`.
#[derive(Debug, Deserialize)]
pub struct EncodeRequest {
    /// The texts.
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// The model (an extension; the seed's service serves one).
    #[serde(default)]
    pub model: Option<String>,
}

/// `POST /encode`.
pub async fn encode(
    State(state): State<AppState>,
    JsonBody(request, _): JsonBody<EncodeRequest, PlainError>,
) -> Result<Response, PlainError> {
    let texts = request
        .texts
        .ok_or_else(|| ApiError::invalid("texts", "`texts` (an array of strings) is required"))?;
    let embed = EmbedRequest::new(Input::Texts(texts), "texts").with_model(request.model);
    let encoded = state.embed(embed).await?;
    let body = json!({ "embeddings": encoded.embeddings.vectors });
    Ok(with_model_header(
        Json(body).into_response(),
        encoded.model.name(),
    ))
}

//! Operations routes: liveness, readiness, and JSON answers for unknown routes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// `GET /health`: the process is up.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /ready`: the default model is built and healthy, so requests will be served.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let name = state.registry.default_name().to_owned();
    let status = match state.registry.get(&name) {
        Ok(model) => match model.health().await {
            Ok(()) => Ok(()),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    match status {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "model": name })),
        ),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "model": name, "reason": reason })),
        ),
    }
}

/// Any unknown path.
pub async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such route; see GET /v1/models and POST /v1/embeddings",
    )
}

/// A known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that HTTP method",
    )
}

//! Operations routes: liveness, readiness, and JSON answers for unknown routes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The answer of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// The answer of `GET /ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// The default model.
    pub model: String,
    /// Why the model cannot serve, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /health`: the process is up.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "Operations",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "Up", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /ready`: the default model is built and healthy, so requests will be served.
#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "Operations",
    summary = "Readiness: the default model is built and healthy",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready, with the reason", body = Readiness)
    )
)]
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
            Json(Readiness {
                status: "ready",
                model: name,
                reason: None,
            }),
        ),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: "not_ready",
                model: name,
                reason: Some(reason),
            }),
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

//! Operations routes: liveness, readiness, and JSON answers for unknown routes.

use std::time::Duration;

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
    /// `ready`, `degraded` (answering, but the default model's remote provider is down),
    /// `not_ready` (loading, or a model embedd runs itself failed) or `draining`.
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

/// How long a model's health check may hold `/ready` (probes time out after a second or two).
const HEALTH_WAIT: Duration = Duration::from_secs(2);

/// `GET /ready`: whether this replica can answer. 503 while the default model loads, when a model
/// embedd runs itself fails its check, and while draining; 200 `degraded` when the default model
/// is remote and its provider does not answer: this replica is fine, and taking every replica out
/// of the load balancer for a shared upstream's outage would turn the fallback chain's answers
/// into connection errors.
#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "Operations",
    summary = "Readiness: this replica can answer (ready, or degraded when a remote default model is down)",
    responses(
        (status = 200, description = "Ready, or degraded (a remote default model's provider is down)", body = Readiness),
        (status = 503, description = "Loading, a local model failed, or draining; with the reason", body = Readiness)
    )
)]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let name = state.registry.default_name().to_owned();
    let (status, state_name, reason) = if state.lifecycle.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            Some("shutting down".to_owned()),
        )
    } else {
        match state.registry.get(&name) {
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                Some(e.to_string()),
            ),
            Ok(model) => {
                let checked = match tokio::time::timeout(HEALTH_WAIT, model.health()).await {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no health answer within {HEALTH_WAIT:?}")),
                };
                match checked {
                    Ok(()) => (StatusCode::OK, "ready", None),
                    Err(reason) if model.provider().is_remote() => {
                        (StatusCode::OK, "degraded", Some(reason))
                    }
                    Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready", Some(reason)),
                }
            }
        }
    };
    metrics::gauge!("embedd_ready").set(if status == StatusCode::OK { 1.0 } else { 0.0 });
    metrics::gauge!("embedd_degraded").set(if state_name == "degraded" { 1.0 } else { 0.0 });
    (
        status,
        Json(Readiness {
            status: state_name,
            model: name,
            reason,
        }),
    )
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

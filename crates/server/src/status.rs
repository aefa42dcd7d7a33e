//! The status page a person reads at `/`: models with provider, dimensions, space, health and
//! circuit state; request count, rate and latency; the cache hit rate. One static page that
//! refreshes itself every two seconds from `/metrics`, `/ready` and `GET /status/models`, so it
//! moves without a reload and reads on a phone.

use std::time::Duration;

use axum::extract::State;
use axum::response::Html;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// How long a model's health check may hold the status answer.
const HEALTH_WAIT: Duration = Duration::from_secs(1);

/// `GET /`.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "statusPage",
    tag = "Pages",
    summary = "The status page (HTML, refreshes itself)",
    responses((status = 200, description = "The page", content_type = "text/html", body = String))
)]
pub async fn page() -> Html<&'static str> {
    Html(include_str!("status.html"))
}

/// The answer of `GET /status/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsStatus {
    /// Every configured model.
    pub models: Vec<ModelStatus>,
}

/// One model's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelStatus {
    /// The registry name.
    pub name: String,
    /// The provider.
    pub provider: &'static str,
    /// The vector length, once known.
    pub dimensions: Option<usize>,
    /// The vector space.
    pub space: String,
    /// Whether it is the default model.
    pub default: bool,
    /// Whether it is built.
    pub loaded: bool,
    /// Whether it is built and its health check passed within a second.
    pub healthy: bool,
    /// Whether its circuit breaker is open (requests skip it for now).
    pub circuit_open: bool,
}

/// `GET /status/models`: each model's listing, whether it is loaded and healthy, and its circuit.
#[utoipa::path(
    get,
    path = "/status/models",
    operation_id = "statusModels",
    tag = "Pages",
    summary = "Each model's health and circuit, for the status page",
    responses((status = 200, description = "Every model's state", body = ModelsStatus))
)]
pub async fn models(State(state): State<AppState>) -> Json<ModelsStatus> {
    let registry = &state.registry;
    let mut models = Vec::new();
    for handle in registry.handles() {
        let listing = handle.listing();
        let healthy = match handle.built() {
            Some(model) => matches!(
                tokio::time::timeout(HEALTH_WAIT, model.health()).await,
                Ok(Ok(()))
            ),
            None => false,
        };
        models.push(ModelStatus {
            default: listing.name == registry.default_name(),
            name: listing.name,
            provider: listing.provider.as_str(),
            dimensions: listing.dimensions,
            space: listing.space,
            loaded: listing.loaded,
            healthy,
            circuit_open: handle.circuit_open(),
        });
    }
    Json(ModelsStatus { models })
}

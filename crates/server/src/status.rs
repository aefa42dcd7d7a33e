//! The status page a person reads at `/`: models with provider, dimensions, space, health and
//! circuit state; request count, rate and latency; the cache hit rate. One static page that
//! refreshes itself every two seconds from `/metrics`, `/ready` and `GET /status/models`, so it
//! moves without a reload and reads on a phone.

use std::time::Duration;

use axum::extract::State;
use axum::response::Html;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// How long a model's health check may hold the status answer.
const HEALTH_WAIT: Duration = Duration::from_secs(1);

/// `GET /`.
pub async fn page() -> Html<&'static str> {
    Html(include_str!("status.html"))
}

/// `GET /status/models`: each model's listing, whether it is loaded and healthy, and its circuit.
pub async fn models(State(state): State<AppState>) -> Json<Value> {
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
        models.push(json!({
            "name": listing.name,
            "provider": listing.provider.as_str(),
            "dimensions": listing.dimensions,
            "space": listing.space,
            "default": listing.name == registry.default_name(),
            "loaded": listing.loaded,
            "healthy": healthy,
            "circuit_open": handle.circuit_open(),
        }));
    }
    Json(json!({ "models": models }))
}

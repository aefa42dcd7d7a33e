//! embedd's HTTP server: the routes that existing clients already speak, over one model registry.
//!
//! # Layout
//!
//! A request reads top-down: route → the dialect parses its JSON into one
//! [`embedd_core::EmbedRequest`] → [`AppState::embed`] → `Registry::embed` (the one pipeline, in
//! `embedd-core`) → the dialect renders the result, or the error through [`error::ErrorCode`].
//!
//! - [`state`]: [`AppState`], what every handler shares (the registry and the limits).
//! - [`error`]: [`ApiError`] and the [`error::ErrorCode`] table that decides every dialect's status.
//! - [`body`]: reading a JSON body within the size limit, with errors in the dialect's shape.
//! - [`input`]: reading the OpenAI `input` field (text, texts, token ids) from JSON.
//! - [`openai`]: `POST /v1/embeddings`, `GET /v1/models`.
//! - [`seed`]: the seed's `POST /v1/embeddings/generate`.
//! - [`ollama`]: Ollama's `POST /api/embed`, `POST /api/embeddings`, `GET /api/tags`.
//! - [`tei`]: text-embeddings-inference's `POST /embed`, `POST /tokenize`, `GET /info`.
//! - [`st_service`]: the seed's sentence-transformers service, `POST /encode`.
//! - [`ops`]: `GET /health`, `GET /ready`.
//! - [`metrics`]: `GET /metrics`, Prometheus' text format.
//! - [`status`]: the status page at `/`, live from `/metrics` and `/status/models`.
//! - [`auth`]: API keys (`Authorization: Bearer`) and per-key rate limits, a middleware.
//! - [`request_log`]: a request id and one log line per request, never with input text.
#![deny(missing_docs)]

pub mod auth;
pub mod body;
pub mod error;
pub mod input;
pub mod metrics;
pub mod ollama;
pub mod openai;
pub mod ops;
pub mod request_log;
pub mod seed;
pub mod st_service;
pub mod state;
pub mod status;
pub mod tei;

use std::future::Future;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use state::{AppState, Limits};

/// Every route, with the body limit and request logging applied.
pub fn router(state: AppState) -> Router {
    metrics::install();
    let body_limit = state.limits.body_limit;
    let access = state.access.clone();
    let router = Router::new()
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/models", get(openai::list_models))
        .route("/v1/models/{*model}", get(openai::get_model))
        .route("/v1/embeddings/generate", post(seed::generate))
        .route("/api/embed", post(ollama::embed))
        .route("/api/embeddings", post(ollama::embeddings))
        .route("/api/tags", get(ollama::tags))
        .route("/api/version", get(ollama::version))
        .route("/embed", post(tei::embed))
        .route("/embed_sparse", post(tei::embed_sparse))
        .route("/tokenize", post(tei::tokenize))
        .route("/info", get(tei::info))
        .route("/encode", post(st_service::encode))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(metrics::render))
        .route("/", get(status::page))
        .route("/status/models", get(status::models))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit));
    // Keys are checked inside the request log, so refusals are logged (and counted) too.
    let router = match access {
        Some(access) => router.layer(axum::middleware::from_fn_with_state(
            access,
            auth::require_key,
        )),
        None => router,
    };
    router
        .layer(axum::middleware::from_fn(request_log::log_request))
        .with_state(state)
}

/// Serve on `listener` until `shutdown` completes, then finish the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

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
//! - [`rerank`]: reranking on a cross-encoder: TEI's `POST /rerank`, Cohere's and Jina's
//!   `POST /v1/rerank` (and `/v2/rerank`).
//! - [`similarity`]: text-embeddings-inference's `POST /similarity`, on any embedding model.
//! - [`st_service`]: the seed's sentence-transformers service, `POST /encode`.
//! - [`ops`]: `GET /health`, `GET /ready`.
//! - [`metrics`]: `GET /metrics`, Prometheus' text format.
//! - [`status`]: the status page at `/`, live from `/metrics` and `/status/models`.
//! - [`openapi`]: `GET /openapi.json`, generated from the handlers' own types, and `GET /docs`.
//! - [`listen`]: accepting connections with header timeouts and size bounds, and closing them
//!   gracefully.
//! - [`lifecycle`]: draining after SIGTERM: new requests 503, requests in flight finish.
//! - [`auth`]: API keys (`Authorization: Bearer`) and per-key rate limits, a middleware.
//! - [`request_log`]: a request id and one log line per request, never with input text.
#![deny(missing_docs)]

pub mod auth;
pub mod body;
pub mod error;
pub mod input;
pub mod lifecycle;
pub mod listen;
pub mod metrics;
pub mod ollama;
pub mod openai;
pub mod openapi;
pub mod ops;
pub mod request_log;
pub mod rerank;
pub mod seed;
pub mod similarity;
pub mod st_service;
pub mod state;
pub mod status;
pub mod tei;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Extension, Router};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub use state::{AppState, Limits};

/// Every route, with the body limit and request logging applied.
pub fn router(state: AppState) -> Router {
    metrics::install();
    let body_limit = state.limits.body_limit;
    let body_timeout = state.limits.body_timeout;
    let access = state.access.clone();
    // Each route is registered together with its description, so `/openapi.json` lists them all.
    let (router, description) = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(openai::embeddings))
        .routes(routes!(openai::list_models))
        .route("/v1/models/{*model}", get(openai::get_model))
        .routes(routes!(seed::generate))
        .routes(routes!(ollama::embed))
        .routes(routes!(ollama::embeddings))
        .routes(routes!(ollama::tags))
        .routes(routes!(ollama::version))
        .routes(routes!(tei::embed))
        .routes(routes!(tei::embed_sparse))
        .routes(routes!(tei::tokenize))
        .routes(routes!(tei::info))
        .routes(routes!(similarity::similarity))
        .routes(routes!(rerank::tei_rerank))
        .routes(routes!(rerank::rerank_v1))
        .routes(routes!(rerank::rerank_v2))
        .routes(routes!(st_service::encode))
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(metrics::render))
        .routes(routes!(status::page))
        .routes(routes!(status::models))
        .routes(routes!(openapi::spec))
        .routes(routes!(openapi::docs))
        .split_for_parts();
    let spec = openapi::Spec(Arc::from(description.to_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the API description could not be serialised");
        "{}".to_owned()
    })));
    let lifecycle_state = state.clone();
    let router = router
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(Extension(spec))
        .layer(Extension(body::BodyTimeout(body_timeout)))
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
        .layer(axum::middleware::from_fn_with_state(
            lifecycle_state,
            lifecycle::refuse_while_draining,
        ))
        .layer(axum::middleware::from_fn(request_log::log_request))
        .with_state(state)
}

/// Serve on `listener` until `shutdown` completes, then finish the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = listen::ConnectionLimits {
        header_timeout: state.limits.header_timeout,
        max_header_bytes: state.limits.max_header_bytes,
    };
    listen::serve_connections(listener, router(state), limits, shutdown).await
}

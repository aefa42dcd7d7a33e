//! What every handler shares, and the one call every embedding route makes.

use std::sync::Arc;

use embedd_core::{EmbedRequest, Encoded, Registry, RequestLimits};

use crate::error::ApiError;

/// Request limits (DESIGN §6).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most inputs in one request.
    pub max_inputs: usize,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Most tokens the inputs of one request may hold together.
    pub max_tokens_per_request: usize,
    /// The longest a client may take to send a request's line and headers (or idle between
    /// requests on a kept-alive connection).
    pub header_timeout: std::time::Duration,
    /// The longest a client may take to send a request's body.
    pub body_timeout: std::time::Duration,
    /// The largest request line and headers, in bytes.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let request = RequestLimits::default();
        Self {
            max_inputs: request.max_inputs,
            body_limit: 2 * 1024 * 1024,
            max_tokens_per_request: request.max_tokens_per_request,
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
        }
    }
}

impl Limits {
    /// The limits the request pipeline holds every request to.
    pub fn request(&self) -> RequestLimits {
        RequestLimits {
            max_inputs: self.max_inputs,
            max_tokens_per_request: self.max_tokens_per_request,
        }
    }
}

/// The handlers' shared state: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The models.
    pub registry: Arc<Registry>,
    /// The request limits.
    pub limits: Limits,
    /// API keys and their rate limits; `None`: every route is open.
    pub access: Option<Arc<crate::auth::Access>>,
    /// Whether the server is draining before it stops.
    pub lifecycle: Arc<crate::lifecycle::Lifecycle>,
}

impl AppState {
    /// Apply one request through the registry's pipeline, logging counts and sizes, never the text.
    pub async fn embed(&self, request: EmbedRequest) -> Result<Encoded, ApiError> {
        let started = std::time::Instant::now();
        let (inputs, input_size) = (request.input.len(), request.input.total_len());
        let encoded = self.registry.embed(request, &self.limits.request()).await?;
        crate::auth::charge_tokens(encoded.embeddings.prompt_tokens);
        tracing::info!(
            model = %encoded.model.name(),
            inputs,
            input_size,
            tokens = encoded.embeddings.prompt_tokens,
            fell_back = encoded.fell_back,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "embedded"
        );
        Ok(encoded)
    }
}

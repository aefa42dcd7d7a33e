//! The server's last seconds. After SIGTERM it drains: requests already in flight finish, new ones
//! get a 503 in their dialect's shape (with `Retry-After` and `Connection: close`, so clients go
//! to another replica), `/ready` answers 503 so the load balancer takes this replica out, and
//! `/health` and `/metrics` still answer. Then it stops accepting connections.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::header::CONNECTION;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{in_dialect_of, ApiError, ErrorCode};
use crate::state::AppState;

/// Routes that answer as usual while draining: the probes and the metrics, so the orchestrator
/// and the monitoring see the drain happen.
const ANSWERED_WHILE_DRAINING: [&str; 3] = ["/health", "/ready", "/metrics"];

/// Whether the server is draining.
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: AtomicBool,
}

impl Lifecycle {
    /// Start draining; there is no way back.
    pub fn drain(&self) {
        if !self.draining.swap(true, Ordering::SeqCst) {
            tracing::info!("draining: new requests get 503, requests in flight finish");
            metrics::gauge!("embedd_draining").set(1.0);
        }
    }

    /// Whether [`Lifecycle::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// Middleware: while draining, a new request is refused with a 503 in its dialect's shape.
pub async fn refuse_while_draining(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !state.lifecycle.is_draining() {
        return next.run(request).await;
    }
    let route = crate::request_log::matched_route(&request).unwrap_or_default();
    if ANSWERED_WHILE_DRAINING.contains(&route.as_str()) {
        return next.run(request).await;
    }
    let mut error = ApiError::new(
        ErrorCode::Unavailable,
        "this server is shutting down; send the request again (another replica will answer)",
    );
    error.retry_after = Some(1);
    let mut response = in_dialect_of(&route, error);
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

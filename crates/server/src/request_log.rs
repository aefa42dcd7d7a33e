//! One log line per request, with an id that also goes back in `x-request-id`; never input text.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The route `request` matched (`/v1/models/{*model}`), for logs, metrics and per-route rules;
/// never the raw path, which can carry anything a caller typed. `None` for an unknown path.
pub fn matched_route(request: &Request) -> Option<String> {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
}

/// Middleware: give the request an id (the caller's, if it is a short token), run it in a span
/// carrying that id, and log route, status and time when it ends.
pub async fn log_request(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:08x}", NEXT_ID.fetch_add(1, Ordering::Relaxed)));
    let route = matched_route(&request).unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let span = tracing::info_span!("request", id = %id);
    let work = embedd_core::with_request_id(Arc::from(id.as_str()), next.run(request));
    let mut response = work.instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics::counter!("embedd_requests_total", "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("embedd_request_duration_seconds", "route" => route.clone())
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            %method,
            route,
            status,
            ms = elapsed.as_secs_f64() * 1e3,
            "request"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

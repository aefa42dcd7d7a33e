//! `GET /metrics`: every counter, gauge and histogram the crates record through the `metrics`
//! facade, in Prometheus' text format, under the `embedd_` namespace (the README lists them).
//!
//! The recorder is installed once per process, when the first router is made; histograms of
//! seconds, texts and tokens get buckets so Prometheus can compute quantiles across replicas.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The process's recorder, or `None` when another recorder was installed first.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets, in seconds: a cached answer to a long batch.
const SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Size buckets for batches, in texts or tokens.
const SIZES: [f64; 12] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0,
];

/// Install the Prometheus recorder if no recorder is installed yet.
pub fn install() {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_texts".to_owned()), &SIZES))
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_tokens".to_owned()), &SIZES))
            .map(PrometheusBuilder::build_recorder);
        let recorder = match recorder {
            Ok(recorder) => recorder,
            Err(e) => {
                tracing::warn!(error = %e, "metrics are off: the recorder could not be made");
                return None;
            }
        };
        let handle = recorder.handle();
        match metrics::set_global_recorder(recorder) {
            Ok(()) => Some(handle),
            Err(_) => {
                tracing::warn!("metrics are off here: another recorder was installed first");
                None
            }
        }
    });
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "Operations",
    summary = "Prometheus metrics (text format, `embedd_` namespace; listed in the README)",
    responses((status = 200, description = "The metrics", content_type = "text/plain", body = String))
)]
pub async fn render() -> Response {
    let body = HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

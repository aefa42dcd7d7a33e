//! The whole router in process, over a hash model (no weights, no network): each input is sent as
//! the body of one request to a dialect's route, and the answer must be a 200 or a 4xx, never a
//! 5xx or a panic.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use embedd_core::{Config, Registry};
use embedd_providers::ProviderFactory;
use embedd_server::{AppState, Limits};
use tower::ServiceExt;

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let yaml = "embeddings:\n  default_model: h\n  models:\n    h: {provider: local, dimensions: 16}\n";
        let config = Config::from_yaml(yaml, &|_| None).expect("config");
        let registry = Arc::new(Registry::new(
            &config.embeddings,
            Arc::new(ProviderFactory::default()),
        ));
        let state = AppState {
            registry,
            limits: Limits::default(),
            access: None,
            lifecycle: Default::default(),
        };
        Harness {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            router: embedd_server::router(state),
        }
    })
}

/// POST `body` to `route`; panic (a finding) on a 5xx.
pub fn post(route: &str, body: &[u8]) {
    let harness = harness();
    let request = Request::post(route)
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("request");
    let response = harness
        .runtime
        .block_on(harness.router.clone().oneshot(request))
        .expect("infallible");
    let status = response.status();
    assert!(
        !status.is_server_error(),
        "{route} answered {status} to a body of {} bytes",
        body.len()
    );
}

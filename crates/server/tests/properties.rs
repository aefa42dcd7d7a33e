//! Property tests of every dialect's parsing: arbitrary JSON and arbitrary Unicode texts of any
//! size, sent through the real router over a hash model. Every answer is a 200 with one finite
//! vector per input, or a 4xx in the dialect's shape; never a 5xx or a panic.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use embedd_core::{Config, Registry};
use embedd_providers::ProviderFactory;
use embedd_server::{AppState, Limits};
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

fn router() -> axum::Router {
    let yaml =
        "embeddings:\n  default_model: h\n  models:\n    h: {provider: local, dimensions: 16}\n";
    let config = Config::from_yaml(yaml, &|_| None).expect("config");
    let registry = Arc::new(Registry::new(
        &config.embeddings,
        Arc::new(ProviderFactory::default()),
    ));
    embedd_server::router(AppState {
        registry,
        limits: Limits::default(),
        access: None,
        lifecycle: Default::default(),
    })
}

/// POST `body` to `route`: the status and the JSON answer (Null when not JSON).
fn post(
    runtime: &tokio::runtime::Runtime,
    router: &axum::Router,
    route: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = Request::post(route)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    runtime.block_on(async {
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    })
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::hash_map(
                prop_oneof![
                    Just("input".to_owned()),
                    Just("inputs".to_owned()),
                    Just("texts".to_owned()),
                    Just("text".to_owned()),
                    Just("model".to_owned()),
                    Just("dimensions".to_owned()),
                    Just("truncate".to_owned()),
                    Just("encoding_format".to_owned()),
                    Just("prompt".to_owned()),
                    Just("outputs".to_owned()),
                    ".{0,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const ROUTES: [&str; 6] = [
    "/v1/embeddings",
    "/v1/embeddings/generate",
    "/api/embed",
    "/api/embeddings",
    "/embed",
    "/encode",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_json_body_is_answered_200_or_4xx(body in any_json(), route in 0..ROUTES.len()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, answer) = post(&runtime, &router(), ROUTES[route], body.to_string().into_bytes());
        prop_assert!(status == 200 || (400..500).contains(&status), "{} -> {status}: {answer}", ROUTES[route]);
        if status != 200 {
            prop_assert!(!answer.is_null(), "a JSON error in the dialect's shape");
        }
    }

    #[test]
    fn any_bytes_are_answered_4xx_or_200(body in prop::collection::vec(any::<u8>(), 0..512), route in 0..ROUTES.len()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, _) = post(&runtime, &router(), ROUTES[route], body);
        prop_assert!(status == 200 || (400..500).contains(&status));
    }

    #[test]
    fn any_unicode_texts_get_one_finite_vector_each(
        texts in prop::collection::vec("\\PC{1,300}", 1..16),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let router = router();
        for (route, body) in [
            ("/v1/embeddings", json!({"input": texts})),
            ("/embed", json!({"inputs": texts})),
            ("/api/embed", json!({"input": texts})),
            ("/encode", json!({"texts": texts})),
        ] {
            let (status, answer) = post(&runtime, &router, route, body.to_string().into_bytes());
            prop_assert_eq!(status, 200, "{}: {}", route, answer);
            let vectors: Vec<&Value> = match route {
                "/v1/embeddings" => answer["data"].as_array().unwrap().iter().map(|d| &d["embedding"]).collect(),
                "/embed" => answer.as_array().unwrap().iter().collect(),
                _ => answer["embeddings"].as_array().unwrap().iter().collect(),
            };
            prop_assert_eq!(vectors.len(), texts.len());
            for vector in vectors {
                let values = vector.as_array().unwrap();
                prop_assert_eq!(values.len(), 16);
                prop_assert!(values.iter().all(|x| x.as_f64().is_some_and(f64::is_finite)));
            }
        }
    }
}

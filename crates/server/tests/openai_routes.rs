//! The OpenAI dialect end to end: real server, real socket, real hash models.

mod common;

use base64::Engine;
use common::{json, start, CONFIG};
use embedd_core::vector::cosine;
use embedd_server::Limits;
use serde_json::{json, Value};

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
}

#[tokio::test]
async fn a_string_and_an_array_of_strings() {
    let server = start(CONFIG, Limits::default()).await;
    let response = server
        .post(
            "/v1/embeddings",
            json!({"input": "hello world", "model": "local-hash"}),
        )
        .await;
    assert_eq!(response.headers()["x-embedd-model"], "local-hash");
    assert!(response.headers().contains_key("x-request-id"));
    let (status, body) = json(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "local-hash");
    assert_eq!(body["data"][0]["object"], "embedding");
    assert_eq!(body["data"][0]["index"], 0);
    let v = floats(&body["data"][0]["embedding"]);
    assert_eq!(v.len(), 384);
    assert!((norm(&v) - 1.0).abs() < 1e-5);
    assert_eq!(body["usage"]["prompt_tokens"], 2);
    assert_eq!(body["usage"]["total_tokens"], 2);

    let (status, body) = json(
        server
            .post("/v1/embeddings", json!({"input": ["a b", "c", "a b"]}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[2]["index"], 2);
    assert_eq!(data[0]["embedding"], data[2]["embedding"]);
    assert_eq!(body["usage"]["prompt_tokens"], 5);
}

#[tokio::test]
async fn base64_decodes_to_the_float_vector() {
    let server = start(CONFIG, Limits::default()).await;
    let request =
        |format: &str| json!({"input": ["the same text", "another"], "encoding_format": format});
    let (_, float) = json(server.post("/v1/embeddings", request("float")).await).await;
    let (status, b64) = json(server.post("/v1/embeddings", request("base64")).await).await;
    assert_eq!(status, 200);
    for i in 0..2 {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64["data"][i]["embedding"].as_str().unwrap())
            .unwrap();
        let decoded: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(decoded, floats(&float["data"][i]["embedding"]));
    }
}

#[tokio::test]
async fn dimensions_truncate_then_renormalise() {
    let server = start(CONFIG, Limits::default()).await;
    let (_, full) = json(
        server
            .post(
                "/v1/embeddings",
                json!({"input": "matryoshka dolls nest inside each other", "model": "wide-hash"}),
            )
            .await,
    )
    .await;
    let (status, short) = json(
        server
            .post("/v1/embeddings", json!({"input": "matryoshka dolls nest inside each other", "model": "wide-hash", "dimensions": 1024}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{short}");
    let full = floats(&full["data"][0]["embedding"]);
    let short = floats(&short["data"][0]["embedding"]);
    assert_eq!(short.len(), 1024);
    assert!((norm(&short) - 1.0).abs() < 1e-5);
    assert!(cosine(&short, &full[..1024]) > 0.99999);
}

#[tokio::test]
async fn models_are_listed_and_found_by_any_name() {
    let server = start(CONFIG, Limits::default()).await;
    let (status, body) = json(server.get("/v1/models").await).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["local-hash", "wide-hash", "unreachable"]);
    assert_eq!(body["data"][0]["object"], "model");
    let (status, body) = json(server.get("/v1/models/LOCAL-HASH").await).await;
    assert_eq!((status, body["id"].as_str()), (200, Some("local-hash")));
    let (status, body) = json(server.get("/v1/models/nope").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let server = start(CONFIG, Limits::default()).await;
    let (status, _) = json(server.get("/health").await).await;
    assert_eq!(status, 200);
    let (status, body) = json(server.get("/ready").await).await;
    assert_eq!(status, 503, "nothing is built before first use: {body}");
    server.registry.get_default().await.unwrap();
    let (status, body) = json(server.get("/ready").await).await;
    assert_eq!((status, body["model"].as_str()), (200, Some("local-hash")));
}

#[tokio::test]
async fn a_remote_failure_never_silently_changes_space() {
    let server = start(CONFIG, Limits::default()).await;
    // `unreachable` cannot answer and no model of its space can: the OpenAI route must not
    // answer with hash vectors the caller would store beside bge-m3 ones.
    let (status, body) = json(
        server
            .post(
                "/v1/embeddings",
                json!({"input": "x", "model": "unreachable"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["type"], "server_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unreachable"));
}

#[tokio::test]
async fn concurrent_requests_all_succeed() {
    let server = start(CONFIG, Limits::default()).await;
    let server = std::sync::Arc::new(server);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let (status, body) = json(
                    server
                        .post("/v1/embeddings", json!({"input": format!("text {i}")}))
                        .await,
                )
                .await;
                (
                    status,
                    body["data"][0]["embedding"].as_array().map(Vec::len),
                )
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), (200, Some(384)));
    }
}

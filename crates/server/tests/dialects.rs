//! The Ollama, TEI and sentence-transformers-service dialects: request and error shapes.

mod common;

use common::{json, start};
use embedd_server::Limits;
use serde_json::json;

const CONFIG: &str = "
embeddings:
  default_model: short-hash
  models:
    short-hash: {provider: local, dimensions: 64, max_tokens: 5}
    local-hash: {provider: local, dimensions: 384}
";

#[tokio::test]
async fn ollama_embed_and_its_errors() {
    let server = start(CONFIG, Limits::default()).await;
    let response = server
        .post(
            "/api/embed",
            json!({"model": "local-hash:latest", "input": ["a b", "c"]}),
        )
        .await;
    assert_eq!(response.headers()["x-embedd-model"], "local-hash");
    let (status, body) = json(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "local-hash");
    assert_eq!(body["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(body["embeddings"][0].as_array().unwrap().len(), 384);
    assert_eq!(body["prompt_eval_count"], 3);
    assert!(body["total_duration"].as_u64().is_some() && body["load_duration"].as_u64().is_some());

    let (status, body) = json(
        server
            .post(
                "/api/embed",
                json!({"model": "local-hash", "input": "x y", "dimensions": 16}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["embeddings"][0].as_array().map(Vec::len)),
        (200, Some(16))
    );

    // Truncation is Ollama's default; `truncate: false` with an over-long input is a 400.
    let long = "one two three four five six seven";
    let (status, body) = json(server.post("/api/embed", json!({"input": long})).await).await;
    assert_eq!((status, body["prompt_eval_count"].as_u64()), (200, Some(5)));
    let (status, body) = json(
        server
            .post("/api/embed", json!({"input": long, "truncate": false}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("7 tokens"),
        "{body}"
    );

    for (request, status) in [
        (json!({"model": "nope", "input": "x"}), 404),
        (json!({"input": 5}), 400),
        (json!({"input": [1, 2]}), 400),
        (json!({"input": []}), 400),
        (json!({"input": "x", "dimensions": 0}), 400),
    ] {
        let (got, body) = json(server.post("/api/embed", request.clone()).await).await;
        assert_eq!(got, status, "{request} -> {body}");
        assert!(
            body["error"].is_string(),
            "Ollama's shape is {{\"error\": \"...\"}}: {body}"
        );
    }
    let (status, body) = json(server.post_raw("/api/embed", b"{not json".to_vec()).await).await;
    assert_eq!((status, body["error"].is_string()), (400, true));
}

#[tokio::test]
async fn ollama_legacy_embeddings_tags_and_version() {
    let server = start(CONFIG, Limits::default()).await;
    let (status, body) = json(
        server
            .post(
                "/api/embeddings",
                json!({"model": "local-hash", "prompt": "test"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["embedding"].as_array().map(Vec::len)),
        (200, Some(384))
    );
    let (status, body) = json(
        server
            .post("/api/embeddings", json!({"model": "local-hash"}))
            .await,
    )
    .await;
    assert_eq!((status, body["error"].is_string()), (400, true));
    let (status, body) = json(server.get("/api/tags").await).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["short-hash:latest", "local-hash:latest"]);
    let (status, body) = json(server.get("/api/version").await).await;
    assert_eq!((status, body["version"].is_string()), (200, true));
}

#[tokio::test]
async fn tei_embed_and_its_errors() {
    let server = start(CONFIG, Limits::default()).await;
    let (status, body) = json(
        server
            .post("/embed", json!({"inputs": ["a b", "c"], "truncate": true}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 2);
    assert_eq!(body[0].as_array().unwrap().len(), 64);
    let (status, body) = json(
        server
            .post("/embed", json!({"inputs": "a b", "dimensions": 8}))
            .await,
    )
    .await;
    assert_eq!((status, body[0].as_array().map(Vec::len)), (200, Some(8)));

    // TEI refuses over-long inputs unless asked to truncate: 413, error_type Validation.
    let (status, body) = json(
        server
            .post("/embed", json!({"inputs": "one two three four five six"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["error_type"].as_str()),
        (413, Some("Validation")),
        "{body}"
    );
    for request in [
        json!({"inputs": []}),
        json!({"inputs": ""}),
        json!({"inputs": 5}),
        json!({"inputs": "a", "normalize": false}),
        json!({"inputs": "a", "prompt_name": "query"}),
    ] {
        let (status, body) = json(server.post("/embed", request.clone()).await).await;
        assert_eq!(status, 422, "{request} -> {body}");
        assert_eq!(body["error_type"], "Validation");
        assert!(body["error"].is_string());
    }
    let inputs: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let (status, _) = json(server.post("/embed", json!({"inputs": inputs})).await).await;
    assert_eq!(status, 413, "over a size limit: TEI's 413");
    // The hash model has no tokenizer to show.
    let (status, body) = json(server.post("/tokenize", json!({"inputs": "a"})).await).await;
    assert_eq!(
        (status, body["error_type"].as_str()),
        (422, Some("Validation")),
        "{body}"
    );
    let (status, body) = json(server.get("/info").await).await;
    assert_eq!((status, body["max_input_length"].as_u64()), (200, Some(5)));
}

#[tokio::test]
async fn tei_embed_sparse_on_a_model_without_a_sparse_output_says_what_it_gives() {
    let server = start(CONFIG, Limits::default()).await;
    for request in [
        json!({"inputs": "a"}),
        json!({"inputs": "a", "dimensions": 8}),
        json!({"inputs": []}),
    ] {
        let (status, body) = json(server.post("/embed_sparse", request.clone()).await).await;
        assert_eq!(status, 422, "{request} -> {body}");
        assert_eq!(body["error_type"], "Validation", "{body}");
    }
    let (_, body) = json(server.post("/embed_sparse", json!({"inputs": "a"})).await).await;
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("gives dense"),
        "{body}"
    );
}

#[tokio::test]
async fn the_sentence_transformers_service_route() {
    let server = start(CONFIG, Limits::default()).await;
    let (status, body) = json(
        server
            .post(
                "/encode",
                json!({"texts": ["test", "another test"], "model": "local-hash"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(body["embeddings"][1].as_array().unwrap().len(), 384);
    for request in [
        json!({}),
        json!({"texts": "x"}),
        json!({"texts": [""]}),
        json!({"texts": []}),
    ] {
        let (status, body) = json(server.post("/encode", request.clone()).await).await;
        assert_eq!(
            (status, body["error"].is_string()),
            (400, true),
            "{request} -> {body}"
        );
    }
}

#[tokio::test]
async fn the_ollama_route_falls_back_when_a_model_cannot_be_built() {
    // No dimensions: building asks the remote, which is not there, so the build fails.
    let config = "
embeddings:
  default_model: local-hash
  models:
    local-hash: {provider: local, dimensions: 384}
    unbuildable: {provider: ollama, model_id: m, base_url: 'http://127.0.0.1:9', space: local-hash-384, timeout: 5s}
  fallback_chain: [unbuildable, local-hash]
";
    let server = start(config, Limits::default()).await;
    let (status, body) = json(
        server
            .post(
                "/api/embed",
                json!({"model": "unbuildable", "input": "a b"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "local-hash");
    // /api/tags states no precision for models embedd does not run itself.
    let (status, tags) = json(
        server
            .client
            .get(format!("{}/api/tags", server.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        tags["models"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["details"].get("quantization_level").is_none()),
        "{tags}"
    );
}

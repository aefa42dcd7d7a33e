//! The seed's `POST /v1/embeddings/generate`, including the fallback the challenge script calls.

mod common;

use common::{json, start, CONFIG};
use embedd_server::Limits;
use serde_json::json;

#[tokio::test]
async fn one_text_answers_with_the_model_and_its_dimensions() {
    let server = start(CONFIG, Limits::default()).await;
    let response = server
        .post(
            "/v1/embeddings/generate",
            json!({"text": "test", "model": "wide-hash"}),
        )
        .await;
    assert_eq!(response.headers()["x-embedd-model"], "wide-hash");
    let (status, body) = json(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "wide-hash");
    assert_eq!(body["provider"], "local");
    assert_eq!(body["dimensions"], 1536);
    assert_eq!(body["embedding"].as_array().unwrap().len(), 1536);
    assert_eq!(body["embeddings"][0], body["embedding"]);
    assert_eq!(body["fallback_used"], false);
}

#[tokio::test]
async fn several_texts_use_the_default_model() {
    let server = start(CONFIG, Limits::default()).await;
    let (status, body) = json(
        server
            .post("/v1/embeddings/generate", json!({"texts": ["a", "b c"]}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "local-hash");
    assert!(body.get("embedding").is_none());
    assert_eq!(body["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(body["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn use_fallback_crosses_spaces_and_says_so() {
    let server = start(CONFIG, Limits::default()).await;
    let request =
        |fallback: bool| json!({"text": "test", "model": "unreachable", "use_fallback": fallback});
    let (status, body) = json(server.post("/v1/embeddings/generate", request(false)).await).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = json(server.post("/v1/embeddings/generate", request(true)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "local-hash");
    assert_eq!(body["fallback_used"], true);
    assert_eq!(body["dimensions"], 384);
}

#[tokio::test]
async fn text_and_texts_are_checked() {
    let server = start(CONFIG, Limits::default()).await;
    for (body, param) in [
        (json!({}), "text"),
        (json!({"text": "a", "texts": ["b"]}), "text"),
        (json!({"text": ""}), "text"),
        (json!({"texts": []}), "texts"),
        (json!({"texts": ["a", ""]}), "texts[1]"),
        (json!({"text": 5}), "text"),
        (json!({"texts": "a"}), "texts"),
        (json!({"text": "a", "use_fallback": "yes"}), "use_fallback"),
    ] {
        let (status, answer) =
            json(server.post("/v1/embeddings/generate", body.clone()).await).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["error"]["param"], param, "{body} -> {answer}");
    }
    let (status, _) = json(
        server
            .post(
                "/v1/embeddings/generate",
                json!({"text": "a", "model": "ghost"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn outputs_and_prompts_a_model_lacks_are_refused_naming_what_it_has() {
    let server = start(CONFIG, Limits::default()).await;
    for (body, param, says) in [
        (
            json!({"text": "a", "outputs": ["sparse"]}),
            "outputs",
            "gives dense",
        ),
        (
            json!({"text": "a", "outputs": ["dense", "multi_vector"]}),
            "outputs",
            "gives dense",
        ),
        (
            json!({"text": "a", "outputs": []}),
            "outputs",
            "at least one",
        ),
        (
            json!({"text": "a", "outputs": ["colbert"]}),
            "outputs[0]",
            "unknown variant",
        ),
        (
            json!({"text": "a", "prompt_name": "query"}),
            "prompt_name",
            "defines no prompts",
        ),
    ] {
        let (status, answer) =
            json(server.post("/v1/embeddings/generate", body.clone()).await).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["error"]["param"], param, "{body} -> {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body} -> {answer}");
    }
    // Asking for the dense output by name is the default made explicit.
    let (status, body) = json(
        server
            .post(
                "/v1/embeddings/generate",
                json!({"texts": ["a"], "outputs": ["dense"]}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["embeddings"].as_array().map(Vec::len), Some(1));
    assert!(body.get("sparse").is_none() && body.get("multi_vector").is_none());
}

//! Every kind of bad input gets a 4xx JSON error in OpenAI's shape, and the server keeps answering.

mod common;

use common::{json, start, TestServer, CONFIG};
use embedd_server::Limits;
use serde_json::{json, Value};

/// Send `body` raw, expect `status` with an OpenAI-shaped error, then check the server still serves.
async fn refused(server: &TestServer, path: &str, body: Vec<u8>, status: u16) -> Value {
    let (got, answer) = json(server.post_raw(path, body).await).await;
    assert_eq!(got, status, "{answer}");
    let error = &answer["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
    assert!(
        error["type"].is_string() && error["code"].is_string(),
        "{answer}"
    );
    assert!(error.get("param").is_some(), "{answer}");
    still_serving(server).await;
    answer
}

async fn still_serving(server: &TestServer) {
    let (status, _) = json(
        server
            .post("/v1/embeddings", json!({"input": "still alive"}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
}

fn bytes(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test]
async fn malformed_and_mistyped_json() {
    let server = start(CONFIG, Limits::default()).await;
    let path = "/v1/embeddings";
    for raw in [
        &b"{\"input\": \"a\""[..],
        b"{input: 'a'}",
        b"",
        b"   ",
        b"null",
        b"[\"a\"]",
        b"\"a\"",
        b"{\"input\": \"a\"} trailing",
    ] {
        refused(&server, path, raw.to_vec(), 400).await;
    }
    for (body, param) in [
        (json!({"input": 5}), "input"),
        (json!({"input": null}), "input"),
        (json!({"input": {"text": "a"}}), "input"),
        (json!({"input": [true]}), "input[0]"),
        (json!({"input": ["a", 5]}), "input[1]"),
        (json!({"input": [1, "a"]}), "input[1]"),
        (json!({"input": [[1], [2.5]]}), "input[1][0]"),
        (json!({"input": [-1]}), "input[0]"),
        (json!({"input": [99999999999u64]}), "input[0]"),
        (json!({"input": "a", "model": 5}), "model"),
        (json!({"input": "a", "dimensions": "x"}), "dimensions"),
        (json!({"input": "a", "dimensions": -1}), "dimensions"),
        (json!({"input": "a", "dimensions": 1.5}), "dimensions"),
        (json!({"input": "a", "dimensions": 0}), "dimensions"),
        (json!({"input": "a", "dimensions": 385}), "dimensions"),
        (
            json!({"input": "a", "encoding_format": "hex"}),
            "encoding_format",
        ),
        (json!({"input": "a", "user": ["x"]}), "user"),
    ] {
        let answer = refused(&server, path, bytes(body.clone()), 400).await;
        assert_eq!(answer["error"]["param"], param, "{body} -> {answer}");
    }
}

#[tokio::test]
async fn empty_inputs() {
    let server = start(CONFIG, Limits::default()).await;
    for body in [
        json!({"input": ""}),
        json!({"input": []}),
        json!({"input": ["a", ""]}),
        json!({"input": [[]]}),
        json!({"input": [[1], []]}),
    ] {
        refused(&server, "/v1/embeddings", bytes(body), 400).await;
    }
    // White space is text: OpenAI embeds it, and so do we.
    let (status, _) = json(server.post("/v1/embeddings", json!({"input": "   "})).await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn too_many_inputs() {
    let server = start(CONFIG, Limits::default()).await;
    let inputs: Vec<String> = (0..3000).map(|i| format!("text {i}")).collect();
    let answer = refused(
        &server,
        "/v1/embeddings",
        bytes(json!({"input": inputs})),
        400,
    )
    .await;
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2048"));
    let ok: Vec<String> = (0..2048).map(|i| format!("text {i}")).collect();
    let (status, body) = json(server.post("/v1/embeddings", json!({"input": ok})).await).await;
    assert_eq!(
        (status, body["data"].as_array().map(Vec::len)),
        (200, Some(2048))
    );
}

#[tokio::test]
async fn a_64_mib_body_is_refused_with_413() {
    let server = start(CONFIG, Limits::default()).await;
    let huge = format!("{{\"input\": \"{}\"}}", "a ".repeat(32 * 1024 * 1024));
    let answer = refused(&server, "/v1/embeddings", huge.into_bytes(), 413).await;
    assert_eq!(answer["error"]["code"], "body_too_large");
    // A body under the limit with one very long text is embedded (the hash model reads 8192 words).
    let long = "word ".repeat(300_000);
    let (status, body) = json(server.post("/v1/embeddings", json!({"input": long})).await).await;
    assert_eq!(
        (status, body["usage"]["prompt_tokens"].as_u64()),
        (200, Some(8192))
    );
}

#[tokio::test]
async fn invalid_utf8_and_lone_surrogates() {
    let server = start(CONFIG, Limits::default()).await;
    let mut invalid = b"{\"input\": \"abc".to_vec();
    invalid.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    invalid.extend_from_slice(b"\"}");
    refused(&server, "/v1/embeddings", invalid, 400).await;
    refused(
        &server,
        "/v1/embeddings",
        br#"{"input": "\ud800"}"#.to_vec(),
        400,
    )
    .await;
    refused(
        &server,
        "/v1/embeddings",
        br#"{"input": ["ok", "\udc00x"]}"#.to_vec(),
        400,
    )
    .await;
    // A proper surrogate pair is an ordinary character.
    let (status, _) = json(
        server
            .post_raw("/v1/embeddings", br#"{"input": "\ud83d\ude00"}"#.to_vec())
            .await,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn deep_nesting() {
    let server = start(CONFIG, Limits::default()).await;
    let depth = 100_000;
    let mut nested = b"{\"input\": ".to_vec();
    nested.extend(std::iter::repeat_n(b'[', depth));
    nested.extend(std::iter::repeat_n(b']', depth));
    nested.push(b'}');
    refused(&server, "/v1/embeddings", nested, 400).await;
    let mut objects = Vec::new();
    for _ in 0..depth {
        objects.extend_from_slice(b"{\"a\":");
    }
    objects.extend(std::iter::repeat_n(b'}', depth));
    refused(&server, "/v1/embeddings/generate", objects, 400).await;
}

#[tokio::test]
async fn unknown_models_list_the_known_ones() {
    let server = start(CONFIG, Limits::default()).await;
    let answer = refused(
        &server,
        "/v1/embeddings",
        bytes(json!({"input": "a", "model": "gpt-17"})),
        404,
    )
    .await;
    assert_eq!(answer["error"]["code"], "model_not_found");
    assert_eq!(answer["error"]["param"], "model");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("gpt-17") && message.contains("local-hash"),
        "{message}"
    );
}

#[tokio::test]
async fn token_ids_for_a_model_without_a_tokenizer() {
    let server = start(CONFIG, Limits::default()).await;
    for body in [json!({"input": [1, 2, 3]}), json!({"input": [[1, 2], [3]]})] {
        let answer = refused(&server, "/v1/embeddings", bytes(body), 400).await;
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("tokenizer"),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn wrong_routes_and_methods_answer_in_json() {
    let server = start(CONFIG, Limits::default()).await;
    let (status, body) = json(server.get("/v1/embeddings").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, body) = json(server.get("/v2/nothing").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test]
async fn configured_limits_apply() {
    let server = start(
        CONFIG,
        Limits {
            max_inputs: 4,
            body_limit: 4096,
            max_tokens_per_request: 6,
            ..Limits::default()
        },
    )
    .await;
    refused(
        &server,
        "/v1/embeddings",
        bytes(json!({"input": ["a", "b", "c", "d", "e"]})),
        400,
    )
    .await;
    refused(
        &server,
        "/v1/embeddings",
        bytes(json!({"input": "x".repeat(5000)})),
        413,
    )
    .await;
    refused(
        &server,
        "/v1/embeddings/generate",
        bytes(json!({"texts": ["a", "b", "c", "d", "e"]})),
        400,
    )
    .await;
    // The token cap: the hash model counts a word a token; seven words are over six.
    let body = json!({"input": ["one two three", "four five six seven"]});
    let (status, answer) = json(server.post("/v1/embeddings", body).await).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "too_many_tokens");
    assert!(
        answer["error"]["message"].as_str().unwrap().contains("6"),
        "names the limit: {answer}"
    );
    let (status, answer) = json(
        server
            .post(
                "/embed",
                json!({"inputs": ["one two three", "four five six seven"]}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, answer["error_type"].as_str()),
        (413, Some("Validation")),
        "{answer}"
    );
    let (status, _) = json(
        server
            .post(
                "/v1/embeddings",
                json!({"input": ["one two three", "four five six"]}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "at the cap is allowed");
}

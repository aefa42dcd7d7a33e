//! Real clients against a real `embedd serve` on the native default model: the Ollama Python
//! client, and TEI's routes over plain HTTP.

mod common;

use std::process::Command;

use common::{http, installed_model, python_with, Server};
use serde_json::{json, Value};

fn call(base: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    http(method, &format!("{base}{path}"), body)
}

#[test]
fn the_ollama_python_client_embeds_through_the_server() {
    let python = python_with(&["ollama"]);
    installed_model("all-MiniLM-L6-v2");
    let server = Server::start(&[]);
    let output = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/ollama_client.py"
        ))
        .arg(&server.base)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ollama client: ok"));
}

#[test]
fn tei_routes_over_plain_http() {
    installed_model("all-MiniLM-L6-v2");
    let server = Server::start(&[]);
    let base = &server.base;
    let (status, info) = http("GET", &format!("{base}/info"), None);
    assert_eq!(status, 200);
    assert_eq!(info["model_id"], "sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(info["max_input_length"], 256);

    let (status, tokens) = call(
        base,
        "POST",
        "/tokenize",
        Some(json!({"inputs": ["hello world"]})),
    );
    assert_eq!(status, 200, "{tokens}");
    let ids: Vec<u64> = tokens[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [101, 7592, 2088, 102]);
    assert_eq!(tokens[0][0]["special"], true);
    assert_eq!(
        (
            tokens[0][2]["text"].as_str(),
            tokens[0][2]["start"].as_u64(),
            tokens[0][2]["stop"].as_u64()
        ),
        (Some("world"), Some(6), Some(11))
    );

    let (status, tei) = call(
        base,
        "POST",
        "/embed",
        Some(json!({"inputs": "hello world"})),
    );
    assert_eq!(status, 200, "{tei}");
    let (_, openai) = call(
        base,
        "POST",
        "/v1/embeddings",
        Some(json!({"input": "hello world"})),
    );
    assert_eq!(tei[0], openai["data"][0]["embedding"]);
    // Token ids are accepted as TEI accepts them.
    let (status, by_ids) = call(
        base,
        "POST",
        "/embed",
        Some(json!({"inputs": [[101, 7592, 2088, 102]]})),
    );
    assert_eq!(status, 200);
    assert_eq!(by_ids[0], tei[0]);

    let long = "word ".repeat(300);
    let (status, error) = http(
        "POST",
        &format!("{base}/embed"),
        Some(json!({"inputs": long})),
    );
    assert_eq!(
        (status, error["error_type"].as_str()),
        (413, Some("Validation")),
        "{error}"
    );
    let (status, _) = call(
        base,
        "POST",
        "/embed",
        Some(json!({"inputs": long, "truncate": true})),
    );
    assert_eq!(status, 200);
}

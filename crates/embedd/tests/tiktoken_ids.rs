//! Clients that send tiktoken ids (TEI #273): the real `langchain-openai` package against a real
//! `embedd serve`. Read as the model's own ids, its `cl100k_base` ids embed other words without
//! a word of warning; with the model's `token_ids: cl100k_base` or the request's
//! `x-embedd-token-ids` header, they embed the texts the client meant.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use common::{http, installed_model, python_with, scratch_dir, Server};
use serde_json::{json, Value};

/// Where Python's tiktoken keeps the file it would download: the name is the SHA-1 of its URL.
const CL100K_CACHE_NAME: &str = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4";

/// A tiktoken cache holding `cl100k_base`, rebuilt from the vocabulary embedd ships (the
/// machine cannot download it). tiktoken checks the file's SHA-256 against its own, so a
/// vocabulary that differed by one byte would fail the test there.
fn tiktoken_cache() -> std::path::PathBuf {
    let dir = scratch_dir("tiktoken-cache");
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let mut file = String::new();
    for rank in 0..100_256u32 {
        let bytes = bpe
            .decode_bytes(&[rank])
            .expect("cl100k_base's ranks are contiguous");
        let token = base64::engine::general_purpose::STANDARD.encode(bytes);
        file.push_str(&format!("{token} {rank}\n"));
    }
    std::fs::write(dir.join(CL100K_CACHE_NAME), file).unwrap();
    dir
}

/// The vectors LangChain's `OpenAIEmbeddings` gets for `texts` from `base`, sending `header`.
fn langchain(
    python: &Path,
    cache: &Path,
    base: &str,
    header: &str,
    texts: &[&str],
) -> Vec<Vec<f64>> {
    let output = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/langchain_client.py"
        ))
        .args([base, "all-minilm-l6-v2", header, &json!(texts).to_string()])
        .env("TIKTOKEN_CACHE_DIR", cache)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

/// The vectors embedd gives for `texts` sent as text.
fn by_text(base: &str, texts: &[&str]) -> Vec<Vec<f64>> {
    let (status, body) = http(
        "POST",
        &format!("{base}/v1/embeddings"),
        Some(json!({"input": texts, "model": "all-minilm-l6-v2"})),
    );
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| vector(&d["embedding"]))
        .collect()
}

/// POST `body` to `url` with the `x-embedd-token-ids` header set to `header`.
fn with_header(url: &str, body: Value, header: &str) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let answer = reqwest::Client::new()
            .post(url)
            .header("x-embedd-token-ids", header)
            .json(&body)
            .send()
            .await
            .expect("an answer, never a dropped connection");
        let status = answer.status().as_u16();
        (status, answer.json().await.expect("a JSON answer"))
    })
}

fn vector(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt()
        * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

/// Texts whose cl100k_base ids all fall inside MiniLM's vocabulary (so nothing refuses them),
/// and one with non-ASCII characters.
const TEXTS: [&str; 3] = [
    "hello world",
    "A man is playing a guitar.",
    "Crème brûlée in Zürich",
];

#[test]
fn langchain_token_ids_embed_the_texts_meant_with_the_header_or_the_model_setting() {
    let python = python_with(&["langchain-openai==1.7.4"]);
    installed_model("all-MiniLM-L6-v2");
    let cache = tiktoken_cache();

    // Default: the ids are read as MiniLM's own, and embed other words.
    let server = Server::start(&[]);
    let meant = by_text(&server.base, &TEXTS);
    let unmarked = langchain(&python, &cache, &server.base, "-", &TEXTS[..1]);
    assert!(
        cosine(&unmarked[0], &meant[0]) < 0.9,
        "cl100k ids read as MiniLM's should not give the text's vector"
    );
    // The header: the ids are decoded and the texts tokenized by the model.
    let marked = langchain(&python, &cache, &server.base, "cl100k_base", &TEXTS);
    for (got, want) in marked.iter().zip(&meant) {
        assert!(cosine(got, want) >= 0.99999, "{}", cosine(got, want));
    }
    drop(server);

    // The model's setting, for clients that cannot send a header.
    let config = scratch_dir("tiktoken-config").join("config.yaml");
    std::fs::write(
        &config,
        "embeddings:\n  default_model: all-minilm-l6-v2\n  models:\n    all-minilm-l6-v2: {provider: native, model_id: all-MiniLM-L6-v2, token_ids: cl100k_base}\n",
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let configured = langchain(&python, &cache, &server.base, "-", &TEXTS);
    for (got, want) in configured.iter().zip(&meant) {
        assert!(cosine(got, want) >= 0.99999, "{}", cosine(got, want));
    }
    // A request's header overrides the setting: MiniLM's own ids for "hello world".
    let (status, own) = with_header(
        &format!("{}/v1/embeddings", server.base),
        json!({"input": [[101, 7592, 2088, 102]]}),
        "model",
    );
    assert_eq!(status, 200, "{own}");
    assert!(cosine(&vector(&own["data"][0]["embedding"]), &meant[0]) >= 0.99999);
}

#[test]
fn bad_token_ids_and_headers_are_clear_errors() {
    installed_model("all-MiniLM-L6-v2");
    let server = Server::start(&[]);
    let url = format!("{}/v1/embeddings", server.base);
    let send = |body: Value, header: &str| with_header(&url, body, header);
    // An id past cl100k_base's vocabulary, named by where it is.
    let (status, error) = send(json!({"input": [[15339], [15339, 200_000]]}), "cl100k_base");
    assert_eq!(status, 400, "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("input[1]") && message.contains("200000"),
        "{error}"
    );
    // A vocabulary embedd does not read.
    let (status, error) = send(json!({"input": [[15339]]}), "o200k_base");
    assert_eq!(status, 400, "{error}");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-embedd-token-ids"));
    // Without the header, an id past MiniLM's vocabulary says how to send tiktoken ids.
    let (status, error) = http("POST", &url, Some(json!({"input": [[15339, 100_000]]})));
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cl100k_base"),
        "{error}"
    );
    // TEI's route reads the header too, and answers in TEI's shape.
    let (status, tei) = with_header(
        &format!("{}/embed", server.base),
        json!({"inputs": [[15339, 1917]]}),
        "cl100k_base",
    );
    assert_eq!(status, 200, "{tei}");
    let meant = by_text(&server.base, &["hello world"]);
    assert!(cosine(&vector(&tei[0]), &meant[0]) >= 0.99999);
}

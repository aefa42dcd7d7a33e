//! `embedd serve` on its built-in default, the native all-MiniLM-L6-v2: vectors, token counts,
//! token-id input, model aliases and memory, through a real process and real HTTP.

mod common;

use common::{http, installed_model, Server};
use serde_json::{json, Value};

fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    http("POST", &format!("{base}{path}"), Some(body))
}

fn golden_first() -> (String, Vec<f64>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/golden/all-MiniLM-L6-v2.jsonl"
    );
    let line = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let v: Value = serde_json::from_str(&line).unwrap();
    (
        v["text"].as_str().unwrap().to_owned(),
        v["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect(),
    )
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt()
        * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

fn vector(body: &Value, i: usize) -> Vec<f64> {
    body["data"][i]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_default_model_serves_reference_vectors() {
    installed_model("all-MiniLM-L6-v2");
    let server = Server::start(&[]);
    let (text, reference) = golden_first();
    for name in [
        "all-minilm-l6-v2",
        "all-MiniLM-L6-v2",
        "sentence-transformers/all-MiniLM-L6-v2",
    ] {
        let (status, body) = post(
            &server.base,
            "/v1/embeddings",
            json!({"input": text, "model": name}),
        );
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["model"], "all-minilm-l6-v2");
        assert!(cosine(&vector(&body, 0), &reference) >= 0.9999);
    }
    // True token counts: [CLS] hello world [SEP].
    let (_, body) = post(
        &server.base,
        "/v1/embeddings",
        json!({"input": "hello world"}),
    );
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    // The same text as token ids gives the same vector.
    let (status, ids) = post(
        &server.base,
        "/v1/embeddings",
        json!({"input": [101, 7592, 2088, 102]}),
    );
    assert_eq!(status, 200, "{ids}");
    assert!(cosine(&vector(&ids, 0), &vector(&body, 0)) > 0.99999);
    // Over-long input is truncated at the model's 256 tokens, and counted as such.
    let (_, long) = post(
        &server.base,
        "/v1/embeddings",
        json!({"input": "word ".repeat(1000)}),
    );
    assert_eq!(long["usage"]["prompt_tokens"], 256);
}

#[test]
fn the_int8_model_serves_vectors_close_to_the_reference() {
    installed_model("all-MiniLM-L6-v2");
    let server = Server::start(&[]);
    let (text, reference) = golden_first();
    let (status, body) = post(
        &server.base,
        "/v1/embeddings",
        json!({"input": [text.as_str(), "a second, longer text about int8 matrix products"], "model": "all-minilm-l6-v2-int8"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "all-minilm-l6-v2-int8");
    let int8 = vector(&body, 0);
    let c = cosine(&int8, &reference);
    // Close to the f32 vector, but not it: the int8 layers really ran.
    assert!((0.99..0.99999).contains(&c), "cosine {c}");
    let norm: f64 = int8.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!(
        (norm - 1.0).abs() < 1e-5,
        "normalised like the f32 model: {norm}"
    );
    // The same text alone gives the same vector as in a batch (outliers are per row).
    let (_, alone) = post(
        &server.base,
        "/v1/embeddings",
        json!({"input": text, "model": "all-minilm-l6-v2-int8"}),
    );
    assert!(cosine(&vector(&alone, 0), &int8) > 0.99999);
}

#[test]
fn token_ids_outside_the_vocabulary_are_a_400() {
    installed_model("all-MiniLM-L6-v2");
    let server = Server::start(&[]);
    for ids in [
        json!([101, 30522, 102]),
        json!([[101, 102], [101, 4294967295u64]]),
    ] {
        let (status, body) = post(&server.base, "/v1/embeddings", json!({"input": ids}));
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("vocabulary"),
            "{body}"
        );
    }
    let (status, _) = post(
        &server.base,
        "/v1/embeddings",
        json!({"input": "still serving"}),
    );
    assert_eq!(status, 200);
}

#[test]
fn memory_stays_small() {
    installed_model("all-MiniLM-L6-v2");
    let server = Server::start(&[]);
    let pid = server.child.id();
    let (status, _) = post(
        &server.base,
        "/v1/embeddings",
        json!({"input": "first request"}),
    );
    assert_eq!(status, 200);
    let after_first = rss_kib(pid, "VmRSS:");
    assert!(
        after_first < 200 * 1024,
        "RSS after load and a first request: {after_first} KiB"
    );
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/corpus_long.txt"
    ))
    .unwrap();
    let passages: Vec<&str> = corpus.lines().filter(|l| !l.is_empty()).take(128).collect();
    for batch in passages.chunks(32) {
        let (status, _) = post(&server.base, "/v1/embeddings", json!({"input": batch}));
        assert_eq!(status, 200);
    }
    let peak = rss_kib(pid, "VmHWM:");
    assert!(
        peak < 400 * 1024,
        "peak RSS serving batches of 32 long passages: {peak} KiB"
    );
}

#[test]
fn a_batch_budget_smaller_than_the_longest_input_is_refused_at_start() {
    installed_model("all-MiniLM-L6-v2");
    let scratch = common::scratch_dir("budget");
    let config = scratch.join("config.yaml");
    std::fs::write(
        &config,
        "embeddings:\n  default_model: m\n  models:\n    m: {provider: native, model_id: all-MiniLM-L6-v2, max_batch_tokens: 100, queue_size: 8}\n",
    )
    .unwrap();
    let (ok, _, stderr) = common::run_with_env(
        &["embed", "--config", config.to_str().unwrap(), "hello"],
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("max_batch_tokens") && stderr.contains("256"),
        "{stderr}"
    );
    std::fs::write(
        &config,
        "embeddings:\n  default_model: m\n  models:\n    m: {provider: native, model_id: all-MiniLM-L6-v2, max_batch_tokens: 256, queue_size: 8}\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = common::run_with_env(
        &["embed", "--config", config.to_str().unwrap(), "hello"],
        &[],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"model\":\"m\""), "{stdout}");
}

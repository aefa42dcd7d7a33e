//! A static model (model2vec) served by a real `embedd serve` from its directory: the vectors
//! model2vec's own `encode` gives, through the OpenAI route.

mod common;

use std::collections::BTreeMap;

use common::{http, installed_model, python_with, run_python, scratch_dir, Server};
use serde_json::json;

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt()
        * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

#[test]
fn a_model2vec_directory_serves_model2vecs_vectors() {
    let python = python_with(&["model2vec==0.10.0"]);
    let tokenizer = installed_model("all-MiniLM-L6-v2");
    let dir = scratch_dir("static-serve");
    let texts = [
        "A short sentence.",
        "Ünïcödé and 中文",
        "another text about nothing",
    ];
    let reference: BTreeMap<String, Vec<Vec<f64>>> = run_python(
        &python,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../native/tests/make_tiny_static.py"
        ),
        &[tokenizer.as_os_str(), dir.as_os_str()],
        &json!(texts),
    );
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "embeddings:\n  default_model: potion\n  models:\n    potion: {{provider: native, model_id: '{}'}}\n",
            dir.join("static-normalized").display()
        ),
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let (status, body) = http(
        "POST",
        &format!("{}/v1/embeddings", server.base),
        Some(json!({"input": texts})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "potion");
    for (i, want) in reference["static-normalized"].iter().enumerate() {
        let got: Vec<f64> = body["data"][i]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(got.len(), 48);
        assert!(cosine(&got, want) >= 0.9999, "text {i}");
    }
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
}

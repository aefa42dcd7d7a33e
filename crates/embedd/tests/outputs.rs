//! BGE-M3's outputs through HTTP: a native model with the sparse and ColBERT heads (a small
//! random-weight one made at test time) answers `/v1/embeddings/generate` with all three outputs
//! from one request, and TEI's `/embed_sparse` in TEI's shape; both match the reference.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{http, scratch_dir, Server};
use serde_json::{json, Value};

#[test]
fn generate_and_embed_sparse_give_the_reference_outputs() {
    let python = common::python_with(&["sentence-transformers"]);
    let out = scratch_dir("bge-m3-http");
    let texts = [
        "the the cat sat",
        "a longer sentence about sparse retrieval",
    ];
    let mut child = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../native/tests/make_tiny_bge_m3.py"
        ))
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the reference script");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(json!(texts).to_string().as_bytes())
        .expect("send texts");
    let output = child.wait_with_output().expect("reference");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reference: Vec<Value> = serde_json::from_slice(&output.stdout).expect("reference JSON");

    // A model card as sentence-transformers writes it after Matryoshka training.
    std::fs::write(
        out.join("tiny-bge-m3/README.md"),
        "---\ntags:\n- loss:MatryoshkaLoss\n---\n```json\n{\"matryoshka_dims\": [32, 64]}\n```\n",
    )
    .expect("write the model card");
    let config = out.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "embeddings:\n  default_model: bge\n  models:\n    bge: {{provider: native, model_id: {}}}\n",
            out.join("tiny-bge-m3").display()
        ),
    )
    .expect("write config");
    let config = config.to_str().expect("path");
    let (ok, listing, stderr) =
        common::run_with_env(&["models", "--config", config, "--health"], &[]);
    assert!(ok, "{stderr}");
    assert!(
        listing.contains("outputs: dense, sparse, multi_vector"),
        "`embedd models` shows what the model gives: {listing}"
    );
    assert!(
        listing.contains("trained dimensions: 64, 32"),
        "and the widths it was trained to be cut to: {listing}"
    );
    let server = Server::start(&["--config", config]);

    let (status, body) = http(
        "POST",
        &format!("{}/v1/embeddings/generate", server.base),
        Some(json!({"texts": texts, "outputs": ["dense", "sparse", "multi_vector"]})),
    );
    assert_eq!(status, 200, "{body}");
    for (i, expected) in reference.iter().enumerate() {
        assert_eq!(body["embeddings"][i].as_array().map(Vec::len), Some(64));
        let sparse = &body["sparse"][i];
        let indices = sparse["indices"].as_array().expect("indices");
        let values = sparse["values"].as_array().expect("values");
        assert_eq!(
            indices.len(),
            expected["sparse"].as_object().map_or(0, |m| m.len())
        );
        for (index, value) in indices.iter().zip(values) {
            let want = expected["sparse"][index.to_string()]
                .as_f64()
                .expect("same ids");
            let got = value.as_f64().unwrap_or(f64::NAN);
            assert!(
                (got - want).abs() <= 1e-4,
                "text {i}, id {index}: {got} vs {want}"
            );
        }
        assert_eq!(
            body["multi_vector"][i].as_array().map(Vec::len),
            expected["multi_vector"].as_array().map(Vec::len),
            "text {i}: one vector per token but the first"
        );
    }

    let (status, tei) = http(
        "POST",
        &format!("{}/embed_sparse", server.base),
        Some(json!({"inputs": texts})),
    );
    assert_eq!(status, 200, "{tei}");
    for (i, answer) in tei
        .as_array()
        .expect("one list per text")
        .iter()
        .enumerate()
    {
        let pairs = answer.as_array().expect("pairs");
        let indices: Vec<&Value> = pairs.iter().map(|p| &p["index"]).collect();
        let same: Vec<&Value> = body["sparse"][i]["indices"]
            .as_array()
            .expect("ids")
            .iter()
            .collect();
        assert_eq!(indices, same, "TEI's shape carries the same weights");
    }
}

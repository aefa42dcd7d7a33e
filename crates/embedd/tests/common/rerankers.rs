//! Tiny cross-encoders made at test time, and sentence-transformers' scores for them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;

use super::{installed_model, python_with, scratch_dir};

/// The pairs scored, and each model's scores for them.
#[derive(Deserialize)]
pub struct Reference {
    pub pairs: Vec<(String, String)>,
    pub models: BTreeMap<String, Scores>,
}

/// One model's scores: `CrossEncoder.predict`'s (sigmoid) and the raw logits.
#[derive(Deserialize)]
pub struct Scores {
    pub scores: Vec<f64>,
    pub raw_scores: Vec<f64>,
}

/// The tiny cross-encoders (`bert`, `xlm-roberta`) and the reference scores for them.
/// Each test makes its own, in `name`.
pub fn tiny_rerankers(name: &str) -> (PathBuf, Reference) {
    let python = python_with(&["sentence-transformers==6.2.0"]);
    let tokenizer = installed_model("all-MiniLM-L6-v2");
    let dir = scratch_dir(name);
    let output = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../native/tests/make_tiny_rerankers.py"
        ))
        .arg(&tokenizer)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (dir, serde_json::from_slice(&output.stdout).unwrap())
}

/// The reference pairs of one query: (document, index in the reference).
pub fn documents_of(reference: &Reference, query: &str) -> Vec<(String, usize)> {
    reference
        .pairs
        .iter()
        .enumerate()
        .filter(|(_, (q, _))| q == query)
        .map(|(i, (_, d))| (d.clone(), i))
        .collect()
}

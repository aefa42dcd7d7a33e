//! `distill` against model2vec's own distillation of the same small random transformer (made at
//! test time, with all-MiniLM-L6-v2's tokenizer): the same vocabulary and ids, the same table row
//! by row, the same vectors for texts; and model2vec loads embedd's result and encodes alike.

mod common;

use std::path::Path;

use embedd_core::vector::cosine;
use embedd_core::{EmbeddingModel, EncodeOptions};
use embedd_native::distill::{distill, DistillOptions};
use embedd_native::static_model::StaticModel;
use safetensors::SafeTensors;
use serde_json::Value;

/// The `embeddings` table of a model2vec directory, as rows.
fn table(dir: &Path) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let view = tensors.tensor("embeddings").unwrap();
    assert_eq!(view.dtype(), safetensors::Dtype::F32);
    let width = view.shape()[1];
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect::<Vec<_>>()
        .chunks(width)
        .map(<[f32]>::to_vec)
        .collect()
}

fn tokenizer(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("tokenizer.json")).unwrap()).unwrap()
}

/// Every pair at cosine >= 0.9999 (zeros where model2vec has zeros); prints the worst.
fn assert_close(ours: &[Vec<f32>], theirs: &[Vec<f32>], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: count");
    let mut worst = 1.0f64;
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let zero = |v: &[f32]| v.iter().all(|x| *x == 0.0);
        if zero(b) {
            assert!(zero(a), "{what} {i}: model2vec gives zeros");
            continue;
        }
        let c = cosine(a, b);
        assert!(c >= 0.9999, "{what} {i}: cosine {c}");
        worst = worst.min(c);
    }
    eprintln!("{what}: {} vectors, worst cosine {worst:.7}", ours.len());
}

#[test]
fn distillation_matches_model2vecs() {
    let source_tokenizer = embedd_fetch::Fetcher::from_env()
        .fetch("all-MiniLM-L6-v2")
        .unwrap();
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tiny-distill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let texts: Vec<String> = [
        "A short sentence.",
        "The cats sat on the mat, and the dogs did not.",
        "Words the vocabulary lacks: \u{1F642} qzxv",
        "Ünïcödé and 中文",
        "[MASK] and [unused3] written in the text",
        "\u{1F642}",
    ]
    .map(str::to_owned)
    .to_vec();
    let expected: Vec<Vec<f32>> = common::run_script(
        "make_tiny_distilled.py",
        &[
            "make".as_ref(),
            source_tokenizer.as_os_str(),
            out.as_os_str(),
        ],
        &texts,
    );
    let ours = out.join("embedd");
    let options = DistillOptions {
        pca_dims: Some(32),
        ..DistillOptions::default()
    };
    let mut calls = Vec::new();
    let made = distill(
        &out.join("tiny-bert"),
        "tiny-bert",
        &ours,
        &options,
        &mut |done, total| calls.push((done, total)),
    )
    .unwrap();
    assert_eq!(made.dimensions, 32);
    assert!(made.explained_variance > 0.0 && made.explained_variance < 1.0);
    assert_eq!(calls.first().map(|c| c.0), Some(0));
    assert_eq!(calls.last(), Some(&(made.tokens, made.tokens)));

    // The vocabulary: the same tokens with the same ids, the same added tokens.
    let theirs = out.join("model2vec");
    let (a, b) = (tokenizer(&ours), tokenizer(&theirs));
    assert_eq!(a["model"]["vocab"], b["model"]["vocab"]);
    let added = |t: &Value| -> Vec<(Value, Value)> {
        t["added_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["id"].clone(), t["content"].clone()))
            .collect()
    };
    assert_eq!(added(&a), added(&b));
    assert_eq!(a["model"]["vocab"].as_object().unwrap().len(), made.tokens);
    assert!(a["model"]["vocab"].get("[unused3]").is_none());
    assert!(a["model"]["vocab"].get("[MASK]").is_none());

    // The table, row by row: PCA's components with model2vec's signs, Zipf's weights.
    assert_close(&table(&ours), &table(&theirs), "token");

    // Texts through embedd's static model, against model2vec's encode of its own distillation.
    let model = StaticModel::load("distilled", "distilled", &ours, "distilled").unwrap();
    assert_eq!(model.info().dimensions, 32);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let vectors = runtime
        .block_on(model.encode(&texts, &EncodeOptions::default()))
        .unwrap()
        .vectors;
    assert_close(&vectors, &expected, "text");

    // model2vec loads embedd's files and reads them as embedd does.
    let read_back: Vec<Vec<f32>> = common::run_script(
        "make_tiny_distilled.py",
        &["encode".as_ref(), ours.as_os_str()],
        &texts,
    );
    assert_close(&vectors, &read_back, "text read by model2vec");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_options_are_refused_before_any_work() {
    let nowhere = Path::new("/nonexistent-embedd-model");
    let out = std::env::temp_dir().join("embedd-distill-never-written");
    for (options, says) in [
        (
            DistillOptions {
                sif_coefficient: Some(1.5),
                ..DistillOptions::default()
            },
            "SIF coefficient",
        ),
        (
            DistillOptions {
                pca_dims: Some(0),
                ..DistillOptions::default()
            },
            "0 dimensions",
        ),
        (
            DistillOptions {
                remove_pattern: Some("[unclosed".to_owned()),
                ..DistillOptions::default()
            },
            "pattern",
        ),
    ] {
        let error = distill(nowhere, "x", &out, &options, &mut |_, _| {}).unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
    }
    let error = distill(
        nowhere,
        "x",
        &out,
        &DistillOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("not a model directory"),
        "{error}"
    );
    assert!(!out.exists());
}

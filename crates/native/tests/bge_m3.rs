//! BGE-M3's three outputs (dense, sparse, multi-vector) from one forward pass, against the
//! reference on a small random-weight model made at test time (`make_tiny_bge_m3.py`): dense from
//! sentence-transformers, sparse and multi-vector by FlagEmbedding's formulas. The heads are read
//! from PyTorch `.pt` checkpoints, as BAAI/bge-m3 ships them, without Python.

mod common;

use std::collections::BTreeMap;

use embedd_core::vector::cosine;
use embedd_core::{EmbeddingModel, EncodeOptions, Output, Outputs};
use embedd_native::NativeModel;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    dense: Vec<f32>,
    sparse: BTreeMap<String, f32>,
    multi_vector: Vec<Vec<f32>>,
}

/// Make the model (under a directory named `tag`, as tests run at once) and its reference.
fn make(tag: &str, texts: &[String]) -> (std::path::PathBuf, Vec<Reference>) {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tiny-bge-m3-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let reference = common::run_script("make_tiny_bge_m3.py", &[out.as_os_str()], texts);
    (out.join("tiny-bge-m3"), reference)
}

#[test]
fn dense_sparse_and_multi_vector_match_the_reference() {
    let texts: Vec<String> = [
        "A short sentence.",
        "the the the repeated words keep their largest weight the",
        "word ".repeat(100).as_str(),
        "Ünïcödé and 中文 and emoji 🙂 and unseen words: zebra quokka",
        "a",
    ]
    .map(str::to_owned)
    .to_vec();
    let (dir, reference) = make("outputs", &texts);
    let model =
        NativeModel::load("bge", "bge", &dir, &embedd_native::LoadOptions::default()).unwrap();
    assert_eq!(model.info().outputs, Outputs::of(&Output::ALL));
    let options = EncodeOptions {
        outputs: Outputs::of(&Output::ALL),
        ..Default::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // One request for all three outputs: one forward pass per text.
    let ours = runtime.block_on(model.encode(&texts, &options)).unwrap();
    assert_eq!(ours.sparse.len(), texts.len());
    assert_eq!(ours.multi_vectors.len(), texts.len());
    for (i, expected) in reference.iter().enumerate() {
        let c = cosine(&ours.vectors[i], &expected.dense);
        assert!(c >= 0.9999, "text {i}: dense cosine {c}");

        let sparse = &ours.sparse[i];
        let ids: Vec<String> = sparse.indices.iter().map(u32::to_string).collect();
        let mut expected_ids: Vec<String> = expected.sparse.keys().cloned().collect();
        expected_ids.sort_by_key(|id| id.parse::<u32>().unwrap_or(u32::MAX));
        assert_eq!(ids, expected_ids, "text {i}: sparse token ids");
        for (id, value) in ids.iter().zip(&sparse.values) {
            let want = expected.sparse[id];
            assert!(
                (value - want).abs() <= 1e-4,
                "text {i}, id {id}: {value} vs {want}"
            );
        }

        let multi = &ours.multi_vectors[i];
        assert_eq!(
            multi.len(),
            expected.multi_vector.len(),
            "text {i}: vectors"
        );
        for (j, (a, b)) in multi.iter().zip(&expected.multi_vector).enumerate() {
            let c = cosine(a, b);
            assert!(c >= 0.9999, "text {i}, token {j}: cosine {c}");
        }
    }
    let kept: usize = ours.sparse.iter().map(|s| s.indices.len()).sum();
    assert!(kept > 10, "the sparse outputs are not empty: {kept} ids");
    assert!(
        ours.sparse
            .iter()
            .all(|s| !s.indices.contains(&101) && !s.indices.contains(&0)),
        "[CLS] and [PAD] are dropped"
    );
    // The long text was cut at 48 tokens: 47 vectors, every token but the first.
    assert_eq!(ours.multi_vectors[2].len(), 47);

    // Asking for the dense vector alone gives the same vectors and nothing else.
    let dense = runtime
        .block_on(model.encode(&texts, &EncodeOptions::default()))
        .unwrap();
    assert!(dense.sparse.is_empty() && dense.multi_vectors.is_empty());
    for (a, b) in dense.vectors.iter().zip(&ours.vectors) {
        assert!(cosine(a, b) >= 0.999999);
    }
}

#[test]
fn weights_in_a_pytorch_checkpoint_load_like_safetensors() {
    let texts = vec!["weights from pytorch_model.bin".to_owned(), "a".to_owned()];
    let (dir, _) = make("checkpoint", &texts);
    // The same model with `pytorch_model.bin` in place of `model.safetensors`.
    let bin_dir = dir.with_file_name("tiny-bge-m3-bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if name != "model.safetensors" {
            std::os::unix::fs::symlink(&path, bin_dir.join(name)).unwrap();
        }
    }
    std::os::unix::fs::symlink(
        dir.with_file_name("pytorch_model.bin"),
        bin_dir.join("pytorch_model.bin"),
    )
    .unwrap();
    let load = |d: &std::path::Path| {
        NativeModel::load("m", "m", d, &embedd_native::LoadOptions::default()).unwrap()
    };
    let from_safetensors = load(&dir).embed_texts_blocking(&texts).unwrap();
    let from_checkpoint = load(&bin_dir).embed_texts_blocking(&texts).unwrap();
    assert_eq!(from_safetensors.vectors, from_checkpoint.vectors);

    // A checkpoint cut short, or not a checkpoint at all, is an error naming the file.
    let whole = std::fs::read(bin_dir.join("colbert_linear.pt")).unwrap();
    std::fs::remove_file(bin_dir.join("colbert_linear.pt")).unwrap();
    for bytes in [&whole[..whole.len() / 2], &b"PK\x03\x04 not a zip"[..]] {
        std::fs::write(bin_dir.join("colbert_linear.pt"), bytes).unwrap();
        let err = NativeModel::load("m", "m", &bin_dir, &embedd_native::LoadOptions::default())
            .err()
            .expect("a broken head refuses to load");
        assert!(err.to_string().contains("colbert_linear.pt"), "{err}");
    }
}

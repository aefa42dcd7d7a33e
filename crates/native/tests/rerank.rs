//! Cross-encoders (rerankers) against sentence-transformers' `CrossEncoder.predict`, on small
//! `*ForSequenceClassification` models with random weights made at test time (BERT with two
//! token types, XLM-R's head layout): the raw scores, and sigmoid of them, within 1e-4.

mod common;

use std::collections::BTreeMap;

use embedd_core::vector::sigmoid;
use embedd_core::{EmbeddingModel, EncodeOptions};
use embedd_native::NativeModel;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    pairs: Vec<(String, String)>,
    models: BTreeMap<String, Scores>,
}

#[derive(Deserialize)]
struct Scores {
    scores: Vec<f32>,
    raw_scores: Vec<f32>,
}

#[test]
fn tiny_cross_encoders_score_as_sentence_transformers_does() {
    let tokenizer = embedd_fetch::Fetcher::from_env()
        .fetch("all-MiniLM-L6-v2")
        .unwrap();
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tiny-rerankers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let reference: Reference = common::run_script(
        "make_tiny_rerankers.py",
        &[tokenizer.as_os_str(), out.as_os_str()],
        &[],
    );
    assert_eq!(reference.models.len(), 2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for (name, expected) in &reference.models {
        let model = NativeModel::load(
            name,
            name,
            &out.join(name),
            &embedd_native::LoadOptions {
                threads: 2,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(model.info().dimensions, 1);
        // One query at a time, as the routes send them; the pairs share queries.
        let mut raw = Vec::new();
        for (query, document) in &reference.pairs {
            let scores = runtime
                .block_on(model.rerank(
                    query,
                    std::slice::from_ref(document),
                    &EncodeOptions::default(),
                ))
                .unwrap();
            raw.extend(scores.scores);
        }
        for (i, (ours, theirs)) in raw.iter().zip(&expected.raw_scores).enumerate() {
            assert!(
                (ours - theirs).abs() <= 1e-4,
                "{name}, pair {i}: raw {ours} against {theirs}"
            );
        }
        for (i, (ours, theirs)) in raw.iter().zip(&expected.scores).enumerate() {
            assert!(
                (sigmoid(*ours) - theirs).abs() <= 1e-4,
                "{name}, pair {i}: {} against {theirs}",
                sigmoid(*ours)
            );
        }
        // All documents of one query in one call: the same scores, in order.
        let query = &reference.pairs[0].0;
        let documents: Vec<String> = reference
            .pairs
            .iter()
            .filter(|(q, _)| q == query)
            .map(|(_, d)| d.clone())
            .collect();
        let together = runtime
            .block_on(model.rerank(query, &documents, &EncodeOptions::default()))
            .unwrap();
        assert_eq!(together.scores.len(), documents.len());
        for (a, b) in together.scores.iter().zip(&raw) {
            assert!((a - b).abs() <= 1e-5, "{name}: batched {a} against {b}");
        }
        // A reranker gives no embeddings, and says so.
        let refused = runtime
            .block_on(model.encode(&["text".to_owned()], &EncodeOptions::default()))
            .unwrap_err();
        assert!(refused.to_string().contains("reranker"), "{refused}");
        // Truncation off: the long document is refused, naming its place.
        let strict = EncodeOptions {
            truncate: false,
            ..Default::default()
        };
        let long = &reference.pairs[3];
        let refused = runtime
            .block_on(model.rerank(&long.0, &["short".to_owned(), long.1.clone()], &strict))
            .unwrap_err();
        assert!(refused.to_string().contains("input[1]"), "{refused}");
    }
    // An embedding model is not a reranker.
    let minilm = NativeModel::load("m", "m", &tokenizer, &Default::default()).unwrap();
    let refused = runtime
        .block_on(minilm.rerank("q", &["d".to_owned()], &EncodeOptions::default()))
        .unwrap_err();
    assert!(refused.to_string().contains("not a reranker"), "{refused}");
}

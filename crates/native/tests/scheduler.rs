//! Concurrent requests merged by the scheduler each get exactly their own vectors and tokens.

use std::sync::Arc;

use embedd_core::EmbeddingModel;
use embedd_native::NativeModel;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_get_their_own_vectors() {
    let dir = embedd_fetch::Fetcher::from_env()
        .fetch("all-MiniLM-L6-v2")
        .unwrap();
    let model = Arc::new(
        NativeModel::load(
            "m",
            "all-MiniLM-L6-v2",
            &dir,
            &embedd_native::LoadOptions {
                threads: 2,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/corpus_short.txt"
    ))
    .unwrap();
    let requests: Vec<Vec<String>> = corpus
        .lines()
        .take(96)
        .collect::<Vec<_>>()
        .chunks(3)
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    let tasks: Vec<_> = requests
        .iter()
        .cloned()
        .map(|texts| {
            let model = model.clone();
            tokio::spawn(async move { model.encode(&texts, &Default::default()).await })
        })
        .collect();
    for (texts, task) in requests.iter().zip(tasks) {
        let merged = task.await.unwrap().unwrap();
        let alone = model.embed_texts_blocking(texts).unwrap();
        assert_eq!(merged.prompt_tokens, alone.prompt_tokens);
        assert_eq!(merged.vectors.len(), texts.len());
        for (a, b) in merged.vectors.iter().zip(&alone.vectors) {
            assert!(embedd_core::vector::cosine(a, b) > 0.99999);
        }
    }
}

//! Static models (model2vec) against model2vec itself, on small random models it saves at test
//! time: the vectors `StaticModel.encode` gives, cosine >= 0.9999, with per-token weights and
//! normalisation, and without normalisation past the length limit.

mod common;

use std::collections::BTreeMap;

use embedd_core::vector::cosine;
use embedd_core::{EmbeddingModel, EncodeOptions};
use embedd_native::static_model::{is_static, StaticModel};

#[test]
fn static_models_give_model2vecs_vectors() {
    let tokenizer = embedd_fetch::Fetcher::from_env()
        .fetch("all-MiniLM-L6-v2")
        .unwrap();
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tiny-static-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let texts: Vec<String> = [
        "A short sentence.",
        "Words the vocabulary lacks: \u{1F642} qzxv \u{2603}",
        "word ".repeat(40).as_str(),
        "Ünïcödé and 中文",
        "[CLS] [SEP] written in the text",
        "\u{1F642}",
    ]
    .map(str::to_owned)
    .to_vec();
    let reference: BTreeMap<String, Vec<Vec<f32>>> = common::run_script(
        "make_tiny_static.py",
        &[tokenizer.as_os_str(), out.as_os_str()],
        &texts,
    );
    assert_eq!(reference.len(), 2);
    assert!(
        !is_static(&tokenizer),
        "a transformer is not a static model"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (name, expected) in reference {
        let dir = out.join(&name);
        assert!(is_static(&dir), "{name}");
        let model = StaticModel::load(&name, &name, &dir, &name).unwrap();
        assert_eq!(model.info().dimensions, 48);
        let ours = runtime
            .block_on(model.encode(&texts, &EncodeOptions::default()))
            .unwrap();
        for (i, (a, b)) in ours.vectors.iter().zip(&expected).enumerate() {
            let length = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if length(b) == 0.0 {
                // A text of unknown tokens only: model2vec gives zeros.
                assert_eq!(length(a), 0.0, "{name}, text {i}");
                continue;
            }
            let c = cosine(a, b);
            assert!(c >= 0.9999, "{name}, text {i}: cosine {c}");
            // The same length too: normalised or not, as model2vec left it.
            assert!(
                (length(a) - length(b)).abs() <= 1e-4 * length(b).max(1.0),
                "{name}, text {i}"
            );
        }
    }
}

//! Every supported architecture and pooling mode against sentence-transformers, on small models
//! with random weights made at test time (BERT with CLS pooling, RoBERTa with max pooling and no
//! normalisation, MPNet with mean pooling), so loading is checked beyond the two shipped models.

mod common;

use embedd_core::vector::cosine;
use embedd_native::NativeModel;

#[test]
fn small_models_of_each_architecture_match_sentence_transformers() {
    let tokenizer = embedd_fetch::Fetcher::from_env()
        .fetch("all-MiniLM-L6-v2")
        .unwrap();
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tiny-models-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let texts: Vec<String> = [
        "A short sentence.",
        "Another one, with <pad> and [SEP] written in it.",
        "word ".repeat(100).as_str(),
        "",
        "Ünïcödé and 中文 and emoji 🙂",
    ]
    .map(str::to_owned)
    .to_vec();
    let reference: std::collections::BTreeMap<String, Vec<Vec<f32>>> = common::run_script(
        "make_tiny_models.py",
        &[tokenizer.as_os_str(), out.as_os_str()],
        &texts,
    );
    assert_eq!(reference.len(), 3);
    for (name, expected) in reference {
        let model = NativeModel::load(
            &name,
            &name,
            &out.join(&name),
            &embedd_native::LoadOptions {
                threads: 2,
                ..Default::default()
            },
        )
        .unwrap();
        let ours = model.embed_texts_blocking(&texts).unwrap();
        for (i, (a, b)) in ours.vectors.iter().zip(&expected).enumerate() {
            let c = cosine(a, b);
            assert!(c >= 0.9999, "{name}, text {i}: cosine {c}");
            if name.contains("max") {
                // Not normalised: lengths must agree too.
                let (na, nb) = (norm(a), norm(b));
                assert!(
                    (na - nb).abs() / nb < 1e-3,
                    "{name}, text {i}: norm {na} vs {nb}"
                );
            }
        }
        // 48 tokens at most, as sentence_bert_config.json says.
        let long = model.embed_texts_blocking(&texts[2..3]).unwrap();
        assert_eq!(long.prompt_tokens, 48, "{name}");
    }
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
}

use embedd_core::vector::cosine;
use embedd_core::Fault;

use super::*;

fn model(dims: usize) -> HashModel {
    HashModel::new("hash", dims, 8192).unwrap()
}

fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn pinned_values_never_change() {
    // hash-v1 is a storage format: if this test fails, stored vectors everywhere went stale.
    let (v, words) = model(384).embed("The quick brown fox jumps over the lazy dog");
    assert_eq!(words, 9);
    let nonzero: Vec<(usize, f32)> = v
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, x)| *x != 0.0)
        .take(4)
        .collect();
    assert_eq!(nonzero, PINNED);
}

const PINNED: [(usize, f32); 4] = [
    (85, 0.301_511_35),
    (128, -0.301_511_35),
    (154, 0.301_511_35),
    (163, 0.603_022_7),
];

#[test]
fn every_vector_has_unit_length() {
    let m = model(384);
    for text in [
        "",
        "   ",
        "!!!",
        "a",
        "Hello, world!",
        "日本語のテキスト",
        "🙂🙃",
        "x\u{0}y",
        &"word ".repeat(5000),
    ] {
        let (v, _) = m.embed(text);
        assert_eq!(v.len(), 384);
        assert!((norm(&v) - 1.0).abs() < 1e-6, "{text:?}");
    }
}

#[test]
fn dimensions_from_one_to_8192() {
    for dims in [1, 2, 384, 1536, 3072, 8192] {
        let (v, _) = model(dims).embed("some words to hash");
        assert_eq!(v.len(), dims);
        assert!((norm(&v) - 1.0).abs() < 1e-6);
    }
    assert!(HashModel::new("h", 0, 10).is_err());
    assert!(HashModel::new("h", 8193, 10).is_err());
}

#[test]
fn shared_words_score_higher_than_unrelated_text() {
    let m = model(384);
    let a = m.embed("the cat sat on the warm mat").0;
    let b = m.embed("a cat sat on a mat").0;
    let c = m.embed("quarterly revenue exceeded analyst forecasts").0;
    // Four shared words of six each (one doubled): 4 / (3 * 3) with no collisions.
    assert!(
        (cosine(&a, &b) - 4.0 / 9.0).abs() < 0.15,
        "{}",
        cosine(&a, &b)
    );
    assert!(cosine(&a, &b) > cosine(&a, &c) + 0.3, "{}", cosine(&a, &c));
}

#[test]
fn words_are_split_on_punctuation_and_ascii_case_is_folded() {
    let m = model(384);
    assert_eq!(m.embed("Hello, World!").0, m.embed("hello world").0);
    assert_eq!(m.embed("«hello» — world…").0, m.embed("hello world").0);
    // Each ideograph is a word, so Chinese texts sharing characters are similar.
    let (zh, words) = m.embed("我喜欢猫");
    assert_eq!(words, 4);
    assert!(cosine(&zh, &m.embed("我喜欢狗").0) > 0.5);
}

#[test]
fn only_max_tokens_words_count() {
    let m = HashModel::new("h", 384, 3).unwrap();
    let (a, words) = m.embed("one two three four five");
    assert_eq!(words, 3);
    assert_eq!(a, m.embed("one two three").0);
}

#[test]
fn empty_and_wordless_texts_get_distinct_fixed_vectors() {
    let m = model(384);
    let (empty, words) = m.embed("");
    assert_eq!(words, 0);
    assert_eq!(empty, m.embed("").0);
    assert_ne!(empty, m.embed("...").0);
}

#[tokio::test]
async fn large_batches_match_the_inline_path() {
    let m = model(1024);
    let texts: Vec<String> = (0..1500).map(|i| format!("text number {i}")).collect();
    let batched = m.encode(&texts, &EncodeOptions::default()).await.unwrap();
    assert_eq!(batched.vectors.len(), 1500);
    assert_eq!(batched.vectors[1234], m.embed(&texts[1234]).0);
    assert_eq!(batched.prompt_tokens, 1500 * 3);
}

#[tokio::test]
async fn token_ids_are_the_callers_mistake() {
    let err = model(8)
        .encode_tokens(&[vec![1, 2]], &EncodeOptions::default())
        .await
        .err()
        .unwrap();
    assert_eq!(err.fault(), Fault::User);
}

#[tokio::test]
async fn limits_hold_only_when_asked() {
    let m = HashModel::new("hash", 8, 3).unwrap();
    let long = vec!["one two three four".to_owned()];
    assert!(m.encode(&long, &EncodeOptions::default()).await.is_ok());
    let strict = EncodeOptions {
        truncate: false,
        ..EncodeOptions::default()
    };
    let err = m.encode(&long, &strict).await.err().unwrap();
    assert!(
        matches!(
            &err,
            EmbedError::TooLarge {
                limit: Limit::InputTokens,
                ..
            }
        ),
        "{err}"
    );
    let capped = EncodeOptions {
        max_total_tokens: Some(4),
        ..EncodeOptions::default()
    };
    let two = vec!["a b c".to_owned(), "d e".to_owned()];
    let err = m.encode(&two, &capped).await.err().unwrap();
    assert!(
        matches!(
            &err,
            EmbedError::TooLarge {
                limit: Limit::RequestTokens,
                ..
            }
        ),
        "{err}"
    );
}

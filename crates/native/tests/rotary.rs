//! Qwen3-Embedding, EmbeddingGemma and ModernBERT against sentence-transformers, on small
//! random-weight models laid out as the real repositories are (`make_tiny_rotary.py`): causal and
//! bidirectional attention, grouped-query heads, sliding windows with their own RoPE base, fused
//! projections, last-token and mean pooling, Dense modules after pooling, and each model's
//! prompts; inputs longer than the model reads, several scripts, one character.

mod common;

use std::collections::BTreeMap;

use embedd_core::vector::cosine;
use embedd_core::{EmbeddingModel, EncodeOptions};
use embedd_native::{LoadOptions, NativeModel};

/// Reference vectors: model → prompt name ("" for none) → one vector per text.
type Reference = BTreeMap<String, BTreeMap<String, Vec<Vec<f32>>>>;

#[test]
fn qwen3_embedding_embeddinggemma_and_modernbert_match_sentence_transformers() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tiny-rotary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let texts: Vec<String> = [
        "A short sentence.",
        "word ".repeat(100).as_str(),
        "Ünïcödé and 中文 and emoji 🙂, with <|endoftext|> and <bos> written in it",
        "Le modèle lit plusieurs langues. Das Modell liest viele Sprachen.",
        "a",
    ]
    .map(str::to_owned)
    .to_vec();
    let reference: Reference =
        common::run_script("make_tiny_rotary.py", &[out.as_os_str()], &texts);
    assert_eq!(reference.len(), 3);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (name, by_prompt) in reference {
        let options = LoadOptions {
            threads: 2,
            ..Default::default()
        };
        let model = NativeModel::load(&name, &name, &out.join(&name), &options).unwrap();
        assert_eq!(model.info().dimensions, 64, "{name}");
        assert_eq!(model.info().prompts, vec!["document", "query"], "{name}");
        for (prompt, expected) in &by_prompt {
            let options = EncodeOptions {
                prompt_name: (!prompt.is_empty()).then(|| prompt.clone()),
                ..Default::default()
            };
            // All texts in one batch, then each alone: the same vectors either way.
            let batch = runtime.block_on(model.encode(&texts, &options)).unwrap();
            for (i, want) in expected.iter().enumerate() {
                let alone = runtime
                    .block_on(model.encode(&texts[i..=i], &options))
                    .unwrap();
                for (how, got) in [("batched", &batch.vectors[i]), ("alone", &alone.vectors[0])] {
                    let c = cosine(got, want);
                    assert!(
                        c >= 0.9999,
                        "{name}, prompt {prompt:?}, text {i} {how}: cosine {c}"
                    );
                }
            }
        }
        // 48 tokens at most, as sentence_bert_config.json says.
        let long = model.embed_texts_blocking(&texts[1..2]).unwrap();
        assert_eq!(long.prompt_tokens, 48, "{name}");
    }
}

//! The tokenizer and inference path with arbitrary Unicode of any size (control characters,
//! combining marks, unassigned code points, thousands of characters): every text gets one finite,
//! unit-length vector, and no text is read past the model's limit.

use std::path::PathBuf;

use embedd_native::{LoadOptions, NativeModel};
use proptest::prelude::*;

fn minilm() -> &'static NativeModel {
    static MODEL: std::sync::OnceLock<NativeModel> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| {
        let root = std::env::var("EMBEDD_MODEL_DIR")
            .expect("EMBEDD_MODEL_DIR (scripts/test.sh sets it and fetches the models)");
        let dir = PathBuf::from(root).join("sentence-transformers--all-MiniLM-L6-v2");
        let options = LoadOptions {
            threads: 2,
            ..LoadOptions::default()
        };
        NativeModel::load(
            "m",
            "sentence-transformers/all-MiniLM-L6-v2",
            &dir,
            &options,
        )
        .expect("all-MiniLM-L6-v2")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_unicode_text_gets_one_unit_vector(texts in prop::collection::vec(any::<String>(), 1..6)) {
        let model = minilm();
        let out = model.embed_texts_blocking(&texts).expect("embedded");
        prop_assert_eq!(out.vectors.len(), texts.len());
        prop_assert!(out.prompt_tokens <= 256 * texts.len(), "truncated at the model's limit");
        for vector in &out.vectors {
            prop_assert_eq!(vector.len(), 384);
            prop_assert!(vector.iter().all(|x| x.is_finite()));
            let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            prop_assert!((norm - 1.0).abs() < 1e-4, "normalised: {}", norm);
        }
    }

    #[test]
    fn long_texts_of_any_script_are_cut_not_refused(
        text in prop::collection::vec(any::<char>(), 2_000..20_000).prop_map(|c| c.into_iter().collect::<String>()),
    ) {
        let out = minilm().embed_texts_blocking(std::slice::from_ref(&text)).expect("embedded");
        prop_assert!(out.prompt_tokens <= 256);
        prop_assert!(out.vectors[0].iter().all(|x| x.is_finite()));
    }
}

//! Parity with Python sentence-transformers on inputs no golden file holds, generated here with a
//! fixed seed: English from the STS set, word salads past the truncation limit, many scripts,
//! emoji and combining marks, code, odd white space. The reference runs at test time in the test
//! virtual environment (`EMBEDD_TEST_PYTHON`, made by scripts/test.sh).

mod common;

use std::ffi::OsStr;

use embedd_core::vector::cosine;
use embedd_native::NativeModel;

/// A small deterministic generator (64-bit LCG, Knuth's constants): the same texts every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

fn texts() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench/");
    let sts = std::fs::read_to_string(format!("{root}stsb-test.tsv")).unwrap();
    let long = std::fs::read_to_string(format!("{root}corpus_long.txt")).unwrap();
    let words: Vec<&str> = long.split_whitespace().collect();
    let scripts = [
        "àéîõüçñßøåæœ",
        "привет мир",
        "γειά σου κόσμε",
        "مرحبا بالعالم",
        "नमस्ते दुनिया",
        "你好世界东京大学",
        "こんにちは世界",
        "안녕하세요",
        "🙂🚀👩‍👩‍👧‍👦🇫🇷",
        "e\u{301}a\u{308}o\u{30c}",
        "\u{200b}\u{200d}\u{feff}",
        "ﬁﬂ ǅ Ⅻ ①",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    ];
    let mut rng = Lcg(20_261_124);
    let mut out = Vec::new();
    for line in sts.lines().skip(700).step_by(50).take(12) {
        out.push(line.split('\t').next().unwrap_or_default().to_owned());
    }
    for _ in 0..10 {
        let n = 1 + rng.next(600);
        let start = rng.next(words.len() - n);
        out.push(words[start..start + n].join(" "));
    }
    for _ in 0..14 {
        let mut text = String::new();
        for _ in 0..1 + rng.next(12) {
            text.push_str(scripts[rng.next(scripts.len())]);
            text.push_str([" ", "", "\t", "\n", "  ", ", "][rng.next(6)]);
            if rng.next(3) == 0 {
                text.push_str(words[rng.next(words.len())]);
            }
        }
        out.push(text);
    }
    out.extend(
        [
            "fn main() { println!(\"{}\", 40 + 2); }",
            "SELECT id, name FROM users WHERE email LIKE '%@example.com' ORDER BY 2 DESC;",
            "<div class=\"card\"><a href=\"https://example.org/a?b=c&d=e\">link</a></div>",
            "   leading and trailing   ",
            "\n\n\t\t\n",
            "UPPER CASE TEXT WITH NUMBERS 1234567890 AND SYMBOLS #$%^&*",
            "a",
            "[CLS] [SEP] [PAD] [MASK] <s> </s> <pad>",
        ]
        .map(str::to_owned),
    );
    out
}

/// sentence-transformers' vectors for `texts` from the model in `dir`, with `prompt_name`.
fn reference(dir: &std::path::Path, texts: &[String], prompt_name: Option<&str>) -> Vec<Vec<f32>> {
    let mut args = vec![dir.as_os_str()];
    args.extend(prompt_name.map(OsStr::new));
    common::run_script("reference_st.py", &args, texts)
}

fn check(hub_id: &str) {
    let dir = embedd_fetch::Fetcher::from_env().fetch(hub_id).unwrap();
    let texts = texts();
    assert!(texts.len() >= 40);
    let expected = reference(&dir, &texts, None);
    let model = NativeModel::load(
        "m",
        hub_id,
        &dir,
        &embedd_native::LoadOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let ours = model.embed_texts_blocking(&texts).unwrap();
    let mut worst = (1.0f64, 0);
    for (i, (a, b)) in ours.vectors.iter().zip(&expected).enumerate() {
        let c = cosine(a, b);
        if c < worst.0 {
            worst = (c, i);
        }
    }
    eprintln!(
        "{hub_id}: worst cosine {:.7} on input {} of {}",
        worst.0,
        worst.1,
        texts.len()
    );
    assert!(
        worst.0 >= 0.9999,
        "{hub_id}: cosine {} on {:?}",
        worst.0,
        texts[worst.1]
    );
}

#[test]
fn all_minilm_l6_v2_matches_on_new_inputs() {
    check("sentence-transformers/all-MiniLM-L6-v2");
}

#[test]
fn all_mpnet_base_v2_matches_on_new_inputs() {
    check("sentence-transformers/all-mpnet-base-v2");
}

/// The worst cosine between two lists of vectors, pair by pair.
fn worst_cosine(ours: &[Vec<f32>], theirs: &[Vec<f32>]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| cosine(a, b))
        .fold(1.0, f64::min)
}

#[test]
fn prompts_go_before_the_text_as_sentence_transformers_puts_them() {
    let source = embedd_fetch::Fetcher::from_env()
        .fetch("sentence-transformers/all-MiniLM-L6-v2")
        .unwrap();
    // The same model with prompts, as `config_sentence_transformers.json` declares them.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("minilm-with-prompts");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if name != "config_sentence_transformers.json" {
            std::os::unix::fs::symlink(&path, dir.join(name)).unwrap();
        }
    }
    std::fs::write(
        dir.join("config_sentence_transformers.json"),
        r#"{"prompts": {"query": "query: ", "passage": "passage: ", "empty": ""}, "default_prompt_name": "query"}"#,
    )
    .unwrap();
    let texts: Vec<String> = texts().into_iter().step_by(4).collect();
    let model = NativeModel::load("m", "m", &dir, &embedd_native::LoadOptions::default()).unwrap();
    let info = embedd_core::EmbeddingModel::info(&model);
    assert_eq!(info.prompts, vec!["empty", "passage", "query"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for prompt in [None, Some("passage"), Some("empty")] {
        let options = embedd_core::EncodeOptions {
            prompt_name: prompt.map(str::to_owned),
            ..Default::default()
        };
        let ours = runtime
            .block_on(embedd_core::EmbeddingModel::encode(
                &model, &texts, &options,
            ))
            .unwrap();
        let expected = reference(&dir, &texts, prompt);
        let worst = worst_cosine(&ours.vectors, &expected);
        assert!(worst >= 0.9999, "prompt {prompt:?}: cosine {worst}");
    }
    // The default prompt really changes the vectors: without one, they differ.
    let plain = model.embed_texts_blocking(&texts[..1]).unwrap();
    let queried = reference(&dir, &texts[..1], Some("query"));
    assert!(cosine(&plain.vectors[0], &queried[0]) < 0.9999);
}

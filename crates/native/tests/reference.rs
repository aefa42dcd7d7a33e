//! Parity with Python sentence-transformers on inputs no golden file holds, generated here with a
//! fixed seed: English from the STS set, word salads past the truncation limit, many scripts,
//! emoji and combining marks, code, odd white space. The reference runs at test time in the test
//! virtual environment (`EMBEDD_TEST_PYTHON`, made by scripts/test.sh).

use std::io::Write;
use std::process::{Command, Stdio};

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

fn reference(python: &str, dir: &std::path::Path, texts: &[String]) -> Vec<Vec<f32>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference_st.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the sentence-transformers reference");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(texts).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn check(hub_id: &str) {
    let python = std::env::var("EMBEDD_TEST_PYTHON")
        .expect("EMBEDD_TEST_PYTHON: run ./scripts/test.sh, which makes the virtual environment with sentence-transformers");
    let dir = embedd_fetch::Fetcher::from_env().fetch(hub_id).unwrap();
    let texts = texts();
    assert!(texts.len() >= 40);
    let expected = reference(&python, &dir, &texts);
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

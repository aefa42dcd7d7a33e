//! `embedd distill` as a user runs it: a small random BERT (made at test time, with
//! all-MiniLM-L6-v2's tokenizer) distilled into the model directory under its default name, found
//! there by `model_id`, and embedding texts as model2vec's own distillation of the same model does;
//! an existing model kept unless `--overwrite`; bad options refused with what is wrong.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{installed_model, python_with, run_python, run_with_env, scratch_dir};
use serde_json::{json, Value};

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt()
        * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

/// The tiny transformer in `dir/tiny-bert`, and model2vec's vectors of `texts` from its own
/// distillation (`dir/model2vec`).
fn make_tiny_bert(dir: &Path, texts: &[&str]) -> Vec<Vec<f64>> {
    let python = python_with(&["model2vec==0.10.0", "skeletoken==0.6.1"]);
    let tokenizer = installed_model("all-MiniLM-L6-v2");
    run_python(
        &python,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../native/tests/make_tiny_distilled.py"
        ),
        &["make".as_ref(), tokenizer.as_os_str(), dir.as_os_str()],
        &json!(texts),
    )
}

#[test]
fn a_distilled_model_is_found_by_name_and_embeds_as_model2vecs() {
    let dir = scratch_dir("distill-cli");
    let texts = [
        "A short sentence.",
        "The cats sat on the mat.",
        "Ünïcödé and 中文",
    ];
    let expected = make_tiny_bert(&dir, &texts);
    let models = dir.join("models");
    let source = dir.join("tiny-bert");
    let env: [(&str, &OsStr); 1] = [("EMBEDD_MODEL_DIR", models.as_os_str())];
    let distill = |extra: &[&str]| {
        let mut args = vec!["distill", source.to_str().unwrap()];
        args.extend_from_slice(extra);
        run_with_env(&args, &env)
    };
    let (ok, stdout, stderr) = distill(&["--pca-dims", "32"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("tiny-bert-static: 29525 tokens x 32 dimensions"),
        "{stdout}"
    );
    assert!(stdout.contains("model_id: tiny-bert-static"), "{stdout}");
    // Not a terminal: progress comes as plain lines, ending at the whole vocabulary.
    assert!(stderr.contains("29525/29525 tokens (100.0%)"), "{stderr}");
    assert!(models.join("tiny-bert-static/model.safetensors").is_file());

    // Found by its name in the model directory, and embedding as model2vec's distillation does.
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "embeddings:\n  default_model: distilled\n  models:\n    distilled: {provider: native, model_id: tiny-bert-static}\n",
    )
    .unwrap();
    let mut args = vec!["embed", "--config", config.to_str().unwrap()];
    args.extend_from_slice(&texts);
    let (ok, stdout, stderr) = run_with_env(&args, &env);
    assert!(ok, "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), texts.len());
    for (line, reference) in lines.iter().zip(&expected) {
        assert_eq!(line["model"], "distilled");
        let vector: Vec<f64> = serde_json::from_value(line["embedding"].clone()).unwrap();
        assert_eq!(vector.len(), 32);
        let c = cosine(&vector, reference);
        assert!(c >= 0.9999, "cosine {c}");
    }

    // An existing model is kept unless asked; with --overwrite it is replaced.
    let before = std::fs::metadata(models.join("tiny-bert-static/model.safetensors"))
        .unwrap()
        .modified()
        .unwrap();
    let (ok, _, stderr) = distill(&["--pca-dims", "32"]);
    assert!(!ok);
    assert!(
        stderr.contains("already exists") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = distill(&["--overwrite", "--no-pca", "--name", "tiny-bert-static"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("29525 tokens x 64 dimensions"), "{stdout}");
    let after = std::fs::metadata(models.join("tiny-bert-static/model.safetensors"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(after >= before);
    // Nothing half-written is left beside it.
    let leftovers: Vec<String> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_distill_options_say_what_is_wrong() {
    let dir = scratch_dir("distill-bad");
    let env: [(&str, &OsStr); 1] = [("EMBEDD_MODEL_DIR", dir.as_os_str())];
    let missing = dir.join("no-such-model");
    let missing = missing.to_str().unwrap();
    for (args, says) in [
        (vec!["distill", missing], "no-such-model"),
        (
            vec!["distill", missing, "--sif-coefficient", "2"],
            "SIF coefficient",
        ),
        (vec!["distill", missing, "--pca-dims", "0"], "0 dimensions"),
        (
            vec!["distill", missing, "--remove-tokens", "[unclosed"],
            "pattern",
        ),
        (
            vec!["distill", missing, "--pca-dims", "8", "--no-pca"],
            "cannot be used with",
        ),
    ] {
        let (ok, _, stderr) = run_with_env(&args, &env);
        assert!(!ok, "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

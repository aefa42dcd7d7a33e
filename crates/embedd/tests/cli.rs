//! The command line as a user runs it: a real `embedd` process.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{embedd, http, Server};

fn run(args: &[&str]) -> (bool, String, String) {
    let output = embedd().args(args).output().expect("run embedd");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn embed_prints_one_json_object_per_text() {
    let (ok, stdout, stderr) = run(&["embed", "hello world", "second text"]);
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["index"], 1);
    assert_eq!(
        lines[0]["model"], "all-minilm-l6-v2",
        "the built-in default is the native model"
    );
    assert_eq!(lines[0]["embedding"].as_array().unwrap().len(), 384);
}

#[test]
fn embed_reads_stdin_and_the_model_from_the_environment() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/embeddings.yaml");
    let mut child = embedd()
        .arg("embed")
        .env("EMBEDD_CONFIG", config)
        .env("EMBEDD_MODEL", "local-fallback")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\nthree\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 3);
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["model"], "local-fallback");
    assert_eq!(first["embedding"].as_array().unwrap().len(), 1536);
}

#[test]
fn models_lists_the_builtin_default_and_the_seed_example() {
    let (ok, stdout, _) = run(&["models", "--health"]);
    assert!(ok);
    assert!(
        stdout.contains("local-hash") && stdout.contains("default") && stdout.contains("healthy"),
        "{stdout}"
    );
    assert!(
        stdout.contains("outputs: dense"),
        "a built model shows its outputs: {stdout}"
    );
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/seed-example.yaml"
    );
    let (ok, stdout, stderr) = run(&["models", "--config", seed]);
    assert!(ok, "{stderr}");
    for name in [
        "openai-3-small",
        "openai-3-large",
        "bge-m3",
        "all-mpnet-base-v2",
        "local-fallback",
    ] {
        assert!(stdout.contains(name), "{stdout}");
    }
}

#[test]
fn models_warns_where_int8_runs_slower_than_f32() {
    // Forced to the portable path, int8 runs on the portable kernel on any CPU.
    let output = embedd()
        .args(["models"])
        .env("EMBEDD_SIMD", "portable")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    let note = stdout
        .lines()
        .find(|l| l.starts_with("note:"))
        .unwrap_or_else(|| panic!("no note: {stdout}"));
    assert!(
        note.contains("slower than f32")
            && note.contains("all-minilm-l6-v2-int8")
            && note.contains("all-mpnet-base-v2-int8")
            && !note.contains("all-minilm-l6-v2,"),
        "{note}"
    );
    // On the best path this CPU has, the note appears only where no faster kernel exists.
    let (ok, stdout, _) = run(&["models"]);
    assert!(ok);
    let fast = embedd_native::quant::Kernel::detect()
        .slower_than_f32()
        .is_none();
    assert_eq!(stdout.contains("note:"), !fast, "{stdout}");
}

#[test]
fn a_bad_config_names_the_key() {
    let dir = std::env::temp_dir().join(format!("embedd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yaml");
    std::fs::write(&file, "embeddings:\n  default_model: a\n  models:\n    a: {provider: local, dimensions: 9999}\n  fallback_chain: [a, b]\n").unwrap();
    let (ok, _, stderr) = run(&["models", "--config", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("embeddings.models.a.dimensions"),
        "{stderr}"
    );
    assert!(stderr.contains("embeddings.fallback_chain[1]"), "{stderr}");
}

#[test]
fn bench_reports_json() {
    // One quick run of `embedd bench --json` on the test corpus; the report.
    let bench = |model: &[&str]| -> serde_json::Value {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus.txt");
        let mut args = vec!["bench", "--corpus", corpus, "--json"];
        args.extend(["--runs", "1", "--min-seconds", "0"]);
        args.extend(model);
        let (ok, stdout, stderr) = run(&args);
        assert!(ok, "{stderr}");
        serde_json::from_str(stdout.trim()).unwrap()
    };
    let report = bench(&["--model", "local-hash"]);
    assert_eq!(report["model"], "local-hash");
    assert_eq!(report["texts"], 3);
    assert_eq!(report["tokens"], 12);
    for field in ["seconds", "texts_per_s", "tokens_per_s"] {
        assert!(
            report[field].as_f64().is_some_and(|x| x > 0.0),
            "{field}: {report}"
        );
    }
    assert!(report["machine"]["gemm_gflops"].as_f64().unwrap() > 0.0);
    assert!(
        report["machine"]["model_gflops"].is_null(),
        "the hash model has no products: {report}"
    );

    // A native model's products, counted from its shape: all-MiniLM-L6-v2 does
    // 2 · 6 · (4 · 384² + 2 · 384 · 1536) operations a token, plus attention's.
    let report = bench(&[]);
    let machine = &report["machine"];
    let rate = machine["model_gflops"].as_f64().unwrap();
    let work = rate * 1e9 * report["seconds"].as_f64().unwrap();
    let linear = report["tokens"].as_f64().unwrap()
        * 2.0
        * 6.0
        * (4.0 * 384.0 * 384.0 + 2.0 * 384.0 * 1536.0);
    assert!(
        work >= linear * 0.999 && work < linear * 1.1,
        "{work} operations against {linear} in the linear layers: {report}"
    );
    let fraction = machine["gemm_fraction"].as_f64().unwrap();
    let gemm = machine["gemm_gflops"].as_f64().unwrap();
    assert!((fraction - rate / gemm).abs() < 1e-9, "{report}");
    assert!(["portable", "avx2", "avx512"].contains(&machine["simd"].as_str().unwrap()));
}

#[test]
fn help_teaches_every_command() {
    let (ok, stdout, _) = run(&["--help"]);
    assert!(ok);
    for command in [
        "serve", "embed", "models", "bench", "fetch", "distill", "eval",
    ] {
        assert!(stdout.contains(command), "{stdout}");
    }
    let (_, serve_help, _) = run(&["serve", "--help"]);
    assert!(
        serve_help.contains("EMBEDD_PORT") && serve_help.contains("EMBEDD_CONFIG"),
        "{serve_help}"
    );
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm_and_sigint() {
    for signal in ["TERM", "INT"] {
        let mut server = Server::start(&["--model", "LOCAL-HASH"]);
        let (_, response) = http(
            "POST",
            &format!("{}/v1/embeddings", server.base),
            Some(serde_json::json!({"input": "ping"})),
        );
        assert_eq!(response["model"], "local-hash", "{response}");
        server.signal(signal);
        let status = server.child.wait().unwrap();
        assert!(status.success(), "exit after SIG{signal}: {status:?}");
    }
}

#[test]
fn a_signal_right_after_the_listening_line_still_stops_cleanly() {
    // The listening line is printed before the server first waits for a signal: one sent at once
    // must be kept (the process once died of SIGTERM's default action here, undrained).
    for signal in ["TERM", "INT", "TERM", "INT"] {
        let mut server = Server::start(&["--model", "LOCAL-HASH"]);
        server.signal(signal);
        let status = server.child.wait().unwrap();
        assert!(status.success(), "exit after SIG{signal}: {status:?}");
    }
}

#[test]
fn an_onnx_model_without_onnx_runtime_says_what_to_install() {
    // A directory in the ONNX layout; the graph is never read, since the runtime cannot load.
    let minilm = common::installed_model("all-MiniLM-L6-v2");
    let dir = common::scratch_dir("onnx-without-runtime");
    for file in ["config.json", "tokenizer.json", "modules.json"] {
        std::fs::copy(minilm.join(file), dir.join(file)).unwrap();
    }
    common::copy_tree(&minilm.join("1_Pooling"), &dir.join("1_Pooling"));
    std::fs::create_dir_all(dir.join("onnx")).unwrap();
    std::fs::write(dir.join("onnx/model.onnx"), b"not a graph").unwrap();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "embeddings:\n  default_model: m\n  models:\n    m: {{provider: onnx, model_id: '{}'}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let output = embedd()
        .args(["embed", "--config", config.to_str().unwrap(), "hello"])
        .env("ORT_DYLIB_PATH", dir.join("no-such-libonnxruntime.so"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cannot load ONNX Runtime") && stderr.contains("pip install onnxruntime"),
        "{stderr}"
    );
}

#[test]
fn output_into_a_pipe_closed_early_ends_quietly() {
    // `embedd embed ... | head -c 100`: the reader leaves after a few bytes of 3,000 lines.
    let texts: String = (0..3000).map(|i| format!("text number {i}\n")).collect();
    let mut child = embedd()
        .args(["embed", "--model", "local-hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(texts.as_bytes())
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");

    // `embedd models | head -1` where the reader is gone before anything is written.
    let mut child = embedd()
        .arg("models")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

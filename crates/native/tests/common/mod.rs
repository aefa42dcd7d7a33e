//! Running this crate's Python reference scripts (`tests/*.py`) in the test environment.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};

/// The test environment's Python, which has torch, transformers and sentence-transformers.
pub fn python() -> String {
    std::env::var("EMBEDD_TEST_PYTHON")
        .expect("EMBEDD_TEST_PYTHON: run ./scripts/test.sh, which makes the virtual environment with sentence-transformers")
}

/// Run `tests/{script}` with `args`, `texts` as JSON on its standard input; its standard
/// output, parsed as JSON. A failing script fails the test with its error output.
pub fn run_script<T: serde::de::DeserializeOwned>(
    script: &str,
    args: &[&OsStr],
    texts: &[String],
) -> T {
    let path = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(python())
        .arg(path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(texts).expect("texts").as_bytes())
        .expect("send the texts");
    let output = child.wait_with_output().expect("wait for the script");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script's JSON answer")
}

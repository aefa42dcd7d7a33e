//! The official OpenAI Python SDK against a real `embedd serve`: float, base64 and `dimensions`.

mod common;

use std::process::Command;

use common::{python_with, Server};

#[test]
fn the_openai_python_sdk_embeds_through_the_server() {
    let python = python_with(&["openai"]);
    let server = Server::start(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_sdk.py");
    let output = Command::new(python)
        .arg(script)
        .arg(format!("{}/v1", server.base))
        .output()
        .expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "SDK script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("openai sdk: ok"), "{stdout}");
}

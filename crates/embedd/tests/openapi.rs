//! `/openapi.json` and `/docs`: the description is a valid OpenAPI 3.1 document, every route it
//! lists answers (successes and each dialect's errors) in the shape it declares, checked by
//! Python's `openapi-spec-validator` and `jsonschema`; and the docs page renders it in Chromium.

mod common;

use std::process::Command;

use common::{chromium_dom, http, installed_model, python_with, scratch_dir, Server};

#[test]
fn every_route_answers_as_its_description_says_and_the_docs_page_renders_it() {
    installed_model("all-MiniLM-L6-v2");
    let dir = scratch_dir("openapi");
    let config = dir.join("config.yaml");
    // A native default model, so the TEI routes (tokenize, info) answer with a real tokenizer.
    std::fs::write(
        &config,
        "embeddings:\n  default_model: mini\n  fallback_chain: [mini, h]\n  models:\n    mini: {provider: native, model_id: all-MiniLM-L6-v2}\n    h: {provider: hash, dimensions: 8}\n",
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let python = python_with(&["openapi-spec-validator==0.9.0", "jsonschema==4.26.0"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi_check.py");
    let output = Command::new(&python)
        .args([script, &server.base, "mini"])
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("200 post /tokenize matches"), "{stdout}");
    assert!(stdout.contains("every described route answered as described"));

    let (status, spec) = http("GET", &format!("{}/openapi.json", server.base), None);
    assert_eq!(status, 200);
    let paths = spec["paths"].as_object().expect("paths");
    let dom = chromium_dom(&format!("{}/docs", server.base));
    assert!(
        dom.contains(r#"<p id="problem" class="muted"></p>"#),
        "the page loaded the description: {dom}"
    );
    for path in paths.keys() {
        assert!(
            dom.contains(&format!("<code>{path}</code>")),
            "the docs page shows {path}"
        );
    }
    assert!(
        dom.contains("id=\"schema-EmbeddingsRequest\""),
        "and the schemas"
    );
}

//! No path from a request to the filesystem (seed §9): a request names a model of the
//! configuration or gets a 404 in its dialect's shape. A path, a URL, a hub id or a model
//! directory that exists on this disk but is not configured is never opened or loaded.

mod common;

use common::{http, installed_model, scratch_dir, Server};
use serde_json::json;

#[test]
fn a_request_cannot_name_a_file_or_a_directory() {
    let on_disk = installed_model("all-MiniLM-L6-v2");
    let config = scratch_dir("request-paths").join("config.yaml");
    std::fs::write(
        &config,
        "embeddings:\n  default_model: h\n  models:\n    h: {provider: local, dimensions: 64}\n",
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let names = [
        on_disk.display().to_string(),
        "/etc/passwd".to_owned(),
        "../../../../etc/passwd".to_owned(),
        "file:///etc/passwd".to_owned(),
        "sentence-transformers/all-MiniLM-L6-v2".to_owned(),
        format!("{}/../all-MiniLM-L6-v2", on_disk.display()),
    ];
    for name in &names {
        let (status, body) = http(
            "POST",
            &format!("{}/v1/embeddings", server.base),
            Some(json!({"input": "a", "model": name})),
        );
        assert_eq!(status, 404, "OpenAI, {name}: {body}");
        assert_eq!(body["error"]["code"], "model_not_found", "{body}");
        let (status, body) = http(
            "POST",
            &format!("{}/api/embed", server.base),
            Some(json!({"input": "a", "model": name})),
        );
        assert_eq!(status, 404, "Ollama, {name}: {body}");
        assert!(body["error"].is_string(), "{body}");
        let (status, body) = http(
            "POST",
            &format!("{}/v1/embeddings/generate", server.base),
            Some(json!({"texts": ["a"], "model": name})),
        );
        assert_eq!(status, 404, "seed, {name}: {body}");
        let (status, _) = http(
            "GET",
            &format!("{}/v1/models/{}", server.base, name.trim_start_matches('/')),
            None,
        );
        assert_eq!(status, 404, "GET /v1/models/{name}");
    }
    // Nothing was loaded on the way: the configured model is still the only one.
    let (status, body) = http("GET", &format!("{}/v1/models", server.base), None);
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["h"], "{body}");
}

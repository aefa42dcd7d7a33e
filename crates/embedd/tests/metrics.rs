//! `GET /metrics` from a real `embedd serve`: the cache saves model calls, and the figures say so.

mod common;

use common::{http, scratch_dir, Server};
use serde_json::json;

/// The value of the sample of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.split(['{', ' ']).next() == Some(name) && labels.iter().all(|l| line.contains(l))
        })
        .find_map(|line| line.rsplit(' ').next()?.parse().ok())
}

fn metrics(server: &Server) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = reqwest::get(format!("{}/metrics", server.base))
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200);
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
        response.text().await.expect("text")
    })
}

#[test]
fn a_repeated_text_is_served_from_the_cache_without_a_model_call() {
    common::installed_model("all-MiniLM-L6-v2");
    let dir = scratch_dir("metrics");
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "embeddings:\n  default_model: m\n  models:\n    m: {provider: native, model_id: all-MiniLM-L6-v2, cache_enabled: true, cache_ttl: 1h}\n",
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let url = format!("{}/v1/embeddings", server.base);
    let (status, first) = http("POST", &url, Some(json!({"input": "the same text"})));
    assert_eq!(status, 200, "{first}");
    let (_, second) = http("POST", &url, Some(json!({"input": "the same text"})));
    assert_eq!(first["data"], second["data"], "the identical vector");
    assert_eq!(first["usage"], second["usage"], "and the same usage");
    // A caller's error is counted by its code.
    let (status, _) = http("POST", &url, Some(json!({"input": 5})));
    assert_eq!(status, 400);

    let text = metrics(&server);
    let m = "model=\"m\"";
    assert_eq!(
        sample(&text, "embedd_cache_hits_total", &[m, "tier=\"memory\""]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "embedd_cache_misses_total", &[m, "tier=\"memory\""]),
        Some(1.0)
    );
    // One batch computed in all: the second request cost no model call.
    assert_eq!(sample(&text, "embedd_batch_texts_count", &[m]), Some(1.0));
    assert_eq!(
        sample(&text, "embedd_model_requests_total", &[m, "outcome=\"ok\""]),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "embedd_requests_total",
            &["route=\"/v1/embeddings\"", "status=\"200\""]
        ),
        Some(2.0)
    );
    assert!(
        sample(&text, "embedd_errors_total", &["code=\"invalid_value\""]).is_some(),
        "{text}"
    );
    for name in [
        "embedd_request_duration_seconds_bucket",
        "embedd_model_duration_seconds_count",
        "embedd_queue_duration_seconds_count",
        "embedd_compute_duration_seconds_count",
        "embedd_tokenize_duration_seconds_count",
        "embedd_batch_tokens_count",
        "embedd_queue_depth",
        "embedd_tokens_total",
        "embedd_circuit_open",
    ] {
        assert!(
            sample(&text, name, &[]).is_some(),
            "{name} is exported: {text}"
        );
    }
}

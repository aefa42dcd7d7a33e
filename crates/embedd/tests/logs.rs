//! Logs for machines: `--log-format json` writes one JSON object a line, each request's lines in
//! a span carrying its id; and a request's id reaches the remote provider (`x-request-id`), so
//! the provider's log lines match the server's.

mod common;

use std::fs::File;

use common::{scratch_dir, Server};
use serde_json::{json, Value};

/// The request ids of the `request` lines (one per request served) in a JSON log.
fn logged_request_ids(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str::<Value>(line).expect("every log line is JSON"))
        .filter(|event| event["fields"]["message"] == "request")
        .map(|event| {
            event["span"]["id"]
                .as_str()
                .expect("a request id")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn json_logs_carry_the_request_id_the_remote_provider_was_sent() {
    let dir = scratch_dir("logs");
    let upstream_log = dir.join("upstream.log");
    let upstream = Server::start_with(
        &["--model", "local-hash", "--log-format", "json"],
        &[],
        "info",
        File::create(&upstream_log).unwrap(),
    );
    let config = dir.join("front.yaml");
    std::fs::write(
        &config,
        format!(
            "embeddings:\n  default_model: r\n  models:\n    r: {{provider: openai, model_id: local-hash, base_url: '{}/v1', dimensions: 384}}\n",
            upstream.base
        ),
    )
    .unwrap();
    let front = Server::start(&["--config", config.to_str().unwrap()]);

    let client = reqwest::Client::new();
    let url = format!("{}/v1/embeddings", front.base);
    // A caller's own id is kept; without one, the server's id is the one passed on.
    let sent = client
        .post(&url)
        .header("x-request-id", "trace-42abc")
        .json(&json!({"input": "the first text"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    assert_eq!(sent.headers()["x-request-id"], "trace-42abc");
    let made = client
        .post(&url)
        .json(&json!({"input": "the second text"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 200);
    let made_id = made.headers()["x-request-id"].to_str().unwrap().to_owned();

    // The upstream logs a request before it answers it: its log is complete here.
    drop(upstream);
    let log = std::fs::read_to_string(&upstream_log).unwrap();
    let ids = logged_request_ids(&log);
    assert!(ids.contains(&"trace-42abc".to_owned()), "{log}");
    assert!(ids.contains(&made_id), "{made_id} in {log}");
    assert!(!log.contains("first text") && !log.contains("second text"));
}

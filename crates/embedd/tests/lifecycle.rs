//! Readiness and shutdown as an orchestrator sees them: after SIGTERM a request in flight
//! finishes, new ones get a 503 in their dialect's shape, `/ready` says draining while `/health`
//! stays up, and the process exits by itself; a remote default model that is down leaves the
//! replica ready but degraded, a local one that cannot load leaves it not ready.

mod common;

use std::time::Duration;

use common::{free_port, http, installed_model, request, sample, scratch_dir, until, Server};
use serde_json::{json, Value};

/// One request: the status, the `Retry-After` header and the JSON answer (null when not JSON).
fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Option<String>, Value) {
    let answer = request(method, url, body, None);
    (
        answer.status,
        answer.retry_after,
        answer.body.unwrap_or_default(),
    )
}

#[test]
fn sigterm_finishes_requests_in_flight_refuses_new_ones_and_exits() {
    installed_model("all-MiniLM-L6-v2");
    let config = scratch_dir("lifecycle-drain").join("config.yaml");
    std::fs::write(
        &config,
        "embeddings:\n  default_model: m\n  models:\n    m: {provider: native, model_id: all-MiniLM-L6-v2}\nserver:\n  shutdown_drain: 3s\n  shutdown_grace: 60s\n",
    )
    .unwrap();
    let mut server = Server::start(&["--config", config.to_str().unwrap()]);
    let base = server.base.clone();

    // A request that takes seconds: 96 texts of the model's whole length.
    let long = "the quick brown fox jumps over the lazy dog ".repeat(40);
    let inputs: Vec<String> = (0..96).map(|i| format!("{i} {long}")).collect();
    let url = format!("{base}/v1/embeddings");
    let in_flight = std::thread::spawn(move || http("POST", &url, Some(json!({"input": inputs}))));
    until(|| (sample(&server, "embedd_queue_depth", &[]) >= 1.0).then_some(()))
        .expect("the long request was admitted");

    server.signal("TERM");
    until(|| (call("GET", &format!("{base}/ready"), None).0 == 503).then_some(()))
        .expect("/ready turns 503 while draining");
    let (status, _, ready) = call("GET", &format!("{base}/ready"), None);
    assert_eq!((status, ready["status"].as_str()), (503, Some("draining")));
    assert_eq!(
        call("GET", &format!("{base}/health"), None).0,
        200,
        "still alive"
    );
    let (status, retry, refused) = call(
        "POST",
        &format!("{base}/v1/embeddings"),
        Some(json!({"input": "a new request"})),
    );
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"]["code"], "unavailable");
    assert_eq!(retry.as_deref(), Some("1"));
    let (status, _, refused) = call(
        "POST",
        &format!("{base}/embed"),
        Some(json!({"inputs": "a"})),
    );
    assert_eq!(
        (status, refused["error_type"].as_str()),
        (503, Some("Unhealthy"))
    );
    let (status, _, refused) = call(
        "POST",
        &format!("{base}/api/embed"),
        Some(json!({"input": "a"})),
    );
    assert_eq!(status, 503);
    assert!(refused["error"].is_string(), "Ollama's shape: {refused}");

    let (status, answer) = in_flight.join().expect("the long request's thread");
    assert_eq!(status, 200, "the request in flight finished: {answer}");
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(96));

    let status = server
        .exit_within(Duration::from_secs(90))
        .expect("the server exits by itself");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_down_remote_default_is_degraded_and_a_local_one_that_cannot_load_is_not_ready() {
    let dir = scratch_dir("lifecycle-ready");
    let remote = dir.join("remote.yaml");
    std::fs::write(
        &remote,
        format!(
            "embeddings:\n  default_model: r\n  models:\n    r: {{provider: openai, model_id: m, base_url: 'http://127.0.0.1:{}/v1', dimensions: 8}}\n    h: {{provider: hash, dimensions: 8}}\n  fallback_chain: [r, h]\n",
            free_port()
        ),
    )
    .unwrap();
    let server = Server::start(&["--config", remote.to_str().unwrap()]);
    let ready = until(|| {
        let (status, _, body) = call("GET", &format!("{}/ready", server.base), None);
        (body["status"] != "not_ready").then_some((status, body))
    })
    .expect("built");
    assert_eq!(ready.0, 200, "{}", ready.1);
    assert_eq!(ready.1["status"], "degraded");
    assert_eq!(sample(&server, "embedd_degraded", &[]), 1.0);

    let local = dir.join("local.yaml");
    std::fs::write(
        &local,
        format!(
            "embeddings:\n  default_model: n\n  models:\n    n: {{provider: native, model_id: '{}'}}\n",
            dir.join("no-such-model").display()
        ),
    )
    .unwrap();
    let server = Server::start(&["--config", local.to_str().unwrap()]);
    let (status, _, body) = call("GET", &format!("{}/ready", server.base), None);
    assert_eq!(
        (status, body["status"].as_str()),
        (503, Some("not_ready")),
        "{body}"
    );
}

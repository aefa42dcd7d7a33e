//! A remote provider that answers 200 with something that is not a right answer: not JSON, the
//! wrong shape, numbers beyond f32 (which would become infinity), vectors of the wrong length or
//! the wrong count. Each is refused, never passed on: with a fallback of the same space the
//! chain answers; without one the caller gets the documented 503 (`unavailable`, naming the
//! provider's failure), never a 500.

mod common;

use common::fault::{Action, FaultProxy};
use common::{scratch_dir, Server};
use serde_json::{json, Value};

/// 200 answers that are wrong, for a request of one text to a 384-wide model.
fn wrong_answers() -> Vec<(&'static str, String)> {
    let row = |values: Vec<f64>| json!({"object": "list", "model": "m", "data": [{"object": "embedding", "index": 0, "embedding": values}]});
    let mut two = row(vec![0.1; 384]);
    two["data"]
        .as_array_mut()
        .expect("data")
        .push(json!({"object": "embedding", "index": 1, "embedding": vec![0.1; 384]}));
    let mut huge = vec![0.1; 384];
    huge[7] = 1e39;
    vec![
        ("not JSON", "this is not JSON {".to_owned()),
        ("the wrong shape", json!({"data": "nope"}).to_string()),
        ("a number beyond f32", row(huge).to_string()),
        ("the wrong length", row(vec![0.5, 0.5, 0.5]).to_string()),
        ("the wrong count", two.to_string()),
        ("no vectors", json!({"data": []}).to_string()),
    ]
}

async fn post(url: &str, body: Value) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    let model = response
        .headers()
        .get("x-embedd-model")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    (status, model, response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_answers_from_a_provider_are_refused_never_passed_on() {
    let upstream = Server::start(&["--model", "local-hash"]);
    let proxy = FaultProxy::start(upstream.base.trim_start_matches("http://")).await;
    let config = scratch_dir("provider-faults").join("config.yaml");
    // A high threshold keeps the circuits shut: every request reaches the proxy's script.
    std::fs::write(
        &config,
        format!(
            "embeddings:
  default_model: remote
  models:
    remote: {{provider: openai, model_id: local-hash, base_url: '{base}/v1', dimensions: 384, space: hash-384}}
    alone: {{provider: openai, model_id: local-hash, base_url: '{base}/v1', dimensions: 384}}
    near: {{provider: local, dimensions: 384, space: hash-384}}
  fallback_chain: [remote, near]
  circuit_breaker: {{failure_threshold: 100}}
",
            base = proxy.base
        ),
    )
    .unwrap();
    let front = Server::start(&["--config", config.to_str().unwrap()]);
    let url = format!("{}/v1/embeddings", front.base);
    let (_, _, reference) = post(&url, json!({"input": "a text", "model": "near"})).await;

    for (what, answer) in wrong_answers() {
        proxy.then([Action::Answer(answer.clone())]);
        let (status, model, body) = post(&url, json!({"input": "a text"})).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(model.as_deref(), Some("near"), "{what}: the chain answered");
        assert_eq!(
            body["data"], reference["data"],
            "{what}: the fallback's vector"
        );

        proxy.then([Action::Answer(answer)]);
        let (status, _, body) = post(&url, json!({"input": "a text", "model": "alone"})).await;
        // Every model that could serve failed: the documented 503, naming what each did.
        assert_eq!(status, 503, "{what}: {body}");
        assert_eq!(body["error"]["code"], "unavailable", "{what}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("`alone` failed"), "{what}: {message}");
    }
    assert_eq!(proxy.connections(), 2 * wrong_answers().len());
}

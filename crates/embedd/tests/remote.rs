//! Remote providers against a real second `embedd serve` (which speaks the OpenAI, Ollama, TEI and
//! sentence-transformers-service dialects), the fallback chain when that server dies, and retries
//! through a fault-injecting HTTP proxy.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::{installed_model, Server};
use embedd_core::vector::cosine;
use embedd_core::{Config, EmbedError, FallbackPolicy, Inputs, Registry};
use embedd_providers::ProviderFactory;

fn registry_of(yaml: &str) -> Registry {
    let config = Config::from_yaml(yaml, &|_| None).expect("config");
    Registry::new(&config.embeddings, Arc::new(ProviderFactory::default()))
}

fn texts() -> Vec<String> {
    [
        "The quick brown fox",
        "jumps over the lazy dog",
        "hello world",
    ]
    .map(str::to_owned)
    .to_vec()
}

const SAME_SPACE: FallbackPolicy = FallbackPolicy {
    use_chain: true,
    cross_space: false,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_remote_provider_gets_the_native_vectors() {
    installed_model("all-MiniLM-L6-v2");
    let upstream = Server::start(&[]);
    let base = &upstream.base;
    let registry = registry_of(&format!(
        "embeddings:
  default_model: native
  models:
    native: {{provider: native, model_id: sentence-transformers/all-MiniLM-L6-v2}}
    via-openai: {{provider: openai, model_id: all-minilm-l6-v2, base_url: '{base}/v1', space: all-minilm-l6-v2}}
    via-ollama: {{provider: ollama, model_id: all-minilm-l6-v2, base_url: '{base}', space: all-minilm-l6-v2}}
    via-tei: {{provider: huggingface, model_id: all-minilm-l6-v2, base_url: '{base}', space: all-minilm-l6-v2}}
    via-st: {{provider: sentence-transformers, model_id: all-minilm-l6-v2, base_url: '{base}', space: all-minilm-l6-v2}}
"
    ));
    let texts = texts();
    let native = registry
        .get_or_create("native")
        .await
        .unwrap()
        .encode(&texts)
        .await
        .unwrap();
    for name in ["via-openai", "via-ollama", "via-tei", "via-st"] {
        let model = registry
            .get_or_create(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(model.dimensions(), 384, "{name} probed the width");
        model
            .health()
            .await
            .unwrap_or_else(|e| panic!("{name} health: {e}"));
        let remote = model.encode(&texts).await.unwrap();
        for (a, b) in remote.vectors.iter().zip(&native.vectors) {
            assert!(cosine(a, b) >= 0.9999, "{name}");
        }
        if name == "via-openai" || name == "via-ollama" {
            assert_eq!(
                remote.prompt_tokens, native.prompt_tokens,
                "{name} reports the upstream's token count"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_primary_loses_no_request_and_all_down_fails_fast() {
    installed_model("all-MiniLM-L6-v2");
    let mut upstream = Server::start(&[]);
    let base = upstream.base.clone();
    let registry = registry_of(&format!(
        "embeddings:
  default_model: primary
  models:
    primary: {{provider: openai, model_id: all-minilm-l6-v2, base_url: '{base}/v1', space: all-minilm-l6-v2, timeout: 5s, dimensions: 384}}
    backup: {{provider: native, model_id: sentence-transformers/all-MiniLM-L6-v2}}
    also-remote: {{provider: ollama, model_id: all-minilm-l6-v2, base_url: '{base}', space: all-minilm-l6-v2, timeout: 5s, dimensions: 384}}
  fallback_chain: [primary, backup]
"
    ));
    let texts = texts();
    let mut answered_by = Vec::new();
    for i in 0..12 {
        if i == 4 {
            upstream.child.kill().unwrap();
            upstream.child.wait().unwrap();
        }
        let out = registry
            .encode_with_fallback(None, Inputs::Texts(&texts), SAME_SPACE)
            .await
            .unwrap_or_else(|e| panic!("request {i} lost: {e}"));
        assert_eq!(out.embeddings.vectors.len(), 3);
        answered_by.push(out.model.name().to_owned());
    }
    assert!(
        answered_by[..4].iter().all(|m| m == "primary"),
        "{answered_by:?}"
    );
    assert!(
        answered_by[4..].iter().all(|m| m == "backup"),
        "{answered_by:?}"
    );

    // Only remotes, all down: one 503-class error naming each, long before the timeouts add up.
    let started = Instant::now();
    let err = registry
        .encode_with_fallback(
            Some("also-remote"),
            Inputs::Texts(&texts),
            FallbackPolicy::default(),
        )
        .await
        .err()
        .unwrap();
    assert!(matches!(err, EmbedError::AllFailed { .. }), "{err}");
    assert!(err.to_string().contains("also-remote"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refused connection is not waited out: {:?}",
        started.elapsed()
    );
}

/// A proxy that answers requests number `skip..skip + fail` (counting from 0) with `status`
/// (and `Retry-After: 1` for 429), and forwards every other one to the upstream.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    status: StatusCode,
    skip: usize,
    fail: usize,
    seen: Arc<AtomicUsize>,
    client: reqwest::Client,
}

async fn proxy(State(p): State<Proxy>, body: Bytes) -> Response {
    let n = p.seen.fetch_add(1, Ordering::SeqCst);
    if (p.skip..p.skip + p.fail).contains(&n) {
        let mut response = (p.status, "{\"error\": {\"message\": \"injected\"}}").into_response();
        if p.status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", "1".parse().unwrap());
        }
        return response;
    }
    let answer = p
        .client
        .post(format!("{}/v1/embeddings", p.upstream))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (StatusCode::OK, answer.bytes().await.unwrap()).into_response()
}

async fn start_proxy(
    upstream: &str,
    status: StatusCode,
    fail: usize,
) -> (String, Arc<AtomicUsize>) {
    start_proxy_skipping(upstream, status, 0, fail).await
}

async fn start_proxy_skipping(
    upstream: &str,
    status: StatusCode,
    skip: usize,
    fail: usize,
) -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let state = Proxy {
        upstream: upstream.to_owned(),
        status,
        skip,
        fail,
        seen: seen.clone(),
        client: reqwest::Client::new(),
    };
    let app = axum::Router::new()
        .route("/v1/embeddings", axum::routing::post(proxy))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_its_retry_after_and_a_400_never() {
    let upstream = Server::start(&["--model", "local-hash"]);
    let (proxy_url, seen) = start_proxy(&upstream.base, StatusCode::TOO_MANY_REQUESTS, 1).await;
    let registry = registry_of(&format!(
        "embeddings:
  default_model: limited
  models:
    limited: {{provider: openai, model_id: local-hash, base_url: '{proxy_url}/v1', dimensions: 384, timeout: 10s}}
"
    ));
    let model = registry.get_default().await.unwrap();
    let started = Instant::now();
    let out = model.encode(&texts()).await.unwrap();
    assert_eq!(out.vectors.len(), 3);
    assert_eq!(seen.load(Ordering::SeqCst), 2, "one refusal, one retry");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited the Retry-After second"
    );

    let (proxy_url, seen) = start_proxy(&upstream.base, StatusCode::BAD_REQUEST, 5).await;
    let registry = registry_of(&format!(
        "embeddings:
  default_model: strict
  models:
    strict: {{provider: openai, model_id: local-hash, base_url: '{proxy_url}/v1', dimensions: 384}}
"
    ));
    let err = registry
        .get_default()
        .await
        .unwrap()
        .encode(&texts())
        .await
        .err()
        .unwrap();
    assert_eq!(err.fault(), embedd_core::Fault::User, "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "a 400 is not retried");

    let (proxy_url, seen) = start_proxy(&upstream.base, StatusCode::INTERNAL_SERVER_ERROR, 2).await;
    let registry = registry_of(&format!(
        "embeddings:
  default_model: flaky
  models:
    flaky: {{provider: openai, model_id: local-hash, base_url: '{proxy_url}/v1', dimensions: 384}}
"
    ));
    registry
        .get_default()
        .await
        .unwrap()
        .encode(&texts())
        .await
        .unwrap();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "two 500s retried with backoff, then success"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_half_way_is_answered_whole_by_one_model() {
    installed_model("all-MiniLM-L6-v2");
    let upstream = Server::start(&[]);
    // One text a request: the first goes through, the second fails on every retry.
    let (proxy_url, _) = start_proxy_skipping(&upstream.base, StatusCode::BAD_GATEWAY, 1, 100).await;
    let registry = registry_of(&format!(
        "embeddings:
  default_model: remote
  models:
    remote: {{provider: openai, model_id: all-minilm-l6-v2, base_url: '{proxy_url}/v1', batch_size: 1, dimensions: 384, space: all-minilm-l6-v2, timeout: 10s}}
    local: {{provider: native, model_id: sentence-transformers/all-MiniLM-L6-v2}}
  fallback_chain: [remote, local]
"
    ));
    let texts = texts();
    let out = registry.encode_with_fallback(None, Inputs::Texts(&texts), SAME_SPACE).await.unwrap();
    assert_eq!(out.model.name(), "local", "the whole batch comes from the model that answered");
    let local = registry.get_or_create("local").await.unwrap().encode(&texts).await.unwrap();
    assert_eq!(out.embeddings.vectors, local.vectors);
}

#[test]
fn retries_show_in_the_log_with_their_count() {
    let upstream = Server::start(&["--model", "local-hash"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (proxy_url, seen) = runtime.block_on(start_proxy(&upstream.base, StatusCode::TOO_MANY_REQUESTS, 2));
    let scratch = common::scratch_dir("retry-log");
    let config = scratch.join("front.yaml");
    std::fs::write(
        &config,
        format!("embeddings:\n  default_model: limited\n  models:\n    limited: {{provider: openai, model_id: local-hash, base_url: '{proxy_url}/v1', dimensions: 384, timeout: 20s}}\n"),
    )
    .unwrap();
    let log_path = scratch.join("front.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let front = Server::start_logging(&["--config", config.to_str().unwrap()], log);
    let body = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/v1/embeddings", front.base))
            .json(&serde_json::json!({"input": "counted retries"}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(body.contains("\"model\":\"limited\""), "{body}");
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    drop(front);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("retrying") && log.contains("retry=1") && log.contains("retry=2"), "{log}");
    assert!(!log.contains("counted retries"), "the log never holds input text");
}

//! Remote providers against a real second `embedd serve` (which speaks the OpenAI, Ollama, TEI and
//! sentence-transformers-service dialects), the fallback chain when that server dies, and retries
//! and timeouts through a fault-injecting TCP proxy.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fault::{Action, FaultProxy};
use common::{installed_model, Server};
use embedd_core::vector::cosine;
use embedd_core::{
    Config, EmbedError, EmbedRequest, Encoded, FallbackPolicy, Input, Registry, RequestLimits,
};
use embedd_providers::ProviderFactory;

fn registry_of(yaml: &str) -> Registry {
    let config = Config::from_yaml(yaml, &|_| None).expect("config");
    Registry::new(&config.embeddings, Arc::new(ProviderFactory::default()))
}

/// One request through the pipeline, as a dialect would send it.
async fn embed(
    registry: &Registry,
    model: Option<&str>,
    texts: &[String],
    policy: FallbackPolicy,
) -> Result<Encoded, EmbedError> {
    let request = EmbedRequest::new(Input::Texts(texts.to_vec()), "input")
        .with_model(model.map(str::to_owned))
        .with_policy(policy);
    registry.embed(request, &RequestLimits::default()).await
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
        .encode(&texts, &Default::default())
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
        let remote = model.encode(&texts, &Default::default()).await.unwrap();
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
    // The backup is loaded, as it is after its first use: what is timed below is the walk.
    registry.get_or_create("backup").await.unwrap();
    let mut answered_by = Vec::new();
    let mut after_kill = Vec::new();
    for i in 0..12 {
        if i == 4 {
            upstream.child.kill().unwrap();
            upstream.child.wait().unwrap();
        }
        let started = Instant::now();
        let out = embed(&registry, None, &texts, FallbackPolicy::SAME_SPACE)
            .await
            .unwrap_or_else(|e| panic!("request {i} lost: {e}"));
        if i >= 4 {
            after_kill.push(started.elapsed());
        }
        assert_eq!(out.embeddings.vectors.len(), 3);
        answered_by.push(out.model.name().to_owned());
    }
    // A refused connection is definitive while another model may answer: no retries, no backoff.
    assert!(
        after_kill[0] < Duration::from_secs(1),
        "the first request after the kill waited {:?}",
        after_kill[0]
    );
    assert!(
        after_kill[1..]
            .iter()
            .all(|t| *t < Duration::from_millis(500)),
        "{after_kill:?}"
    );
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
    let err = embed(
        &registry,
        Some("also-remote"),
        &texts,
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

/// A registry of one `openai` model, `name`, reached through `proxy`.
fn through(proxy: &FaultProxy, name: &str, extra: &str) -> Registry {
    registry_of(&format!(
        "embeddings:\n  default_model: {name}\n  models:\n    {name}: {{provider: openai, model_id: local-hash, base_url: '{}/v1', dimensions: 384{extra}}}\n",
        proxy.base
    ))
}

fn host(base: &str) -> &str {
    base.trim_start_matches("http://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_its_retry_after_and_a_400_never() {
    let upstream = Server::start(&["--model", "local-hash"]);
    let proxy = FaultProxy::start(host(&upstream.base)).await;
    proxy.then([Action::Status(429, Some(1))]);
    let started = Instant::now();
    let out = through(&proxy, "limited", ", timeout: 10s")
        .get_default()
        .await
        .unwrap()
        .encode(&texts(), &Default::default())
        .await
        .unwrap();
    assert_eq!(out.vectors.len(), 3);
    assert_eq!(proxy.connections(), 2, "one refusal, one retry");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited the Retry-After second"
    );

    let proxy = FaultProxy::start(host(&upstream.base)).await;
    proxy.then(std::iter::repeat_n(Action::Status(400, None), 5));
    let err = through(&proxy, "strict", "")
        .get_default()
        .await
        .unwrap()
        .encode(&texts(), &Default::default())
        .await
        .err()
        .unwrap();
    assert_eq!(err.fault(), embedd_core::Fault::User, "{err}");
    assert_eq!(proxy.connections(), 1, "a 400 is not retried");

    let proxy = FaultProxy::start(host(&upstream.base)).await;
    proxy.then([Action::Status(500, None), Action::Drop, Action::Reset]);
    through(&proxy, "flaky", "")
        .get_default()
        .await
        .unwrap()
        .encode(&texts(), &Default::default())
        .await
        .unwrap();
    assert_eq!(
        proxy.connections(),
        4,
        "a 500, a dropped and a reset connection, each retried with backoff"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_provider_times_out_and_the_chain_moves_on() {
    let upstream = Server::start(&["--model", "local-hash"]);
    let proxy = FaultProxy::start(host(&upstream.base)).await;
    proxy.then(std::iter::repeat_n(
        Action::Delay(Duration::from_secs(30)),
        4,
    ));
    let registry = registry_of(&format!(
        "embeddings:
  default_model: slow
  models:
    slow: {{provider: openai, model_id: local-hash, base_url: '{}/v1', dimensions: 384, space: local-hash-384, timeout: 1s}}
    fast: {{provider: local, dimensions: 384}}
  fallback_chain: [slow, fast]
",
        proxy.base
    ));
    let texts = texts();
    let started = Instant::now();
    let out = embed(&registry, None, &texts, FallbackPolicy::SAME_SPACE)
        .await
        .unwrap();
    assert_eq!(out.model.name(), "fast");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the 1s timeout, not the 30s delay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_half_way_is_answered_whole_by_one_model() {
    installed_model("all-MiniLM-L6-v2");
    let upstream = Server::start(&[]);
    // One text a request: the first goes through, the second fails on every retry.
    let proxy = FaultProxy::start(host(&upstream.base)).await;
    proxy.then([Action::Forward]);
    proxy.then(std::iter::repeat_n(Action::Status(502, None), 10));
    let proxy_url = &proxy.base;
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
    let out = embed(&registry, None, &texts, FallbackPolicy::SAME_SPACE)
        .await
        .unwrap();
    assert_eq!(
        out.model.name(),
        "local",
        "the whole batch comes from the model that answered"
    );
    let local = registry
        .get_or_create("local")
        .await
        .unwrap()
        .encode(&texts, &Default::default())
        .await
        .unwrap();
    assert_eq!(out.embeddings.vectors, local.vectors);
}

#[test]
fn retries_show_in_the_log_with_their_count() {
    let upstream = Server::start(&["--model", "local-hash"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let proxy = runtime.block_on(FaultProxy::start(host(&upstream.base)));
    proxy.then([Action::Status(429, Some(0)), Action::Status(429, Some(0))]);
    let proxy_url = proxy.base.clone();
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
    assert_eq!(proxy.connections(), 3);
    drop(front);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("retrying") && log.contains("retry=1") && log.contains("retry=2"),
        "{log}"
    );
    assert!(
        !log.contains("counted retries"),
        "the log never holds input text"
    );
}

#[test]
fn tei_embed_on_a_remote_default_model_passes_truncation_on() {
    installed_model("all-MiniLM-L6-v2");
    let upstream = Server::start(&[]);
    let dir = common::scratch_dir("tei-remote-default");
    let config = dir.join("front.yaml");
    std::fs::write(
        &config,
        format!(
            "embeddings:
  default_model: via-tei
  models:
    via-tei: {{provider: huggingface, model_id: all-minilm-l6-v2, base_url: '{}', dimensions: 384}}
",
            upstream.base
        ),
    )
    .unwrap();
    let front = Server::start(&["--config", config.to_str().unwrap()]);
    let url = format!("{}/embed", front.base);
    // TEI's default is `truncate: false`: embedd has no tokenizer for a remote model, so it
    // passes the choice on and the remote decides.
    let (status, body) = common::http(
        "POST",
        &url,
        Some(serde_json::json!({"inputs": "hello world"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0].as_array().unwrap().len(), 384);
    let long = "word ".repeat(2000);
    let (status, body) = common::http("POST", &url, Some(serde_json::json!({"inputs": long})));
    assert_eq!(status, 413, "the remote's refusal, in TEI's shape: {body}");
    assert_eq!(body["error_type"], "Validation");
    assert!(body["error"].as_str().unwrap().contains("256"), "{body}");
    let (status, _) = common::http(
        "POST",
        &url,
        Some(serde_json::json!({"inputs": long, "truncate": true})),
    );
    assert_eq!(status, 200);
    // /info states only what embedd knows of a remote model.
    let (status, info) = common::http("GET", &format!("{}/info", front.base), None);
    assert_eq!(status, 200, "{info}");
    assert!(info.get("model_dtype").is_none(), "{info}");
    assert!(
        info["model_type"]["embedding"].get("pooling").is_none(),
        "{info}"
    );
    let (_, upstream_info) = common::http("GET", &format!("{}/info", upstream.base), None);
    assert_eq!(upstream_info["model_dtype"], "float32");
    assert_eq!(upstream_info["model_type"]["embedding"]["pooling"], "mean");
}

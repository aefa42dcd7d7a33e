//! API keys and per-key rate limits through every dialect, on a real `embedd serve`: 401 without
//! a valid key, 429 with `Retry-After` past the limit, each in the dialect's own shape; probes
//! open; and neither a key nor an input text in any line the server logged.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::{scratch_dir, Server};
use serde_json::{json, Value};

const ENV_KEY: &str = "sk-env-4f1d9c2e";
const FILE_KEY: &str = "sk-file-77aa01b3";
const SECRET_TEXT: &str = "a private sentence 5b3e9";

/// One call: status, `Retry-After` and the JSON body.
fn call(url: &str, key: Option<&str>, body: Option<Value>) -> (u16, Option<String>, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut request = match &body {
            Some(body) => client.post(url).json(body),
            None => client.get(url),
        };
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.expect("body");
        (
            status,
            retry,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    })
}

/// Each dialect's route and a body for it.
fn dialects() -> Vec<(&'static str, Value)> {
    vec![
        ("/v1/embeddings", json!({"input": SECRET_TEXT})),
        ("/v1/embeddings/generate", json!({"text": SECRET_TEXT})),
        ("/api/embed", json!({"input": SECRET_TEXT})),
        ("/embed", json!({"inputs": SECRET_TEXT})),
        ("/encode", json!({"texts": [SECRET_TEXT]})),
    ]
}

/// The error shape each dialect answers in: (route, body) -> whether it is that shape.
fn in_dialect_shape(route: &str, body: &Value, openai_code: &str, tei_type: &str) -> bool {
    match route {
        "/embed" => body["error"].is_string() && body["error_type"] == tei_type,
        "/api/embed" | "/encode" => body["error"].is_string(),
        _ => body["error"]["code"] == openai_code,
    }
}

#[test]
fn keys_and_limits_hold_on_every_dialect_and_never_reach_the_log() {
    let dir = scratch_dir("keys");
    std::fs::write(dir.join("keys.txt"), format!("# operators\n{FILE_KEY}\n")).unwrap();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "embeddings:\n  default_model: h\n  models:\n    h: {{provider: hash, dimensions: 8}}\nserver:\n  api_keys_env: EMBEDD_TEST_KEYS\n  api_keys_file: {}\n  rate_limit: {{requests_per_minute: 6}}\n",
            dir.join("keys.txt").display()
        ),
    )
    .unwrap();
    let log = dir.join("server.log");
    let server = Server::start_with(
        &["--config", config.to_str().unwrap()],
        &[("EMBEDD_TEST_KEYS", &format!("sk-other,{ENV_KEY}"))],
        "info,embedd=debug",
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let base = &server.base;

    for route in ["/health", "/ready", "/metrics"] {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let status = runtime.block_on(async {
            reqwest::get(format!("{base}{route}"))
                .await
                .unwrap()
                .status()
        });
        assert_eq!(status, 200, "{route} needs no key");
    }
    for (route, body) in dialects() {
        let url = format!("{base}{route}");
        for key in [None, Some("sk-wrong"), Some("")] {
            let (status, _, answer) = call(&url, key, Some(body.clone()));
            assert_eq!(status, 401, "{route} with {key:?}: {answer}");
            assert!(
                in_dialect_shape(route, &answer, "invalid_api_key", "Unauthorized"),
                "{route}: {answer}"
            );
        }
        let (status, _, answer) = call(&url, Some(ENV_KEY), Some(body.clone()));
        assert_eq!(status, 200, "{route} with the variable's key: {answer}");
    }
    // Five requests of ENV_KEY so far, of six a minute: one more, then 429 on every dialect.
    let (status, _, _) = call(
        &format!("{base}/v1/embeddings"),
        Some(ENV_KEY),
        Some(json!({"input": "x"})),
    );
    assert_eq!(status, 200);
    for (route, body) in dialects() {
        let (status, retry, answer) = call(&format!("{base}{route}"), Some(ENV_KEY), Some(body));
        assert_eq!(status, 429, "{route}: {answer}");
        let seconds: u64 = retry.expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&seconds), "{seconds}");
        assert!(
            in_dialect_shape(route, &answer, "rate_limit_exceeded", "Overloaded"),
            "{route}: {answer}"
        );
    }
    // The file's key has a budget of its own.
    let (status, _, answer) = call(
        &format!("{base}/embed"),
        Some(FILE_KEY),
        Some(json!({"inputs": "y"})),
    );
    assert_eq!(status, 200, "{answer}");

    drop(server);
    let mut text = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        text.contains("API keys required"),
        "the log is there: {text}"
    );
    for secret in [ENV_KEY, FILE_KEY, "sk-wrong", "sk-other", SECRET_TEXT] {
        assert!(!text.contains(secret), "`{secret}` reached the log");
    }
}

#[test]
fn a_named_key_variable_that_is_unset_stops_the_start() {
    let dir = scratch_dir("keys-unset");
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "embeddings:\n  default_model: h\n  models:\n    h: {provider: hash, dimensions: 8}\nserver:\n  api_keys_env: EMBEDD_TEST_NO_SUCH_KEYS\n",
    )
    .unwrap();
    let output = common::embedd()
        .args(["serve", "--port", "0", "--config", config.to_str().unwrap()])
        .env_remove("EMBEDD_TEST_NO_SUCH_KEYS")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("EMBEDD_TEST_NO_SUCH_KEYS"), "{stderr}");
}

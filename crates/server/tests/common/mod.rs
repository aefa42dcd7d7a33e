//! A real server on a real socket (127.0.0.1, a free port) over real models, for the route tests.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use embedd_core::{Config, Registry};
use embedd_providers::ProviderFactory;
use embedd_server::{AppState, Limits};
use tokio::sync::oneshot;

/// A running server; stops when dropped.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub registry: Arc<Registry>,
    _stop: oneshot::Sender<()>,
}

/// Serve `config_yaml` (the seed's format) with `limits`.
pub async fn start(config_yaml: &str, limits: Limits) -> TestServer {
    let config = Config::from_yaml(config_yaml, &|_| None).expect("test config");
    let registry = Arc::new(Registry::new(
        &config.embeddings,
        Arc::new(ProviderFactory::default()),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = oneshot::channel::<()>();
    let state = AppState {
        registry: registry.clone(),
        limits,
        access: None,
        lifecycle: Default::default(),
    };
    tokio::spawn(embedd_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    TestServer {
        base,
        client: reqwest::Client::new(),
        registry,
        _stop: stop,
    }
}

/// Two hash models of different spaces, and a remote model that cannot be reached.
pub const CONFIG: &str = "
embeddings:
  default_model: local-hash
  models:
    local-hash: {provider: local, dimensions: 384}
    wide-hash: {provider: local, dimensions: 1536}
    unreachable:
      provider: ollama
      model_id: bge-m3
      base_url: http://127.0.0.1:9
      timeout: 2s
  fallback_chain: [unreachable, local-hash]
";

impl TestServer {
    /// POST a JSON value.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// POST raw bytes as JSON.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// GET a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }
}

/// The status and JSON body of a response.
pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

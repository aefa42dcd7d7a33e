//! Registry and fallback-chain behaviour, with small in-memory models standing in for providers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::*;
use crate::config::Config;
use crate::fallback::{Encoded, FallbackPolicy};
use crate::model::{Embeddings, EncodeOptions, ModelInfo};
use crate::request::{EmbedRequest, Input, RequestLimits};

/// A model that answers with a constant vector, or fails as told.
struct Fixed {
    info: ModelInfo,
    fail: Option<fn(&str) -> EmbedError>,
    calls: Arc<AtomicUsize>,
    /// Each call's model and whether it was told to fail fast.
    seen: Arc<std::sync::Mutex<Vec<(String, bool)>>>,
}

#[async_trait]
impl EmbeddingModel for Fixed {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    async fn encode(
        &self,
        texts: &[String],
        _options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((self.info.name.clone(), _options.fail_fast));
        }
        if let Some(fail) = self.fail {
            return Err(fail(&self.info.name));
        }
        Ok(Embeddings {
            vectors: texts
                .iter()
                .map(|_| vec![1.0; self.info.dimensions])
                .collect(),
            prompt_tokens: texts.len(),
            ..Default::default()
        })
    }
    async fn encode_tokens(
        &self,
        inputs: &[Vec<u32>],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        if self.info.provider == ProviderKind::Local {
            return Err(EmbedError::Unsupported {
                model: self.info.name.clone(),
                param: "input",
                what: "has no tokenizer".to_owned(),
            });
        }
        let texts: Vec<String> = inputs.iter().map(|_| String::new()).collect();
        self.encode(&texts, options).await
    }
    async fn health(&self) -> Result<(), EmbedError> {
        match self.fail {
            Some(fail) => Err(fail(&self.info.name)),
            None => Ok(()),
        }
    }
}

fn down(model: &str) -> EmbedError {
    EmbedError::Unavailable {
        model: model.to_owned(),
        reason: "connection refused".to_owned(),
    }
}

/// Builds `Fixed` models, counting builds; models whose id starts with `down` fail to encode,
/// those whose id starts with `unbuildable` fail to build.
#[derive(Default)]
struct Factory {
    builds: AtomicUsize,
    encodes: Arc<AtomicUsize>,
    seen: Arc<std::sync::Mutex<Vec<(String, bool)>>>,
}

#[async_trait]
impl ModelFactory for Factory {
    async fn build(&self, config: &ModelConfig) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        self.builds.fetch_add(1, Ordering::SeqCst);
        // Give concurrent callers every chance to arrive while this build is under way.
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        let id = config.model_id.clone().unwrap_or_default();
        if id.starts_with("unbuildable") {
            return Err(EmbedError::Unavailable {
                model: config.name.clone(),
                reason: "cannot be built".to_owned(),
            });
        }
        Ok(Arc::new(Fixed {
            info: ModelInfo {
                name: config.name.clone(),
                provider: config.provider,
                model_id: id.clone(),
                dimensions: config.effective_dimensions().unwrap_or(4),
                max_tokens: 512,
                space: config.effective_space(),
                pooling: None,
                precision: None,
                outputs: crate::output::Outputs::DENSE,
                prompts: if id.contains("prompted") {
                    vec!["query".to_owned()]
                } else {
                    Vec::new()
                },
                trained_dimensions: Vec::new(),
                revision: None,
                compute: None,
            },
            fail: id
                .starts_with("down")
                .then_some(down as fn(&str) -> EmbedError),
            calls: self.encodes.clone(),
            seen: self.seen.clone(),
        }))
    }
}

const CONFIG: &str = "
embeddings:
  default_model: primary
  models:
    primary: {provider: ollama, model_id: down-bge, space: bge, dimensions: 4}
    bge-native: {provider: native, model_id: BAAI/bge-m3, space: bge, dimensions: 4}
    hash: {provider: local, dimensions: 4}
    broken: {provider: openai, model_id: down-3-small, space: bge, dimensions: 4}
  fallback_chain: [primary, broken, bge-native, hash]
";

fn registry() -> (Registry, Arc<Factory>) {
    let config = Config::from_yaml(CONFIG, &|_| None).unwrap();
    let factory = Arc::new(Factory::default());
    (Registry::new(&config.embeddings, factory.clone()), factory)
}

fn texts() -> Input {
    Input::Texts(vec!["a".to_owned(), "b".to_owned()])
}

/// One request through the pipeline, as a dialect would send it.
async fn embed(
    registry: &Registry,
    model: Option<&str>,
    input: Input,
    policy: FallbackPolicy,
) -> Result<Encoded, EmbedError> {
    let request = EmbedRequest::new(input, "input")
        .with_model(model.map(str::to_owned))
        .with_policy(policy);
    registry.embed(request, &RequestLimits::default()).await
}

const CHAIN: FallbackPolicy = FallbackPolicy {
    use_chain: true,
    cross_space: false,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_first_calls_build_once() {
    let (registry, factory) = registry();
    let registry = Arc::new(registry);
    let barrier = Arc::new(tokio::sync::Barrier::new(64));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (registry, barrier) = (registry.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                registry
                    .get_or_create("hash")
                    .await
                    .map(|m| Arc::as_ptr(&m) as *const () as usize)
            })
        })
        .collect();
    let mut pointers = Vec::new();
    for task in tasks {
        pointers.push(task.await.unwrap().unwrap());
    }
    assert_eq!(factory.builds.load(Ordering::SeqCst), 1);
    assert!(
        pointers.windows(2).all(|w| w[0] == w[1]),
        "every caller got the same instance"
    );
}

#[tokio::test]
async fn names_resolve_by_key_case_and_model_id() {
    let (registry, _) = registry();
    assert_eq!(registry.resolve("hash").unwrap(), "hash");
    assert_eq!(registry.resolve("HASH").unwrap(), "hash");
    assert_eq!(registry.resolve("bge-m3").unwrap(), "bge-native");
    assert_eq!(registry.resolve("baai/BGE-M3").unwrap(), "bge-native");
    match registry.resolve("nope") {
        Err(EmbedError::ModelNotFound { available, .. }) => assert_eq!(available.len(), 4),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn get_never_builds_and_get_default_does() {
    let (registry, factory) = registry();
    assert!(matches!(
        registry.get("primary"),
        Err(EmbedError::Unavailable { .. })
    ));
    assert_eq!(factory.builds.load(Ordering::SeqCst), 0);
    let model = registry.get_default().await.unwrap();
    assert_eq!(model.name(), "primary");
    assert!(registry.get("primary").is_ok());
    assert!(registry
        .list()
        .iter()
        .any(|m| m.name == "primary" && m.loaded));
}

#[tokio::test]
async fn fallback_stays_in_the_space_and_names_the_model() {
    let (registry, _) = registry();
    let texts = texts();
    let out = embed(&registry, None, texts.clone(), CHAIN).await.unwrap();
    assert_eq!(out.model.name(), "bge-native");
    assert!(out.fell_back);
    assert_eq!(out.embeddings.vectors.len(), 2);
}

#[tokio::test]
async fn crossing_spaces_needs_permission() {
    let (registry, _) = registry();
    let texts = texts();
    // Only `hash` is of another space; with the bge models down, it may answer only if allowed.
    let alone = embed(
        &registry,
        Some("broken"),
        texts.clone(),
        FallbackPolicy::default(),
    )
    .await;
    assert!(
        matches!(&alone, Err(EmbedError::AllFailed { attempts, .. }) if attempts.len() == 1),
        "no chain: only the model asked"
    );

    let config = Config::from_yaml(
        &CONFIG.replace(
            "[primary, broken, bge-native, hash]",
            "[primary, broken, hash]",
        ),
        &|_| None,
    )
    .unwrap();
    let registry = Registry::new(&config.embeddings, Arc::new(Factory::default()));
    match embed(&registry, None, texts.clone(), CHAIN).await {
        Err(EmbedError::AllFailed { attempts, .. }) => {
            let tried: Vec<_> = attempts.iter().map(|a| a.model.as_str()).collect();
            assert_eq!(
                tried,
                ["primary", "broken"],
                "the hash model is not tried without permission"
            );
        }
        other => panic!(
            "expected AllFailed, got {:?}",
            other.map(|o| o.model.name().to_owned())
        ),
    }
    let crossing = FallbackPolicy {
        use_chain: true,
        cross_space: true,
    };
    let out = embed(&registry, None, texts.clone(), crossing)
        .await
        .unwrap();
    assert_eq!(out.model.name(), "hash");
}

#[tokio::test]
async fn token_input_never_crosses_spaces() {
    let config = Config::from_yaml(
        &CONFIG.replace("[primary, broken, bge-native, hash]", "[primary, hash]"),
        &|_| None,
    )
    .unwrap();
    let registry = Registry::new(&config.embeddings, Arc::new(Factory::default()));
    let ids = vec![vec![1u32, 2, 3]];
    let crossing = FallbackPolicy {
        use_chain: true,
        cross_space: true,
    };
    let err = embed(&registry, None, Input::Tokens(ids.clone()), crossing)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, EmbedError::AllFailed { attempts, .. } if attempts.len() == 1),
        "{err}"
    );
}

#[tokio::test]
async fn a_callers_error_is_not_retried_elsewhere() {
    let (registry, factory) = registry();
    let ids = vec![vec![1u32]];
    // `hash` has no tokenizer: that is the caller's fault, so the chain must not move on.
    let err = embed(&registry, Some("hash"), Input::Tokens(ids.clone()), CHAIN)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, EmbedError::Unsupported { .. }), "{err}");
    assert_eq!(factory.builds.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn registered_models_are_listed_and_health_checked() {
    let (registry, _) = registry();
    let extra = Fixed {
        info: ModelInfo {
            name: "extra".into(),
            provider: ProviderKind::Local,
            model_id: "extra".into(),
            dimensions: 2,
            max_tokens: 8,
            space: "extra".into(),
            pooling: None,
            precision: None,
            outputs: crate::output::Outputs::DENSE,
            prompts: Vec::new(),
            trained_dimensions: Vec::new(),
            revision: None,
            compute: None,
        },
        fail: None,
        calls: Arc::default(),
        seen: Arc::default(),
    };
    let registry = registry.with_model(Arc::new(extra)).unwrap();
    assert!(registry.get("extra").is_ok());
    let health = registry.health(false).await;
    assert!(health.contains(&("extra".to_owned(), ModelHealth::Healthy)));
    assert!(health.contains(&("hash".to_owned(), ModelHealth::NotLoaded)));
    let built = registry.health(true).await;
    assert!(matches!(&built[0], (name, ModelHealth::Unhealthy(_)) if name == "primary"));
    let dup = Fixed {
        info: registry.get("extra").unwrap().info().clone(),
        fail: None,
        calls: Arc::default(),
        seen: Arc::default(),
    };
    assert!(registry.with_model(Arc::new(dup)).is_err());
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_skipped_without_a_call_then_probed() {
    let config = Config::from_yaml(
        &CONFIG.replace(
            "  fallback_chain:",
            "  circuit_breaker: {failure_threshold: 2, cooldown: 30s}\n  fallback_chain:",
        ),
        &|_| None,
    )
    .unwrap();
    let factory = Arc::new(Factory::default());
    let registry = Registry::new(&config.embeddings, factory.clone());
    let texts = texts();
    let only = FallbackPolicy::default();
    for _ in 0..2 {
        assert!(embed(&registry, Some("primary"), texts.clone(), only)
            .await
            .is_err());
    }
    assert_eq!(factory.encodes.load(Ordering::SeqCst), 2);
    let skipped = embed(&registry, Some("primary"), texts.clone(), only)
        .await
        .err()
        .unwrap();
    assert!(skipped.to_string().contains("circuit"), "{skipped}");
    assert!(matches!(skipped, EmbedError::AllFailed { .. }));
    assert_eq!(
        factory.encodes.load(Ordering::SeqCst),
        2,
        "an open circuit is not called"
    );
    // The chain moves past it at once to the same-space backup.
    let out = embed(&registry, Some("primary"), texts.clone(), CHAIN)
        .await
        .unwrap();
    assert_eq!(out.model.name(), "bge-native");
    // That walk called `broken` (down) and `bge-native`, not `primary`.
    assert_eq!(factory.encodes.load(Ordering::SeqCst), 4);
    tokio::time::advance(std::time::Duration::from_secs(30)).await;
    assert!(embed(&registry, Some("primary"), texts.clone(), only)
        .await
        .is_err());
    assert_eq!(
        factory.encodes.load(Ordering::SeqCst),
        5,
        "after the cool-down one probe goes through"
    );
}

#[tokio::test]
async fn usage_counts_tokens_and_prices_them() {
    let config = Config::from_yaml(
        "embeddings:\n  default_model: priced\n  models:\n    priced: {provider: ollama, model_id: up, cost_per_1k_tokens: 0.5}\n    small: {provider: openai, model_id: text-embedding-3-small}\n",
        &|_| None,
    )
    .unwrap();
    assert_eq!(
        config.embeddings.models[1].price_per_1k_tokens(),
        Some(0.00002)
    );
    let registry = Registry::new(&config.embeddings, Arc::new(Factory::default()));
    let texts = texts();
    embed(&registry, None, texts.clone(), CHAIN).await.unwrap();
    let usage = registry.usage();
    assert_eq!(usage[0].tokens, 2, "the fixed model counts a token a text");
    assert_eq!(usage[0].usd, Some(0.001));
    assert_eq!((usage[1].tokens, usage[1].usd), (0, Some(0.0)));
}

#[tokio::test]
async fn a_model_that_cannot_be_built_moves_the_chain_on() {
    let config = Config::from_yaml(
        &CONFIG.replace("model_id: down-bge", "model_id: unbuildable-bge"),
        &|_| None,
    )
    .unwrap();
    let registry = Registry::new(&config.embeddings, Arc::new(Factory::default()));
    let out = embed(&registry, Some("primary"), texts(), CHAIN)
        .await
        .unwrap();
    assert_eq!(out.model.name(), "bge-native");
    assert!(out.fell_back);
}

#[tokio::test]
async fn only_the_last_model_that_may_answer_is_told_to_retry() {
    let (registry, factory) = registry();
    embed(&registry, None, texts(), CHAIN).await.unwrap();
    let seen = factory.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("primary".to_owned(), true),
            ("broken".to_owned(), true),
            ("bge-native".to_owned(), false)
        ],
        "fail fast while a later model may answer; the last one retries"
    );
    // Alone, the model asked for is the last resort: it retries.
    factory.seen.lock().unwrap().clear();
    let _ = embed(
        &registry,
        Some("primary"),
        texts(),
        FallbackPolicy::default(),
    )
    .await;
    assert_eq!(
        factory.seen.lock().unwrap().clone(),
        [("primary".to_owned(), false)]
    );
}

#[tokio::test]
async fn dimensions_shorten_and_prompts_are_refused_by_the_pipeline() {
    let (registry, _) = registry();
    let mut request = EmbedRequest::new(texts(), "input").with_model(Some("hash".into()));
    request.dimensions = Some(2);
    let out = registry
        .embed(request.clone(), &RequestLimits::default())
        .await
        .unwrap();
    assert!(out.embeddings.vectors.iter().all(|v| v.len() == 2));
    let norm: f32 = out.embeddings.vectors[0].iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-6, "re-normalised");
    request.dimensions = Some(5);
    assert!(matches!(
        registry.embed(request.clone(), &RequestLimits::default()).await,
        Err(EmbedError::InvalidInput { param: Some(p), .. }) if p == "dimensions"
    ));
    request.dimensions = None;
    request.prompt_name = Some("query".into());
    let err = registry
        .embed(request.clone(), &RequestLimits::default())
        .await;
    assert!(
        matches!(&err, Err(EmbedError::Unsupported { param: "prompt_name", what, .. }) if what.contains("defines no prompts")),
        "{:?}",
        err.err()
    );
    request.prompt_name = None;
    request.outputs = crate::output::Outputs::of(&[crate::output::Output::Sparse]);
    let err = registry.embed(request, &RequestLimits::default()).await;
    assert!(
        matches!(&err, Err(EmbedError::Unsupported { param: "outputs", what, .. }) if what.contains("gives dense")),
        "{:?}",
        err.err()
    );
}

#[tokio::test]
async fn ollama_tags_and_empty_names_resolve() {
    let (registry, _) = registry();
    assert_eq!(registry.resolve("hash:latest").unwrap(), "hash");
    let out = embed(&registry, Some(""), texts(), CHAIN).await.unwrap();
    assert_eq!(
        out.model.name(),
        "bge-native",
        "an empty name is the default"
    );
}

#[tokio::test]
async fn a_later_model_without_the_prompt_asked_for_is_passed_by() {
    let config = Config::from_yaml(
        "
embeddings:
  default_model: a
  fallback_chain: [b, c]
  models:
    a: {provider: ollama, model_id: down-prompted, space: s, dimensions: 4}
    b: {provider: native, model_id: plain, space: s, dimensions: 4}
    c: {provider: native, model_id: prompted, space: s, dimensions: 4}
",
        &|_| None,
    )
    .unwrap();
    let factory = Arc::new(Factory::default());
    let registry = Registry::new(&config.embeddings, factory.clone());
    let mut request = EmbedRequest::new(texts(), "input");
    request.prompt_name = Some("query".into());
    let out = registry
        .embed(request, &RequestLimits::default())
        .await
        .unwrap();
    assert_eq!(out.model.name(), "c", "b has no `query` prompt: passed by");
    let encoded: Vec<String> = factory
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(m, _)| m.clone())
        .collect();
    assert_eq!(encoded, vec!["a", "c"], "b was never asked to encode");
}

#[tokio::test]
async fn a_model_with_cache_enabled_computes_a_repeated_text_once() {
    let config = Config::from_yaml(
        "embeddings:\n  default_model: cached\n  models:\n    cached: {provider: ollama, model_id: m, dimensions: 4, cache_enabled: true, cache_ttl: 1h}\n    plain: {provider: ollama, model_id: m, dimensions: 4}\n",
        &|_| None,
    )
    .unwrap();
    let factory = Arc::new(Factory::default());
    let registry = Registry::new(&config.embeddings, factory.clone());
    let calls = || factory.encodes.load(Ordering::SeqCst);
    for _ in 0..2 {
        embed(&registry, None, texts(), CHAIN).await.unwrap();
    }
    assert_eq!(calls(), 1, "the second request was served from the cache");
    // Shortened per request after the cache: the cached full vector is not changed.
    let mut request = EmbedRequest::new(texts(), "input");
    request.dimensions = Some(2);
    let short = registry
        .embed(request, &RequestLimits::default())
        .await
        .unwrap();
    assert_eq!(short.embeddings.vectors[0].len(), 2);
    let full = embed(&registry, None, texts(), CHAIN).await.unwrap();
    assert_eq!(full.embeddings.vectors[0].len(), 4);
    assert_eq!(calls(), 1);
    // A model without cache_enabled computes every time.
    for _ in 0..2 {
        embed(&registry, Some("plain"), texts(), CHAIN)
            .await
            .unwrap();
    }
    assert_eq!(calls(), 3);
}

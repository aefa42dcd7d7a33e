use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(text, &no_env)
}

fn issues(text: &str) -> Vec<ConfigIssue> {
    match parse(text) {
        Err(ConfigError::Invalid { issues }) => issues,
        other => panic!("expected validation issues, got {other:?}"),
    }
}

#[test]
fn the_seed_example_loads_as_written() {
    let config = parse(include_str!("../../../../configs/seed-example.yaml")).unwrap();
    let e = &config.embeddings;
    assert_eq!(e.default_model, "openai-3-small");
    let names: Vec<_> = e.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "openai-3-small",
            "openai-3-large",
            "bge-m3",
            "all-mpnet-base-v2",
            "local-fallback"
        ]
    );
    assert_eq!(
        e.models[0].timeout,
        Some(std::time::Duration::from_secs(30))
    );
    assert_eq!(
        e.models[0].cache_ttl,
        Some(std::time::Duration::from_secs(3600))
    );
    assert_eq!(e.models[2].provider, ProviderKind::Ollama);
    assert!(e.models[2].gpu_enabled);
    assert_eq!(e.models[3].provider, ProviderKind::SentenceTransformers);
    assert_eq!(e.models[4].effective_dimensions(), Some(1536));
    assert_eq!(e.fallback_chain.len(), 4);
}

#[test]
fn the_shipped_config_and_the_builtin_load() {
    let env = |name: &str| (name == "OLLAMA_HOST").then(|| "http://127.0.0.1:11434".to_owned());
    let shipped =
        Config::from_yaml(include_str!("../../../../configs/embeddings.yaml"), &env).unwrap();
    assert_eq!(shipped.embeddings.default_model, "local-hash");
    let builtin = Config::builtin().unwrap();
    assert_eq!(builtin.embeddings.default_model, "all-minilm-l6-v2");
    assert_eq!(builtin.embeddings.models[0].provider, ProviderKind::Native);
    let hash = builtin
        .embeddings
        .models
        .iter()
        .find(|m| m.name == "local-hash")
        .unwrap();
    assert_eq!(hash.provider, ProviderKind::Local);
    let int8 = builtin
        .embeddings
        .models
        .iter()
        .find(|m| m.name == "all-minilm-l6-v2-int8")
        .unwrap();
    assert_eq!(int8.quantize, Some(Precision::Int8));
    assert_eq!(int8.effective_space(), "all-minilm-l6-v2");
    assert_eq!(builtin.server.max_inputs, 2048);
    assert_eq!(builtin.server.body_limit, ByteSize(2 * 1024 * 1024));
}

#[test]
fn variables_are_interpolated_and_typed() {
    let env = |name: &str| match name {
        "DIMS" => Some("256".to_owned()),
        "URL" => Some("http://127.0.0.1:9000".to_owned()),
        _ => None,
    };
    let text = "embeddings:\n  default_model: h\n  models:\n    h:\n      provider: hash\n      dimensions: ${DIMS}\n    o: {provider: ollama, model_id: x, base_url: \"${URL}\"}\n";
    let config = Config::from_yaml(text, &env).unwrap();
    assert_eq!(config.embeddings.models[0].dimensions, Some(256));
    assert_eq!(
        config.embeddings.models[1].base_url.as_deref(),
        Some("http://127.0.0.1:9000")
    );
}

#[test]
fn an_unknown_provider_is_named_with_its_key() {
    let err = parse("embeddings:\n  default_model: a\n  models:\n    a: {provider: magic}\n")
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("embeddings.models.a.provider"), "{text}");
    assert!(text.contains("magic") && text.contains("openai"), "{text}");
}

#[test]
fn a_misspelt_key_is_refused() {
    let text = parse(
        "embeddings:\n  default_model: a\n  models:\n    a: {provider: local, dimension: 3}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("dimension") && text.contains("embeddings.models.a"),
        "{text}"
    );
}

#[test]
fn a_chain_naming_an_unknown_model_is_refused() {
    let found = issues("embeddings:\n  default_model: a\n  models:\n    a: {provider: local}\n  fallback_chain: [a, ghost]\n");
    assert_eq!(found[0].key, "embeddings.fallback_chain[1]");
    assert!(found[0].message.contains("ghost"));
}

#[test]
fn an_unknown_default_is_refused() {
    let found = issues("embeddings:\n  default_model: b\n  models:\n    a: {provider: local}\n");
    assert_eq!(found[0].key, "embeddings.default_model");
}

#[test]
fn dimensions_out_of_range_are_refused() {
    let found = issues(
        "embeddings:\n  default_model: a\n  models:\n    a: {provider: local, dimensions: 9000}\n    b: {provider: local, dimensions: 0}\n    c: {provider: openai, model_id: text-embedding-3-small, dimensions: 3072}\n    d: {provider: openai, model_id: text-embedding-ada-002, dimensions: 512}\n",
    );
    let keys: Vec<_> = found.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "embeddings.models.a.dimensions",
            "embeddings.models.b.dimensions",
            "embeddings.models.c.dimensions",
            "embeddings.models.d.dimensions"
        ]
    );
    assert!(
        found[0].message.contains("1..=8192"),
        "{}",
        found[0].message
    );
}

#[test]
fn max_tokens_beyond_the_model_are_refused() {
    let found = issues(
        "embeddings:\n  default_model: a\n  models:\n    a: {provider: openai, model_id: text-embedding-3-large, max_tokens: 100000}\n",
    );
    assert_eq!(found[0].key, "embeddings.models.a.max_tokens");
    assert!(found[0].message.contains("8191"));
}

#[test]
fn a_clear_text_key_is_refused_without_being_echoed() {
    let err = parse("embeddings:\n  default_model: a\n  models:\n    a: {provider: openai, model_id: text-embedding-3-small, api_key: sk-secret-123}\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("api_key_env"), "{text}");
    assert!(!text.contains("sk-secret-123"), "{text}");
}

#[test]
fn bad_urls_durations_and_duplicate_names_are_refused() {
    let found = issues("embeddings:\n  default_model: a\n  models:\n    a: {provider: ollama, model_id: m, base_url: 'ftp://x', batch_size: 0}\n");
    assert_eq!(found.len(), 2);
    assert!(parse(
        "embeddings:\n  default_model: a\n  models:\n    a: {provider: local, timeout: soon}\n"
    )
    .is_err());
    let dup = parse("embeddings:\n  default_model: a\n  models:\n    a: {provider: local}\n    a: {provider: local}\n");
    assert!(dup.is_err());
}

#[test]
fn models_of_one_space_must_share_a_length() {
    let found = issues("embeddings:\n  default_model: a\n  models:\n    a: {provider: ollama, model_id: bge-m3, dimensions: 1024}\n    b: {provider: native, model_id: BAAI/bge-m3, space: bge-m3, dimensions: 768}\n");
    assert_eq!(found[0].key, "embeddings.models.b.space");
}

#[test]
fn missing_variables_are_reported_by_key() {
    let found = issues("embeddings:\n  default_model: a\n  models:\n    a: {provider: ollama, model_id: m, base_url: \"${NOT_SET_ANYWHERE}\"}\n");
    assert_eq!(found[0].key, "embeddings.models.a.base_url");
    assert!(found[0].message.contains("NOT_SET_ANYWHERE"));
}

#[test]
fn an_alias_may_not_shadow_a_model() {
    let found = issues("embeddings:\n  default_model: a\n  models:\n    a: {provider: local}\n    b: {provider: local, aliases: [A]}\n");
    assert_eq!(found[0].key, "embeddings.models.b.aliases");
}

#[test]
fn every_provider_name_and_alias_parses() {
    for (name, kind) in [
        ("native", ProviderKind::Native),
        ("onnx", ProviderKind::Onnx),
        ("openai", ProviderKind::OpenAi),
        ("ollama", ProviderKind::Ollama),
        ("sentence-transformers", ProviderKind::SentenceTransformers),
        ("sentence_transformers", ProviderKind::SentenceTransformers),
        ("huggingface", ProviderKind::HuggingFace),
        ("hf", ProviderKind::HuggingFace),
        ("tei", ProviderKind::HuggingFace),
        ("local", ProviderKind::Local),
        ("hash", ProviderKind::Local),
    ] {
        let config = parse(&format!("embeddings:\n  default_model: a\n  models:\n    a: {{provider: {name}, model_id: m}}\n")).unwrap();
        assert_eq!(config.embeddings.models[0].provider, kind, "{name}");
        assert!(
            name == "hash"
                || name == "hf"
                || name == "tei"
                || name == "sentence_transformers"
                || kind.as_str() == name
        );
    }
}

#[test]
fn quantize_is_for_native_models_and_names_its_values() {
    let ok = parse(
        "embeddings:\n  default_model: a\n  models:\n    a: {provider: native, model_id: m, quantize: int8}\n    b: {provider: native, model_id: m, quantize: none}\n",
    )
    .unwrap();
    assert_eq!(ok.embeddings.models[0].quantize, Some(Precision::Int8));
    assert_eq!(ok.embeddings.models[1].quantize, Some(Precision::F32));
    let remote = issues(
        "embeddings:\n  default_model: a\n  models:\n    a: {provider: ollama, model_id: m, quantize: int8}\n",
    );
    assert!(
        remote.iter().any(|i| i.to_string().contains("quantize")),
        "{remote:?}"
    );
    let text = parse(
        "embeddings:\n  default_model: a\n  models:\n    a: {provider: native, model_id: m, quantize: int4}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("models.a.quantize") && text.contains("int8"),
        "{text}"
    );
}

#[test]
fn keys_a_provider_does_not_use_are_refused_by_name() {
    let err = Config::from_yaml(
        "embeddings:\n  default_model: n\n  models:\n    n: {provider: native, model_id: m, base_url: 'http://x', batch_size: 8}\n    h: {provider: local, model_id: m, api_key_env: KEY}\n    o: {provider: ollama, model_id: m, max_batch_tokens: 512}\n",
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    for key in [
        "embeddings.models.n.base_url",
        "embeddings.models.n.batch_size",
        "embeddings.models.h.api_key_env",
        "embeddings.models.o.max_batch_tokens",
    ] {
        assert!(err.contains(key), "{key} missing from: {err}");
    }
}

#[test]
fn the_cache_section_takes_a_byte_bound() {
    let base =
        "embeddings:\n  default_model: h\n  models:\n    h: {provider: hash, dimensions: 8}\n";
    assert_eq!(
        parse(base).unwrap().embeddings.cache.memory,
        ByteSize(256 * 1024 * 1024)
    );
    let sized = parse(&format!("{base}  cache: {{memory: 64MiB}}\n")).unwrap();
    assert_eq!(sized.embeddings.cache.memory, ByteSize(64 * 1024 * 1024));
    // A misspelt key is refused, not ignored.
    assert!(parse(&format!("{base}  cache: {{memroy: 64MiB}}\n")).is_err());
    let redis = parse(&format!(
        "{base}  cache: {{redis_url: 'redis://:pw@127.0.0.1:6379/0', redis_timeout: 20ms}}\n"
    ))
    .unwrap();
    assert_eq!(
        redis.embeddings.cache.redis_timeout,
        std::time::Duration::from_millis(20)
    );
    let bad = issues(&format!(
        "{base}  cache: {{redis_url: 'http://secret@x'}}\n"
    ));
    assert_eq!(bad[0].key, "embeddings.cache.redis_url");
    assert!(
        !bad[0].message.contains("secret"),
        "the address is not echoed"
    );
}

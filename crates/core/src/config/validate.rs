//! Start-up checks that a parsed configuration can work; every problem is collected, not just the first.

use super::types::{Config, ModelConfig, ProviderKind};
use super::ConfigIssue;
use crate::catalog;

/// Every problem in `config`, each naming its key; empty when the config is usable.
pub(super) fn validate(config: &Config) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let mut push = |key: String, message: String| issues.push(ConfigIssue { key, message });
    let e = &config.embeddings;
    let names: Vec<&str> = e.models.iter().map(|m| m.name.as_str()).collect();

    if e.models.is_empty() {
        push("embeddings.models".into(), "no models are defined".into());
    } else if !names.contains(&e.default_model.as_str()) {
        push(
            "embeddings.default_model".into(),
            format!(
                "`{}` is not one of the models ({})",
                e.default_model,
                names.join(", ")
            ),
        );
    }
    if let Some(url) = &e.cache.redis_url {
        // The address may carry a password: it is never echoed.
        let scheme = url::Url::parse(url).map(|u| u.scheme().to_owned());
        if !matches!(
            scheme.as_deref(),
            Ok("redis" | "rediss" | "redis+unix" | "unix")
        ) {
            push(
                "embeddings.cache.redis_url".into(),
                "is not a Redis address (redis://host:6379/0, rediss://..., unix:///path)".into(),
            );
        }
    }
    for (i, name) in e.fallback_chain.iter().enumerate() {
        let key = format!("embeddings.fallback_chain[{i}]");
        if !names.contains(&name.as_str()) {
            push(
                key,
                format!("`{name}` is not one of the models ({})", names.join(", ")),
            );
        } else if e.fallback_chain[..i].contains(name) {
            push(key, format!("`{name}` appears twice in the chain"));
        }
    }
    for model in &e.models {
        for alias in model
            .aliases
            .iter()
            .filter(|a| names.iter().any(|n| n.eq_ignore_ascii_case(a)))
        {
            push(
                format!("embeddings.models.{}.aliases", model.name),
                format!("`{alias}` is already the name of a model"),
            );
        }
        for (key, message) in check_model(model) {
            push(format!("embeddings.models.{}.{key}", model.name), message);
        }
    }
    for (i, a) in e.models.iter().enumerate() {
        for b in &e.models[..i] {
            let (da, db) = (a.effective_dimensions(), b.effective_dimensions());
            if a.effective_space() == b.effective_space()
                && da.is_some()
                && db.is_some()
                && da != db
            {
                push(
                    format!("embeddings.models.{}.space", a.name),
                    format!(
                        "shares space `{}` with `{}` but has {} dimensions against {}: vectors of one space must have one length",
                        a.effective_space(),
                        b.name,
                        da.unwrap_or_default(),
                        db.unwrap_or_default()
                    ),
                );
            }
        }
    }

    let server = &config.server;
    if server.max_inputs == 0 {
        push("server.max_inputs".into(), "must be at least 1".into());
    }
    if server.max_tokens_per_request == 0 {
        push(
            "server.max_tokens_per_request".into(),
            "must be at least 1".into(),
        );
    }
    if server.body_limit.0 < 1024 {
        push(
            "server.body_limit".into(),
            format!("{} is too small to hold a request", server.body_limit),
        );
    }
    issues
}

/// Problems with one model, as (key under the model, message).
fn check_model(m: &ModelConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let openai = m.model_id.as_deref().and_then(catalog::openai_model);

    if m.model_id.is_none() && m.provider != ProviderKind::Local {
        out.push((
            "model_id",
            format!("is required for the {} provider", m.provider),
        ));
    }
    if m.model_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
        out.push(("model_id", "must not be empty".to_owned()));
    }
    if let Some(d) = m.dimensions {
        let max = match (m.provider, openai) {
            (ProviderKind::Local, _) => catalog::LOCAL_MAX_DIMENSIONS,
            (ProviderKind::OpenAi, Some(known)) => known.dimensions,
            _ => catalog::MAX_DIMENSIONS,
        };
        if d == 0 || d > max {
            out.push((
                "dimensions",
                format!(
                    "{d} is out of range: the {} provider takes 1..={max}",
                    m.provider
                ),
            ));
        } else if let (ProviderKind::OpenAi, Some(known)) = (m.provider, openai) {
            if !known.shortenable && d != known.dimensions {
                out.push((
                    "dimensions",
                    format!(
                        "{} always returns {} dimensions; it cannot shorten to {d}",
                        known.model_id, known.dimensions
                    ),
                ));
            }
        }
    }
    if let Some(t) = m.max_tokens {
        let limit = match (m.provider, openai) {
            (ProviderKind::OpenAi, Some(known)) => Some(known.max_tokens),
            _ => None,
        };
        if t == 0 {
            out.push(("max_tokens", "must be at least 1".to_owned()));
        } else if let Some(limit) = limit.filter(|limit| t > *limit) {
            out.push((
                "max_tokens",
                format!("{t} is more than the model can take ({limit})"),
            ));
        }
    }
    if m.batch_size == Some(0) {
        out.push(("batch_size", "must be at least 1".to_owned()));
    }
    if m.max_batch_tokens == Some(0) {
        out.push(("max_batch_tokens", "must be at least 1".to_owned()));
    }
    if m.queue_size == Some(0) {
        out.push(("queue_size", "must be at least 1".to_owned()));
    }
    for (key, message) in unused_keys(m) {
        out.push((key, message));
    }
    if m.timeout.is_some_and(|t| t.is_zero()) {
        out.push(("timeout", "must be longer than zero".to_owned()));
    }
    if let Some(url) = &m.base_url {
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => out.push((
                "base_url",
                format!("scheme `{}` is not http or https", u.scheme()),
            )),
            Err(e) => out.push(("base_url", format!("`{url}` is not a URL: {e}"))),
        }
    }
    if m.api_key.is_some() {
        out.push((
            "api_key",
            "keys are never read from the config file; put the key in an environment variable and name it with api_key_env".to_owned(),
        ));
    }
    if let Some(var) = &m.api_key_env {
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push((
                "api_key_env",
                format!("`{var}` is not an environment variable name"),
            ));
        }
    }
    if m.provider == ProviderKind::Rerank
        && m.base_url.is_none()
        && m.api.unwrap_or_default() == crate::config::RerankApi::Tei
    {
        out.push((
            "base_url",
            "is required for a TEI reranker (`api: tei`): the server's address".to_owned(),
        ));
    }
    if m.space.as_deref().is_some_and(|s| s.trim().is_empty()) {
        out.push(("space", "must not be empty".to_owned()));
    }
    out
}

/// Keys set on a model whose provider does not use them: refused, so a setting never silently
/// does nothing.
fn unused_keys(m: &ModelConfig) -> Vec<(&'static str, String)> {
    let native = m.provider == ProviderKind::Native;
    let remote = m.provider.is_remote();
    let provider = m.provider;
    let mut out = Vec::new();
    let mut refuse = |set: bool, key: &'static str, why: &str| {
        if set {
            out.push((
                key,
                format!("the {provider} provider does not use it; {why}"),
            ));
        }
    };
    refuse(
        m.quantize.is_some() && !native,
        "quantize",
        "only native (in-process) models can be quantized",
    );
    refuse(
        m.max_batch_tokens.is_some() && !native,
        "max_batch_tokens",
        "only native models have a batch scheduler",
    );
    refuse(
        m.queue_size.is_some() && !native,
        "queue_size",
        "only native models have a batch scheduler",
    );
    refuse(
        m.base_url.is_some() && !remote,
        "base_url",
        "only remote providers are reached at an address",
    );
    refuse(
        m.api_key_env.is_some() && !remote,
        "api_key_env",
        "only remote providers take a key",
    );
    let rerank = provider == ProviderKind::Rerank;
    refuse(
        m.api.is_some() && !rerank,
        "api",
        "only remote rerankers (provider `rerank`) choose an API",
    );
    refuse(
        m.dimensions.is_some() && rerank,
        "dimensions",
        "a reranker gives one score per document, not vectors",
    );
    refuse(
        (m.cache_enabled || m.token_ids.is_some()) && rerank,
        if m.cache_enabled {
            "cache_enabled"
        } else {
            "token_ids"
        },
        "a reranker's requests are pairs of texts, not embeddings",
    );
    refuse(
        m.batch_size.is_some() && !remote,
        "batch_size",
        "in-process models batch by tokens (max_batch_tokens)",
    );
    out
}

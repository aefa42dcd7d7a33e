//! What every command does first: load the configuration and build the registry.

use std::sync::Arc;

use anyhow::Context;
use embedd_core::{Config, Registry};
use embedd_providers::ProviderFactory;

use crate::cli::ConfigArgs;

/// The configuration from `--config`, or the built-in one.
pub fn load_config(args: &ConfigArgs) -> anyhow::Result<Config> {
    match &args.config {
        Some(path) => Config::load(path).with_context(|| format!("loading {}", path.display())),
        None => Config::builtin().context("the built-in configuration"),
    }
}

/// A registry over `config`'s models with every provider this build has; `default_model`
/// (any name form the registry resolves) replaces the config's default.
pub fn registry(config: &Config, default_model: Option<&str>) -> anyhow::Result<Arc<Registry>> {
    let registry = Registry::new(&config.embeddings, Arc::new(ProviderFactory::default()));
    registry.check_providers()?;
    let cache = &config.embeddings.cache;
    if let Some(url) = &cache.redis_url {
        let tier = embedd_redis_cache::RedisTier::new(url, cache.redis_timeout)
            .map_err(anyhow::Error::msg)
            .context("embeddings.cache.redis_url")?;
        if registry.caches() {
            registry.attach_shared_cache(Arc::new(tier));
        } else {
            tracing::warn!("embeddings.cache.redis_url is set but no model has cache_enabled");
        }
    }
    Ok(Arc::new(match default_model {
        Some(name) => registry.with_default(name)?,
        None => registry,
    }))
}

/// Resolve a `--model` flag to a registry name, or the default when absent.
pub fn model_name(registry: &Registry, model: Option<&str>) -> anyhow::Result<String> {
    Ok(registry.resolve(model.unwrap_or(registry.default_name()))?)
}

/// The API keys `server` names (its variable and file) with its rate limit; `None` when it names
/// none. A variable or file that is named but missing, unreadable or empty is an error: starting
/// open when keys were meant would be worse than not starting.
pub fn access(
    server: &embedd_core::config::ServerConfig,
) -> anyhow::Result<Option<embedd_server::auth::Access>> {
    if server.api_keys_env.is_none() && server.api_keys_file.is_none() {
        return Ok(None);
    }
    let from_env = match &server.api_keys_env {
        Some(name) => Some(
            std::env::var(name)
                .with_context(|| format!("server.api_keys_env names `{name}`, which is not set"))?,
        ),
        None => None,
    };
    let from_file = match &server.api_keys_file {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
            format!("server.api_keys_file `{}` cannot be read", path.display())
        })?),
        None => None,
    };
    let access = embedd_server::auth::Access::new(
        from_env.as_deref(),
        from_file.as_deref(),
        server.public_routes.clone(),
        server.rate_limit,
    )
    .context("server.api_keys_env / server.api_keys_file hold no keys")?;
    tracing::info!(keys = access.keys(), "API keys required");
    Ok(Some(access))
}

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
    Ok(Arc::new(match default_model {
        Some(name) => registry.with_default(name)?,
        None => registry,
    }))
}

/// Resolve a `--model` flag to a registry name, or the default when absent.
pub fn model_name(registry: &Registry, model: Option<&str>) -> anyhow::Result<String> {
    Ok(registry.resolve(model.unwrap_or(registry.default_name()))?)
}

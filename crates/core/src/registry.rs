//! The registry: every configured model by name, built on first use and exactly once.
//!
//! The set of models is fixed when the registry is made, so the request path takes no lock:
//! [`Registry::handle`] resolves a caller's name once into a [`ModelHandle`], and everything after
//! works on the handle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::circuit::{Breaker, BreakerPolicy};
use crate::config::{ConfigError, ConfigIssue, EmbeddingsConfig, ModelConfig, ProviderKind};
use crate::error::EmbedError;
use crate::model::EmbeddingModel;

/// Builds a model from its configuration; the registry calls it once per model, on first use.
///
/// The provider crates implement it; keeping it a trait keeps this crate free of their weight.
#[async_trait]
pub trait ModelFactory: Send + Sync {
    /// Build the model `config` describes, ready to encode.
    async fn build(&self, config: &ModelConfig) -> Result<Arc<dyn EmbeddingModel>, EmbedError>;

    /// Whether this build of embedd has `provider` at all (a cargo feature may leave one out).
    fn supports(&self, provider: ProviderKind) -> bool {
        let _ = provider;
        true
    }
}

/// One registry entry: what the config says, and the model once built.
pub(crate) struct Slot {
    pub(crate) name: String,
    pub(crate) config: Option<ModelConfig>,
    pub(crate) space: String,
    pub(crate) cell: OnceCell<Arc<dyn EmbeddingModel>>,
    pub(crate) breaker: Breaker,
    /// Tokens this model has embedded for callers.
    pub(crate) tokens: AtomicU64,
}

impl Slot {
    fn new(
        name: String,
        space: String,
        config: Option<ModelConfig>,
        model: Option<Arc<dyn EmbeddingModel>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            config,
            space,
            cell: OnceCell::new_with(model),
            breaker: Breaker::default(),
            tokens: AtomicU64::new(0),
        })
    }
}

/// What `embedd models` and `/v1/models` show of one model, without building it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelListing {
    /// Registry name.
    pub name: String,
    /// Provider.
    pub provider: ProviderKind,
    /// The provider's identifier.
    pub model_id: String,
    /// Vector length, when known before building.
    pub dimensions: Option<usize>,
    /// Token limit, when known before building.
    pub max_tokens: Option<usize>,
    /// Vector space.
    pub space: String,
    /// Whether the model has been built.
    pub loaded: bool,
}

/// What one model has embedded, and what that cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelUsage {
    /// Registry name.
    pub name: String,
    /// Provider.
    pub provider: ProviderKind,
    /// Tokens embedded for callers.
    pub tokens: u64,
    /// Estimated US dollars, for models with a price.
    pub usd: Option<f64>,
}

/// The outcome of one model's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelHealth {
    /// Built and answering.
    Healthy,
    /// Built (or tried) and failing, with the reason.
    Unhealthy(String),
    /// Not built yet; not checked.
    NotLoaded,
}

/// A resolved model: what the config says of it, and the model once built. Cheap to clone.
#[derive(Clone)]
pub struct ModelHandle {
    pub(crate) slot: Arc<Slot>,
}

impl ModelHandle {
    /// The registry name.
    pub fn name(&self) -> &str {
        &self.slot.name
    }

    /// The vector space.
    pub fn space(&self) -> &str {
        &self.slot.space
    }

    /// What the config says of the model (`None` for a model registered already built).
    pub fn config(&self) -> Option<&ModelConfig> {
        self.slot.config.as_ref()
    }

    /// The model if it is built; never builds.
    pub fn built(&self) -> Option<Arc<dyn EmbeddingModel>> {
        self.slot.cell.get().cloned()
    }

    /// The vector length: the built model's, else the config's when it says.
    pub fn dimensions(&self) -> Option<usize> {
        match self.built() {
            Some(model) => Some(model.dimensions()),
            None => self
                .slot
                .config
                .as_ref()
                .and_then(ModelConfig::effective_dimensions),
        }
    }

    /// Whether the model's circuit breaker is open (it is being skipped after failures).
    pub fn circuit_open(&self) -> bool {
        self.slot.breaker.is_open()
    }

    /// What listings show of the model, without building it.
    pub fn listing(&self) -> ModelListing {
        let slot = &self.slot;
        match (slot.cell.get(), &slot.config) {
            (Some(model), _) => {
                let info = model.info();
                ModelListing {
                    name: slot.name.clone(),
                    provider: info.provider,
                    model_id: info.model_id.clone(),
                    dimensions: Some(info.dimensions),
                    max_tokens: Some(info.max_tokens),
                    space: info.space.clone(),
                    loaded: true,
                }
            }
            (None, Some(config)) => ModelListing {
                name: slot.name.clone(),
                provider: config.provider,
                model_id: config.model_id.clone().unwrap_or_else(|| slot.name.clone()),
                dimensions: config.effective_dimensions(),
                max_tokens: config.max_tokens,
                space: slot.space.clone(),
                loaded: false,
            },
            (None, None) => ModelListing {
                name: slot.name.clone(),
                provider: ProviderKind::Local,
                model_id: slot.name.clone(),
                dimensions: None,
                max_tokens: None,
                space: slot.space.clone(),
                loaded: false,
            },
        }
    }
}

/// Every model embedd knows, the default, and the fallback chain.
pub struct Registry {
    slots: Vec<Arc<Slot>>,
    default_model: String,
    /// The chain's models, resolved once.
    pub(crate) fallback_chain: Vec<Arc<Slot>>,
    pub(crate) allow_cross_space: bool,
    pub(crate) breaker_policy: BreakerPolicy,
    factory: Arc<dyn ModelFactory>,
    /// The vector cache, when some model enables it.
    pub(crate) cache: Option<Arc<crate::cache::VectorCache>>,
}

impl Registry {
    /// A registry of the configured models; none is built until first asked for.
    pub fn new(config: &EmbeddingsConfig, factory: Arc<dyn ModelFactory>) -> Self {
        let slots: Vec<Arc<Slot>> = config
            .models
            .iter()
            .map(|m| Slot::new(m.name.clone(), m.effective_space(), Some(m.clone()), None))
            .collect();
        let fallback_chain = config
            .fallback_chain
            .iter()
            .filter_map(|name| slots.iter().find(|s| &s.name == name).cloned())
            .collect();
        Self {
            slots,
            default_model: config.default_model.clone(),
            fallback_chain,
            allow_cross_space: config.allow_cross_space_fallback,
            breaker_policy: config.circuit_breaker,
            factory,
            cache: config
                .models
                .iter()
                .any(|m| m.cache_enabled)
                .then(|| Arc::new(crate::cache::VectorCache::new(config.cache.memory.0))),
        }
    }

    /// Put a cache tier shared by replicas (Redis) behind the in-process one; nothing happens
    /// when no model enables caching.
    pub fn attach_shared_cache(&self, tier: Arc<dyn crate::cache::SharedTier>) {
        if let Some(cache) = &self.cache {
            cache.attach(tier);
        }
    }

    /// Whether some model caches its vectors.
    pub fn caches(&self) -> bool {
        self.cache.is_some()
    }

    /// Refuse, at start-up, models whose provider this build does not have, each naming its key.
    pub fn check_providers(&self) -> Result<(), ConfigError> {
        let issues: Vec<ConfigIssue> = self
            .slots
            .iter()
            .filter_map(|slot| slot.config.as_ref())
            .filter(|config| !self.factory.supports(config.provider))
            .map(|config| ConfigIssue {
                key: format!("embeddings.models.{}.provider", config.name),
                message: format!(
                    "the {} provider is not part of this build of embedd",
                    config.provider
                ),
            })
            .collect();
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { issues })
        }
    }

    /// The same registry with `name` (any form [`Registry::resolve`] accepts) as the default model.
    pub fn with_default(mut self, name: &str) -> Result<Self, EmbedError> {
        self.default_model = self.resolve(name)?;
        Ok(self)
    }

    /// The same registry with an already built model added under its own name.
    pub fn with_model(mut self, model: Arc<dyn EmbeddingModel>) -> Result<Self, EmbedError> {
        let info = model.info().clone();
        if self.slots.iter().any(|s| s.name == info.name) {
            return Err(EmbedError::invalid(
                "model",
                format!("a model named `{}` is already registered", info.name),
            ));
        }
        self.slots
            .push(Slot::new(info.name, info.space, None, Some(model)));
        Ok(self)
    }

    /// The model a caller's name refers to.
    ///
    /// Matches, in order: the exact name; the name ignoring case; a configured alias, the
    /// provider's model id or its last path segment, ignoring case (so `sentence-transformers/all-MiniLM-L6-v2`,
    /// `all-MiniLM-L6-v2` and `all-minilm-l6-v2` all find the same model); and last, the same
    /// without an Ollama-style `:tag` (`all-minilm:latest`).
    pub fn handle(&self, requested: &str) -> Result<ModelHandle, EmbedError> {
        let found = self.find(requested).or_else(|| {
            requested
                .rsplit_once(':')
                .and_then(|(base, _tag)| self.find(base))
        });
        match found {
            Some(slot) => Ok(ModelHandle { slot: slot.clone() }),
            None => Err(EmbedError::ModelNotFound {
                name: requested.to_owned(),
                available: self.slots.iter().map(|s| s.name.clone()).collect(),
            }),
        }
    }

    fn find(&self, requested: &str) -> Option<&Arc<Slot>> {
        let slots = &self.slots;
        let last = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
        let wanted = [requested.to_owned(), last(requested)];
        slots
            .iter()
            .find(|s| s.name == requested)
            .or_else(|| {
                slots
                    .iter()
                    .find(|s| wanted.iter().any(|w| s.name.eq_ignore_ascii_case(w)))
            })
            .or_else(|| {
                slots.iter().find(|s| {
                    s.config.as_ref().is_some_and(|c| {
                        c.aliases.iter().any(|a| a.eq_ignore_ascii_case(requested))
                            || c.model_id.as_deref().is_some_and(|id| {
                                id.eq_ignore_ascii_case(requested)
                                    || wanted.iter().any(|w| last(id).eq_ignore_ascii_case(w))
                            })
                    })
                })
            })
    }

    /// The registry name a caller's model name refers to (see [`Registry::handle`]).
    pub fn resolve(&self, requested: &str) -> Result<String, EmbedError> {
        self.handle(requested).map(|h| h.name().to_owned())
    }

    /// The default model's handle.
    pub fn default_handle(&self) -> Result<ModelHandle, EmbedError> {
        self.handle(&self.default_model)
    }

    /// The model `name` refers to if it is already built; never builds.
    pub fn get(&self, name: &str) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        let handle = self.handle(name)?;
        handle.built().ok_or_else(|| EmbedError::Unavailable {
            model: handle.name().to_owned(),
            reason: "not loaded yet".to_owned(),
        })
    }

    /// The model `name` refers to, built now if this is its first use.
    pub async fn get_or_create(&self, name: &str) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        let handle = self.handle(name)?;
        Ok(self.build(&handle).await?.0)
    }

    /// The handle's model, built now if this is its first use, and how long building took here.
    ///
    /// Concurrent first calls wait for one build; a failed build is retried by the next call.
    pub async fn build(
        &self,
        handle: &ModelHandle,
    ) -> Result<(Arc<dyn EmbeddingModel>, Duration), EmbedError> {
        let slot = &handle.slot;
        if let Some(model) = slot.cell.get() {
            return Ok((model.clone(), Duration::ZERO));
        }
        let started = Instant::now();
        let model = slot
            .cell
            .get_or_try_init(|| async {
                let config = slot.config.as_ref().ok_or_else(|| {
                    EmbedError::Bug(format!(
                        "model `{}` has neither an instance nor a config",
                        slot.name
                    ))
                })?;
                tracing::info!(model = %slot.name, provider = %config.provider, "building model");
                self.factory.build(config).await.inspect_err(|e| {
                    tracing::warn!(model = %slot.name, error = %e, "model failed to build");
                })
            })
            .await?;
        Ok((model.clone(), started.elapsed()))
    }

    /// The model used when a request names none, built if need be.
    pub async fn get_default(&self) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        self.get_or_create(&self.default_model).await
    }

    /// The default model's registry name.
    pub fn default_name(&self) -> &str {
        &self.default_model
    }

    /// The fallback chain's model names, in order.
    pub fn fallback_chain(&self) -> Vec<&str> {
        self.fallback_chain
            .iter()
            .map(|s| s.name.as_str())
            .collect()
    }

    /// Every model, in config order, without building any.
    pub fn list(&self) -> Vec<ModelListing> {
        self.handles().iter().map(ModelHandle::listing).collect()
    }

    /// Every model's handle, in config order.
    pub fn handles(&self) -> Vec<ModelHandle> {
        self.slots
            .iter()
            .map(|slot| ModelHandle { slot: slot.clone() })
            .collect()
    }

    /// Check every model; with `build`, models not yet built are built first.
    pub async fn health(&self, build: bool) -> Vec<(String, ModelHealth)> {
        let names: Vec<String> = self.list().into_iter().map(|m| m.name).collect();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let model = if build {
                self.get_or_create(&name).await.map(Some)
            } else {
                Ok(self.get(&name).ok())
            };
            let health = match model {
                Ok(Some(model)) => match model.health().await {
                    Ok(()) => ModelHealth::Healthy,
                    Err(e) => ModelHealth::Unhealthy(e.to_string()),
                },
                Ok(None) => ModelHealth::NotLoaded,
                Err(e) => ModelHealth::Unhealthy(e.to_string()),
            };
            out.push((name, health));
        }
        out
    }

    /// Tokens and estimated cost per model, in config order.
    pub fn usage(&self) -> Vec<ModelUsage> {
        self.slots
            .iter()
            .map(|slot| {
                let tokens = slot.tokens.load(Ordering::Relaxed);
                let config = slot.config.as_ref();
                ModelUsage {
                    name: slot.name.clone(),
                    provider: config.map_or(ProviderKind::Local, |c| c.provider),
                    tokens,
                    usd: config
                        .and_then(ModelConfig::price_per_1k_tokens)
                        .map(|price| tokens as f64 / 1000.0 * price),
                }
            })
            .collect()
    }

    /// Close every built model, after logging each one's usage.
    pub async fn close_all(&self) {
        for u in self.usage().into_iter().filter(|u| u.tokens > 0) {
            tracing::info!(model = %u.name, provider = %u.provider, tokens = u.tokens, usd = u.usd.unwrap_or(0.0), "usage summary");
        }
        let built: Vec<_> = self
            .slots
            .iter()
            .filter_map(|s| s.cell.get().cloned())
            .collect();
        for model in built {
            if let Err(e) = model.close().await {
                tracing::warn!(model = %model.name(), error = %e, "model failed to close");
            }
        }
    }
}

#[cfg(test)]
mod tests;

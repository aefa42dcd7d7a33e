//! The registry: every configured model by name, built on first use and exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::circuit::{Breaker, BreakerPolicy};
use crate::config::{EmbeddingsConfig, ModelConfig, ProviderKind};
use crate::error::EmbedError;
use crate::model::EmbeddingModel;

/// Builds a model from its configuration; the registry calls it once per model, on first use.
///
/// The provider crates implement it; keeping it a trait keeps this crate free of their weight.
#[async_trait]
pub trait ModelFactory: Send + Sync {
    /// Build the model `config` describes, ready to encode.
    async fn build(&self, config: &ModelConfig) -> Result<Arc<dyn EmbeddingModel>, EmbedError>;
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

/// Every model embedd knows, the default, and the fallback chain.
pub struct Registry {
    slots: RwLock<Vec<Arc<Slot>>>,
    default_model: String,
    pub(crate) fallback_chain: Vec<String>,
    pub(crate) allow_cross_space: bool,
    pub(crate) breaker_policy: BreakerPolicy,
    factory: Arc<dyn ModelFactory>,
}

impl Registry {
    /// A registry of the configured models; none is built until first asked for.
    pub fn new(config: &EmbeddingsConfig, factory: Arc<dyn ModelFactory>) -> Self {
        let slots = config
            .models
            .iter()
            .map(|m| {
                Arc::new(Slot {
                    name: m.name.clone(),
                    space: m.effective_space(),
                    config: Some(m.clone()),
                    cell: OnceCell::new(),
                    breaker: Breaker::default(),
                    tokens: AtomicU64::new(0),
                })
            })
            .collect();
        Self {
            slots: RwLock::new(slots),
            default_model: config.default_model.clone(),
            fallback_chain: config.fallback_chain.clone(),
            allow_cross_space: config.allow_cross_space_fallback,
            breaker_policy: config.circuit_breaker,
            factory,
        }
    }

    /// The same registry with `name` (any form [`Registry::resolve`] accepts) as the default model.
    pub fn with_default(mut self, name: &str) -> Result<Self, EmbedError> {
        self.default_model = self.resolve(name)?;
        Ok(self)
    }

    /// Add an already built model under its own name.
    pub fn register(&self, model: Arc<dyn EmbeddingModel>) -> Result<(), EmbedError> {
        let info = model.info().clone();
        let mut slots = self.write_slots()?;
        if slots.iter().any(|s| s.name == info.name) {
            return Err(EmbedError::invalid(
                "model",
                format!("a model named `{}` is already registered", info.name),
            ));
        }
        slots.push(Arc::new(Slot {
            name: info.name,
            config: None,
            space: info.space,
            cell: OnceCell::new_with(Some(model)),
            breaker: Breaker::default(),
            tokens: AtomicU64::new(0),
        }));
        Ok(())
    }

    /// The registry name a caller's model name refers to.
    ///
    /// Matches, in order: the exact name; the name ignoring case; a configured alias, the
    /// provider's model id or its last path segment, ignoring case (so `sentence-transformers/all-MiniLM-L6-v2`,
    /// `all-MiniLM-L6-v2` and `all-minilm-l6-v2` all find the same model).
    pub fn resolve(&self, requested: &str) -> Result<String, EmbedError> {
        let slots = self.read_slots()?;
        let last = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
        let wanted = [requested.to_owned(), last(requested)];
        let found = slots
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
            });
        match found {
            Some(slot) => Ok(slot.name.clone()),
            None => Err(EmbedError::ModelNotFound {
                name: requested.to_owned(),
                available: slots.iter().map(|s| s.name.clone()).collect(),
            }),
        }
    }

    /// The model `name` refers to if it is already built; never builds.
    pub fn get(&self, name: &str) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        let slot = self.slot(name)?;
        slot.cell
            .get()
            .cloned()
            .ok_or_else(|| EmbedError::Unavailable {
                model: slot.name.clone(),
                reason: "not loaded yet".to_owned(),
            })
    }

    /// The model `name` refers to, built now if this is its first use.
    ///
    /// Concurrent first calls wait for one build; a failed build is retried by the next call.
    pub async fn get_or_create(&self, name: &str) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        let slot = self.slot(name)?;
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
        Ok(model.clone())
    }

    /// The model used when a request names none, built if need be.
    pub async fn get_default(&self) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        self.get_or_create(&self.default_model).await
    }

    /// The default model's registry name.
    pub fn default_name(&self) -> &str {
        &self.default_model
    }

    /// The fallback chain, in order.
    pub fn fallback_chain(&self) -> &[String] {
        &self.fallback_chain
    }

    /// Every model, in config order, without building any.
    pub fn list(&self) -> Vec<ModelListing> {
        let Ok(slots) = self.read_slots() else {
            return Vec::new();
        };
        slots
            .iter()
            .map(|slot| match (slot.cell.get(), &slot.config) {
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
            })
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
        let Ok(slots) = self.read_slots() else {
            return Vec::new();
        };
        slots
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
        let built: Vec<_> = match self.read_slots() {
            Ok(slots) => slots.iter().filter_map(|s| s.cell.get().cloned()).collect(),
            Err(_) => return,
        };
        for model in built {
            if let Err(e) = model.close().await {
                tracing::warn!(model = %model.name(), error = %e, "model failed to close");
            }
        }
    }

    pub(crate) fn slot(&self, name: &str) -> Result<Arc<Slot>, EmbedError> {
        let canonical = self.resolve(name)?;
        let slots = self.read_slots()?;
        slots
            .iter()
            .find(|s| s.name == canonical)
            .cloned()
            .ok_or_else(|| EmbedError::Bug(format!("model `{canonical}` resolved but has no slot")))
    }

    fn read_slots(&self) -> Result<std::sync::RwLockReadGuard<'_, Vec<Arc<Slot>>>, EmbedError> {
        self.slots
            .read()
            .map_err(|_| EmbedError::Bug("the registry lock was poisoned".to_owned()))
    }

    fn write_slots(&self) -> Result<std::sync::RwLockWriteGuard<'_, Vec<Arc<Slot>>>, EmbedError> {
        self.slots
            .write()
            .map_err(|_| EmbedError::Bug("the registry lock was poisoned".to_owned()))
    }
}

#[cfg(test)]
mod tests;

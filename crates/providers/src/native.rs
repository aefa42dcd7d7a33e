//! The `native` and `onnx` providers: fetch the model's files if they are absent, then load them
//! in-process, the transformer run by embedd's own engine or by ONNX Runtime.

use std::sync::Arc;

use embedd_core::config::ConfigError;
use embedd_core::{EmbedError, EmbeddingModel, ModelConfig};
use embedd_fetch::Fetcher;
use embedd_native::static_model::{self, StaticModel};
use embedd_native::{Backend, BatchLimits, LoadOptions, NativeModel};

/// Build the model `config` describes on `backend`: `model_id` is a catalog name, a hub id, or a
/// path to a sentence-transformers directory (with `onnx/model.onnx` for the ONNX backend).
pub async fn build(
    config: &ModelConfig,
    backend: Backend,
) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
    let name = config.name.clone();
    let model_id = config.model_id.clone().unwrap_or_else(|| name.clone());
    let defaults = BatchLimits::default();
    let options = LoadOptions {
        max_tokens: config.max_tokens,
        precision: config.quantize.unwrap_or_default(),
        batch: BatchLimits {
            max_batch_tokens: config.max_batch_tokens.unwrap_or(defaults.max_batch_tokens),
            queue: config.queue_size.unwrap_or(defaults.queue),
            ..defaults
        },
        // The vector space is the config's to decide, not the engine's.
        space: Some(config.effective_space()),
        backend,
        ..LoadOptions::default()
    };
    let unavailable = |reason: String| EmbedError::Unavailable {
        model: config.name.clone(),
        reason,
    };
    let (task_name, task_id) = (name.clone(), model_id.clone());
    let model =
        tokio::task::spawn_blocking(move || -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
            let fetcher = Fetcher::from_env();
            let dir = fetcher
                .fetch(&task_id)
                .map_err(|e| EmbedError::Unavailable {
                    model: task_name.clone(),
                    reason: e.to_string(),
                })?;
            let canonical = embedd_fetch::canonical_id(&task_id);
            // A static model (model2vec) has no transformer: a table and a mean.
            if backend == Backend::Native && static_model::is_static(&dir) {
                let space = options.space.clone().unwrap_or_else(|| canonical.clone());
                return StaticModel::load(&task_name, &canonical, &dir, &space)
                    .map(|m| Arc::new(m) as Arc<dyn EmbeddingModel>)
                    .map_err(|e| e.into_embed_error(&task_name));
            }
            NativeModel::load(&task_name, &canonical, &dir, &options)
                .map(|m| Arc::new(m) as Arc<dyn EmbeddingModel>)
                .map_err(|e| e.into_embed_error(&task_name))
        })
        .await
        .map_err(|e| unavailable(format!("loading stopped: {e}")))??;
    if let Some(expected) = config.dimensions.filter(|d| *d != model.dimensions()) {
        return Err(EmbedError::Config(ConfigError::Model {
            model: name,
            message: format!(
                "the config says {expected} dimensions but the model makes {}",
                model.dimensions()
            ),
        }));
    }
    Ok(model)
}

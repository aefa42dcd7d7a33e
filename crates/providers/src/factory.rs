//! Builds models from their configuration: the one place that knows which provider is which type.

use std::sync::Arc;

use async_trait::async_trait;
use embedd_core::{EmbedError, EmbeddingModel, ModelConfig, ModelFactory, ProviderKind};

use crate::local::HashModel;

/// The factory the registry uses to build models on first use.
#[derive(Debug, Default, Clone)]
pub struct ProviderFactory;

#[async_trait]
impl ModelFactory for ProviderFactory {
    async fn build(&self, config: &ModelConfig) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        match config.provider {
            ProviderKind::Local => Ok(Arc::new(HashModel::from_config(config)?)),
            #[cfg(feature = "native")]
            ProviderKind::Native => crate::native::build(config).await,
            other => Err(EmbedError::Unavailable {
                model: config.name.clone(),
                reason: format!("the {other} provider is not part of this build of embedd yet"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedd_core::Config;

    #[tokio::test]
    async fn builds_the_hash_model_and_refuses_what_it_cannot_build() {
        let config = Config::from_yaml(
            "embeddings:\n  default_model: h\n  models:\n    h: {provider: hash, dimensions: 64}\n    o: {provider: openai, model_id: text-embedding-3-small}\n",
            &|_| None,
        )
        .unwrap();
        let factory = ProviderFactory;
        let hash = factory.build(&config.embeddings.models[0]).await.unwrap();
        assert_eq!((hash.name(), hash.dimensions()), ("h", 64));
        let err = factory
            .build(&config.embeddings.models[1])
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("openai"), "{err}");
    }
}

//! Builds models from their configuration: the one place that knows which provider is which type.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use embedd_core::{EmbedError, EmbeddingModel, ModelConfig, ModelFactory, ProviderKind};

use crate::local::HashModel;
use crate::remote::{self, RemoteApi, RemoteModel, Setup};

/// The factory the registry uses to build models on first use. Remote models share one pooled
/// HTTP client, made with the first of them.
#[derive(Debug, Default)]
pub struct ProviderFactory {
    client: OnceLock<reqwest::Client>,
}

impl ProviderFactory {
    fn client(&self) -> Result<reqwest::Client, EmbedError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| EmbedError::Bug(format!("cannot start the HTTP client: {e}")))?;
        Ok(self.client.get_or_init(|| client).clone())
    }

    async fn remote<A: RemoteApi>(
        &self,
        config: &ModelConfig,
        setup: Setup<A>,
    ) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        let provider = config.provider.as_str();
        Ok(Arc::new(
            RemoteModel::build(config, self.client()?, provider, setup).await?,
        ))
    }
}

#[async_trait]
impl ModelFactory for ProviderFactory {
    fn supports(&self, provider: ProviderKind) -> bool {
        match provider {
            ProviderKind::Native => cfg!(feature = "native"),
            ProviderKind::Onnx => cfg!(feature = "onnx"),
            _ => true,
        }
    }

    async fn build(&self, config: &ModelConfig) -> Result<Arc<dyn EmbeddingModel>, EmbedError> {
        match config.provider {
            ProviderKind::Local => Ok(Arc::new(HashModel::from_config(config)?)),
            ProviderKind::OpenAi => self.remote(config, remote::openai::setup(config)).await,
            ProviderKind::Ollama => self.remote(config, remote::ollama::setup(config)).await,
            ProviderKind::SentenceTransformers => {
                self.remote(config, remote::st_service::setup(config)).await
            }
            ProviderKind::HuggingFace => {
                self.remote(config, remote::huggingface::setup(config))
                    .await
            }
            ProviderKind::Rerank => Ok(Arc::new(remote::rerank::RemoteReranker::build(
                config,
                self.client()?,
            )?)),
            #[cfg(feature = "native")]
            ProviderKind::Native => {
                crate::native::build(config, embedd_native::Backend::Native).await
            }
            #[cfg(feature = "onnx")]
            ProviderKind::Onnx => crate::native::build(config, embedd_native::Backend::Onnx).await,
            // `supports` refuses these at start-up; a registry built without that check says so here.
            #[cfg(not(feature = "onnx"))]
            other => Err(EmbedError::Unavailable {
                model: config.name.clone(),
                reason: format!("the {other} provider is not part of this build of embedd"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedd_core::Config;

    #[test]
    fn providers_this_build_lacks_are_refused_at_start_up() {
        // `onnx` is a cargo feature: a build without it refuses the model at start-up.
        let config = Config::from_yaml(
            "embeddings:\n  default_model: h\n  models:\n    h: {provider: hash, dimensions: 64}\n    x: {provider: onnx, model_id: some/model}\n",
            &|_| None,
        )
        .unwrap();
        let registry = embedd_core::Registry::new(
            &config.embeddings,
            std::sync::Arc::new(ProviderFactory::default()),
        );
        let checked = registry.check_providers();
        if cfg!(feature = "onnx") {
            assert!(checked.is_ok(), "{checked:?}");
        } else {
            let err = checked.unwrap_err().to_string();
            assert!(err.contains("embeddings.models.x.provider"), "{err}");
            assert!(!err.contains("models.h"), "{err}");
        }
    }

    #[tokio::test]
    async fn builds_the_hash_model_and_refuses_what_it_cannot_build() {
        let config = Config::from_yaml(
            "embeddings:\n  default_model: h\n  models:\n    h: {provider: hash, dimensions: 64}\n    o: {provider: openai, model_id: text-embedding-3-small, api_key_env: EMBEDD_TEST_UNSET_KEY}\n",
            &|_| None,
        )
        .unwrap();
        let factory = ProviderFactory::default();
        let hash = factory.build(&config.embeddings.models[0]).await.unwrap();
        assert_eq!((hash.name(), hash.dimensions()), ("h", 64));
        let err = factory
            .build(&config.embeddings.models[1])
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("EMBEDD_TEST_UNSET_KEY"),
            "names the variable to set: {err}"
        );
    }
}

//! What every handler shares.

use std::sync::Arc;

use embedd_core::{Encoded, FallbackPolicy, Inputs, Registry};

use crate::error::ApiError;
use crate::input::EmbedInput;

/// Request limits (DESIGN §6).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most inputs in one request.
    pub max_inputs: usize,
    /// Largest request body, in bytes.
    pub body_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_inputs: 2048,
            body_limit: 2 * 1024 * 1024,
        }
    }
}

/// The handlers' shared state: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The models.
    pub registry: Arc<Registry>,
    /// The request limits.
    pub limits: Limits,
}

impl AppState {
    /// Embed `input` with `model` (or the default, also for an empty name) along the fallback
    /// chain as `policy` allows, logging counts and sizes, never the text.
    pub async fn embed(
        &self,
        model: Option<&str>,
        input: &EmbedInput,
        policy: FallbackPolicy,
    ) -> Result<Encoded, ApiError> {
        let started = std::time::Instant::now();
        let inputs = match input {
            EmbedInput::Texts(texts) => Inputs::Texts(texts),
            EmbedInput::Tokens(ids) => Inputs::Tokens(ids),
        };
        let encoded = self
            .registry
            .encode_with_fallback(model, inputs, policy)
            .await?;
        tracing::info!(
            model = %encoded.model.name(),
            inputs = input.len(),
            input_size = input.total_len(),
            tokens = encoded.embeddings.prompt_tokens,
            fell_back = encoded.fell_back,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "embedded"
        );
        Ok(encoded)
    }

    /// Refuse texts longer than model `name` reads, for callers who asked not to truncate.
    pub async fn refuse_overlong(
        &self,
        name: &str,
        field: &str,
        texts: &[String],
    ) -> Result<(), ApiError> {
        let model = self.registry.get_or_create(name).await?;
        let counts = model.count_tokens(texts).await?;
        let max = model.max_tokens();
        match counts.iter().position(|n| *n > max) {
            Some(i) => {
                let mut error = ApiError::invalid(
                    format!("{field}[{i}]"),
                    format!("`{field}[{i}]` has {} tokens, more than the {max} model `{name}` reads; shorten it or allow truncation", counts[i]),
                );
                error.code = "input_too_long";
                Err(error)
            }
            None => Ok(()),
        }
    }

    /// The vector length of the model `name` resolves to, when known without building it.
    pub fn dimensions_of(&self, name: &str) -> Option<usize> {
        let canonical = self.registry.resolve(name).ok()?;
        self.registry
            .list()
            .into_iter()
            .find(|m| m.name == canonical)
            .and_then(|m| m.dimensions)
    }
}

//! The one request path: every dialect's request goes through [`Registry::embed`], top-down.
//!
//! resolve (once, into a handle) → limits → fallback walk (each model built and called within
//! its timeout) → shorten and re-normalise → the vectors and the model that made them. What a
//! request must respect is decided here once, not in each dialect.

use crate::error::EmbedError;
use crate::fallback::Encoded;
use crate::model::EncodeOptions;
use crate::registry::Registry;
use crate::request::{check_dimensions, EmbedRequest, Input, RequestLimits};
use crate::token_ids::{self, TokenIds};

impl Registry {
    /// Apply one request: the vectors, and which model made them.
    pub async fn embed(
        &self,
        request: EmbedRequest,
        limits: &RequestLimits,
    ) -> Result<Encoded, EmbedError> {
        let first = match request.model.as_deref().filter(|m| !m.is_empty()) {
            Some(name) => self.handle(name)?,
            None => self.default_handle()?,
        };
        request
            .input
            .check(request.input_field, limits.max_inputs)?;
        let vocabulary = request
            .token_ids
            .or_else(|| first.config().and_then(|c| c.token_ids))
            .unwrap_or(TokenIds::Model);
        let input = match request.input {
            Input::Tokens(ids) if vocabulary != TokenIds::Model => {
                // Off the async threads: the first use parses the whole vocabulary.
                let field = request.input_field;
                let texts =
                    tokio::task::spawn_blocking(move || token_ids::decode(vocabulary, &ids, field))
                        .await
                        .map_err(|e| EmbedError::Bug(format!("decoding token ids: {e}")))??;
                Input::Texts(texts)
            }
            input => input,
        };
        let dimensions = request
            .dimensions
            .map(|d| check_dimensions(d, first.dimensions()))
            .transpose()?;
        let options = EncodeOptions {
            truncate: request.truncate,
            max_total_tokens: Some(limits.max_tokens_per_request),
            fail_fast: false,
            outputs: request.outputs,
            prompt_name: request.prompt_name,
        };
        let mut encoded = self.walk(&first, &input, request.policy, options).await?;
        if let Some(d) = dimensions {
            // The model that answered (perhaps a fallback) must be at least that wide.
            check_dimensions(d as u64, Some(encoded.model.dimensions()))?;
            for vector in &mut encoded.embeddings.vectors {
                crate::vector::truncate_normalized(vector, d);
            }
        }
        Ok(encoded)
    }
}

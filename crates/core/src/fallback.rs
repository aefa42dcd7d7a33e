//! The fallback chain: which models may answer a request, in what order, and when to move on.
//!
//! The first candidate is the model asked for (or the default). After it come the chain's models of
//! the **same vector space**, which are interchangeable. Models of another space come last and only
//! when the request or the config allows crossing spaces, since their vectors cannot be compared
//! with the caller's; token-id input never crosses, as ids mean nothing to another tokenizer. A
//! caller's error stops the walk at once: it would fail everywhere.

use std::sync::Arc;

use crate::error::{Attempt, EmbedError, Fault};
use crate::model::{EmbeddingModel, Embeddings};
use crate::registry::Registry;

/// What a request hands to the models: text, or token ids of the model's vocabulary.
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'a> {
    /// Texts.
    Texts(&'a [String]),
    /// Pre-tokenised inputs.
    Tokens(&'a [Vec<u32>]),
}

impl Inputs<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Texts(t) => t.len(),
            Self::Tokens(t) => t.len(),
        }
    }
}

/// How far a request lets the chain go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FallbackPolicy {
    /// Walk the chain at all (off: only the requested model answers).
    pub use_chain: bool,
    /// Allow a model of another vector space to answer (the seed route's `use_fallback: true`).
    pub cross_space: bool,
}

impl FallbackPolicy {
    /// Walk the chain, but only through models of the first one's vector space: what every
    /// route does unless the caller allows crossing spaces.
    pub const SAME_SPACE: Self = Self {
        use_chain: true,
        cross_space: false,
    };
}

/// Vectors and the model that made them.
pub struct Encoded {
    /// The vectors and token count.
    pub embeddings: Embeddings,
    /// The model that answered; may differ from the one asked for.
    pub model: Arc<dyn EmbeddingModel>,
    /// Whether a model other than the first candidate answered.
    pub fell_back: bool,
}

impl Registry {
    /// Encode with `requested` (or the default), falling back along the chain as `policy` allows.
    pub async fn encode_with_fallback(
        &self,
        requested: Option<&str>,
        inputs: Inputs<'_>,
        policy: FallbackPolicy,
    ) -> Result<Encoded, EmbedError> {
        let candidates = self.candidates(requested, inputs, policy)?;
        let mut attempts = Vec::new();
        let mut retry_after: Option<std::time::Duration> = None;
        for (position, name) in candidates.iter().enumerate() {
            match self.encode_one(name, inputs).await {
                Ok((embeddings, model)) => {
                    if position > 0 {
                        tracing::warn!(requested = %candidates[0], answered = %name, "fell back to another model");
                    }
                    return Ok(Encoded {
                        embeddings,
                        model,
                        fell_back: position > 0,
                    });
                }
                Err(e) if e.fault() == Fault::User => return Err(e),
                Err(e) => {
                    tracing::warn!(model = %name, error = %e, "model failed; trying the next one");
                    if let Some(wait) = e.retry_after() {
                        retry_after = Some(retry_after.map_or(wait, |w| w.min(wait)));
                    }
                    attempts.push(Attempt {
                        model: name.clone(),
                        error: e.to_string(),
                    });
                }
            }
        }
        // However many were tried, the caller learns that nothing could serve, and why each failed.
        Err(EmbedError::AllFailed {
            attempts,
            retry_after,
        })
    }

    /// The models to try, in order.
    fn candidates(
        &self,
        requested: Option<&str>,
        inputs: Inputs<'_>,
        policy: FallbackPolicy,
    ) -> Result<Vec<String>, EmbedError> {
        let first = self.slot(requested.unwrap_or(self.default_name()))?;
        let mut out = vec![first.name.clone()];
        if !policy.use_chain {
            return Ok(out);
        }
        let cross =
            (policy.cross_space || self.allow_cross_space) && matches!(inputs, Inputs::Texts(_));
        let chain: Vec<_> = self
            .fallback_chain
            .iter()
            .filter_map(|name| self.slot(name).ok())
            .filter(|slot| slot.name != first.name)
            .collect();
        out.extend(
            chain
                .iter()
                .filter(|s| s.space == first.space)
                .map(|s| s.name.clone()),
        );
        if cross {
            out.extend(
                chain
                    .iter()
                    .filter(|s| s.space != first.space)
                    .map(|s| s.name.clone()),
            );
        }
        Ok(out)
    }

    /// One attempt through the model's circuit breaker: refused at once while it is open;
    /// otherwise tried, and the outcome recorded.
    async fn encode_one(
        &self,
        name: &str,
        inputs: Inputs<'_>,
    ) -> Result<(Embeddings, Arc<dyn EmbeddingModel>), EmbedError> {
        let slot = self.slot(name)?;
        if let Err(open) = slot.breaker.allow() {
            return Err(EmbedError::Unavailable {
                model: name.to_owned(),
                reason: format!(
                    "skipped: {} consecutive failures opened its circuit; next try in {}s",
                    open.failures,
                    open.retry_in.as_secs()
                ),
            });
        }
        let result = self.try_encode(name, inputs).await;
        match &result {
            Ok((embeddings, _)) => {
                slot.breaker.success();
                slot.tokens.fetch_add(
                    embeddings.prompt_tokens as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            Err(e) if e.fault() == Fault::User => slot.breaker.neutral(),
            Err(_) => slot.breaker.failure(&self.breaker_policy),
        }
        result
    }

    /// Build if need be, encode within the model's timeout, check the answer's shape.
    async fn try_encode(
        &self,
        name: &str,
        inputs: Inputs<'_>,
    ) -> Result<(Embeddings, Arc<dyn EmbeddingModel>), EmbedError> {
        let model = self.get_or_create(name).await?;
        let call = async {
            match inputs {
                Inputs::Texts(texts) => model.encode(texts).await,
                Inputs::Tokens(ids) => model.encode_tokens(ids).await,
            }
        };
        let timeout = self.slot(name)?.config.as_ref().and_then(|c| c.timeout);
        let embeddings = match timeout {
            Some(limit) => {
                tokio::time::timeout(limit, call)
                    .await
                    .map_err(|_| EmbedError::Timeout {
                        model: name.to_owned(),
                        timeout: limit,
                    })??
            }
            None => call.await?,
        };
        let dims = model.dimensions();
        if embeddings.vectors.len() != inputs.len()
            || embeddings.vectors.iter().any(|v| v.len() != dims)
        {
            return Err(EmbedError::Bug(format!(
                "model `{name}` returned {} vectors for {} inputs, or vectors not {dims} long",
                embeddings.vectors.len(),
                inputs.len()
            )));
        }
        if embeddings.vectors.iter().flatten().any(|x| !x.is_finite()) {
            return Err(EmbedError::Bug(format!(
                "model `{name}` returned a vector with NaN or infinity"
            )));
        }
        Ok((embeddings, model))
    }
}

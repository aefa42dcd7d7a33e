//! The fallback chain: which models may answer a request, in what order, and when to move on.
//!
//! The first candidate is the model asked for (or the default). After it come the chain's models of
//! the **same vector space**, which are interchangeable. Models of another space come last and only
//! when the request or the config allows crossing spaces, since their vectors cannot be compared
//! with the caller's; token-id input never crosses, as ids mean nothing to another tokenizer. A
//! caller's error stops the walk at once: it would fail everywhere.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Attempt, EmbedError, Fault};
use crate::model::{EmbeddingModel, Embeddings, EncodeOptions, ModelInfo};
use crate::output::Outputs;
use crate::registry::{ModelHandle, Registry, Slot};
use crate::request::Input;

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
    /// Time this request spent building models (their first use), for Ollama's `load_duration`.
    pub load_time: Duration,
}

impl Registry {
    /// Walk from `first` down the chain as `policy` allows until a model answers.
    ///
    /// Every attempt builds its model (on first use) and encodes within the model's timeout, so
    /// a model that cannot be built moves the chain on like any provider fault. While a later
    /// candidate may still answer, an attempt fails fast on a provider it cannot reach at all.
    pub(crate) async fn walk(
        &self,
        first: &ModelHandle,
        input: &Input,
        policy: FallbackPolicy,
        options: EncodeOptions,
    ) -> Result<Encoded, EmbedError> {
        let candidates = self.candidates(&first.slot, input, policy);
        let mut attempts = Vec::new();
        let mut retry_after: Option<Duration> = None;
        let mut load_time = Duration::ZERO;
        for (position, slot) in candidates.iter().enumerate() {
            let others_may_answer = candidates[position + 1..]
                .iter()
                .any(|s| !s.breaker.is_open());
            let options = EncodeOptions {
                fail_fast: others_may_answer,
                ..options.clone()
            };
            match self.encode_one(slot, input, &options, &mut load_time).await {
                Ok((embeddings, model)) => {
                    if position > 0 {
                        tracing::warn!(requested = %first.name(), answered = %slot.name, "fell back to another model");
                        metrics::counter!("embedd_fallbacks_total", "requested" => first.name().to_owned(),
                            "answered" => slot.name.clone())
                        .increment(1);
                    }
                    return Ok(Encoded {
                        embeddings,
                        model,
                        fell_back: position > 0,
                        load_time,
                    });
                }
                // A later model that cannot do what was asked is no candidate: pass it by.
                Err(e @ EmbedError::Unsupported { .. }) if position > 0 => {
                    attempts.push(Attempt {
                        model: slot.name.clone(),
                        error: e.to_string(),
                    });
                }
                Err(e) if e.fault() == Fault::User => return Err(e),
                Err(e) => {
                    tracing::warn!(model = %slot.name, error = %e, "model failed; trying the next one");
                    if let Some(wait) = e.retry_after() {
                        retry_after = Some(retry_after.map_or(wait, |w| w.min(wait)));
                    }
                    attempts.push(Attempt {
                        model: slot.name.clone(),
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
        first: &Arc<Slot>,
        input: &Input,
        policy: FallbackPolicy,
    ) -> Vec<Arc<Slot>> {
        let mut out = vec![first.clone()];
        if !policy.use_chain {
            return out;
        }
        let cross =
            (policy.cross_space || self.allow_cross_space) && matches!(input, Input::Texts(_));
        let chain = self
            .fallback_chain
            .iter()
            .filter(|slot| slot.name != first.name);
        let (same, other): (Vec<_>, Vec<_>) = chain.partition(|s| s.space == first.space);
        out.extend(same.into_iter().cloned());
        if cross {
            out.extend(other.into_iter().cloned());
        }
        out
    }

    /// One attempt through the model's circuit breaker: refused at once while it is open;
    /// otherwise tried, and the outcome recorded.
    async fn encode_one(
        &self,
        slot: &Arc<Slot>,
        input: &Input,
        options: &EncodeOptions,
        load_time: &mut Duration,
    ) -> Result<(Embeddings, Arc<dyn EmbeddingModel>), EmbedError> {
        if let Err(open) = slot.breaker.allow() {
            return Err(EmbedError::Unavailable {
                model: slot.name.clone(),
                reason: format!(
                    "skipped: {} consecutive failures opened its circuit; next try in {}s",
                    open.failures,
                    open.retry_in.as_secs()
                ),
            });
        }
        let started = std::time::Instant::now();
        let result = self.try_encode(slot, input, options, load_time).await;
        let provider = slot.config.as_ref().map_or("", |c| c.provider.as_str());
        let outcome = match &result {
            Ok((embeddings, _)) => {
                slot.breaker.success();
                slot.tokens
                    .fetch_add(embeddings.prompt_tokens as u64, Ordering::Relaxed);
                let tokens = embeddings.prompt_tokens as u64;
                metrics::counter!("embedd_tokens_total", "model" => slot.name.clone())
                    .increment(tokens);
                if let Some(price) = slot.config.as_ref().and_then(|c| c.price_per_1k_tokens()) {
                    metrics::counter!("embedd_cost_microdollars_total", "model" => slot.name.clone())
                        .increment((tokens as f64 * price * 1000.0).round() as u64);
                }
                "ok"
            }
            Err(e) if e.fault() == Fault::User => {
                slot.breaker.neutral();
                "refused"
            }
            Err(_) => {
                slot.breaker.failure(&self.breaker_policy);
                "failed"
            }
        };
        metrics::counter!("embedd_model_requests_total", "model" => slot.name.clone(),
            "provider" => provider, "outcome" => outcome)
        .increment(1);
        metrics::histogram!("embedd_model_duration_seconds", "model" => slot.name.clone(),
            "provider" => provider)
        .record(started.elapsed().as_secs_f64());
        metrics::gauge!("embedd_circuit_open", "model" => slot.name.clone())
            .set(if slot.breaker.is_open() { 1.0 } else { 0.0 });
        result
    }

    /// Build if need be and encode, both within the model's timeout; check the answer's shape.
    async fn try_encode(
        &self,
        slot: &Arc<Slot>,
        input: &Input,
        options: &EncodeOptions,
        load_time: &mut Duration,
    ) -> Result<(Embeddings, Arc<dyn EmbeddingModel>), EmbedError> {
        let handle = ModelHandle { slot: slot.clone() };
        let call = async {
            let (model, built_in) = self.build(&handle).await?;
            *load_time += built_in;
            options.outputs.check(&slot.name, model.info().outputs)?;
            check_prompt(options.prompt_name.as_deref(), model.info())?;
            let cached = match (&self.cache, slot.config.as_ref()) {
                (Some(cache), Some(config))
                    if config.cache_enabled && options.outputs == Outputs::DENSE =>
                {
                    Some((cache, config))
                }
                _ => None,
            };
            let embeddings = match (input, cached) {
                (Input::Texts(texts), Some((cache, config))) => {
                    crate::cache::encode_cached(cache, config, model.as_ref(), texts, options).await
                }
                (Input::Texts(texts), None) => model.encode(texts, options).await,
                (Input::Tokens(ids), _) => model.encode_tokens(ids, options).await,
            }?;
            Ok::<_, EmbedError>((embeddings, model))
        };
        let timeout = slot.config.as_ref().and_then(|c| c.timeout);
        let (embeddings, model) = match timeout {
            Some(limit) => {
                tokio::time::timeout(limit, call)
                    .await
                    .map_err(|_| EmbedError::Timeout {
                        model: slot.name.clone(),
                        timeout: limit,
                    })??
            }
            None => call.await?,
        };
        let name = &slot.name;
        let dims = model.dimensions();
        // A remote provider's bad answer is its fault (the chain moves on); ours is a bug.
        let refuse = |message: String| match model.provider() {
            p if p.is_remote() => EmbedError::Provider {
                model: name.clone(),
                provider: p.as_str().to_owned(),
                message,
                retry_after: None,
            },
            _ => EmbedError::Bug(message),
        };
        if embeddings.vectors.len() != input.len()
            || embeddings.vectors.iter().any(|v| v.len() != dims)
        {
            return Err(refuse(format!(
                "model `{name}` returned {} vectors for {} inputs, or vectors not {dims} long",
                embeddings.vectors.len(),
                input.len()
            )));
        }
        let wanted = |asked: bool, got: usize| got == if asked { input.len() } else { 0 };
        if !wanted(options.outputs.sparse, embeddings.sparse.len())
            || !wanted(options.outputs.multi_vector, embeddings.multi_vectors.len())
        {
            return Err(refuse(format!(
                "model `{name}` did not return exactly the outputs asked for ({})",
                options.outputs
            )));
        }
        let values = embeddings.vectors.iter().flatten();
        let values = values.chain(embeddings.sparse.iter().flat_map(|s| &s.values));
        let mut values = values.chain(embeddings.multi_vectors.iter().flatten().flatten());
        if values.any(|x| !x.is_finite()) {
            return Err(refuse(format!(
                "model `{name}` returned a vector with NaN or infinity"
            )));
        }
        Ok((embeddings, model))
    }
}

/// Refuse a prompt the model does not define, naming the ones it has.
fn check_prompt(name: Option<&str>, info: &ModelInfo) -> Result<(), EmbedError> {
    match name {
        Some(name) if !info.prompts.iter().any(|p| p == name) => Err(EmbedError::Unsupported {
            model: info.name.clone(),
            param: "prompt_name",
            what: if info.prompts.is_empty() {
                format!("defines no prompts, so prompt `{name}` cannot be applied")
            } else {
                format!(
                    "has no prompt `{name}`; its prompts: {}",
                    info.prompts.join(", ")
                )
            },
        }),
        _ => Ok(()),
    }
}

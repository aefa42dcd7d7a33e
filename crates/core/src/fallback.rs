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

/// What an attempt on one model gives: its answer counts the tokens it read.
pub(crate) trait Answer {
    /// Tokens read, for the usage counters.
    fn tokens(&self) -> usize;
}

impl Answer for Embeddings {
    fn tokens(&self) -> usize {
        self.prompt_tokens
    }
}

impl Answer for crate::model::Scores {
    fn tokens(&self) -> usize {
        self.prompt_tokens
    }
}

/// The answer of the model that gave one, after a walk.
pub(crate) struct Answered<T> {
    pub(crate) answer: T,
    pub(crate) model: Arc<dyn EmbeddingModel>,
    pub(crate) fell_back: bool,
    pub(crate) load_time: Duration,
}

/// An attempt's answer, the model that gave it, and how long building it took here.
pub(crate) type Attempted<T> = Result<(T, Arc<dyn EmbeddingModel>, Duration), EmbedError>;

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
        // Ids mean nothing to another tokenizer: token input never crosses spaces.
        let cross =
            (policy.cross_space || self.allow_cross_space) && matches!(input, Input::Texts(_));
        let candidates = self.candidates(&first.slot, policy.use_chain, cross);
        let answered = self
            .walk_candidates(first, &candidates, &options, |slot, options| async move {
                self.try_encode(&slot, input, &options).await
            })
            .await?;
        Ok(Encoded {
            embeddings: answered.answer,
            model: answered.model,
            fell_back: answered.fell_back,
            load_time: answered.load_time,
        })
    }

    /// Try `candidates` in order with `attempt` until one answers: a caller's error stops the
    /// walk; a later candidate that cannot do what was asked is passed by; any other failure
    /// moves on, and when all have failed the caller learns why each did.
    pub(crate) async fn walk_candidates<T: Answer, F, Fut>(
        &self,
        first: &ModelHandle,
        candidates: &[Arc<Slot>],
        options: &EncodeOptions,
        attempt: F,
    ) -> Result<Answered<T>, EmbedError>
    where
        F: Fn(Arc<Slot>, EncodeOptions) -> Fut,
        Fut: std::future::Future<Output = Attempted<T>>,
    {
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
            match self.attempt_one(slot, attempt(slot.clone(), options)).await {
                Ok((answer, model, built_in)) => {
                    load_time += built_in;
                    if position > 0 {
                        tracing::warn!(requested = %first.name(), answered = %slot.name, "fell back to another model");
                        metrics::counter!("embedd_fallbacks_total", "requested" => first.name().to_owned(),
                            "answered" => slot.name.clone())
                        .increment(1);
                    }
                    return Ok(Answered {
                        answer,
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

    /// The models to try, in order: `first`, then (with `use_chain`) the chain's models of its
    /// space, then (with `cross`) those of other spaces.
    pub(crate) fn candidates(
        &self,
        first: &Arc<Slot>,
        use_chain: bool,
        cross: bool,
    ) -> Vec<Arc<Slot>> {
        let mut out = vec![first.clone()];
        if !use_chain {
            return out;
        }
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
    async fn attempt_one<T: Answer>(
        &self,
        slot: &Arc<Slot>,
        attempt: impl std::future::Future<Output = Attempted<T>>,
    ) -> Attempted<T> {
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
        let result = attempt.await;
        let provider = slot.config.as_ref().map_or("", |c| c.provider.as_str());
        let outcome = match &result {
            Ok((answer, _, _)) => {
                slot.breaker.success();
                let tokens = answer.tokens() as u64;
                slot.tokens.fetch_add(tokens, Ordering::Relaxed);
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
    ) -> Attempted<Embeddings> {
        let handle = ModelHandle { slot: slot.clone() };
        let call = async {
            let (model, built_in) = self.build(&handle).await?;
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
            Ok::<_, EmbedError>((embeddings, model, built_in))
        };
        let (embeddings, model, built_in) = within_timeout(slot, call).await?;
        let name = &slot.name;
        let dims = model.dimensions();
        let refuse = |message: String| bad_answer(model.as_ref(), message);
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
        Ok((embeddings, model, built_in))
    }
}

/// `call` bounded by the model's `timeout`, when it has one.
pub(crate) async fn within_timeout<T>(
    slot: &Slot,
    call: impl std::future::Future<Output = Result<T, EmbedError>>,
) -> Result<T, EmbedError> {
    match slot.config.as_ref().and_then(|c| c.timeout) {
        Some(limit) => {
            tokio::time::timeout(limit, call)
                .await
                .map_err(|_| EmbedError::Timeout {
                    model: slot.name.clone(),
                    timeout: limit,
                })?
        }
        None => call.await,
    }
}

/// The error for a model's malformed answer: the provider's fault when it is remote (the chain
/// moves on), a bug when it is ours.
pub(crate) fn bad_answer(model: &dyn EmbeddingModel, message: String) -> EmbedError {
    match model.provider() {
        p if p.is_remote() => EmbedError::Provider {
            model: model.name().to_owned(),
            provider: p.as_str().to_owned(),
            message,
            retry_after: None,
        },
        _ => EmbedError::Bug(message),
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

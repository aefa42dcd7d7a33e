//! The model layer's error type and the fault source each error carries.

use std::time::Duration;

use crate::config::ConfigError;

/// Who caused a failure.
///
/// A fallback chain moves on to the next model after a [`Fault::Provider`] or [`Fault::Bug`], but
/// never after a [`Fault::User`]: a bad request stays bad whichever model receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller sent something wrong (bad input, unknown model, an unsupported option).
    User,
    /// The model or its provider could not serve (down, slow, rate-limited, misconfigured).
    Provider,
    /// embedd itself is wrong; an invariant broke.
    Bug,
}

/// One failed attempt within a fallback chain, kept so the final error can say what went wrong where.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The model that was tried.
    pub model: String,
    /// Why it failed, as the model's error displayed.
    pub error: String,
}

/// Which size limit a request went over; decides the status each dialect answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// One input has more tokens than the model reads, and truncation was off.
    InputTokens,
    /// All inputs together hold more tokens than one request may (`max_tokens_per_request`).
    RequestTokens,
    /// More inputs than one request may hold (`max_inputs`).
    Inputs,
}

/// Everything that can go wrong between a request and its vectors.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The request itself is malformed or out of range.
    #[error("{message}")]
    InvalidInput {
        /// What is wrong, phrased for the caller.
        message: String,
        /// The request field at fault, where there is one.
        param: Option<String>,
    },
    /// The request is over a size limit (an input too long, too many tokens or inputs).
    #[error("{message}")]
    TooLarge {
        /// Which limit.
        limit: Limit,
        /// The request field at fault, where there is one.
        param: Option<String>,
        /// What is over which limit, phrased for the caller.
        message: String,
    },
    /// The caller named a model the registry does not know.
    #[error("model `{name}` does not exist; available models: {}", available.join(", "))]
    ModelNotFound {
        /// The name as the caller sent it.
        name: String,
        /// The names the registry does know.
        available: Vec<String>,
    },
    /// The model exists but cannot do what was asked (for example token-id input without a tokenizer).
    #[error("model `{model}` {what}")]
    Unsupported {
        /// The model asked.
        model: String,
        /// The request field asking for it (`input`, `outputs`, `prompt_name`).
        param: &'static str,
        /// What it cannot do, as a phrase following the model name.
        what: String,
    },
    /// A provider answered with an error or could not be reached.
    #[error("{provider} provider for model `{model}` failed: {message}")]
    Provider {
        /// The model whose provider failed.
        model: String,
        /// The provider's name.
        provider: String,
        /// What the provider said, or what went wrong on the way.
        message: String,
        /// How long the provider asked us to wait before retrying, if it said.
        retry_after: Option<Duration>,
    },
    /// The model cannot serve at all right now (failed to load, circuit open, not built in).
    #[error("model `{model}` is unavailable: {reason}")]
    Unavailable {
        /// The model.
        model: String,
        /// Why.
        reason: String,
    },
    /// The model's queue is full; the caller should retry after the given delay.
    #[error("model `{model}` is overloaded; retry in {}s", retry_after.as_secs().max(1))]
    Overloaded {
        /// The model.
        model: String,
        /// When to try again.
        retry_after: Duration,
    },
    /// The model did not answer within its configured timeout.
    #[error("model `{model}` did not answer within {}", humantime::format_duration(*timeout))]
    Timeout {
        /// The model.
        model: String,
        /// Its configured timeout.
        timeout: Duration,
    },
    /// Every model a fallback walk was allowed to try failed.
    #[error("no model could serve the request: {}", describe_attempts(attempts))]
    AllFailed {
        /// Each attempt in order.
        attempts: Vec<Attempt>,
        /// The shortest wait an attempt asked for, when the failures were transient (overload).
        retry_after: Option<Duration>,
    },
    /// A model's configuration is wrong; found when the model is built.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An invariant of embedd broke.
    #[error("internal error: {0}")]
    Bug(String),
}

fn describe_attempts(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "no model was eligible".to_owned();
    }
    attempts
        .iter()
        .map(|a| format!("{}: {}", a.model, a.error))
        .collect::<Vec<_>>()
        .join("; ")
}

impl EmbedError {
    /// Who is to blame for this error.
    pub fn fault(&self) -> Fault {
        match self {
            Self::InvalidInput { .. }
            | Self::TooLarge { .. }
            | Self::ModelNotFound { .. }
            | Self::Unsupported { .. } => Fault::User,
            Self::Provider { .. }
            | Self::Overloaded { .. }
            | Self::Unavailable { .. }
            | Self::Timeout { .. }
            | Self::AllFailed { .. }
            | Self::Config(_) => Fault::Provider,
            Self::Bug(_) => Fault::Bug,
        }
    }

    /// How long the caller should wait before trying again, when the failure is transient.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Overloaded { retry_after, .. } => Some(*retry_after),
            Self::Provider { retry_after, .. } | Self::AllFailed { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Model `model` is a reranker, asked for embeddings: the caller's error, naming where to go.
    pub fn reranker_gives_no_embeddings(model: &str) -> Self {
        Self::Unsupported {
            model: model.to_owned(),
            param: "model",
            what: "is a reranker (a cross-encoder): it scores documents against a query on `POST /rerank` and `POST /v1/rerank`, and gives no embeddings".to_owned(),
        }
    }

    /// A caller error about one request field.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
            param: Some(param.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_split_caller_provider_and_bug() {
        assert_eq!(EmbedError::invalid("input", "empty").fault(), Fault::User);
        let down = EmbedError::Unavailable {
            model: "m".into(),
            reason: "down".into(),
        };
        assert_eq!(down.fault(), Fault::Provider);
        assert_eq!(EmbedError::Bug("x".into()).fault(), Fault::Bug);
    }

    #[test]
    fn all_failed_names_each_attempt() {
        let err = EmbedError::AllFailed {
            retry_after: None,
            attempts: vec![
                Attempt {
                    model: "a".into(),
                    error: "timeout".into(),
                },
                Attempt {
                    model: "b".into(),
                    error: "refused".into(),
                },
            ],
        };
        let text = err.to_string();
        assert!(
            text.contains("a: timeout") && text.contains("b: refused"),
            "{text}"
        );
    }
}

//! One embedding request, whichever dialect it arrived in, and the limits every request respects.
//!
//! Each HTTP dialect (and the command line) parses its own JSON into an [`EmbedRequest`] and hands
//! it to [`Registry::embed`](crate::Registry::embed); nothing else about a request is decided in
//! the dialects.

use crate::error::{EmbedError, Limit};
use crate::fallback::FallbackPolicy;
use crate::output::Outputs;
use crate::token_ids::TokenIds;

/// What to embed: texts, or token ids of the model's own vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// One or more texts.
    Texts(Vec<String>),
    /// One or more token-id sequences.
    Tokens(Vec<Vec<u32>>),
}

impl Input {
    /// How many inputs there are.
    pub fn len(&self) -> usize {
        match self {
            Self::Texts(t) => t.len(),
            Self::Tokens(t) => t.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total size for logs: bytes of text, or token ids; never the content.
    pub fn total_len(&self) -> usize {
        match self {
            Self::Texts(t) => t.iter().map(String::len).sum(),
            Self::Tokens(t) => t.iter().map(Vec::len).sum(),
        }
    }

    /// Refuse no inputs, more than `max_inputs`, and empty texts or token arrays; `field` is the
    /// dialect's name for the inputs, so errors point at what the caller wrote.
    pub fn check(&self, field: &str, max_inputs: usize) -> Result<(), EmbedError> {
        if self.is_empty() {
            return Err(EmbedError::invalid(
                field,
                format!("`{field}` holds no inputs; send at least one"),
            ));
        }
        if self.len() > max_inputs {
            return Err(EmbedError::TooLarge {
                limit: Limit::Inputs,
                param: Some(field.to_owned()),
                message: format!(
                    "`{field}` holds {} inputs; at most {max_inputs} are allowed in one request",
                    self.len()
                ),
            });
        }
        let empty = match self {
            Self::Texts(t) => t.iter().position(String::is_empty),
            Self::Tokens(t) => t.iter().position(Vec::is_empty),
        };
        match empty {
            Some(i) => {
                let at = if self.len() == 1 && matches!(self, Self::Texts(_)) {
                    field.to_owned()
                } else {
                    format!("{field}[{i}]")
                };
                Err(EmbedError::invalid(
                    at.clone(),
                    format!("`{at}` is empty; every input needs at least one character or token"),
                ))
            }
            None => Ok(()),
        }
    }
}

/// One request for vectors, as every dialect states it.
#[derive(Debug, Clone)]
pub struct EmbedRequest {
    /// The model asked for; `None` or an empty name means the default.
    pub model: Option<String>,
    /// What to embed.
    pub input: Input,
    /// The dialect's name for the inputs (`input`, `inputs`, `texts`, `prompt`), used in errors.
    pub input_field: &'static str,
    /// Shorten every vector to this length and re-normalise (Matryoshka), as the caller sent it.
    pub dimensions: Option<u64>,
    /// Cut inputs longer than the model reads, or refuse them.
    pub truncate: bool,
    /// A named prompt of the model's (sentence-transformers' `prompts`).
    pub prompt_name: Option<String>,
    /// The outputs wanted (the dense vector unless the dialect can ask for more).
    pub outputs: Outputs,
    /// How far the fallback chain may go.
    pub policy: FallbackPolicy,
    /// The vocabulary of token-id inputs, as the request named it; the model's setting when
    /// `None`.
    pub token_ids: Option<TokenIds>,
}

impl EmbedRequest {
    /// A request for `input` (named `input_field` in errors) on the default model: truncating,
    /// full width, within the same vector space.
    pub fn new(input: Input, input_field: &'static str) -> Self {
        Self {
            model: None,
            input,
            input_field,
            dimensions: None,
            truncate: true,
            prompt_name: None,
            outputs: Outputs::DENSE,
            policy: FallbackPolicy::SAME_SPACE,
            token_ids: None,
        }
    }

    /// The same request for the model `name`.
    pub fn with_model(mut self, name: Option<String>) -> Self {
        self.model = name;
        self
    }

    /// The same request under another fallback policy.
    pub fn with_policy(mut self, policy: FallbackPolicy) -> Self {
        self.policy = policy;
        self
    }
}

/// The limits every request is held to, whatever its dialect (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Most inputs in one request (`server.max_inputs`).
    pub max_inputs: usize,
    /// Most tokens all inputs of one request may hold (`server.max_tokens_per_request`), for
    /// models that count tokens before computing.
    pub max_tokens_per_request: usize,
}

impl Default for RequestLimits {
    /// OpenAI's: 2,048 inputs and 300,000 tokens a request.
    fn default() -> Self {
        Self {
            max_inputs: 2048,
            max_tokens_per_request: 300_000,
        }
    }
}

/// A requested `dimensions`, checked against the model's width when known.
pub fn check_dimensions(requested: u64, model: Option<usize>) -> Result<usize, EmbedError> {
    let max = model.unwrap_or(crate::catalog::MAX_DIMENSIONS);
    match usize::try_from(requested) {
        Ok(d) if (1..=max).contains(&d) => Ok(d),
        _ => Err(EmbedError::invalid(
            "dimensions",
            format!("`dimensions` is {requested}; this model takes 1 to {max}"),
        )),
    }
}

tokio::task_local! {
    /// The id of the request the current task serves (the server's `x-request-id`).
    static REQUEST_ID: std::sync::Arc<str>;
}

/// Run `work` as the request with id `id`, so what it calls can name the request: remote
/// providers pass the id on as `x-request-id`, and their logs line up with ours.
pub async fn with_request_id<F: std::future::Future>(
    id: std::sync::Arc<str>,
    work: F,
) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The id of the request the current task serves, if it serves one.
pub fn request_id() -> Option<std::sync::Arc<str>> {
    REQUEST_ID.try_with(std::sync::Arc::clone).ok()
}

#[cfg(test)]
mod tests {

    #[tokio::test]
    async fn a_task_knows_the_request_it_serves() {
        assert!(request_id().is_none());
        let inside = with_request_id("req-7".into(), async { request_id() }).await;
        assert_eq!(inside.as_deref(), Some("req-7"));
    }

    use super::*;

    #[test]
    fn limits_are_checked_and_name_the_field() {
        let many = Input::Texts(vec!["x".into(); 3]);
        assert!(many.check("input", 3).is_ok());
        let err = many.check("inputs", 2).unwrap_err();
        assert!(
            matches!(&err, EmbedError::TooLarge { limit: Limit::Inputs, param: Some(p), .. } if p == "inputs"),
            "{err:?}"
        );
        assert!(err.to_string().contains("at most 2"));
        let empty = Input::Texts(vec!["a".into(), String::new()]);
        assert!(matches!(
            empty.check("input", 10),
            Err(EmbedError::InvalidInput { param: Some(p), .. }) if p == "input[1]"
        ));
        assert!(Input::Texts(vec!["  ".into()]).check("input", 10).is_ok());
        assert!(Input::Tokens(vec![vec![]]).check("input", 10).is_err());
        assert!(Input::Texts(vec![]).check("input", 10).is_err());
    }

    #[test]
    fn dimensions_must_fit_the_model() {
        assert_eq!(check_dimensions(8, Some(384)).unwrap(), 8);
        assert!(check_dimensions(0, Some(384)).is_err());
        assert!(check_dimensions(385, Some(384)).is_err());
        assert!(check_dimensions(u64::MAX, None).is_err());
    }
}

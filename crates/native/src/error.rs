//! Why a native model could not load or run.

use std::path::{Path, PathBuf};

use embedd_core::{EmbedError, Limit};

/// A native model's failure, naming the file at fault where there is one.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// A model file is missing, unreadable or malformed.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The model's architecture or a setting is not supported.
    #[error("{0}")]
    Unsupported(String),
    /// The tokenizer failed on an input.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A token id is outside the model's vocabulary (the caller's mistake).
    #[error("token id {id} at input[{input}][{position}] is outside the vocabulary (0..{vocab}); ids from tiktoken (LangChain's OpenAIEmbeddings sends them) are read with the model's `token_ids: cl100k_base` or the header `x-embedd-token-ids: cl100k_base`")]
    TokenOutOfRange {
        /// Which input.
        input: usize,
        /// Where in it.
        position: usize,
        /// The id.
        id: u32,
        /// The vocabulary size.
        vocab: usize,
    },
    /// An input has more tokens than the model reads, and the caller asked not to truncate.
    #[error("input[{input}] has {tokens} tokens, more than the {max} this model reads; shorten it or allow truncation")]
    InputTooLong {
        /// Which input.
        input: usize,
        /// Its tokens, special tokens included.
        tokens: usize,
        /// The model's limit.
        max: usize,
    },
    /// The inputs of one request hold more tokens together than one request may.
    #[error("the inputs hold {tokens} tokens together, more than the {max} one request may; send fewer or shorter inputs")]
    TooManyTokens {
        /// Tokens of all inputs.
        tokens: usize,
        /// The limit (`server.max_tokens_per_request`).
        max: usize,
    },
    /// Too many requests are waiting for this model; try again shortly.
    #[error("too many requests are waiting for this model")]
    Overloaded,
    /// An invariant of the inference code broke.
    #[error("internal inference error: {0}")]
    Bug(String),
}

impl NativeError {
    /// A problem with one file.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Self::File {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// The same error about input number `input` of the request.
    pub fn at_input(self, input: usize) -> Self {
        match self {
            Self::InputTooLong { tokens, max, .. } => Self::InputTooLong { input, tokens, max },
            other => other,
        }
    }

    /// The model-layer error for model `model`.
    pub fn into_embed_error(self, model: &str) -> EmbedError {
        match self {
            Self::TokenOutOfRange {
                input, position, ..
            } => EmbedError::InvalidInput {
                message: self.to_string(),
                param: Some(format!("input[{input}][{position}]")),
            },
            Self::InputTooLong { input, .. } => EmbedError::TooLarge {
                limit: Limit::InputTokens,
                param: Some(format!("input[{input}]")),
                message: self.to_string(),
            },
            Self::TooManyTokens { .. } => EmbedError::TooLarge {
                limit: Limit::RequestTokens,
                param: Some("input".to_owned()),
                message: self.to_string(),
            },
            Self::Bug(message) => EmbedError::Bug(format!("model `{model}`: {message}")),
            Self::Overloaded => EmbedError::Overloaded {
                model: model.to_owned(),
                retry_after: std::time::Duration::from_secs(1),
            },
            other => EmbedError::Unavailable {
                model: model.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

//! HTTP errors: one typed code per error, and one table that turns a code into each dialect's
//! status and names.
//!
//! [`ErrorCode`] decides everything a dialect needs: the HTTP status (OpenAI, Ollama and the
//! sentence-transformers service share it), OpenAI's `type`, TEI's status and `error_type`, and
//! whether `Retry-After` is sent. [`ApiError`] renders in OpenAI's shape
//! (`{"error": {"message", "type", "param", "code"}}`, also the seed route's); [`PlainError`] as
//! `{"error": "..."}` (Ollama, the sentence-transformers service); `TeiError` in TEI's shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::{EmbedError, Limit};
use serde::Serialize;
use utoipa::ToSchema;

/// What went wrong, as a closed set: each dialect's status and names come from it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The body is not JSON.
    InvalidJson,
    /// A field has the wrong JSON type, or the body the wrong shape.
    InvalidType,
    /// A field's value is out of range or otherwise wrong.
    InvalidValue,
    /// An input is longer than the model reads and truncation was off.
    InputTooLong,
    /// The inputs together hold more tokens than one request may.
    TooManyTokens,
    /// More inputs than one request may hold.
    TooManyInputs,
    /// The body is larger than the server accepts.
    BodyTooLarge,
    /// The body could not be read.
    InvalidBody,
    /// The body did not arrive in time.
    BodyTimeout,
    /// No model of that name.
    ModelNotFound,
    /// The model cannot do what was asked (token ids without a tokenizer, say).
    Unsupported,
    /// No such route.
    NotFound,
    /// The route does not take that method.
    MethodNotAllowed,
    /// The model's queue is full; try again shortly.
    Overloaded,
    /// A provider answered with an error.
    ProviderError,
    /// A model did not answer in time.
    Timeout,
    /// No model could serve (down, not loaded, circuit open).
    Unavailable,
    /// A bug in embedd.
    Internal,
    /// No API key, or not one of the server's.
    Unauthorized,
    /// The key's requests or tokens per minute are used up; try again after `Retry-After`.
    RateLimited,
}

impl ErrorCode {
    /// The stable machine-readable name (OpenAI's `code`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidType => "invalid_type",
            Self::InvalidValue => "invalid_value",
            Self::InputTooLong => "input_too_long",
            Self::TooManyTokens => "too_many_tokens",
            Self::TooManyInputs => "too_many_inputs",
            Self::BodyTooLarge => "body_too_large",
            Self::InvalidBody => "invalid_body",
            Self::BodyTimeout => "body_timeout",
            Self::ModelNotFound => "model_not_found",
            Self::Unsupported => "unsupported",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Overloaded => "overloaded",
            Self::ProviderError => "provider_error",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal_error",
            Self::Unauthorized => "invalid_api_key",
            Self::RateLimited => "rate_limit_exceeded",
        }
    }

    /// The status on the OpenAI, seed, Ollama and sentence-transformers-service routes.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidJson
            | Self::InvalidType
            | Self::InvalidValue
            | Self::InputTooLong
            | Self::TooManyTokens
            | Self::TooManyInputs
            | Self::InvalidBody
            | Self::Unsupported => StatusCode::BAD_REQUEST,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::ModelNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Overloaded | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::ProviderError => StatusCode::BAD_GATEWAY,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// OpenAI's `type`: whose side the error is on.
    pub fn openai_type(self) -> &'static str {
        if self.status().is_client_error() {
            "invalid_request_error"
        } else {
            "server_error"
        }
    }

    /// TEI's status and `error_type`: 413 for anything over a size limit, 422 for other invalid
    /// input, 429 when overloaded, 503 when unhealthy, 424 when the backend failed.
    pub fn tei(self) -> (StatusCode, &'static str) {
        match self {
            Self::InputTooLong | Self::TooManyTokens | Self::TooManyInputs | Self::BodyTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "Validation")
            }
            Self::Overloaded | Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "Overloaded"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            Self::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "Validation"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Unhealthy"),
            Self::ProviderError | Self::Timeout | Self::Internal => {
                (StatusCode::FAILED_DEPENDENCY, "Backend")
            }
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "Validation"),
        }
    }
}

/// An error on its way to the client; rendered in OpenAI's shape, or in another dialect's by
/// [`PlainError`] and `TeiError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What went wrong; decides the status in every dialect.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    /// Seconds the caller should wait before retrying (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A caller's error about one request field.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            param: Some(param.into()),
            ..Self::new(ErrorCode::InvalidValue, message)
        }
    }

    /// An error with the given code, about no particular field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            retry_after: None,
        }
    }

    /// The status on the OpenAI-shaped routes.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl From<EmbedError> for ApiError {
    fn from(e: EmbedError) -> Self {
        let message = e.to_string();
        let retry_after = e.retry_after().map(|d| d.as_secs().max(1));
        let (code, param) = match e {
            EmbedError::InvalidInput { param, .. } => (ErrorCode::InvalidValue, param),
            EmbedError::TooLarge { limit, param, .. } => (
                match limit {
                    Limit::InputTokens => ErrorCode::InputTooLong,
                    Limit::RequestTokens => ErrorCode::TooManyTokens,
                    Limit::Inputs => ErrorCode::TooManyInputs,
                },
                param,
            ),
            EmbedError::ModelNotFound { .. } => (ErrorCode::ModelNotFound, Some("model".into())),
            EmbedError::Unsupported { param, .. } => {
                (ErrorCode::Unsupported, Some((*param).to_owned()))
            }
            EmbedError::Overloaded { .. } => (ErrorCode::Overloaded, None),
            EmbedError::Provider { .. } => (ErrorCode::ProviderError, None),
            EmbedError::Timeout { .. } => (ErrorCode::Timeout, None),
            EmbedError::Unavailable { .. }
            | EmbedError::AllFailed { .. }
            | EmbedError::Config(_) => (ErrorCode::Unavailable, None),
            EmbedError::Bug(_) => (ErrorCode::Internal, None),
        };
        Self {
            code,
            message,
            param,
            retry_after,
        }
    }
}

/// An error in OpenAI's shape (also the seed route's).
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    /// What went wrong.
    pub error: OpenAiErrorDetail,
}

/// The inside of [`OpenAiErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    /// What went wrong, for a person.
    pub message: String,
    /// `invalid_request_error` (the caller's fault) or `server_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The request field at fault, if one is (`input[3]`, `model`).
    pub param: Option<String>,
    /// The stable machine-readable name: `invalid_value`, `input_too_long`, `model_not_found`,
    /// `invalid_api_key`, `rate_limit_exceeded`, `unavailable`, ...
    pub code: &'static str,
}

/// An error as Ollama and the sentence-transformers service send them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlainErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

/// An error in TEI's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeiErrorBody {
    /// What went wrong, for a person.
    pub error: String,
    /// `Validation`, `Overloaded`, `Unhealthy`, `Backend` or `Unauthorized`.
    pub error_type: &'static str,
}

/// The response for `error` with `body` in its dialect's shape and `status`: logs server
/// errors (never the message, which may quote a provider) and adds `Retry-After`.
fn respond(error: &ApiError, status: StatusCode, body: impl Serialize) -> Response {
    metrics::counter!("embedd_errors_total", "code" => error.code.as_str()).increment(1);
    if status.is_server_error() {
        tracing::warn!(
            status = status.as_u16(),
            code = error.code.as_str(),
            "request failed"
        );
    }
    let mut response = (status, Json(body)).into_response();
    if let Some(seconds) = error.retry_after {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = OpenAiErrorBody {
            error: OpenAiErrorDetail {
                kind: self.code.openai_type(),
                code: self.code.as_str(),
                message: self.message.clone(),
                param: self.param.clone(),
            },
        };
        respond(&self, status, body)
    }
}

/// An error whose body is just `{"error": message}`, as Ollama and the seed's
/// sentence-transformers service send them; the status is the same as [`ApiError`]'s.
#[derive(Debug)]
pub struct PlainError(pub ApiError);

impl IntoResponse for PlainError {
    fn into_response(self) -> Response {
        let body = PlainErrorBody {
            error: self.0.message.clone(),
        };
        respond(&self.0, self.0.status(), body)
    }
}

/// An error in TEI's shape, `{"error", "error_type"}`, with TEI's statuses.
#[derive(Debug)]
pub struct TeiError(pub ApiError);

impl IntoResponse for TeiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.0.code.tei();
        let body = TeiErrorBody {
            error: self.0.message.clone(),
            error_type: kind,
        };
        respond(&self.0, status, body)
    }
}

/// `error` in the shape of the dialect `route` (a matched route) belongs to, for answers made
/// before a handler runs (keys, limits, shutdown).
pub fn in_dialect_of(route: &str, error: ApiError) -> Response {
    match route {
        "/embed" | "/embed_sparse" | "/tokenize" | "/info" => TeiError(error).into_response(),
        r if r.starts_with("/api/") || r == "/encode" => PlainError(error).into_response(),
        _ => error.into_response(),
    }
}

/// Every dialect's error converts from the model layer's and from [`ApiError`].
macro_rules! dialect_error {
    ($($dialect:ident),*) => {$(
        impl From<ApiError> for $dialect {
            fn from(e: ApiError) -> Self {
                Self(e)
            }
        }

        impl From<EmbedError> for $dialect {
            fn from(e: EmbedError) -> Self {
                Self(ApiError::from(e))
            }
        }
    )*};
}

dialect_error!(PlainError, TeiError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_decides_every_dialects_status() {
        let not_found = ApiError::from(EmbedError::ModelNotFound {
            name: "x".into(),
            available: vec!["a".into()],
        });
        assert_eq!(
            (not_found.status(), not_found.param.as_deref()),
            (StatusCode::NOT_FOUND, Some("model"))
        );
        let down = ApiError::from(EmbedError::Unavailable {
            model: "m".into(),
            reason: "down".into(),
        });
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.code.openai_type(), "server_error");
        assert_eq!(
            down.code.tei(),
            (StatusCode::SERVICE_UNAVAILABLE, "Unhealthy")
        );
        let long = ApiError::from(EmbedError::TooLarge {
            limit: Limit::InputTokens,
            param: Some("input[0]".into()),
            message: "long".into(),
        });
        assert_eq!(long.status(), StatusCode::BAD_REQUEST);
        assert_eq!(long.code.tei().0, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            ErrorCode::Overloaded.tei(),
            (StatusCode::TOO_MANY_REQUESTS, "Overloaded")
        );
        assert_eq!(
            ApiError::invalid("input", "empty").code.openai_type(),
            "invalid_request_error"
        );
    }
}

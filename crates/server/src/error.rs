//! HTTP errors, and the one place where model errors become statuses.
//!
//! Every error leaves in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, which
//! the OpenAI routes and the seed route share.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use embedd_core::EmbedError;
use serde_json::json;

/// An error on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// Seconds the caller should wait before retrying (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A 400 about one request field.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            param: Some(param.into()),
            code: "invalid_value",
            retry_after: None,
        }
    }

    /// An error with the given status and code, about no particular field.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            param: None,
            code,
            retry_after: None,
        }
    }

    /// OpenAI's `type`: whose side the error is on.
    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            404 if self.code == "model_not_found" => "invalid_request_error",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        }
    }
}

impl From<EmbedError> for ApiError {
    fn from(e: EmbedError) -> Self {
        let message = e.to_string();
        let retry_after = e.retry_after().map(|d| d.as_secs().max(1));
        let mut error = match e {
            EmbedError::InvalidInput { param, .. } => Self {
                param,
                ..Self::new(StatusCode::BAD_REQUEST, "invalid_value", message)
            },
            EmbedError::ModelNotFound { .. } => Self {
                param: Some("model".to_owned()),
                ..Self::new(StatusCode::NOT_FOUND, "model_not_found", message)
            },
            EmbedError::Unsupported { .. } => Self {
                param: Some("input".to_owned()),
                ..Self::new(StatusCode::BAD_REQUEST, "unsupported", message)
            },
            EmbedError::Overloaded { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", message)
            }
            EmbedError::Provider { .. } => {
                Self::new(StatusCode::BAD_GATEWAY, "provider_error", message)
            }
            EmbedError::Timeout { .. } => {
                Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout", message)
            }
            EmbedError::Unavailable { .. }
            | EmbedError::AllFailed { .. }
            | EmbedError::Config(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            EmbedError::Bug(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
            }
        };
        error.retry_after = retry_after;
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(
                status = self.status.as_u16(),
                code = self.code,
                "request failed"
            );
        }
        let body = json!({
            "error": {
                "message": self.message,
                "type": self.kind(),
                "param": self.param,
                "code": self.code,
            }
        });
        with_retry_after((self.status, Json(body)).into_response(), self.retry_after)
    }
}

/// Add `Retry-After` when the error says when to come back.
pub fn with_retry_after(mut response: Response, seconds: Option<u64>) -> Response {
    if let Some(seconds) = seconds {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, seconds.into());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_map_to_statuses() {
        let not_found = ApiError::from(EmbedError::ModelNotFound {
            name: "x".into(),
            available: vec!["a".into()],
        });
        assert_eq!(
            (not_found.status, not_found.param.as_deref()),
            (StatusCode::NOT_FOUND, Some("model"))
        );
        let down = ApiError::from(EmbedError::Unavailable {
            model: "m".into(),
            reason: "down".into(),
        });
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.kind(), "server_error");
        assert_eq!(
            ApiError::invalid("input", "empty").kind(),
            "invalid_request_error"
        );
    }
}

/// An error whose body is just `{"error": message}`, as Ollama and the seed's
/// sentence-transformers service send them; the status is the same as [`ApiError`]'s.
#[derive(Debug)]
pub struct PlainError(pub ApiError);

impl From<ApiError> for PlainError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<EmbedError> for PlainError {
    fn from(e: EmbedError) -> Self {
        Self(ApiError::from(e))
    }
}

impl IntoResponse for PlainError {
    fn into_response(self) -> Response {
        let response = (self.0.status, Json(json!({ "error": self.0.message }))).into_response();
        with_retry_after(response, self.0.retry_after)
    }
}

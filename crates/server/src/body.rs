//! Reading a JSON request body within the size limit, every failure a clear 4xx.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use std::marker::PhantomData;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// How long a client may take to send a request body (an extension the router adds).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub std::time::Duration);

/// A JSON body parsed into `T`; malformed JSON, wrong types and oversized bodies become errors
/// naming the offending field, in the dialect's error shape `E` (OpenAI's by default).
pub struct JsonBody<T, E = ApiError>(pub T, pub PhantomData<E>);

impl<S, T, E> FromRequest<S> for JsonBody<T, E>
where
    S: Send + Sync,
    T: DeserializeOwned,
    E: From<ApiError> + IntoResponse,
{
    type Rejection = E;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let timeout = req
            .extensions()
            .get::<BodyTimeout>()
            .map_or(std::time::Duration::from_secs(30), |t| t.0);
        // A client that sends its body slowly (or never) must not hold the request forever.
        let bytes = tokio::time::timeout(timeout, Bytes::from_request(req, state))
            .await
            .map_err(|_| {
                E::from(ApiError::new(
                    ErrorCode::BodyTimeout,
                    format!(
                        "the request body did not arrive within {}s",
                        timeout.as_secs_f64()
                    ),
                ))
            })?
            .map_err(|r| E::from(body_error(r)))?;
        parse(&bytes)
            .map(|v| JsonBody(v, PhantomData))
            .map_err(E::from)
    }
}

/// Parse JSON bytes into `T`, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "the request body is empty; send a JSON object",
        ));
    }
    // Derived structs also accept a JSON array, field by field in order; a request is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(ApiError::new(
            ErrorCode::InvalidType,
            "the request body must be a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(e.into_inner(), Some(path))
    })?;
    de.end().map_err(|e| json_error(e, None))?;
    Ok(value)
}

/// A JSON error as an [`ApiError`]: syntax errors say where, type errors name the field.
fn json_error(inner: serde_json::Error, path: Option<String>) -> ApiError {
    let path = path.filter(|p| p != ".");
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::new(
            ErrorCode::InvalidJson,
            format!("the request body is not valid JSON: {inner}"),
        );
    }
    match path {
        Some(path) => {
            let mut error =
                ApiError::invalid(path.clone(), format!("`{path}` is invalid: {inner}"));
            error.code = ErrorCode::InvalidType;
            error
        }
        None => ApiError::new(
            ErrorCode::InvalidType,
            format!("the request body has the wrong shape: {inner}"),
        ),
    }
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            ErrorCode::BodyTooLarge,
            "the request body is larger than this server accepts; send fewer or shorter inputs",
        );
    }
    ApiError::new(
        ErrorCode::InvalidBody,
        format!(
            "the request body could not be read: {}",
            rejection.body_text()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Shape {
        #[allow(dead_code)]
        dimensions: Option<u32>,
    }

    #[test]
    fn errors_name_the_field_and_the_kind() {
        let e = parse::<Shape>(br#"{"dimensions": "big"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (ErrorCode::InvalidType, Some("dimensions"))
        );
        let e = parse::<Shape>(b"{\"dimensions\": 3").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidJson);
        let e = parse::<Shape>(b"{} {}").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidJson);
        let e = parse::<Shape>(b"  ").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidJson);
        let e = parse::<Shape>(b"[1]").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidType);
    }
}

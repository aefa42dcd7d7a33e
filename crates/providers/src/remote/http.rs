//! One pooled HTTP client for every remote provider, and the retry policy they share.
//!
//! Retried: 429, 5xx, connection failures and timeouts, with exponential backoff and jitter, and
//! after exactly the delay a `Retry-After` header asks for. A refused connection is definitive: a
//! call told to fail fast (another model of the fallback walk may answer) gives up on it at once. Never retried: other 4xx. A caller's
//! 400/413/422 becomes the caller's error (the chain stops); 401/403/404 the provider's (the chain
//! moves on). Every retry is logged with its count. The whole call stays within the model's timeout.
//! Each call carries the served request's id as `x-request-id`.

use std::time::{Duration, Instant};

use embedd_core::EmbedError;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// How a model's requests are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; it doubles with each retry.
    pub base_delay: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
    /// The whole call, retries included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }
    }
}

/// The HTTP side of one remote model: a shared client, who it is (for errors and logs), its key.
#[derive(Clone)]
pub struct Http {
    /// The pooled client, shared by every remote model.
    pub client: reqwest::Client,
    /// The model's registry name.
    pub model: String,
    /// The provider's name.
    pub provider: &'static str,
    /// The bearer key, if the provider takes one.
    pub key: Option<String>,
    /// Retries and timeout.
    pub retry: RetryPolicy,
    /// Give up at once on a refused connection instead of retrying it.
    pub fail_fast: bool,
}

/// What a remote answered when it did not answer 2xx and will not be retried.
#[derive(Debug)]
pub struct Refusal {
    /// The status.
    pub status: StatusCode,
    /// The body, as text.
    pub body: String,
}

impl Http {
    /// The client of model `config`: its key, and its `timeout` over the default retry policy.
    pub fn for_model(
        config: &embedd_core::ModelConfig,
        client: reqwest::Client,
        provider: &'static str,
        key: Option<String>,
    ) -> Self {
        Self {
            client,
            model: config.name.clone(),
            provider,
            key,
            retry: RetryPolicy {
                timeout: config.timeout.unwrap_or(RetryPolicy::default().timeout),
                ..RetryPolicy::default()
            },
            fail_fast: false,
        }
    }

    /// The same client for one call made with `options` (whether to fail fast).
    pub fn for_call(&self, options: &embedd_core::EncodeOptions) -> Self {
        Self {
            fail_fast: options.fail_fast,
            ..self.clone()
        }
    }

    /// `method url` with an optional JSON body, retried as the policy says; the JSON answer, or
    /// the refusal the caller may want to inspect (an Ollama 404 route, say).
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Result<Value, Refusal>, EmbedError> {
        let deadline = Instant::now() + self.retry.timeout;
        let mut attempt = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(EmbedError::Timeout {
                    model: self.model.clone(),
                    timeout: self.retry.timeout,
                });
            }
            let mut request = self.client.request(method.clone(), url).timeout(remaining);
            if let Some(key) = &self.key {
                request = request.bearer_auth(key);
            }
            // The caller's request id, so the provider's logs can be matched with ours.
            if let Some(id) = embedd_core::request_id() {
                request = request.header("x-request-id", &*id);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let (error, retry_after) = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let text = response
                        .text()
                        .await
                        .map_err(|e| self.error(format!("reading the answer failed: {e}"), None))?;
                    if text.trim().is_empty() {
                        // Health routes (TEI's /health) answer 200 with no body.
                        return Ok(Ok(Value::Null));
                    }
                    return serde_json::from_str(&text)
                        .map(Ok)
                        .map_err(|e| self.error(format!("the answer is not JSON: {e}"), None));
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    let body = response.text().await.unwrap_or_default();
                    if !(status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()) {
                        return Ok(Err(Refusal { status, body }));
                    }
                    (
                        self.error(format!("HTTP {status}: {}", excerpt(&body)), retry_after),
                        retry_after,
                    )
                }
                Err(e) if e.is_timeout() => (
                    EmbedError::Timeout {
                        model: self.model.clone(),
                        timeout: self.retry.timeout,
                    },
                    None,
                ),
                Err(e) if self.fail_fast && e.is_connect() && !e.is_timeout() => {
                    return Err(self.error(
                        format!("request failed: {}; not retried", without_url(&e)),
                        None,
                    ))
                }
                Err(e) => (
                    self.error(format!("request failed: {}", without_url(&e)), None),
                    None,
                ),
            };
            if attempt >= self.retry.max_retries {
                return Err(error);
            }
            let backoff = self
                .retry
                .base_delay
                .saturating_mul(1 << attempt.min(16))
                .min(self.retry.max_delay);
            let delay =
                retry_after.unwrap_or_else(|| backoff + backoff.mul_f64(fastrand::f64() * 0.5));
            if Instant::now() + delay > deadline {
                return Err(error);
            }
            attempt += 1;
            metrics::counter!("embedd_provider_retries_total", "model" => self.model.clone(),
                "provider" => self.provider)
            .increment(1);
            tracing::warn!(model = %self.model, provider = self.provider, retry = attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// A call whose every refusal is an error: the caller's for 400/413/422, else the provider's.
    pub async fn json(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, EmbedError> {
        match self.call(method, url, body).await? {
            Ok(value) => Ok(value),
            Err(refusal) => Err(self.refused(&refusal)),
        }
    }

    /// The error a refusal means.
    pub fn refused(&self, refusal: &Refusal) -> EmbedError {
        let message = format!(
            "{} answered HTTP {}: {}",
            self.provider,
            refusal.status,
            excerpt(&refusal.body)
        );
        match refusal.status.as_u16() {
            // The remote found the input too long (TEI without truncation): the caller's, as is.
            413 => EmbedError::TooLarge {
                limit: embedd_core::Limit::InputTokens,
                param: None,
                message,
            },
            400 | 422 => EmbedError::InvalidInput {
                message,
                param: None,
            },
            _ => self.error(message, None),
        }
    }

    /// A provider error of this model.
    pub fn error(&self, message: String, retry_after: Option<Duration>) -> EmbedError {
        EmbedError::Provider {
            model: self.model.clone(),
            provider: self.provider.to_owned(),
            message,
            retry_after,
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and treated as absent).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// What a provider said, shortened: its JSON `error.message` or `error` if there is one.
fn excerpt(body: &str) -> String {
    let said = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or_else(|| v["error"].as_str())
            .map(str::to_owned)
    });
    let text = said.unwrap_or_else(|| body.trim().to_owned());
    text.chars().take(300).collect()
}

/// A reqwest error without the URL, which may carry a key in its query.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    match std::error::Error::source(e) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_prefer_the_providers_own_message() {
        assert_eq!(
            excerpt(r#"{"error": {"message": "bad key", "type": "x"}}"#),
            "bad key"
        );
        assert_eq!(
            excerpt(r#"{"error": "model not found"}"#),
            "model not found"
        );
        assert_eq!(excerpt("404 page not found\n"), "404 page not found");
        assert_eq!(excerpt(&"x".repeat(1000)).len(), 300);
    }
}

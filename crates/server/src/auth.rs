//! API keys and per-key rate limits (seed §9).
//!
//! Keys come only from an environment variable or a file (never the config text). Only their
//! SHA-256 digests are kept, and a presented key is compared with every one of them in constant
//! time, so neither timing nor a log can give a key away: logs name a caller `key#N`.
//!
//! Each key has two buckets that refill continuously: requests per minute, checked before a
//! request runs; tokens per minute, checked before (an overdrawn bucket refuses) and charged after
//! with the tokens the request embedded. A refusal is a 429 with `Retry-After`; a missing or
//! wrong key a 401; both in the dialect's own error shape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use embedd_core::config::RateLimit;
use sha2::{Digest, Sha256};

use crate::error::{in_dialect_of, ApiError, ErrorCode};

tokio::task_local! {
    /// The key of the request this task serves, for charging its tokens.
    static CALLER: Caller;
}

/// The server's keys and limits; `None` keys means every route is open.
pub struct Access {
    digests: Vec<[u8; 32]>,
    public_routes: Vec<String>,
    limit: Option<RateLimit>,
    buckets: Mutex<HashMap<usize, Buckets>>,
}

/// A request's caller: which key, and the limiter to charge.
#[derive(Clone)]
pub struct Caller {
    key: usize,
    access: Arc<Access>,
}

/// One key's two buckets.
struct Buckets {
    requests: Bucket,
    tokens: Bucket,
}

/// A bucket of `capacity` that refills at `capacity` a minute; it may go below zero (tokens are
/// charged after the fact), and refuses while it is.
struct Bucket {
    level: f64,
    capacity: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: f64, now: Instant) -> Self {
        Self {
            level: capacity,
            capacity,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let minutes = now.duration_since(self.at).as_secs_f64() / 60.0;
        self.level = (self.level + minutes * self.capacity).min(self.capacity);
        self.at = now;
    }

    /// How long until the bucket holds `need`, if it does not now (a minute at most: a bucket
    /// of no capacity, `0` a minute, never fills).
    fn wait_for(&self, need: f64) -> Option<Duration> {
        (self.level < need).then(|| {
            let minutes = (need - self.level) / self.capacity.max(f64::MIN_POSITIVE);
            Duration::try_from_secs_f64(minutes * 60.0)
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(60))
        })
    }
}

impl Access {
    /// Keys from the text of the variable (comma-separated) and of the file (one a line, `#`
    /// comments and blank lines skipped); `None` when there are none at all.
    pub fn new(
        from_env: Option<&str>,
        from_file: Option<&str>,
        public_routes: Vec<String>,
        limit: Option<RateLimit>,
    ) -> Option<Self> {
        let env_keys = from_env.into_iter().flat_map(|v| v.split(','));
        let file_keys = from_file
            .into_iter()
            .flat_map(str::lines)
            .filter(|line| !line.trim_start().starts_with('#'));
        let mut digests: Vec<[u8; 32]> = env_keys
            .chain(file_keys)
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(digest)
            .collect();
        digests.sort_unstable();
        digests.dedup();
        (!digests.is_empty()).then(|| Self {
            digests,
            public_routes,
            limit,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// How many distinct keys there are.
    pub fn keys(&self) -> usize {
        self.digests.len()
    }

    /// Which key `presented` is, comparing with every key in constant time.
    fn find(&self, presented: &str) -> Option<usize> {
        let wanted = digest(presented);
        let mut found = None;
        for (i, known) in self.digests.iter().enumerate() {
            let difference = known
                .iter()
                .zip(&wanted)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if difference == 0 {
                found = Some(i);
            }
        }
        found
    }

    /// Take one request from `key`'s budget, or say how long until it may come back.
    fn admit(&self, key: usize) -> Result<(), Duration> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let b = buckets.entry(key).or_insert_with(|| Buckets {
            requests: Bucket::new(f64::from(limit.requests_per_minute.unwrap_or(0)), now),
            tokens: Bucket::new(limit.tokens_per_minute.unwrap_or(0) as f64, now),
        });
        b.requests.refill(now);
        b.tokens.refill(now);
        if limit.requests_per_minute.is_some() {
            if let Some(wait) = b.requests.wait_for(1.0) {
                return Err(wait);
            }
        }
        if limit.tokens_per_minute.is_some() {
            // Overdrawn by earlier requests: wait until the bucket is back above zero.
            if let Some(wait) = b.tokens.wait_for(f64::MIN_POSITIVE) {
                return Err(wait);
            }
        }
        if limit.requests_per_minute.is_some() {
            b.requests.level -= 1.0;
        }
        Ok(())
    }

    fn charge(&self, key: usize, tokens: usize) {
        if self.limit.and_then(|l| l.tokens_per_minute).is_none() {
            return;
        }
        if let Ok(mut buckets) = self.buckets.lock() {
            if let Some(b) = buckets.get_mut(&key) {
                b.tokens.refill(Instant::now());
                b.tokens.level -= tokens as f64;
            }
        }
    }
}

/// Charge the tokens a request embedded to its caller's key, if keys are on.
pub fn charge_tokens(tokens: usize) {
    let _ = CALLER.try_with(|caller| caller.access.charge(caller.key, tokens));
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Middleware: a request to a route that is not public needs a known key within its limits.
pub async fn require_key(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let route = crate::request_log::matched_route(&request).unwrap_or_default();
    if access.public_routes.contains(&route) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(key) = presented.and_then(|p| access.find(p)) else {
        let message = if presented.is_some() {
            "the API key is not one of this server's"
        } else {
            "an API key is needed: send `Authorization: Bearer KEY`"
        };
        tracing::info!(route, "request refused: no valid API key");
        return in_dialect_of(&route, ApiError::new(ErrorCode::Unauthorized, message));
    };
    if let Err(wait) = access.admit(key) {
        // Rounded up, so a caller who waits that long is let in.
        let seconds = (wait.as_secs_f64().ceil() as u64).max(1);
        tracing::info!(
            route,
            key = format!("key#{key}"),
            retry_after = seconds,
            "rate limited"
        );
        let mut error = ApiError::new(
            ErrorCode::RateLimited,
            format!("this key's rate limit is used up; try again in {seconds}s"),
        );
        error.retry_after = Some(seconds);
        return in_dialect_of(&route, error);
    }
    let caller = Caller {
        key,
        access: access.clone(),
    };
    CALLER.scope(caller, next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(limit: Option<RateLimit>) -> Access {
        Access::new(
            Some("alpha, beta,"),
            Some("# a comment\ngamma\n\n"),
            Vec::new(),
            limit,
        )
        .unwrap()
    }

    #[test]
    fn keys_come_from_the_variable_and_the_file() {
        let access = access(None);
        assert_eq!(access.keys(), 3);
        for key in ["alpha", "beta", "gamma"] {
            assert!(access.find(key).is_some(), "{key}");
        }
        for wrong in ["", "alph", "alpha ", "# a comment", "ALPHA"] {
            assert!(access.find(wrong).is_none(), "{wrong:?}");
        }
        assert!(Access::new(Some(" , "), None, Vec::new(), None).is_none());
    }

    #[test]
    fn requests_and_tokens_per_minute_are_held_per_key() {
        let limit = RateLimit {
            requests_per_minute: Some(2),
            tokens_per_minute: Some(100),
        };
        let access = access(Some(limit));
        let (alpha, beta) = (access.find("alpha").unwrap(), access.find("beta").unwrap());
        assert!(access.admit(alpha).is_ok());
        assert!(access.admit(alpha).is_ok());
        let wait = access.admit(alpha).unwrap_err();
        assert!(
            wait > Duration::from_secs(20) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(access.admit(beta).is_ok(), "another key has its own budget");
        access.charge(beta, 150);
        let none = Access::new(
            Some("k"),
            None,
            Vec::new(),
            Some(RateLimit {
                requests_per_minute: Some(0),
                tokens_per_minute: None,
            }),
        )
        .unwrap();
        assert_eq!(
            none.admit(0),
            Err(Duration::from_secs(60)),
            "no capacity, no panic"
        );
        let wait = access.admit(beta).unwrap_err();
        assert!(
            wait >= Duration::from_secs(29),
            "{wait:?}: 50 tokens to win back"
        );
    }
}

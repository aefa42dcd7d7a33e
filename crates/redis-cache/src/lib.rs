//! The vector cache's shared tier on Redis (`embeddings.cache.redis_url`), for replicas that
//! should compute a text once between them.
//!
//! - Keys: `embedd:v1:` and the hex of the cache key (a SHA-256 of model, options and text), so
//!   embedd's entries are namespaced and a change of format is a change of version.
//! - Values: compact, not JSON: `EMB1`, the token count and the width as little-endian `u32`, then
//!   the vector as little-endian `f32`. A value of any other shape, or with a NaN, is a miss (and
//!   counted), never passed on.
//! - Failure: every call is bounded by `redis_timeout`; an error or timeout is a miss for reads and
//!   a dropped write, logged and counted (`embedd_cache_errors_total{tier="redis"}`), never a failed
//!   or slow request. The connection is made on first use and remade by itself after Redis comes
//!   back (at most one attempt a second while it is down).
#![deny(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use embedd_core::cache::{CacheKey, CachedVector, SharedTier};
use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

/// The prefix of every key embedd writes.
const PREFIX: &str = "embedd:v1:";

/// The first bytes of every value.
const MAGIC: &[u8; 4] = b"EMB1";

/// How long to leave a Redis that could not be reached before trying again.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// A Redis shared by replicas.
pub struct RedisTier {
    client: redis::Client,
    timeout: Duration,
    /// The connection once made, and when the last attempt to make one failed.
    connection: Mutex<(Option<ConnectionManager>, Option<Instant>)>,
}

impl RedisTier {
    /// A tier at `url` (`redis://127.0.0.1:6379/0`) whose calls take at most `timeout`. Nothing
    /// connects yet: a Redis that is down at start is tried again on use.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("not a Redis address: {e}"))?;
        Ok(Self {
            client,
            timeout,
            connection: Mutex::new((None, None)),
        })
    }

    /// The connection, made now if there is none and the last failure is not too recent.
    async fn connection(&self) -> Option<ConnectionManager> {
        let mut state = self.connection.lock().await;
        if let Some(connection) = &state.0 {
            return Some(connection.clone());
        }
        if state
            .1
            .is_some_and(|failed| failed.elapsed() < RECONNECT_EVERY)
        {
            return None;
        }
        let made = tokio::time::timeout(self.timeout, ConnectionManager::new(self.client.clone()))
            .await
            .map_err(|_| "timed out".to_owned())
            .and_then(|made| made.map_err(|e| e.to_string()));
        match made {
            Ok(connection) => {
                tracing::info!("connected to the Redis cache");
                state.0 = Some(connection.clone());
                Some(connection)
            }
            Err(error) => {
                failed("connect", &error);
                state.1 = Some(Instant::now());
                None
            }
        }
    }
}

/// Log and count a failed Redis call; the request goes on without it.
fn failed(operation: &'static str, error: &str) {
    metrics::counter!("embedd_cache_errors_total", "tier" => "redis", "operation" => operation)
        .increment(1);
    tracing::warn!(
        operation,
        error,
        "the Redis cache failed; serving without it"
    );
}

fn redis_key(key: &CacheKey) -> String {
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    for byte in key {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A vector and its token count as stored.
pub fn encode(entry: &CachedVector) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + entry.vector.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(
        &u32::try_from(entry.tokens)
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(
        &u32::try_from(entry.vector.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for value in &entry.vector {
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

/// A stored value back into a vector and token count; `None` for anything not written by
/// [`encode`] whole, or holding a value that is not finite.
pub fn decode(bytes: &[u8]) -> Option<(Vec<f32>, usize)> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (tokens, rest) = rest.split_first_chunk::<4>()?;
    let (width, rest) = rest.split_first_chunk::<4>()?;
    let width = u32::from_le_bytes(*width) as usize;
    if rest.len() != width.checked_mul(4)? {
        return None;
    }
    let vector: Vec<f32> = rest
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    vector
        .iter()
        .all(|v| v.is_finite())
        .then_some((vector, u32::from_le_bytes(*tokens) as usize))
}

#[async_trait]
impl SharedTier for RedisTier {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn get_many(&self, keys: &[CacheKey]) -> Vec<Option<CachedVector>> {
        let misses = || keys.iter().map(|_| None).collect();
        let Some(mut connection) = self.connection().await else {
            return misses();
        };
        let names: Vec<String> = keys.iter().map(redis_key).collect();
        let mut command = redis::cmd("MGET");
        command.arg(&names);
        let answer: Result<Result<Vec<Option<Vec<u8>>>, _>, _> =
            tokio::time::timeout(self.timeout, command.query_async(&mut connection)).await;
        let values = match answer {
            Ok(Ok(values)) if values.len() == keys.len() => values,
            Ok(Ok(values)) => {
                failed(
                    "get",
                    &format!("{} values for {} keys", values.len(), keys.len()),
                );
                return misses();
            }
            Ok(Err(e)) => {
                failed("get", &e.to_string());
                return misses();
            }
            Err(_) => {
                failed("get", "timed out");
                return misses();
            }
        };
        values
            .into_iter()
            .map(|value| {
                let bytes = value?;
                match decode(&bytes) {
                    Some((vector, tokens)) => Some(CachedVector::new(vector, tokens, None)),
                    None => {
                        failed("decode", &format!("a value of {} bytes", bytes.len()));
                        None
                    }
                }
            })
            .collect()
    }

    async fn put_many(&self, entries: Vec<(CacheKey, Arc<CachedVector>)>) {
        if entries.is_empty() {
            return;
        }
        let Some(mut connection) = self.connection().await else {
            return;
        };
        let mut pipeline = redis::pipe();
        for (key, entry) in &entries {
            let command = pipeline.cmd("SET").arg(redis_key(key)).arg(encode(entry));
            if let Some(ttl) = entry.ttl() {
                command.arg("PX").arg(ttl.as_millis().max(1) as u64);
            }
            command.ignore();
        }
        let answer: Result<Result<(), _>, _> =
            tokio::time::timeout(self.timeout, pipeline.query_async(&mut connection)).await;
        match answer {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed("put", &e.to_string()),
            Err(_) => failed("put", "timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_anything_else_is_refused() {
        let entry = CachedVector::new(vec![0.5, -1.25, 3.0], 7, None);
        let bytes = encode(&entry);
        assert_eq!(bytes.len(), 12 + 3 * 4);
        assert_eq!(decode(&bytes), Some((vec![0.5, -1.25, 3.0], 7)));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None, "cut short");
        assert_eq!(decode(b"{\"embedding\": [1.0]}"), None, "foreign JSON");
        assert_eq!(decode(b""), None);
        let mut nan = encode(&CachedVector::new(vec![f32::NAN], 1, None));
        assert_eq!(decode(&nan), None, "a NaN is never passed on");
        nan.truncate(4);
        assert_eq!(decode(&nan), None);
        assert!(redis_key(&[0xab; 32]).starts_with("embedd:v1:abab"));
    }

    #[tokio::test]
    async fn a_redis_that_cannot_be_reached_is_a_miss_at_once() {
        // Port 1 on 127.0.0.1 refuses; the answer is a miss, not an error or a hang.
        let tier = RedisTier::new("redis://127.0.0.1:1/0", Duration::from_millis(200)).unwrap();
        let got = tier.get_many(&[[1; 32], [2; 32]]).await;
        assert!(got.iter().all(Option::is_none));
        tier.put_many(vec![(
            [1; 32],
            Arc::new(CachedVector::new(vec![1.0], 1, None)),
        )])
        .await;
        assert!(RedisTier::new("not a url", Duration::from_millis(10)).is_err());
    }
}

//! The in-process vector cache (seed §7): a repeated text costs no model call.
//!
//! A vector is found by a key made of everything that decides it: the model (name, provider, model
//! id, the weights' revision where known), whether the text may be truncated, the prompt, and a SHA-256 of the text. `dimensions`
//! needs no place in the key: the full vector is cached and shortened after, per request. Only
//! dense vectors of text inputs are cached; other outputs and token-id inputs always compute.
//!
//! The cache is bounded by bytes (moka weighs each entry), each entry lives for its model's
//! `cache_ttl`, and concurrent misses of one key are collapsed: the first request to miss computes
//! the text, and a second one asking meanwhile waits for that answer instead of computing it again
//! (if the first fails or is cancelled, the second computes it itself).

mod encode;

pub(crate) use encode::encode_cached;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::Expiry;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::config::ModelConfig;
use crate::model::EncodeOptions;

/// What identifies one cached vector.
pub type CacheKey = [u8; 32];

/// One cached vector and the tokens its text counted.
#[derive(Debug)]
pub struct CachedVector {
    /// The full-width vector, as the model gave it.
    pub vector: Vec<f32>,
    /// The tokens the text counted when it was computed (for usage).
    pub tokens: usize,
    /// How long it may be served.
    ttl: Option<Duration>,
}

impl CachedVector {
    /// A vector to cache for `ttl` (forever, until evicted, when `None`).
    pub fn new(vector: Vec<f32>, tokens: usize, ttl: Option<Duration>) -> Self {
        Self {
            vector,
            tokens,
            ttl,
        }
    }

    /// How long it may be served.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }
}

/// A cache tier shared by replicas (Redis), asked after the in-process tier misses and given
/// what is computed. A shared tier must never fail or slow a request by more than a short bound:
/// implementations answer an error or a timeout as a miss, and count it.
#[async_trait::async_trait]
pub trait SharedTier: Send + Sync {
    /// The tier's name in metrics and logs (`redis`).
    fn name(&self) -> &'static str;
    /// The entries of `keys` the tier holds, in order (`None`: not held, or unreadable).
    async fn get_many(&self, keys: &[CacheKey]) -> Vec<Option<CachedVector>>;
    /// Store `entries`, each for its own TTL.
    async fn put_many(&self, entries: Vec<(CacheKey, Arc<CachedVector>)>);
}

/// Each entry's own time to live.
struct PerEntryTtl;

impl Expiry<CacheKey, Arc<CachedVector>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        value: &Arc<CachedVector>,
        _created_at: Instant,
    ) -> Option<Duration> {
        value.ttl
    }
}

/// An answer another request is computing: `Some(Some(vector))` when done, `Some(None)` when it
/// failed; the sender dropped (the request was cancelled) counts as failed.
type Flight = watch::Receiver<Option<Option<Arc<CachedVector>>>>;

/// What a lookup found for one key.
pub enum Lookup {
    /// Cached.
    Hit(Arc<CachedVector>),
    /// Another request is computing it.
    Wait(Flight),
    /// Nobody has it: the caller computes it and must [`VectorCache::fill`] or drop the claim.
    Claimed(Claim),
}

/// A caller's promise to compute a key; dropping it unfilled tells the waiters to compute it
/// themselves.
pub struct Claim {
    key: CacheKey,
    sender: watch::Sender<Option<Option<Arc<CachedVector>>>>,
    flights: Arc<Mutex<HashMap<CacheKey, Flight>>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut flights) = self.flights.lock() {
            flights.remove(&self.key);
        }
        // Unfilled: the waiters learn it failed (a filled claim already sent its vector).
        self.sender.send_if_modified(|value| {
            if value.is_none() {
                *value = Some(None);
                true
            } else {
                false
            }
        });
    }
}

/// The process's vector cache, shared by every model that enables it.
pub struct VectorCache {
    entries: moka::future::Cache<CacheKey, Arc<CachedVector>>,
    flights: Arc<Mutex<HashMap<CacheKey, Flight>>>,
    /// The tier behind it, shared with other replicas, once attached.
    shared: std::sync::OnceLock<Arc<dyn SharedTier>>,
}

impl VectorCache {
    /// A cache holding at most `bytes` of vectors.
    pub fn new(bytes: u64) -> Self {
        let entries = moka::future::Cache::builder()
            .max_capacity(bytes)
            .weigher(|_key: &CacheKey, value: &Arc<CachedVector>| {
                let bytes = 64 + value.vector.len() * std::mem::size_of::<f32>();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self {
            entries,
            flights: Arc::new(Mutex::new(HashMap::new())),
            shared: std::sync::OnceLock::new(),
        }
    }

    /// Put `tier` behind the in-process one (once; a second tier is ignored).
    pub fn attach(&self, tier: Arc<dyn SharedTier>) {
        let _ = self.shared.set(tier);
    }

    /// The shared tier, if one is attached.
    pub fn shared(&self) -> Option<&Arc<dyn SharedTier>> {
        self.shared.get()
    }

    /// The key of `text` embedded by `model` (whose weights are `revision`) with `options`.
    pub fn key(
        model: &ModelConfig,
        revision: Option<&str>,
        options: &EncodeOptions,
        text: &str,
    ) -> CacheKey {
        let mut hash = Sha256::new();
        // Versioned, and every part length-prefixed so no two keys run together.
        for part in [
            "embedd-cache-v1",
            model.name.as_str(),
            model.provider.as_str(),
            model.model_id.as_deref().unwrap_or(""),
            revision.unwrap_or(""),
            if options.truncate {
                "truncate"
            } else {
                "whole"
            },
            options.prompt_name.as_deref().unwrap_or(""),
            text,
        ] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        hash.finalize().into()
    }

    /// Find each key: cached, being computed by another request, or now claimed by the caller.
    pub async fn lookup(&self, keys: &[CacheKey]) -> Vec<Lookup> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(hit) = self.entries.get(key).await {
                out.push(Lookup::Hit(hit));
                continue;
            }
            out.push(self.claim_or_wait(*key));
        }
        out
    }

    fn claim_or_wait(&self, key: CacheKey) -> Lookup {
        let Ok(mut flights) = self.flights.lock() else {
            // A poisoned table only loses the collapsing; the caller still computes.
            let (sender, _) = watch::channel(None);
            return Lookup::Claimed(Claim {
                key,
                sender,
                flights: self.flights.clone(),
            });
        };
        if let Some(flight) = flights.get(&key) {
            return Lookup::Wait(flight.clone());
        }
        let (sender, receiver) = watch::channel(None);
        flights.insert(key, receiver);
        Lookup::Claimed(Claim {
            key,
            sender,
            flights: self.flights.clone(),
        })
    }

    /// Store a claimed key's vector and hand it to the requests waiting for it.
    pub async fn fill(&self, claim: Claim, value: Arc<CachedVector>) {
        self.entries.insert(claim.key, value.clone()).await;
        claim.sender.send_replace(Some(Some(value)));
    }
}

/// Wait for another request's answer; `None` when it failed or was cancelled.
pub async fn wait(mut flight: Flight) -> Option<Arc<CachedVector>> {
    match flight.wait_for(Option::is_some).await {
        Ok(value) => value.clone().flatten(),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn model() -> ModelConfig {
        let config = Config::from_yaml(
            "embeddings:\n  default_model: h\n  models:\n    h: {provider: hash, dimensions: 8}\n",
            &|_| None,
        )
        .unwrap();
        config.embeddings.models[0].clone()
    }

    #[test]
    fn every_option_that_changes_the_vector_changes_the_key() {
        let model = model();
        let base = EncodeOptions::default();
        let key = VectorCache::key(&model, None, &base, "text");
        assert_eq!(key, VectorCache::key(&model, None, &base, "text"));
        assert_ne!(key, VectorCache::key(&model, None, &base, "text "));
        let truncating = EncodeOptions {
            truncate: !base.truncate,
            ..base.clone()
        };
        assert_ne!(key, VectorCache::key(&model, None, &truncating, "text"));
        let prompted = EncodeOptions {
            prompt_name: Some("query".to_owned()),
            ..base.clone()
        };
        assert_ne!(key, VectorCache::key(&model, None, &prompted, "text"));
        let mut other = model.clone();
        other.name = "h2".to_owned();
        assert_ne!(key, VectorCache::key(&other, None, &base, "text"));
        let mut other = model.clone();
        other.model_id = Some("x".to_owned());
        assert_ne!(key, VectorCache::key(&other, None, &base, "text"));
        assert_ne!(
            key,
            VectorCache::key(&model, Some("sha256:1"), &base, "text"),
            "other weights, another key"
        );
        // Parts cannot run together: ("ab", "c") and ("a", "bc") differ.
        let mut a = model.clone();
        a.name = "hq".to_owned();
        let p = EncodeOptions {
            prompt_name: Some("uery".to_owned()),
            ..base.clone()
        };
        let q = EncodeOptions {
            prompt_name: Some("query".to_owned()),
            ..base
        };
        assert_ne!(
            VectorCache::key(&a, None, &p, "t"),
            VectorCache::key(&model, None, &q, "t")
        );
    }

    #[tokio::test]
    async fn a_second_miss_waits_for_the_first_and_a_dropped_claim_releases_it() {
        let cache = VectorCache::new(1 << 20);
        let key = [7u8; 32];
        let Lookup::Claimed(claim) = cache.lookup(&[key]).await.remove(0) else {
            panic!("the first miss claims the key");
        };
        let Lookup::Wait(flight) = cache.lookup(&[key]).await.remove(0) else {
            panic!("a second miss waits");
        };
        let waiter = tokio::spawn(wait(flight));
        cache
            .fill(claim, Arc::new(CachedVector::new(vec![1.0, 2.0], 3, None)))
            .await;
        let got = waiter.await.unwrap().expect("the first request's vector");
        assert_eq!((got.vector.clone(), got.tokens), (vec![1.0, 2.0], 3));
        assert!(matches!(
            cache.lookup(&[key]).await.remove(0),
            Lookup::Hit(_)
        ));

        let other = [8u8; 32];
        let Lookup::Claimed(claim) = cache.lookup(&[other]).await.remove(0) else {
            panic!("claimed");
        };
        let Lookup::Wait(flight) = cache.lookup(&[other]).await.remove(0) else {
            panic!("waits");
        };
        drop(claim);
        assert!(
            wait(flight).await.is_none(),
            "a failed claim is not an answer"
        );
        assert!(
            matches!(cache.lookup(&[other]).await.remove(0), Lookup::Claimed(_)),
            "and the key can be claimed again"
        );
    }

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let cache = VectorCache::new(1 << 20);
        let key = [9u8; 32];
        let Lookup::Claimed(claim) = cache.lookup(&[key]).await.remove(0) else {
            panic!("claimed");
        };
        let ttl = Some(Duration::from_millis(1));
        cache
            .fill(claim, Arc::new(CachedVector::new(vec![1.0], 1, ttl)))
            .await;
        // moka measures time itself; wait past the TTL by its clock, not as synchronisation.
        std::thread::sleep(Duration::from_millis(5));
        assert!(matches!(
            cache.lookup(&[key]).await.remove(0),
            Lookup::Claimed(_)
        ));
    }
}

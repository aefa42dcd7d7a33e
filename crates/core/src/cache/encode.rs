//! A model call through the cache: what is cached is served, what another request is computing is
//! waited for, and only the rest is computed, in one batch, in order.

use std::sync::Arc;

use super::{wait, CacheKey, CachedVector, Lookup, VectorCache};
use crate::config::ModelConfig;
use crate::error::EmbedError;
use crate::model::{EmbeddingModel, Embeddings, EncodeOptions};

/// Embed `texts` with `model` (configured as `config`), through `cache`.
pub(crate) async fn encode_cached(
    cache: &VectorCache,
    config: &ModelConfig,
    model: &dyn EmbeddingModel,
    texts: &[String],
    options: &EncodeOptions,
) -> Result<Embeddings, EmbedError> {
    let keys: Vec<CacheKey> = texts
        .iter()
        .map(|text| VectorCache::key(config, model.info().revision.as_deref(), options, text))
        .collect();
    let mut found: Vec<Option<Arc<CachedVector>>> = vec![None; texts.len()];
    let mut claimed = Vec::new();
    let mut waiting = Vec::new();
    for (i, lookup) in cache.lookup(&keys).await.into_iter().enumerate() {
        match lookup {
            Lookup::Hit(entry) => found[i] = Some(entry),
            Lookup::Claimed(claim) => claimed.push((i, claim)),
            Lookup::Wait(flight) => waiting.push((i, flight)),
        }
    }
    let hits = found.iter().filter(|f| f.is_some()).count() as u64;
    count(config, "memory", hits, texts.len() as u64 - hits);
    // What the memory tier lacks, the shared tier may hold: those claims are filled from it.
    if let (Some(shared), false) = (cache.shared(), claimed.is_empty()) {
        let keys: Vec<CacheKey> = claimed.iter().map(|(i, _)| keys[*i]).collect();
        let held = shared.get_many(&keys).await;
        let mut still = Vec::with_capacity(claimed.len());
        let mut hits = 0;
        // A tier that answers fewer entries than keys leaves the rest as misses.
        let held = held.into_iter().chain(std::iter::repeat_with(|| None));
        for ((i, claim), entry) in claimed.into_iter().zip(held) {
            match entry.filter(|e| e.vector.len() == model.dimensions()) {
                Some(entry) => {
                    hits += 1;
                    // Served here for this model's TTL from now.
                    let entry = Arc::new(CachedVector::new(
                        entry.vector,
                        entry.tokens,
                        config.cache_ttl,
                    ));
                    cache.fill(claim, entry.clone()).await;
                    found[i] = Some(entry);
                }
                None => still.push((i, claim)),
            }
        }
        count(config, shared.name(), hits, still.len() as u64);
        claimed = still;
    }
    // Ours first: a text repeated within this batch waits on our own claim.
    if !claimed.is_empty() {
        let batch: Vec<String> = claimed.iter().map(|(i, _)| texts[*i].clone()).collect();
        // On failure the claims drop, and whoever waits on them computes for itself.
        let computed = compute(config, model, &batch, options).await?;
        let mut shared_entries = Vec::with_capacity(computed.len());
        for ((i, claim), entry) in claimed.into_iter().zip(computed) {
            shared_entries.push((claim.key, entry.clone()));
            cache.fill(claim, entry.clone()).await;
            found[i] = Some(entry);
        }
        // Written in the background: the caller does not wait for the shared tier.
        if let Some(shared) = cache.shared().cloned() {
            tokio::spawn(async move { shared.put_many(shared_entries).await });
        }
    }
    let mut again = Vec::new();
    for (i, flight) in waiting {
        match wait(flight).await {
            Some(entry) => found[i] = Some(entry),
            None => again.push(i),
        }
    }
    if !again.is_empty() {
        // The request computing them failed or went away: compute them here, uncached.
        let batch: Vec<String> = again.iter().map(|i| texts[*i].clone()).collect();
        for (i, entry) in again
            .into_iter()
            .zip(compute(config, model, &batch, options).await?)
        {
            found[i] = Some(entry);
        }
    }
    let mut embeddings = Embeddings::default();
    for entry in found.into_iter().flatten() {
        embeddings.prompt_tokens += entry.tokens;
        embeddings.vectors.push(entry.vector.clone());
    }
    Ok(embeddings)
}

/// Count `hits` and `misses` of `tier` for `config`'s model.
fn count(config: &ModelConfig, tier: &'static str, hits: u64, misses: u64) {
    metrics::counter!("embedd_cache_hits_total", "tier" => tier, "model" => config.name.clone())
        .increment(hits);
    metrics::counter!("embedd_cache_misses_total", "tier" => tier, "model" => config.name.clone())
        .increment(misses);
}

/// One model call for `batch`, checked before anything is cached: one finite vector of the
/// model's width per text. The batch's tokens are shared out by text length (a model reports
/// only the batch's total), so a cached text's usage is close to what it counted.
async fn compute(
    config: &ModelConfig,
    model: &dyn EmbeddingModel,
    batch: &[String],
    options: &EncodeOptions,
) -> Result<Vec<Arc<CachedVector>>, EmbedError> {
    let computed = model.encode(batch, options).await?;
    let dims = model.dimensions();
    if computed.vectors.len() != batch.len()
        || computed
            .vectors
            .iter()
            .any(|v| v.len() != dims || v.iter().any(|x| !x.is_finite()))
    {
        return Err(EmbedError::Bug(format!(
            "model `{}` returned vectors that are not {} finite {dims}-wide ones; not cached",
            config.name,
            batch.len()
        )));
    }
    let shares = token_shares(batch, computed.prompt_tokens);
    Ok(computed
        .vectors
        .into_iter()
        .zip(shares)
        .map(|(vector, tokens)| Arc::new(CachedVector::new(vector, tokens, config.cache_ttl)))
        .collect())
}

/// `total` tokens shared among `texts` in proportion to their lengths, summing to `total`.
fn token_shares(texts: &[String], total: usize) -> Vec<usize> {
    let lengths: Vec<usize> = texts.iter().map(|t| t.len().max(1)).collect();
    let sum: usize = lengths.iter().sum();
    let mut shares: Vec<usize> = lengths.iter().map(|l| total * l / sum.max(1)).collect();
    let given: usize = shares.iter().sum();
    if let Some(last) = shares.last_mut() {
        *last += total - given;
    }
    shares
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::config::Config;
    use crate::model::ModelInfo;

    /// A model whose vector is `[text length, 1]`, recording every text it computes.
    struct Echo {
        info: ModelInfo,
        seen: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl EmbeddingModel for Echo {
        fn info(&self) -> &ModelInfo {
            &self.info
        }
        async fn encode(
            &self,
            texts: &[String],
            _options: &EncodeOptions,
        ) -> Result<Embeddings, EmbedError> {
            // Let a concurrent request arrive while this one computes.
            for _ in 0..8 {
                tokio::task::yield_now().await;
            }
            self.seen.lock().unwrap().extend(texts.iter().cloned());
            Ok(Embeddings {
                vectors: texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect(),
                prompt_tokens: texts.iter().map(String::len).sum(),
                ..Default::default()
            })
        }
        async fn encode_tokens(
            &self,
            _inputs: &[Vec<u32>],
            _options: &EncodeOptions,
        ) -> Result<Embeddings, EmbedError> {
            unreachable!("token ids are never cached")
        }
        async fn health(&self) -> Result<(), EmbedError> {
            Ok(())
        }
    }

    fn setup() -> (ModelConfig, Echo) {
        let config = Config::from_yaml(
            "embeddings:\n  default_model: e\n  models:\n    e: {provider: hash, dimensions: 2, cache_enabled: true}\n",
            &|_| None,
        )
        .unwrap();
        let config = config.embeddings.models[0].clone();
        let info = ModelInfo {
            name: "e".to_owned(),
            provider: config.provider,
            model_id: "e".to_owned(),
            dimensions: 2,
            max_tokens: 512,
            space: "e".to_owned(),
            pooling: None,
            precision: None,
            outputs: crate::output::Outputs::DENSE,
            prompts: Vec::new(),
            trained_dimensions: Vec::new(),
            revision: None,
            compute: None,
        };
        (
            config,
            Echo {
                info,
                seen: Mutex::new(Vec::new()),
            },
        )
    }

    fn texts(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| (*t).to_owned()).collect()
    }

    fn taken(model: &Echo) -> Vec<String> {
        std::mem::take(&mut *model.seen.lock().unwrap())
    }

    #[tokio::test]
    async fn only_misses_are_computed_and_the_order_is_kept() {
        let (config, model) = setup();
        let cache = VectorCache::new(1 << 20);
        let options = EncodeOptions::default();
        let first = encode_cached(&cache, &config, &model, &texts(&["a", "bb"]), &options)
            .await
            .unwrap();
        assert_eq!(first.vectors, vec![vec![1.0, 1.0], vec![2.0, 1.0]]);
        assert_eq!(taken(&model), texts(&["a", "bb"]));
        let second = encode_cached(
            &cache,
            &config,
            &model,
            &texts(&["bb", "ccc", "a"]),
            &options,
        )
        .await
        .unwrap();
        assert_eq!(
            second.vectors,
            vec![vec![2.0, 1.0], vec![3.0, 1.0], vec![1.0, 1.0]]
        );
        assert_eq!(
            taken(&model),
            texts(&["ccc"]),
            "the hits cost no model call"
        );
        assert_eq!(second.prompt_tokens, 6, "usage counts hits too");
        // A text repeated in one batch is computed once.
        let repeated = encode_cached(&cache, &config, &model, &texts(&["dd", "dd"]), &options)
            .await
            .unwrap();
        assert_eq!(repeated.vectors.len(), 2);
        assert_eq!(taken(&model), texts(&["dd"]));
        // Another prompt or truncation is another key.
        for other in [
            EncodeOptions {
                prompt_name: Some("query".to_owned()),
                ..options.clone()
            },
            EncodeOptions {
                truncate: !options.truncate,
                ..options.clone()
            },
        ] {
            encode_cached(&cache, &config, &model, &texts(&["a"]), &other)
                .await
                .unwrap();
            assert_eq!(taken(&model), texts(&["a"]));
        }
    }

    #[tokio::test]
    async fn two_requests_missing_the_same_text_compute_it_once() {
        let (config, model) = setup();
        let cache = VectorCache::new(1 << 20);
        let options = EncodeOptions::default();
        let batch = texts(&["same text", "x"]);
        let (a, b) = tokio::join!(
            encode_cached(&cache, &config, &model, &batch, &options),
            encode_cached(&cache, &config, &model, &batch, &options),
        );
        assert_eq!(a.unwrap().vectors, b.unwrap().vectors);
        assert_eq!(taken(&model), batch, "each text computed once in all");
    }

    #[test]
    fn shares_follow_length_and_sum_to_the_total() {
        let texts = ["a".to_owned(), "abc".to_owned(), "".to_owned()];
        let shares = token_shares(&texts, 10);
        assert_eq!(shares.iter().sum::<usize>(), 10);
        assert!(shares[1] > shares[0]);
        assert!(token_shares(&[], 5).is_empty());
    }
}

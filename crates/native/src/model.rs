//! [`NativeModel`]: a sentence-transformers model run in-process, as an [`EmbeddingModel`].

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use embedd_core::vector::normalize;
use embedd_core::{EmbedError, EmbeddingModel, Embeddings, ModelInfo, ProviderKind, Token};
use rayon::prelude::*;

use crate::encoder::Encoder;
use crate::error::NativeError;
use crate::layout::ModelLayout;
use crate::pooling::Pooling;
use crate::quant::{self, Precision};
use crate::scheduler::{BatchLimits, Scheduler};
use crate::tokenize::TextTokenizer;
use crate::weights::Weights;

/// The most tokens one forward pass takes; bounds the activations' memory.
const MAX_CHUNK_TOKENS: usize = 4096;

/// The loaded parts of a model, shared by every request.
pub(crate) struct Engine {
    tokenizer: TextTokenizer,
    encoder: Encoder,
    pooling: Pooling,
    normalize: bool,
    pool: rayon::ThreadPool,
}

/// How to load a model: everything but where it is and what it is called.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Lowers the model's own input limit; it cannot raise it.
    pub max_tokens: Option<usize>,
    /// Inference threads.
    pub threads: usize,
    /// The linear layers' precision (`quantize:` in the config).
    pub precision: Precision,
}

impl Default for LoadOptions {
    /// The model's own limit, one thread per core, `f32`.
    fn default() -> Self {
        Self {
            max_tokens: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            precision: Precision::F32,
        }
    }
}

/// A model run in this process from its safetensors weights.
pub struct NativeModel {
    info: ModelInfo,
    engine: Arc<Engine>,
    scheduler: Scheduler,
}

impl NativeModel {
    /// Load the model in `dir` under registry name `name`.
    pub fn load(
        name: &str,
        model_id: &str,
        dir: &Path,
        options: &LoadOptions,
    ) -> Result<Self, NativeError> {
        let threads = options.threads;
        let mut layout = ModelLayout::read(dir)?;
        if let Some(limit) = options.max_tokens {
            if limit > layout.max_seq_length || limit < 2 {
                return Err(NativeError::Unsupported(format!(
                    "max_tokens {limit} is out of range: this model reads 2 to {} tokens",
                    layout.max_seq_length
                )));
            }
            layout.max_seq_length = limit;
        }
        let weights = Weights::open(&layout.transformer_dir.join("model.safetensors"))?;
        let encoder = Encoder::load(&weights, layout.encoder.clone(), options.precision)?;
        let tokenizer = TextTokenizer::load(
            &layout.transformer_dir.join("tokenizer.json"),
            layout.max_seq_length,
            layout.encoder.vocab,
        )?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("embedd-infer-{i}"))
            .build()
            .map_err(|e| {
                NativeError::Unsupported(format!("cannot start inference threads: {e}"))
            })?;
        let kernel = quant::Kernel::detect();
        tracing::info!(model = name, architecture = ?layout.encoder.architecture, layers = layout.encoder.layers,
            hidden = layout.encoder.hidden, max_tokens = layout.max_seq_length, pooling = ?layout.pooling,
            normalize = layout.normalize, threads, precision = ?options.precision,
            int8_kernel = kernel.name(), "native model loaded");
        if options.precision == Precision::Int8 && kernel == quant::Kernel::Portable {
            tracing::warn!(
                model = name,
                "this CPU has no AVX-512 VNNI: int8 runs on portable code, slower than f32 here"
            );
        }
        let engine = Arc::new(Engine {
            tokenizer,
            encoder,
            pooling: layout.pooling,
            normalize: layout.normalize,
            pool,
        });
        let scheduler = Scheduler::start(
            engine.clone(),
            BatchLimits::default(),
            layout.max_seq_length,
        )?;
        Ok(Self {
            info: ModelInfo {
                name: name.to_owned(),
                provider: ProviderKind::Native,
                model_id: model_id.to_owned(),
                dimensions: layout.encoder.hidden,
                max_tokens: layout.max_seq_length,
                space: embedd_core::config::space_of(model_id),
            },
            engine,
            scheduler,
        })
    }

    /// The same model with its scheduler set to `limits`; refused when the token budget cannot
    /// hold the model's longest input.
    pub fn with_batch_limits(mut self, limits: BatchLimits) -> Result<Self, NativeError> {
        self.scheduler = Scheduler::start(self.engine.clone(), limits, self.info.max_tokens)?;
        Ok(self)
    }

    /// The same model with another vector-space name (from the config's `space`).
    pub fn with_space(mut self, space: String) -> Self {
        self.info.space = space;
        self
    }

    /// Tokenize and embed on the calling thread, bypassing the scheduler; for callers without
    /// an async runtime, such as tests.
    pub fn embed_texts_blocking(&self, texts: &[String]) -> Result<Embeddings, NativeError> {
        self.engine.embed_ids(&self.engine.tokenize_all(texts)?)
    }

    /// Run `job` on the blocking pool, off the async runtime's threads.
    async fn run<T: Send + 'static, R: Send + 'static>(
        &self,
        input: T,
        job: fn(&Engine, T) -> Result<R, NativeError>,
    ) -> Result<R, EmbedError> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || job(&engine, input))
            .await
            .map_err(|e| {
                EmbedError::Bug(format!(
                    "model `{}`: inference worker failed: {e}",
                    self.info.name
                ))
            })?
            .map_err(|e| e.into_embed_error(&self.info.name))
    }
}

impl Engine {
    /// Token ids of every text, computed on the calling thread (never the inference pool).
    fn tokenize_all(&self, texts: &[String]) -> Result<Vec<Vec<u32>>, NativeError> {
        texts.iter().map(|t| self.tokenizer.encode(t)).collect()
    }

    pub(crate) fn embed_ids(&self, sequences: &[Vec<u32>]) -> Result<Embeddings, NativeError> {
        let dim = self.encoder.config().hidden;
        let tokens: usize = sequences.iter().map(Vec::len).sum();
        let chunks = chunk(
            sequences,
            tokens
                .div_ceil(self.pool.current_num_threads().max(1))
                .clamp(1, MAX_CHUNK_TOKENS),
        );
        // Fewer chunks than threads (one short text): split each chunk's projections instead.
        let split = (self.pool.current_num_threads() / chunks.len().max(1)).max(1);
        let pooled: Vec<Vec<Vec<f32>>> = self.pool.install(|| {
            chunks
                .par_iter()
                .map(|chunk| {
                    let states = self.encoder.forward(chunk, split)?;
                    let mut offset = 0;
                    let mut out = Vec::with_capacity(chunk.len());
                    for seq in chunk.iter() {
                        let mut v = self.pooling.apply(&states[offset * dim..], seq.len(), dim);
                        if self.normalize {
                            normalize(&mut v);
                        }
                        offset += seq.len();
                        out.push(v);
                    }
                    Ok(out)
                })
                .collect::<Result<_, NativeError>>()
        })?;
        Ok(Embeddings {
            vectors: pooled.into_iter().flatten().collect(),
            prompt_tokens: tokens,
        })
    }
}

/// Split consecutive sequences into chunks of about `target` tokens each.
fn chunk(sequences: &[Vec<u32>], target: usize) -> Vec<&[Vec<u32>]> {
    let mut chunks = Vec::new();
    let (mut start, mut tokens) = (0, 0);
    for (i, seq) in sequences.iter().enumerate() {
        tokens += seq.len();
        if tokens >= target {
            chunks.push(&sequences[start..=i]);
            start = i + 1;
            tokens = 0;
        }
    }
    if start < sequences.len() {
        chunks.push(&sequences[start..]);
    }
    chunks
}

#[async_trait]
impl EmbeddingModel for NativeModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn encode(&self, texts: &[String]) -> Result<Embeddings, EmbedError> {
        // Tokenised on the blocking pool, computed by the scheduler on the inference pool.
        let ids = self
            .run(texts.to_vec(), |engine, texts| engine.tokenize_all(&texts))
            .await?;
        self.scheduler
            .submit(ids)
            .await
            .map_err(|e| e.into_embed_error(&self.info.name))
    }

    async fn encode_tokens(&self, inputs: &[Vec<u32>]) -> Result<Embeddings, EmbedError> {
        let ids = self
            .engine
            .tokenizer
            .check_ids(inputs)
            .map_err(|e| e.into_embed_error(&self.info.name))?;
        self.scheduler
            .submit(ids)
            .await
            .map_err(|e| e.into_embed_error(&self.info.name))
    }

    async fn tokenize(
        &self,
        texts: &[String],
        add_special_tokens: bool,
    ) -> Result<Vec<Vec<Token>>, EmbedError> {
        self.run(
            (texts.to_vec(), add_special_tokens),
            |engine, (texts, special)| {
                texts
                    .iter()
                    .map(|t| engine.tokenizer.tokens(t, special))
                    .collect()
            },
        )
        .await
    }

    async fn health(&self) -> Result<(), EmbedError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_sequence_in_order() {
        let seqs: Vec<Vec<u32>> = [3, 5, 2, 7, 1].iter().map(|n| vec![0; *n]).collect();
        let chunks = chunk(&seqs, 8);
        assert_eq!(
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        assert_eq!(chunks.concat(), seqs);
        assert_eq!(chunk(&[], 8).len(), 0);
    }
}

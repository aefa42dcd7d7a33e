//! [`NativeModel`]: a sentence-transformers model run in-process, as an [`EmbeddingModel`].

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use embedd_core::{
    EmbedError, EmbeddingModel, Embeddings, EncodeOptions, ModelInfo, Outputs, ProviderKind,
    Scores, Token,
};

use crate::dense::Dense;
use crate::engine::Engine;
use crate::error::NativeError;
use crate::heads::Heads;
use crate::layout::{ModelLayout, Prompts};
use crate::network::Backend;
use crate::pooling::Pooling;
use crate::quant::{self, Precision};
use crate::rerank;
use crate::scheduler::{BatchLimits, Scheduler};
use crate::tokenize::TextTokenizer;

mod load;

use load::load_network;

/// How to load a model: everything but where it is and what it is called.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Lowers the model's own input limit; it cannot raise it.
    pub max_tokens: Option<usize>,
    /// Inference threads.
    pub threads: usize,
    /// The linear layers' precision (`quantize:` in the config).
    pub precision: Precision,
    /// The batch scheduler's limits.
    pub batch: BatchLimits,
    /// The vector space the caller puts the model in; the model id when `None`.
    pub space: Option<String>,
    /// Which engine computes the token states.
    pub backend: Backend,
}

impl Default for LoadOptions {
    /// The model's own limit, one thread per core, `f32`, the default batch limits.
    fn default() -> Self {
        Self {
            max_tokens: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            precision: Precision::F32,
            batch: BatchLimits::default(),
            space: None,
            backend: Backend::Native,
        }
    }
}

/// A model run in this process from its safetensors weights.
pub struct NativeModel {
    info: ModelInfo,
    prompts: Prompts,
    engine: Arc<Engine>,
    scheduler: Scheduler,
    /// A cross-encoder: it scores pairs ([`EmbeddingModel::rerank`]) and gives no embeddings.
    reranker: bool,
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
        let mut layout = ModelLayout::read(dir, options.backend)?;
        let mut reranker_head = Vec::new();
        if let Some(limit) = options.max_tokens {
            if limit > layout.max_seq_length || limit < 2 {
                return Err(NativeError::Unsupported(format!(
                    "max_tokens {limit} is out of range: this model reads 2 to {} tokens",
                    layout.max_seq_length
                )));
            }
            layout.max_seq_length = limit;
        }
        // Checked before anything heavy is loaded.
        options.batch.check(layout.max_seq_length)?;
        let tokenizer = TextTokenizer::load(
            &layout.transformer_dir.join("tokenizer.json"),
            layout.max_seq_length,
            layout.shape.vocab,
        )?;
        let labels = rerank::labels(&layout.config_file)?;
        let (network, classifier) = load_network(&layout, &tokenizer, options, labels)?;
        if let Some(head) = classifier {
            // A cross-encoder: its score is the head on the first token, computed as a vector.
            layout.pooling = Pooling::Cls;
            layout.normalize = false;
            layout.dense.clear();
            reranker_head = head;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("embedd-infer-{i}"))
            .build()
            .map_err(|e| {
                NativeError::Unsupported(format!("cannot start inference threads: {e}"))
            })?;
        let kernel = quant::Kernel::detect();
        if let Err(message) = crate::simd::requested() {
            tracing::warn!("{message}; running the best path this CPU has");
        }
        tracing::info!(model = name, model_type = %layout.shape.model_type, backend = ?options.backend,
            hidden = layout.shape.hidden, max_tokens = layout.max_seq_length, pooling = ?layout.pooling,
            normalize = layout.normalize, threads, precision = ?options.precision,
            simd = crate::simd::active().name(), int8_kernel = kernel.name(), "native model loaded");
        if let Some(why) = kernel
            .slower_than_f32()
            .filter(|_| options.precision == Precision::Int8)
        {
            tracing::warn!(model = name, "{why}");
        }
        let heads = Heads::load(
            dir,
            &layout.transformer_dir,
            layout.shape.hidden,
            &tokenizer,
        )?;
        let outputs = heads.outputs();
        let mut dimensions = layout.shape.hidden;
        let reranker = !reranker_head.is_empty();
        if reranker {
            dimensions = 1;
        }
        let mut dense = reranker_head;
        for dir in &layout.dense {
            let layer = Dense::load(dir, dimensions)?;
            dimensions = layer.output();
            dense.push(layer);
        }
        let compute = network.compute();
        let engine = Arc::new(Engine {
            tokenizer,
            network,
            heads,
            pooling: layout.pooling,
            dense,
            normalize: layout.normalize,
            pool,
        });
        let batch_engine = engine.clone();
        let scheduler = Scheduler::start_for(
            name,
            Box::new(move |sequences: &[Vec<u32>], wants: &[Outputs]| {
                batch_engine.compute(sequences, wants)
            }),
            options.batch,
            layout.max_seq_length,
            engine.pool.current_num_threads(),
        )?;
        Ok(Self {
            info: ModelInfo {
                name: name.to_owned(),
                provider: match options.backend {
                    Backend::Native => ProviderKind::Native,
                    Backend::Onnx => ProviderKind::Onnx,
                },
                model_id: model_id.to_owned(),
                dimensions,
                max_tokens: layout.max_seq_length,
                space: options.space.clone().unwrap_or_else(|| model_id.to_owned()),
                pooling: Some(layout.pooling.name().to_owned()),
                precision: Some(options.precision),
                outputs,
                prompts: layout.prompts.names(),
                trained_dimensions: layout.trained_dimensions.clone(),
                revision: Some(crate::layout::revision(dir, &layout.weights_file)),
                compute,
            },
            prompts: layout.prompts.clone(),
            engine,
            scheduler,
            reranker,
        })
    }

    /// Tokenize and embed on the calling thread, bypassing the scheduler and any prompt; for
    /// callers without an async runtime, such as tests.
    pub fn embed_texts_blocking(&self, texts: &[String]) -> Result<Embeddings, NativeError> {
        let ids = self.engine.tokenize(texts, true)?;
        Ok(Embeddings {
            prompt_tokens: ids.iter().map(Vec::len).sum(),
            vectors: self.engine.embed_ids(&ids)?,
            ..Default::default()
        })
    }

    /// The mean of each id sequence's last-layer token states ([`Engine::mean_states`]), on the
    /// calling thread; what `distill` builds a static model from. A cross-encoder has none.
    pub fn mean_token_states_blocking(
        &self,
        sequences: &[Vec<u32>],
    ) -> Result<Vec<Vec<f32>>, NativeError> {
        if self.reranker {
            return Err(NativeError::Unsupported(
                "a reranker (cross-encoder) has no embedding space to distill".to_owned(),
            ));
        }
        self.engine.mean_states(sequences)
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

    /// Hold the request's token cap, then queue the sequences for the scheduler.
    async fn submit(
        &self,
        ids: Vec<Vec<u32>>,
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        let tokens: usize = ids.iter().map(Vec::len).sum();
        if let Some(max) = options.max_total_tokens.filter(|max| tokens > *max) {
            return Err(
                NativeError::TooManyTokens { tokens, max }.into_embed_error(&self.info.name)
            );
        }
        self.scheduler
            .submit_for(ids, options.outputs)
            .await
            .map_err(|e| e.into_embed_error(&self.info.name))
    }
}

#[async_trait]
impl EmbeddingModel for NativeModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn encode(
        &self,
        texts: &[String],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        self.refuse_if_reranker()?;
        // The prompt goes before each text, as sentence-transformers puts it; the walk has
        // checked that a named one exists.
        let prompt = self.prompts.text(options.prompt_name.as_deref());
        let texts: Vec<String> = texts.iter().map(|t| format!("{prompt}{t}")).collect();
        // Tokenised on the blocking pool, computed by the scheduler on the inference pool.
        let started = std::time::Instant::now();
        let ids = if options.truncate {
            self.run(texts, |engine, texts| engine.tokenize(&texts, true))
                .await?
        } else {
            self.run(texts, |engine, texts| engine.tokenize(&texts, false))
                .await?
        };
        metrics::histogram!("embedd_tokenize_duration_seconds", "model" => self.info.name.clone())
            .record(started.elapsed().as_secs_f64());
        self.submit(ids, options).await
    }

    async fn encode_tokens(
        &self,
        inputs: &[Vec<u32>],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        self.refuse_if_reranker()?;
        let ids = self
            .engine
            .check_ids(inputs, options.truncate)
            .map_err(|e| e.into_embed_error(&self.info.name))?;
        self.submit(ids, options).await
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

    async fn rerank(
        &self,
        query: &str,
        documents: &[String],
        options: &EncodeOptions,
    ) -> Result<Scores, EmbedError> {
        if !self.reranker {
            return Err(EmbedError::Unsupported {
                model: self.info.name.clone(),
                param: "model",
                what: "is an embedding model, not a reranker (a cross-encoder)".to_owned(),
            });
        }
        let pairs = (query.to_owned(), documents.to_vec(), options.truncate);
        let ids = self
            .run(pairs, |engine, (query, documents, truncate)| {
                engine.tokenize_pairs(&query, &documents, truncate)
            })
            .await?;
        let computed = self.submit(ids, options).await?;
        let scores = computed
            .vectors
            .iter()
            .map(|v| v.first().copied())
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| {
                EmbedError::Bug(format!("model `{}` gave an empty score", self.info.name))
            })?;
        Ok(Scores {
            scores,
            prompt_tokens: computed.prompt_tokens,
        })
    }

    async fn health(&self) -> Result<(), EmbedError> {
        Ok(())
    }
}

impl NativeModel {
    /// A reranker gives scores, not embeddings: asked for vectors, it says where to go.
    fn refuse_if_reranker(&self) -> Result<(), EmbedError> {
        if !self.reranker {
            return Ok(());
        }
        Err(EmbedError::reranker_gives_no_embeddings(&self.info.name))
    }
}

//! The `local` provider (alias `hash`): the seed's deterministic hash fallback.
//!
//! It needs no weights and no network, so it can always answer. Its vectors carry only word
//! overlap, no meaning: texts that share words score a higher cosine than texts that do not.
//!
//! # The algorithm (`hash-v1`), fixed for good
//!
//! A vector must be the same on every run, machine and version, or stored vectors go stale. So:
//! 1. Split the text into words. Separators are ASCII characters other than letters and digits,
//!    Unicode white space, and the fixed punctuation blocks in [`is_separator`]. Each CJK
//!    ideograph, kana or hangul syllable (fixed ranges in [`is_cjk`]) is a word on its own, since
//!    those scripts put no spaces between words. ASCII letters are lower-cased; other characters
//!    are kept as they are, because Unicode case tables change between versions.
//! 2. Each word's UTF-8 bytes are hashed with XXH3-64 (a published, portable, byte-order
//!    independent algorithm) under the seed [`SEED`]: the hash modulo the dimensions picks a slot,
//!    its top bit picks +1 or -1 (signed hashing keeps unrelated words from all adding up).
//! 3. The integer counts are divided by their Euclidean norm, computed in `f64` from the exact
//!    integer sum of squares; IEEE 754 division and square root are correctly rounded, so every
//!    value is bit-identical everywhere.
//!
//! A text with no words (empty, punctuation only) hashes its whole bytes into one slot, so it
//! still gets a unit vector. Only the first `max_tokens` words count; a word counts as a token.

use async_trait::async_trait;
use embedd_core::{
    EmbedError, EmbeddingModel, Embeddings, EncodeOptions, Limit, ModelConfig, ModelInfo,
    ProviderKind,
};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use embedd_core::catalog::{LOCAL_DEFAULT_DIMENSIONS, LOCAL_MAX_DIMENSIONS};

/// The XXH3 seed of `hash-v1` ("embedd" in ASCII). Changing it changes every vector.
pub const SEED: u64 = 0x656d_6265_6464;

/// The default word limit of one input when the config sets none.
const DEFAULT_MAX_TOKENS: usize = 8192;

/// Above this much work (inputs × dimensions), a batch runs on the blocking pool so it cannot
/// stall the async runtime; below it, the hand-off would cost more than the work.
const INLINE_WORK_LIMIT: usize = 1 << 20;

/// The deterministic hash embedding model.
#[derive(Debug, Clone)]
pub struct HashModel {
    info: ModelInfo,
}

impl HashModel {
    /// A hash model of `dimensions` (1..=8192) reading at most `max_tokens` words per input.
    pub fn new(name: &str, dimensions: usize, max_tokens: usize) -> Result<Self, EmbedError> {
        if !(1..=LOCAL_MAX_DIMENSIONS).contains(&dimensions) {
            return Err(EmbedError::invalid(
                "dimensions",
                format!(
                    "the hash model takes 1..={LOCAL_MAX_DIMENSIONS} dimensions, not {dimensions}"
                ),
            ));
        }
        Ok(Self {
            info: ModelInfo {
                name: name.to_owned(),
                provider: ProviderKind::Local,
                model_id: format!("hash-v1-{dimensions}"),
                dimensions,
                max_tokens: max_tokens.max(1),
                space: format!("local-hash-{dimensions}"),
                pooling: None,
                precision: None,
                outputs: embedd_core::Outputs::DENSE,
                prompts: Vec::new(),
                trained_dimensions: Vec::new(),
                revision: None,
                compute: None,
            },
        })
    }

    /// The hash model a config entry describes.
    pub fn from_config(config: &ModelConfig) -> Result<Self, EmbedError> {
        let mut model = Self::new(
            &config.name,
            config.dimensions.unwrap_or(LOCAL_DEFAULT_DIMENSIONS),
            config.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        )?;
        model.info.space = config.effective_space();
        Ok(model)
    }

    /// The vector of one text, and how many words it read.
    pub fn embed(&self, text: &str) -> (Vec<f32>, usize) {
        let mut counts = SignedCounts::new(self.info.dimensions);
        let mut words = 0usize;
        for_each_word(text, |word| {
            if words < self.info.max_tokens {
                counts.add(word);
                words += 1;
            }
        });
        if counts.sum_of_squares == 0 {
            // No words, or words whose signs cancelled out: fall back to the whole text.
            counts = SignedCounts::new(self.info.dimensions);
            counts.add(text.as_bytes());
        }
        (counts.into_unit_vector(), words)
    }

    /// Hold the caller's limits: with `truncate` off, no text may have more words than the model
    /// reads; all texts together no more words than the request's cap.
    fn check(&self, texts: &[String], options: &EncodeOptions) -> Result<(), EmbedError> {
        let bytes: usize = texts.iter().map(String::len).sum();
        // A word is at least a byte: most requests are below the cap without counting.
        if options.truncate && options.max_total_tokens.is_none_or(|cap| bytes <= cap) {
            return Ok(());
        }
        let max = self.info.max_tokens;
        let mut total = 0usize;
        for (i, text) in texts.iter().enumerate() {
            let mut words = 0usize;
            for_each_word(text, |_| words += 1);
            if !options.truncate && words > max {
                return Err(EmbedError::TooLarge {
                    limit: Limit::InputTokens,
                    param: Some(format!("input[{i}]")),
                    message: format!("input[{i}] has {words} tokens (words), more than the {max} model `{}` reads; shorten it or allow truncation", self.info.name),
                });
            }
            total += words.min(max);
        }
        match options.max_total_tokens {
            Some(cap) if total > cap => Err(EmbedError::TooLarge {
                limit: Limit::RequestTokens,
                param: Some("input".to_owned()),
                message: format!("the inputs hold {total} tokens together, more than the {cap} one request may; send fewer or shorter inputs"),
            }),
            _ => Ok(()),
        }
    }

    fn embed_batch(&self, texts: &[String]) -> Embeddings {
        let mut out = Embeddings {
            vectors: Vec::with_capacity(texts.len()),
            prompt_tokens: 0,
            ..Default::default()
        };
        for text in texts {
            let (vector, words) = self.embed(text);
            out.vectors.push(vector);
            out.prompt_tokens += words;
        }
        out
    }
}

#[async_trait]
impl EmbeddingModel for HashModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn encode(
        &self,
        texts: &[String],
        options: &EncodeOptions,
    ) -> Result<Embeddings, EmbedError> {
        self.check(texts, options)?;
        if texts.len().saturating_mul(self.info.dimensions) <= INLINE_WORK_LIMIT {
            return Ok(self.embed_batch(texts));
        }
        let (model, texts) = (self.clone(), texts.to_vec());
        tokio::task::spawn_blocking(move || model.embed_batch(&texts))
            .await
            .map_err(|e| EmbedError::Bug(format!("hash model worker failed: {e}")))
    }

    async fn health(&self) -> Result<(), EmbedError> {
        Ok(())
    }
}

/// Signed feature counts, kept as exact integers in `f32` slots, with their exact sum of squares.
struct SignedCounts {
    slots: Vec<f32>,
    sum_of_squares: u64,
}

impl SignedCounts {
    fn new(dimensions: usize) -> Self {
        Self {
            slots: vec![0.0; dimensions],
            sum_of_squares: 0,
        }
    }

    fn add(&mut self, bytes: &[u8]) {
        let hash = xxh3_64_with_seed(bytes, SEED);
        let index = (hash % self.slots.len() as u64) as usize;
        let slot = &mut self.slots[index];
        // Counts stay far below 2^24 (a body limit caps the words), so f32 holds them exactly.
        let before = *slot as i64;
        let after = if hash >> 63 == 1 {
            before - 1
        } else {
            before + 1
        };
        *slot = after as f32;
        self.sum_of_squares =
            self.sum_of_squares + (after * after) as u64 - (before * before) as u64;
    }

    fn into_unit_vector(mut self) -> Vec<f32> {
        let norm = (self.sum_of_squares as f64).sqrt();
        for x in &mut self.slots {
            *x = (f64::from(*x) / norm) as f32;
        }
        self.slots
    }
}

/// Call `f` with each word of `text`, as `hash-v1` defines words (see the module docs).
fn for_each_word(text: &str, mut f: impl FnMut(&[u8])) {
    let mut word: Vec<u8> = Vec::with_capacity(32);
    let mut utf8 = [0u8; 4];
    for ch in text.chars() {
        if ch.is_ascii() {
            if ch.is_ascii_alphanumeric() {
                word.push(ch.to_ascii_lowercase() as u8);
                continue;
            }
        } else if is_cjk(ch) {
            flush(&mut word, &mut f);
            f(ch.encode_utf8(&mut utf8).as_bytes());
            continue;
        } else if !is_separator(ch) {
            word.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
            continue;
        }
        flush(&mut word, &mut f);
    }
    flush(&mut word, &mut f);
}

fn flush(word: &mut Vec<u8>, f: &mut impl FnMut(&[u8])) {
    if !word.is_empty() {
        f(word);
        word.clear();
    }
}

/// Non-ASCII characters that end a word: white space and fixed punctuation blocks.
fn is_separator(ch: char) -> bool {
    ch.is_whitespace()
        || matches!(ch,
            '\u{00A0}'..='\u{00BF}' // Latin-1 punctuation and symbols: « » ¿ ¡ ·
            | '\u{00D7}' | '\u{00F7}'
            | '\u{2000}'..='\u{206F}' // general punctuation: dashes, curly quotes, ellipsis
            | '\u{3000}'..='\u{303F}' // CJK symbols and punctuation
            | '\u{FF00}'..='\u{FF0F}' | '\u{FF1A}'..='\u{FF20}' // full-width punctuation
            | '\u{FE30}'..='\u{FE4F}')
}

/// Characters of scripts written without spaces, each taken as a word of its own.
fn is_cjk(ch: char) -> bool {
    matches!(ch,
        '\u{3040}'..='\u{30FF}' // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' // ideographs
        | '\u{AC00}'..='\u{D7AF}' // hangul syllables
        | '\u{20000}'..='\u{2FA1F}')
}

#[cfg(test)]
mod tests;

//! Text to token ids with the model's own `tokenizer.json`, truncated as sentence-transformers does.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use embedd_core::Token;

use crate::error::NativeError;

/// Set on the ids of a text pair's second text (token type 1) on their way to the encoder, which
/// reads the bit as the token type and clears it. Vocabulary ids are far below 2^31 (the model's
/// embedding table would not fit in memory otherwise), and ids a caller sends are checked
/// against the vocabulary, so only [`TextTokenizer::encode_pair`] sets it.
pub const SECOND_TEXT: u32 = 1 << 31;

/// A model's tokenizer, set to truncate at the model's limit and never pad.
pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer without truncation, to show and count whole inputs.
    whole: Tokenizer,
    max_tokens: usize,
    vocab: usize,
}

impl TextTokenizer {
    /// Load `tokenizer.json`, truncating to `max_tokens` (special tokens included).
    pub fn load(path: &Path, max_tokens: usize, vocab: usize) -> Result<Self, NativeError> {
        let mut inner = Tokenizer::from_file(path)
            .map_err(|e| NativeError::file(path, format!("not a valid tokenizer: {e}")))?;
        inner.with_padding(None);
        let mut whole = inner.clone();
        whole
            .with_truncation(None)
            .map_err(|e| NativeError::file(path, format!("cannot switch truncation off: {e}")))?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| {
                NativeError::file(path, format!("cannot truncate at {max_tokens} tokens: {e}"))
            })?;
        let largest = inner.get_vocab(true).values().copied().max().unwrap_or(0) as usize;
        if largest >= vocab {
            return Err(NativeError::file(
                path,
                format!("the tokenizer has ids up to {largest} but the model's vocabulary has {vocab} rows"),
            ));
        }
        Ok(Self {
            inner,
            whole,
            max_tokens,
            vocab,
        })
    }

    /// The id of a token given by its text (`<s>`, `[CLS]`), if the vocabulary has it.
    pub fn id_of(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Token ids of one text, special tokens included, truncated at the model's limit; with
    /// `truncate` off, a longer text is refused instead, with its whole length.
    pub fn encode(&self, text: &str, truncate: bool) -> Result<Vec<u32>, NativeError> {
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| NativeError::Tokenizer(e.to_string()))?;
        if !truncate && !encoding.get_overflowing().is_empty() {
            // The refusal's path only: count the whole text for the message.
            let tokens = self
                .whole
                .encode(text, true)
                .map_or(0, |whole| whole.get_ids().len());
            return Err(NativeError::InputTooLong {
                input: 0,
                tokens,
                max: self.max_tokens,
            });
        }
        Ok(encoding.get_ids().to_vec())
    }

    /// Token ids of a text pair in the tokenizer's pair template (`[CLS] a [SEP] b [SEP]`), as a
    /// cross-encoder reads a query and a document: truncated longest-first at the model's limit
    /// (or, with `truncate` off, refused past it), the second text's ids marked [`SECOND_TEXT`].
    pub fn encode_pair(
        &self,
        first: &str,
        second: &str,
        truncate: bool,
    ) -> Result<Vec<u32>, NativeError> {
        let encoding = self
            .inner
            .encode((first, second), true)
            .map_err(|e| NativeError::Tokenizer(e.to_string()))?;
        if !truncate && !encoding.get_overflowing().is_empty() {
            let tokens = self
                .whole
                .encode((first, second), true)
                .map_or(0, |whole| whole.get_ids().len());
            return Err(NativeError::InputTooLong {
                input: 0,
                tokens,
                max: self.max_tokens,
            });
        }
        Ok(encoding
            .get_ids()
            .iter()
            .zip(encoding.get_type_ids())
            .map(|(&id, &kind)| if kind == 0 { id } else { id | SECOND_TEXT })
            .collect())
    }

    /// Every token of one text, untruncated, with its offsets.
    pub fn tokens(&self, text: &str, add_special_tokens: bool) -> Result<Vec<Token>, NativeError> {
        let encoding = self
            .whole
            .encode(text, add_special_tokens)
            .map_err(|e| NativeError::Tokenizer(e.to_string()))?;
        Ok(encoding
            .get_ids()
            .iter()
            .zip(encoding.get_tokens())
            .zip(encoding.get_special_tokens_mask())
            .zip(encoding.get_offsets())
            .map(|(((&id, text), &special), &(start, stop))| Token {
                id,
                text: text.clone(),
                special: special == 1,
                start,
                stop,
            })
            .collect())
    }

    /// Check caller-supplied ids against the vocabulary and truncate them to the limit (or,
    /// with `truncate` off, refuse longer ones).
    pub fn check_ids(
        &self,
        inputs: &[Vec<u32>],
        truncate: bool,
    ) -> Result<Vec<Vec<u32>>, NativeError> {
        inputs
            .iter()
            .enumerate()
            .map(|(input, ids)| {
                if let Some((position, &id)) = ids
                    .iter()
                    .enumerate()
                    .find(|(_, id)| **id as usize >= self.vocab)
                {
                    return Err(NativeError::TokenOutOfRange {
                        input,
                        position,
                        id,
                        vocab: self.vocab,
                    });
                }
                if !truncate && ids.len() > self.max_tokens {
                    return Err(NativeError::InputTooLong {
                        input,
                        tokens: ids.len(),
                        max: self.max_tokens,
                    });
                }
                Ok(ids[..ids.len().min(self.max_tokens)].to_vec())
            })
            .collect()
    }

    /// The most tokens of one input.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }
}

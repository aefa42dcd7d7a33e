//! [`Engine`]: a loaded model's parts — tokenizer, network, pooling — and the two things done
//! with them: texts to token ids, and a batch of token ids to vectors.

use embedd_core::vector::normalize;
use embedd_core::{Outputs, SparseVector};
use rayon::prelude::*;

use crate::dense::Dense;
use crate::error::NativeError;
use crate::heads::Heads;
use crate::network::Network;
use crate::pooling::Pooling;
use crate::tokenize::TextTokenizer;

/// The most tokens one forward pass takes; bounds the activations' memory.
const MAX_CHUNK_TOKENS: usize = 4096;

/// What one sequence gave: its dense vector, and the other outputs where they were asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SequenceOutput {
    /// The pooled (and, where the model says so, normalised) vector.
    pub dense: Vec<f32>,
    /// The sparse token weights.
    pub sparse: Option<SparseVector>,
    /// The per-token vectors.
    pub multi_vector: Option<Vec<Vec<f32>>>,
}

/// The loaded parts of a model, shared by every request.
pub struct Engine {
    pub(crate) tokenizer: TextTokenizer,
    pub(crate) network: Network,
    pub(crate) heads: Heads,
    pub(crate) pooling: Pooling,
    pub(crate) dense: Vec<Dense>,
    pub(crate) normalize: bool,
    pub(crate) pool: rayon::ThreadPool,
}

impl Engine {
    /// Token ids of every text, on the calling thread (never the inference pool). With
    /// `truncate` off, a text longer than the model reads is the caller's error.
    pub fn tokenize(&self, texts: &[String], truncate: bool) -> Result<Vec<Vec<u32>>, NativeError> {
        texts
            .iter()
            .enumerate()
            .map(|(input, text)| {
                self.tokenizer
                    .encode(text, truncate)
                    .map_err(|e| e.at_input(input))
            })
            .collect()
    }

    /// Token ids of `query` paired with each document, as a cross-encoder reads them
    /// ([`crate::tokenize::TextTokenizer::encode_pair`]).
    pub fn tokenize_pairs(
        &self,
        query: &str,
        documents: &[String],
        truncate: bool,
    ) -> Result<Vec<Vec<u32>>, NativeError> {
        documents
            .iter()
            .enumerate()
            .map(|(input, document)| {
                self.tokenizer
                    .encode_pair(query, document, truncate)
                    .map_err(|e| e.at_input(input))
            })
            .collect()
    }

    /// Caller-supplied ids checked against the vocabulary, cut to the model's limit (or, with
    /// `truncate` off, refused beyond it).
    pub fn check_ids(
        &self,
        inputs: &[Vec<u32>],
        truncate: bool,
    ) -> Result<Vec<Vec<u32>>, NativeError> {
        self.tokenizer.check_ids(inputs, truncate)
    }

    /// One vector per sequence, in order: the forward pass split over the inference pool.
    pub fn embed_ids(&self, sequences: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, NativeError> {
        let wants = vec![Outputs::DENSE; sequences.len()];
        let outputs = self.compute(sequences, &wants)?;
        Ok(outputs.into_iter().map(|output| output.dense).collect())
    }

    /// Each sequence's outputs (`wants`, one per sequence), in order, all from one forward pass:
    /// the dense vector always, the heads' outputs where asked for.
    pub fn compute(
        &self,
        sequences: &[Vec<u32>],
        wants: &[Outputs],
    ) -> Result<Vec<SequenceOutput>, NativeError> {
        self.over_chunks(sequences, |first, chunk, split| {
            self.chunk_outputs(chunk, &wants[first.min(wants.len())..], split)
        })
    }

    /// The mean of each sequence's last-layer token states, special tokens included: the
    /// transformer's own reading of the sequence, before the model's pooling, dense layers and
    /// normalisation (what a static model is distilled from).
    pub fn mean_states(&self, sequences: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, NativeError> {
        let dim = self.network.hidden();
        self.over_chunks(sequences, |_, chunk, split| {
            self.each_sequence(chunk, split, |_, states, ids| {
                Ok(Pooling::Mean.apply(states, ids.len(), dim))
            })
        })
    }

    /// `per_chunk` over consecutive chunks of `sequences` on the inference pool, results in
    /// order; it gets each chunk's first index and how many ways to split its projections.
    fn over_chunks<T: Send>(
        &self,
        sequences: &[Vec<u32>],
        per_chunk: impl Fn(usize, &[Vec<u32>], usize) -> Result<Vec<T>, NativeError> + Sync,
    ) -> Result<Vec<T>, NativeError> {
        let tokens: usize = sequences.iter().map(Vec::len).sum();
        let threads = self.pool.current_num_threads().max(1);
        if self.network.threads_itself() {
            // One call at a time, each on all of the runtime's own threads.
            let mut out = Vec::with_capacity(sequences.len());
            let mut first = 0;
            for chunk in chunk(sequences, MAX_CHUNK_TOKENS) {
                out.extend(per_chunk(first, chunk, 1)?);
                first += chunk.len();
            }
            return Ok(out);
        }
        let chunks = chunk(
            sequences,
            tokens.div_ceil(threads).clamp(1, MAX_CHUNK_TOKENS),
        );
        // Each chunk with the index of its first sequence.
        let mut first = 0;
        let chunks: Vec<(usize, &[Vec<u32>])> = chunks
            .into_iter()
            .map(|c| {
                let at = first;
                first += c.len();
                (at, c)
            })
            .collect();
        // Fewer chunks than threads (one short text): split each chunk's projections instead.
        let split = (threads / chunks.len().max(1)).max(1);
        let outputs: Vec<Vec<T>> = self.pool.install(|| {
            chunks
                .par_iter()
                .map(|(first, chunk)| per_chunk(*first, chunk, split))
                .collect::<Result<_, NativeError>>()
        })?;
        Ok(outputs.into_iter().flatten().collect())
    }

    /// One forward pass over `chunk`, then each sequence's outputs (`wants` from its first).
    fn chunk_outputs(
        &self,
        chunk: &[Vec<u32>],
        wants: &[Outputs],
        split: usize,
    ) -> Result<Vec<SequenceOutput>, NativeError> {
        self.each_sequence(chunk, split, |i, states, ids| {
            let want = wants.get(i).copied().unwrap_or_default();
            self.outputs_of(states, ids, want)
        })
    }

    /// One forward pass over `chunk`, then `read` of each sequence's own token states (with its
    /// place in the chunk and its ids).
    fn each_sequence<T>(
        &self,
        chunk: &[Vec<u32>],
        split: usize,
        read: impl Fn(usize, &[f32], &[u32]) -> Result<T, NativeError>,
    ) -> Result<Vec<T>, NativeError> {
        let dim = self.network.hidden();
        let states = self.network.forward(chunk, split)?;
        let mut offset = 0;
        let mut out = Vec::with_capacity(chunk.len());
        for (i, seq) in chunk.iter().enumerate() {
            let own = states
                .get(offset * dim..(offset + seq.len()) * dim)
                .ok_or_else(|| NativeError::Bug("the network gave too few token states".into()))?;
            out.push(read(i, own, seq)?);
            offset += seq.len();
        }
        Ok(out)
    }

    /// The outputs of one sequence from its token states.
    fn outputs_of(
        &self,
        states: &[f32],
        ids: &[u32],
        want: Outputs,
    ) -> Result<SequenceOutput, NativeError> {
        let dim = self.network.hidden();
        let mut dense = self.pooling.apply(states, ids.len(), dim);
        for layer in &self.dense {
            dense = layer.apply(&dense);
        }
        if self.normalize {
            normalize(&mut dense);
        }
        Ok(SequenceOutput {
            dense,
            sparse: want
                .sparse
                .then(|| self.heads.sparse(states, ids))
                .transpose()?,
            multi_vector: want
                .multi_vector
                .then(|| self.heads.multi_vector(states, ids.len(), dim))
                .transpose()?,
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

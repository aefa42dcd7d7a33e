//! The batch scheduler: concurrent requests are queued, merged into one batch while the previous
//! batch computes, and answered each with its own vectors.
//!
//! One thread takes the first waiting request, then every other request already waiting while
//! the batch stays within a token budget and a count; the merged batch runs on the model's
//! inference pool (sized to the cores), never on the async runtime's threads. No request waits
//! for a timer: a lone request runs at once, and requests that arrive during a computation form
//! the next batch. The queue is bounded; when it is full a request is refused at once
//! (`Overloaded`, a 503 with Retry-After) instead of growing memory without bound.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use embedd_core::Embeddings;
use tokio::sync::oneshot;

use crate::error::NativeError;
use crate::model::Engine;

/// How big a merged batch may grow, and how many requests may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most tokens in one merged batch (a single larger request still runs, alone).
    pub max_batch_tokens: usize,
    /// Most requests merged into one batch.
    pub max_batch_requests: usize,
    /// Most requests waiting; beyond it requests are refused.
    pub queue: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_batch_tokens: 16_384,
            max_batch_requests: 64,
            queue: 256,
        }
    }
}

impl BatchLimits {
    /// Refuse limits under which some valid input could never be scheduled (a hang in TEI).
    pub fn check(&self, longest_input: usize) -> Result<(), NativeError> {
        if self.max_batch_tokens < longest_input || self.max_batch_requests == 0 {
            return Err(NativeError::Unsupported(format!(
                "the batch budget of {} tokens and {} requests cannot hold this model's longest input ({longest_input} tokens); raise max_batch_tokens",
                self.max_batch_tokens, self.max_batch_requests
            )));
        }
        Ok(())
    }
}

struct Job {
    sequences: Vec<Vec<u32>>,
    tokens: usize,
    reply: oneshot::Sender<Result<Embeddings, NativeError>>,
}

/// The queue in front of one model's engine.
pub struct Scheduler {
    queue: SyncSender<Job>,
}

impl Scheduler {
    /// Start the batching thread for `engine`. The token budget must hold the model's longest
    /// input, or such an input could never be scheduled with others.
    pub(crate) fn start(
        engine: Arc<Engine>,
        limits: BatchLimits,
        longest_input: usize,
    ) -> Result<Self, NativeError> {
        limits.check(longest_input)?;
        let (queue, waiting) = mpsc::sync_channel(limits.queue);
        std::thread::Builder::new()
            .name("embedd-batcher".to_owned())
            .spawn(move || batch_loop(&engine, &waiting, limits))
            .map_err(|e| {
                NativeError::Unsupported(format!("cannot start the batching thread: {e}"))
            })?;
        Ok(Self { queue })
    }

    /// Queue token-id sequences and wait for their vectors.
    pub async fn submit(&self, sequences: Vec<Vec<u32>>) -> Result<Embeddings, NativeError> {
        let (reply, answer) = oneshot::channel();
        let tokens = sequences.iter().map(Vec::len).sum();
        match self.queue.try_send(Job {
            sequences,
            tokens,
            reply,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(NativeError::Overloaded),
            Err(TrySendError::Disconnected(_)) => {
                return Err(NativeError::Bug("the batching thread stopped".to_owned()))
            }
        }
        answer
            .await
            .map_err(|_| NativeError::Bug("the batching thread dropped a request".to_owned()))?
    }
}

/// Take waiting jobs, merge them within the limits, compute, answer; until every sender is gone.
fn batch_loop(engine: &Engine, waiting: &Receiver<Job>, limits: BatchLimits) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match waiting.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let mut tokens = first.tokens;
        let mut batch = vec![first];
        while batch.len() < limits.max_batch_requests {
            match waiting.try_recv() {
                Ok(job) if tokens + job.tokens <= limits.max_batch_tokens => {
                    tokens += job.tokens;
                    batch.push(job);
                }
                Ok(job) => {
                    carried = Some(job);
                    break;
                }
                Err(_) => break,
            }
        }
        // A panic in the kernels is a bug; it fails this batch (its callers see their answers
        // dropped) but must not take the model down for every later request.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(engine, batch))).is_err() {
            tracing::error!("a batch panicked; its requests failed, the scheduler goes on");
        }
    }
}

/// Compute one merged batch and hand each job its share.
fn run(engine: &Engine, batch: Vec<Job>) {
    let counts: Vec<usize> = batch.iter().map(|j| j.sequences.len()).collect();
    let mut replies = Vec::with_capacity(batch.len());
    let mut all = Vec::with_capacity(counts.iter().sum());
    for job in batch {
        all.extend(job.sequences);
        replies.push((job.reply, job.tokens));
    }
    match engine.embed_ids(&all) {
        Ok(result) => {
            let mut vectors = result.vectors.into_iter();
            for ((reply, tokens), count) in replies.into_iter().zip(counts) {
                let share = Embeddings {
                    vectors: vectors.by_ref().take(count).collect(),
                    prompt_tokens: tokens,
                };
                // A caller that went away no longer needs its answer.
                let _ = reply.send(Ok(share));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for (reply, _) in replies {
                let _ = reply.send(Err(NativeError::Bug(format!("batch failed: {message}"))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_must_hold_the_longest_input() {
        assert!(BatchLimits::default().check(512).is_ok());
        let small = BatchLimits {
            max_batch_tokens: 256,
            ..BatchLimits::default()
        };
        assert!(small.check(512).unwrap_err().to_string().contains("512"));
        let none = BatchLimits {
            max_batch_requests: 0,
            ..BatchLimits::default()
        };
        assert!(none.check(8).is_err());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        // No batching thread drains this queue of two; fill it, then ask once more.
        let (queue, _waiting) = mpsc::sync_channel(2);
        let scheduler = Scheduler { queue };
        for _ in 0..2 {
            let job = Job {
                sequences: vec![vec![1, 2]],
                tokens: 2,
                reply: oneshot::channel().0,
            };
            assert!(scheduler.queue.try_send(job).is_ok());
        }
        assert!(matches!(
            scheduler.submit(vec![vec![1]]).await,
            Err(NativeError::Overloaded)
        ));
    }
}

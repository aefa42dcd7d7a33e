//! The batch scheduler: requests are queued, cut into batches that take turns, and each answered
//! with its own vectors.
//!
//! One thread owns the queue. Each batch is planned round-robin over the requests in progress:
//! every request (up to [`BatchLimits::max_batch_requests`]) gets an equal share of the batch's
//! token budget, at least one sequence, and what the others leave is filled in turn. A request
//! that was served and is not finished goes to the back of the line. So a large request is split
//! into many batches instead of holding the model until it is done.
//!
//! Requests that fit whole in the next batch go first, alone (an *express* batch), when others
//! in the line would not finish in it: a one-text request that arrives while a large one computes
//! waits for the batch in progress, then for its own few milliseconds, not for a full batch of
//! the large one's tokens. Express batches alternate with shared ones, so a stream of small
//! requests cannot starve a large one: it still gets at least every other batch.
//!
//! The budget is set by time, not by a fixed count: the scheduler measures the seconds per token
//! of the batches it runs and sizes the next one to take about [`BatchLimits::target_batch_time`],
//! within `max_batch_tokens` and never below one longest input per inference thread: a batch
//! smaller than that leaves a thread idle or splits one text over both, which cost a third of the
//! long corpus's throughput on a 2-core machine. That keeps the wait short for slow models (mpnet)
//! and slow machines alike, and batches large where the model is fast.
//!
//! No request waits for a timer: a lone request runs at once. A request whose caller went away
//! (the HTTP client disconnected, dropping its future) has its remaining sequences dropped before
//! the next batch. Admission is bounded ([`BatchLimits::queue`] requests at once); beyond it a
//! request is refused at once ([`NativeError::Overloaded`], a 503 with Retry-After).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use embedd_core::{Embeddings, Outputs};
use tokio::sync::oneshot;

use crate::engine::SequenceOutput;
use crate::error::NativeError;
use plan::{express_first, plan};

/// Computes one batch of token-id sequences, one output per sequence, in order; each sequence
/// with the outputs its request wants.
pub type BatchFn =
    Box<dyn Fn(&[Vec<u32>], &[Outputs]) -> Result<Vec<SequenceOutput>, NativeError> + Send>;

/// The most tokens of the first batch, before any has been timed.
const FIRST_BATCH_TOKENS: usize = 1024;

/// How big a batch may grow, how long it should take, and how many requests may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most tokens in one batch (`max_batch_tokens` in the config).
    pub max_batch_tokens: usize,
    /// Most requests sharing one batch.
    pub max_batch_requests: usize,
    /// Most requests admitted at once, waiting or in progress (`queue_size`); more are refused.
    pub queue: usize,
    /// About how long one batch should compute: a request arriving meanwhile waits about this
    /// long for the batch in progress, then rides in the next.
    pub target_batch_time: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_batch_tokens: 16_384,
            max_batch_requests: 64,
            queue: 256,
            target_batch_time: Duration::from_millis(80),
        }
    }
}

impl BatchLimits {
    /// Refuse limits under which some valid input could never be scheduled (a hang in TEI).
    pub fn check(&self, longest_input: usize) -> Result<(), NativeError> {
        if self.max_batch_tokens < longest_input || self.max_batch_requests == 0 || self.queue == 0
        {
            return Err(NativeError::Unsupported(format!(
                "the batch budget of {} tokens, {} requests and a queue of {} cannot hold this model's longest input ({longest_input} tokens); raise max_batch_tokens",
                self.max_batch_tokens, self.max_batch_requests, self.queue
            )));
        }
        Ok(())
    }
}

struct Job {
    sequences: Vec<Vec<u32>>,
    outputs: Outputs,
    reply: oneshot::Sender<Result<Embeddings, NativeError>>,
    queued_at: Instant,
}

/// A request being computed: what is left of it and what is done.
struct InProgress {
    /// When it was submitted, and whether a batch has taken any of it yet (time queued).
    queued_at: Instant,
    started: bool,
    remaining: VecDeque<Vec<u32>>,
    done: Vec<SequenceOutput>,
    tokens: usize,
    outputs: Outputs,
    reply: oneshot::Sender<Result<Embeddings, NativeError>>,
}

/// The queue in front of one model's batch function.
pub struct Scheduler {
    queue: Sender<Job>,
    admitted: Arc<AtomicUsize>,
    limit: usize,
}

impl Scheduler {
    /// Start the batching thread over `batch`, which computes on `lanes` threads. The token
    /// budget must hold the model's longest input, or such an input could never be scheduled.
    /// Its metrics carry no model name; [`Scheduler::start_for`] names one.
    pub fn start(
        batch: BatchFn,
        limits: BatchLimits,
        longest_input: usize,
        lanes: usize,
    ) -> Result<Self, NativeError> {
        Self::start_for("", batch, limits, longest_input, lanes)
    }

    /// [`Scheduler::start`] for model `model`, the label of its metrics (queue depth, time
    /// queued, batch sizes, compute time).
    pub fn start_for(
        model: &str,
        batch: BatchFn,
        limits: BatchLimits,
        longest_input: usize,
        lanes: usize,
    ) -> Result<Self, NativeError> {
        limits.check(longest_input)?;
        let (queue, waiting) = mpsc::channel();
        let admitted = Arc::new(AtomicUsize::new(0));
        let mut worker = Worker {
            model: model.to_owned(),
            batch,
            limits,
            smallest_budget: longest_input
                .saturating_mul(lanes.max(1))
                .min(limits.max_batch_tokens),
            admitted: admitted.clone(),
            seconds_per_token: None,
            after_express: false,
        };
        std::thread::Builder::new()
            .name("embedd-batcher".to_owned())
            .spawn(move || worker.run(&waiting))
            .map_err(|e| {
                NativeError::Unsupported(format!("cannot start the batching thread: {e}"))
            })?;
        Ok(Self {
            queue,
            admitted,
            limit: limits.queue,
        })
    }

    /// Queue token-id sequences and wait for their dense vectors.
    pub async fn submit(&self, sequences: Vec<Vec<u32>>) -> Result<Embeddings, NativeError> {
        self.submit_for(sequences, Outputs::DENSE).await
    }

    /// Queue token-id sequences and wait for the `outputs` of each. Dropping the future gives
    /// up the request: its sequences not yet computed are never computed.
    pub async fn submit_for(
        &self,
        sequences: Vec<Vec<u32>>,
        outputs: Outputs,
    ) -> Result<Embeddings, NativeError> {
        if sequences.is_empty() {
            return Ok(Embeddings::default());
        }
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(NativeError::Overloaded);
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            sequences,
            outputs,
            reply,
            queued_at: Instant::now(),
        };
        if self.queue.send(job).is_err() {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(NativeError::Bug("the batching thread stopped".to_owned()));
        }
        answer
            .await
            .map_err(|_| NativeError::Bug("the batching thread dropped a request".to_owned()))?
    }
}

/// The batching thread's state.
struct Worker {
    /// The model's name, for metrics.
    model: String,
    batch: BatchFn,
    limits: BatchLimits,
    /// The fewest tokens a batch is planned for: one longest input per inference thread.
    smallest_budget: usize,
    admitted: Arc<AtomicUsize>,
    /// Measured cost of the batches run so far (an exponential average).
    seconds_per_token: Option<f64>,
    /// Whether the last batch was an express batch (the next one is then shared).
    after_express: bool,
}

impl Worker {
    /// Plan, compute and answer batches until every sender is gone and nothing is left.
    fn run(&mut self, waiting: &Receiver<Job>) {
        let mut line: VecDeque<InProgress> = VecDeque::new();
        loop {
            if line.is_empty() {
                match waiting.recv() {
                    Ok(job) => line.push_back(InProgress::from(job)),
                    Err(_) => return,
                }
            }
            while let Ok(job) = waiting.try_recv() {
                line.push_back(InProgress::from(job));
            }
            line.retain(|request| {
                let wanted = !request.reply.is_closed();
                if !wanted {
                    self.admitted.fetch_sub(1, Ordering::AcqRel);
                    tracing::info!(
                        dropped_sequences = request.remaining.len(),
                        "a request was given up by its caller; its remaining sequences are dropped"
                    );
                }
                wanted
            });
            self.publish_depth();
            if !line.is_empty() {
                self.step(&mut line);
            }
            // After answering too: when the line empties, the thread blocks on the next job,
            // and the gauge must not keep the last busy value meanwhile.
            self.publish_depth();
        }
    }

    /// Publish the requests admitted and not yet answered.
    fn publish_depth(&self) {
        metrics::gauge!("embedd_queue_depth", "model" => self.model.clone())
            .set(self.admitted.load(Ordering::Acquire) as f64);
    }

    /// The token budget of the next batch.
    fn budget(&self) -> usize {
        let budget = match self.seconds_per_token {
            None => FIRST_BATCH_TOKENS,
            Some(spt) => (self.limits.target_batch_time.as_secs_f64() / spt).round() as usize,
        };
        budget.clamp(self.smallest_budget, self.limits.max_batch_tokens)
    }

    /// Run one batch from the front of `line` and answer the requests it finishes.
    fn step(&mut self, line: &mut VecDeque<InProgress>) {
        let budget = self.budget();
        let express = (!self.after_express)
            .then(|| express_first(line, budget, self.limits.max_batch_requests))
            .flatten();
        self.after_express = express.is_some();
        let sharing = express.unwrap_or(self.limits.max_batch_requests);
        let (sequences, shares) = plan(line, budget, sharing);
        let tokens: usize = sequences.iter().map(Vec::len).sum();
        let wants: Vec<Outputs> = line
            .iter()
            .zip(&shares)
            .flat_map(|(request, count)| std::iter::repeat_n(request.outputs, *count))
            .collect();
        tracing::debug!(
            sequences = sequences.len(),
            tokens,
            requests = shares.len(),
            express = self.after_express,
            "batch"
        );
        for (request, share) in line.iter_mut().zip(&shares) {
            if *share > 0 && !request.started {
                request.started = true;
                metrics::histogram!("embedd_queue_duration_seconds", "model" => self.model.clone())
                    .record(request.queued_at.elapsed().as_secs_f64());
            }
        }
        metrics::histogram!("embedd_batch_texts", "model" => self.model.clone())
            .record(sequences.len() as f64);
        metrics::histogram!("embedd_batch_tokens", "model" => self.model.clone())
            .record(tokens as f64);
        let started = Instant::now();
        // A panic in the kernels is a bug; it fails this batch's requests but must not take the
        // model down for every later request.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (self.batch)(&sequences, &wants)
        }))
        .unwrap_or_else(|_| Err(NativeError::Bug("a batch panicked".to_owned())));
        self.observe(tokens, started.elapsed());
        metrics::histogram!("embedd_compute_duration_seconds", "model" => self.model.clone())
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(outputs) if outputs.len() == sequences.len() => {
                let mut outputs = outputs.into_iter();
                for (request, count) in line.iter_mut().zip(&shares) {
                    request.done.extend(outputs.by_ref().take(*count));
                }
            }
            outcome => {
                let message = match outcome {
                    Err(e) => e.to_string(),
                    Ok(v) => format!("{} outputs for {} sequences", v.len(), sequences.len()),
                };
                tracing::error!(error = %message, "a batch failed; its requests fail, the scheduler goes on");
                let error = || NativeError::Bug(format!("batch failed: {message}"));
                self.settle(line, &shares, |_| Some(Err(error())));
                return;
            }
        }
        self.settle(line, &shares, |request| {
            request.remaining.is_empty().then(|| {
                Ok(answer(
                    request.outputs,
                    request.tokens,
                    std::mem::take(&mut request.done),
                ))
            })
        });
    }

    /// After a batch: each request that had a share gets `answer`'s verdict (`None`: not done,
    /// it goes to the back of the line); requests without a share keep their place at the front.
    fn settle(
        &self,
        line: &mut VecDeque<InProgress>,
        shares: &[usize],
        answer: impl Fn(&mut InProgress) -> Option<Result<Embeddings, NativeError>>,
    ) {
        let mut kept = Vec::new();
        for share in shares {
            let Some(mut request) = line.pop_front() else {
                break;
            };
            if *share == 0 {
                kept.push(request);
                continue;
            }
            match answer(&mut request) {
                Some(result) => {
                    // Room is made before the answer, so a caller answered can submit again.
                    self.admitted.fetch_sub(1, Ordering::AcqRel);
                    // A caller that went away no longer needs its answer.
                    let _ = request.reply.send(result);
                }
                None => line.push_back(request),
            }
        }
        for request in kept.into_iter().rev() {
            line.push_front(request);
        }
    }

    fn observe(&mut self, tokens: usize, elapsed: Duration) {
        if tokens == 0 {
            return;
        }
        let measured = elapsed.as_secs_f64() / tokens as f64;
        self.seconds_per_token = Some(match self.seconds_per_token {
            None => measured,
            Some(before) => 0.7 * before + 0.3 * measured,
        });
    }
}

impl From<Job> for InProgress {
    fn from(job: Job) -> Self {
        Self {
            queued_at: job.queued_at,
            started: false,
            tokens: job.sequences.iter().map(Vec::len).sum(),
            done: Vec::with_capacity(job.sequences.len()),
            outputs: job.outputs,
            remaining: job.sequences.into(),
            reply: job.reply,
        }
    }
}

/// A finished request's answer: the dense vectors, and the other outputs it asked for.
fn answer(outputs: Outputs, tokens: usize, done: Vec<SequenceOutput>) -> Embeddings {
    let mut answer = Embeddings {
        prompt_tokens: tokens,
        ..Default::default()
    };
    for output in done {
        answer.vectors.push(output.dense);
        if outputs.sparse {
            answer.sparse.extend(output.sparse);
        }
        if outputs.multi_vector {
            answer.multi_vectors.extend(output.multi_vector);
        }
    }
    answer
}

mod plan;
#[cfg(test)]
mod tests;

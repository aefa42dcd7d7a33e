//! Batches spread over the targets: one worker per target takes the next batch from a shared
//! queue, so a faster server takes more. A batch that fails for a passing reason goes back to
//! the head of the queue while its worker pauses, so the next free target takes it: another
//! server when there is one, the same one after its pause when there is not.
//!
//! Each target has one batch in flight at a time: a server then embeds each batch alone, the
//! same way on every run, which is what makes a resumed job's vectors equal an uninterrupted
//! one's. A window of batches bounds memory: a batch leaves the window only once it is written.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::input::Record;
use super::target::{Answer, Failure, Target};

/// Attempts a batch gets per target before the job gives up.
const ATTEMPTS_PER_TARGET: u32 = 3;
/// A worker's pause after its target's first failure in a row; it doubles with each further one.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest a worker waits after its target failed before it takes more work.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// A batch on its way: its place in the input, its records, and its room in the window.
pub struct Job {
    /// The batch's number, in input order.
    pub seq: u64,
    records: Vec<Record>,
    attempts: u32,
    permit: OwnedSemaphorePermit,
}

/// A batch embedded.
pub struct Done {
    /// The batch's number.
    pub seq: u64,
    /// Its records.
    pub records: Vec<Record>,
    /// Their vectors.
    pub answer: Answer,
    /// Held until the batch is written.
    pub _permit: OwnedSemaphorePermit,
}

/// The batches read so far, or the error that stopped the reading.
pub type Batches = mpsc::Receiver<anyhow::Result<Vec<Record>>>;

/// The tasks that move batches from the reader to the targets.
pub struct Dispatcher {
    tasks: JoinSet<()>,
}

impl Dispatcher {
    /// Start one worker per target and a feeder that numbers `batches` from `first_seq` and
    /// queues them; finished batches (or the error that ends the job) arrive on `results`.
    pub fn start(
        targets: Vec<Target>,
        batches: Batches,
        first_seq: u64,
        results: mpsc::UnboundedSender<anyhow::Result<Done>>,
    ) -> Self {
        let (queue, fresh) = mpsc::unbounded_channel::<Job>();
        let (requeue, retried) = mpsc::unbounded_channel::<Job>();
        let receiver = Arc::new(Mutex::new(Queue { fresh, retried }));
        let max_attempts = ATTEMPTS_PER_TARGET * targets.len() as u32;
        let mut tasks = JoinSet::new();
        let window = Arc::new(Semaphore::new(targets.len() * 4));
        for target in targets {
            let worker = Worker {
                target,
                receiver: receiver.clone(),
                requeue: requeue.clone(),
                results: results.clone(),
                max_attempts,
            };
            tasks.spawn(worker.run());
        }
        tasks.spawn(feed(batches, first_seq, window, queue, results));
        Self { tasks }
    }

    /// Stop every task.
    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}

/// Number the batches and queue them, each once it has room in the window.
async fn feed(
    mut batches: Batches,
    mut seq: u64,
    window: Arc<Semaphore>,
    queue: mpsc::UnboundedSender<Job>,
    results: mpsc::UnboundedSender<anyhow::Result<Done>>,
) {
    while let Some(batch) = batches.recv().await {
        let records = match batch {
            Ok(records) => records,
            Err(error) => {
                let _ = results.send(Err(error));
                return;
            }
        };
        let Ok(permit) = window.clone().acquire_owned().await else {
            return;
        };
        let job = Job {
            seq,
            records,
            attempts: 0,
            permit,
        };
        if queue.send(job).is_err() {
            return;
        }
        seq += 1;
    }
}

/// The batches waiting for a worker: those sent back after a failure come first.
struct Queue {
    fresh: mpsc::UnboundedReceiver<Job>,
    retried: mpsc::UnboundedReceiver<Job>,
}

impl Queue {
    async fn next(&mut self) -> Option<Job> {
        tokio::select! {
            biased;
            Some(job) = self.retried.recv() => Some(job),
            job = self.fresh.recv() => job,
        }
    }
}

struct Worker {
    target: Target,
    receiver: Arc<Mutex<Queue>>,
    requeue: mpsc::UnboundedSender<Job>,
    results: mpsc::UnboundedSender<anyhow::Result<Done>>,
    max_attempts: u32,
}

impl Worker {
    async fn run(self) {
        let mut failures_in_a_row = 0u32;
        loop {
            let job = self.receiver.lock().await.next().await;
            let Some(mut job) = job else { return };
            let texts = job.records.iter().map(|r| r.text.clone()).collect();
            let failure = match self.target.embed(texts).await {
                Ok(answer) => {
                    failures_in_a_row = 0;
                    let done = Done {
                        seq: job.seq,
                        records: job.records,
                        answer,
                        _permit: job.permit,
                    };
                    if self.results.send(Ok(done)).is_err() {
                        return;
                    }
                    continue;
                }
                Err(failure) => failure,
            };
            job.attempts += 1;
            let error = match failure {
                Failure::Retry(error) if job.attempts < self.max_attempts => {
                    tracing::warn!(target = %self.target.name(), batch = job.seq, attempt = job.attempts,
                        error = %format!("{error:#}"), "batch failed; it goes back on the queue");
                    if self.requeue.send(job).is_err() {
                        return;
                    }
                    failures_in_a_row += 1;
                    // Back off this target only: the others keep taking batches meanwhile.
                    let pause = FIRST_PAUSE * 2u32.pow(failures_in_a_row.min(6) - 1);
                    tokio::time::sleep(pause.min(MAX_PAUSE)).await;
                    continue;
                }
                Failure::Retry(error) => error.context(format!(
                    "batch {} failed {} times, the last on {}",
                    job.seq,
                    job.attempts,
                    self.target.name()
                )),
                Failure::Fatal(error) => error,
            };
            let _ = self.results.send(Err(error));
            return;
        }
    }
}

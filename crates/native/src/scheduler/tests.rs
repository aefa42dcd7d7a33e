//! The scheduler's merging, fairness, budget and cancellation, with a fake batch function that
//! records each batch and can be held at a gate, so every interleaving here is forced, not timed.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Mutex;
use std::task::{Context, Waker};

use super::*;
use std::time::Instant;

/// Each sequence's vector: its first id and its length, so answers can be traced back.
fn fake_vector(sequence: &[u32]) -> Vec<f32> {
    vec![
        sequence.first().copied().unwrap_or(0) as f32,
        sequence.len() as f32,
    ]
}

fn fake_output(sequence: &[u32]) -> SequenceOutput {
    SequenceOutput {
        dense: fake_vector(sequence),
        ..Default::default()
    }
}

/// A batch function that records the first id of every sequence of every batch; with a gate, it
/// says when a batch starts and then waits for the test to let it finish.
struct Fake {
    batches: Arc<Mutex<Vec<Vec<u32>>>>,
}

impl Fake {
    fn new() -> Self {
        Self {
            batches: Arc::default(),
        }
    }

    fn batch_fn(&self, gate: Option<(SyncSender<()>, Receiver<()>)>) -> BatchFn {
        let batches = self.batches.clone();
        Box::new(move |sequences: &[Vec<u32>], _: &[Outputs]| {
            if let Some((started, open)) = &gate {
                let _ = started.send(());
                let _ = open.recv();
            }
            if let Ok(mut b) = batches.lock() {
                b.push(sequences.iter().map(|s| s[0]).collect());
            }
            Ok(sequences.iter().map(|s| fake_output(s)).collect())
        })
    }

    fn batches(&self) -> Vec<Vec<u32>> {
        self.batches.lock().unwrap().clone()
    }
}

/// `count` sequences of `len` tokens, the first ids `first`, `first + 1`, ...
fn request(first: u32, count: u32, len: usize) -> Vec<Vec<u32>> {
    (first..first + count).map(|id| vec![id; len]).collect()
}

fn limits(max_batch_tokens: usize) -> BatchLimits {
    BatchLimits {
        max_batch_tokens,
        max_batch_requests: 64,
        queue: 8,
        // Sized by tokens alone: the budget is always `max_batch_tokens`.
        target_batch_time: Duration::MAX,
    }
}

/// Poll once, so the request is queued, without waiting for it.
fn queue<F: Future>(future: &mut Pin<Box<F>>) {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
}

/// A scheduler whose batches wait at a gate: `started` says a batch began, `open` lets one end.
fn gated(fake: &Fake, max_batch_tokens: usize) -> (Scheduler, Receiver<()>, SyncSender<()>) {
    let (started_tx, started) = mpsc::sync_channel(64);
    let (open, open_rx) = mpsc::sync_channel(64);
    let scheduler = Scheduler::start(
        fake.batch_fn(Some((started_tx, open_rx))),
        limits(max_batch_tokens),
        10,
        1,
    )
    .unwrap();
    (scheduler, started, open)
}

fn open_all(open: &SyncSender<()>) {
    for _ in 0..32 {
        let _ = open.try_send(());
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_during_a_batch_are_merged_into_the_next() {
    let fake = Fake::new();
    let (scheduler, started, open) = gated(&fake, 100);
    let mut first = Box::pin(scheduler.submit(request(1, 1, 4)));
    queue(&mut first);
    started.recv().unwrap();
    let mut others: Vec<_> = (0..3)
        .map(|i| Box::pin(scheduler.submit(request(10 * (i + 1), 2, 3))))
        .collect();
    for other in &mut others {
        queue(other);
    }
    open_all(&open);
    assert_eq!(first.await.unwrap().vectors, vec![vec![1.0, 4.0]]);
    for (i, other) in others.into_iter().enumerate() {
        let answer = other.await.unwrap();
        let first_id = 10.0 * (i as f32 + 1.0);
        assert_eq!(
            answer.vectors,
            vec![vec![first_id, 3.0], vec![first_id + 1.0, 3.0]],
            "each request gets exactly its own vectors, in order"
        );
        assert_eq!(answer.prompt_tokens, 6);
    }
    assert_eq!(
        fake.batches(),
        vec![vec![1], vec![10, 11, 20, 21, 30, 31]],
        "the three waiting requests ran as one batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_request_runs_alone_right_after_the_batch_it_waited_for() {
    let fake = Fake::new();
    let (scheduler, started, open) = gated(&fake, 40);
    // 20 sequences of 10 tokens: five batches of 40 tokens alone.
    let mut large = Box::pin(scheduler.submit(request(100, 20, 10)));
    queue(&mut large);
    started.recv().unwrap();
    let mut small = Box::pin(scheduler.submit(request(1, 1, 5)));
    queue(&mut small);
    open_all(&open);
    let small = small.await.unwrap();
    assert_eq!(small.vectors, vec![vec![1.0, 5.0]]);
    let large = large.await.unwrap();
    assert_eq!(large.vectors.len(), 20);
    assert!(
        large
            .vectors
            .iter()
            .enumerate()
            .all(|(i, v)| v[0] == 100.0 + i as f32),
        "a split request's vectors come back in order"
    );
    let batches = fake.batches();
    assert_eq!(batches[0], vec![100, 101, 102, 103]);
    assert_eq!(
        batches[1],
        vec![1],
        "the small request runs alone right after the batch it waited for: {batches:?}"
    );
    assert_eq!(
        batches[2],
        vec![104, 105, 106, 107],
        "then the large goes on"
    );
    let tokens = |b: &Vec<u32>| {
        b.iter()
            .map(|id| if *id >= 100 { 10 } else { 5 })
            .sum::<usize>()
    };
    assert!(batches.iter().all(|b| tokens(b) <= 40), "{batches:?}");
}

#[test]
fn express_batches_alternate_so_small_requests_cannot_starve_a_large_one() {
    let (reply, _answer) = oneshot::channel();
    let mut line: VecDeque<InProgress> = VecDeque::new();
    line.push_back(InProgress::from(Job {
        sequences: request(100, 20, 10),
        outputs: Outputs::DENSE,
        reply,
        queued_at: Instant::now(),
    }));
    let mut worker = Worker {
        model: String::new(),
        batch: Fake::new().batch_fn(None),
        limits: limits(40),
        smallest_budget: 10,
        admitted: Arc::new(AtomicUsize::new(0)),
        seconds_per_token: None,
        after_express: false,
    };
    let mut answers = Vec::new();
    let mut large_batches = 0;
    // A new small request arrives before every batch; the large one still makes progress.
    for i in 0..10 {
        let (reply, answer) = oneshot::channel();
        answers.push(answer);
        line.push_back(InProgress::from(Job {
            sequences: request(i, 1, 5),
            outputs: Outputs::DENSE,
            reply,
            queued_at: Instant::now(),
        }));
        let before = line
            .iter()
            .find(|r| r.tokens == 200)
            .map(|r| r.remaining.len());
        worker.step(&mut line);
        let after = line
            .iter()
            .find(|r| r.tokens == 200)
            .map(|r| r.remaining.len());
        if after < before {
            large_batches += 1;
        }
    }
    assert!(
        large_batches >= 5,
        "the large request ran in {large_batches} of 10 batches"
    );
    for mut answer in answers.drain(..answers.len() - 1) {
        assert!(
            answer.try_recv().is_ok_and(|r| r.is_ok()),
            "small requests are answered"
        );
    }
}

#[test]
fn express_needs_someone_left_behind() {
    let mut line: VecDeque<InProgress> = [request(1, 1, 5), request(2, 1, 5)]
        .into_iter()
        .map(|sequences| {
            InProgress::from(Job {
                sequences,
                outputs: Outputs::DENSE,
                reply: oneshot::channel().0,
                queued_at: Instant::now(),
            })
        })
        .collect();
    assert_eq!(
        express_first(&mut line, 40, 64),
        None,
        "both finish in a shared batch"
    );
    line.push_front(InProgress::from(Job {
        sequences: request(100, 20, 10),
        outputs: Outputs::DENSE,
        reply: oneshot::channel().0,
        queued_at: Instant::now(),
    }));
    assert_eq!(express_first(&mut line, 40, 64), Some(2));
    let order: Vec<u32> = line.iter().map(|r| r.remaining[0][0]).collect();
    assert_eq!(
        order,
        vec![1, 2, 100],
        "the two that fit go first, in their order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_given_up_has_its_remaining_batches_dropped() {
    let fake = Fake::new();
    let (scheduler, started, open) = gated(&fake, 40);
    let mut large = Box::pin(scheduler.submit(request(100, 20, 10)));
    queue(&mut large);
    started.recv().unwrap();
    // The caller goes away (an HTTP client disconnecting drops the handler's future).
    drop(large);
    open_all(&open);
    let after = scheduler.submit(request(1, 1, 5)).await.unwrap();
    assert_eq!(after.vectors.len(), 1);
    assert_eq!(
        fake.batches(),
        vec![vec![100, 101, 102, 103], vec![1]],
        "nothing more of the abandoned request was computed"
    );
    assert_eq!(scheduler.admitted.load(Ordering::Acquire), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once() {
    let fake = Fake::new();
    let (scheduler, started, open) = gated(&fake, 40);
    let mut held: Vec<_> = (0..8)
        .map(|i| Box::pin(scheduler.submit(request(i, 1, 2))))
        .collect();
    for future in &mut held {
        queue(future);
    }
    started.recv().unwrap();
    assert!(matches!(
        scheduler.submit(request(99, 1, 2)).await,
        Err(NativeError::Overloaded)
    ));
    open_all(&open);
    for future in held {
        assert!(future.await.is_ok());
    }
    assert!(
        scheduler.submit(request(99, 1, 2)).await.is_ok(),
        "room again once answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_panicking_batch_fails_only_its_requests() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let batch: BatchFn = Box::new(move |sequences: &[Vec<u32>], _: &[Outputs]| {
        match seen.fetch_add(1, Ordering::SeqCst) {
            0 => panic!("a kernel bug"),
            1 => Err(NativeError::Bug("a failed batch".into())),
            _ => Ok(sequences.iter().map(|s| fake_output(s)).collect()),
        }
    });
    let scheduler = Scheduler::start(batch, limits(40), 10, 1).unwrap();
    assert!(scheduler.submit(request(1, 1, 3)).await.is_err());
    assert!(scheduler.submit(request(2, 1, 3)).await.is_err());
    assert_eq!(
        scheduler.submit(request(3, 1, 3)).await.unwrap().vectors,
        vec![vec![3.0, 3.0]]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn the_budget_follows_the_measured_speed_within_bounds() {
    let mut worker = Worker {
        model: String::new(),
        batch: Fake::new().batch_fn(None),
        limits: BatchLimits::default(),
        smallest_budget: 256,
        admitted: Arc::default(),
        seconds_per_token: None,
        after_express: false,
    };
    assert_eq!(worker.budget(), FIRST_BATCH_TOKENS);
    // 1 ms a token: an 80 ms batch holds 80 tokens, but never less than the smallest budget.
    worker.observe(1000, Duration::from_secs(1));
    assert_eq!(worker.budget(), 256);
    // 10 µs a token: 8,000 tokens.
    worker.seconds_per_token = None;
    worker.observe(100_000, Duration::from_secs(1));
    assert_eq!(worker.budget(), 8000);
    // Never more than max_batch_tokens.
    worker.seconds_per_token = None;
    worker.observe(100_000_000, Duration::from_secs(1));
    assert_eq!(worker.budget(), 16_384);
}

#[test]
fn a_small_tail_finishes_in_the_same_batch() {
    let mut line: VecDeque<InProgress> = VecDeque::new();
    line.push_back(InProgress::from(Job {
        // 56 tokens: a budget of 40 would leave a tail of 16, under half of it.
        sequences: request(100, 7, 8),
        outputs: Outputs::DENSE,
        reply: oneshot::channel().0,
        queued_at: Instant::now(),
    }));
    let (sequences, shares) = plan(&mut line, 40, 64);
    assert_eq!((sequences.len(), shares), (7, vec![7]));
    line.push_back(InProgress::from(Job {
        // 80 tokens: the tail of 40 is too long; it waits for the next batch.
        sequences: request(200, 10, 8),
        outputs: Outputs::DENSE,
        reply: oneshot::channel().0,
        queued_at: Instant::now(),
    }));
    line.pop_front();
    let (sequences, _) = plan(&mut line, 40, 64);
    assert_eq!(sequences.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_holds_at_least_one_longest_input_per_thread() {
    let fake = Fake::new();
    let fast = BatchLimits {
        // However fast the measured batches, the budget stays at 2 threads x 10 tokens.
        target_batch_time: Duration::from_nanos(1),
        ..limits(40)
    };
    let scheduler = Scheduler::start(fake.batch_fn(None), fast, 10, 2).unwrap();
    let answer = scheduler.submit(request(100, 8, 10)).await.unwrap();
    assert_eq!(answer.vectors.len(), 8);
    let sizes: Vec<usize> = fake.batches().iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        vec![4, 2, 2],
        "the first batch is untimed, then 20 tokens each"
    );
}

#[test]
fn plans_share_the_budget_then_fill_it() {
    let (reply, _answer) = oneshot::channel();
    let (reply2, _answer2) = oneshot::channel();
    let mut line: VecDeque<InProgress> = [
        Job {
            sequences: request(100, 10, 10),
            outputs: Outputs::DENSE,
            reply,
            queued_at: Instant::now(),
        },
        Job {
            sequences: request(1, 1, 5),
            outputs: Outputs::DENSE,
            reply: reply2,
            queued_at: Instant::now(),
        },
    ]
    .into_iter()
    .map(InProgress::from)
    .collect();
    let (sequences, shares) = plan(&mut line, 40, 64);
    // Quantum 20: two of the large, the small one, then one more of the large to fill.
    assert_eq!(shares, vec![3, 1]);
    assert_eq!(
        sequences.iter().map(|s| s[0]).collect::<Vec<_>>(),
        vec![100, 101, 102, 1]
    );
}

//! Which sequences of which requests go into the next batch: round-robin shares, filled in
//! order, small tails finished, and express batches for requests that fit whole.

use std::collections::VecDeque;

use super::InProgress;

/// Take the next batch from the front of `line`: the sequences, and how many came from each of
/// the first `shares.len()` requests. Each of up to `max_requests` requests gets an equal share
/// of `budget` tokens (at least one sequence where it fits); what is left is filled in order,
/// and a request whose remainder is under half the budget is finished in the same batch.
pub(super) fn plan(
    line: &mut VecDeque<InProgress>,
    budget: usize,
    max_requests: usize,
) -> (Vec<Vec<u32>>, Vec<usize>) {
    let sharing = line.len().min(max_requests).max(1);
    let quantum = (budget / sharing).max(1);
    let mut used = 0;
    let mut shares = vec![0usize; sharing];
    let mut taken: Vec<Vec<Vec<u32>>> = vec![Vec::new(); sharing];
    for fill in [true, false] {
        for (i, request) in line.iter_mut().take(sharing).enumerate() {
            let mut own: usize = taken[i].iter().map(Vec::len).sum();
            while let Some(next) = request.remaining.front() {
                // The first sequence of a batch always goes in, so every batch makes progress.
                let fits_batch = used == 0 || used + next.len() <= budget;
                let fits_share = !fill || own + next.len() <= quantum || taken[i].is_empty();
                if !(fits_batch && fits_share) {
                    break;
                }
                used += next.len();
                own += next.len();
                shares[i] += 1;
                taken[i].extend(request.remaining.pop_front());
            }
        }
    }
    // A request left with a small tail finishes now instead of costing a batch of its own: a
    // batch has a fixed cost (the weights are packed for every product), and its caller is
    // answered a batch sooner. The batch grows by half its budget at most.
    let slack = budget / 2;
    for (i, request) in line.iter_mut().take(sharing).enumerate() {
        let rest: usize = request.remaining.iter().map(Vec::len).sum();
        if shares[i] > 0 && rest > 0 && rest <= slack && used + rest <= budget + slack {
            used += rest;
            shares[i] += request.remaining.len();
            taken[i].extend(request.remaining.drain(..));
        }
    }
    let last_served = shares.iter().rposition(|n| *n > 0).map_or(0, |i| i + 1);
    shares.truncate(last_served);
    (taken.into_iter().flatten().collect(), shares)
}

/// Move the requests that fit whole in a batch of `budget` tokens (in line order, at most
/// `max_requests`) to the front, keeping the order of both groups, and say how many there are.
/// `None`, with the line untouched, when none fits or every request would finish anyway: an
/// express batch only helps when it leaves someone behind.
pub(super) fn express_first(
    line: &mut VecDeque<InProgress>,
    budget: usize,
    max_requests: usize,
) -> Option<usize> {
    let (mut used, mut count) = (0, 0);
    let mut fits = vec![false; line.len()];
    for (i, request) in line.iter().enumerate() {
        let need: usize = request.remaining.iter().map(Vec::len).sum();
        if count < max_requests && used + need <= budget {
            used += need;
            count += 1;
            fits[i] = true;
        }
    }
    if count == 0 || count == line.len() {
        return None;
    }
    let (mut first, rest): (VecDeque<_>, VecDeque<_>) = std::mem::take(line)
        .into_iter()
        .zip(fits)
        .partition(|(_, fits)| *fits);
    first.extend(rest);
    *line = first.into_iter().map(|(request, _)| request).collect();
    Some(count)
}

//! MPNet's relative position bias: T5-style log buckets of token distance, one learned bias per
//! bucket and head, added to every layer's attention scores (transformers' `MPNetEncoder`).

/// Bucket of every (query, key) pair of a `len`-token sequence, row-major `len × len`.
pub fn buckets(len: usize, num_buckets: usize, max_distance: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len * len);
    for query in 0..len {
        for key in 0..len {
            out.push(bucket(key as i64 - query as i64, num_buckets, max_distance) as u8);
        }
    }
    out
}

/// transformers' `MPNetEncoder.relative_position_bucket`, bidirectional, in `f32` as PyTorch
/// computes it (bucket edges depend on the rounding).
fn bucket(relative_position: i64, num_buckets: usize, max_distance: usize) -> usize {
    let half = num_buckets / 2;
    let n = -relative_position;
    let mut ret = if n < 0 { half } else { 0 };
    let n = n.unsigned_abs() as usize;
    let max_exact = half / 2;
    if n < max_exact {
        ret += n;
    } else {
        let ratio = (n as f32 / max_exact as f32).ln()
            / (max_distance as f64 / max_exact as f64).ln() as f32;
        let large = max_exact + (ratio * (half - max_exact) as f32) as usize;
        ret += large.min(half - 1);
    }
    ret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_transformers() {
        // Values from transformers' relative_position_bucket(num_buckets=32, max_distance=128).
        let expected = [
            (0, 0),
            (-1, 1),
            (1, 17),
            (-7, 7),
            (-8, 8),
            (-15, 9),
            (-16, 10),
            (-32, 12),
            (-64, 14),
            (-127, 15),
            (-500, 15),
            (20, 26),
            (500, 31),
        ];
        for (relative, bucket_id) in expected {
            assert_eq!(
                bucket(relative, 32, 128),
                bucket_id,
                "relative position {relative}"
            );
        }
        assert_eq!(buckets(2, 32, 128), vec![0, 17, 1, 0]);
    }
}

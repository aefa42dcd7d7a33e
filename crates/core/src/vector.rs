//! Small vector operations shared by models and routes.

/// Scale `v` to unit length in place; a zero vector stays zero (there is no direction to keep).
pub fn normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
}

/// Keep the first `dims` values and re-normalise: how Matryoshka models shorten their vectors.
pub fn truncate_normalized(v: &mut Vec<f32>, dims: usize) {
    if dims < v.len() {
        v.truncate(dims);
        normalize(v);
    }
}

/// Cosine similarity of two equally long vectors; 0 when either is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// The logistic function: a one-label cross-encoder's logit as a relevance score from 0 to 1,
/// as sentence-transformers' `CrossEncoder` and TEI's `/rerank` give it.
pub fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_gives_unit_length() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-7 && (v[1] - 0.8).abs() < 1e-7);
    }

    #[test]
    fn zero_vector_stays_zero() {
        let mut v = vec![0.0; 4];
        normalize(&mut v);
        assert_eq!(v, vec![0.0; 4]);
        assert_eq!(cosine(&v, &[1.0, 0.0, 0.0, 0.0]), 0.0);
    }

    #[test]
    fn truncation_renormalises() {
        let mut v = vec![0.6, 0.0, 0.8];
        truncate_normalized(&mut v, 2);
        assert_eq!(v, vec![1.0, 0.0]);
        let mut same = vec![0.6, 0.8];
        truncate_normalized(&mut same, 5);
        assert_eq!(same, vec![0.6, 0.8]);
    }

    #[test]
    fn cosine_of_parallel_vectors_is_one() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sigmoid_is_the_logistic_function() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(2.0) - 0.880_797).abs() < 1e-6);
        assert!((sigmoid(-2.0) - 0.119_203).abs() < 1e-6);
        assert!(sigmoid(40.0) <= 1.0 && sigmoid(-40.0) >= 0.0);
    }
}

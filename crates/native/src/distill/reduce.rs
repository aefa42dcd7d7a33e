//! From the transformer's token vectors to a static model's table, as model2vec's `distill`
//! does: PCA (fitted on the vocabulary itself), then each row scaled by a weight that Zipf's law
//! and SIF give its token, so frequent tokens count less in a text's mean.

use nalgebra::DMatrix;

/// What PCA kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Rows of `dims` values, one a token, in the input's order.
    pub rows: Vec<f32>,
    /// Values a row.
    pub dims: usize,
    /// The share of the variance the kept components explain (1 without PCA).
    pub explained: f64,
}

/// Each token's weight `sif / (sif + p)`, with `p` its probability under Zipf's law estimated from
/// its place in the vocabulary (BPE and WordPiece vocabularies are roughly frequency-ordered).
pub fn zipf_weights(tokens: usize, sif: f64) -> Vec<f64> {
    // Ranks start at 2, as model2vec's do.
    let inverse: Vec<f64> = (0..tokens).map(|i| 1.0 / (i as f64 + 2.0)).collect();
    let total: f64 = inverse.iter().sum();
    inverse
        .into_iter()
        .map(|r| sif / (sif + r / total))
        .collect()
}

/// `rows` (each of the same width) projected on their `components` principal components,
/// largest variance first; each component's sign makes its largest-magnitude score positive, so
/// the result does not depend on the eigensolver's choice of sign. `None` keeps every width and
/// skips PCA; so does a vocabulary no larger than the components asked for (as model2vec does).
pub fn project(rows: &[Vec<f32>], components: Option<usize>) -> Projection {
    let n = rows.len();
    let width = rows.first().map_or(0, Vec::len);
    let keep = components.map(|k| k.clamp(1, width.max(1)));
    let Some(k) = keep.filter(|k| *k < n && width > 0) else {
        return Projection {
            rows: rows.iter().flatten().map(|v| finite(*v)).collect(),
            dims: width,
            explained: 1.0,
        };
    };
    let mut x = DMatrix::<f64>::from_fn(n, width, |i, j| f64::from(finite(rows[i][j])));
    for j in 0..width {
        let mean = x.column(j).mean();
        x.column_mut(j).add_scalar_mut(-mean);
    }
    let covariance = x.tr_mul(&x) / (n as f64 - 1.0);
    let eigen = covariance.symmetric_eigen();
    let mut order: Vec<usize> = (0..width).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let variance = |i: usize| eigen.eigenvalues[i].max(0.0);
    let total: f64 = (0..width).map(variance).sum();
    let kept: f64 = order[..k].iter().map(|&i| variance(i)).sum();
    let basis = DMatrix::<f64>::from_fn(width, k, |row, c| eigen.eigenvectors[(row, order[c])]);
    let mut scores = &x * basis;
    for mut column in scores.column_iter_mut() {
        let largest =
            column.iter().copied().fold(
                0.0f64,
                |best, v| {
                    if v.abs() > best.abs() {
                        v
                    } else {
                        best
                    }
                },
            );
        if largest < 0.0 {
            column.neg_mut();
        }
    }
    Projection {
        rows: (0..n)
            .flat_map(|i| (0..k).map(move |c| (i, c)))
            .map(|(i, c)| scores[(i, c)] as f32)
            .collect(),
        dims: k,
        explained: if total > 0.0 { kept / total } else { 1.0 },
    }
}

/// NaN as 0 and infinities as the largest finite values (numpy's `nan_to_num`).
fn finite(v: f32) -> f32 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(f32::MIN, f32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_weights_match_model2vecs_formula() {
        // model2vec.distill.inference.compute_weights(4, 1e-4)
        let weights = zipf_weights(4, 1e-4);
        let inverse = [1.0 / 2.0, 1.0 / 3.0, 1.0 / 4.0, 1.0 / 5.0];
        let total: f64 = inverse.iter().sum();
        for (w, r) in weights.iter().zip(inverse) {
            assert!((w - 1e-4 / (1e-4 + r / total)).abs() < 1e-15);
        }
        assert!(
            weights.windows(2).all(|w| w[0] < w[1]),
            "rarer tokens weigh more"
        );
    }

    #[test]
    fn pca_finds_the_direction_of_largest_variance() {
        // Points along (3, 4)/5, unevenly spaced, with a little spread across the line.
        let along: Vec<f32> = (0..50).map(|i| (i * i) as f32 / 50.0).collect();
        let mean = along.iter().sum::<f32>() / 50.0;
        let rows: Vec<Vec<f32>> = along
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let e = if i % 2 == 0 { 0.1 } else { -0.1 };
                vec![0.6 * t - 0.8 * e + 1.0, 0.8 * t + 0.6 * e - 2.0]
            })
            .collect();
        let projection = project(&rows, Some(1));
        assert_eq!(projection.dims, 1);
        assert!(projection.explained > 0.999);
        // The largest score (the last point's) is positive: each score is the centred position.
        for (i, (score, t)) in projection.rows.iter().zip(&along).enumerate() {
            assert!((score - (t - mean)).abs() < 0.01, "row {i}: {score}");
        }
    }

    #[test]
    fn full_width_pca_keeps_distances() {
        let rows: Vec<Vec<f32>> = (0..20)
            .map(|i| (0..4).map(|j| ((i * 7 + j * 3) % 11) as f32).collect())
            .collect();
        let projection = project(&rows, Some(10));
        assert_eq!(projection.dims, 4);
        let row = |m: &Projection, i: usize| m.rows[i * m.dims..(i + 1) * m.dims].to_vec();
        let distance = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f32>()
                .sqrt()
        };
        for (i, j) in [(0, 1), (3, 17), (5, 6)] {
            let before = distance(&rows[i], &rows[j]);
            let after = distance(&row(&projection, i), &row(&projection, j));
            assert!(
                (before - after).abs() < 1e-4,
                "{i}-{j}: {before} vs {after}"
            );
        }
    }

    #[test]
    fn too_few_rows_or_none_skip_pca() {
        let rows = vec![vec![1.0, f32::NAN], vec![2.0, 3.0]];
        let kept = project(&rows, Some(2));
        assert_eq!(
            (kept.dims, kept.rows.clone()),
            (2, vec![1.0, 0.0, 2.0, 3.0])
        );
        assert_eq!(project(&rows, None), kept);
    }
}

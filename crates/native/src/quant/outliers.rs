//! Values too large for int8, multiplied in `f32` instead: activations beyond
//! [`super::OUTLIER`], and weights far beyond the rest of their row (which would otherwise set
//! the row's scale and leave its ordinary weights a few levels each).

use std::sync::OnceLock;

use super::{Int8Linear, QuantizedRows, OUTLIER};
use crate::error::NativeError;

/// One activation left out of the int8 product.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outlier {
    row: usize,
    column: usize,
    value: f32,
}

/// A weight this many times its row's root mean square is kept in `f32`: 0.07% of the weights
/// of all-MiniLM-L6-v2 and all-mpnet-base-v2. Measured with one activation scale a row: at 8
/// times, all-MiniLM-L6-v2's worst golden cosine was 0.997, at 4 0.998; at 3 (0.5% of the
/// weights) the extra work cost more than it gained.
const WEIGHT_OUTLIER: f32 = 4.0;

/// The magnitude beyond which a weight of `row` is an outlier.
pub(super) fn weight_limit(row: &[f32]) -> f32 {
    let squares: f64 = row.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
    WEIGHT_OUTLIER * (squares / row.len().max(1) as f64).sqrt() as f32
}

/// The weights left out of the int8 product, by output (compressed sparse rows): a layer's
/// few hundred to few thousand, each one multiply-add per token.
#[derive(Default)]
pub(super) struct SparseWeights {
    /// `(output, end)`: output `output` has the entries up to `end` (from the previous end).
    outputs: Vec<(usize, usize)>,
    inputs: Vec<usize>,
    weights: Vec<f32>,
}

impl SparseWeights {
    /// Add the weight from `input` to `output`; outputs must come in increasing order.
    pub(super) fn push(&mut self, output: usize, input: usize, weight: f32) {
        self.inputs.push(input);
        self.weights.push(weight);
        match self.outputs.last_mut() {
            Some((last, end)) if *last == output => *end = self.inputs.len(),
            _ => self.outputs.push((output, self.inputs.len())),
        }
    }

    fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
}

/// The `f32` weight columns of one layer that outliers have needed so far, each copied once:
/// reading a column of a row-major weight touches one cache line per output, so it is worth
/// doing only once. At most a second copy of the layer's `f32` weights; in practice a small
/// part: after 2,300 texts of the bench corpora, 2.5 MB for all-MiniLM-L6-v2 (of 42 MB of linear
/// weights) and 19 MB for all-mpnet-base-v2 (of 340 MB).
pub(super) struct Columns(Vec<OnceLock<Box<[f32]>>>);

impl Columns {
    /// Room for a layer of `k` inputs; no column is copied yet.
    pub(super) fn new(k: usize) -> Self {
        Self((0..k).map(|_| OnceLock::new()).collect())
    }
}

/// Record row `r`'s outliers (its values beyond [`OUTLIER`]).
pub(super) fn collect(r: usize, row: &[f32], into: &mut Vec<Outlier>) {
    into.extend(
        row.iter()
            .enumerate()
            .filter(|(_, v)| v.abs() > OUTLIER)
            .map(|(column, value)| Outlier {
                row: r,
                column,
                value: *value,
            }),
    );
}

/// Add to `y` what the int8 product left out: every activation outlier of `quantized` times
/// its `f32` weight column, and every weight outlier of `w` times its (inlier) activation.
/// `x` holds the activations, `weight` the layer's `f32` weight, `out × k` row-major.
pub(super) fn add(
    x: &[f32],
    quantized: &QuantizedRows,
    w: &Int8Linear,
    weight: &[f32],
    y: &mut [f32],
) -> Result<(), NativeError> {
    let (out, k) = (w.out, w.k);
    if weight.len() != out * k || y.len() != quantized.rows * out || x.len() != quantized.rows * k {
        return Err(NativeError::Bug(format!(
            "outliers of a {out}x{k} layer against {} weights",
            weight.len()
        )));
    }
    if !w.sparse.is_empty() {
        // The row with its activation outliers zeroed: those meet their whole f32 column
        // below, these weights included. Zeroing first keeps the loop over weights branch-free.
        let mut inliers = vec![0.0f32; k];
        let sparse = &w.sparse;
        for (x, y) in x.chunks_exact(k).zip(y.chunks_exact_mut(out)) {
            for (i, v) in inliers.iter_mut().zip(x) {
                *i = if v.abs() > OUTLIER { 0.0 } else { *v };
            }
            let mut start = 0;
            for &(output, end) in &sparse.outputs {
                let (inputs, weights) = (&sparse.inputs[start..end], &sparse.weights[start..end]);
                let sum: f32 = inputs
                    .iter()
                    .zip(weights)
                    .map(|(i, w)| inliers.get(*i).map_or(0.0, |v| v * w))
                    .sum();
                if let Some(y) = y.get_mut(output) {
                    *y += sum;
                }
                start = end;
            }
        }
    }
    for o in &quantized.outliers {
        let (Some(cell), Some(row)) = (
            w.columns.0.get(o.column),
            y.get_mut(o.row * out..(o.row + 1) * out),
        ) else {
            return Err(NativeError::Bug(format!(
                "outlier at ({}, {}) outside the product",
                o.row, o.column
            )));
        };
        let column =
            cell.get_or_init(|| weight.iter().skip(o.column).step_by(k).copied().collect());
        for (y, w) in row.iter_mut().zip(column.iter()) {
            *y += o.value * w;
        }
    }
    Ok(())
}

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
/// of all-MiniLM-L6-v2 and all-mpnet-base-v2. At 8 times, all-mpnet-base-v2's worst golden
/// cosine fell to 0.98; at 3 (0.5% of the weights) it rose to 0.996 but cost more than it gained.
const WEIGHT_OUTLIER: f32 = 4.0;

/// The magnitude beyond which a weight of `row` is an outlier.
pub(super) fn weight_limit(row: &[f32]) -> f32 {
    let squares: f64 = row.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
    WEIGHT_OUTLIER * (squares / row.len().max(1) as f64).sqrt() as f32
}

/// One weight left out of the int8 product.
#[derive(Debug, Clone, Copy)]
pub(super) struct WeightOutlier {
    input: usize,
    output: usize,
    weight: f32,
}

impl WeightOutlier {
    /// The weight from input `input` to output `output`.
    pub(super) fn new(input: usize, output: usize, weight: f32) -> Self {
        Self {
            input,
            output,
            weight,
        }
    }
}

/// The `f32` weight columns of one layer that outliers have needed so far, each copied once:
/// reading a column of a row-major weight touches one cache line per output, so it is worth
/// doing only once.
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
        for (x, y) in x.chunks_exact(k).zip(y.chunks_exact_mut(out)) {
            for s in &w.sparse {
                // An activation outlier meets its whole f32 column below, this weight included.
                let (Some(v), Some(y)) = (x.get(s.input), y.get_mut(s.output)) else {
                    continue;
                };
                if v.abs() <= OUTLIER {
                    *y += v * s.weight;
                }
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

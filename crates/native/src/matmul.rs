//! embedd's own `f32` matrix products, for the AVX2 and portable paths ([`crate::simd`]), in the
//! two forms a transformer runs:
//!
//! - `c = α·a·bᵀ + β·c` with `a` and `b` both row-major ([`dot`]): a linear layer against a
//!   PyTorch weight (`out × in`), attention scores `q·kᵀ`. Each output is a dot product of two
//!   contiguous rows, so the weights are used as stored: nothing is packed per call (the packing
//!   cost a general GEMM pays every product was 10% of a batch) or at load (no second copy).
//! - `c = α·a·b + β·c` with `b` row-major ([`outer`]): attention's weighted sum of values.
//!
//! Every output element is summed in the same order whatever its row's position in `a`: a tile at
//! the edge repeats its last row instead of running other code, so a text's vector does not
//! depend on its neighbours in a batch (ollama #6262).

use crate::simd::Simd;

#[cfg(target_arch = "x86_64")]
mod avx2;
mod tile;

pub use tile::{outer_on as outer, MR, NR};

/// Values of `k` summed per pass over a tile: the tile's rows of `a` (4 × 384 × 4 bytes) stay in
/// L1 while the rows of `b` stream past.
const KC: usize = 384;
/// Rows of `b` per block: 96 × 384 × 4 bytes = 144 KiB, kept in L2 while every row of `a` passes.
const NB: usize = 96;

/// A row-major matrix operand: `rows` rows of `cols` values, row `i` at `data[i * stride..]`.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    /// The values.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Values used of each row.
    pub cols: usize,
    /// Distance between rows (at least `cols`).
    pub stride: usize,
}

impl<'a> Rows<'a> {
    /// Whether every row lies inside `data`.
    pub fn fits(&self) -> bool {
        self.rows == 0
            || (self.stride >= self.cols
                && (self.rows - 1) * self.stride + self.cols <= self.data.len())
    }

    /// Row `i` (the last row for any `i` past it, which is how edge tiles repeat a row).
    fn row(&self, i: usize) -> &'a [f32] {
        let i = i.min(self.rows - 1);
        &self.data[i * self.stride..i * self.stride + self.cols]
    }
}

/// `c[i * ldc + j] = alpha · (a_i · b_j) + beta · c[i * ldc + j]` for every row `i` of `a` and
/// `j` of `b`, on path `simd`. The caller has checked the shapes ([`Rows::fits`], equal `cols`,
/// `c` long enough); `a.rows` and `b.rows` are not zero.
pub fn dot(simd: Simd, alpha: f32, a: Rows<'_>, b: Rows<'_>, beta: f32, c: &mut [f32], ldc: usize) {
    let k = a.cols;
    let kernel = tile::pick(simd);
    // k = 0 still makes one pass: the sums are empty, and c is still scaled.
    for p0 in (0..k.max(1)).step_by(KC) {
        let kc = KC.min(k - p0);
        // Later passes add to what the first wrote.
        let (scale, keep) = if p0 == 0 { (alpha, beta) } else { (alpha, 1.0) };
        for j0 in (0..b.rows).step_by(NB) {
            let j_end = (j0 + NB).min(b.rows);
            for i0 in (0..a.rows).step_by(MR) {
                let a_rows: [&[f32]; MR] = std::array::from_fn(|r| &a.row(i0 + r)[p0..p0 + kc]);
                for jt in (j0..j_end).step_by(NR) {
                    let b_rows: [&[f32]; NR] = std::array::from_fn(|r| &b.row(jt + r)[p0..p0 + kc]);
                    let sums = kernel(&a_rows, &b_rows);
                    for (r, row) in sums.iter().enumerate().take(a.rows - i0) {
                        let out = &mut c[(i0 + r) * ldc + jt..];
                        for (o, s) in out.iter_mut().zip(row).take(j_end - jt) {
                            *o = scale * s + if keep == 0.0 { 0.0 } else { keep * *o };
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

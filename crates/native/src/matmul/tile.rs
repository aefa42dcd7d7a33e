//! The tile kernels' shapes and the portable versions, and the choice between paths.

use super::Rows;
use crate::simd::Simd;

/// Rows of `a` per dot-product tile.
pub const MR: usize = 4;
/// Rows of `b` per dot-product tile: 4 × 3 running sums are 12 of the 16 AVX2 registers, and
/// each step loads 7 vectors for 12 fused multiply-adds.
pub const NR: usize = 3;

/// A dot-product tile: the `MR × NR` dot products of equally long rows.
pub type DotTile = fn(&[&[f32]; MR], &[&[f32]; NR]) -> [[f32; NR]; MR];

/// The tile kernel for path `simd`.
pub fn pick(simd: Simd) -> DotTile {
    #[cfg(target_arch = "x86_64")]
    if simd.runs_avx2() {
        return super::avx2::dot_tile;
    }
    let _ = simd;
    dot_tile
}

/// Lanes of the portable kernel's running sums (the AVX2 register width, so both sum alike).
const LANES: usize = 8;

/// The portable dot-product tile: running sums over 8 lanes, then the lanes added pairwise, then
/// the tail of each row.
fn dot_tile(a: &[&[f32]; MR], b: &[&[f32]; NR]) -> [[f32; NR]; MR] {
    let k = a.iter().chain(b).map(|r| r.len()).min().unwrap_or(0);
    let body = k - k % LANES;
    let mut sums = [[[0.0f32; LANES]; NR]; MR];
    for p in (0..body).step_by(LANES) {
        for (sums, a) in sums.iter_mut().zip(a) {
            let a = &a[p..p + LANES];
            for (sum, b) in sums.iter_mut().zip(b) {
                let b = &b[p..p + LANES];
                for l in 0..LANES {
                    sum[l] += a[l] * b[l];
                }
            }
        }
    }
    let mut out = [[0.0f32; NR]; MR];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, o) in row.iter_mut().enumerate() {
            let s = &sums[i][j];
            let mut total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
            for p in body..k {
                total += a[i][p] * b[j][p];
            }
            *o = total;
        }
    }
    out
}

#[inline(always)]
fn outer_body(alpha: f32, a: Rows<'_>, b: Rows<'_>, beta: f32, c: &mut [f32], ldc: usize) {
    let n = b.cols;
    let mut acc = vec![0.0f32; n];
    for i in 0..a.rows {
        acc.fill(0.0);
        for (p, &x) in a.row(i).iter().enumerate() {
            for (s, v) in acc.iter_mut().zip(b.row(p)) {
                *s += x * v;
            }
        }
        let out = &mut c[i * ldc..i * ldc + n];
        for (o, s) in out.iter_mut().zip(&acc) {
            *o = alpha * s + if beta == 0.0 { 0.0 } else { beta * *o };
        }
    }
}

/// `c = alpha · a · b + beta · c`, `b` row-major (each row of `c` a sum of `b`'s rows, `a.cols`
/// rows of `b.cols` values), on path `simd`: the same loop compiled for AVX2 + FMA or for the
/// baseline target. Shapes are checked by the caller, as for [`super::dot`].
pub fn outer_on(
    simd: Simd,
    alpha: f32,
    a: Rows<'_>,
    b: Rows<'_>,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if simd.runs_avx2() {
        // SAFETY: `outer_avx2` only needs AVX2 and FMA, and `runs_avx2()` found both.
        return unsafe { outer_avx2(alpha, a, b, beta, c, ldc) };
    }
    let _ = simd;
    outer_body(alpha, a, b, beta, c, ldc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn outer_avx2(alpha: f32, a: Rows<'_>, b: Rows<'_>, beta: f32, c: &mut [f32], ldc: usize) {
    outer_body(alpha, a, b, beta, c, ldc)
}

//! The numeric kernels of a transformer encoder, on plain row-major `f32` slices.

use rayon::prelude::*;

use crate::error::NativeError;
use crate::matmul::{self, Rows};
use crate::simd::{self, Simd};

/// A read-only matrix view: `rows × cols` values of `data`, element `(i, j)` at
/// `i * row_stride + j * col_stride`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    /// The backing values.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between rows.
    pub row_stride: usize,
    /// Distance between columns.
    pub col_stride: usize,
}

impl<'a> View<'a> {
    /// A dense row-major matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, without moving data.
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// The same matrix as row-major [`Rows`], when its columns are contiguous.
    fn as_rows(&self) -> Option<Rows<'a>> {
        (self.col_stride == 1 && self.rows > 0).then_some(Rows {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            stride: self.row_stride,
        })
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `out = alpha · a · b + beta · out`, where `out` is `a.rows × b.cols` with row stride `out_stride`.
pub fn gemm(
    alpha: f32,
    a: View<'_>,
    b: View<'_>,
    beta: f32,
    out: &mut [f32],
    out_stride: usize,
) -> Result<(), NativeError> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let out_fits = m == 0 || n == 0 || (m - 1) * out_stride + n <= out.len();
    if b.rows != k || !a.fits() || !b.fits() || !out_fits || out_stride < n {
        return Err(NativeError::Bug(format!(
            "gemm shapes do not fit: {m}x{k} by {}x{n}",
            b.rows
        )));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    // A portable path forced with EMBEDD_SIMD runs embedd's own kernels: the GEMM crates pick
    // their own instruction set at run time and cannot be held to the switch. On AVX2 the
    // `gemm` crate's kernels are the faster (10-20% over matrixmultiply's at these shapes,
    // attention's included); on AVX-512 matrixmultiply's 512-bit kernels (measured in
    // docs/performance.md).
    let path = simd::active();
    if forced_portable(path) && k > 0 {
        if let (Some(a), Some(b_t)) = (a.as_rows(), b.t().as_rows()) {
            matmul::dot(path, alpha, a, b_t, beta, out, out_stride);
            return Ok(());
        }
        if let (Some(a), Some(b)) = (a.as_rows(), b.as_rows()) {
            matmul::outer(path, alpha, a, b, beta, out, out_stride);
            return Ok(());
        }
    }
    let stride = |s: usize| s as isize;
    if path == Simd::Avx2 {
        // SAFETY: as for matrixmultiply below: every element read or written lies inside the
        // slices (checked above), and `out`, a unique borrow, aliases neither input. The crate
        // computes `dst = alpha · dst + beta · lhs · rhs`, reading `dst` only when told to, so
        // its alpha is our beta and its beta our alpha.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                stride(out_stride),
                beta != 0.0,
                a.data.as_ptr(),
                stride(a.col_stride),
                stride(a.row_stride),
                b.data.as_ptr(),
                stride(b.col_stride),
                stride(b.row_stride),
                beta,
                alpha,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        return Ok(());
    }
    // SAFETY: every element the kernel reads or writes lies inside the slices: checked just
    // above for a, b (last element index < len) and out (last row end <= len). `out` is a unique
    // borrow, so it cannot alias `a` or `b`. matrixmultiply reads `a`, `b` and writes only `out`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            stride(a.row_stride),
            stride(a.col_stride),
            b.data.as_ptr(),
            stride(b.row_stride),
            stride(b.col_stride),
            beta,
            out.as_mut_ptr(),
            stride(out_stride),
            1,
        );
    }
    Ok(())
}

/// `y = x · wᵀ + bias` for `x` of `n × w.cols` rows and a PyTorch `Linear` weight `w` (`out × in`).
///
/// With `split > 1` the rows are cut into that many blocks computed in parallel on the current
/// rayon pool: how one short text uses every core.
pub fn linear(
    x: &[f32],
    n: usize,
    weight: View<'_>,
    bias: &[f32],
    y: &mut Vec<f32>,
    split: usize,
) -> Result<(), NativeError> {
    let out = weight.rows;
    y.clear();
    y.reserve(n * out);
    for _ in 0..n {
        y.extend_from_slice(bias);
    }
    if bias.len() != out {
        return Err(NativeError::Bug(
            "bias length differs from the weight's rows".to_owned(),
        ));
    }
    let k = weight.cols;
    let dense = weight.col_stride == 1 && weight.row_stride == k && weight.data.len() >= out * k;
    // Few rows, and every product on the portable path: embedd's own kernel, which reads each
    // weight once and packs nothing (on AVX2: 61 GFLOP/s on one core for 20 rows of the
    // up-projection, matrixmultiply 38, the `gemm` crate 50); many rows: [`gemm`].
    let path = simd::active();
    let own = forced_portable(path) || (path == Simd::Avx2 && n <= SMALL_ROWS);
    if own && dense && x.len() == n * k && k > 0 {
        return own_linear(path, x, n, k, weight.data, bias, y, split);
    }
    if n <= SMALL_ROWS && dense && x.len() == n * k {
        return small_linear(x, n, k, weight.data, bias, y, split);
    }
    if split <= 1 || n < 2 * MIN_ROWS_PER_BLOCK || x.len() != n * k {
        return gemm(1.0, View::rows(x, n, k), weight.t(), 1.0, y, out);
    }
    let rows = n.div_ceil(split).max(MIN_ROWS_PER_BLOCK);
    y.par_chunks_mut(rows * out)
        .zip(x.par_chunks(rows * k))
        .try_for_each(|(y, x)| gemm(1.0, View::rows(x, x.len() / k, k), weight.t(), 1.0, y, out))
}

/// Whether `path` is the portable path forced below what the CPU has, where embedd's own
/// product kernels run so the switch holds. A CPU whose best is the portable path (no AVX2, or
/// ARM) runs matrixmultiply's SSE2 or NEON kernels instead: embedd's portable tile reached 5.6
/// GFLOP/s on 2 cores, and MiniLM 0.08x the Python peer on it.
fn forced_portable(path: Simd) -> bool {
    path == Simd::Portable && Simd::detected() > Simd::Portable
}

/// [`linear`] on embedd's own kernels: many rows are split into row blocks, each against all the
/// weights; a few rows into blocks of output columns, so the weights are read once in all.
#[allow(clippy::too_many_arguments)] // linear's own arguments, and the path it chose
fn own_linear(
    path: Simd,
    x: &[f32],
    n: usize,
    k: usize,
    w: &[f32],
    bias: &[f32],
    y: &mut [f32],
    split: usize,
) -> Result<(), NativeError> {
    let out = bias.len();
    let weights = |from: usize, count: usize| Rows {
        data: &w[from * k..(from + count) * k],
        rows: count,
        cols: k,
        stride: k,
    };
    fn inputs(x: &[f32], k: usize) -> Rows<'_> {
        Rows {
            data: x,
            rows: x.len() / k,
            cols: k,
            stride: k,
        }
    }
    if n == 0 || out == 0 {
        return Ok(());
    }
    if split <= 1 {
        matmul::dot(path, 1.0, inputs(x, k), weights(0, out), 1.0, y, out);
        return Ok(());
    }
    if n >= split * MIN_ROWS_PER_BLOCK * 4 {
        let rows = n.div_ceil(split);
        y.par_chunks_mut(rows * out)
            .zip(x.par_chunks(rows * k))
            .for_each(|(y, x)| matmul::dot(path, 1.0, inputs(x, k), weights(0, out), 1.0, y, out));
        return Ok(());
    }
    let width = out.div_ceil(split);
    let blocks: Vec<Vec<f32>> = (0..out.div_ceil(width))
        .into_par_iter()
        .map(|b| {
            let first = b * width;
            let count = width.min(out - first);
            let mut block: Vec<f32> = (0..n)
                .flat_map(|_| bias[first..first + count].iter().copied())
                .collect();
            matmul::dot(
                path,
                1.0,
                inputs(x, k),
                weights(first, count),
                1.0,
                &mut block,
                count,
            );
            block
        })
        .collect();
    for (b, block) in blocks.iter().enumerate() {
        let first = b * width;
        let count = block.len() / n;
        for (i, row) in block.chunks_exact(count).enumerate() {
            y[i * out + first..i * out + first + count].copy_from_slice(row);
        }
    }
    Ok(())
}

/// Fewer rows than this per block and splitting costs more than it saves.
const MIN_ROWS_PER_BLOCK: usize = 4;

/// Up to this many rows, a product streams each weight row once ([`small_linear`]) instead of
/// packing the whole weight matrix for a few rows, which is what a general GEMM does.
pub const SMALL_ROWS: usize = 32;

/// `y = x · wᵀ + bias` for a few rows of `x`: each output column is the dot product of one
/// weight row with each input row. Columns are cut into `split` blocks computed in parallel.
fn small_linear(
    x: &[f32],
    n: usize,
    k: usize,
    w: &[f32],
    bias: &[f32],
    y: &mut Vec<f32>,
    split: usize,
) -> Result<(), NativeError> {
    let out = bias.len();
    let mut transposed = vec![0.0f32; out * n];
    let block = out.div_ceil(split.max(1)).max(1);
    transposed
        .par_chunks_mut(block * n)
        .enumerate()
        .for_each(|(b, chunk)| columns(x, n, k, w, bias, b * block, chunk));
    y.clear();
    y.resize(n * out, 0.0);
    for (j, column) in transposed.chunks_exact(n).enumerate() {
        for (i, v) in column.iter().enumerate() {
            y[i * out + j] = *v;
        }
    }
    Ok(())
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut lanes = [0.0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            lanes[l] += x[l] * y[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[inline(always)]
fn columns_body(
    x: &[f32],
    n: usize,
    k: usize,
    w: &[f32],
    bias: &[f32],
    first: usize,
    out: &mut [f32],
) {
    for (offset, column) in out.chunks_exact_mut(n).enumerate() {
        let j = first + offset;
        let (Some(row), Some(b)) = (w.get(j * k..(j + 1) * k), bias.get(j)) else {
            return;
        };
        for (i, o) in column.iter_mut().enumerate() {
            *o = b + dot(&x[i * k..(i + 1) * k], row);
        }
    }
}

dispatch!(
    /// Output columns `first..` of `x · wᵀ + bias`, written transposed (one column after another).
    columns, columns_on, columns_avx2, columns_body, (x: &[f32], n: usize, k: usize, w: &[f32], bias: &[f32], first: usize, out: &mut [f32])
);

/// `x += y`, elementwise.
pub fn add_in_place(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// `x[i] *= y[i]`.
pub fn mul_in_place(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a *= b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_a_hand_computation() {
        // x: 2x3, w: 2x3 (out=2, in=3)
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let w = [1.0, 0.0, -1.0, 0.5, 0.5, 0.5];
        let mut y = Vec::new();
        linear(&x, 2, View::rows(&w, 2, 3), &[10.0, 20.0], &mut y, 1).unwrap();
        assert_eq!(
            y,
            vec![1.0 - 3.0 + 10.0, 3.0 + 20.0, 4.0 - 6.0 + 10.0, 7.5 + 20.0]
        );
    }

    #[test]
    fn split_rows_give_the_same_product() {
        let (n, k, out) = (37, 16, 24);
        let x: Vec<f32> = (0..n * k).map(|i| (i % 13) as f32 - 6.0).collect();
        let w: Vec<f32> = (0..out * k).map(|i| (i % 7) as f32 * 0.5 - 1.0).collect();
        let b: Vec<f32> = (0..out).map(|i| i as f32).collect();
        let (mut one, mut three) = (Vec::new(), Vec::new());
        linear(&x, n, View::rows(&w, out, k), &b, &mut one, 1).unwrap();
        linear(&x, n, View::rows(&w, out, k), &b, &mut three, 3).unwrap();
        assert_eq!(one, three);
    }

    #[test]
    fn few_rows_stream_the_weights_and_agree_with_the_gemm() {
        let (n, k, out) = (10, 40, 33);
        let x: Vec<f32> = (0..n * k).map(|i| (i % 11) as f32 * 0.25 - 1.0).collect();
        let w: Vec<f32> = (0..out * k).map(|i| (i % 5) as f32 - 2.0).collect();
        let b: Vec<f32> = (0..out).map(|i| i as f32 * 0.1).collect();
        let mut reference = b.repeat(n);
        gemm(
            1.0,
            View::rows(&x, n, k),
            View::rows(&w, out, k).t(),
            1.0,
            &mut reference,
            out,
        )
        .unwrap();
        for split in [1, 2, 5] {
            let mut y = Vec::new();
            linear(&x, n, View::rows(&w, out, k), &b, &mut y, split).unwrap();
            for (a, r) in y.iter().zip(&reference) {
                assert!(
                    (a - r).abs() <= 1e-4 * r.abs().max(1.0),
                    "split {split}: {a} vs {r}"
                );
            }
        }
    }

    /// `gemm` on every path this CPU runs (the `gemm` crate on `avx2`, matrixmultiply on
    /// `avx512`, own kernels on a forced `portable`), against an f64 reference: transposed and
    /// strided views, `alpha` and `beta` as the crate's arguments swap them, and an empty inner
    /// dimension, where only `beta · out` is left.
    #[test]
    fn gemm_gives_the_reference_product_on_every_path() {
        let (m, k, n) = (13, 37, 21);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 17) as f32 * 0.125 - 1.0).collect();
        let b_t: Vec<f32> = (0..n * k).map(|i| (i % 11) as f32 * 0.25 - 1.25).collect();
        let start: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32 - 2.0).collect();
        for path in Simd::available() {
            simd::force(path);
            for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (2.0, -0.5)] {
                let mut out = start.clone();
                gemm(
                    alpha,
                    View::rows(&a, m, k),
                    View::rows(&b_t, n, k).t(),
                    beta,
                    &mut out,
                    n,
                )
                .unwrap();
                for i in 0..m {
                    for j in 0..n {
                        let dot: f64 = (0..k)
                            .map(|p| f64::from(a[i * k + p]) * f64::from(b_t[j * k + p]))
                            .sum();
                        let want =
                            f64::from(alpha) * dot + f64::from(beta) * f64::from(start[i * n + j]);
                        let got = f64::from(out[i * n + j]);
                        assert!(
                            (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                            "{path} {alpha} {beta}: {got} vs {want}"
                        );
                    }
                }
            }
            let mut out = start.clone();
            gemm(
                1.0,
                View::rows(&[], m, 0),
                View::rows(&[], 0, n),
                0.5,
                &mut out,
                n,
            )
            .unwrap();
            let halved: Vec<f32> = start.iter().map(|v| v * 0.5).collect();
            assert_eq!(out, halved, "{path}: an empty inner dimension");
        }
        simd::force(Simd::detected());
    }

    #[test]
    fn gemm_refuses_shapes_that_do_not_fit() {
        let a = [1.0; 4];
        let mut out = [0.0; 4];
        assert!(gemm(
            1.0,
            View::rows(&a, 2, 2),
            View::rows(&a, 3, 2),
            0.0,
            &mut out,
            2
        )
        .is_err());
        assert!(gemm(
            1.0,
            View::rows(&a, 2, 2),
            View::rows(&a, 2, 2),
            0.0,
            &mut out[..3],
            2
        )
        .is_err());
    }
}

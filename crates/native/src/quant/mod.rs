//! int8 linear layers: weights quantized once at load, activations per row at each call.
//!
//! A weight row (one output channel) is scaled by its own largest magnitude to `-127..=127`
//! (per-channel scales); an activation row (one token) likewise, block by block of 128 values
//! ([`QuantizedRows`] says why), then shifted by 128 into
//! `1..=255`, because the fastest instruction for this, AVX-512 VNNI's `vpdpbusd`, multiplies
//! unsigned bytes by signed ones. The shift is taken back out exactly: `Σ (q + 128)·w =
//! Σ q·w + 128·Σ w`, and `128·Σ w` is a per-column, per-block constant computed at load.
//! Products add up in `i32` within a block, exactly, so every kernel gives the same integers;
//! only the `f32` steps (`Σ_blocks s_block · sum_block`, then `· s_col + bias`) may round
//! differently between them.
//!
//! Outliers: transformer activations carry a few huge values ("massive activations", tens to
//! hundreds where the rest are within ±3), at fixed places a per-channel weight scale and a
//! per-token activation scale both handle badly: one such value sets the token's scale and
//! flattens the rest of its row to a few levels, and it multiplies its weight column's rounding
//! error. So an activation beyond ±[`OUTLIER`] is left out of the int8 product and added in
//! `f32` against the layer's `f32` weight column, as LLM.int8() does; which values count
//! depends on the row alone, so a text's vector does not depend on the rest of its batch.
//! Weights far beyond the rest of their row are likewise kept out and added in `f32`
//! ([`outliers`]). Without both (and with one scale a row), all-mpnet-base-v2 fell to cosine
//! 0.67 on one golden input.
//!
//! - [`Int8Linear`]: a `Linear` layer's weight and bias, quantized and packed for the kernels.
//! - [`QuantizedRows`]: activations quantized per row, reusable across calls.
//! - [`linear`]: `y = x · wᵀ + bias` from the two, on a [`Kernel`] (the fastest this CPU has).

#[cfg(target_arch = "x86_64")]
mod avx2;
mod kernel;
mod outliers;
#[cfg(target_arch = "x86_64")]
mod vnni;

use rayon::prelude::*;

pub use embedd_core::config::Precision;
pub use kernel::Kernel;

use crate::error::NativeError;

/// Output columns in one packed panel group: the width the kernels compute at once.
pub const GROUP_COLS: usize = 64;
/// Output columns in one panel (one 512-bit register of `i32` sums).
const PANEL: usize = 16;
/// Inner-dimension values in one packed group (four bytes feed one `i32` lane).
const K_STEP: usize = 4;
/// Inputs sharing one activation scale within a row (a multiple of [`K_STEP`]).
const BLOCK: usize = 128;
/// Kernel steps in one block.
const BLOCK_STEPS: usize = BLOCK / K_STEP;
/// The largest quantized magnitude: symmetric, so `-128` is never used.
const QMAX: f32 = 127.0;
/// The shift that makes a signed activation an unsigned byte.
const ZERO: i32 = 128;
/// Activations beyond this magnitude are computed in `f32` (see the module docs). LLM.int8()
/// uses 6; 4 raised all-MiniLM-L6-v2's worst golden cosine from 0.996 to 0.998 (measured with
/// one scale a row) for about 5% of speed, since most layer inputs sit within ±3.
pub const OUTLIER: f32 = 4.0;

/// A `Linear` layer (`out × k` weight, `out` bias) quantized to int8 and packed for the kernels.
///
/// Packed layout: columns in groups of [`GROUP_COLS`] (padded with zero weights), each group's
/// inner dimension in steps of four; one step of one group is 4 panels × 16 columns × 4 bytes,
/// so the kernel reads each group's weights front to back, once per block of rows.
pub struct Int8Linear {
    packed: Vec<i8>,
    /// Per output column (padded): the weight scale.
    scales: Vec<f32>,
    /// Per block of inputs, per output column (padded): `128 · Σ w` over the block, the shift's
    /// contribution to be taken back out.
    offsets: Vec<i32>,
    /// Per output column (padded): the bias.
    bias: Vec<f32>,
    out: usize,
    k: usize,
    /// `f32` weight columns, each copied out of the layer's weights the first time an outlier
    /// needs it (a handful of columns ever do).
    columns: outliers::Columns,
    /// The weights left out of the bytes, each far beyond its row's typical size.
    sparse: outliers::SparseWeights,
}

impl Int8Linear {
    /// Quantize the row-major `out × k` `weight` and its `bias`.
    pub fn new(weight: &[f32], bias: &[f32], out: usize, k: usize) -> Result<Self, NativeError> {
        if weight.len() != out * k || bias.len() != out || k == 0 {
            return Err(NativeError::Bug(format!(
                "int8 weight of {} values and bias of {} for a {out}x{k} layer",
                weight.len(),
                bias.len()
            )));
        }
        let groups = out.div_ceil(GROUP_COLS);
        let padded = groups * GROUP_COLS;
        let steps = k.div_ceil(K_STEP);
        let mut packed = vec![0i8; groups * steps * GROUP_COLS * K_STEP];
        let mut scales = vec![0.0f32; padded];
        let mut offsets = vec![0i32; k.div_ceil(BLOCK) * padded];
        let mut padded_bias = vec![0.0f32; padded];
        let mut sparse = outliers::SparseWeights::default();
        for (n, row) in weight.chunks_exact(k).enumerate() {
            let limit = outliers::weight_limit(row);
            let max = row
                .iter()
                .map(|v| v.abs())
                .filter(|v| *v <= limit)
                .fold(0.0f32, f32::max);
            let scale = if max > 0.0 { max / QMAX } else { 1.0 };
            let (group, column) = (n / GROUP_COLS, n % GROUP_COLS);
            for (i, v) in row.iter().enumerate() {
                if v.abs() > limit {
                    sparse.push(n, i, *v);
                    continue;
                }
                let q = (v / scale).round().clamp(-QMAX, QMAX) as i8;
                offsets[i / BLOCK * padded + n] += ZERO * i32::from(q);
                let step = group * steps + i / K_STEP;
                packed[(step * GROUP_COLS + column) * K_STEP + i % K_STEP] = q;
            }
            scales[n] = scale;
            padded_bias[n] = bias[n];
        }
        Ok(Self {
            packed,
            scales,
            offsets,
            bias: padded_bias,
            out,
            k,
            columns: outliers::Columns::new(k),
            sparse,
        })
    }

    fn groups(&self) -> usize {
        self.out.div_ceil(GROUP_COLS)
    }

    fn steps(&self) -> usize {
        self.k.div_ceil(K_STEP)
    }

    fn blocks(&self) -> usize {
        self.k.div_ceil(BLOCK)
    }

    fn padded(&self) -> usize {
        self.groups() * GROUP_COLS
    }
}

/// Activation rows quantized to unsigned bytes (`q + 128`), each block of [`BLOCK`] values of a
/// row with its own scale; the buffers are kept between calls so a forward pass allocates them
/// once.
///
/// Why blocks and not one scale a row: on a text of one word repeated, every token is alike, so
/// every token's rounding error is alike and mean pooling averages none of it away; with one
/// scale a row, all-mpnet-base-v2's cosine to f32 on such a text landed anywhere in 0.85-0.99 as
/// rounding details changed. A scale per 128 values holds it at 0.995 (simulated first, then
/// measured) for about 5% of speed.
#[derive(Default)]
pub struct QuantizedRows {
    data: Vec<u8>,
    /// Per row, per block: the scale.
    scales: Vec<f32>,
    /// Blocks in a row.
    blocks: usize,
    rows: usize,
    /// Row length in bytes: `k` rounded up to a multiple of four.
    stride: usize,
    /// The values left out of the bytes (see [`OUTLIER`]), in row order.
    outliers: Vec<outliers::Outlier>,
}

impl QuantizedRows {
    /// Quantize `rows` rows of `k` values each (`x` row-major), replacing what was held.
    pub fn quantize(&mut self, x: &[f32], rows: usize, k: usize) -> Result<(), NativeError> {
        if x.len() != rows * k || k == 0 {
            return Err(NativeError::Bug(format!(
                "{} activations for {rows} rows of {k}",
                x.len()
            )));
        }
        self.rows = rows;
        self.stride = k.div_ceil(K_STEP) * K_STEP;
        // Padding bytes stand for 0 (the shift); they meet zero weights anyway.
        self.data.clear();
        self.data.resize(rows * self.stride, ZERO as u8);
        self.blocks = k.div_ceil(BLOCK);
        self.scales.clear();
        self.scales.resize(rows * self.blocks, 0.0);
        self.outliers.clear();
        for (r, ((row, out), scales)) in x
            .chunks_exact(k)
            .zip(self.data.chunks_exact_mut(self.stride))
            .zip(self.scales.chunks_exact_mut(self.blocks))
            .enumerate()
        {
            if quantize_row(row, &mut out[..k], scales) > 0 {
                outliers::collect(r, row, &mut self.outliers);
            }
        }
        Ok(())
    }

    /// Whether these rows are shaped for `w`: row length, block count and buffer sizes.
    fn fits(&self, w: &Int8Linear) -> bool {
        self.stride == w.steps() * K_STEP
            && self.blocks == w.blocks()
            && self.data.len() == self.rows * self.stride
            && self.scales.len() == self.rows * self.blocks
    }
}

#[inline(always)]
fn quantize_block_body(row: &[f32], out: &mut [u8]) -> (f32, u32) {
    let (mut lanes, mut counts) = ([0.0f32; PANEL], [0u32; PANEL]);
    let chunks = row.chunks_exact(PANEL);
    let tail = chunks.remainder();
    let inlier = |v: f32| if v.abs() > OUTLIER { 0.0 } else { v.abs() };
    for chunk in chunks {
        for ((l, c), v) in lanes.iter_mut().zip(&mut counts).zip(chunk) {
            *l = l.max(inlier(*v));
            *c += u32::from(v.abs() > OUTLIER);
        }
    }
    let max = tail
        .iter()
        .fold(lanes.iter().fold(0.0f32, |m, v| m.max(*v)), |m, v| {
            m.max(inlier(*v))
        });
    let outliers = counts.iter().sum::<u32>()
        + tail
            .iter()
            .map(|v| u32::from(v.abs() > OUTLIER))
            .sum::<u32>();
    if max == 0.0 {
        out.fill(ZERO as u8);
        return (0.0, outliers);
    }
    let inverse = QMAX / max;
    for (o, v) in out.iter_mut().zip(row) {
        // In 1.5..=255.5 before truncation, so truncating rounds to the nearest byte; an
        // outlier is written as zero and added in f32 instead. The whole number is added to
        // 2^23, which puts it, exactly, in the low mantissa bits: the same byte as `as i32 as
        // u8`, whose saturating conversion stays scalar (it took 13% of an int8 profile).
        let whole = (v * inverse + (ZERO as f32 + 0.5)).floor();
        let byte = (whole + 8_388_608.0).to_bits() as u8;
        *o = if v.abs() > OUTLIER { ZERO as u8 } else { byte };
    }
    (max / QMAX, outliers)
}

/// Quantize one activation row into `out` (same length), block by block, each block's scale
/// into `scales`; returns how many outliers the row has. In AVX-512 where the int8 kernel runs
/// (the compiler's AVX2 version took 13% of an int8 profile: its float-to-byte conversion stays
/// scalar), one call a row rather than a block.
fn quantize_row(row: &[f32], out: &mut [u8], scales: &mut [f32]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if Kernel::detect() == Kernel::Avx512Vnni {
        // SAFETY: `detect()` picks the VNNI kernel only when `vnni512()` found AVX-512 F, BW
        // and VNNI.
        return unsafe { vnni::quantize_row(row, out, scales) };
    }
    let blocks = row.chunks(BLOCK).zip(out.chunks_mut(BLOCK)).zip(scales);
    let mut outliers = 0;
    for ((block, bytes), scale) in blocks {
        let (block_scale, count) = quantize_block(block, bytes);
        *scale = block_scale;
        outliers += count;
    }
    outliers
}

dispatch!(
    /// Quantize one block of an activation row into `out` (same length), leaving outliers out;
    /// returns the block's scale and how many outliers it has.
    quantize_block, quantize_block_on, quantize_block_avx2, quantize_block_body, (row: &[f32], out: &mut [u8]) -> (f32, u32)
);

/// `y = x · wᵀ + bias` on `kernel` (normally [`Kernel::detect`]), from `x` and the same rows
/// `quantized`; `y` becomes `x.rows() × w.out()`. `weight` is the layer's `f32` weight
/// (`out × k`), which outliers are multiplied with.
///
/// With `split > 1` the output columns are cut into that many blocks computed in parallel on
/// the current rayon pool (each thread then reads only its part of the weights).
pub fn linear(
    kernel: Kernel,
    x: &[f32],
    quantized: &QuantizedRows,
    w: &Int8Linear,
    weight: &[f32],
    y: &mut Vec<f32>,
    split: usize,
) -> Result<(), NativeError> {
    products(kernel, quantized, w, y, split)?;
    outliers::add(x, quantized, w, weight, y)
}

/// The int8 part of [`linear`]: everything but the outliers.
fn products(
    kernel: Kernel,
    x: &QuantizedRows,
    w: &Int8Linear,
    y: &mut Vec<f32>,
    split: usize,
) -> Result<(), NativeError> {
    if !x.fits(w) {
        return Err(NativeError::Bug(format!(
            "int8 rows of {} bytes for a layer reading {}",
            x.stride, w.k
        )));
    }
    let (rows, out, groups) = (x.rows, w.out, w.groups());
    y.clear();
    y.resize(rows * out, 0.0);
    if rows == 0 {
        return Ok(());
    }
    if split <= 1 || groups < 2 {
        return kernel.run(x, w, 0..groups, y, out);
    }
    // Column blocks go to separate buffers (columns of a row-major matrix are not contiguous),
    // then into place: a copy of rows × out values against rows × out × k multiply-adds.
    let per_block = groups.div_ceil(split);
    let blocks: Vec<(usize, Vec<f32>)> = (0..groups)
        .step_by(per_block)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|first| {
            let last = (first + per_block).min(groups);
            let width = (last * GROUP_COLS).min(out) - first * GROUP_COLS;
            let mut block = vec![0.0f32; rows * width];
            kernel
                .run(x, w, first..last, &mut block, width)
                .map(|()| (first * GROUP_COLS, block))
        })
        .collect::<Result<_, NativeError>>()?;
    for (column, block) in blocks {
        let width = block.len() / rows;
        for (dst, src) in y.chunks_exact_mut(out).zip(block.chunks_exact(width)) {
            dst[column..column + width].copy_from_slice(src);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

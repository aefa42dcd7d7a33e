//! The AVX-512 VNNI int8 kernel: `vpdpbusd` multiplies 64 unsigned activation bytes by 64 signed
//! weight bytes and adds each four products into one of 16 `i32` sums, in one instruction.
//!
//! A tile is up to 6 rows × 64 columns: 24 accumulator registers of the 32, plus the four
//! weight registers of the current step and one broadcast activation. Each step of the inner
//! dimension loads 256 weight bytes and 6 × 4 activation bytes for 24 `vpdpbusd`.

use std::arch::x86_64::*;
use std::ops::Range;

use super::{
    Int8Linear, QuantizedRows, BLOCK, BLOCK_STEPS, GROUP_COLS, K_STEP, OUTLIER, PANEL, QMAX, ZERO,
};

/// Rows in one tile.
const ROWS: usize = 6;
/// 16-column panels in one tile (one panel group).
const PANELS: usize = GROUP_COLS / PANEL;
/// Weight bytes of one step of one panel group.
const STEP_BYTES: usize = GROUP_COLS * K_STEP;

/// What one tile reads and writes.
struct Tile<'a> {
    /// The tile's first activation row.
    a: *const u8,
    a_stride: usize,
    /// The block scales of the tile's rows, `blocks` a row.
    row_scales: &'a [f32],
    blocks: usize,
    /// Output columns in the layer, padded: the stride of the per-block offsets.
    padded: usize,
    /// The panel group's packed weights, `steps` × [`STEP_BYTES`].
    weights: *const i8,
    steps: usize,
    w: &'a Int8Linear,
    /// The group's first output column in the layer.
    column: usize,
    /// Output columns of this group that exist (the last group may be partly padding).
    valid: usize,
    /// The tile's first output value.
    y: *mut f32,
    y_stride: usize,
}

/// Panel groups `groups` of the product into `y`.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI, and the shapes must be as `Kernel::run` checks:
/// `groups` within the layer's groups, `x` rows of `w.steps() * 4` bytes with `w.blocks()` scales
/// each, and `y` holding `x.rows` rows of stride `stride` wide enough for the groups' real columns.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn run(
    x: &QuantizedRows,
    w: &Int8Linear,
    groups: Range<usize>,
    y: &mut [f32],
    stride: usize,
) {
    let steps = w.steps();
    let first = groups.start * GROUP_COLS;
    for g in groups {
        let column = g * GROUP_COLS;
        let mut r = 0;
        while r < x.rows {
            let rows = (x.rows - r).min(ROWS);
            // SAFETY (pointer offsets): row r < x.rows and group g < w.groups(), so both start
            // inside their buffers; the output offset is row r's start plus this group's column.
            let tile = Tile {
                a: unsafe { x.data.as_ptr().add(r * x.stride) },
                a_stride: x.stride,
                row_scales: &x.scales[r * x.blocks..(r + rows) * x.blocks],
                blocks: x.blocks,
                padded: w.padded(),
                weights: unsafe { w.packed.as_ptr().add(g * steps * STEP_BYTES) },
                steps,
                w,
                column,
                valid: (w.out - column).min(GROUP_COLS),
                y: unsafe { y.as_mut_ptr().add(r * stride + column - first) },
                y_stride: stride,
            };
            // SAFETY: same CPU features; the tile's rows, steps and columns are in bounds.
            unsafe {
                match rows {
                    6 => tile_rows::<6>(&tile),
                    5 => tile_rows::<5>(&tile),
                    4 => tile_rows::<4>(&tile),
                    3 => tile_rows::<3>(&tile),
                    2 => tile_rows::<2>(&tile),
                    _ => tile_rows::<1>(&tile),
                }
            }
            r += rows;
        }
    }
}

/// One tile of `R` rows × one panel group.
///
/// # Safety
/// As [`run`]; `t` holds `R` rows of activations and output and `t.steps` steps of weights.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn tile_rows<const R: usize>(t: &Tile<'_>) {
    // Block sums are exact i32; each block's sums, less the shift's part, are scaled by the
    // row's block scale into f32 totals.
    let mut totals = [[_mm512_setzero_ps(); PANELS]; R];
    for block in 0..t.blocks {
        let mut acc = [[_mm512_setzero_si512(); PANELS]; R];
        for step in block * BLOCK_STEPS..((block + 1) * BLOCK_STEPS).min(t.steps) {
            // SAFETY: step < t.steps, and each step holds PANELS × 64 weight bytes; each row
            // holds t.steps × 4 activation bytes.
            unsafe {
                let wp = t.weights.add(step * STEP_BYTES);
                let weights: [__m512i; PANELS] =
                    std::array::from_fn(|p| _mm512_loadu_si512(wp.add(p * 64).cast()));
                for (r, sums) in acc.iter_mut().enumerate() {
                    let four = t.a.add(r * t.a_stride + step * K_STEP).cast::<i32>();
                    let a = _mm512_set1_epi32(four.read_unaligned());
                    for (sum, w) in sums.iter_mut().zip(weights) {
                        *sum = _mm512_dpbusd_epi32(*sum, a, w);
                    }
                }
            }
        }
        for (r, (sums, total)) in acc.iter().zip(&mut totals).enumerate() {
            let scale = _mm512_set1_ps(t.row_scales[r * t.blocks + block]);
            for (p, (sum, total)) in sums.iter().zip(total.iter_mut()).enumerate() {
                // SAFETY: block < blocks and column + 64 <= padded, inside the offsets.
                let offset = unsafe {
                    _mm512_loadu_si512(
                        t.w.offsets
                            .as_ptr()
                            .add(block * t.padded + t.column + p * PANEL)
                            .cast(),
                    )
                };
                let exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(*sum, offset));
                *total = _mm512_fmadd_ps(exact, scale, *total);
            }
        }
    }
    for (r, total) in totals.iter().enumerate() {
        for (p, total) in total.iter().enumerate() {
            let first = p * PANEL;
            if first >= t.valid {
                break;
            }
            let n = t.column + first;
            // SAFETY: n + 16 <= the padded column count of the per-column vectors; the store
            // is masked to the columns that exist, all inside row r of the output.
            unsafe {
                let scale = _mm512_loadu_ps(t.w.scales.as_ptr().add(n));
                let bias = _mm512_loadu_ps(t.w.bias.as_ptr().add(n));
                let value = _mm512_fmadd_ps(*total, scale, bias);
                let left = t.valid - first;
                let mask: __mmask16 = if left >= PANEL {
                    0xFFFF
                } else {
                    (1u16 << left) - 1
                };
                _mm512_mask_storeu_ps(t.y.add(r * t.y_stride + first), mask, value);
            }
        }
    }
}

/// [`super::quantize_row`] in AVX-512: every block of the row in one call.
///
/// # Safety
/// The CPU must have AVX-512 F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn quantize_row(row: &[f32], out: &mut [u8], scales: &mut [f32]) -> u32 {
    let mut outliers = 0;
    for ((block, bytes), scale) in row.chunks(BLOCK).zip(out.chunks_mut(BLOCK)).zip(scales) {
        // SAFETY: same CPU features.
        let (block_scale, count) = unsafe { quantize_block(block, bytes) };
        *scale = block_scale;
        outliers += count;
    }
    outliers
}

/// [`super::quantize_block`] in AVX-512: the block's inlier maximum and outlier count, then the
/// bytes, 16 values at a time; the same bytes as the portable code (same operations, unfused).
///
/// # Safety
/// The CPU must have AVX-512 F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
pub(super) unsafe fn quantize_block(row: &[f32], out: &mut [u8]) -> (f32, u32) {
    let n = row.len().min(out.len());
    let mask = |i: usize| -> __mmask16 {
        if n - i >= PANEL {
            0xFFFF
        } else {
            (1u16 << (n - i)) - 1
        }
    };
    let limit = _mm512_set1_ps(OUTLIER);
    let sign = _mm512_set1_ps(-0.0);
    let (mut max, mut count) = (_mm512_setzero_ps(), 0u32);
    for i in (0..n).step_by(PANEL) {
        let m = mask(i);
        // SAFETY: the load is masked to the values i..n, all inside `row`.
        let v = unsafe { _mm512_maskz_loadu_ps(m, row.as_ptr().add(i)) };
        let magnitude = _mm512_andnot_ps(sign, v);
        let big = _mm512_mask_cmp_ps_mask::<_CMP_GT_OQ>(m, magnitude, limit);
        // A NaN is dropped here: `max_ps` returns its second operand when the first is NaN.
        max = _mm512_max_ps(_mm512_maskz_mov_ps(!big, magnitude), max);
        count += big.count_ones();
    }
    let max = _mm512_reduce_max_ps(max);
    if max == 0.0 {
        out[..n].fill(ZERO as u8);
        return (0.0, count);
    }
    let inverse = _mm512_set1_ps(QMAX / max);
    let half = _mm512_set1_ps(ZERO as f32 + 0.5);
    let zero = _mm512_set1_epi32(ZERO);
    for i in (0..n).step_by(PANEL) {
        let m = mask(i);
        // SAFETY: load and store are masked to the values i..n, inside `row` and `out`.
        unsafe {
            let v = _mm512_maskz_loadu_ps(m, row.as_ptr().add(i));
            let big = _mm512_mask_cmp_ps_mask::<_CMP_GT_OQ>(m, _mm512_andnot_ps(sign, v), limit);
            let bytes = _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(v, inverse), half));
            let bytes = _mm512_mask_mov_epi32(bytes, big, zero);
            _mm512_mask_cvtepi32_storeu_epi8(out.as_mut_ptr().add(i).cast(), m, bytes);
        }
    }
    (max / QMAX, count)
}

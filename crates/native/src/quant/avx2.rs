//! The AVX2 int8 kernel, for CPUs without AVX-512 VNNI (AMD Zen 1-3, most Intel client parts).
//!
//! AVX2 has no `vpdpbusd`; its byte product, `vpmaddubsw`, multiplies unsigned bytes by signed
//! ones and adds each pair into a *saturating* `i16`. The shifted activations (`q + 128`, up to
//! 255) times weights up to ±127 would saturate it (2 · 255 · 127 > 32767), so this kernel undoes
//! the shift and moves the sign: `|q| · (w · sign q) = q · w`, whose pairs stay within
//! 2 · 127 · 127 = 32258 (neither side is ever -128). `vpmaddwd` against ones then widens each
//! pair of pairs into the same exact `i32` four-product sum `vpdpbusd` gives, less the shift's
//! part, so no offset is subtracted afterwards. The `f32` steps are the portable kernel's, in
//! its order and unfused, so both give the same bits.
//!
//! Measured on Zen 3 (one core, 384 → 1536, quantization included): 73-98 GOP/s, against 3.2
//! for the portable kernel compiled for AVX2 and 62-74 GFLOP/s for the `f32` product. The
//! `vpsignb` costs about a third (leaving it out, which gives wrong sums, ran at 133-142);
//! widening the weights to `i16` for `vpmaddwd` alone, which needs no sign, was slower still
//! (61-79): it takes twice the `vpmaddwd`s, and those are what this CPU runs fewest of.
//!
//! A tile is up to [`ROWS`] rows × 16 columns (two registers of eight `i32` sums a row).

use std::arch::x86_64::*;
use std::ops::Range;

use super::{Int8Linear, QuantizedRows, BLOCK_STEPS, GROUP_COLS, K_STEP, PANEL};

/// Rows in one tile: 8 accumulators, 2 weight registers, the current row's `q` and `|q|`, the
/// ones and two products fit AVX2's 16 registers.
const ROWS: usize = 4;
/// 16-column panels in one panel group.
const PANELS: usize = GROUP_COLS / PANEL;
/// Weight bytes of one step of one panel group.
const STEP_BYTES: usize = GROUP_COLS * K_STEP;

/// What one tile reads and writes.
struct Tile<'a> {
    /// The tile's rows of signed activation bytes `q` and of their magnitudes `|q|`, each
    /// `a_stride` apart.
    signed: &'a [i8],
    magnitude: &'a [u8],
    a_stride: usize,
    /// The block scales of the tile's rows, `blocks` a row.
    row_scales: &'a [f32],
    blocks: usize,
    /// The panel group's packed weights from this panel's first column on.
    weights: &'a [i8],
    steps: usize,
    /// The panel's per-column weight scales and biases (16, padded).
    scales: &'a [f32],
    bias: &'a [f32],
    /// Output columns of this panel that exist (the last may be partly padding).
    valid: usize,
    /// The tile's first output value, rows `y_stride` apart.
    y: &'a mut [f32],
    y_stride: usize,
}

/// Panel groups `groups` of the product into `y`.
///
/// # Safety
/// The CPU must have AVX2. The shapes must be as `Kernel::run` checks them: `groups` within
/// the layer's groups, `x` rows of `w.steps() * 4` bytes with `w.blocks()` scales each, and `y`
/// holding `x.rows` rows of stride `stride` wide enough for the groups' real columns.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn run(
    x: &QuantizedRows,
    w: &Int8Linear,
    groups: Range<usize>,
    y: &mut [f32],
    stride: usize,
) {
    // The shift undone once per call rather than once per tile and step: a pass over the
    // activations against a pass over them per 16 output columns.
    let signed: Vec<i8> = x.data.iter().map(|a| (a ^ 0x80) as i8).collect();
    let magnitude: Vec<u8> = signed.iter().map(|q| q.unsigned_abs()).collect();
    let steps = w.steps();
    let first = groups.start * GROUP_COLS;
    for g in groups {
        let group = &w.packed[g * steps * STEP_BYTES..(g + 1) * steps * STEP_BYTES];
        for p in 0..PANELS {
            let column = g * GROUP_COLS + p * PANEL;
            if column >= w.out {
                break;
            }
            let mut r = 0;
            while r < x.rows {
                let rows = (x.rows - r).min(ROWS);
                let out = r * stride + column - first;
                let mut tile = Tile {
                    signed: &signed[r * x.stride..(r + rows) * x.stride],
                    magnitude: &magnitude[r * x.stride..(r + rows) * x.stride],
                    a_stride: x.stride,
                    row_scales: &x.scales[r * x.blocks..(r + rows) * x.blocks],
                    blocks: x.blocks,
                    weights: &group[p * PANEL * K_STEP..],
                    steps,
                    scales: &w.scales[column..column + PANEL],
                    bias: &w.bias[column..column + PANEL],
                    valid: (w.out - column).min(PANEL),
                    y: &mut y[out..],
                    y_stride: stride,
                };
                // SAFETY: the same CPU feature; every slice above was cut in bounds and holds
                // `rows` rows, which is what the tile reads and writes.
                unsafe {
                    match rows {
                        4 => tile_rows::<4>(&mut tile),
                        3 => tile_rows::<3>(&mut tile),
                        2 => tile_rows::<2>(&mut tile),
                        _ => tile_rows::<1>(&mut tile),
                    }
                }
                r += rows;
            }
        }
    }
}

/// One tile of `R` rows × one 16-column panel.
///
/// # Safety
/// The CPU must have AVX2; `t` holds `R` rows of activations (`t.steps` × 4 bytes each), scales
/// and output, and `t.steps` steps of weights (the last step's 64 bytes included).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tile_rows<const R: usize>(t: &mut Tile<'_>) {
    debug_assert!(t.signed.len() >= R * t.a_stride && t.a_stride >= t.steps * K_STEP);
    debug_assert!(t.weights.len() >= (t.steps - 1) * STEP_BYTES + PANEL * K_STEP);
    let ones = _mm256_set1_epi16(1);
    let mut totals = [[_mm256_setzero_ps(); 2]; R];
    for block in 0..t.blocks {
        let mut acc = [[_mm256_setzero_si256(); 2]; R];
        for step in block * BLOCK_STEPS..((block + 1) * BLOCK_STEPS).min(t.steps) {
            // SAFETY: step < t.steps: the weight loads are the step's 64 bytes of this panel,
            // the activation reads each row's four bytes of the step (see the asserts above).
            unsafe {
                let wp = t.weights.as_ptr().add(step * STEP_BYTES);
                let weights = [
                    _mm256_loadu_si256(wp.cast()),
                    _mm256_loadu_si256(wp.add(32).cast()),
                ];
                for (r, sums) in acc.iter_mut().enumerate() {
                    let at = r * t.a_stride + step * K_STEP;
                    let q = t.signed.as_ptr().add(at).cast::<i32>().read_unaligned();
                    let m = t.magnitude.as_ptr().add(at).cast::<i32>().read_unaligned();
                    let (q, m) = (_mm256_set1_epi32(q), _mm256_set1_epi32(m));
                    for (sum, w) in sums.iter_mut().zip(weights) {
                        let pairs = _mm256_maddubs_epi16(m, _mm256_sign_epi8(w, q));
                        *sum = _mm256_add_epi32(*sum, _mm256_madd_epi16(pairs, ones));
                    }
                }
            }
        }
        for (r, (sums, total)) in acc.iter().zip(&mut totals).enumerate() {
            let scale = _mm256_set1_ps(t.row_scales[r * t.blocks + block]);
            for (sum, total) in sums.iter().zip(total.iter_mut()) {
                let exact = _mm256_cvtepi32_ps(*sum);
                *total = _mm256_add_ps(*total, _mm256_mul_ps(exact, scale));
            }
        }
    }
    // SAFETY: `scales` and `bias` hold 16 values each, two 8-value loads.
    let (scales, bias) = unsafe {
        (
            [
                _mm256_loadu_ps(t.scales.as_ptr()),
                _mm256_loadu_ps(t.scales.as_ptr().add(8)),
            ],
            [
                _mm256_loadu_ps(t.bias.as_ptr()),
                _mm256_loadu_ps(t.bias.as_ptr().add(8)),
            ],
        )
    };
    for (r, total) in totals.iter().enumerate() {
        let mut values = [0.0f32; PANEL];
        for (half, ((total, scale), bias)) in total.iter().zip(scales).zip(bias).enumerate() {
            let value = _mm256_add_ps(_mm256_mul_ps(*total, scale), bias);
            // SAFETY: `values` holds 16 floats; this writes 8 of them at 0 or 8.
            unsafe { _mm256_storeu_ps(values.as_mut_ptr().add(half * 8), value) };
        }
        let row = &mut t.y[r * t.y_stride..r * t.y_stride + t.valid];
        row.copy_from_slice(&values[..t.valid]);
    }
}

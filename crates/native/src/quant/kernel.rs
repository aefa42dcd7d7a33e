//! The int8 product kernels: AVX-512 VNNI where the CPU has it, AVX2 where it has that,
//! portable code everywhere.
//!
//! All three compute the same exact `i32` sums from the same packed bytes; the choice is speed
//! only.

use std::ops::Range;

use super::{Int8Linear, QuantizedRows, BLOCK_STEPS, GROUP_COLS, K_STEP};
use crate::error::NativeError;

/// Which int8 kernel computes a product: a closed set, picked once per process by [`Kernel::detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust (vectorised by the compiler for AVX2 where present): any CPU.
    Portable,
    /// AVX2 `vpmaddubsw` on `|q|` and sign-carrying weights, widened by `vpmaddwd`: 32 byte
    /// products per four instructions (see `quant/avx2.rs`).
    Avx2,
    /// AVX-512 VNNI `vpdpbusd`: 64 byte products per instruction.
    Avx512Vnni,
}

impl Kernel {
    /// The fastest kernel the active instruction-set path ([`crate::simd::active`]) runs.
    pub fn detect() -> Self {
        let path = crate::simd::active();
        if path >= crate::simd::Simd::Avx512 && vnni512() {
            Self::Avx512Vnni
        } else if path.runs_avx2() {
            Self::Avx2
        } else {
            Self::Portable
        }
    }

    /// Every kernel this CPU runs, fastest first.
    pub fn available() -> Vec<Self> {
        let mut all = Vec::new();
        if vnni512() {
            all.push(Self::Avx512Vnni);
        }
        if crate::simd::Simd::Avx2.runs_avx2() {
            all.push(Self::Avx2);
        }
        all.push(Self::Portable);
        all
    }

    /// Why int8 runs slower than `f32` on this CPU, where it does: the portable kernel (no AVX2)
    /// loses to the `f32` GEMM (measured at a quarter of its speed on Zen 3); the AVX2 and
    /// VNNI kernels beat it.
    pub fn slower_than_f32(self) -> Option<&'static str> {
        match self {
            Self::Portable => Some(
                "int8 runs on portable code here (no AVX2 or AVX-512 VNNI, or EMBEDD_SIMD=portable), \
                 slower than f32",
            ),
            Self::Avx2 | Self::Avx512Vnni => None,
        }
    }

    /// A short name for logs and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            Self::Avx2 => "avx2",
            Self::Avx512Vnni => "avx512-vnni",
        }
    }

    /// Columns of panel groups `groups` of `x · wᵀ + bias` into `y`, whose row stride is
    /// `stride` and whose first column is the first column of `groups`.
    pub(super) fn run(
        self,
        x: &QuantizedRows,
        w: &Int8Linear,
        groups: Range<usize>,
        y: &mut [f32],
        stride: usize,
    ) -> Result<(), NativeError> {
        if x.rows == 0 {
            return Ok(());
        }
        let width = (groups.end * GROUP_COLS).min(w.out) - (groups.start * GROUP_COLS).min(w.out);
        if groups.end > w.groups()
            || groups.start >= groups.end
            || stride < width
            || y.len() < (x.rows - 1) * stride + width
            || !x.fits(w)
        {
            return Err(NativeError::Bug(format!(
                "int8 product does not fit: groups {groups:?} of {}, {} rows into {} values",
                w.groups(),
                x.rows,
                y.len()
            )));
        }
        match self {
            Self::Portable => {
                portable(x, w, groups, y, stride);
                Ok(())
            }
            #[cfg(target_arch = "x86_64")]
            Self::Avx512Vnni if vnni512() => {
                // SAFETY: the CPU has every feature `vnni::run` is compiled for (just checked),
                // and the shapes were checked above as `vnni::run` requires.
                unsafe { super::vnni::run(x, w, groups, y, stride) };
                Ok(())
            }
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 if crate::simd::Simd::Avx2.runs_avx2() => {
                // SAFETY: the CPU has AVX2 (just checked), and the shapes were checked above as
                // `avx2::run` requires.
                unsafe { super::avx2::run(x, w, groups, y, stride) };
                Ok(())
            }
            Self::Avx2 | Self::Avx512Vnni => Err(NativeError::Bug(format!(
                "the {} int8 kernel was chosen on a CPU without it",
                self.name()
            ))),
        }
    }
}

/// Whether this CPU has what the AVX-512 VNNI kernel is compiled for (std caches the answer).
pub(super) fn vnni512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[inline(always)]
fn portable_body(
    x: &QuantizedRows,
    w: &Int8Linear,
    groups: Range<usize>,
    y: &mut [f32],
    stride: usize,
) {
    let group_bytes = w.steps() * GROUP_COLS * K_STEP;
    let step_bytes = GROUP_COLS * K_STEP;
    let (first, padded) = (groups.start * GROUP_COLS, w.padded());
    for g in groups {
        let packed = &w.packed[g * group_bytes..(g + 1) * group_bytes];
        let columns = g * GROUP_COLS..((g + 1) * GROUP_COLS).min(w.out);
        let rows = x
            .data
            .chunks_exact(x.stride)
            .zip(x.scales.chunks_exact(x.blocks));
        for (r, (a, scales)) in rows.take(x.rows).enumerate() {
            let mut totals = [0.0f32; GROUP_COLS];
            let blocks = packed
                .chunks(BLOCK_STEPS * step_bytes)
                .zip(a.chunks(BLOCK_STEPS * K_STEP));
            for (b, ((weights, bytes), scale)) in blocks.zip(scales).enumerate() {
                let mut sums = [0i32; GROUP_COLS];
                for (step, four) in weights.chunks_exact(step_bytes).zip(bytes.chunks_exact(4)) {
                    for (sum, weights) in sums.iter_mut().zip(step.chunks_exact(K_STEP)) {
                        for (w, a) in weights.iter().zip(four) {
                            *sum += i32::from(*w) * i32::from(*a);
                        }
                    }
                }
                let offsets = &w.offsets[b * padded + g * GROUP_COLS..];
                for ((total, sum), offset) in totals.iter_mut().zip(sums).zip(offsets) {
                    *total += (sum - offset) as f32 * scale;
                }
            }
            let row = &mut y[r * stride..];
            for (n, total) in columns.clone().zip(totals) {
                row[n - first] = total * w.scales[n] + w.bias[n];
            }
        }
    }
}

dispatch!(
    /// The portable kernel: one row against one panel group's 64 columns at a time.
    portable, portable_on, portable_avx2, portable_body,
    (x: &QuantizedRows, w: &Int8Linear, groups: Range<usize>, y: &mut [f32], stride: usize)
);

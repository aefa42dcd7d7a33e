//! The AVX2 + FMA dot-product tile.

use std::arch::x86_64::*;

use super::tile::{MR, NR};

/// The `MR × NR` dot products of equally long rows, with AVX2 and FMA. Only called when the CPU
/// has both ([`super::tile::pick`] checks).
pub fn dot_tile(a: &[&[f32]; MR], b: &[&[f32]; NR]) -> [[f32; NR]; MR] {
    // The rows are equally long by construction; the shortest bounds what is read regardless.
    let k = a.iter().chain(b).map(|r| r.len()).min().unwrap_or(0);
    // SAFETY: `pick` hands this function out only when the CPU has AVX2 and FMA, and every row
    // holds at least `k` values, which is all `tile` reads.
    unsafe { tile(a, b, k) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn tile(a: &[&[f32]; MR], b: &[&[f32]; NR], k: usize) -> [[f32; NR]; MR] {
    let body = k - k % 8;
    let (a0, a1, a2, a3) = (a[0].as_ptr(), a[1].as_ptr(), a[2].as_ptr(), a[3].as_ptr());
    let (b0, b1, b2) = (b[0].as_ptr(), b[1].as_ptr(), b[2].as_ptr());
    // Twelve running sums in named registers: an indexed array of vectors may be kept in memory.
    let z = _mm256_setzero_ps();
    let (mut s00, mut s01, mut s02, mut s10, mut s11, mut s12) = (z, z, z, z, z, z);
    let (mut s20, mut s21, mut s22, mut s30, mut s31, mut s32) = (z, z, z, z, z, z);
    let mut p = 0;
    while p < body {
        // SAFETY (for every load): p + 8 <= body <= k, the length of every row.
        let w0 = _mm256_loadu_ps(b0.add(p));
        let w1 = _mm256_loadu_ps(b1.add(p));
        let w2 = _mm256_loadu_ps(b2.add(p));
        let x = _mm256_loadu_ps(a0.add(p));
        s00 = _mm256_fmadd_ps(x, w0, s00);
        s01 = _mm256_fmadd_ps(x, w1, s01);
        s02 = _mm256_fmadd_ps(x, w2, s02);
        let x = _mm256_loadu_ps(a1.add(p));
        s10 = _mm256_fmadd_ps(x, w0, s10);
        s11 = _mm256_fmadd_ps(x, w1, s11);
        s12 = _mm256_fmadd_ps(x, w2, s12);
        let x = _mm256_loadu_ps(a2.add(p));
        s20 = _mm256_fmadd_ps(x, w0, s20);
        s21 = _mm256_fmadd_ps(x, w1, s21);
        s22 = _mm256_fmadd_ps(x, w2, s22);
        let x = _mm256_loadu_ps(a3.add(p));
        s30 = _mm256_fmadd_ps(x, w0, s30);
        s31 = _mm256_fmadd_ps(x, w1, s31);
        s32 = _mm256_fmadd_ps(x, w2, s32);
        p += 8;
    }
    let s = [s00, s01, s02, s10, s11, s12, s20, s21, s22, s30, s31, s32];
    let mut out = [[0.0f32; NR]; MR];
    for (i, row) in out.iter_mut().enumerate() {
        // Three sums at once: pairwise adds within each 128-bit half, then the halves.
        let h01 = _mm256_hadd_ps(s[i * NR], s[i * NR + 1]);
        let h2 = _mm256_hadd_ps(s[i * NR + 2], _mm256_setzero_ps());
        let h = _mm256_hadd_ps(h01, h2);
        let total = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        let mut lanes = [0.0f32; 4];
        _mm_storeu_ps(lanes.as_mut_ptr(), total);
        for (j, o) in row.iter_mut().enumerate() {
            let mut t = lanes[j];
            for q in body..k {
                t += a[i][q] * b[j][q];
            }
            *o = t;
        }
    }
    out
}

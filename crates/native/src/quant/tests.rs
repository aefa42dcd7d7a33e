use super::*;

/// Deterministic values in -1..1 with a few larger ones, like real activations.
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let h = (i as u32).wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503);
            let v = (h % 2001) as f32 / 1000.0 - 1.0;
            if h.is_multiple_of(97) {
                v * 8.0
            } else {
                v
            }
        })
        .collect()
}

fn reference(x: &[f32], w: &[f32], b: &[f32], rows: usize, out: usize, k: usize) -> Vec<f32> {
    let mut y = vec![0.0; rows * out];
    for r in 0..rows {
        for n in 0..out {
            let dot: f64 = (0..k)
                .map(|i| f64::from(x[r * k + i]) * f64::from(w[n * k + i]))
                .sum();
            y[r * out + n] = dot as f32 + b[n];
        }
    }
    y
}

#[test]
fn every_kernel_and_split_agrees_on_odd_shapes() {
    for (rows, out, k) in [
        (1, 16, 4),
        (7, 33, 37),
        (13, 130, 64),
        (6, 64, 384),
        (20, 200, 9),
        (5, 70, 300),
    ] {
        let (x, w, b) = (values(rows * k, 1), values(out * k, 2), values(out, 3));
        let layer = Int8Linear::new(&w, &b, out, k).unwrap();
        let mut q = QuantizedRows::default();
        q.quantize(&x, rows, k).unwrap();
        let exact = reference(&x, &w, &b, rows, out, k);
        let mut first: Option<Vec<f32>> = None;
        for kernel in Kernel::available() {
            for split in [1, 2, 3] {
                let mut y = vec![f32::NAN; 3];
                linear(kernel, &x, &q, &layer, &w, &mut y, split).unwrap();
                assert_eq!(y.len(), rows * out);
                let scale = exact.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                for (got, want) in y.iter().zip(&exact) {
                    // Two 8-bit roundings: a few hundredths of the output's range at most.
                    assert!(
                        (got - want).abs() <= 0.03 * scale,
                        "{kernel:?} split {split} {rows}x{out}x{k}: {got} vs {want}"
                    );
                }
                match &first {
                    None => first = Some(y),
                    Some(f) => {
                        for (a, b) in y.iter().zip(f) {
                            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn quantization_is_nearly_lossless_for_a_wide_layer() {
    // The mean error over a 384-wide dot product is what the model sees.
    let (rows, out, k) = (8, 64, 384);
    let (x, w, b) = (values(rows * k, 4), values(out * k, 5), vec![0.0; out]);
    let layer = Int8Linear::new(&w, &b, out, k).unwrap();
    let mut q = QuantizedRows::default();
    q.quantize(&x, rows, k).unwrap();
    let mut y = Vec::new();
    linear(Kernel::detect(), &x, &q, &layer, &w, &mut y, 1).unwrap();
    let exact = reference(&x, &w, &b, rows, out, k);
    let (dot, norms) =
        y.iter()
            .zip(&exact)
            .fold((0.0f64, (0.0f64, 0.0f64)), |(d, (a, c)), (p, e)| {
                let (p, e) = (f64::from(*p), f64::from(*e));
                (d + p * e, (a + p * p, c + e * e))
            });
    let cosine = dot / (norms.0.sqrt() * norms.1.sqrt());
    assert!(cosine > 0.999, "cosine {cosine}");
}

#[test]
fn a_zero_row_gives_the_bias() {
    let (out, k) = (20, 8);
    let layer = Int8Linear::new(&values(out * k, 6), &values(out, 7), out, k).unwrap();
    let mut q = QuantizedRows::default();
    q.quantize(&[0.0; 8], 1, k).unwrap();
    for kernel in Kernel::available() {
        let mut y = Vec::new();
        linear(
            kernel,
            &[0.0; 8],
            &q,
            &layer,
            &values(out * k, 6),
            &mut y,
            1,
        )
        .unwrap();
        assert_eq!(y, values(out, 7), "{kernel:?}");
    }
}

#[test]
fn no_rows_give_no_output() {
    let layer = Int8Linear::new(&[1.0; 8], &[0.0; 2], 2, 4).unwrap();
    let mut q = QuantizedRows::default();
    q.quantize(&[], 0, 4).unwrap();
    let mut y = vec![1.0];
    linear(Kernel::detect(), &[], &q, &layer, &[1.0; 8], &mut y, 2).unwrap();
    assert!(y.is_empty());
}

#[test]
fn mismatched_shapes_are_errors_not_panics() {
    assert!(Int8Linear::new(&[1.0; 7], &[0.0; 2], 2, 4).is_err());
    let layer = Int8Linear::new(&[1.0; 8], &[0.0; 2], 2, 4).unwrap();
    let mut q = QuantizedRows::default();
    assert!(q.quantize(&[1.0; 5], 1, 4).is_err());
    q.quantize(&[1.0; 16], 2, 8).unwrap();
    assert!(linear(
        Kernel::detect(),
        &[1.0; 16],
        &q,
        &layer,
        &[1.0; 8],
        &mut Vec::new(),
        1
    )
    .is_err());
}

#[test]
fn outliers_on_either_side_are_computed_exactly() {
    // One huge activation and one huge weight, each of which would otherwise set its row's
    // scale and flatten everything else in the row to a few levels.
    let (rows, out, k) = (3, 20, 64);
    let mut x = values(rows * k, 8);
    x[5] = 150.0;
    x[k + 9] = -40.0;
    let mut w = values(out * k, 9);
    w[3 * k + 7] = 25.0;
    let b = values(out, 10);
    let layer = Int8Linear::new(&w, &b, out, k).unwrap();
    let mut q = QuantizedRows::default();
    q.quantize(&x, rows, k).unwrap();
    let exact = reference(&x, &w, &b, rows, out, k);
    for kernel in Kernel::available() {
        let mut y = Vec::new();
        linear(kernel, &x, &q, &layer, &w, &mut y, 1).unwrap();
        for (got, want) in y.iter().zip(&exact) {
            // The error left is that of the ordinary values: about 1% of a dot product of
            // 64 values within ±1, not of 150 × 25.
            assert!((got - want).abs() <= 0.15, "{kernel:?}: {got} vs {want}");
        }
    }
}

#[test]
fn the_avx512_quantizer_writes_the_portable_bytes() {
    #[cfg(target_arch = "x86_64")]
    if kernel::vnni512() {
        for len in [1, 15, 16, 17, 384, 1001] {
            let mut row = values(len, 11);
            row[len / 2] = -9.5;
            let (mut fast, mut plain) = (vec![0u8; len], vec![0u8; len]);
            // SAFETY: vnni512() found AVX-512 F and BW.
            let a = unsafe { vnni::quantize_block(&row, &mut fast) };
            let b = quantize_block(&row, &mut plain);
            assert_eq!(a, b, "length {len}");
            assert_eq!(fast, plain, "length {len}");
        }
    }
}

#[test]
fn the_portable_kernel_and_quantizer_give_the_same_bits_on_every_path() {
    use crate::simd::Simd;
    let (rows, out, k) = (5, 70, 256);
    let x = values(rows * k, 12);
    let w = values(out * k, 13);
    let b = values(out, 14);
    let layer = Int8Linear::new(&w, &b, out, k).unwrap();
    let mut q = QuantizedRows::default();
    q.quantize(&x, rows, k).unwrap();
    let baseline = {
        let mut y = vec![0.0f32; rows * out];
        kernel::portable_on(Simd::Portable, &q, &layer, 0..layer.groups(), &mut y, out);
        y
    };
    for path in Simd::available() {
        let mut y = vec![0.0f32; rows * out];
        kernel::portable_on(path, &q, &layer, 0..layer.groups(), &mut y, out);
        assert_eq!(y, baseline, "{path}");
        for len in [1, 17, 384] {
            let row = values(len, 15);
            let (mut here, mut plain) = (vec![0u8; len], vec![0u8; len]);
            assert_eq!(
                quantize_block_on(path, &row, &mut here),
                quantize_block_on(Simd::Portable, &row, &mut plain)
            );
            assert_eq!(here, plain, "{path}, length {len}");
        }
    }
}

#[test]
fn the_avx2_kernel_gives_the_portable_bits_even_where_byte_pairs_would_saturate() {
    // Every activation at the row's maximum and every weight at its row's: each pair of byte
    // products is 2 · 127 · 127, and 2 · 255 · 127 with the shifted bytes, which `vpmaddubsw`
    // would clip. Signs alternate in a pattern the two sides do not share.
    let (rows, out, k) = (7, 70, 300);
    let x: Vec<f32> = (0..rows * k)
        .map(|i| if i % 3 == 0 { -3.0 } else { 3.0 })
        .collect();
    let w: Vec<f32> = (0..out * k)
        .map(|i| if i % 5 < 2 { -0.5 } else { 0.5 })
        .collect();
    let b = values(out, 16);
    let layer = Int8Linear::new(&w, &b, out, k).unwrap();
    let mut q = QuantizedRows::default();
    q.quantize(&x, rows, k).unwrap();
    let exact = reference(&x, &w, &b, rows, out, k);
    let run = |kernel: Kernel| {
        let mut y = Vec::new();
        linear(kernel, &x, &q, &layer, &w, &mut y, 1).unwrap();
        y
    };
    let portable = run(Kernel::Portable);
    for (got, want) in portable.iter().zip(&exact) {
        assert!(
            (got - want).abs() <= 1e-3 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
    for kernel in Kernel::available() {
        if kernel == Kernel::Avx2 {
            assert_eq!(run(kernel), portable);
        }
    }
    for (rows, out, k, seed) in [(1, 16, 4, 17), (9, 130, 257, 18), (4, 64, 384, 19)] {
        let (x, w, b) = (
            values(rows * k, seed),
            values(out * k, seed + 1),
            values(out, seed + 2),
        );
        let layer = Int8Linear::new(&w, &b, out, k).unwrap();
        let mut q = QuantizedRows::default();
        q.quantize(&x, rows, k).unwrap();
        let mut want = Vec::new();
        linear(Kernel::Portable, &x, &q, &layer, &w, &mut want, 1).unwrap();
        for kernel in Kernel::available() {
            if kernel == Kernel::Avx2 {
                let mut got = Vec::new();
                linear(kernel, &x, &q, &layer, &w, &mut got, 2).unwrap();
                assert_eq!(got, want, "{rows}x{out}x{k}");
            }
        }
    }
}

#[test]
fn quantized_bytes_are_the_definition_rounded_to_nearest_on_every_path() {
    // Values across the whole byte range, the block's extremes, and outliers on both sides.
    let mut row: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.7377).sin() * 3.9).collect();
    row[10] = 3.95;
    row[11] = -3.95;
    row[12] = 0.0;
    row[13] = 9.0;
    row[14] = -250.0;
    let max = row
        .iter()
        .map(|v| v.abs())
        .filter(|v| *v <= OUTLIER)
        .fold(0.0f32, f32::max);
    let inverse = QMAX / max;
    let want: Vec<u8> = row
        .iter()
        .map(|v| {
            if v.abs() > OUTLIER {
                ZERO as u8
            } else {
                (v * inverse + (ZERO as f32 + 0.5)) as i32 as u8
            }
        })
        .collect();
    assert!(
        want.contains(&1) && want.contains(&255),
        "the extremes are covered"
    );
    for path in crate::simd::Simd::available() {
        let mut got = vec![0u8; row.len()];
        let (scale, outliers) = quantize_block_on(path, &row, &mut got);
        assert_eq!((scale, outliers), (max / QMAX, 2), "{path}");
        assert_eq!(got, want, "{path}");
    }
}

use super::*;

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn rows(data: &[f32], rows: usize, cols: usize) -> Rows<'_> {
    Rows {
        data,
        rows,
        cols,
        stride: cols,
    }
}

#[test]
fn dot_products_match_a_double_precision_reference_on_every_path() {
    // Edges of every kind: rows and columns not multiples of the tile, k not a multiple of the
    // 8 lanes, k beyond one pass (KC), a single element.
    for (m, n, k) in [
        (1, 1, 1),
        (5, 7, 13),
        (4, 3, 8),
        (33, 100, 384),
        (9, 20, 1000),
        (2, 97, 64),
    ] {
        let a = values(m * k, 1);
        let b = values(n * k, 2);
        let start = values(m * n, 3);
        for simd in Simd::available() {
            for (alpha, beta) in [(1.0f32, 1.0f32), (0.125, 0.0)] {
                let mut c = start.clone();
                if beta == 0.0 {
                    c.fill(f32::NAN);
                }
                dot(simd, alpha, rows(&a, m, k), rows(&b, n, k), beta, &mut c, n);
                for i in 0..m {
                    for j in 0..n {
                        let exact: f64 = (0..k)
                            .map(|p| f64::from(a[i * k + p]) * f64::from(b[j * k + p]))
                            .sum();
                        let want = f64::from(alpha) * exact
                            + if beta == 0.0 {
                                0.0
                            } else {
                                f64::from(start[i * n + j])
                            };
                        let got = f64::from(c[i * n + j]);
                        assert!(
                            (got - want).abs() <= 1e-5 * (k as f64).sqrt().max(1.0),
                            "{simd} {m}x{n}x{k} ({i},{j}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_row_gets_the_same_bits_at_any_position() {
    let (n, k) = (50, 400);
    let b = values(n * k, 4);
    let text = values(k, 5);
    for simd in Simd::available() {
        let mut alone = vec![0.0f32; n];
        dot(
            simd,
            1.0,
            rows(&text, 1, k),
            rows(&b, n, k),
            0.0,
            &mut alone,
            n,
        );
        for (m, at) in [(2, 1), (7, 5), (13, 12), (13, 0)] {
            let mut a = values(m * k, 6);
            a[at * k..(at + 1) * k].copy_from_slice(&text);
            let mut c = vec![0.0f32; m * n];
            dot(simd, 1.0, rows(&a, m, k), rows(&b, n, k), 0.0, &mut c, n);
            assert_eq!(
                &c[at * n..(at + 1) * n],
                &alone[..],
                "{simd}: {m} rows, at {at}"
            );
        }
    }
}

#[test]
fn strided_operands_and_the_outer_form_match_the_reference() {
    // Attention's shapes: one head's columns out of a wider row (stride > cols).
    let (len, d, h) = (11, 8, 24);
    let q = values(len * h, 7);
    let v = values(len * h, 8);
    let p = values(len * len, 9);
    let head = |m: &[f32]| -> Vec<f32> {
        (0..len)
            .flat_map(|i| m[i * h + 8..i * h + 8 + d].to_vec())
            .collect()
    };
    let (qh, vh) = (head(&q), head(&v));
    fn strided(m: &[f32], len: usize, d: usize, h: usize) -> Rows<'_> {
        Rows {
            data: &m[8..],
            rows: len,
            cols: d,
            stride: h,
        }
    }
    for simd in Simd::available() {
        let mut scores = vec![0.0f32; len * len];
        dot(
            simd,
            0.5,
            strided(&q, len, d, h),
            strided(&q, len, d, h),
            0.0,
            &mut scores,
            len,
        );
        let mut context = vec![f32::NAN; len * h];
        outer(
            simd,
            1.0,
            rows(&p, len, len),
            strided(&v, len, d, h),
            0.0,
            &mut context[8..],
            h,
        );
        for i in 0..len {
            for j in 0..len {
                let want: f32 = (0..d).map(|x| qh[i * d + x] * qh[j * d + x]).sum::<f32>() * 0.5;
                assert!((scores[i * len + j] - want).abs() < 1e-5, "{simd} scores");
            }
            for x in 0..d {
                let want: f32 = (0..len).map(|j| p[i * len + j] * vh[j * d + x]).sum();
                assert!(
                    (context[i * h + 8 + x] - want).abs() < 1e-5,
                    "{simd} context"
                );
            }
        }
    }
}

//! The arithmetic of symmetric int8 quantization: weights per output column, activations
//! per row at run time, and the f32 epilogue that undoes both scales.
//!
//! These loops are written so that LLVM vectorises them on the baseline target (no
//! `round` libcall, no branches in the inner loops): they run on every inference.

/// Largest magnitude of a symmetric int8 code; -128 is never produced, so negation is exact.
pub const QMAX: f32 = 127.0;

/// Adding and subtracting 1.5 * 2^23 rounds an f32 of magnitude below 2^22 to the nearest
/// integer, ties to even, using the FPU's own rounding; `f32::round_ties_even` is a libcall
/// on baseline x86-64 and would stop the loop from vectorising.
const ROUNDER: f32 = 12_582_912.0;

/// Rounds `v` (|v| <= 2^22) to the nearest integer, ties to even.
#[inline(always)]
fn round_even(v: f32) -> f32 {
    (v + ROUNDER) - ROUNDER
}

/// The integer nearest `v` (ties to even) for |v| <= 2^22, read from the bits of
/// `v + 1.5 * 2^23`, whose mantissa then holds it; a shift and a subtract, no conversion.
#[inline(always)]
fn round_to_i32(v: f32) -> i32 {
    (v + ROUNDER).to_bits() as i32 - ROUNDER.to_bits() as i32
}

/// Lanes of the abs-max reduction: independent accumulators LLVM turns into vector
/// registers (a single running max is a serial dependency it will not reorder).
const LANES: usize = 16;

/// `max |v|` over `row`, or NaN when the row holds a NaN.
#[inline(always)]
fn abs_max(row: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut nan = [false; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            let a = c[i].abs();
            // `>` rather than f32::max: it maps to one vector max instruction.
            acc[i] = if a > acc[i] { a } else { acc[i] };
            nan[i] |= a.is_nan();
        }
    }
    let mut m = acc.iter().fold(0.0f32, |m, &a| if a > m { a } else { m });
    let mut has_nan = nan.iter().any(|&n| n);
    for &v in tail {
        let a = v.abs();
        m = if a > m { a } else { m };
        has_nan |= a.is_nan();
    }
    if has_nan {
        f32::NAN
    } else {
        m
    }
}

/// Quantizes each row of `x` (rows of `k` values) to int8 with its own scale
/// `max|row| / 127`, writing the codes to `q` and the scales to `scales` (0 for a row of
/// zeros, whose codes are all 0).
pub fn quantize_rows(x: &[f32], k: usize, q: &mut [i8], scales: &mut [f32]) {
    assert!(k > 0 && x.len() == q.len());
    quantize_rows_with(x, k, k, q, scales, 0, |c| c as i8);
}

/// [`quantize_rows`] with each code offset by 128 into a `u8` (the operand form of x86's
/// `u8 x i8` dot-product instructions), rows written `stride >= k` apart and padded with
/// the code of zero (128). Inlined so that a caller compiled for wider vectors (the
/// AVX-512 path of [`crate::fused`]) gets this loop in those vectors.
#[inline(always)]
pub fn quantize_rows_u8(x: &[f32], k: usize, stride: usize, q: &mut [u8], scales: &mut [f32]) {
    assert!(k > 0 && stride >= k && q.len() == stride * scales.len());
    quantize_rows_with(x, k, stride, q, scales, 128, |c| (c + 128) as u8);
}

/// The row quantizer, generic over how a code in -127..=127 is stored.
#[inline(always)]
fn quantize_rows_with<T: Copy>(
    x: &[f32],
    k: usize,
    stride: usize,
    q: &mut [T],
    scales: &mut [f32],
    zero: T,
    code: impl Fn(i32) -> T,
) {
    assert!(x.len() == k * scales.len() && q.len() == stride * scales.len());
    for ((row, qrow), scale) in x
        .chunks_exact(k)
        .zip(q.chunks_exact_mut(stride))
        .zip(scales)
    {
        let (qrow, pad) = qrow.split_at_mut(k);
        pad.fill(zero);
        let amax = abs_max(row);
        // A NaN or infinite activation must not turn into plausible codes silently: it
        // becomes a NaN scale, so the layer's output is NaN as it would be in f32.
        if !amax.is_finite() {
            *scale = f32::NAN;
            qrow.fill(zero);
            continue;
        }
        if amax == 0.0 {
            *scale = 0.0;
            qrow.fill(zero);
            continue;
        }
        *scale = amax / QMAX;
        let inv = QMAX / amax;
        for (o, v) in qrow.iter_mut().zip(row) {
            // |v * inv| <= 127 up to one rounding of inv, which still rounds to 127.
            *o = code(round_to_i32(v * inv));
        }
    }
}

/// Weight matrix `[k, n]` (row-major) quantized per output column: `w ~ q * scale[col]`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedWeight {
    /// Rows of the reduction axis.
    pub k: usize,
    /// Output columns.
    pub n: usize,
    /// Codes, row-major `[k, n]`.
    pub codes: Vec<i8>,
    /// One scale per output column (0 for an all-zero column).
    pub scales: Vec<f32>,
}

/// Quantizes a row-major `[k, n]` f32 matrix per output column, symmetric.
pub fn quantize_columns(w: &[f32], k: usize, n: usize) -> QuantizedWeight {
    assert_eq!(w.len(), k * n);
    let mut amax = vec![0.0f32; n];
    for row in w.chunks_exact(n) {
        for (m, v) in amax.iter_mut().zip(row) {
            *m = m.max(v.abs());
        }
    }
    let scales: Vec<f32> = amax.iter().map(|&m| m / QMAX).collect();
    let inv: Vec<f32> = amax
        .iter()
        .map(|&m| if m > 0.0 { QMAX / m } else { 0.0 })
        .collect();
    let mut codes = vec![0i8; k * n];
    for (qrow, row) in codes.chunks_exact_mut(n).zip(w.chunks_exact(n)) {
        for ((o, v), s) in qrow.iter_mut().zip(row).zip(&inv) {
            *o = round_even(v * s).clamp(-QMAX, QMAX) as i8;
        }
    }
    QuantizedWeight {
        k,
        n,
        codes,
        scales,
    }
}

impl QuantizedWeight {
    /// The f32 matrix these codes stand for, row-major `[k, n]`.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.codes.len());
        for row in self.codes.chunks_exact(self.n) {
            out.extend(row.iter().zip(&self.scales).map(|(&q, s)| f32::from(q) * s));
        }
        out
    }
}

/// `out[r, j] = acc[r, j] * row_scale[r] * col_scale[j] + bias[j]`: the f32 result of an
/// int8 product whose operands were scaled per row and per column.
pub fn dequantize_product(
    acc: &[i32],
    row_scales: &[f32],
    col_scales: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let n = col_scales.len();
    assert!(n > 0 && acc.len() == out.len() && acc.len() == n * row_scales.len());
    if let Some(b) = bias {
        assert_eq!(b.len(), n);
    }
    let mut scaled = vec![0.0f32; n];
    for ((arow, orow), &rs) in acc
        .chunks_exact(n)
        .zip(out.chunks_exact_mut(n))
        .zip(row_scales)
    {
        for (s, c) in scaled.iter_mut().zip(col_scales) {
            *s = rs * c;
        }
        match bias {
            Some(b) => {
                for (((o, &a), s), b) in orow.iter_mut().zip(arow).zip(&scaled).zip(b) {
                    *o = a as f32 * s + b;
                }
            }
            None => {
                for ((o, &a), s) in orow.iter_mut().zip(arow).zip(&scaled) {
                    *o = a as f32 * s;
                }
            }
        }
    }
}

/// Signal-to-quantization-noise ratio in dB of `approx` against `exact`
/// (`10 log10(sum exact^2 / sum (exact - approx)^2)`); infinite when they are equal.
pub fn sqnr_db(exact: &[f32], approx: &[f32]) -> f64 {
    assert_eq!(exact.len(), approx.len());
    let (mut signal, mut noise) = (0.0f64, 0.0f64);
    for (&e, &a) in exact.iter().zip(approx) {
        signal += f64::from(e) * f64::from(e);
        let d = f64::from(e) - f64::from(a);
        noise += d * d;
    }
    if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / noise).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_even() {
        for (v, want) in [
            (0.5, 0.0),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, 0.0),
            (-1.5, -2.0),
            (126.6, 127.0),
            (-3.49, -3.0),
        ] {
            assert_eq!(round_even(v), want, "{v}");
            assert_eq!(round_even(v), f32::round_ties_even(v), "{v}");
        }
    }

    #[test]
    fn rows_use_their_own_scale_and_hit_127() {
        let x = [1.0, -2.0, 0.5, 0.0, 0.0, 0.0, 10.0, 5.0, -10.0];
        let mut q = [0i8; 9];
        let mut s = [0.0f32; 3];
        quantize_rows(&x, 3, &mut q, &mut s);
        assert_eq!(s, [2.0 / 127.0, 0.0, 10.0 / 127.0]);
        assert_eq!(q, [64, -127, 32, 0, 0, 0, 127, 64, -127]);
        for (r, row) in x.chunks(3).enumerate() {
            for (j, v) in row.iter().enumerate() {
                let back = f32::from(q[r * 3 + j]) * s[r];
                assert!((back - v).abs() <= s[r] / 2.0 + 1e-6);
            }
        }
    }

    #[test]
    fn u8_codes_are_the_i8_codes_plus_128_with_padded_rows() {
        let (k, stride) = (37, 40);
        let x: Vec<f32> = (0..3 * k)
            .map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.3)
            .collect();
        let mut x = x;
        x[k..2 * k].fill(0.0);
        let (mut qi, mut si) = (vec![0i8; 3 * k], vec![0.0f32; 3]);
        quantize_rows(&x, k, &mut qi, &mut si);
        let (mut qu, mut su) = (vec![0u8; 3 * stride], vec![0.0f32; 3]);
        quantize_rows_u8(&x, k, stride, &mut qu, &mut su);
        assert_eq!(si, su);
        for r in 0..3 {
            for j in 0..stride {
                let want = if j < k {
                    (i32::from(qi[r * k + j]) + 128) as u8
                } else {
                    128
                };
                assert_eq!(qu[r * stride + j], want, "row {r} col {j}");
            }
        }
    }

    #[test]
    fn a_non_finite_row_gives_a_nan_scale() {
        let x = [1.0, f32::INFINITY, 2.0, 3.0];
        let mut q = [0i8; 4];
        let mut s = [0.0f32; 2];
        quantize_rows(&x, 2, &mut q, &mut s);
        assert!(s[0].is_nan());
        assert_eq!(s[1], 3.0 / 127.0);
        // A NaN anywhere in a long row, vector lanes or tail.
        for at in [0, 5, 31, 36] {
            let mut row = vec![1.0f32; 37];
            row[at] = f32::NAN;
            let mut q = vec![0i8; 37];
            let mut s = [0.0f32; 1];
            quantize_rows(&row, 37, &mut q, &mut s);
            assert!(s[0].is_nan(), "NaN at {at}");
        }
    }

    #[test]
    fn long_rows_match_a_plain_reference() {
        let k = 77;
        let x: Vec<f32> = (0..3 * k)
            .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 0.013)
            .collect();
        let mut q = vec![0i8; x.len()];
        let mut s = vec![0.0f32; 3];
        quantize_rows(&x, k, &mut q, &mut s);
        for (r, row) in x.chunks(k).enumerate() {
            let amax = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert_eq!(s[r], amax / 127.0);
            for (j, v) in row.iter().enumerate() {
                let want = (v * (127.0 / amax)).round_ties_even() as i8;
                assert_eq!(q[r * k + j], want, "row {r} col {j}");
            }
        }
        assert_eq!(round_to_i32(-126.5), -126);
        assert_eq!(round_to_i32(127.0), 127);
    }

    #[test]
    fn columns_round_trip_within_half_a_step() {
        let (k, n) = (5, 4);
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.1 * (1 + i % n) as f32)
            .collect();
        let q = quantize_columns(&w, k, n);
        let back = q.dequantize();
        for (i, (a, b)) in w.iter().zip(&back).enumerate() {
            assert!(
                (a - b).abs() <= q.scales[i % n] / 2.0 + 1e-7,
                "{i}: {a} vs {b}"
            );
        }
        // Every non-zero column reaches the full code range.
        for j in 0..n {
            assert!((0..k).any(|r| q.codes[r * n + j].unsigned_abs() == 127));
        }
    }

    #[test]
    fn the_epilogue_matches_an_f32_product_of_the_dequantized_operands() {
        let (m, k, n) = (3, 6, 4);
        let x: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.7).sin()).collect();
        let w: Vec<f32> = (0..k * n).map(|i| (i as f32 * 1.3).cos()).collect();
        let bias = [0.5, -0.25, 0.0, 1.0];
        let qw = quantize_columns(&w, k, n);
        let mut qx = vec![0i8; m * k];
        let mut rs = vec![0.0; m];
        quantize_rows(&x, k, &mut qx, &mut rs);
        let mut acc = vec![0i32; m * n];
        for r in 0..m {
            for j in 0..n {
                acc[r * n + j] = (0..k)
                    .map(|t| i32::from(qx[r * k + t]) * i32::from(qw.codes[t * n + j]))
                    .sum();
            }
        }
        let mut out = vec![0.0; m * n];
        dequantize_product(&acc, &rs, &qw.scales, Some(&bias), &mut out);
        let wd = qw.dequantize();
        for r in 0..m {
            for j in 0..n {
                let want: f32 = (0..k)
                    .map(|t| f32::from(qx[r * k + t]) * rs[r] * wd[t * n + j])
                    .sum::<f32>()
                    + bias[j];
                assert!((out[r * n + j] - want).abs() < 1e-5);
                let exact: f32 = (0..k).map(|t| x[r * k + t] * w[t * n + j]).sum::<f32>() + bias[j];
                assert!(
                    (out[r * n + j] - exact).abs() < 0.05,
                    "{} vs {exact}",
                    out[r * n + j]
                );
            }
        }
    }

    #[test]
    fn sqnr_of_equal_signals_is_infinite_and_falls_with_noise() {
        let a = [1.0, -2.0, 3.0];
        assert_eq!(sqnr_db(&a, &a), f64::INFINITY);
        let small = sqnr_db(&a, &[1.01, -2.0, 3.0]);
        let big = sqnr_db(&a, &[1.5, -2.0, 3.0]);
        assert!(small > big && big > 0.0);
    }
}

//! Kernel bodies written once over a small vector trait, instantiated per instruction
//! set in `x86` and `neon`. Each body handles whole vectors and hands the tail to its
//! scalar twin, whose operation order it shares.

#![allow(dead_code)]

use super::{scalar, Border};
use crate::corrupt::detmath::LN2_F32;

/// The vector operations the kernels need. Implementations are `#[target_feature]`
/// functions; callers must only use a type whose instruction set the CPU has.
pub(super) trait Simd: Copy {
    const LANES: usize;
    type F: Copy;
    type U: Copy;
    type M: Copy;

    unsafe fn splat(v: f32) -> Self::F;
    unsafe fn load(p: *const f32) -> Self::F;
    unsafe fn store(p: *mut f32, v: Self::F);
    unsafe fn add(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn sub(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn mul(a: Self::F, b: Self::F) -> Self::F;
    /// `a * b + c` with one rounding (the scalar twins use `f32::mul_add`).
    unsafe fn fma(a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    unsafe fn div(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn min(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn max(a: Self::F, b: Self::F) -> Self::F;
    unsafe fn sqrt(a: Self::F) -> Self::F;
    unsafe fn floor(a: Self::F) -> Self::F;
    /// Lane-wise a > b.
    unsafe fn gt(a: Self::F, b: Self::F) -> Self::M;
    /// Lane-wise a == b.
    unsafe fn eq(a: Self::F, b: Self::F) -> Self::M;
    unsafe fn and_m(a: Self::M, b: Self::M) -> Self::M;
    /// m ? a : b.
    unsafe fn select(m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    /// True when any lane of m is set.
    unsafe fn any(m: Self::M) -> bool;
    /// True when every lane of m is set.
    unsafe fn all(m: Self::M) -> bool;

    unsafe fn u_splat(v: u32) -> Self::U;
    /// 0, 1, 2, ... LANES - 1.
    unsafe fn u_iota() -> Self::U;
    unsafe fn u_add(a: Self::U, b: Self::U) -> Self::U;
    unsafe fn u_xor(a: Self::U, b: Self::U) -> Self::U;
    unsafe fn u_and(a: Self::U, b: Self::U) -> Self::U;
    unsafe fn u_mul(a: Self::U, b: Self::U) -> Self::U;
    unsafe fn u_shr(a: Self::U, n: i32) -> Self::U;
    /// u32 lanes below 2^31 to f32.
    unsafe fn u_to_f(a: Self::U) -> Self::F;
    /// f32 lanes to i32 by truncation (in-range values only), as u32 bits.
    unsafe fn f_to_i(a: Self::F) -> Self::U;
    unsafe fn bits_to_f(a: Self::U) -> Self::F;
    unsafe fn f_to_bits(a: Self::F) -> Self::U;
    /// Loads `base[idx[l]]` per lane.
    unsafe fn gather(base: *const f32, idx: Self::U) -> Self::F;
    /// Loads LANES u32 values.
    unsafe fn u_load(p: *const u32) -> Self::U;
    /// Stores LANES u32 values.
    unsafe fn u_store(p: *mut u32, v: Self::U);
    /// `base[idx[l]]` per lane for indices below `2 * LANES`, reading all of
    /// `base[..2 * LANES]`: a gather from a short window, done with permutes where the
    /// instruction set has them.
    unsafe fn window(base: *const f32, idx: Self::U) -> Self::F;
}

#[inline(always)]
unsafe fn mix<S: Simd>(x: S::U) -> S::U {
    let x = S::u_xor(x, S::u_shr(x, 16));
    let x = S::u_mul(x, S::u_splat(0x7feb_352d));
    let x = S::u_xor(x, S::u_shr(x, 15));
    let x = S::u_mul(x, S::u_splat(0x846c_a68b));
    S::u_xor(x, S::u_shr(x, 16))
}

#[inline(always)]
unsafe fn hash<S: Simd>(k0: u32, k1: u32, ctr: S::U, hi: u32) -> S::U {
    let a = mix::<S>(S::u_xor(ctr, S::u_splat(k0)));
    mix::<S>(S::u_xor(a, S::u_splat(hi.wrapping_add(k1))))
}

#[inline(always)]
unsafe fn unit<S: Simd>(h: S::U) -> S::F {
    S::mul(S::u_to_f(S::u_shr(h, 8)), S::splat(1.0 / 16_777_216.0))
}

#[inline(always)]
unsafe fn unit_open<S: Simd>(h: S::U) -> S::F {
    let v = S::u_add(S::u_shr(h, 8), S::u_splat(1));
    S::mul(S::u_to_f(v), S::splat(1.0 / 16_777_216.0))
}

#[inline(always)]
pub(super) unsafe fn fill_uniform<S: Simd>(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
    let n = out.len();
    let p = out.as_mut_ptr();
    let mut i = 0;
    while i + S::LANES <= n {
        let ctr = S::u_add(S::u_splat(lo.wrapping_add(i as u32)), S::u_iota());
        S::store(p.add(i), unit::<S>(hash::<S>(k0, k1, ctr, hi)));
        i += S::LANES;
    }
    scalar::fill_uniform(k0, k1, lo.wrapping_add(i as u32), hi, &mut out[i..]);
}

/// ln of positive normal lanes; the twin of `detmath::ln_f32`.
#[inline(always)]
unsafe fn ln<S: Simd>(x: S::F) -> S::F {
    let bits = S::f_to_bits(x);
    let e = S::u_and(S::u_shr(bits, 23), S::u_splat(0xff));
    let m = S::bits_to_f(S::u_xor(
        S::u_and(bits, S::u_splat(0x007f_ffff)),
        S::u_splat(0x3f80_0000),
    ));
    let big = S::gt(m, S::splat(std::f32::consts::SQRT_2));
    let m = S::select(big, S::mul(m, S::splat(0.5)), m);
    // e - 127 as f32: e < 2^8 converts exactly, then subtract exactly.
    let e = S::sub(S::u_to_f(e), S::splat(127.0));
    let e = S::add(e, S::select(big, S::splat(1.0), S::splat(0.0)));
    let one = S::splat(1.0);
    let s = S::div(S::sub(m, one), S::add(m, one));
    let s2 = S::mul(s, s);
    let mut p = S::splat(1.0 / 9.0);
    p = S::add(S::splat(1.0 / 7.0), S::mul(s2, p));
    p = S::add(S::splat(1.0 / 5.0), S::mul(s2, p));
    p = S::add(S::splat(1.0 / 3.0), S::mul(s2, p));
    let p = S::mul(s2, p);
    let two_s = S::add(s, s);
    S::add(
        S::mul(e, S::splat(LN2_F32)),
        S::add(two_s, S::mul(two_s, p)),
    )
}

/// (cos 2πu, sin 2πu); the twin of `detmath::sincos_turn_f32`.
#[inline(always)]
unsafe fn sincos_turn<S: Simd>(u: S::F) -> (S::F, S::F) {
    let w = S::add(S::mul(u, S::splat(4.0)), S::splat(0.5));
    let f = S::floor(w);
    let q = S::u_and(S::f_to_i(f), S::u_splat(3));
    let theta = S::mul(
        S::sub(S::sub(w, f), S::splat(0.5)),
        S::splat(std::f32::consts::FRAC_PI_2),
    );
    let t = S::mul(theta, theta);
    let mut sp = S::splat(1.0 / 362_880.0);
    sp = S::add(S::splat(-1.0 / 5040.0), S::mul(t, sp));
    sp = S::add(S::splat(1.0 / 120.0), S::mul(t, sp));
    sp = S::add(S::splat(-1.0 / 6.0), S::mul(t, sp));
    sp = S::add(S::splat(1.0), S::mul(t, sp));
    let s = S::mul(theta, sp);
    let mut c = S::splat(1.0 / 40320.0);
    c = S::add(S::splat(-1.0 / 720.0), S::mul(t, c));
    c = S::add(S::splat(1.0 / 24.0), S::mul(t, c));
    c = S::add(S::splat(-0.5), S::mul(t, c));
    c = S::add(S::splat(1.0), S::mul(t, c));
    // Rotate (c, s) by q quarter turns.
    let qf = S::u_to_f(q);
    let zero = S::splat(0.0);
    let neg_s = S::sub(zero, s);
    let neg_c = S::sub(zero, c);
    let q1 = S::eq(qf, S::splat(1.0));
    let q2 = S::eq(qf, S::splat(2.0));
    let q3 = S::eq(qf, S::splat(3.0));
    let cos = S::select(q1, neg_s, S::select(q2, neg_c, S::select(q3, s, c)));
    let sin = S::select(q1, c, S::select(q2, neg_s, S::select(q3, neg_c, s)));
    (cos, sin)
}

/// Normals in the 16-block layout of `scalar::fill_normal`, for LANES <= 8.
#[inline(always)]
pub(super) unsafe fn fill_normal<S: Simd>(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
    debug_assert!(S::LANES <= 8 && 8 % S::LANES == 0);
    let n = out.len();
    let p = out.as_mut_ptr();
    let mut base = 0;
    while base + 16 <= n {
        let mut j = 0;
        while j < 8 {
            let c1 = S::u_add(S::u_splat(lo.wrapping_add((base + j) as u32)), S::u_iota());
            let c2 = S::u_add(c1, S::u_splat(8));
            let u1 = unit_open::<S>(hash::<S>(k0, k1, c1, hi));
            let u2 = unit::<S>(hash::<S>(k0, k1, c2, hi));
            let r = S::sqrt(S::mul(S::splat(-2.0), ln::<S>(u1)));
            let (c, s) = sincos_turn::<S>(u2);
            S::store(p.add(base + j), S::mul(r, c));
            S::store(p.add(base + j + 8), S::mul(r, s));
            j += S::LANES;
        }
        base += 16;
    }
    scalar::fill_normal(k0, k1, lo.wrapping_add(base as u32), hi, &mut out[base..]);
}

/// Applies `f` to each whole vector of `x` in place, `g` (the scalar twin) to the tail.
#[inline(always)]
unsafe fn map1<S: Simd>(x: &mut [f32], f: impl Fn(S::F) -> S::F, g: impl FnOnce(&mut [f32])) {
    let n = x.len();
    let p = x.as_mut_ptr();
    let mut i = 0;
    while i + S::LANES <= n {
        S::store(p.add(i), f(S::load(p.add(i))));
        i += S::LANES;
    }
    g(&mut x[i..]);
}

/// Like `map1` with a second, read-only operand.
#[inline(always)]
unsafe fn map2<S: Simd>(
    x: &mut [f32],
    y: &[f32],
    f: impl Fn(S::F, S::F) -> S::F,
    g: impl FnOnce(&mut [f32], &[f32]),
) {
    let n = x.len().min(y.len());
    let p = x.as_mut_ptr();
    let q = y.as_ptr();
    let mut i = 0;
    while i + S::LANES <= n {
        S::store(p.add(i), f(S::load(p.add(i)), S::load(q.add(i))));
        i += S::LANES;
    }
    g(&mut x[i..n], &y[i..n]);
}

#[inline(always)]
unsafe fn clamp<S: Simd>(v: S::F) -> S::F {
    S::min(S::max(v, S::splat(0.0)), S::splat(1.0))
}

#[inline(always)]
pub(super) unsafe fn clamp01<S: Simd>(x: &mut [f32]) {
    map1::<S>(x, |v| clamp::<S>(v), scalar::clamp01);
}

#[inline(always)]
pub(super) unsafe fn affine<S: Simd>(x: &mut [f32], a: f32, b: f32) {
    let (va, vb) = (S::splat(a), S::splat(b));
    map1::<S>(
        x,
        |v| S::add(S::mul(v, va), vb),
        |t| scalar::affine(t, a, b),
    );
}

#[inline(always)]
pub(super) unsafe fn affine_clamp<S: Simd>(x: &mut [f32], a: f32, b: f32) {
    let (va, vb) = (S::splat(a), S::splat(b));
    map1::<S>(
        x,
        |v| clamp::<S>(S::add(S::mul(v, va), vb)),
        |t| scalar::affine_clamp(t, a, b),
    );
}

#[inline(always)]
pub(super) unsafe fn add_scaled_clamp<S: Simd>(x: &mut [f32], n: &[f32], s: f32) {
    let vs = S::splat(s);
    map2::<S>(
        x,
        n,
        |v, z| clamp::<S>(S::add(v, S::mul(vs, z))),
        |a, b| scalar::add_scaled_clamp(a, b, s),
    );
}

#[inline(always)]
pub(super) unsafe fn speckle_clamp<S: Simd>(x: &mut [f32], n: &[f32], s: f32) {
    let vs = S::splat(s);
    map2::<S>(
        x,
        n,
        |v, z| clamp::<S>(S::add(v, S::mul(v, S::mul(vs, z)))),
        |a, b| scalar::speckle_clamp(a, b, s),
    );
}

#[inline(always)]
pub(super) unsafe fn weighted_sum_clamp<S: Simd>(x: &mut [f32], y: &[f32], a: f32, b: f32) {
    let (va, vb) = (S::splat(a), S::splat(b));
    map2::<S>(
        x,
        y,
        |v, w| clamp::<S>(S::add(S::mul(va, v), S::mul(vb, w))),
        |p, q| scalar::weighted_sum_clamp(p, q, a, b),
    );
}

#[inline(always)]
pub(super) unsafe fn axpy<S: Simd>(acc: &mut [f32], x: &[f32], a: f32) {
    let va = S::splat(a);
    map2::<S>(
        acc,
        x,
        |o, v| S::add(o, S::mul(va, v)),
        |p, q| scalar::axpy(p, q, a),
    );
}

/// Runs a kernel over columns `0..n` in blocks: `f4(x)` handles the four vectors from
/// column x (four independent chains hide the add latency), `f1(x)` one. The last block
/// may overlap the one before, which is harmless because every output depends only on
/// the inputs; a whole overlapping block of four costs about what one lone vector's
/// latency-bound chain does. Returns where the scalar twin must take over (`n`, unless
/// `n < LANES`).
#[inline(always)]
unsafe fn drive_blocks<S: Simd>(
    n: usize,
    mut f4: impl FnMut(usize),
    mut f1: impl FnMut(usize),
) -> usize {
    let mut x = 0;
    while x < n && n >= 4 * S::LANES {
        x = x.min(n - 4 * S::LANES);
        f4(x);
        x += 4 * S::LANES;
    }
    while x < n && n >= S::LANES {
        x = x.min(n - S::LANES);
        f1(x);
        x += S::LANES;
    }
    x
}

/// [`drive_blocks`] for a kernel with one output row: `f4(x)` and `f1(x)` return the
/// vectors to store at column x.
#[inline(always)]
unsafe fn drive_row<S: Simd>(
    n: usize,
    po: *mut f32,
    f4: impl Fn(usize) -> [S::F; 4],
    f1: impl Fn(usize) -> [S::F; 1],
) -> usize {
    drive_blocks::<S>(
        n,
        |x| {
            for (j, &vj) in f4(x).iter().enumerate() {
                S::store(po.add(x + j * S::LANES), vj);
            }
        },
        |x| S::store(po.add(x), f1(x)[0]),
    )
}

#[inline(always)]
unsafe fn weighted_rows_at<S: Simd, const V: usize>(
    rows: &[&[f32]],
    k: &[f32],
    x: usize,
) -> [S::F; V] {
    let mut a = [S::splat(0.0); V];
    for (row, &kt) in rows.iter().zip(k) {
        let kv = S::splat(kt);
        let p = row.as_ptr().add(x);
        for (j, aj) in a.iter_mut().enumerate() {
            *aj = S::add(*aj, S::mul(kv, S::load(p.add(j * S::LANES))));
        }
    }
    a
}

#[inline(always)]
pub(super) unsafe fn weighted_rows<S: Simd>(rows: &[&[f32]], k: &[f32], out: &mut [f32]) {
    let n = out.len();
    let x = drive_row::<S>(
        n,
        out.as_mut_ptr(),
        |x| weighted_rows_at::<S, 4>(rows, k, x),
        |x| weighted_rows_at::<S, 1>(rows, k, x),
    );
    if x < n {
        let tails: Vec<&[f32]> = rows.iter().map(|r| &r[x..]).collect();
        scalar::weighted_rows(&tails, k, &mut out[x..]);
    }
}

/// `kh[0] * rows[r] + kh[1] * (rows[r - 1] + rows[r + 1]) + ...` with r = kh.len() - 1,
/// each pair added, then fused into the sum.
#[inline(always)]
unsafe fn weighted_rows_sym_at<S: Simd, const V: usize>(
    rows: &[&[f32]],
    kh: &[f32],
    x: usize,
) -> [S::F; V] {
    let r = kh.len() - 1;
    let centre = rows[r].as_ptr().add(x);
    let k0 = S::splat(kh[0]);
    let mut a = [S::splat(0.0); V];
    for (j, aj) in a.iter_mut().enumerate() {
        *aj = S::mul(k0, S::load(centre.add(j * S::LANES)));
    }
    for (d, &kt) in kh.iter().enumerate().skip(1) {
        let kv = S::splat(kt);
        let (lo, hi) = (rows[r - d].as_ptr().add(x), rows[r + d].as_ptr().add(x));
        for (j, aj) in a.iter_mut().enumerate() {
            let o = j * S::LANES;
            *aj = S::fma(kv, S::add(S::load(lo.add(o)), S::load(hi.add(o))), *aj);
        }
    }
    a
}

#[inline(always)]
pub(super) unsafe fn weighted_rows_sym<S: Simd>(rows: &[&[f32]], kh: &[f32], out: &mut [f32]) {
    let n = out.len();
    let x = drive_row::<S>(
        n,
        out.as_mut_ptr(),
        |x| weighted_rows_sym_at::<S, 4>(rows, kh, x),
        |x| weighted_rows_sym_at::<S, 1>(rows, kh, x),
    );
    if x < n {
        let tails: Vec<&[f32]> = rows.iter().map(|r| &r[x..]).collect();
        scalar::weighted_rows_sym(&tails, kh, &mut out[x..]);
    }
}

/// [`weighted_rows_sym_at`] for two consecutive output rows (centres `rows[r]` and
/// `rows[r + 1]`) at once: each row loaded serves both, halving the loads per output.
#[inline(always)]
unsafe fn weighted_rows_sym2_at<S: Simd, const V: usize>(
    rows: &[&[f32]],
    kh: &[f32],
    x: usize,
) -> ([S::F; V], [S::F; V]) {
    let r = kh.len() - 1;
    let k0 = S::splat(kh[0]);
    let (c0, c1) = (rows[r].as_ptr().add(x), rows[r + 1].as_ptr().add(x));
    let mut a0 = [S::splat(0.0); V];
    let mut a1 = [S::splat(0.0); V];
    // Row r - d + 1 (the upper partner of output 1) and row r + d (the lower partner of
    // output 0), carried from the step before.
    let mut up = [S::splat(0.0); V];
    let mut down = [S::splat(0.0); V];
    for j in 0..V {
        let o = j * S::LANES;
        up[j] = S::load(c0.add(o));
        down[j] = S::load(c1.add(o));
        a0[j] = S::mul(k0, up[j]);
        a1[j] = S::mul(k0, down[j]);
    }
    for (d, &kt) in kh.iter().enumerate().skip(1) {
        let kv = S::splat(kt);
        let (lo, hi) = (rows[r - d].as_ptr().add(x), rows[r + 1 + d].as_ptr().add(x));
        for j in 0..V {
            let o = j * S::LANES;
            let (l, h) = (S::load(lo.add(o)), S::load(hi.add(o)));
            a0[j] = S::fma(kv, S::add(l, down[j]), a0[j]);
            a1[j] = S::fma(kv, S::add(up[j], h), a1[j]);
            up[j] = l;
            down[j] = h;
        }
    }
    (a0, a1)
}

/// Two output rows of [`weighted_rows_sym`]: `rows` holds 2r + 2 rows, `out0` is
/// centred on `rows[r]`, `out1` on `rows[r + 1]`; the bits are those of two single calls.
#[inline(always)]
pub(super) unsafe fn weighted_rows_sym2<S: Simd>(
    rows: &[&[f32]],
    kh: &[f32],
    out0: &mut [f32],
    out1: &mut [f32],
) {
    let n = out0.len();
    let (p0, p1) = (out0.as_mut_ptr(), out1.as_mut_ptr());
    let x = drive_blocks::<S>(
        n,
        |x| {
            let (v0, v1) = weighted_rows_sym2_at::<S, 4>(rows, kh, x);
            for j in 0..4 {
                S::store(p0.add(x + j * S::LANES), v0[j]);
                S::store(p1.add(x + j * S::LANES), v1[j]);
            }
        },
        |x| {
            let (v0, v1) = weighted_rows_sym2_at::<S, 1>(rows, kh, x);
            S::store(p0.add(x), v0[0]);
            S::store(p1.add(x), v1[0]);
        },
    );
    if x < n {
        let tails: Vec<&[f32]> = rows.iter().map(|r| &r[x..]).collect();
        scalar::weighted_rows_sym2(&tails, kh, &mut out0[x..], &mut out1[x..]);
    }
}

#[inline(always)]
pub(super) unsafe fn lerp<S: Simd>(a: &[f32], b: &[f32], t: f32, out: &mut [f32]) {
    let n = out.len();
    let vt = S::splat(t);
    let (pa, pb, po) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    while i + S::LANES <= n {
        let x = S::load(pa.add(i));
        let y = S::load(pb.add(i));
        S::store(po.add(i), S::add(x, S::mul(vt, S::sub(y, x))));
        i += S::LANES;
    }
    scalar::lerp(&a[i..n], &b[i..n], t, &mut out[i..]);
}

#[inline(always)]
unsafe fn convolve_padded_row_at<S: Simd, const V: usize>(
    pp: *const f32,
    k: &[f32],
    x: usize,
) -> [S::F; V] {
    let mut a = [S::splat(0.0); V];
    for (t, &kt) in k.iter().enumerate() {
        let kv = S::splat(kt);
        for (j, aj) in a.iter_mut().enumerate() {
            *aj = S::add(*aj, S::mul(kv, S::load(pp.add(x + j * S::LANES + t))));
        }
    }
    a
}

#[inline(always)]
pub(super) unsafe fn convolve_padded_row<S: Simd>(padded: &[f32], k: &[f32], out: &mut [f32]) {
    let n = out.len();
    let pp = padded.as_ptr();
    let x = drive_row::<S>(
        n,
        out.as_mut_ptr(),
        |x| convolve_padded_row_at::<S, 4>(pp, k, x),
        |x| convolve_padded_row_at::<S, 1>(pp, k, x),
    );
    if x < n {
        scalar::convolve_padded_row(&padded[x..], k, &mut out[x..]);
    }
}

#[inline(always)]
unsafe fn convolve_padded_row_sym_at<S: Simd, const V: usize>(
    pp: *const f32,
    kh: &[f32],
    x: usize,
) -> [S::F; V] {
    let centre = pp.add(x + kh.len() - 1);
    let k0 = S::splat(kh[0]);
    let mut a = [S::splat(0.0); V];
    for (j, aj) in a.iter_mut().enumerate() {
        *aj = S::mul(k0, S::load(centre.add(j * S::LANES)));
    }
    for (d, &kt) in kh.iter().enumerate().skip(1) {
        let kv = S::splat(kt);
        for (j, aj) in a.iter_mut().enumerate() {
            let c = centre.add(j * S::LANES);
            *aj = S::fma(kv, S::add(S::load(c.sub(d)), S::load(c.add(d))), *aj);
        }
    }
    a
}

#[inline(always)]
pub(super) unsafe fn convolve_padded_row_sym<S: Simd>(padded: &[f32], kh: &[f32], out: &mut [f32]) {
    let n = out.len();
    let pp = padded.as_ptr();
    let x = drive_row::<S>(
        n,
        out.as_mut_ptr(),
        |x| convolve_padded_row_sym_at::<S, 4>(pp, kh, x),
        |x| convolve_padded_row_sym_at::<S, 1>(pp, kh, x),
    );
    if x < n {
        scalar::convolve_padded_row_sym(&padded[x..], kh, &mut out[x..]);
    }
}

#[inline(always)]
pub(super) unsafe fn rgb_to_hsv<S: Simd>(r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    let n = r.len();
    let (pr, pg, pb) = (r.as_mut_ptr(), g.as_mut_ptr(), b.as_mut_ptr());
    let zero = S::splat(0.0);
    let mut i = 0;
    while i + S::LANES <= n {
        let (vr, vg, vb) = (S::load(pr.add(i)), S::load(pg.add(i)), S::load(pb.add(i)));
        let v = S::max(S::max(vr, vg), vb);
        let delta = S::sub(v, S::min(S::min(vr, vg), vb));
        let grey = S::eq(delta, zero);
        let s = S::div(delta, v);
        let h_r = S::div(S::sub(vg, vb), delta);
        let h_g = S::add(S::splat(2.0), S::div(S::sub(vb, vr), delta));
        let h_b = S::add(S::splat(4.0), S::div(S::sub(vr, vg), delta));
        let h6 = S::select(S::eq(vb, v), h_b, S::select(S::eq(vg, v), h_g, h_r));
        let h = S::div(h6, S::splat(6.0));
        let h = S::sub(h, S::floor(h));
        S::store(pr.add(i), S::select(grey, zero, h));
        S::store(pg.add(i), S::select(grey, zero, s));
        S::store(pb.add(i), v);
        i += S::LANES;
    }
    scalar::rgb_to_hsv(&mut r[i..], &mut g[i..], &mut b[i..]);
}

#[inline(always)]
pub(super) unsafe fn hsv_to_rgb<S: Simd>(h: &mut [f32], s: &mut [f32], v: &mut [f32]) {
    let n = h.len();
    let (ph, ps, pv) = (h.as_mut_ptr(), s.as_mut_ptr(), v.as_mut_ptr());
    let one = S::splat(1.0);
    let mut i = 0;
    while i + S::LANES <= n {
        let (vh, vs, vv) = (S::load(ph.add(i)), S::load(ps.add(i)), S::load(pv.add(i)));
        let h6 = S::mul(vh, S::splat(6.0));
        let hi = S::floor(h6);
        let f = S::sub(h6, hi);
        let p = S::mul(vv, S::sub(one, vs));
        let q = S::mul(vv, S::sub(one, S::mul(f, vs)));
        let t = S::mul(vv, S::sub(one, S::mul(S::sub(one, f), vs)));
        // hi mod 6 for the hue range the engine produces (h in [0, 1], so hi in 0..=6).
        let six = S::splat(6.0);
        let sector = S::select(S::gt(hi, S::splat(5.0)), S::sub(hi, six), hi);
        let sector = S::select(S::gt(S::splat(0.0), sector), S::add(sector, six), sector);
        let is = |k: f32| S::eq(sector, S::splat(k));
        let r = S::select(
            is(0.0),
            vv,
            S::select(
                is(1.0),
                q,
                S::select(is(2.0), p, S::select(is(3.0), p, S::select(is(4.0), t, vv))),
            ),
        );
        let g = S::select(
            is(0.0),
            t,
            S::select(
                is(1.0),
                vv,
                S::select(is(2.0), vv, S::select(is(3.0), q, S::select(is(4.0), p, p))),
            ),
        );
        let b = S::select(
            is(0.0),
            p,
            S::select(
                is(1.0),
                p,
                S::select(
                    is(2.0),
                    t,
                    S::select(is(3.0), vv, S::select(is(4.0), vv, q)),
                ),
            ),
        );
        // Hues outside [-6, 12) take the scalar path so both agree on every input.
        let odd = S::gt(S::splat(0.0), sector);
        let odd2 = S::gt(sector, S::splat(5.0));
        if S::any(odd) || S::any(odd2) {
            scalar::hsv_to_rgb(
                &mut h[i..i + S::LANES],
                &mut s[i..i + S::LANES],
                &mut v[i..i + S::LANES],
            );
        } else {
            S::store(ph.add(i), r);
            S::store(ps.add(i), g);
            S::store(pv.add(i), b);
        }
        i += S::LANES;
    }
    scalar::hsv_to_rgb(&mut h[i..], &mut s[i..], &mut v[i..]);
}

#[inline(always)]
pub(super) unsafe fn remap_bilinear<S: Simd>(
    src: &[f32],
    w: usize,
    h: usize,
    map_x: &[f32],
    map_y: &[f32],
    dst: &mut [f32],
    border: Border,
) {
    let n = dst.len();
    let (px, py, pd) = (map_x.as_ptr(), map_y.as_ptr(), dst.as_mut_ptr());
    let base = src.as_ptr();
    // Vector lanes only where all four neighbours are inside; others take the scalar
    // twin (same arithmetic), so borders never need vector index logic.
    let lo = S::splat(0.0);
    let hx = S::splat((w as f32) - 1.0);
    let hy = S::splat((h as f32) - 1.0);
    let wv = S::u_splat(w as u32);
    let mut i = 0;
    while i + S::LANES <= n {
        let x = S::load(px.add(i));
        let y = S::load(py.add(i));
        let x0 = S::floor(x);
        let y0 = S::floor(y);
        let inside = S::and_m(
            S::and_m(S::gt(hx, x0), S::gt(x0, S::sub(lo, S::splat(1.0)))),
            S::and_m(S::gt(hy, y0), S::gt(y0, S::sub(lo, S::splat(1.0)))),
        );
        if S::all(inside) {
            let fx = S::sub(x, x0);
            let fy = S::sub(y, y0);
            let idx = S::u_add(S::u_mul(S::f_to_i(y0), wv), S::f_to_i(x0));
            let a = S::gather(base, idx);
            let b = S::gather(base.add(1), idx);
            let c = S::gather(base.add(w), idx);
            let d = S::gather(base.add(w + 1), idx);
            let top = S::add(a, S::mul(fx, S::sub(b, a)));
            let bot = S::add(c, S::mul(fx, S::sub(d, c)));
            S::store(pd.add(i), S::add(top, S::mul(fy, S::sub(bot, top))));
        } else {
            scalar::remap_bilinear(
                src,
                w,
                h,
                &map_x[i..i + S::LANES],
                &map_y[i..i + S::LANES],
                &mut dst[i..i + S::LANES],
                border,
            );
        }
        i += S::LANES;
    }
    scalar::remap_bilinear(src, w, h, &map_x[i..], &map_y[i..], &mut dst[i..], border);
}

/// The vector twin of `scalar::lerp_taps_acc`. Where a vector's taps lie within
/// `2 * LANES` consecutive samples (any resampling that does not shrink by more than 2)
/// they come from two loads and permutes instead of gathers.
#[inline(always)]
pub(super) unsafe fn lerp_taps_acc<S: Simd>(
    row: &[f32],
    idx: &[u32],
    frac: &[f32],
    acc: &mut [f32],
) {
    let n = acc.len().min(idx.len()).min(frac.len());
    let (pr, pi, pf, pa) = (row.as_ptr(), idx.as_ptr(), frac.as_ptr(), acc.as_mut_ptr());
    let one = S::u_splat(1);
    // Local index l + 1 must stay below 2 * LANES, so l <= 2 * LANES - 2.
    let top = S::splat((2 * S::LANES - 1) as f32);
    let below = S::splat(-1.0);
    let mut i = 0;
    while i + S::LANES <= n {
        let iv = S::u_load(pi.add(i));
        let lo = *pi.add(i);
        // Lanes below `lo` wrap to huge u32s, negative as i32, so one float range test
        // catches both sides.
        let local = S::u_add(iv, S::u_splat(lo.wrapping_neg()));
        let lf = S::u_to_f(local);
        let fits = S::all(S::and_m(S::gt(top, lf), S::gt(lf, below)));
        let (a, b) = if fits && lo as usize + 2 * S::LANES <= row.len() {
            let base = pr.add(lo as usize);
            (
                S::window(base, local),
                S::window(base, S::u_add(local, one)),
            )
        } else {
            (S::gather(pr, iv), S::gather(pr.add(1), iv))
        };
        let v = S::add(a, S::mul(S::load(pf.add(i)), S::sub(b, a)));
        S::store(pa.add(i), S::add(S::load(pa.add(i)), v));
        i += S::LANES;
    }
    scalar::lerp_taps_acc(row, &idx[i..n], &frac[i..n], &mut acc[i..n]);
}

/// `V` vectors of [`nested_col_sums`] from column x: independent chains, so the adds
/// overlap instead of waiting on each other.
#[inline(always)]
unsafe fn nested_col_sums_at<S: Simd, const V: usize>(
    rows: &[&[f32]],
    levels: &[usize],
    po: *mut f32,
    stride: usize,
    x: usize,
) {
    let t = rows.len() / 2;
    let mut s = [S::splat(0.0); V];
    for (i, si) in s.iter_mut().enumerate() {
        *si = S::load(rows[t].as_ptr().add(x + i * S::LANES));
    }
    let mut j = 0;
    for a in 0..=levels[levels.len() - 1] {
        if a > 0 {
            let (lo, hi) = (rows[t - a].as_ptr().add(x), rows[t + a].as_ptr().add(x));
            for (i, si) in s.iter_mut().enumerate() {
                let o = i * S::LANES;
                *si = S::add(*si, S::add(S::load(lo.add(o)), S::load(hi.add(o))));
            }
        }
        if levels[j] == a {
            for (i, &si) in s.iter().enumerate() {
                S::store(po.add(j * stride + x + i * S::LANES), si);
            }
            j += 1;
        }
    }
}

#[inline(always)]
pub(super) unsafe fn nested_col_sums<S: Simd>(
    rows: &[&[f32]],
    levels: &[usize],
    out: &mut [f32],
    stride: usize,
    n: usize,
) {
    let po = out.as_mut_ptr();
    let x = drive_blocks::<S>(
        n,
        |x| nested_col_sums_at::<S, 4>(rows, levels, po, stride, x),
        |x| nested_col_sums_at::<S, 1>(rows, levels, po, stride, x),
    );
    if x < n {
        let tails: Vec<&[f32]> = rows.iter().map(|r| &r[x..]).collect();
        scalar::nested_col_sums(&tails, levels, &mut out[x..], stride, n - x);
    }
}

#[inline(always)]
unsafe fn sum_rows_at<S: Simd, const V: usize>(
    first: &[f32],
    rest: &[&[f32]],
    x: usize,
) -> [S::F; V] {
    let mut a = [S::splat(0.0); V];
    for (j, aj) in a.iter_mut().enumerate() {
        *aj = S::load(first.as_ptr().add(x + j * S::LANES));
    }
    for row in rest {
        let p = row.as_ptr().add(x);
        for (j, aj) in a.iter_mut().enumerate() {
            *aj = S::add(*aj, S::load(p.add(j * S::LANES)));
        }
    }
    a
}

/// The vector twin of `scalar::sum_rows`.
#[inline(always)]
pub(super) unsafe fn sum_rows<S: Simd>(rows: &[&[f32]], out: &mut [f32]) {
    let Some((first, rest)) = rows.split_first() else {
        return;
    };
    let n = out.len();
    let x = drive_row::<S>(
        n,
        out.as_mut_ptr(),
        |x| sum_rows_at::<S, 4>(first, rest, x),
        |x| sum_rows_at::<S, 1>(first, rest, x),
    );
    if x < n {
        let tails: Vec<&[f32]> = rows.iter().map(|r| &r[x..]).collect();
        scalar::sum_rows(&tails, &mut out[x..]);
    }
}

/// The vector twin of `scalar::jitter_sources`.
#[inline(always)]
pub(super) unsafe fn jitter_sources<S: Simd>(
    u: &[f32],
    span: f32,
    base: u32,
    w: u32,
    out: &mut [u32],
) {
    let n = out.len().min(u.len());
    let (pu, po) = (u.as_ptr(), out.as_mut_ptr());
    let (vs, vw) = (S::splat(span), S::u_splat(w));
    // -j for the lanes, wrapping, so the index is a sum.
    let neg_iota = S::u_mul(S::u_iota(), S::u_splat(u32::MAX));
    let mut j = 0;
    while j + S::LANES <= n {
        let a = S::mul(S::load(pu.add(j)), vs);
        let dx = S::f_to_i(a);
        let dy = S::f_to_i(S::mul(S::sub(a, S::u_to_f(dx)), vs));
        let start = S::u_add(S::u_splat(base.wrapping_sub(j as u32)), neg_iota);
        let idx = S::u_add(S::u_add(start, S::u_mul(dy, vw)), dx);
        S::u_store(po.add(j), idx);
        j += S::LANES;
    }
    scalar::jitter_sources(
        &u[j..n],
        span,
        base.wrapping_sub(j as u32),
        w,
        &mut out[j..n],
    );
}

/// The vector twin of `scalar::pack_rgb8`.
#[inline(always)]
pub(super) unsafe fn pack_rgb8<S: Simd>(r: &[f32], g: &[f32], b: &[f32], out: &mut [u32]) {
    let n = out.len().min(r.len()).min(g.len()).min(b.len());
    let (pr, pg, pb, po) = (r.as_ptr(), g.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    let q = |v: S::F| S::f_to_i(S::mul(clamp::<S>(v), S::splat(255.0)));
    let mut i = 0;
    while i + S::LANES <= n {
        // The channels occupy disjoint bits, so adding the shifted bytes packs them.
        let v = S::u_add(
            q(S::load(pr.add(i))),
            S::u_add(
                S::u_mul(q(S::load(pg.add(i))), S::u_splat(1 << 8)),
                S::u_mul(q(S::load(pb.add(i))), S::u_splat(1 << 16)),
            ),
        );
        S::u_store(po.add(i), v);
        i += S::LANES;
    }
    scalar::pack_rgb8(&r[i..n], &g[i..n], &b[i..n], &mut out[i..n]);
}

/// The vector twin of `scalar::unpack_channel`.
#[inline(always)]
pub(super) unsafe fn unpack_channel<S: Simd>(px: &[u32], shift: u32, out: &mut [f32]) {
    let n = out.len().min(px.len());
    let (pp, po) = (px.as_ptr(), out.as_mut_ptr());
    let (mask, d) = (S::u_splat(0xff), S::splat(255.0));
    let mut i = 0;
    while i + S::LANES <= n {
        let byte = S::u_and(S::u_shr(S::u_load(pp.add(i)), shift as i32), mask);
        S::store(po.add(i), S::div(S::u_to_f(byte), d));
        i += S::LANES;
    }
    scalar::unpack_channel(&px[i..n], shift, &mut out[i..n]);
}

/// The vector twin of `scalar::impulses`.
#[inline(always)]
pub(super) unsafe fn impulses<S: Simd>(x: &mut [f32], u: &[f32], lo: f32, hi: f32) {
    let (vlo, vhi) = (S::splat(lo), S::splat(hi));
    let (zero, one) = (S::splat(0.0), S::splat(1.0));
    map2::<S>(
        x,
        u,
        |v, r| S::select(S::gt(vlo, r), zero, S::select(S::gt(vhi, r), one, v)),
        |a, b| scalar::impulses(a, b, lo, hi),
    );
}

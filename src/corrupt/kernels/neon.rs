//! aarch64 NEON path (4 lanes). NEON has no gather, so `gather` loads lane by lane.

use std::arch::aarch64::*;

use super::simd::{self, Simd};
use super::Border;

#[derive(Clone, Copy)]
pub(super) struct Neon;

impl Simd for Neon {
    const LANES: usize = 4;
    type F = float32x4_t;
    type U = uint32x4_t;
    type M = uint32x4_t;

    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn splat(v: f32) -> float32x4_t {
        vdupq_n_f32(v)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load(p: *const f32) -> float32x4_t {
        vld1q_f32(p)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn store(p: *mut f32, v: float32x4_t) {
        vst1q_f32(p, v)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vaddq_f32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn sub(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vsubq_f32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vmulq_f32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn fma(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        vfmaq_f32(c, a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn div(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vdivq_f32(a, b)
    }
    // fminnm/fmaxnm return the non-NaN operand, as f32::min/max do.
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn min(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vminnmq_f32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vmaxnmq_f32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn sqrt(a: float32x4_t) -> float32x4_t {
        vsqrtq_f32(a)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn floor(a: float32x4_t) -> float32x4_t {
        vrndmq_f32(a)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn gt(a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        vcgtq_f32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn eq(a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        vceqq_f32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn and_m(a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        vandq_u32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn select(m: uint32x4_t, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vbslq_f32(m, a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn any(m: uint32x4_t) -> bool {
        vmaxvq_u32(m) != 0
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn all(m: uint32x4_t) -> bool {
        vminvq_u32(m) != 0
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_splat(v: u32) -> uint32x4_t {
        vdupq_n_u32(v)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_iota() -> uint32x4_t {
        let v: [u32; 4] = [0, 1, 2, 3];
        vld1q_u32(v.as_ptr())
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_add(a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        vaddq_u32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_xor(a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        veorq_u32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_and(a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        vandq_u32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_mul(a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        vmulq_u32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_shr(a: uint32x4_t, n: i32) -> uint32x4_t {
        vshlq_u32(a, vdupq_n_s32(-n))
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_to_f(a: uint32x4_t) -> float32x4_t {
        vcvtq_f32_s32(vreinterpretq_s32_u32(a))
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn f_to_i(a: float32x4_t) -> uint32x4_t {
        vreinterpretq_u32_s32(vcvtq_s32_f32(a))
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn bits_to_f(a: uint32x4_t) -> float32x4_t {
        vreinterpretq_f32_u32(a)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn f_to_bits(a: float32x4_t) -> uint32x4_t {
        vreinterpretq_u32_f32(a)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn gather(base: *const f32, idx: uint32x4_t) -> float32x4_t {
        let mut i = [0u32; 4];
        vst1q_u32(i.as_mut_ptr(), idx);
        let v = [
            *base.add(i[0] as usize),
            *base.add(i[1] as usize),
            *base.add(i[2] as usize),
            *base.add(i[3] as usize),
        ];
        vld1q_f32(v.as_ptr())
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_load(p: *const u32) -> uint32x4_t {
        vld1q_u32(p)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn u_store(p: *mut u32, v: uint32x4_t) {
        vst1q_u32(p, v)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn window(base: *const f32, idx: uint32x4_t) -> float32x4_t {
        Self::gather(base, idx)
    }
}

#[target_feature(enable = "neon")]
pub unsafe fn fill_uniform(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
    simd::fill_uniform::<Neon>(k0, k1, lo, hi, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn fill_normal(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
    simd::fill_normal::<Neon>(k0, k1, lo, hi, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn clamp01(x: &mut [f32]) {
    simd::clamp01::<Neon>(x)
}
#[target_feature(enable = "neon")]
pub unsafe fn affine(x: &mut [f32], a: f32, b: f32) {
    simd::affine::<Neon>(x, a, b)
}
#[target_feature(enable = "neon")]
pub unsafe fn affine_clamp(x: &mut [f32], a: f32, b: f32) {
    simd::affine_clamp::<Neon>(x, a, b)
}
#[target_feature(enable = "neon")]
pub unsafe fn add_scaled_clamp(x: &mut [f32], n: &[f32], s: f32) {
    simd::add_scaled_clamp::<Neon>(x, n, s)
}
#[target_feature(enable = "neon")]
pub unsafe fn speckle_clamp(x: &mut [f32], n: &[f32], s: f32) {
    simd::speckle_clamp::<Neon>(x, n, s)
}
#[target_feature(enable = "neon")]
pub unsafe fn weighted_sum_clamp(x: &mut [f32], y: &[f32], a: f32, b: f32) {
    simd::weighted_sum_clamp::<Neon>(x, y, a, b)
}
#[target_feature(enable = "neon")]
pub unsafe fn lerp(a: &[f32], b: &[f32], t: f32, out: &mut [f32]) {
    simd::lerp::<Neon>(a, b, t, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn weighted_rows(rows: &[&[f32]], k: &[f32], out: &mut [f32]) {
    simd::weighted_rows::<Neon>(rows, k, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn axpy(acc: &mut [f32], x: &[f32], a: f32) {
    simd::axpy::<Neon>(acc, x, a)
}
#[target_feature(enable = "neon")]
pub unsafe fn convolve_padded_row(padded: &[f32], k: &[f32], out: &mut [f32]) {
    simd::convolve_padded_row::<Neon>(padded, k, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn rgb_to_hsv(r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    simd::rgb_to_hsv::<Neon>(r, g, b)
}
#[target_feature(enable = "neon")]
pub unsafe fn hsv_to_rgb(h: &mut [f32], s: &mut [f32], v: &mut [f32]) {
    simd::hsv_to_rgb::<Neon>(h, s, v)
}
#[target_feature(enable = "neon")]
pub unsafe fn remap_bilinear(
    src: &[f32],
    w: usize,
    h: usize,
    map_x: &[f32],
    map_y: &[f32],
    dst: &mut [f32],
    border: Border,
) {
    simd::remap_bilinear::<Neon>(src, w, h, map_x, map_y, dst, border)
}
#[target_feature(enable = "neon")]
pub unsafe fn lerp_taps_acc(row: &[f32], idx: &[u32], frac: &[f32], acc: &mut [f32]) {
    simd::lerp_taps_acc::<Neon>(row, idx, frac, acc)
}
#[target_feature(enable = "neon")]
pub unsafe fn sum_rows(rows: &[&[f32]], out: &mut [f32]) {
    simd::sum_rows::<Neon>(rows, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn weighted_rows_sym(rows: &[&[f32]], kh: &[f32], out: &mut [f32]) {
    simd::weighted_rows_sym::<Neon>(rows, kh, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn weighted_rows_sym2(rows: &[&[f32]], kh: &[f32], out0: &mut [f32], out1: &mut [f32]) {
    simd::weighted_rows_sym2::<Neon>(rows, kh, out0, out1)
}
#[target_feature(enable = "neon")]
pub unsafe fn nested_col_sums(
    rows: &[&[f32]],
    levels: &[usize],
    out: &mut [f32],
    stride: usize,
    n: usize,
) {
    simd::nested_col_sums::<Neon>(rows, levels, out, stride, n)
}
#[target_feature(enable = "neon")]
pub unsafe fn convolve_padded_row_sym(padded: &[f32], kh: &[f32], out: &mut [f32]) {
    simd::convolve_padded_row_sym::<Neon>(padded, kh, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn jitter_sources(u: &[f32], span: f32, base: u32, w: u32, out: &mut [u32]) {
    simd::jitter_sources::<Neon>(u, span, base, w, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn pack_rgb8(r: &[f32], g: &[f32], b: &[f32], out: &mut [u32]) {
    simd::pack_rgb8::<Neon>(r, g, b, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn unpack_channel(px: &[u32], shift: u32, out: &mut [f32]) {
    simd::unpack_channel::<Neon>(px, shift, out)
}
#[target_feature(enable = "neon")]
pub unsafe fn impulses(x: &mut [f32], u: &[f32], lo: f32, hi: f32) {
    simd::impulses::<Neon>(x, u, lo, hi)
}

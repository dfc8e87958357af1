//! x86_64 vector paths: AVX2 (8 lanes) and AVX-512F (16 lanes).

use std::arch::x86_64::*;

use super::simd::{self, Simd};
use super::Border;

#[derive(Clone, Copy)]
pub(super) struct Avx2;

impl Simd for Avx2 {
    const LANES: usize = 8;
    type F = __m256;
    type U = __m256i;
    type M = __m256;

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn splat(v: f32) -> __m256 {
        _mm256_set1_ps(v)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load(p: *const f32) -> __m256 {
        _mm256_loadu_ps(p)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn store(p: *mut f32, v: __m256) {
        _mm256_storeu_ps(p, v)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        _mm256_add_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        _mm256_sub_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        _mm256_mul_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn div(a: __m256, b: __m256) -> __m256 {
        _mm256_div_ps(a, b)
    }
    // f32::min/max return the non-NaN operand; maxps returns the second operand when
    // either is NaN, so put the possibly-NaN value first to match `v.max(0.0)`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn min(a: __m256, b: __m256) -> __m256 {
        _mm256_min_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        _mm256_max_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn sqrt(a: __m256) -> __m256 {
        _mm256_sqrt_ps(a)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn floor(a: __m256) -> __m256 {
        _mm256_floor_ps(a)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn gt(a: __m256, b: __m256) -> __m256 {
        _mm256_cmp_ps::<_CMP_GT_OQ>(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn eq(a: __m256, b: __m256) -> __m256 {
        _mm256_cmp_ps::<_CMP_EQ_OQ>(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn and_m(a: __m256, b: __m256) -> __m256 {
        _mm256_and_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn select(m: __m256, a: __m256, b: __m256) -> __m256 {
        _mm256_blendv_ps(b, a, m)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn any(m: __m256) -> bool {
        _mm256_movemask_ps(m) != 0
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn all(m: __m256) -> bool {
        _mm256_movemask_ps(m) == 0xff
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_splat(v: u32) -> __m256i {
        _mm256_set1_epi32(v as i32)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_iota() -> __m256i {
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_add(a: __m256i, b: __m256i) -> __m256i {
        _mm256_add_epi32(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_xor(a: __m256i, b: __m256i) -> __m256i {
        _mm256_xor_si256(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_and(a: __m256i, b: __m256i) -> __m256i {
        _mm256_and_si256(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_mul(a: __m256i, b: __m256i) -> __m256i {
        _mm256_mullo_epi32(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_shr(a: __m256i, n: i32) -> __m256i {
        _mm256_srl_epi32(a, _mm_cvtsi32_si128(n))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_to_f(a: __m256i) -> __m256 {
        _mm256_cvtepi32_ps(a)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn f_to_i(a: __m256) -> __m256i {
        _mm256_cvttps_epi32(a)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn bits_to_f(a: __m256i) -> __m256 {
        _mm256_castsi256_ps(a)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn f_to_bits(a: __m256) -> __m256i {
        _mm256_castps_si256(a)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn gather(base: *const f32, idx: __m256i) -> __m256 {
        _mm256_i32gather_ps::<4>(base, idx)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_load(p: *const u32) -> __m256i {
        _mm256_loadu_si256(p as *const __m256i)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn u_store(p: *mut u32, v: __m256i) {
        _mm256_storeu_si256(p as *mut __m256i, v)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn window(base: *const f32, idx: __m256i) -> __m256 {
        // Each half permuted by the low 3 index bits, then picked by index >= 8.
        let lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(base), idx);
        let hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(base.add(8)), idx);
        let upper = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7));
        _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(upper))
    }
}

#[derive(Clone, Copy)]
pub(super) struct Avx512;

impl Simd for Avx512 {
    const LANES: usize = 16;
    type F = __m512;
    type U = __m512i;
    type M = __mmask16;

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn splat(v: f32) -> __m512 {
        _mm512_set1_ps(v)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(p: *const f32) -> __m512 {
        _mm512_loadu_ps(p)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store(p: *mut f32, v: __m512) {
        _mm512_storeu_ps(p, v)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        _mm512_add_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        _mm512_sub_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        _mm512_mul_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn div(a: __m512, b: __m512) -> __m512 {
        _mm512_div_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn min(a: __m512, b: __m512) -> __m512 {
        _mm512_min_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        _mm512_max_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn sqrt(a: __m512) -> __m512 {
        _mm512_sqrt_ps(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn floor(a: __m512) -> __m512 {
        _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn gt(a: __m512, b: __m512) -> __mmask16 {
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn eq(a: __m512, b: __m512) -> __mmask16 {
        _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn and_m(a: __mmask16, b: __mmask16) -> __mmask16 {
        a & b
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn select(m: __mmask16, a: __m512, b: __m512) -> __m512 {
        _mm512_mask_blend_ps(m, b, a)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn any(m: __mmask16) -> bool {
        m != 0
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn all(m: __mmask16) -> bool {
        m == 0xffff
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_splat(v: u32) -> __m512i {
        _mm512_set1_epi32(v as i32)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_iota() -> __m512i {
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_add(a: __m512i, b: __m512i) -> __m512i {
        _mm512_add_epi32(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_xor(a: __m512i, b: __m512i) -> __m512i {
        _mm512_xor_si512(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_and(a: __m512i, b: __m512i) -> __m512i {
        _mm512_and_si512(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_mul(a: __m512i, b: __m512i) -> __m512i {
        _mm512_mullo_epi32(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_shr(a: __m512i, n: i32) -> __m512i {
        _mm512_srl_epi32(a, _mm_cvtsi32_si128(n))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_to_f(a: __m512i) -> __m512 {
        _mm512_cvtepi32_ps(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn f_to_i(a: __m512) -> __m512i {
        _mm512_cvttps_epi32(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn bits_to_f(a: __m512i) -> __m512 {
        _mm512_castsi512_ps(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn f_to_bits(a: __m512) -> __m512i {
        _mm512_castps_si512(a)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn gather(base: *const f32, idx: __m512i) -> __m512 {
        _mm512_i32gather_ps::<4>(idx, base)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_load(p: *const u32) -> __m512i {
        _mm512_loadu_si512(p as *const __m512i)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn u_store(p: *mut u32, v: __m512i) {
        _mm512_storeu_si512(p as *mut __m512i, v)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn window(base: *const f32, idx: __m512i) -> __m512 {
        _mm512_permutex2var_ps(_mm512_loadu_ps(base), idx, _mm512_loadu_ps(base.add(16)))
    }
}

/// Public entry points for one instruction set; callers check the CPU first.
/// `$normal_ty` lays out normal fills; `$row_ty` runs the horizontal correlation, whose
/// 2r + 1 unaligned loads per output vector mostly straddle two cache lines at 64 bytes
/// (the AVX-512 row pass with 32-byte loads: 66 vs 74 us per sigma-3 blur of a 224 x 224
/// plane on Zen 4, `cargo bench --bench corrupt -- kernel-gaussian`).
macro_rules! entry_points {
    ($modname:ident, $ty:ty, $feat:literal, $normal_ty:ty, $row_ty:ty) => {
        pub(super) mod $modname {
            use super::*;

            #[target_feature(enable = $feat)]
            pub unsafe fn fill_uniform(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
                simd::fill_uniform::<$ty>(k0, k1, lo, hi, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn fill_normal(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
                simd::fill_normal::<$normal_ty>(k0, k1, lo, hi, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn clamp01(x: &mut [f32]) {
                simd::clamp01::<$ty>(x)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn affine(x: &mut [f32], a: f32, b: f32) {
                simd::affine::<$ty>(x, a, b)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn affine_clamp(x: &mut [f32], a: f32, b: f32) {
                simd::affine_clamp::<$ty>(x, a, b)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn add_scaled_clamp(x: &mut [f32], n: &[f32], s: f32) {
                simd::add_scaled_clamp::<$ty>(x, n, s)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn speckle_clamp(x: &mut [f32], n: &[f32], s: f32) {
                simd::speckle_clamp::<$ty>(x, n, s)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn weighted_sum_clamp(x: &mut [f32], y: &[f32], a: f32, b: f32) {
                simd::weighted_sum_clamp::<$ty>(x, y, a, b)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn lerp(a: &[f32], b: &[f32], t: f32, out: &mut [f32]) {
                simd::lerp::<$ty>(a, b, t, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn weighted_rows(rows: &[&[f32]], k: &[f32], out: &mut [f32]) {
                simd::weighted_rows::<$ty>(rows, k, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn axpy(acc: &mut [f32], x: &[f32], a: f32) {
                simd::axpy::<$ty>(acc, x, a)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn convolve_padded_row(padded: &[f32], k: &[f32], out: &mut [f32]) {
                simd::convolve_padded_row::<$ty>(padded, k, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn rgb_to_hsv(r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
                simd::rgb_to_hsv::<$ty>(r, g, b)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn hsv_to_rgb(h: &mut [f32], s: &mut [f32], v: &mut [f32]) {
                simd::hsv_to_rgb::<$ty>(h, s, v)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn remap_bilinear(
                src: &[f32],
                w: usize,
                h: usize,
                map_x: &[f32],
                map_y: &[f32],
                dst: &mut [f32],
                border: Border,
            ) {
                simd::remap_bilinear::<$ty>(src, w, h, map_x, map_y, dst, border)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn weighted_rows_sym(rows: &[&[f32]], kh: &[f32], out: &mut [f32]) {
                simd::weighted_rows_sym::<$ty>(rows, kh, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn weighted_rows_sym2(
                rows: &[&[f32]],
                kh: &[f32],
                out0: &mut [f32],
                out1: &mut [f32],
            ) {
                simd::weighted_rows_sym2::<$ty>(rows, kh, out0, out1)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn convolve_padded_row_sym(padded: &[f32], kh: &[f32], out: &mut [f32]) {
                simd::convolve_padded_row_sym::<$row_ty>(padded, kh, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn jitter_sources(u: &[f32], span: f32, base: u32, w: u32, out: &mut [u32]) {
                simd::jitter_sources::<$ty>(u, span, base, w, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn pack_rgb8(r: &[f32], g: &[f32], b: &[f32], out: &mut [u32]) {
                simd::pack_rgb8::<$ty>(r, g, b, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn unpack_channel(px: &[u32], shift: u32, out: &mut [f32]) {
                simd::unpack_channel::<$ty>(px, shift, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn impulses(x: &mut [f32], u: &[f32], lo: f32, hi: f32) {
                simd::impulses::<$ty>(x, u, lo, hi)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn sum_rows(rows: &[&[f32]], out: &mut [f32]) {
                simd::sum_rows::<$ty>(rows, out)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn nested_col_sums(
                rows: &[&[f32]],
                levels: &[usize],
                out: &mut [f32],
                stride: usize,
                n: usize,
            ) {
                simd::nested_col_sums::<$ty>(rows, levels, out, stride, n)
            }
            #[target_feature(enable = $feat)]
            pub unsafe fn lerp_taps_acc(row: &[f32], idx: &[u32], frac: &[f32], acc: &mut [f32]) {
                simd::lerp_taps_acc::<$ty>(row, idx, frac, acc)
            }
        }
    };
}

entry_points!(avx2, Avx2, "avx2,fma", Avx2, Avx2);
// The 16-block normal layout is stored 8 lanes at a time, so AVX-512 reuses AVX2 there.
entry_points!(avx512, Avx512, "avx512f,avx2,fma", Avx2, Avx2);

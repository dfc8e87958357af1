//! The AVX-512 VNNI tile: `vpdpbusd` (four `u8 x i8` products summed into each `i32`
//! lane) over a panel of 32 columns, for 1 to 12 rows.

use std::arch::x86_64::*;

use crate::kernels;

/// Whether this CPU runs the tile (checked once per call; std caches the CPUID).
pub(super) fn detected() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
}

/// [`kernels::quantize_rows_u8`] compiled for AVX-512: the same arithmetic (the same
/// codes and scales), four times the lanes of the baseline x86-64 build.
///
/// # Safety
/// [`detected`] is true.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn quantize_rows_u8(
    x: &[f32],
    k: usize,
    stride: usize,
    q: &mut [u8],
    scales: &mut [f32],
) {
    kernels::quantize_rows_u8(x, k, stride, q, scales)
}

/// One packed weight panel and its per-column epilogue operands.
pub(super) struct Panel {
    /// `[kp / 4][32][4]` weight codes.
    pub b: *const i8,
    /// 32 offsets `128 * sum_k w`.
    pub comp: *const i32,
    /// 32 column scales.
    pub col_scales: *const f32,
    /// 32 bias values, if the layer has a bias.
    pub bias: Option<*const f32>,
    /// Columns of this panel that exist in the output (1..=32).
    pub cols: usize,
    /// The next panel's codes, to prefetch into L2 during this tile: a layer's weights
    /// are megabytes read once per inference, and the first row tile to meet a panel
    /// otherwise waits on DRAM.
    pub prefetch: Option<*const i8>,
}

/// Computes `rows` (1..=12) rows of one panel and stores them (masked to `panel.cols`).
///
/// # Safety
/// [`detected`] is true; `a` holds `rows` rows of `lda` (a multiple of 4) `u8` codes,
/// `row_scales` `rows` values, the panel `lda / 4` steps; `out` has `rows` rows of
/// `ldo` f32 with `panel.cols` writable from each row's start.
pub(super) unsafe fn tile(
    rows: usize,
    a: *const u8,
    lda: usize,
    panel: &Panel,
    row_scales: *const f32,
    out: *mut f32,
    ldo: usize,
) {
    macro_rules! dispatch {
        ($($mr:literal)*) => {
            match rows {
                $($mr => tile_mr::<$mr>(a, lda, panel, row_scales, out, ldo),)*
                _ => unreachable!("tile of {rows} rows"),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile_mr<const MR: usize>(
    a: *const u8,
    lda: usize,
    panel: &Panel,
    row_scales: *const f32,
    out: *mut f32,
    ldo: usize,
) {
    let mut acc = [[_mm512_setzero_si512(); 2]; MR];
    let mut b = panel.b;
    for step in 0..lda / 4 {
        let b0 = _mm512_loadu_si512(b as *const __m512i);
        let b1 = _mm512_loadu_si512(b.add(64) as *const __m512i);
        if let Some(next) = panel.prefetch {
            // The same offset in the next panel: one pass over this panel brings all
            // of that one into L2.
            let at = next.add(b.offset_from(panel.b) as usize);
            _mm_prefetch::<_MM_HINT_T1>(at);
            _mm_prefetch::<_MM_HINT_T1>(at.add(64));
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let quad = (a.add(r * lda + step * 4) as *const i32).read_unaligned();
            let av = _mm512_set1_epi32(quad);
            acc[0] = _mm512_dpbusd_epi32(acc[0], av, b0);
            acc[1] = _mm512_dpbusd_epi32(acc[1], av, b1);
        }
        b = b.add(128);
    }
    // The epilogue in the reference's order: s = row * col scale, then acc * s, then + bias
    // (separate multiply and add, no FMA, so the result is bit-identical).
    for half in 0..2 {
        let lanes = panel.cols.saturating_sub(half * 16).min(16);
        if lanes == 0 {
            break;
        }
        let mask: __mmask16 = if lanes == 16 {
            0xffff
        } else {
            (1u16 << lanes) - 1
        };
        let comp = _mm512_loadu_si512(panel.comp.add(half * 16) as *const __m512i);
        let cs = _mm512_loadu_ps(panel.col_scales.add(half * 16));
        let bias = panel.bias.map(|b| _mm512_loadu_ps(b.add(half * 16)));
        for (r, acc) in acc.iter().enumerate() {
            let s = _mm512_mul_ps(_mm512_set1_ps(*row_scales.add(r)), cs);
            let exact = _mm512_sub_epi32(acc[half], comp);
            let mut v = _mm512_mul_ps(_mm512_cvtepi32_ps(exact), s);
            if let Some(bias) = bias {
                v = _mm512_add_ps(v, bias);
            }
            _mm512_mask_storeu_ps(out.add(r * ldo + half * 16), mask, v);
        }
    }
}

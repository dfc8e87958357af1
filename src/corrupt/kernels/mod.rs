//! The engine's hot loops behind one safe API: vector code for x86_64 (AVX2, AVX-512)
//! and aarch64 (NEON), chosen at run time, each with a scalar twin in [`scalar`].
//!
//! Every vector path performs the same IEEE operations in the same order as its scalar
//! twin (no fused multiply-add, tap-ordered sums, counter-based random numbers), so all
//! paths give identical bits; `tests` below and `tests/corrupt.rs` hold them to that.
//! The kernels are leaves (a row, a plane, a pixel run); the corruption families build
//! blurs, warps and noise from them.

#[cfg(target_arch = "aarch64")]
mod neon;
pub mod scalar;
mod simd;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::cell::Cell;
use std::sync::OnceLock;

/// An instruction set a kernel can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Plain Rust loops.
    Scalar,
    /// x86_64 AVX2 with FMA (8 lanes).
    Avx2,
    /// x86_64 AVX-512F (16 lanes).
    Avx512,
    /// aarch64 NEON (4 lanes).
    Neon,
}

impl Isa {
    /// Lower-case name, as shown by `edgeclip corrupt --list`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }
}

/// Every instruction set this CPU can run, best last.
// armv7 has only the scalar kernels, so nothing is pushed there.
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(unused_mut)
)]
pub fn available() -> Vec<Isa> {
    let mut v = vec![Isa::Scalar];
    #[cfg(target_arch = "x86_64")]
    {
        // Every AVX2 CPU but a few early VIA parts has FMA; the kernels need both.
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        if avx2 {
            v.push(Isa::Avx2);
        }
        if avx2 && std::arch::is_x86_feature_detected!("avx512f") {
            v.push(Isa::Avx512);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            v.push(Isa::Neon);
        }
    }
    v
}

/// The best instruction set of this CPU (detected once).
pub fn detected() -> Isa {
    static BEST: OnceLock<Isa> = OnceLock::new();
    *BEST.get_or_init(|| *available().last().expect("scalar is always available"))
}

thread_local! {
    static FORCED: Cell<Option<Isa>> = const { Cell::new(None) };
}

/// The instruction set kernels on this thread use now.
pub fn active() -> Isa {
    FORCED.with(|f| f.get()).unwrap_or_else(detected)
}

/// Runs `f` with this thread's kernels forced to `isa` (for tests and benchmarks that
/// compare paths). An `isa` this CPU lacks is an error, not undefined behaviour.
pub fn with_isa<R>(isa: Isa, f: impl FnOnce() -> R) -> Result<R, String> {
    if !available().contains(&isa) {
        return Err(format!("this CPU cannot run {}", isa.name()));
    }
    let before = FORCED.with(|c| c.replace(Some(isa)));
    struct Restore(Option<Isa>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCED.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(before);
    Ok(f())
}

/// How samples outside the image are made up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Border {
    /// Repeat the edge sample (`aaa|abcd|ddd`; scipy `nearest`, OpenCV `REPLICATE`).
    Nearest,
    /// Mirror including the edge (`ba|abcd|dc`; scipy `reflect`, OpenCV `REFLECT`).
    Reflect,
    /// Mirror about the edge sample (`cb|abcd|cb`; scipy `mirror`, OpenCV `REFLECT_101`).
    Mirror,
    /// A constant value.
    Constant(f32),
    /// Wrap around (`cd|abcd|ab`).
    Wrap,
}

impl Border {
    /// The in-range index that stands for `i` in a line of `n`, or `None` for a constant.
    #[inline]
    pub fn index(self, i: isize, n: usize) -> Option<usize> {
        let n_i = n as isize;
        if (0..n_i).contains(&i) {
            return Some(i as usize);
        }
        if n == 0 {
            return None;
        }
        Some(match self {
            Border::Constant(_) => return None,
            Border::Nearest => i.clamp(0, n_i - 1) as usize,
            Border::Wrap => i.rem_euclid(n_i) as usize,
            Border::Reflect => {
                let p = i.rem_euclid(2 * n_i);
                (if p < n_i { p } else { 2 * n_i - 1 - p }) as usize
            }
            Border::Mirror => {
                if n == 1 {
                    return Some(0);
                }
                let p = i.rem_euclid(2 * n_i - 2);
                (if p < n_i { p } else { 2 * n_i - 2 - p }) as usize
            }
        })
    }

    /// The value of samples with no in-range stand-in.
    #[inline]
    pub fn fill(self) -> f32 {
        match self {
            Border::Constant(v) => v,
            _ => 0.0,
        }
    }
}

macro_rules! dispatch {
    ($name:ident ( $($arg:expr),* )) => {
        match active() {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { x86::avx512::$name($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { x86::avx2::$name($($arg),*) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::$name($($arg),*) },
            _ => scalar::$name($($arg),*),
        }
    };
}

/// Fills `out` with uniforms in [0, 1): element i from counter `lo + i` (high word `hi`).
pub fn fill_uniform(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
    dispatch!(fill_uniform(k0, k1, lo, hi, out))
}

/// Fills `out` with standard normals; see [`scalar::fill_normal`] for the layout.
pub fn fill_normal(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
    dispatch!(fill_normal(k0, k1, lo, hi, out))
}

/// `x = clamp(x, 0, 1)`.
pub fn clamp01(x: &mut [f32]) {
    dispatch!(clamp01(x))
}

/// `x = x * a + b`.
pub fn affine(x: &mut [f32], a: f32, b: f32) {
    dispatch!(affine(x, a, b))
}

/// `x = clamp(x * a + b, 0, 1)`.
pub fn affine_clamp(x: &mut [f32], a: f32, b: f32) {
    dispatch!(affine_clamp(x, a, b))
}

/// `x = clamp(x + s * n, 0, 1)` (additive noise).
pub fn add_scaled_clamp(x: &mut [f32], n: &[f32], s: f32) {
    assert_eq!(x.len(), n.len());
    dispatch!(add_scaled_clamp(x, n, s))
}

/// `x = clamp(x + x * (s * n), 0, 1)` (multiplicative noise).
pub fn speckle_clamp(x: &mut [f32], n: &[f32], s: f32) {
    assert_eq!(x.len(), n.len());
    dispatch!(speckle_clamp(x, n, s))
}

/// `x = clamp(a * x + b * y, 0, 1)` (blend with a layer).
pub fn weighted_sum_clamp(x: &mut [f32], y: &[f32], a: f32, b: f32) {
    assert_eq!(x.len(), y.len());
    dispatch!(weighted_sum_clamp(x, y, a, b))
}

/// Impulses: `x = 0` where `u < lo`, else `x = 1` where `u < hi`, else unchanged
/// (branch-free, so the cost does not grow with the share hit).
pub fn impulses(x: &mut [f32], u: &[f32], lo: f32, hi: f32) {
    assert_eq!(x.len(), u.len());
    dispatch!(impulses(x, u, lo, hi))
}

/// `out = a + t * (b - a)`.
pub fn lerp(a: &[f32], b: &[f32], t: f32, out: &mut [f32]) {
    assert!(a.len() == out.len() && b.len() == out.len());
    dispatch!(lerp(a, b, t, out))
}

/// `out[x] = sum_t k[t] * rows[t][x]` in tap order: one output row of a vertical or 2-D
/// correlation, with the sum kept in registers across taps.
pub fn weighted_rows(rows: &[&[f32]], k: &[f32], out: &mut [f32]) {
    assert!(rows.len() == k.len() && rows.iter().all(|r| r.len() >= out.len()));
    dispatch!(weighted_rows(rows, k, out))
}

/// `out[x] = rows[0][x] + rows[1][x] + ...` in row order (no rows: `out` untouched).
pub fn sum_rows(rows: &[&[f32]], out: &mut [f32]) {
    assert!(rows.iter().all(|r| r.len() >= out.len()));
    if rows.is_empty() {
        return;
    }
    dispatch!(sum_rows(rows, out))
}

/// `acc += a * x`.
pub fn axpy(acc: &mut [f32], x: &[f32], a: f32) {
    assert_eq!(acc.len(), x.len());
    dispatch!(axpy(acc, x, a))
}

/// The taps of a 1-D linear resampling: output `i` is
/// `src[idx[i]] + frac[i] * (src[idx[i] + 1] - src[idx[i]])`. Built once, applied to
/// many rows with [`lerp_taps_acc`].
#[derive(Clone, Debug, Default)]
pub struct LerpTaps {
    idx: Vec<u32>,
    frac: Vec<f32>,
    /// The shortest source these taps may read: the largest index + 2.
    reach: usize,
}

impl LerpTaps {
    /// Taps from (left sample index, weight of the right sample) pairs.
    pub fn new(taps: impl IntoIterator<Item = (usize, f32)>) -> LerpTaps {
        let (idx, frac): (Vec<u32>, Vec<f32>) = taps
            .into_iter()
            .map(|(i, f)| (u32::try_from(i).unwrap_or(u32::MAX - 1), f))
            .unzip();
        let reach = idx.iter().max().map_or(0, |&m| m as usize + 2);
        LerpTaps { idx, frac, reach }
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.idx.len()
    }

    /// True when there are no outputs.
    pub fn is_empty(&self) -> bool {
        self.idx.is_empty()
    }

    /// The shortest source row these taps may read.
    pub fn reach(&self) -> usize {
        self.reach
    }
}

/// Spare samples past [`LerpTaps::reach`] that let every vector of [`lerp_taps_acc`]
/// read its window without a gather.
pub const LERP_TAPS_SLACK: usize = 32;

/// `acc[i] += row[idx[i]] + frac[i] * (row[idx[i] + 1] - row[idx[i]])` for the taps of
/// `taps` (one row of a linear resampling, added into `acc`). `row` needs at least
/// `taps.reach()` samples; [`LERP_TAPS_SLACK`] more make it faster.
pub fn lerp_taps_acc(row: &[f32], taps: &LerpTaps, acc: &mut [f32]) {
    assert!(acc.len() == taps.len() && row.len() >= taps.reach());
    // Vector gathers take i32 indices.
    if taps.reach() > i32::MAX as usize {
        return scalar::lerp_taps_acc(row, &taps.idx, &taps.frac, acc);
    }
    dispatch!(lerp_taps_acc(row, &taps.idx, &taps.frac, acc))
}

/// Nested centred column sums (the disk of defocus blur, one half-height per level):
/// `rows` holds 2t + 1 rows centred on `rows[t]`, and
/// `out[j * stride + x]` gets `s_levels[j]` with `s_0 = rows[t][x]`,
/// `s_a = s_(a-1) + (rows[t - a][x] + rows[t + a][x])`, for `x < n`. `levels` must be
/// strictly ascending and end at most at t.
pub fn nested_col_sums(
    rows: &[&[f32]],
    levels: &[usize],
    out: &mut [f32],
    stride: usize,
    n: usize,
) {
    let Some(&top) = levels.last() else {
        return;
    };
    assert!(levels.windows(2).all(|p| p[0] < p[1]) && rows.len() % 2 == 1);
    assert!(top <= rows.len() / 2 && rows.iter().all(|r| r.len() >= n) && n <= stride);
    assert!(out.len() >= (levels.len() - 1) * stride + n);
    if n == 0 {
        return;
    }
    dispatch!(nested_col_sums(rows, levels, out, stride, n))
}

/// `out[x] = sum_t k[t] * padded[x + t]` (one row of a correlation).
pub fn convolve_padded_row(padded: &[f32], k: &[f32], out: &mut [f32]) {
    assert!(!k.is_empty() && padded.len() + 1 >= out.len() + k.len());
    dispatch!(convolve_padded_row(padded, k, out))
}

/// Source indices of one row of glass blur's pixel jitter: with `a = u[j] * span`,
/// `dx = trunc(a)` and `dy = trunc((a - dx) * span)`, `out[j] = base + dy * w + dx - j`
/// (wrapping u32 arithmetic). `u` must lie in [0, 1) (as uniform fills do) and
/// `span` in (0, 2^23); callers bounds-check the indices they use.
pub fn jitter_sources(u: &[f32], span: f32, base: u32, w: u32, out: &mut [u32]) {
    assert!(u.len() == out.len());
    dispatch!(jitter_sources(u, span, base, w, out))
}

/// Packs three planes into 8-bit RGB, one u32 per pixel (red lowest), each channel
/// `trunc(clamp(v, 0, 1) * 255)` as numpy's `uint8` cast.
pub fn pack_rgb8(r: &[f32], g: &[f32], b: &[f32], out: &mut [u32]) {
    assert!(r.len() == out.len() && g.len() == out.len() && b.len() == out.len());
    dispatch!(pack_rgb8(r, g, b, out))
}

/// `out[i] = ((px[i] >> shift) & 255) / 255`: one channel of packed 8-bit pixels.
pub fn unpack_channel(px: &[u32], shift: u32, out: &mut [f32]) {
    assert!(px.len() == out.len() && shift < 32);
    dispatch!(unpack_channel(px, shift, out))
}

/// RGB planes to skimage HSV planes, in place.
pub fn rgb_to_hsv(r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    assert!(r.len() == g.len() && r.len() == b.len());
    dispatch!(rgb_to_hsv(r, g, b))
}

/// skimage HSV planes back to RGB, in place.
pub fn hsv_to_rgb(h: &mut [f32], s: &mut [f32], v: &mut [f32]) {
    assert!(h.len() == s.len() && h.len() == v.len());
    dispatch!(hsv_to_rgb(h, s, v))
}

/// Bilinear resampling of a `w x h` plane at the points (`map_x[i]`, `map_y[i]`), pixel
/// centres at integers; `dst[i]` gets the sample.
pub fn remap_bilinear(
    src: &[f32],
    w: usize,
    h: usize,
    map_x: &[f32],
    map_y: &[f32],
    dst: &mut [f32],
    border: Border,
) {
    assert!(src.len() == w * h && map_x.len() == dst.len() && map_y.len() == dst.len());
    if w == 0 || h == 0 {
        dst.fill(border.fill());
        return;
    }
    dispatch!(remap_bilinear(src, w, h, map_x, map_y, dst, border))
}

/// The half `k[r..]` of an odd-length kernel that is exactly symmetric, to be applied
/// folded (`k_t * (x_-t + x_t)`: half the multiplies and a shorter add chain).
fn symmetric_half(k: &[f32]) -> Option<&[f32]> {
    let n = k.len();
    (n > 1 && (0..n / 2).all(|i| k[i].to_bits() == k[n - 1 - i].to_bits())).then(|| &k[n / 2..])
}

/// `out[x] = kh[0] * c + kh[1] * (c[-1] + c[1]) + ...` with c = `padded[x + r]`,
/// r = `kh.len() - 1`: one row of a correlation with a symmetric kernel, folded.
pub fn convolve_padded_row_sym(padded: &[f32], kh: &[f32], out: &mut [f32]) {
    assert!(!kh.is_empty() && padded.len() + 2 >= out.len() + 2 * kh.len());
    dispatch!(convolve_padded_row_sym(padded, kh, out))
}

/// `out[x] = kh[0] * rows[r][x] + kh[1] * (rows[r - 1][x] + rows[r + 1][x]) + ...` with
/// r = `kh.len() - 1`: a vertical correlation with a symmetric kernel, folded.
pub fn weighted_rows_sym(rows: &[&[f32]], kh: &[f32], out: &mut [f32]) {
    assert!(!kh.is_empty() && rows.len() + 1 == 2 * kh.len());
    assert!(rows.iter().all(|r| r.len() >= out.len()));
    dispatch!(weighted_rows_sym(rows, kh, out))
}

/// Two consecutive output rows of [`weighted_rows_sym`]: `rows` holds 2r + 2 rows,
/// `out0` is centred on `rows[r]` and `out1` on `rows[r + 1]`. Each input row loaded
/// serves both outputs; the bits are those of two single-row calls.
pub fn weighted_rows_sym2(rows: &[&[f32]], kh: &[f32], out0: &mut [f32], out1: &mut [f32]) {
    assert!(!kh.is_empty() && rows.len() == 2 * kh.len() && out0.len() == out1.len());
    assert!(rows.iter().all(|r| r.len() >= out0.len()));
    dispatch!(weighted_rows_sym2(rows, kh, out0, out1))
}

/// Horizontal correlation of each row with an odd-length kernel; a symmetric kernel is
/// applied folded (see [`convolve_padded_row_sym`]), which rounds differently from the
/// tap-by-tap sum.
pub fn convolve_rows(src: &[f32], dst: &mut [f32], w: usize, k: &[f32], border: Border) {
    assert!(k.len() % 2 == 1 && src.len() == dst.len());
    if w == 0 {
        return;
    }
    let r = k.len() / 2;
    let half = symmetric_half(k);
    let mut padded = Vec::with_capacity(w + 2 * r);
    for (row, out) in src.chunks_exact(w).zip(dst.chunks_exact_mut(w)) {
        scalar::pad_row(row, r, border, &mut padded);
        match half {
            Some(kh) => convolve_padded_row_sym(&padded, kh, out),
            None => convolve_padded_row(&padded, k, out),
        }
    }
}

/// Vertical correlation with an odd-length kernel; a symmetric kernel is applied folded
/// (see [`weighted_rows_sym`]).
pub fn convolve_cols(src: &[f32], dst: &mut [f32], w: usize, h: usize, k: &[f32], border: Border) {
    assert!(k.len() % 2 == 1 && src.len() == w * h && dst.len() == w * h);
    let r = (k.len() / 2) as isize;
    let half = symmetric_half(k);
    let fill_row = vec![border.fill(); w];
    // Source row of every padded row, so output row y reads the window y..y + k.len().
    let rows: Vec<&[f32]> = (-r..h as isize + r)
        .map(|i| match border.index(i, h) {
            Some(j) => &src[j * w..(j + 1) * w],
            None => &fill_row[..],
        })
        .collect();
    // A symmetric kernel takes rows two at a time; the bits are those of single rows.
    let mut y = 0;
    while y < h {
        match half {
            Some(kh) if y + 1 < h => {
                let (out0, out1) = dst[y * w..(y + 2) * w].split_at_mut(w);
                weighted_rows_sym2(&rows[y..y + k.len() + 1], kh, out0, out1);
                y += 2;
            }
            Some(kh) => {
                weighted_rows_sym(&rows[y..y + k.len()], kh, &mut dst[y * w..(y + 1) * w]);
                y += 1;
            }
            None => {
                weighted_rows(&rows[y..y + k.len()], k, &mut dst[y * w..(y + 1) * w]);
                y += 1;
            }
        }
    }
}

/// A `w x h` plane padded by `px` columns and `py` rows on each side.
pub fn pad_plane(
    src: &[f32],
    w: usize,
    h: usize,
    px: usize,
    py: usize,
    border: Border,
) -> Vec<f32> {
    let pw = w + 2 * px;
    let mut out = Vec::with_capacity(pw * (h + 2 * py));
    let mut row = Vec::with_capacity(pw);
    let fill = vec![border.fill(); w];
    for y in -(py as isize)..(h + py) as isize {
        let src_row = match border.index(y, h) {
            Some(j) => &src[j * w..(j + 1) * w],
            None => &fill[..],
        };
        scalar::pad_row(src_row, px, border, &mut row);
        out.extend_from_slice(&row);
    }
    out
}

/// 2-D correlation on a padded plane: taps in row-major order, zero taps skipped.
pub(crate) fn filter2d_padded(
    padded: &[f32],
    dst: &mut [f32],
    w: usize,
    h: usize,
    k: &[f32],
    kw: usize,
) {
    let kh = k.len() / kw;
    let pw = w + kw - 1;
    let taps: Vec<(usize, usize, f32)> = (0..kh)
        .flat_map(|ky| (0..kw).map(move |kx| (ky, kx, k[ky * kw + kx])))
        .filter(|t| t.2 != 0.0)
        .collect();
    let weights: Vec<f32> = taps.iter().map(|t| t.2).collect();
    let mut rows: Vec<&[f32]> = Vec::with_capacity(taps.len());
    for y in 0..h {
        rows.clear();
        for &(ky, kx, _) in &taps {
            let start = (y + ky) * pw + kx;
            rows.push(&padded[start..start + w]);
        }
        weighted_rows(&rows, &weights, &mut dst[y * w..(y + 1) * w]);
    }
}

/// 2-D correlation with a `kw x (k.len() / kw)` kernel with odd sides.
pub fn filter2d(
    src: &[f32],
    dst: &mut [f32],
    w: usize,
    h: usize,
    k: &[f32],
    kw: usize,
    border: Border,
) {
    assert!(kw % 2 == 1 && k.len().is_multiple_of(kw) && (k.len() / kw) % 2 == 1);
    assert!(src.len() == w * h && dst.len() == w * h);
    if w == 0 || h == 0 {
        return;
    }
    let padded = pad_plane(src, w, h, kw / 2, k.len() / kw / 2, border);
    filter2d_padded(&padded, dst, w, h, k, kw);
}

/// `acc += weight * (src shifted by (dx, dy))`, edge pixels replicated.
pub fn shift_accumulate(
    acc: &mut [f32],
    src: &[f32],
    w: usize,
    h: usize,
    dx: isize,
    dy: isize,
    weight: f32,
) {
    assert!(acc.len() == w * h && src.len() == w * h);
    if w == 0 || h == 0 {
        return;
    }
    let wi = w as isize;
    // Columns whose source x - dx lies inside the row form one contiguous run.
    let lo = dx.clamp(0, wi) as usize;
    let hi = (wi + dx).clamp(0, wi) as usize;
    for y in 0..h {
        let sy = (y as isize - dy).clamp(0, h as isize - 1) as usize;
        let row = &src[sy * w..(sy + 1) * w];
        let out = &mut acc[y * w..(y + 1) * w];
        if lo < hi {
            let s0 = (lo as isize - dx) as usize;
            axpy(&mut out[lo..hi], &row[s0..s0 + (hi - lo)], weight);
        }
        for x in (0..lo.min(w)).chain(hi.max(lo)..w) {
            let sx = (x as isize - dx).clamp(0, wi - 1) as usize;
            out[x] += weight * row[sx];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let h = crate::corrupt::rng::mix32(i as u32 ^ seed.wrapping_mul(0x9e37_79b9));
                (h >> 8) as f32 / 16_777_216.0 * 1.4 - 0.2
            })
            .collect()
    }

    /// Runs `f` on every available ISA and asserts all results equal the scalar one.
    fn same_on_every_isa<T: PartialEq + std::fmt::Debug>(what: &str, f: impl Fn() -> T) {
        let want = with_isa(Isa::Scalar, &f).unwrap();
        for isa in available() {
            let got = with_isa(isa, &f).unwrap();
            assert!(got == want, "{what}: {} differs from scalar", isa.name());
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn random_fills_agree() {
        for n in [0, 1, 7, 15, 16, 17, 33, 100, 1000] {
            same_on_every_isa("fill_uniform", || {
                let mut v = vec![0.0; n];
                fill_uniform(11, 22, u32::MAX - 40, 3, &mut v);
                bits(&v)
            });
            same_on_every_isa("fill_normal", || {
                let mut v = vec![0.0; n];
                fill_normal(5, 6, 100, 0, &mut v);
                bits(&v)
            });
        }
    }

    #[test]
    fn pointwise_kernels_agree() {
        for n in [1, 3, 8, 15, 16, 31, 64, 257] {
            let x = data(n, 1);
            let y = data(n, 2);
            let z = data(n, 3);
            same_on_every_isa("pointwise", || {
                let mut out = Vec::new();
                let mut a = x.clone();
                clamp01(&mut a);
                out.push(bits(&a));
                let mut a = x.clone();
                affine(&mut a, 1.7, -0.3);
                out.push(bits(&a));
                let mut a = x.clone();
                affine_clamp(&mut a, 1.7, -0.3);
                out.push(bits(&a));
                let mut a = x.clone();
                add_scaled_clamp(&mut a, &y, 0.38);
                out.push(bits(&a));
                let mut a = x.clone();
                speckle_clamp(&mut a, &y, 0.6);
                out.push(bits(&a));
                let mut a = x.clone();
                weighted_sum_clamp(&mut a, &y, 0.65, 0.7);
                out.push(bits(&a));
                let mut a = vec![0.0; n];
                lerp(&x, &y, 0.3, &mut a);
                out.push(bits(&a));
                let mut a = x.clone();
                axpy(&mut a, &y, -0.25);
                out.push(bits(&a));
                let mut a = x.clone();
                impulses(&mut a, &y, 0.1, 0.3);
                out.push(bits(&a));
                let (mut r, mut g, mut b) = (x.clone(), y.clone(), z.clone());
                clamp01(&mut r);
                clamp01(&mut g);
                clamp01(&mut b);
                // Ties exercise the max-channel priority.
                if n > 4 {
                    g[2] = r[2];
                    b[3] = g[3];
                    r[4] = 0.5;
                    g[4] = 0.5;
                    b[4] = 0.5;
                }
                rgb_to_hsv(&mut r, &mut g, &mut b);
                out.push(bits(&r));
                out.push(bits(&g));
                out.push(bits(&b));
                hsv_to_rgb(&mut r, &mut g, &mut b);
                out.push(bits(&r));
                out.push(bits(&g));
                out.push(bits(&b));
                out
            });
        }
    }

    #[test]
    fn hsv_round_trip() {
        let x = data(999, 9);
        let (mut r, mut g, mut b) = (x[..333].to_vec(), x[333..666].to_vec(), x[666..].to_vec());
        for p in [&mut r, &mut g, &mut b] {
            clamp01(p);
        }
        let (r0, g0, b0) = (r.clone(), g.clone(), b.clone());
        rgb_to_hsv(&mut r, &mut g, &mut b);
        assert!(r.iter().chain(&g).all(|v| (0.0..=1.0).contains(v)));
        hsv_to_rgb(&mut r, &mut g, &mut b);
        for i in 0..333 {
            assert!(
                (r[i] - r0[i]).abs() < 1e-5
                    && (g[i] - g0[i]).abs() < 1e-5
                    && (b[i] - b0[i]).abs() < 1e-5
            );
        }
    }

    #[test]
    fn filters_agree() {
        let (w, h) = (37, 23);
        let src = data(w * h, 4);
        let k: Vec<f32> = data(9, 5);
        let k2d: Vec<f32> = data(35, 6)
            .into_iter()
            .map(|v| if v < 0.2 { 0.0 } else { v })
            .collect();
        for border in [
            Border::Nearest,
            Border::Reflect,
            Border::Mirror,
            Border::Constant(0.25),
            Border::Wrap,
        ] {
            same_on_every_isa("filters", || {
                let mut a = vec![0.0; w * h];
                let mut b = vec![0.0; w * h];
                let mut c = vec![0.0; w * h];
                convolve_rows(&src, &mut a, w, &k, border);
                convolve_cols(&src, &mut b, w, h, &k, border);
                filter2d(&src, &mut c, w, h, &k2d, 7, border);
                (bits(&a), bits(&b), bits(&c))
            });
        }
        // The scalar twins themselves match a direct definition.
        let mut a = vec![0.0; w * h];
        scalar::convolve_rows(&src, &mut a, w, &k, Border::Reflect);
        let mut b = vec![0.0; w * h];
        with_isa(Isa::Scalar, || {
            convolve_rows(&src, &mut b, w, &k, Border::Reflect)
        })
        .unwrap();
        assert_eq!(bits(&a), bits(&b));
        let mut c = vec![0.0; w * h];
        scalar::convolve_cols(&src, &mut c, w, h, &k, Border::Mirror);
        let mut d = vec![0.0; w * h];
        convolve_cols(&src, &mut d, w, h, &k, Border::Mirror);
        assert_eq!(bits(&c), bits(&d));
    }

    #[test]
    fn filter2d_matches_definition() {
        let (w, h) = (9, 6);
        let src = data(w * h, 7);
        let k = data(15, 8);
        let mut got = vec![0.0; w * h];
        let mut want = vec![0.0; w * h];
        filter2d(&src, &mut got, w, h, &k, 5, Border::Mirror);
        scalar::filter2d(&src, &mut want, w, h, &k, 5, Border::Mirror);
        assert_eq!(bits(&got), bits(&want));
        // One pixel by hand.
        let (x, y) = (0usize, 1usize);
        let mut acc = 0.0f32;
        for ky in 0..3 {
            for kx in 0..5 {
                let sx = Border::Mirror
                    .index(x as isize + kx as isize - 2, w)
                    .unwrap();
                let sy = Border::Mirror
                    .index(y as isize + ky as isize - 1, h)
                    .unwrap();
                acc += k[ky * 5 + kx] * src[sy * w + sx];
            }
        }
        assert!((acc - got[y * w + x]).abs() < 1e-6);
    }

    #[test]
    fn remap_and_shift_agree() {
        let (w, h) = (29, 17);
        let src = data(w * h, 10);
        let n = 500;
        let mx: Vec<f32> = data(n, 11).iter().map(|v| v * 40.0 - 3.0).collect();
        let my: Vec<f32> = data(n, 12).iter().map(|v| v * 25.0 - 3.0).collect();
        // Mostly interior points too, so the vector gather path runs.
        let ix: Vec<f32> = data(n, 13)
            .iter()
            .map(|v| v.clamp(0.0, 1.0) * 20.0 + 2.0)
            .collect();
        let iy: Vec<f32> = data(n, 14)
            .iter()
            .map(|v| v.clamp(0.0, 1.0) * 10.0 + 2.0)
            .collect();
        for border in [
            Border::Nearest,
            Border::Reflect,
            Border::Mirror,
            Border::Constant(0.5),
            Border::Wrap,
        ] {
            same_on_every_isa("remap", || {
                let mut a = vec![0.0; n];
                let mut b = vec![0.0; n];
                remap_bilinear(&src, w, h, &mx, &my, &mut a, border);
                remap_bilinear(&src, w, h, &ix, &iy, &mut b, border);
                (bits(&a), bits(&b))
            });
        }
        for (dx, dy) in [(0, 0), (3, -2), (-5, 4), (40, 1), (-40, -30)] {
            same_on_every_isa("shift", || {
                let mut acc = data(w * h, 15);
                shift_accumulate(&mut acc, &src, w, h, dx, dy, 0.3);
                bits(&acc)
            });
            let mut a = data(w * h, 15);
            let mut b = a.clone();
            shift_accumulate(&mut a, &src, w, h, dx, dy, 0.3);
            scalar::shift_accumulate(&mut b, &src, w, h, dx, dy, 0.3);
            assert_eq!(bits(&a), bits(&b), "shift ({dx}, {dy})");
        }
    }

    #[test]
    fn lerp_taps_agree() {
        let row = data(300, 16);
        // Zooms in (windows fit), a zoom out by 3 (gathers), and scattered taps.
        let sets: Vec<LerpTaps> = vec![
            LerpTaps::new((0..250).map(|o| {
                let p = o as f64 * 0.83;
                (p.floor() as usize, (p - p.floor()) as f32)
            })),
            LerpTaps::new((0..90).map(|o| (3 * o + o % 2, 0.25 * (o % 4) as f32))),
            LerpTaps::new(
                data(77, 17)
                    .iter()
                    .zip(data(77, 18))
                    .map(|(&u, f)| ((u.clamp(0.0, 1.0) * 297.0) as usize, f)),
            ),
            LerpTaps::new((0..33).map(|o| (266 - o / 2, 0.5))),
        ];
        for taps in &sets {
            for slack in [0, 5, LERP_TAPS_SLACK] {
                let src = &row[..(taps.reach() + slack).min(row.len())];
                same_on_every_isa("lerp_taps", || {
                    let mut acc = data(taps.len(), 19);
                    lerp_taps_acc(src, taps, &mut acc);
                    bits(&acc)
                });
            }
            let mut acc = data(taps.len(), 19);
            let want: Vec<f32> = acc
                .iter()
                .zip(taps.idx.iter().zip(&taps.frac))
                .map(|(&o, (&i, &f))| {
                    let (a, b) = (row[i as usize], row[i as usize + 1]);
                    o + (a + f * (b - a))
                })
                .collect();
            lerp_taps_acc(&row, taps, &mut acc);
            assert_eq!(bits(&acc), bits(&want));
        }
    }

    #[test]
    fn symmetric_filters_agree_and_match_the_definition() {
        let (w, h) = (45, 21);
        let src = data(w * h, 23);
        for taps in [3usize, 9, 25] {
            let half = data(taps / 2 + 1, 24);
            let k: Vec<f32> = (0..taps)
                .map(|i| half[(i as isize - (taps / 2) as isize).unsigned_abs()])
                .collect();
            for border in [Border::Nearest, Border::Reflect, Border::Constant(0.3)] {
                let run = || {
                    let mut a = vec![0.0; w * h];
                    let mut b = vec![0.0; w * h];
                    convolve_rows(&src, &mut a, w, &k, border);
                    convolve_cols(&src, &mut b, w, h, &k, border);
                    (a, b)
                };
                same_on_every_isa("symmetric filters", || {
                    let (a, b) = run();
                    (bits(&a), bits(&b))
                });
                let (a, b) = run();
                let mut c = vec![0.0; w * h];
                let mut d = vec![0.0; w * h];
                scalar::convolve_rows(&src, &mut c, w, &k, border);
                scalar::convolve_cols(&src, &mut d, w, h, &k, border);
                for i in 0..w * h {
                    assert!((a[i] - c[i]).abs() < 1e-5 && (b[i] - d[i]).abs() < 1e-5);
                }
            }
        }
        // Narrow rows take the scalar tails.
        for n in [1, 5, 16, 17, 40] {
            let kh = [0.5, 0.2, 0.05];
            same_on_every_isa("short symmetric rows", || {
                let mut o = vec![0.0; n];
                convolve_padded_row_sym(&src[..n + 4], &kh, &mut o);
                let rows: Vec<&[f32]> = src.chunks(45).take(5).map(|r| &r[..n]).collect();
                let mut p = vec![0.0; n];
                weighted_rows_sym(&rows, &kh, &mut p);
                (bits(&o), bits(&p))
            });
        }
    }

    #[test]
    fn row_sums_agree_at_every_length() {
        let src = data(40 * 7, 21);
        let rows: Vec<&[f32]> = src.chunks(40).collect();
        let k = data(7, 22);
        for n in [0, 1, 5, 8, 15, 16, 17, 31, 33, 40] {
            for t in [1, 2, 7] {
                same_on_every_isa("row sums", || {
                    let mut a = vec![9.0; n];
                    let mut b = vec![9.0; n];
                    let mut c = vec![9.0; n];
                    sum_rows(&rows[..t], &mut a);
                    weighted_rows(&rows[..t], &k[..t], &mut b);
                    convolve_padded_row(&src[..n + 2], &k[..3], &mut c);
                    (bits(&a), bits(&b), bits(&c))
                });
            }
        }
    }

    #[test]
    fn packing_and_jitter_indices_agree() {
        for n in [0, 1, 7, 16, 17, 100] {
            let (r, g, b) = (data(n, 25), data(n, 26), data(n, 27));
            let mut with_nan = r.clone();
            if n > 3 {
                with_nan[3] = f32::NAN;
            }
            let u: Vec<f32> = data(n, 28)
                .iter()
                .map(|v| v.clamp(0.0, 0.999_999_9))
                .collect();
            same_on_every_isa("glass kernels", || {
                let mut px = vec![0u32; n];
                pack_rgb8(&with_nan, &g, &b, &mut px);
                let mut planes = Vec::new();
                for shift in [0, 8, 16] {
                    let mut c = vec![0.0; n];
                    unpack_channel(&px, shift, &mut c);
                    planes.push(bits(&c));
                }
                let mut idx = vec![0u32; n];
                jitter_sources(&u, 6.0, 5000, 224, &mut idx);
                (px, planes, idx)
            });
            let mut px = vec![0u32; n];
            pack_rgb8(&r, &g, &b, &mut px);
            let mut c = vec![0.0; n];
            unpack_channel(&px, 8, &mut c);
            for i in 0..n {
                let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0) as u32;
                assert_eq!(px[i], q(r[i]) | q(g[i]) << 8 | q(b[i]) << 16);
                assert_eq!(c[i], q(g[i]) as f32 / 255.0);
            }
            let mut idx = vec![0u32; n];
            jitter_sources(&u, 6.0, 5000, 224, &mut idx);
            for (j, &uj) in u.iter().enumerate() {
                let a = uj * 6.0;
                let dx = a.floor();
                let dy = ((a - dx) * 6.0).floor();
                let want = 5000 + dy as i64 * 224 + dx as i64 - j as i64;
                assert_eq!(idx[j] as i64, want);
                assert!((0.0..6.0).contains(&dx) && (0.0..6.0).contains(&dy));
            }
        }
    }

    #[test]
    fn nested_col_sums_agree_and_sum_the_columns() {
        let src = data(60 * 13, 29);
        let rows: Vec<&[f32]> = src.chunks(60).collect();
        for (levels, n) in [
            (vec![0usize, 3, 4, 5, 6], 60usize),
            (vec![2, 5], 37),
            (vec![0], 5),
            (vec![1, 6], 17),
            (vec![6], 0),
        ] {
            let stride = n + 3;
            same_on_every_isa("nested_col_sums", || {
                let mut out = vec![7.0; levels.len() * stride];
                nested_col_sums(&rows, &levels, &mut out, stride, n);
                bits(&out)
            });
            let mut out = vec![7.0; levels.len() * stride];
            nested_col_sums(&rows, &levels, &mut out, stride, n);
            for (j, &a) in levels.iter().enumerate() {
                for x in 0..n {
                    let want: f32 = (6 - a..=6 + a).map(|i| rows[i][x]).sum();
                    assert!((out[j * stride + x] - want).abs() < 1e-5);
                }
                assert!(out[j * stride + n..(j + 1) * stride]
                    .iter()
                    .all(|&v| v == 7.0));
            }
        }
    }

    #[test]
    fn paired_rows_give_the_bits_of_single_rows() {
        let src = data(70 * 12, 30);
        for n in [0, 1, 7, 8, 16, 31, 33, 64, 70] {
            let rows: Vec<&[f32]> = src.chunks(70).map(|r| &r[..n]).collect();
            for kh in [&[0.5f32, 0.25][..], &[0.3, 0.2, 0.1, 0.05, 0.025, 0.0125]] {
                let window = &rows[..2 * kh.len()];
                let pair = || {
                    let (mut a, mut b) = (vec![9.0; n], vec![9.0; n]);
                    weighted_rows_sym2(window, kh, &mut a, &mut b);
                    (bits(&a), bits(&b))
                };
                same_on_every_isa("weighted_rows_sym2", pair);
                let (mut a, mut b) = (vec![9.0; n], vec![9.0; n]);
                weighted_rows_sym(&window[..window.len() - 1], kh, &mut a);
                weighted_rows_sym(&window[1..], kh, &mut b);
                assert_eq!(pair(), (bits(&a), bits(&b)), "n = {n}, {} taps", kh.len());
            }
        }
    }

    #[test]
    fn borders_index_like_scipy() {
        let idx = |b: Border| {
            (-4..8)
                .map(|i| b.index(i, 4).map(|v| v as i32).unwrap_or(-1))
                .collect::<Vec<_>>()
        };
        assert_eq!(idx(Border::Nearest), [0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3]);
        assert_eq!(idx(Border::Reflect), [3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]);
        assert_eq!(idx(Border::Mirror), [2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]);
        assert_eq!(idx(Border::Wrap), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
        assert_eq!(
            idx(Border::Constant(0.0)),
            [-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1]
        );
        assert_eq!(Border::Mirror.index(-3, 1), Some(0));
    }

    /// NEON is part of the aarch64 baseline, so an aarch64 build (native or under
    /// qemu-user) must pick it, or the agreement tests above compare scalar with itself.
    #[test]
    fn the_best_isa_is_detected() {
        #[cfg(target_arch = "aarch64")]
        assert_eq!(detected(), Isa::Neon);
        #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
        assert_eq!(detected(), Isa::Scalar);
        assert_eq!(Some(&detected()), available().last());
    }

    #[test]
    fn forcing_an_unavailable_isa_is_an_error() {
        #[cfg(not(target_arch = "aarch64"))]
        assert!(with_isa(Isa::Neon, || ()).is_err());
        #[cfg(not(target_arch = "x86_64"))]
        assert!(with_isa(Isa::Avx2, || ()).is_err());
        assert_eq!(with_isa(Isa::Scalar, active).unwrap(), Isa::Scalar);
    }
}

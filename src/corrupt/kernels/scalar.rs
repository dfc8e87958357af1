//! Scalar twins of every vector kernel: plain loops with the same operation order, so
//! that each vector path must reproduce them bit for bit. They also run on targets
//! without a vector path (armv7, whose NEON intrinsics are not stable in Rust).

use super::Border;
use crate::corrupt::detmath::{ln_f32, sincos_turn_f32};
use crate::corrupt::rng::{hash, unit_f32, unit_open_f32};

pub fn fill_uniform(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = unit_f32(hash(k0, k1, lo.wrapping_add(i as u32), hi));
    }
}

/// One Box-Muller pair from counters `c` and `c + 8`.
#[inline(always)]
pub fn normal_pair(k0: u32, k1: u32, c: u32, hi: u32) -> (f32, f32) {
    let u1 = unit_open_f32(hash(k0, k1, c, hi));
    let u2 = unit_f32(hash(k0, k1, c.wrapping_add(8), hi));
    let r = (-2.0 * ln_f32(u1)).sqrt();
    let (c, s) = sincos_turn_f32(u2);
    (r * c, r * s)
}

/// Normals in blocks of 16 outputs: pair j (0..8) of block b draws its two uniforms
/// from counters 16b + j and 16b + j + 8 and writes r cos to 16b + j and r sin to
/// 16b + j + 8. The layout lets 4-, 8- and 16-lane paths store whole vectors.
pub fn fill_normal(k0: u32, k1: u32, lo: u32, hi: u32, out: &mut [f32]) {
    for (b, block) in out.chunks_mut(16).enumerate() {
        let base = lo.wrapping_add(16 * b as u32);
        for j in 0..8 {
            if j >= block.len() {
                break;
            }
            let (c, s) = normal_pair(k0, k1, base.wrapping_add(j as u32), hi);
            block[j] = c;
            if j + 8 < block.len() {
                block[j + 8] = s;
            }
        }
    }
}

/// max-then-min rather than `clamp` so NaN becomes 0, as the vector max/min do.
#[inline(always)]
#[allow(clippy::manual_clamp)]
fn clamp(v: f32) -> f32 {
    v.max(0.0).min(1.0)
}

pub fn clamp01(x: &mut [f32]) {
    for v in x {
        *v = clamp(*v);
    }
}

pub fn affine(x: &mut [f32], a: f32, b: f32) {
    for v in x {
        *v = *v * a + b;
    }
}

pub fn affine_clamp(x: &mut [f32], a: f32, b: f32) {
    for v in x {
        *v = clamp(*v * a + b);
    }
}

pub fn add_scaled_clamp(x: &mut [f32], n: &[f32], s: f32) {
    for (v, &z) in x.iter_mut().zip(n) {
        *v = clamp(*v + s * z);
    }
}

pub fn speckle_clamp(x: &mut [f32], n: &[f32], s: f32) {
    for (v, &z) in x.iter_mut().zip(n) {
        *v = clamp(*v + *v * (s * z));
    }
}

pub fn weighted_sum_clamp(x: &mut [f32], y: &[f32], a: f32, b: f32) {
    for (v, &w) in x.iter_mut().zip(y) {
        *v = clamp(a * *v + b * w);
    }
}

pub fn lerp(a: &[f32], b: &[f32], t: f32, out: &mut [f32]) {
    for ((o, &p), &q) in out.iter_mut().zip(a).zip(b) {
        *o = p + t * (q - p);
    }
}

/// Nested centred column sums: `rows` holds 2t + 1 rows centred on `rows[t]`,
/// `s_0 = rows[t][x]`, `s_a = s_(a-1) + (rows[t - a][x] + rows[t + a][x])`, and
/// `out[j * stride + x] = s_levels[j]` for `x < n` (levels ascending, at most t).
pub fn nested_col_sums(
    rows: &[&[f32]],
    levels: &[usize],
    out: &mut [f32],
    stride: usize,
    n: usize,
) {
    let t = rows.len() / 2;
    let top = levels.last().copied().unwrap_or(0);
    for x in 0..n {
        let mut s = rows[t][x];
        let mut j = 0;
        for a in 0..=top {
            if a > 0 {
                s += rows[t - a][x] + rows[t + a][x];
            }
            if j < levels.len() && levels[j] == a {
                out[j * stride + x] = s;
                j += 1;
            }
        }
    }
}

/// `acc[i] += row[idx[i]] + frac[i] * (row[idx[i] + 1] - row[idx[i]])`.
pub fn lerp_taps_acc(row: &[f32], idx: &[u32], frac: &[f32], acc: &mut [f32]) {
    for ((o, &i), &f) in acc.iter_mut().zip(idx).zip(frac) {
        let a = row[i as usize];
        let b = row[i as usize + 1];
        *o += a + f * (b - a);
    }
}

/// Source indices of one row of glass blur's pixel jitter: with `a = u[j] * span`,
/// `dx = trunc(a)` and `dy = trunc((a - dx) * span)`, `out[j] = base + dy * w + dx - j`
/// (wrapping u32 arithmetic). Needs `u` in [0, 1) and `0 < span < 2^23`.
pub fn jitter_sources(u: &[f32], span: f32, base: u32, w: u32, out: &mut [u32]) {
    for (j, (o, &uj)) in out.iter_mut().zip(u).enumerate() {
        let a = uj * span;
        let dx = a as i32;
        let dy = ((a - dx as f32) * span) as i32;
        *o = base
            .wrapping_sub(j as u32)
            .wrapping_add((dy as u32).wrapping_mul(w))
            .wrapping_add(dx as u32);
    }
}

/// `out[i] = q(r[i]) + 256 q(g[i]) + 65536 q(b[i])` with `q(v) = trunc(clamp(v) * 255)`:
/// 8-bit RGB packed in a u32, truncated like numpy's `uint8` cast (NaN gives 0).
pub fn pack_rgb8(r: &[f32], g: &[f32], b: &[f32], out: &mut [u32]) {
    let q = |v: f32| (clamp(v) * 255.0) as u32;
    for (i, o) in out.iter_mut().enumerate() {
        *o = q(r[i]) | q(g[i]) << 8 | q(b[i]) << 16;
    }
}

/// `out[i] = ((px[i] >> shift) & 255) / 255`: one channel of packed 8-bit pixels.
pub fn unpack_channel(px: &[u32], shift: u32, out: &mut [f32]) {
    for (o, &p) in out.iter_mut().zip(px) {
        *o = ((p >> shift) & 0xff) as f32 / 255.0;
    }
}

/// `x = 0` where `u < lo`, else `x = 1` where `u < hi`, else unchanged.
pub fn impulses(x: &mut [f32], u: &[f32], lo: f32, hi: f32) {
    for (v, &r) in x.iter_mut().zip(u) {
        *v = if r < lo {
            0.0
        } else if r < hi {
            1.0
        } else {
            *v
        };
    }
}

/// skimage's `rgb2hsv`: ties between maxima go to blue, then green, then red; hue is
/// 0 where the pixel is grey.
#[inline(always)]
pub fn rgb_to_hsv_px(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let v = r.max(g).max(b);
    let delta = v - r.min(g).min(b);
    if delta == 0.0 {
        return (0.0, 0.0, v);
    }
    let s = delta / v;
    let h6 = if b == v {
        4.0 + (r - g) / delta
    } else if g == v {
        2.0 + (b - r) / delta
    } else {
        (g - b) / delta
    };
    let h = h6 / 6.0;
    let h = h - h.floor();
    (h, s, v)
}

pub fn rgb_to_hsv(r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    for i in 0..r.len() {
        let (h, s, v) = rgb_to_hsv_px(r[i], g[i], b[i]);
        r[i] = h;
        g[i] = s;
        b[i] = v;
    }
}

/// skimage's `hsv2rgb`.
#[inline(always)]
pub fn hsv_to_rgb_px(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let h6 = h * 6.0;
    let hi = h6.floor();
    let f = h6 - hi;
    let p = v * (1.0 - s);
    let q = v * (1.0 - f * s);
    let t = v * (1.0 - (1.0 - f) * s);
    match (hi as i32).rem_euclid(6) {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

pub fn hsv_to_rgb(h: &mut [f32], s: &mut [f32], v: &mut [f32]) {
    for i in 0..h.len() {
        let (r, g, b) = hsv_to_rgb_px(h[i], s[i], v[i]);
        h[i] = r;
        s[i] = g;
        v[i] = b;
    }
}

/// One row padded by `pad` on each side according to `border`.
pub fn pad_row(row: &[f32], pad: usize, border: Border, out: &mut Vec<f32>) {
    out.clear();
    // The common borders without per-sample index arithmetic.
    match (border, row.first(), row.last()) {
        (Border::Nearest, Some(&first), Some(&last)) => {
            out.resize(pad, first);
            out.extend_from_slice(row);
            out.resize(out.len() + pad, last);
            return;
        }
        (Border::Constant(v), _, _) => {
            out.resize(pad, v);
            out.extend_from_slice(row);
            out.resize(out.len() + pad, v);
            return;
        }
        (Border::Reflect, _, _) if pad <= row.len() => {
            out.extend(row[..pad].iter().rev());
            out.extend_from_slice(row);
            out.extend(row[row.len() - pad..].iter().rev());
            return;
        }
        (Border::Mirror, _, _) if pad < row.len() => {
            out.extend(row[1..=pad].iter().rev());
            out.extend_from_slice(row);
            out.extend(row[row.len() - 1 - pad..row.len() - 1].iter().rev());
            return;
        }
        _ => {}
    }
    let n = row.len() as isize;
    let at = |i: isize| match border.index(i, row.len()) {
        Some(j) => row[j],
        None => border.fill(),
    };
    out.extend((-(pad as isize)..0).map(at));
    out.extend_from_slice(row);
    out.extend((n..n + pad as isize).map(at));
}

/// Horizontal correlation with an odd-length kernel, straight from the definition.
pub fn convolve_rows(src: &[f32], dst: &mut [f32], w: usize, k: &[f32], border: Border) {
    let r = (k.len() / 2) as isize;
    for (row, out) in src.chunks_exact(w).zip(dst.chunks_exact_mut(w)) {
        for (x, o) in out.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for (t, &kt) in k.iter().enumerate() {
                let v = match border.index(x as isize + t as isize - r, w) {
                    Some(i) => row[i],
                    None => border.fill(),
                };
                acc += kt * v;
            }
            *o = acc;
        }
    }
}

/// `out[x] = sum_t k[t] * padded[x + t]`, accumulated in tap order.
pub fn convolve_padded_row(padded: &[f32], k: &[f32], out: &mut [f32]) {
    for (x, o) in out.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for (t, &kt) in k.iter().enumerate() {
            acc += kt * padded[x + t];
        }
        *o = acc;
    }
}

/// A symmetric kernel `kh[r] .. kh[1] kh[0] kh[1] .. kh[r]` (r = kh.len() - 1) folded:
/// `out[x] = kh[0] * c + kh[1] * (c[-1] + c[1]) + ...` with c = `padded[x + r]`, each
/// term fused into the sum (one rounding per tap pair, and what FMA units do fastest).
pub fn convolve_padded_row_sym(padded: &[f32], kh: &[f32], out: &mut [f32]) {
    let r = kh.len() - 1;
    for (x, o) in out.iter_mut().enumerate() {
        let c = x + r;
        let mut acc = kh[0] * padded[c];
        for (d, &kt) in kh.iter().enumerate().skip(1) {
            acc = kt.mul_add(padded[c - d] + padded[c + d], acc);
        }
        *o = acc;
    }
}

/// The rows version of [`convolve_padded_row_sym`]: `rows` holds 2r + 1 rows, the
/// centre one at r.
pub fn weighted_rows_sym(rows: &[&[f32]], kh: &[f32], out: &mut [f32]) {
    let r = kh.len() - 1;
    for (x, o) in out.iter_mut().enumerate() {
        let mut acc = kh[0] * rows[r][x];
        for (d, &kt) in kh.iter().enumerate().skip(1) {
            acc = kt.mul_add(rows[r - d][x] + rows[r + d][x], acc);
        }
        *o = acc;
    }
}

/// Two output rows of [`weighted_rows_sym`] from 2r + 2 rows (the vector paths share
/// loads between them; the bits are the same).
pub fn weighted_rows_sym2(rows: &[&[f32]], kh: &[f32], out0: &mut [f32], out1: &mut [f32]) {
    weighted_rows_sym(&rows[..rows.len() - 1], kh, out0);
    weighted_rows_sym(&rows[1..], kh, out1);
}

/// Vertical correlation, straight from the definition.
pub fn convolve_cols(src: &[f32], dst: &mut [f32], w: usize, h: usize, k: &[f32], border: Border) {
    let r = (k.len() / 2) as isize;
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0f32;
            for (t, &kt) in k.iter().enumerate() {
                let v = match border.index(y as isize + t as isize - r, h) {
                    Some(j) => src[j * w + x],
                    None => border.fill(),
                };
                acc += kt * v;
            }
            dst[y * w + x] = acc;
        }
    }
}

/// `out[x] = sum_t k[t] * rows[t][x]`, accumulated in tap order from 0.
pub fn weighted_rows(rows: &[&[f32]], k: &[f32], out: &mut [f32]) {
    for (x, o) in out.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for (row, &kt) in rows.iter().zip(k) {
            acc += kt * row[x];
        }
        *o = acc;
    }
}

/// `out[x] = rows[0][x] + rows[1][x] + ...`, added in row order.
pub fn sum_rows(rows: &[&[f32]], out: &mut [f32]) {
    let Some((first, rest)) = rows.split_first() else {
        return;
    };
    for (x, o) in out.iter_mut().enumerate() {
        let mut acc = first[x];
        for row in rest {
            acc += row[x];
        }
        *o = acc;
    }
}

/// `acc += a * x`.
pub fn axpy(acc: &mut [f32], x: &[f32], a: f32) {
    for (o, &v) in acc.iter_mut().zip(x) {
        *o += a * v;
    }
}

/// 2-D correlation from the definition: taps in row-major order, zero taps skipped.
pub fn filter2d(
    src: &[f32],
    dst: &mut [f32],
    w: usize,
    h: usize,
    k: &[f32],
    kw: usize,
    border: Border,
) {
    let kh = k.len() / kw;
    let (rx, ry) = ((kw / 2) as isize, (kh / 2) as isize);
    let at = |x: isize, y: isize| match (border.index(x, w), border.index(y, h)) {
        (Some(i), Some(j)) => src[j * w + i],
        _ => border.fill(),
    };
    for y in 0..h as isize {
        for x in 0..w as isize {
            let mut acc = 0.0f32;
            for ky in 0..kh {
                for kx in 0..kw {
                    let kt = k[ky * kw + kx];
                    if kt != 0.0 {
                        acc += kt * at(x + kx as isize - rx, y + ky as isize - ry);
                    }
                }
            }
            dst[y as usize * w + x as usize] = acc;
        }
    }
}

/// Bilinear sample of `src` at (x, y), with `border` outside.
#[inline(always)]
pub fn bilinear(src: &[f32], w: usize, h: usize, x: f32, y: f32, border: Border) -> f32 {
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = x - x0;
    let fy = y - y0;
    let (xi, yi) = (x0 as isize, y0 as isize);
    let at = |xx: isize, yy: isize| -> f32 {
        match (border.index(xx, w), border.index(yy, h)) {
            (Some(i), Some(j)) => src[j * w + i],
            _ => border.fill(),
        }
    };
    let a = at(xi, yi);
    let b = at(xi + 1, yi);
    let c = at(xi, yi + 1);
    let d = at(xi + 1, yi + 1);
    let top = a + fx * (b - a);
    let bot = c + fx * (d - c);
    top + fy * (bot - top)
}

pub fn remap_bilinear(
    src: &[f32],
    w: usize,
    h: usize,
    map_x: &[f32],
    map_y: &[f32],
    dst: &mut [f32],
    border: Border,
) {
    for ((o, &x), &y) in dst.iter_mut().zip(map_x).zip(map_y) {
        *o = bilinear(src, w, h, x, y, border);
    }
}

/// `acc += weight * src shifted by (dx, dy)`, replicating edge pixels (the reference's
/// `shift`).
pub fn shift_accumulate(
    acc: &mut [f32],
    src: &[f32],
    w: usize,
    h: usize,
    dx: isize,
    dy: isize,
    weight: f32,
) {
    for y in 0..h {
        let sy = (y as isize - dy).clamp(0, h as isize - 1) as usize;
        let row = &src[sy * w..(sy + 1) * w];
        let out = &mut acc[y * w..(y + 1) * w];
        for (x, o) in out.iter_mut().enumerate() {
            let sx = (x as isize - dx).clamp(0, w as isize - 1) as usize;
            *o += weight * row[sx];
        }
    }
}

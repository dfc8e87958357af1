//! Image filters the corruption families share, built on the vector [`kernels`]:
//! scipy/skimage Gaussian blur, scipy's order-1 zoom, the reference motion blur.

use super::detmath;
use super::kernels::{self, Border};
use super::Image;

/// scipy's `_gaussian_kernel1d`: radius `int(truncate * sigma + 0.5)`, weights
/// `exp(-x^2 / 2 sigma^2)` normalised to sum 1 (computed in f64).
pub fn gaussian_kernel(sigma: f64, truncate: f64) -> Vec<f32> {
    let radius = (truncate * sigma + 0.5).max(0.0) as i64;
    if sigma <= 0.0 || radius == 0 {
        return vec![1.0];
    }
    let w: Vec<f64> = (-radius..=radius)
        .map(|x| detmath::exp(-0.5 * (x * x) as f64 / (sigma * sigma)))
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|v| (v / sum) as f32).collect()
}

/// Separable Gaussian blur of one `w x h` plane, columns then rows, as
/// `scipy.ndimage.gaussian_filter` (axis 0 first) does.
pub fn gaussian_blur_plane(
    plane: &[f32],
    w: usize,
    h: usize,
    sigma_y: f64,
    sigma_x: f64,
    truncate: f64,
    border: Border,
) -> Vec<f32> {
    let mut out = vec![0.0; plane.len()];
    let mut tmp = Vec::new();
    let sigma = (sigma_y, sigma_x);
    gaussian_blur_plane_into(plane, w, h, sigma, truncate, border, &mut out, &mut tmp);
    out
}

/// [`gaussian_blur_plane`] (sigmas `(y, x)`) into `out`, with `tmp` as scratch.
#[allow(clippy::too_many_arguments)]
pub fn gaussian_blur_plane_into(
    plane: &[f32],
    w: usize,
    h: usize,
    (sigma_y, sigma_x): (f64, f64),
    truncate: f64,
    border: Border,
    out: &mut [f32],
    tmp: &mut Vec<f32>,
) {
    assert!(plane.len() == w * h && out.len() == w * h);
    if w == 0 || h == 0 {
        return;
    }
    let ky = gaussian_kernel(sigma_y, truncate);
    let kx = gaussian_kernel(sigma_x, truncate);
    match (ky.len() > 1, kx.len() > 1) {
        (true, true) => {
            tmp.resize(w * h, 0.0);
            kernels::convolve_cols(plane, tmp, w, h, &ky, border);
            kernels::convolve_rows(tmp, out, w, &kx, border);
        }
        (true, false) => kernels::convolve_cols(plane, out, w, h, &ky, border),
        (false, true) => kernels::convolve_rows(plane, out, w, &kx, border),
        (false, false) => out.copy_from_slice(plane),
    }
}

/// `skimage.filters.gaussian(image, sigma, channel_axis=-1)`: each plane blurred with
/// `mode='nearest'`, `truncate=4`.
pub fn gaussian_blur(image: &Image, sigma: f64) -> Image {
    let (w, h) = (image.width(), image.height());
    let mut tmp = Vec::new();
    map_planes_into(image, |p, out| {
        gaussian_blur_plane_into(p, w, h, (sigma, sigma), 4.0, Border::Nearest, out, &mut tmp)
    })
}

/// Order-1 (bilinear) resize of the `cw x ch` window at (`x0`, `y0`) of a `w`-wide plane
/// to `ow x oh`, with scipy's `zoom` corner-aligned mapping
/// `in = out * (in_len - 1) / (out_len - 1)`, added into `acc` (row stride `acc_w`);
/// only the first `keep_w x keep_h` output pixels are computed.
///
/// Each output is the vertical blend of two source rows, then the horizontal blend of
/// two neighbours in it (`a + f * (b - a)` both times); the horizontal taps are the same
/// for every row, so they are tabulated once.
#[allow(clippy::too_many_arguments)]
pub fn zoom_window_acc(
    plane: &[f32],
    w: usize,
    (x0, y0, cw, ch): (usize, usize, usize, usize),
    (ow, oh): (usize, usize),
    (keep_w, keep_h): (usize, usize),
    acc: &mut [f32],
    acc_w: usize,
) {
    let scale = |in_len: usize, out_len: usize| {
        if out_len > 1 {
            (in_len as f64 - 1.0) / (out_len as f64 - 1.0)
        } else {
            0.0
        }
    };
    let (sx, sy) = (scale(cw, ow), scale(ch, oh));
    let tap = |o: usize, s: f64, in_len: usize| -> (usize, f32) {
        let p = o as f64 * s;
        let i = (p.floor() as usize).min(in_len.saturating_sub(1));
        (i, (p - i as f64) as f32)
    };
    let (kw, kh) = (keep_w.min(ow), keep_h.min(oh));
    if kw == 0 || kh == 0 || cw == 0 || ch == 0 {
        return;
    }
    let xs = kernels::LerpTaps::new((0..kw).map(|o| tap(o, sx, cw)));
    // The last column's right neighbour repeats it, so its blend is the column itself
    // (a + f * 0), and the spare samples let every vector load a whole window.
    let mut row = vec![0.0f32; cw + 1 + kernels::LERP_TAPS_SLACK];
    for y in 0..kh {
        let (iy, fy) = tap(y, sy, ch);
        let r0 = &plane[(y0 + iy) * w + x0..(y0 + iy) * w + x0 + cw];
        if iy + 1 < ch && fy != 0.0 {
            let r1 = &plane[(y0 + iy + 1) * w + x0..(y0 + iy + 1) * w + x0 + cw];
            kernels::lerp(r0, r1, fy, &mut row[..cw]);
        } else {
            row[..cw].copy_from_slice(r0);
        }
        row[cw] = row[cw - 1];
        kernels::lerp_taps_acc(&row, &xs, &mut acc[y * acc_w..y * acc_w + kw]);
    }
}

/// The reference's `clipped_zoom` on one plane: crop the centre `ceil(n / z)`, zoom it
/// by `z` (order 1), keep the top-left `w x h`, and add it into `acc`.
///
/// Rounding can leave the zoom a pixel short of the frame; the reference then adds into
/// the top-left corner only, so the pixels past it get nothing.
pub fn clipped_zoom_acc(plane: &[f32], w: usize, h: usize, z: f64, acc: &mut [f32]) {
    assert!(plane.len() == w * h && acc.len() == w * h);
    if w == 0 || h == 0 {
        return;
    }
    let ch = ((h as f64 / z).ceil() as usize).clamp(1, h);
    let cw = ((w as f64 / z).ceil() as usize).clamp(1, w);
    let (top, left) = ((h - ch) / 2, (w - cw) / 2);
    let (oh, ow) = (
        ((ch as f64 * z).round() as usize).max(1),
        ((cw as f64 * z).round() as usize).max(1),
    );
    zoom_window_acc(plane, w, (left, top, cw, ch), (ow, oh), (w, h), acc, w);
}

/// The reference's `clipped_zoom` on one plane (see [`clipped_zoom_acc`]); pixels the
/// zoom falls short of are 0.
pub fn clipped_zoom_plane(plane: &[f32], w: usize, h: usize, z: f64) -> Vec<f32> {
    let mut out = vec![0.0; w * h];
    clipped_zoom_acc(plane, w, h, z, &mut out);
    out
}

/// The reference motion blur (`_motion_blur`): a one-sided Gaussian-weighted sum of
/// copies shifted along `angle_deg`, edges replicated.
pub fn motion_blur_plane(
    plane: &[f32],
    w: usize,
    h: usize,
    radius: usize,
    sigma: f64,
    angle_deg: f64,
) -> Vec<f32> {
    let width = 2 * radius + 1;
    let weights: Vec<f64> = (0..width)
        .map(|x| {
            detmath::exp(-((x * x) as f64) / (2.0 * sigma * sigma))
                / ((2.0 * std::f64::consts::PI).sqrt() * sigma)
        })
        .collect();
    let z: f64 = weights.iter().sum();
    let (s, c) = detmath::sincos(angle_deg.to_radians());
    let (py, px) = (width as f64 * s, width as f64 * c);
    let hyp = (py * py + px * px).sqrt();
    let mut shifts: Vec<(isize, isize)> = Vec::with_capacity(width);
    let mut k: Vec<f32> = Vec::with_capacity(width);
    for (i, wt) in weights.iter().enumerate() {
        let dy = -((i as f64 * py / hyp - 0.5).ceil()) as isize;
        let dx = -((i as f64 * px / hyp - 0.5).ceil()) as isize;
        // The reference stops (without renormalising) once a shift leaves the image.
        if dy.unsigned_abs() >= h || dx.unsigned_abs() >= w {
            break;
        }
        shifts.push((dx, dy));
        k.push((wt / z) as f32);
    }
    let mut out = vec![0.0f32; plane.len()];
    if shifts.is_empty() {
        return out;
    }
    // out[y][x] = sum_i k_i * src[clamp(y - dy_i)][clamp(x - dx_i)]: on a plane padded with
    // replicated edges each term is a plain row slice, so one register-resident sum per
    // output row replaces a pass over the whole image per shift.
    let pad_x = shifts.iter().map(|s| s.0.unsigned_abs()).max().unwrap_or(0);
    let pad_y = shifts.iter().map(|s| s.1.unsigned_abs()).max().unwrap_or(0);
    let padded = kernels::pad_plane(plane, w, h, pad_x, pad_y, Border::Nearest);
    let pw = w + 2 * pad_x;
    let mut rows: Vec<&[f32]> = Vec::with_capacity(shifts.len());
    for y in 0..h {
        rows.clear();
        for &(dx, dy) in &shifts {
            let sy = (y + pad_y) as isize - dy;
            let sx = pad_x as isize - dx;
            let start = sy as usize * pw + sx as usize;
            rows.push(&padded[start..start + w]);
        }
        kernels::weighted_rows(&rows, &k, &mut out[y * w..(y + 1) * w]);
    }
    out
}

/// Applies `f` to each plane of `image`, producing a new image.
pub fn map_planes(image: &Image, mut f: impl FnMut(&[f32]) -> Vec<f32>) -> Image {
    let (w, h) = (image.width(), image.height());
    let mut data = Vec::with_capacity(3 * w * h);
    for c in 0..3 {
        let p = f(image.plane(c));
        assert_eq!(p.len(), w * h, "plane size");
        data.extend(p);
    }
    Image::from_planes(w, h, data)
}

/// Like [`map_planes`], with `f` writing each output plane in place.
pub fn map_planes_into(image: &Image, mut f: impl FnMut(&[f32], &mut [f32])) -> Image {
    let mut out = Image::new(image.width(), image.height());
    for c in 0..3 {
        f(image.plane(c), out.plane_mut(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_kernel_matches_scipy() {
        // scipy.ndimage._filters._gaussian_kernel1d(1.0, 0, 4) values.
        let k = gaussian_kernel(1.0, 4.0);
        assert_eq!(k.len(), 9);
        let want = [
            1.338_302e-4,
            4.431_848e-3,
            5.399_097e-2,
            2.419_707e-1,
            3.989_423e-1,
        ];
        for (i, w) in want.iter().enumerate() {
            assert!((f64::from(k[i]) - w).abs() < 2e-6, "{i}: {}", k[i]);
            assert!((k[i] - k[8 - i]).abs() < 1e-9);
        }
        assert_eq!(gaussian_kernel(0.0, 4.0), vec![1.0]);
    }

    #[test]
    fn blur_keeps_a_constant_plane() {
        let p = vec![0.25f32; 7 * 5];
        let b = gaussian_blur_plane(&p, 7, 5, 2.0, 1.5, 4.0, Border::Reflect);
        assert!(b.iter().all(|v| (v - 0.25).abs() < 1e-6));
    }

    #[test]
    fn zoom_of_one_is_identity() {
        let p: Vec<f32> = (0..35).map(|v| v as f32).collect();
        assert_eq!(clipped_zoom_plane(&p, 7, 5, 1.0), p);
        // A linear ramp stays linear under order-1 zoom.
        let z = clipped_zoom_plane(&p, 7, 5, 1.5);
        assert_eq!(z.len(), 35);
    }

    #[test]
    fn clipped_zoom_matches_the_definition() {
        for (w, h) in [(37, 23), (8, 50), (1, 6), (224, 3)] {
            let p: Vec<f32> = (0..w * h)
                .map(|i| ((i * 7919) % 101) as f32 / 100.0)
                .collect();
            for z in [1.01, 1.06, 1.13, 1.3, 1.75] {
                let got = clipped_zoom_plane(&p, w, h, z);
                let ch = ((h as f64 / z).ceil() as usize).clamp(1, h);
                let cw = ((w as f64 / z).ceil() as usize).clamp(1, w);
                let (top, left) = ((h - ch) / 2, (w - cw) / 2);
                let oh = ((ch as f64 * z).round() as usize).max(1);
                let ow = ((cw as f64 * z).round() as usize).max(1);
                let at = |o: usize, n_in: usize, n_out: usize| {
                    let s = if n_out > 1 {
                        (n_in as f64 - 1.0) / (n_out as f64 - 1.0)
                    } else {
                        0.0
                    };
                    let q = o as f64 * s;
                    let i = (q.floor() as usize).min(n_in - 1);
                    (i, (q - i as f64) as f32)
                };
                for y in 0..h {
                    for x in 0..w {
                        let want = if x < ow && y < oh {
                            let (iy, fy) = at(y, ch, oh);
                            let (ix, fx) = at(x, cw, ow);
                            let px = |yy: usize, xx: usize| {
                                p[(top + yy.min(ch - 1)) * w + left + xx.min(cw - 1)]
                            };
                            let col = |xx: usize| {
                                let a = px(iy, xx);
                                a + fy * (px(iy + 1, xx) - a)
                            };
                            let a = col(ix);
                            a + fx * (col(ix + 1) - a)
                        } else {
                            0.0
                        };
                        let g = got[y * w + x];
                        assert!(
                            (g - want).abs() < 1e-6,
                            "{w}x{h} z {z} ({x}, {y}): {g} {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn motion_blur_weights_sum_to_one() {
        let p = vec![0.5f32; 20 * 10];
        let b = motion_blur_plane(&p, 20, 10, 3, 1.5, 30.0);
        assert!(b.iter().all(|v| (v - 0.5).abs() < 1e-5));
        // Tiny images stop early instead of shifting past the border, without
        // renormalising (as the reference), so a 1x1 image keeps only the first tap.
        let b = motion_blur_plane(&[0.3], 1, 1, 10, 3.0, 10.0);
        assert!(b[0] > 0.0 && b[0] < 0.3, "{}", b[0]);
    }
}

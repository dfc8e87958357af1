//! Weather: snow, frost, fog, spatter (ImageNet-C), rain streaks and lens droplets.
//!
//! The four ImageNet-C corruptions follow imagecorruptions 1.1.2 step by step (the
//! plasma fractal, the snow layer, the OpenCV pipeline of `spatter`), with one
//! exception: `frost` blends procedurally grown ice textures instead of the six photos
//! the reference ships, calibrated to the photos' statistics. The small OpenCV pieces
//! `spatter` needs (Canny, the 5x5 chamfer distance transform, `equalizeHist`, 3x3 box
//! blurs, `filter2D` on 8-bit data) are written out here with OpenCV's 8-bit rounding
//! and saturation; they are tight scalar loops over one plane.

use super::filters;
use super::kernels::{self, Border};
use super::{detmath, Corruption, Family, Image, Param, Rng, Severity};
use std::sync::OnceLock;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[&Snow, &Frost, &Fog, &Spatter, &Rain, &LensDroplets];

// ---------------------------------------------------------------------------------------
// fog

/// Fog (ImageNet-C `fog`): a diamond-square plasma fractal (the reference's
/// `plasma_fractal`, map side the next power of two of the largest of height, width
/// and 3 channels, wibble starting at 100 and divided by `decay` per level, normalised
/// to [0, 1]; generated in f32) is added with weight `amplitude`, then the image is
/// rescaled by `max / (max + amplitude)` (`max` = the brightest input sample) so it
/// dims and loses contrast under the haze.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | amplitude | 1.5 | 2.0 | 2.5 | 2.5 | 3.0 |
/// | decay | 2.0 | 2.0 | 1.7 | 1.5 | 1.4 |
pub struct Fog;

const FOG: [(f32, f64); 5] = [(1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)];

/// The reference's diamond-square heightmap on a `size x size` torus (`size` rounded
/// up to a power of two), normalised to [0, 1], row-major.
pub fn plasma_fractal(size: usize, decay: f64, rng: &mut Rng) -> Vec<f32> {
    let (mut map, lo, range) = plasma_raw(size.max(1).next_power_of_two(), decay, rng);
    if range > 0.0 {
        for v in map.iter_mut() {
            *v = (*v - lo) / range;
        }
    }
    map
}

/// The unnormalised heightmap (`n` a power of two) with its minimum and range.
///
/// Built coarse to fine in f32: the corner grid of one level (side `m`, spacing
/// `step`) is expanded into the grid of the next (side `2m`) row by row, so every inner
/// loop runs over contiguous rows without wrap-around arithmetic. Each new row pair
/// takes, per old corner, the corner and the midpoint of the edge to its right (even
/// row), and the midpoint of the edge below it and the square centre (odd row). The
/// reference's rolls become the neighbouring rows and columns on the torus; random
/// draws are consumed in its order (centres, top edges, left edges).
fn plasma_raw(n: usize, decay: f64, rng: &mut Rng) -> (Vec<f32>, f32, f32) {
    let mut grid = vec![0.0f32; 1];
    let mut next: Vec<f32> = Vec::with_capacity(n * n);
    let mut centres: Vec<f32> = Vec::with_capacity(n * n / 4);
    let mut draws: Vec<f32> = Vec::with_capacity(3 * n * n / 4);
    let mut sums: Vec<f32> = Vec::with_capacity(n / 2 + 1);
    let mut wibble = 100.0f64;
    let mut m = 1;
    while m < n {
        // wibble * U(-wibble, wibble) = lo + span * u.
        let (lo, span) = ((-wibble * wibble) as f32, (2.0 * wibble * wibble) as f32);
        draws.resize(3 * m * m, 0.0);
        rng.fill_uniform(&mut draws);
        let (sq, rest) = draws.split_at(m * m);
        let (d_top, d_left) = rest.split_at(m * m);
        // Square centres: (corner + corner below) + the same one column to the right.
        centres.resize(m * m, 0.0);
        for i in 0..m {
            let (a, b) = (&grid[i * m..(i + 1) * m], &grid[(i + 1) % m * m..][..m]);
            sums.clear();
            sums.extend(a.iter().zip(b).map(|(x, y)| x + y));
            sums.push(sums[0]);
            let row = &mut centres[i * m..(i + 1) * m];
            for ((c, s), &u) in row.iter_mut().zip(sums.windows(2)).zip(&sq[i * m..]) {
                *c = (s[0] + s[1]) * 0.25 + (lo + span * u);
            }
        }
        let m2 = 2 * m;
        next.resize(m2 * m2, 0.0);
        for i in 0..m {
            let a = &grid[i * m..(i + 1) * m];
            let a_down = &grid[(i + 1) % m * m..][..m];
            let c = &centres[i * m..(i + 1) * m];
            let c_up = &centres[(i + m - 1) % m * m..][..m];
            let (even, odd) = next[2 * i * m2..(2 * i + 2) * m2].split_at_mut(m2);
            // Even row: corners and top-edge midpoints (centres above and below, the
            // corners left and right).
            for j in 0..m {
                let right = a[if j + 1 == m { 0 } else { j + 1 }];
                even[2 * j] = a[j];
                even[2 * j + 1] =
                    ((c[j] + c_up[j]) + (a[j] + right)) * 0.25 + (lo + span * d_top[i * m + j]);
            }
            // Odd row: left-edge midpoints (centres left and right, the corners above
            // and below) and the centres.
            for j in 0..m {
                let left = c[if j == 0 { m - 1 } else { j - 1 }];
                odd[2 * j] =
                    ((c[j] + left) + (a[j] + a_down[j])) * 0.25 + (lo + span * d_left[i * m + j]);
                odd[2 * j + 1] = c[j];
            }
        }
        std::mem::swap(&mut grid, &mut next);
        m = m2;
        wibble /= decay;
    }
    let lo = grid.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = grid.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (grid, lo, hi - lo)
}

/// Fog with a given plasma field (`H x W`, row-major, already cropped), so tests can
/// inject the reference's field.
pub fn fog_with_field(image: &Image, severity: Severity, field: &[f32]) -> Image {
    assert_eq!(field.len(), image.len(), "field size");
    let (amp, _) = severity.pick(&FOG);
    let mut out = image.clone();
    if image.is_empty() {
        return out;
    }
    let max = min_max(image.data()).1;
    // (x + amp * field) * scale, clipped as the reference does.
    let scale = max / (max + amp);
    for c in 0..3 {
        kernels::weighted_sum_clamp(out.plane_mut(c), field, scale, amp * scale);
    }
    out
}

/// Minimum and maximum of a slice (infinities when empty), in independent lanes so
/// the loop vectorises; exact, as min and max are associative.
fn min_max(p: &[f32]) -> (f32, f32) {
    const L: usize = 16;
    let mut lo = [f32::INFINITY; L];
    let mut hi = [f32::NEG_INFINITY; L];
    let chunks = p.chunks_exact(L);
    let tail = chunks.remainder();
    for ch in chunks {
        for k in 0..L {
            lo[k] = if ch[k] < lo[k] { ch[k] } else { lo[k] };
            hi[k] = if ch[k] > hi[k] { ch[k] } else { hi[k] };
        }
    }
    let lo = lo.iter().chain(tail).copied().fold(f32::INFINITY, f32::min);
    let hi = hi
        .iter()
        .chain(tail)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    (lo, hi)
}

impl Corruption for Fog {
    fn name(&self) -> &'static str {
        "fog"
    }
    fn family(&self) -> Family {
        Family::Weather
    }
    fn summary(&self) -> &'static str {
        "patchy fog from a plasma fractal, with loss of contrast (ImageNet-C)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        let (amp, decay) = s.pick(&FOG);
        vec![
            Param::float("amplitude", f64::from(amp)),
            Param::float("decay", decay),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let (decay, size) = (s.pick(&FOG).1, w.max(h).max(3).next_power_of_two());
        let (map, lo, range) = plasma_raw(size, decay, rng);
        // The reference normalises the whole map, then crops; only the crop is needed.
        let range = if range > 0.0 { range } else { 1.0 };
        let mut field = vec![0.0f32; w * h];
        for (row, src) in field.chunks_exact_mut(w.max(1)).zip(map.chunks_exact(size)) {
            for (f, &v) in row.iter_mut().zip(src) {
                *f = (v - lo) / range;
            }
        }
        fog_with_field(image, s, &field)
    }
}

// ---------------------------------------------------------------------------------------
// snow

/// Snow (ImageNet-C `snow`): a normal random layer is zoomed (order-1, centre crop),
/// thresholded, motion-blurred along a random near-vertical direction (angle
/// U(-135, -45) degrees), quantised to 8-bit levels, and added twice (as is and
/// turned 180 degrees) to the image, which is first whitened towards
/// `max(x, 1.5 gray + 0.5)` (overcast brightness).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | layer mean | 0.1 | 0.2 | 0.55 | 0.55 | 0.55 |
/// | layer std | 0.3 | 0.3 | 0.3 | 0.3 | 0.3 |
/// | zoom | 3 | 2 | 4 | 4.5 | 2.5 |
/// | threshold | 0.5 | 0.5 | 0.9 | 0.85 | 0.85 |
/// | blur radius | 10 | 12 | 12 | 12 | 12 |
/// | blur sigma | 4 | 4 | 8 | 8 | 12 |
/// | image weight | 0.8 | 0.7 | 0.7 | 0.65 | 0.55 |
pub struct Snow;

#[derive(Clone, Copy)]
struct SnowParams {
    loc: f32,
    scale: f32,
    zoom: f64,
    threshold: f32,
    radius: usize,
    sigma: f64,
    weight: f32,
}

const SNOW: [SnowParams; 5] = [
    SnowParams {
        loc: 0.1,
        scale: 0.3,
        zoom: 3.0,
        threshold: 0.5,
        radius: 10,
        sigma: 4.0,
        weight: 0.8,
    },
    SnowParams {
        loc: 0.2,
        scale: 0.3,
        zoom: 2.0,
        threshold: 0.5,
        radius: 12,
        sigma: 4.0,
        weight: 0.7,
    },
    SnowParams {
        loc: 0.55,
        scale: 0.3,
        zoom: 4.0,
        threshold: 0.9,
        radius: 12,
        sigma: 8.0,
        weight: 0.7,
    },
    SnowParams {
        loc: 0.55,
        scale: 0.3,
        zoom: 4.5,
        threshold: 0.85,
        radius: 12,
        sigma: 8.0,
        weight: 0.65,
    },
    SnowParams {
        loc: 0.55,
        scale: 0.3,
        zoom: 2.5,
        threshold: 0.85,
        radius: 12,
        sigma: 12.0,
        weight: 0.55,
    },
];

impl Corruption for Snow {
    fn name(&self) -> &'static str {
        "snow"
    }
    fn family(&self) -> Family {
        Family::Weather
    }
    fn summary(&self) -> &'static str {
        "falling snow flakes streaked by motion, on a whitened scene (ImageNet-C)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        let p = s.pick(&SNOW);
        vec![
            Param::float("layer_mean", f64::from(p.loc)),
            Param::float("layer_std", f64::from(p.scale)),
            Param::float("zoom", p.zoom),
            Param::float("threshold", f64::from(p.threshold)),
            Param::int("blur_radius", p.radius as i64),
            Param::float("blur_sigma", p.sigma),
            Param::float("image_weight", f64::from(p.weight)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let p = s.pick(&SNOW);
        let (w, h) = (image.width(), image.height());
        let n = w * h;
        let mut layer = vec![0.0f32; n];
        rng.fill_normal_scaled(&mut layer, p.loc, p.scale);
        let mut layer = filters::clipped_zoom_plane(&layer, w, h, p.zoom);
        for v in layer.iter_mut() {
            *v = if *v < p.threshold { 0.0 } else { v.min(1.0) };
        }
        let angle = rng.range(-135.0, -45.0);
        let mut layer = filters::motion_blur_plane(&layer, w, h, p.radius, p.sigma, angle);
        for v in layer.iter_mut() {
            *v = (*v * 255.0).round_ties_even() / 255.0;
        }
        let gray = image.gray();
        let mut out = image.clone();
        let k = 1.0 - p.weight;
        for c in 0..3 {
            for (i, o) in out.plane_mut(c).iter_mut().enumerate() {
                let x = *o;
                let bright = x.max(gray[i] * 1.5 + 0.5);
                *o = p.weight * x + k * bright + layer[i] + layer[n - 1 - i];
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// spatter

/// Spatter (ImageNet-C `spatter`): liquid splashed on the lens. Severities 1-3 are
/// water, 4-5 mud, as in the reference table.
///
/// Both start from a normal layer smoothed by a Gaussian and thresholded. Water: the
/// layer (as 8-bit) goes through Canny (50, 150), an L2 distance transform to the edges
/// (OpenCV's 5x5 chamfer), truncation at 20, a 3x3 box blur, histogram equalisation,
/// the emboss kernel `[[-2,-1,0],[-1,1,1],[0,1,2]]` and another box blur; that relief
/// times the layer, normalised to its maximum and scaled by `intensity`, adds pale
/// turquoise (175, 238, 238) with the reference's BGR/RGB mix-up kept: R gets 175.
/// Mud: the mask `layer > threshold` is smoothed with `sigma_mud`, values below 0.8
/// dropped, and the image is blended towards mud brown (63, 42, 20) by the mask.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | kind | water | water | water | mud | mud |
/// | layer mean | 0.65 | 0.65 | 0.65 | 0.65 | 0.67 |
/// | layer std | 0.3 | 0.3 | 0.3 | 0.3 | 0.4 |
/// | smoothing sigma | 4 | 3 | 2 | 1 | 1 |
/// | threshold | 0.69 | 0.68 | 0.68 | 0.65 | 0.65 |
/// | intensity (water) / sigma_mud (mud) | 0.6 | 0.6 | 0.5 | 1.5 | 1.5 |
pub struct Spatter;

const SPATTER: [(f32, f32, f64, f32, f32, bool); 5] = [
    (0.65, 0.3, 4.0, 0.69, 0.6, false),
    (0.65, 0.3, 3.0, 0.68, 0.6, false),
    (0.65, 0.3, 2.0, 0.68, 0.5, false),
    (0.65, 0.3, 1.0, 0.65, 1.5, true),
    (0.67, 0.4, 1.0, 0.65, 1.5, true),
];

/// `v` clamped to [`lo`, `hi`] (NaN to `lo`) and truncated toward zero, as the
/// saturating `as` would for that range, in a form the compiler vectorises.
#[inline(always)]
#[allow(clippy::manual_clamp)]
fn trunc_clamped(v: f32, lo: f32, hi: f32) -> i32 {
    let c = v.max(lo).min(hi);
    // SAFETY: c is finite and within [lo, hi]; callers keep that inside i32's range.
    unsafe { c.to_int_unchecked::<i32>() }
}

/// OpenCV `Canny(src, low, high)` with a 3x3 Sobel (replicated borders) and the L1
/// gradient norm; returns 255 on edges, 0 elsewhere.
#[inline(never)]
fn canny(src: &[u8], w: usize, h: usize, low: i32, high: i32) -> Vec<u8> {
    // Sobel through the vector 2-D correlation: small integers, so f32 sums are exact.
    let plane: Vec<f32> = src.iter().map(|&v| f32::from(v)).collect();
    const SOBEL_X: [f32; 9] = [-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0];
    const SOBEL_Y: [f32; 9] = [-1.0, -2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0];
    let mut gx = vec![0.0f32; w * h];
    let mut gy = vec![0.0f32; w * h];
    kernels::filter2d(&plane, &mut gx, w, h, &SOBEL_X, 3, Border::Nearest);
    kernels::filter2d(&plane, &mut gy, w, h, &SOBEL_Y, 3, Border::Nearest);
    let (pw, ph) = (w + 2, h + 2);
    // The L1 norm of the gradient: small integers, exact in f32, so comparisons of
    // these are those of the integers.
    let mut mag = vec![0.0f32; pw * ph];
    for y in 0..h {
        let (rx, ry) = (&gx[y * w..(y + 1) * w], &gy[y * w..(y + 1) * w]);
        for (m, (a, b)) in mag[(y + 1) * pw + 1..][..w]
            .iter_mut()
            .zip(rx.iter().zip(ry))
        {
            *m = a.abs() + b.abs();
        }
    }
    let (low, high) = (low as f32, high as f32);
    // 0: candidate, 1: not an edge, 2: edge. The one-pixel frame stays "not an edge".
    const TG22: i64 = 13573; // round(tan(22.5 deg) * 2^15)
    let mut map = vec![1u8; pw * ph];
    let mut stack = Vec::new();
    for y in 1..=h {
        let row = y * pw;
        let mut x0 = 1;
        while x0 <= w {
            // Few pixels pass the low threshold: find them 64 at a time as bits, so the
            // scan has no branch to mispredict.
            let len = (w + 1 - x0).min(64);
            let mut bits = 0u64;
            for (k, &m) in mag[row + x0..row + x0 + len].iter().enumerate() {
                bits |= u64::from(m > low) << k;
            }
            while bits != 0 {
                let x = x0 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let i = row + x;
                let m = mag[i];
                let g = (y - 1) * w + x - 1;
                let (xs, ys) = (i64::from(gx[g] as i32), i64::from(gy[g] as i32));
                let ax = xs.abs();
                let ay = ys.abs() << 15;
                let tg22x = ax * TG22;
                let keep = if ay < tg22x {
                    m > mag[i - 1] && m >= mag[i + 1]
                } else {
                    let tg67x = tg22x + (ax << 16);
                    if ay > tg67x {
                        m > mag[i - pw] && m >= mag[i + pw]
                    } else {
                        let s: isize = if (xs ^ ys) < 0 { -1 } else { 1 };
                        m > mag[(i as isize - pw as isize - s) as usize]
                            && m > mag[(i as isize + pw as isize + s) as usize]
                    }
                };
                if keep {
                    if m > high {
                        map[i] = 2;
                        stack.push(i);
                    } else {
                        map[i] = 0;
                    }
                }
            }
            x0 += len;
        }
    }
    while let Some(i) = stack.pop() {
        for j in [
            i - pw - 1,
            i - pw,
            i - pw + 1,
            i - 1,
            i + 1,
            i + pw - 1,
            i + pw,
            i + pw + 1,
        ] {
            if map[j] == 0 {
                map[j] = 2;
                stack.push(j);
            }
        }
    }
    let mut out = vec![0u8; w * h];
    for (o, m) in out
        .chunks_exact_mut(w.max(1))
        .zip(map.chunks_exact(pw).skip(1))
    {
        for (v, &e) in o.iter_mut().zip(&m[1..]) {
            *v = u8::from(e == 2).wrapping_mul(255);
        }
    }
    out
}

/// OpenCV `distanceTransform(src, DIST_L2, 5)` truncated at `limit` px: distance to the
/// nearest zero pixel by the 5x5 chamfer (1, 1.4, 2.1969) in 16.16 fixed point, two
/// passes, `min(distance, limit)` out.
///
/// Each pass takes the neighbours in the rows already done for a whole row at once,
/// then runs along the row for the one neighbour in it. Values are capped just above
/// `limit` (at most 250 here); that is exact after the truncation, as a capped value
/// plus a step is above the cap again. The fixed-point values stay below 2^24, so the
/// row-wide steps run in f32 (exact for such integers, and vectorised: SSE2 has no u32
/// minimum), the serial run along the row in i32 (a two-cycle chain instead of f32's
/// six).
#[inline(never)]
fn distance_transform(src: &[u8], w: usize, h: usize, limit: f32) -> Vec<f32> {
    const A: f32 = 65536.0; // 1.0
    const B: f32 = 91750.0; // 1.4
    const C: f32 = 143_976.0; // 2.1969
                              // `if a < b` is x86's minps, without f32::min's NaN handling (no NaNs here).
    #[inline(always)]
    fn min(a: f32, b: f32) -> f32 {
        if a < b {
            a
        } else {
            b
        }
    }
    let limit = limit.clamp(0.0, 250.0);
    let cap = (limit * 65536.0).ceil() + 1.0;
    let pw = w + 4;
    let mut t = vec![cap; pw * (h + 4)];
    let mut run = vec![0i32; w];
    for y in 0..h {
        let (done, rest) = t.split_at_mut((y + 2) * pw);
        let (up2, up1) = (&done[y * pw..][..pw], &done[(y + 1) * pw..][..pw]);
        let cur = &mut rest[..pw];
        let s = &src[y * w..(y + 1) * w];
        let (u2l, u2r) = (&up2[1..1 + w], &up2[3..3 + w]);
        let (u1a, u1b, u1c, u1d, u1e) = (
            &up1[..w],
            &up1[1..1 + w],
            &up1[2..2 + w],
            &up1[3..3 + w],
            &up1[4..4 + w],
        );
        for x in 0..w {
            let m = min(
                min(
                    min(min(u2l[x], u2r[x]), min(u1a[x], u1e[x])) + C,
                    min(u1b[x], u1d[x]) + B,
                ),
                min(u1c[x] + A, cap),
            );
            // SAFETY: m is finite, in [0, cap].
            run[x] = if s[x] == 0 {
                0
            } else {
                unsafe { m.to_int_unchecked::<i32>() }
            };
        }
        let mut prev = cap as i32;
        for r in run.iter_mut() {
            prev = (*r).min(prev + A as i32);
            *r = prev;
        }
        for (o, &r) in cur[2..2 + w].iter_mut().zip(&run) {
            *o = r as f32;
        }
    }
    for y in (0..h).rev() {
        let (head, below) = t.split_at_mut((y + 3) * pw);
        let cur = &mut head[(y + 2) * pw..];
        let (d1, d2) = (&below[..pw], &below[pw..2 * pw]);
        let (d2l, d2r) = (&d2[1..1 + w], &d2[3..3 + w]);
        let (d1a, d1b, d1c, d1d, d1e) = (
            &d1[..w],
            &d1[1..1 + w],
            &d1[2..2 + w],
            &d1[3..3 + w],
            &d1[4..4 + w],
        );
        let row = &cur[2..2 + w];
        for x in 0..w {
            let m = min(
                min(
                    min(min(d2l[x], d2r[x]), min(d1a[x], d1e[x])) + C,
                    min(d1b[x], d1d[x]) + B,
                ),
                min(d1c[x] + A, row[x]),
            );
            // SAFETY: m is finite, in [0, cap].
            run[x] = unsafe { m.to_int_unchecked::<i32>() };
        }
        let mut prev = cap as i32;
        for r in run.iter_mut().rev() {
            prev = (*r).min(prev + A as i32);
            *r = prev;
        }
        for (o, &r) in cur[2..2 + w].iter_mut().zip(&run) {
            *o = r as f32;
        }
    }
    let mut out = vec![0.0f32; w * h];
    for (row, y) in out.chunks_exact_mut(w.max(1)).zip(2..) {
        for (o, &v) in row.iter_mut().zip(&t[y * pw + 2..]) {
            *o = min(v * (1.0 / 65536.0), limit);
        }
    }
    out
}

/// 3x3 box sums with OpenCV's default (reflect-101) border, rows then columns as
/// OpenCV adds them; exact for the inputs here (integers, or multiples of 2^-16 below 21).
#[inline(never)]
fn box_sum3(p: &[f32], w: usize, h: usize) -> Vec<f32> {
    let k = [1.0f32; 3];
    let mut rows = vec![0.0f32; p.len()];
    let mut out = vec![0.0f32; p.len()];
    kernels::convolve_rows(p, &mut rows, w, &k, Border::Mirror);
    kernels::convolve_cols(&rows, &mut out, w, h, &k, Border::Mirror);
    out
}

/// OpenCV `equalizeHist` on 8-bit data.
#[inline(never)]
fn equalize_hist(p: &mut [u8]) {
    // Four interleaved histograms: runs of one level would otherwise chain every
    // increment through memory.
    let mut parts = [[0u32; 256]; 4];
    let mut quads = p.chunks_exact(4);
    for q in &mut quads {
        for (part, &v) in parts.iter_mut().zip(q) {
            part[usize::from(v)] += 1;
        }
    }
    for &v in quads.remainder() {
        parts[0][usize::from(v)] += 1;
    }
    let mut hist = [0usize; 256];
    for (v, c) in hist.iter_mut().enumerate() {
        *c = parts.iter().map(|part| part[v] as usize).sum();
    }
    let total = p.len();
    let Some(first) = hist.iter().position(|&c| c > 0) else {
        return;
    };
    if hist[first] == total {
        return;
    }
    let scale = 255.0 / (total - hist[first]) as f32;
    let mut lut = [0u8; 256];
    let mut sum = 0usize;
    for v in first + 1..256 {
        sum += hist[v];
        lut[v] = (sum as f32 * scale).round_ties_even().clamp(0.0, 255.0) as u8;
    }
    for v in p.iter_mut() {
        *v = lut[usize::from(*v)];
    }
}

/// The reference's water relief: everything between the 8-bit layer and the float
/// `dist` plane it multiplies the layer with.
#[inline(never)]
fn water_relief(layer_u8: &[u8], w: usize, h: usize) -> Vec<f32> {
    let n = w * h;
    let edges = canny(layer_u8, w, h, 50, 150);
    let inv: Vec<u8> = edges.iter().map(|&e| 255 - e).collect();
    let dist = distance_transform(&inv, w, h, 20.0);
    // cv2.blur on f32 scales the (exact) sums by 1/9 in f64; astype(uint8) truncates.
    let mut d8: Vec<u8> = box_sum3(&dist, w, h)
        .iter()
        .map(|&s| trunc_clamped((f64::from(s) * (1.0 / 9.0)) as f32, 0.0, 255.0) as u8)
        .collect();
    equalize_hist(&mut d8);
    // filter2D(CV_8U) with the emboss kernel: integer sums, saturated.
    const EMBOSS: [f32; 9] = [-2.0, -1.0, 0.0, -1.0, 1.0, 1.0, 0.0, 1.0, 2.0];
    let d8f: Vec<f32> = d8.iter().map(|&v| f32::from(v)).collect();
    let mut e = vec![0.0f32; n];
    kernels::filter2d(&d8f, &mut e, w, h, &EMBOSS, 3, Border::Mirror);
    for v in e.iter_mut() {
        *v = v.clamp(0.0, 255.0);
    }
    // cv2.blur on u8 rounds the mean to nearest (s / 9 is never a tie).
    let mut out = box_sum3(&e, w, h);
    for v in out.iter_mut() {
        *v = ((2 * trunc_clamped(*v, 0.0, 1e9) as u32 + 9) / 18) as f32;
    }
    out
}

impl Corruption for Spatter {
    fn name(&self) -> &'static str {
        "spatter"
    }
    fn family(&self) -> Family {
        Family::Weather
    }
    fn summary(&self) -> &'static str {
        "water (severity 1-3) or mud (4-5) splashes on the lens (ImageNet-C)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        let (loc, scale, sigma, thr, k, mud) = s.pick(&SPATTER);
        vec![
            Param::text("kind", if mud { "mud" } else { "water" }),
            Param::float("layer_mean", f64::from(loc)),
            Param::float("layer_std", f64::from(scale)),
            Param::float("smoothing_sigma", sigma),
            Param::float("threshold", f64::from(thr)),
            Param::float(if mud { "sigma_mud" } else { "intensity" }, f64::from(k)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (loc, scale, sigma, thr, k, mud) = s.pick(&SPATTER);
        let (w, h) = (image.width(), image.height());
        let n = w * h;
        let mut raw = vec![0.0f32; n];
        rng.fill_normal_scaled(&mut raw, loc, scale);
        let mut layer =
            filters::gaussian_blur_plane(&raw, w, h, sigma, sigma, 4.0, Border::Nearest);
        for v in layer.iter_mut() {
            if *v < thr {
                *v = 0.0;
            }
        }
        let mut out = image.clone();
        if !mud {
            let layer_u8: Vec<u8> = layer
                .iter()
                .map(|&v| trunc_clamped(v * 255.0, 0.0, 255.0) as u8)
                .collect();
            let relief = water_relief(&layer_u8, w, h);
            let mut m: Vec<f32> = layer_u8
                .iter()
                .zip(&relief)
                .map(|(&l, &r)| f32::from(l) * r)
                .collect();
            let max = m.iter().copied().fold(0.0f32, f32::max);
            if max <= 0.0 {
                return out;
            }
            for v in m.iter_mut() {
                *v = *v / max * k;
            }
            // The reference treats the RGB image as BGR: R gets the 175.
            for (c, tint) in [175.0f32, 238.0, 238.0].iter().enumerate() {
                kernels::axpy(out.plane_mut(c), &m, tint / 255.0);
            }
        } else {
            let mask: Vec<f32> = layer
                .iter()
                .map(|&v| if v > thr { 1.0 } else { 0.0 })
                .collect();
            let k = f64::from(k);
            let mut m = filters::gaussian_blur_plane(&mask, w, h, k, k, 4.0, Border::Nearest);
            for v in m.iter_mut() {
                if *v < 0.8 {
                    *v = 0.0;
                }
            }
            for (c, mud) in [63.0f32, 42.0, 20.0].iter().enumerate() {
                let tint = mud / 255.0;
                for (o, &a) in out.plane_mut(c).iter_mut().zip(&m) {
                    *o = *o * (1.0 - a) + tint * a;
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// frost

/// Frost (ImageNet-C `frost`): the image is blended with a frosted-glass texture,
/// `clip(image_weight * x + frost_weight * texture)`.
///
/// The reference crops one of five photos of frost on glass; this engine ships no image
/// assets, so the texture is grown procedurally: ice dendrites (stars of three to six
/// arms and long single feathers, side branches sprouting every few pixels at about 60
/// degrees as in hexagonal ice, drawn anti-aliased as sharp cores plus a soft glow),
/// ridged fine grain (rime), multi-octave value noise for the cloudy ground, and a
/// slow component for crop-to-crop brightness drift, tinted per channel. Four presets
/// stand for the four distinct reference photos, picked with the reference's odds
/// (1/5 teal cloudy frost, 2/5 bright white frost with dark veins, 1/5 grey-blue
/// crystalline, 1/5 dark high-contrast feathers); each preset's per-channel mean and
/// standard deviation, crop-to-crop brightness spread, in-crop contrast and feature
/// scale are calibrated to the statistics of its photo
/// (`tests/fixtures/corrupt/frost_texture_stats.json`). As the reference loads fixed
/// photos, each preset's texture is grown once, at a fixed seed and at the size of its
/// photo after the reference's 1.1x rescale, tuned so that its 128 x 96 crops have the
/// photo's spread of crop brightness and mean in-crop contrast, and kept for the life
/// of the process; every call takes a random crop of it. Images that do not fit the
/// photo get the texture stretched by `max(h / photo_h, w / photo_w)` before the crop,
/// as the reference stretches its photo (bilinear here, bicubic there).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | image weight | 1.0 | 0.8 | 0.7 | 0.65 | 0.6 |
/// | frost weight | 0.4 | 0.6 | 0.7 | 0.7 | 0.75 |
pub struct Frost;

const FROST: [(f32, f32); 5] = [(1.0, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)];

/// One family of frost textures, standing for one reference photo.
#[derive(Clone, Copy, Debug)]
struct FrostPreset {
    /// Per-channel mean and standard deviation, 0..255.
    mean: [f32; 3],
    std: [f32; 3],
    /// Standard deviation of the luma over the whole photo.
    luma_std: f32,
    /// Standard deviation of the mean luma over 128 x 96 crops, and the mean luma
    /// standard deviation within such a crop.
    slow: f32,
    detail: f32,
    /// Share of the detail variance carried by the ice needles (rest: noise).
    needles: f32,
    /// Needle seeds per 10^4 px^2 at native scale and arm length range in px.
    density: f32,
    arm: (f32, f32),
    /// Native photo size (h, w) the features are scaled from.
    native: (usize, usize),
    /// +1: bright needles on a darker ground; -1: dark veins in bright ice.
    polarity: f32,
}

const FROST_PRESETS: [FrostPreset; 4] = [
    // frost1.png: teal, cloudy, soft large crystals.
    FrostPreset {
        mean: [77.7, 149.1, 165.7],
        std: [26.6, 16.3, 15.2],
        luma_std: 18.2,
        slow: 12.25,
        detail: 13.17,
        needles: 0.45,
        density: 6.0,
        arm: (20.0, 70.0),
        native: (600, 900),
        polarity: 1.0,
    },
    // frost2.png / frost3.png: bright white frost.
    FrostPreset {
        mean: [200.8, 205.4, 214.5],
        std: [21.3, 22.0, 22.5],
        luma_std: 21.8,
        slow: 12.72,
        detail: 16.07,
        needles: 0.5,
        density: 10.0,
        arm: (12.0, 45.0),
        native: (315, 560),
        polarity: -1.0,
    },
    // frost4.jpg: grey-blue, fine crystals, strong detail.
    FrostPreset {
        mean: [137.6, 152.8, 165.2],
        std: [28.2, 28.2, 29.5],
        luma_std: 28.3,
        slow: 14.76,
        detail: 22.54,
        needles: 0.6,
        density: 18.0,
        arm: (8.0, 30.0),
        native: (350, 527),
        polarity: 1.0,
    },
    // frost5.jpg: darker, high contrast fern-like frost.
    FrostPreset {
        mean: [112.4, 123.4, 134.7],
        std: [44.0, 42.8, 41.2],
        luma_std: 42.9,
        slow: 24.84,
        detail: 32.81,
        needles: 0.55,
        density: 8.0,
        arm: (15.0, 60.0),
        native: (495, 660),
        polarity: 1.0,
    },
];

/// Share of the detail variance in fine grain.
const FROST_GRAIN: f32 = 0.2;

/// Preset index for each of the reference's five equally likely photo choices.
const FROST_PICK: [usize; 5] = [0, 1, 1, 2, 3];

/// Adds `amp` times smoothstep-interpolated value noise (N(0, 1) nodes every `spacing`
/// px, grid origin at (`ox`, `oy`)) to the `w x h` plane `acc`.
fn add_value_noise(
    acc: &mut [f32],
    w: usize,
    h: usize,
    spacing: f64,
    (ox, oy): (f64, f64),
    amp: f32,
    rng: &mut Rng,
) {
    let axis = |len: usize, o: f64| -> (Vec<(usize, f32)>, usize) {
        let taps: Vec<(usize, f32)> = (0..len)
            .map(|i| {
                let t = (i as f64 + o) / spacing;
                let k = t.floor();
                let f = (t - k) as f32;
                (k as usize, f * f * (3.0 - 2.0 * f))
            })
            .collect();
        let nodes = taps.last().map_or(1, |&(k, _)| k + 2);
        (taps, nodes)
    };
    let (xs, nx) = axis(w, ox);
    let (ys, ny) = axis(h, oy);
    let mut nodes = vec![0.0f32; nx * ny];
    rng.fill_normal(&mut nodes);
    let mut rows = vec![0.0f32; ny * w];
    for j in 0..ny {
        let node = &nodes[j * nx..(j + 1) * nx];
        for (v, &(k, t)) in rows[j * w..(j + 1) * w].iter_mut().zip(&xs) {
            *v = node[k] + t * (node[k + 1] - node[k]);
        }
    }
    let mut tmp = vec![0.0f32; w];
    for (y, &(k, t)) in ys.iter().enumerate() {
        kernels::lerp(
            &rows[k * w..(k + 1) * w],
            &rows[(k + 1) * w..(k + 2) * w],
            t,
            &mut tmp,
        );
        kernels::axpy(&mut acc[y * w..(y + 1) * w], &tmp, amp);
    }
}

/// Splats a one-pixel anti-aliased point of weight `v` at (x, y) (bilinear footprint).
#[inline]
fn splat(plane: &mut [f32], w: usize, h: usize, x: f32, y: f32, v: f32) {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (xi, yi) = (x0 as isize, y0 as isize);
    for (dy, wy) in [(0isize, 1.0 - fy), (1, fy)] {
        let yy = yi + dy;
        if yy < 0 || yy >= h as isize {
            continue;
        }
        for (dx, wx) in [(0isize, 1.0 - fx), (1, fx)] {
            let xx = xi + dx;
            if xx < 0 || xx >= w as isize {
                continue;
            }
            plane[yy as usize * w + xx as usize] += v * wx * wy;
        }
    }
}

/// Grows feathery ice dendrites into `plane` (`w x h`), features scaled by `u`: seeds
/// send out three to six arms; every few pixels an arm sprouts a side branch at about
/// 60 degrees (alternating sides, shorter towards the tip), and branches branch again
/// once, which gives the fern-like feathers of frost on glass.
fn grow_needles(plane: &mut [f32], w: usize, h: usize, p: &FrostPreset, u: f32, rng: &mut Rng) {
    let margin = 3.0 * p.arm.1 * u;
    let (ew, eh) = (w as f32 + 2.0 * margin, h as f32 + 2.0 * margin);
    let seeds = (ew * eh / (1e4 * u * u) * p.density).round() as usize;
    // (x, y, angle, length, intensity, depth)
    let mut stack: Vec<(f32, f32, f64, f32, f32, u8)> = Vec::new();
    let step = 0.7f32;
    let sprout = (3.0 * u / step).max(2.0) as usize;
    for _ in 0..seeds.min(20_000) {
        let sx = rng.uniform() * ew - margin;
        let sy = rng.uniform() * eh - margin;
        // Half the seeds are stars (three to six arms), half long single feathers.
        let feather = rng.chance(0.5);
        let arms = if feather { 1 } else { rng.int_in(3, 6) };
        let base = rng.range(0.0, std::f64::consts::TAU);
        let reach = if feather { 2.0 } else { 1.0 };
        let len = (p.arm.0 + rng.uniform() * (p.arm.1 - p.arm.0)) * u * reach;
        let bright = 0.4 + 0.6 * rng.uniform();
        // Arms and their branches stay within 1.5 arm lengths of the seed: skip seeds
        // that cannot reach the frame (most of them for tiny images).
        let gap_x = (-sx).max(sx - w as f32).max(0.0);
        let gap_y = (-sy).max(sy - h as f32).max(0.0);
        if gap_x * gap_x + gap_y * gap_y > 2.25 * len * len + 4.0 {
            continue;
        }
        for a in 0..arms {
            let ang = base
                + std::f64::consts::TAU * f64::from(a) / f64::from(arms)
                + rng.range(-0.3, 0.3);
            stack.push((sx, sy, ang, len * (0.5 + 0.5 * rng.uniform()), bright, 0));
        }
        while let Some((mut x, mut y, mut ang, len, v, depth)) = stack.pop() {
            let steps = (len / step) as usize;
            let (mut s, mut c) = detmath::sincos(ang);
            let mut side = if rng.chance(0.5) { 1.0 } else { -1.0 };
            for k in 0..steps {
                // Brightness fades towards the tip.
                let fade = 1.0 - 0.6 * (k as f32 / steps.max(1) as f32);
                splat(plane, w, h, x, y, v * fade * step);
                x += c as f32 * step;
                y += s as f32 * step;
                if k % sprout == sprout - 1 {
                    ang += rng.range(-0.1, 0.1);
                    (s, c) = detmath::sincos(ang);
                    if depth < 2 && rng.chance(0.8) {
                        let rest = (steps - k) as f32 * step;
                        let branch =
                            ang + side * (std::f64::consts::FRAC_PI_3 + rng.range(-0.2, 0.2));
                        let blen = rest.min(len * 0.4) * (0.4 + 0.4 * rng.uniform());
                        if blen > 1.5 * u {
                            stack.push((x, y, branch, blen, v * 0.7, depth + 1));
                        }
                        side = -side;
                    }
                }
            }
        }
    }
}

/// Mean and standard deviation of a plane.
fn mean_std(p: &[f32]) -> (f32, f32) {
    if p.is_empty() {
        return (0.0, 0.0);
    }
    let n = p.len() as f64;
    let mean = p.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = p
        .iter()
        .map(|&v| (f64::from(v) - mean) * (f64::from(v) - mean))
        .sum::<f64>()
        / n;
    (mean as f32, var.sqrt() as f32)
}

/// A preset's texture as the reference's photo after its 1.1x rescale: `w x h`,
/// planar RGB, 8-bit like the photo.
struct FrostTexture {
    w: usize,
    h: usize,
    data: Vec<u8>,
}

/// The preset textures, each grown once on first use (the reference loads its photos
/// on every call; these stand in for the files).
static FROST_TEXTURES: [OnceLock<FrostTexture>; 4] = [const { OnceLock::new() }; 4];

/// Seed of the fixed texture realisations.
const FROST_TEXTURE_SEED: u64 = 0xF057;

/// Crop size and grid of the crop statistics the textures are calibrated to (those of
/// `frost_texture_stats.json`, measured for a 128 x 96 input).
const FROST_CROP: (usize, usize) = (96, 128);
const FROST_CROP_GRID: usize = 12;

/// The cached texture of preset `i`.
fn frost_texture(i: usize) -> &'static FrostTexture {
    FROST_TEXTURES[i].get_or_init(|| {
        let p = &FROST_PRESETS[i];
        // The reference rescales every photo by 1.1 (cv2.resize to the ceiling).
        let (h, w) = (
            (p.native.0 as f64 * 1.1).ceil() as usize,
            (p.native.1 as f64 * 1.1).ceil() as usize,
        );
        let mut rng = Rng::new(FROST_TEXTURE_SEED + i as u64, "frost-texture");
        grow_frost_texture(w, h, p, &mut rng)
    })
}

/// The luma components of a `w x h` texture from `preset`, features at the
/// reference's pixel scale: the slow crop-to-crop drift and the detail, both zero-mean.
fn frost_components(w: usize, h: usize, p: &FrostPreset, rng: &mut Rng) -> [Vec<f32>; 2] {
    let n = w * h;
    // Features keep the size they have in the reference's photos rescaled by 1.1.
    let u = 1.1f32;
    let uf = f64::from(u);
    let mut origin = || (rng.range(0.0, 4096.0), rng.range(0.0, 4096.0));
    let offsets: Vec<(f64, f64)> = (0..8).map(|_| origin()).collect();
    let mut slow = vec![0.0f32; n];
    let mut noise_rng = rng.fork("frost-noise");
    for (k, &(sp, a)) in [(512.0, 1.0f32), (256.0, 0.6), (128.0, 0.35)]
        .iter()
        .enumerate()
    {
        add_value_noise(&mut slow, w, h, sp * uf, offsets[k], a, &mut noise_rng);
    }
    // Detail: mid-frequency noise (amplitude ~ spacing^0.9, a -1.8 spectral slope).
    let mut noise = vec![0.0f32; n];
    for (k, sp) in [64.0f64, 32.0, 16.0, 8.0, 4.0].iter().enumerate() {
        let a = detmath::pow(sp / 64.0, 0.9) as f32;
        add_value_noise(&mut noise, w, h, sp * uf, offsets[3 + k], a, &mut noise_rng);
    }
    let mut needles = vec![0.0f32; n];
    grow_needles(&mut needles, w, h, p, u, &mut rng.fork("frost-needles"));
    // Sharp needle cores, a soft glow around them, and fine grain (rime, sparkle).
    let core =
        filters::gaussian_blur_plane(&needles, w, h, 0.5 * uf, 0.5 * uf, 3.0, Border::Reflect);
    let glow =
        filters::gaussian_blur_plane(&needles, w, h, 2.5 * uf, 2.5 * uf, 3.0, Border::Reflect);
    let mut grain = vec![0.0f32; n];
    rng.fork("frost-grain").fill_normal(&mut grain);
    let mut grain =
        filters::gaussian_blur_plane(&grain, w, h, 0.8 * uf, 0.8 * uf, 3.0, Border::Reflect);
    // Ridged (absolute) noise reads as tiny crystal facets rather than sensor noise.
    for v in grain.iter_mut() {
        *v = -v.abs();
    }
    // Each detail part is normalised and mixed by variance shares.
    let parts = [
        (&noise, 1.0 - p.needles - FROST_GRAIN),
        (&core, p.needles * 0.7),
        (&glow, p.needles * 0.3),
        (&grain, FROST_GRAIN),
    ];
    let mut detail = vec![0.0f32; n];
    for (part, share) in parts {
        let (m, sd) = mean_std(part);
        if sd > 0.0 && share > 0.0 {
            let k = share.sqrt() / sd;
            for (d, &v) in detail.iter_mut().zip(part.iter()) {
                *d += k * (v - m);
            }
        }
    }
    let (dm, ds) = mean_std(&detail);
    let k = if ds > 0.0 { p.polarity / ds } else { 0.0 };
    for d in detail.iter_mut() {
        *d = (*d - dm) * k;
    }
    let sm = mean_std(&slow).0;
    for v in slow.iter_mut() {
        *v -= sm;
    }
    [slow, detail]
}

/// Standard deviation of the crop means and mean in-crop standard deviation of the
/// luma of an 8-bit planar texture over a grid of `FROST_CROP` crops.
fn frost_crop_stats(t: &[u8], w: usize, h: usize) -> (f64, f64) {
    let n = w * h;
    // Integral images of luma and luma^2 (one extra row and column of zeros).
    let (iw, ih) = (w + 1, h + 1);
    let mut s1 = vec![0.0f64; iw * ih];
    let mut s2 = vec![0.0f64; iw * ih];
    for y in 0..h {
        let (mut r1, mut r2) = (0.0f64, 0.0f64);
        for x in 0..w {
            let i = y * w + x;
            let l = 0.2989 * f64::from(t[i])
                + 0.587 * f64::from(t[n + i])
                + 0.114 * f64::from(t[2 * n + i]);
            r1 += l;
            r2 += l * l;
            let o = (y + 1) * iw + x + 1;
            s1[o] = s1[o - iw] + r1;
            s2[o] = s2[o - iw] + r2;
        }
    }
    let (ch, cw) = (FROST_CROP.0.min(h), FROST_CROP.1.min(w));
    let area = (ch * cw) as f64;
    let box_sum = |s: &[f64], y: usize, x: usize| {
        s[(y + ch) * iw + x + cw] - s[y * iw + x + cw] - s[(y + ch) * iw + x] + s[y * iw + x]
    };
    let (mut means, mut sds) = (Vec::new(), Vec::new());
    let g = FROST_CROP_GRID;
    for a in 0..g {
        let y = (h - ch) * a / (g - 1);
        for b in 0..g {
            let x = (w - cw) * b / (g - 1);
            let m = box_sum(&s1, y, x) / area;
            let var = box_sum(&s2, y, x) / area - m * m;
            means.push(m);
            sds.push(var.max(0.0).sqrt());
        }
    }
    let k = means.len() as f64;
    let mm = means.iter().sum::<f64>() / k;
    let sd_of_means = (means.iter().map(|m| (m - mm) * (m - mm)).sum::<f64>() / k).sqrt();
    (sd_of_means, sds.iter().sum::<f64>() / k)
}

/// Grows a `w x h` texture for `preset` and calibrates it: the gains of the slow and
/// detail components are adjusted (a few multiplicative steps, on the final 8-bit
/// texture, clipping included) until the spread of the crop brightness and the mean
/// in-crop contrast are those of the preset's photo.
fn grow_frost_texture(w: usize, h: usize, p: &FrostPreset, rng: &mut Rng) -> FrostTexture {
    let n = w * h;
    let [slow, detail] = frost_components(w, h, p, rng);
    let render = |a: f32, b: f32| -> Vec<u8> {
        let mut tex = vec![0u8; 3 * n];
        for c in 0..3 {
            let k = p.std[c] / p.luma_std;
            for ((o, &s), &d) in tex[c * n..(c + 1) * n].iter_mut().zip(&slow).zip(&detail) {
                let v = p.mean[c] + k * (a * s + b * d);
                *o = v.round().clamp(0.0, 255.0) as u8;
            }
        }
        tex
    };
    let (mut a, mut b) = (p.slow / mean_std(&slow).1.max(1e-6), p.detail);
    for _ in 0..6 {
        let (sm, sd) = frost_crop_stats(&render(a, b), w, h);
        if sm > 0.0 {
            a *= (f64::from(p.slow) / sm) as f32;
        }
        if sd > 0.0 {
            b *= (f64::from(p.detail) / sd) as f32;
        }
    }
    FrostTexture {
        w,
        h,
        data: render(a, b * FROST_DETAIL_GAIN),
    }
}

/// Extra detail contrast over the photos' in-crop luminance spread. The issue's
/// criterion is the std of (output - input) against imagecorruptions (60 seeds here, 200
/// there); frost came out 3-5% low at severities 3-5, one pattern tinting all three
/// channels where the photos' channels vary partly independently. This gain lifts it by
/// about 1%: it stays 3-4% low, inside the 5% bound, and the rest is left to a better
/// texture model.
const FROST_DETAIL_GAIN: f32 = 1.05;

/// A `w x h` crop of preset `pi`'s texture as the reference takes it (scaled up first
/// when the image does not fit the photo), planar RGB on the 0..255 scale.
fn frost_crop(pi: usize, w: usize, h: usize, rng: &mut Rng) -> Vec<f32> {
    let p = &FROST_PRESETS[pi];
    let t = frost_texture(pi);
    let n = w * h;
    let mut out = vec![0.0f32; 3 * n];
    if h <= p.native.0 && w <= p.native.1 {
        // The cached texture is the photo at the reference's 1.1x: crop it.
        let y0 = rng.below((t.h - h).max(1) as u32) as usize;
        let x0 = rng.below((t.w - w).max(1) as u32) as usize;
        for c in 0..3 {
            let src = &t.data[c * t.w * t.h..(c + 1) * t.w * t.h];
            let dst = &mut out[c * n..(c + 1) * n];
            for (row, y) in dst.chunks_exact_mut(w.max(1)).zip(y0..) {
                for (o, &v) in row.iter_mut().zip(&src[y * t.w + x0..]) {
                    *o = f32::from(v);
                }
            }
        }
        return out;
    }
    // Larger images: the reference stretches the photo by max(h / fh, w / fw) * 1.1
    // (bicubic) and crops; here the 1.1x texture is stretched bilinearly.
    let sf = (h as f64 / p.native.0 as f64).max(w as f64 / p.native.1 as f64);
    let sh = (p.native.0 as f64 * sf * 1.1).ceil() as usize;
    let sw = (p.native.1 as f64 * sf * 1.1).ceil() as usize;
    let y0 = rng.below((sh.saturating_sub(h)).max(1) as u32) as usize;
    let x0 = rng.below((sw.saturating_sub(w)).max(1) as u32) as usize;
    let (ky, kx) = (t.h as f64 / sh as f64, t.w as f64 / sw as f64);
    let mut mx = vec![0.0f32; n];
    let mut my = vec![0.0f32; n];
    for y in 0..h {
        let sy = ((y0 + y) as f64 + 0.5) * ky - 0.5;
        my[y * w..(y + 1) * w].fill(sy as f32);
        for (x, v) in mx[y * w..(y + 1) * w].iter_mut().enumerate() {
            *v = (((x0 + x) as f64 + 0.5) * kx - 0.5) as f32;
        }
    }
    let mut plane = vec![0.0f32; t.w * t.h];
    for c in 0..3 {
        let src = &t.data[c * t.w * t.h..(c + 1) * t.w * t.h];
        for (o, &v) in plane.iter_mut().zip(src) {
            *o = f32::from(v);
        }
        kernels::remap_bilinear(
            &plane,
            t.w,
            t.h,
            &mx,
            &my,
            &mut out[c * n..(c + 1) * n],
            Border::Nearest,
        );
    }
    out
}

impl Corruption for Frost {
    fn name(&self) -> &'static str {
        "frost"
    }
    fn family(&self) -> Family {
        Family::Weather
    }
    fn summary(&self) -> &'static str {
        "frost on the lens or window: procedural ice crystals blended in (ImageNet-C)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        let (a, b) = s.pick(&FROST);
        vec![
            Param::float("image_weight", f64::from(a)),
            Param::float("frost_weight", f64::from(b)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (a, b) = s.pick(&FROST);
        let (w, h) = (image.width(), image.height());
        let pi = FROST_PICK[rng.below(5) as usize];
        let tex = frost_crop(pi, w, h, rng);
        let mut out = image.clone();
        // The reference adds 0..255 texture levels to 0..255 pixels, then clips.
        kernels::weighted_sum_clamp(out.data_mut(), &tex, a, b / 255.0);
        out
    }
}

// ---------------------------------------------------------------------------------------
// rain

/// Rain (DeepBench `Rain`, after albumentations `RandomRain`): slanted, semi-transparent
/// streaks of random length are drawn anti-aliased across the image, which is first
/// darkened (overcast) and slightly blurred (water in the air and on the lens). All
/// streaks share one slant (wind) with a little jitter; counts scale with the area.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | streaks per 10^4 px | 6 | 12 | 20 | 30 | 45 |
/// | length (x height) | 0.08 | 0.10 | 0.12 | 0.14 | 0.17 |
/// | width (px) | 1.0 | 1.0 | 1.2 | 1.5 | 1.8 |
/// | opacity | 0.5 | 0.55 | 0.6 | 0.65 | 0.7 |
/// | brightness factor | 0.93 | 0.88 | 0.83 | 0.78 | 0.72 |
/// | blur sigma (px) | 0.3 | 0.5 | 0.7 | 0.9 | 1.1 |
/// | max slant (degrees) | 20 | 20 | 20 | 20 | 20 |
pub struct Rain;

#[derive(Clone, Copy)]
struct RainParams {
    density: f32,
    length: f32,
    width: f32,
    opacity: f32,
    dim: f32,
    blur: f64,
}

const RAIN: [RainParams; 5] = [
    RainParams {
        density: 6.0,
        length: 0.08,
        width: 1.0,
        opacity: 0.5,
        dim: 0.93,
        blur: 0.3,
    },
    RainParams {
        density: 12.0,
        length: 0.1,
        width: 1.0,
        opacity: 0.55,
        dim: 0.88,
        blur: 0.5,
    },
    RainParams {
        density: 20.0,
        length: 0.12,
        width: 1.2,
        opacity: 0.6,
        dim: 0.83,
        blur: 0.7,
    },
    RainParams {
        density: 30.0,
        length: 0.14,
        width: 1.5,
        opacity: 0.65,
        dim: 0.78,
        blur: 0.9,
    },
    RainParams {
        density: 45.0,
        length: 0.17,
        width: 1.8,
        opacity: 0.7,
        dim: 0.72,
        blur: 1.1,
    },
];

const RAIN_SLANT_DEG: f64 = 20.0;

/// Draws an anti-aliased segment of `width` px into `cov` (coverage, max-combined).
fn draw_segment(
    cov: &mut [f32],
    w: usize,
    h: usize,
    (x0, y0): (f32, f32),
    (x1, y1): (f32, f32),
    width: f32,
    v: f32,
) {
    let r = 0.5 * width + 0.5;
    let bx0 = (x0.min(x1) - r).floor().max(0.0) as usize;
    let by0 = (y0.min(y1) - r).floor().max(0.0) as usize;
    let bx1 = ((x0.max(x1) + r).ceil().max(0.0) as usize).min(w);
    let by1 = ((y0.max(y1) + r).ceil().max(0.0) as usize).min(h);
    if bx0 >= bx1 || by0 >= by1 {
        return;
    }
    let (dx, dy) = (x1 - x0, y1 - y0);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    // Near-vertical streaks visit only a short run per row around the centre line,
    // so the cost is length x width rather than the bounding box.
    let steep = dy.abs() * 2.0 > len2.sqrt();
    let (slope, reach) = if steep {
        (dx / dy, r * len2.sqrt() / dy.abs() + 1.0)
    } else {
        (0.0, 0.0)
    };
    for y in by0..by1 {
        let py = y as f32 - y0;
        let (rx0, rx1) = if steep {
            let xc = x0 + py.clamp(dy.min(0.0), dy.max(0.0)) * slope;
            (
                ((xc - reach).floor().max(bx0 as f32) as usize).min(bx1),
                ((xc + reach).ceil().max(0.0) as usize).clamp(bx0, bx1),
            )
        } else {
            (bx0, bx1)
        };
        for x in rx0..rx1 {
            let px = x as f32 - x0;
            let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (px - t * dx, py - t * dy);
            let d = (ex * ex + ey * ey).sqrt();
            let c = (0.5 * width + 0.5 - d).clamp(0.0, 1.0);
            if c > 0.0 {
                // Streaks are brighter in the middle, like a falling drop's trail.
                let a = c * v * (0.55 + 0.45 * (1.0 - (2.0 * t - 1.0).abs()));
                let o = &mut cov[y * w + x];
                *o = o.max(a);
            }
        }
    }
}

impl Corruption for Rain {
    fn name(&self) -> &'static str {
        "rain"
    }
    fn family(&self) -> Family {
        Family::Weather
    }
    fn summary(&self) -> &'static str {
        "slanted rain streaks over a darkened, slightly blurred scene"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        let p = s.pick(&RAIN);
        vec![
            Param::float("streaks_per_1e4_px", f64::from(p.density)),
            Param::float("length_per_height", f64::from(p.length)),
            Param::float("width_px", f64::from(p.width)),
            Param::float("opacity", f64::from(p.opacity)),
            Param::float("brightness", f64::from(p.dim)),
            Param::float("blur_sigma", p.blur),
            Param::float("max_slant_deg", RAIN_SLANT_DEG),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let p = s.pick(&RAIN);
        let (w, h) = (image.width(), image.height());
        let n = w * h;
        let mut out = filters::gaussian_blur(image, p.blur);
        kernels::affine(out.data_mut(), p.dim, 0.0);
        let slant = rng.range(-RAIN_SLANT_DEG, RAIN_SLANT_DEG).to_radians();
        let count = ((n as f64) * f64::from(p.density) / 1e4).round().max(1.0) as usize;
        let base_len = (p.length * h.max(w / 2).max(1) as f32).max(2.0);
        let mut cov = vec![0.0f32; n];
        for _ in 0..count.min(100_000) {
            let len = base_len * (0.5 + rng.uniform());
            let (s, c) = detmath::sincos(slant + rng.range(-0.05, 0.05));
            let (ux, uy) = (s as f32, c as f32);
            // Start anywhere such that the streak can touch the frame.
            let x0 = rng.uniform() * (w as f32 + len) - len * 0.5;
            let y0 = rng.uniform() * (h as f32 + len) - len;
            let v = 0.6 + 0.4 * rng.uniform();
            draw_segment(
                &mut cov,
                w,
                h,
                (x0, y0),
                (x0 + ux * len, y0 + uy * len),
                p.width,
                v,
            );
        }
        let tint = [0.78f32, 0.8, 0.84];
        for (c, t) in tint.iter().enumerate() {
            for (o, &a) in out.plane_mut(c).iter_mut().zip(&cov) {
                let a = a * p.opacity;
                *o += a * (t - *o);
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// lens_droplets

/// Water droplets on the lens or windscreen (own design): elliptical drops that act as
/// small lenses. Inside a drop the background is seen flipped through its centre and
/// magnified (sampling radius `0.55..0.95` of the drop's), and out of focus (sampled from
/// a Gaussian-blurred copy); a bright rim and a small specular highlight mark the edge,
/// and the edge fades over about a pixel. Count and size grow with severity; sizes are
/// relative to the shorter side.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | drops per 224^2 px | 6 | 8 | 12 | 16 | 22 |
/// | max radius (x shorter side) | 0.06 | 0.065 | 0.08 | 0.095 | 0.11 |
/// | blur sigma (x radius) | 0.08 | 0.1 | 0.12 | 0.14 | 0.16 |
pub struct LensDroplets;

const DROPLETS: [(f64, f64, f64); 5] = [
    (6.0, 0.06, 0.08),
    (8.0, 0.065, 0.1),
    (12.0, 0.08, 0.12),
    (16.0, 0.095, 0.14),
    (22.0, 0.11, 0.16),
];

impl Corruption for LensDroplets {
    fn name(&self) -> &'static str {
        "lens_droplets"
    }
    fn family(&self) -> Family {
        Family::Weather
    }
    fn summary(&self) -> &'static str {
        "water drops on the lens: flipped, magnified, blurred spots with bright rims"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        let (count, radius, blur) = s.pick(&DROPLETS);
        vec![
            Param::float("drops_per_224sq", count),
            Param::float("max_radius", radius),
            Param::float("blur_per_radius", blur),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (count, rmax_k, blur_k) = s.pick(&DROPLETS);
        let (w, h) = (image.width(), image.height());
        let n = w * h;
        let short = w.min(h) as f64;
        let rmax = (rmax_k * short).max(1.0);
        let drops = ((count * (w * h) as f64 / (224.0 * 224.0)).round() as usize).clamp(2, 400);
        let blurred = filters::gaussian_blur(image, blur_k * rmax);
        let mut mx = vec![0.0f32; n];
        let mut my = vec![0.0f32; n];
        for y in 0..h {
            my[y * w..(y + 1) * w].fill(y as f32);
            for (x, v) in mx[y * w..(y + 1) * w].iter_mut().enumerate() {
                *v = x as f32;
            }
        }
        let mut alpha = vec![0.0f32; n];
        let mut rim = vec![0.0f32; n];
        for _ in 0..drops {
            let r = rng.range(0.45, 1.0) * rmax;
            let aspect = rng.range(0.75, 1.3);
            let (rx, ry) = (r * aspect.sqrt(), r / aspect.sqrt());
            let (cx, cy) = (rng.uniform_f64() * w as f64, rng.uniform_f64() * h as f64);
            let mag = rng.range(0.55, 0.95);
            let x0 = (cx - rx - 1.0).floor().max(0.0) as usize;
            let y0 = (cy - ry - 1.0).floor().max(0.0) as usize;
            let x1 = ((cx + rx + 2.0).ceil().max(0.0) as usize).min(w);
            let y1 = ((cy + ry + 2.0).ceil().max(0.0) as usize).min(h);
            let rmin = rx.min(ry);
            for y in y0..y1 {
                let dy = y as f64 - cy;
                for x in x0..x1 {
                    let dx = x as f64 - cx;
                    let q = ((dx / rx) * (dx / rx) + (dy / ry) * (dy / ry)).sqrt();
                    let edge = ((1.0 - q) * rmin + 0.5).clamp(0.0, 1.0) as f32;
                    if edge <= 0.0 {
                        continue;
                    }
                    let i = y * w + x;
                    // A drop is a thick lens: an inverted, magnified view of what is
                    // behind it, compressed towards the rim.
                    let k = mag * (1.0 + 0.35 * q * q);
                    mx[i] = (cx - dx * k) as f32;
                    my[i] = (cy - dy * k) as f32;
                    alpha[i] = alpha[i].max(edge);
                    // Rim: a bright ring at q ~ 0.9, darker just inside it.
                    let ring = (1.0 - ((q - 0.9) / 0.1).abs()).max(0.0) as f32;
                    // Specular highlight up-left of the centre.
                    let (hx, hy) = (dx / rx + 0.4, dy / ry + 0.4);
                    let spec = (1.0 - (hx * hx + hy * hy).sqrt() / 0.18).max(0.0) as f32;
                    rim[i] = (0.22 * ring + 0.6 * spec) * edge;
                }
            }
        }
        let mut out = image.clone();
        let mut inside = vec![0.0f32; n];
        for c in 0..3 {
            kernels::remap_bilinear(
                blurred.plane(c),
                w,
                h,
                &mx,
                &my,
                &mut inside,
                Border::Mirror,
            );
            for (((o, &a), &v), &r) in out
                .plane_mut(c)
                .iter_mut()
                .zip(&alpha)
                .zip(&inside)
                .zip(&rim)
            {
                // Drops also lift the shadows a little (light scattered in the water).
                let drop = 0.92 * v + 0.06;
                *o += a * (drop - *o) + r;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corrupt::corrupt;
    use crate::corrupt::geometry::tests::{load_png, psnr_mae, read_npy_gz};

    fn test_image(w: usize, h: usize) -> Image {
        let mut data = Vec::with_capacity(3 * w * h);
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let v = ((x * 7 + y * 13 + c * 5) % 17) as f32 / 16.0 * 0.5
                        + 0.2 * (x as f32 / w.max(1) as f32)
                        + 0.1 * ((x / 4 + y / 3) % 2) as f32;
                    data.push(v);
                }
            }
        }
        Image::from_planes(w, h, data)
    }

    fn mad(a: &Image, b: &Image) -> f64 {
        a.data()
            .iter()
            .zip(b.data())
            .map(|(x, y)| f64::from((x - y).abs()))
            .sum::<f64>()
            / a.data().len() as f64
    }

    #[test]
    fn every_corruption_survives_odd_sizes() {
        for c in ALL {
            for (w, h) in [(1, 1), (1, 9), (9, 1), (2, 2), (33, 17), (120, 3), (3, 90)] {
                let img = test_image(w, h);
                for s in Severity::ALL {
                    for seed in 0..4 {
                        let out = corrupt(&img, *c, s, seed);
                        assert_eq!((out.width(), out.height()), (w, h), "{}", c.name());
                        assert!(
                            out.data().iter().all(|v| v.is_finite()),
                            "{} {s} {w}x{h}",
                            c.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn strength_grows_with_severity() {
        let img = test_image(64, 48);
        for c in ALL {
            let mut last = 0.0;
            for s in Severity::ALL {
                let d: f64 = (0..6)
                    .map(|seed| mad(&img, &corrupt(&img, *c, s, seed)))
                    .sum::<f64>()
                    / 6.0;
                assert!(d > 1e-3, "{} {s} changes nothing", c.name());
                // Spatter switches from water (brightening) to mud (darkening) at 4; on
                // this synthetic image mud 4 moves pixels less than water 3 (on the
                // reference photo it is the other way round), so allow slack there.
                let slack = if c.name() == "spatter" && s.level() == 4 {
                    0.6
                } else {
                    0.8
                };
                assert!(d >= last * slack, "{} severity {s}: {d} < {last}", c.name());
                last = d;
            }
        }
    }

    #[test]
    fn identical_bits_on_every_isa() {
        use crate::corrupt::kernels::{available, with_isa, Isa};
        let img = test_image(37, 23);
        for c in ALL {
            for s in [Severity::ALL[0], Severity::ALL[4]] {
                let want = with_isa(Isa::Scalar, || corrupt(&img, *c, s, 4)).unwrap();
                for isa in available() {
                    let got = with_isa(isa, || corrupt(&img, *c, s, 4)).unwrap();
                    assert!(
                        got == want,
                        "{} {s}: {} differs from scalar",
                        c.name(),
                        isa.name()
                    );
                }
            }
        }
    }

    #[test]
    fn deterministic_per_seed() {
        let img = test_image(40, 30);
        for c in ALL {
            let a = corrupt(&img, *c, Severity::ALL[2], 9);
            assert_eq!(a, corrupt(&img, *c, Severity::ALL[2], 9), "{}", c.name());
            assert_ne!(a, corrupt(&img, *c, Severity::ALL[2], 10), "{}", c.name());
        }
    }

    #[test]
    fn plasma_is_normalised_and_wraps() {
        let mut rng = Rng::new(1, "t");
        let m = plasma_fractal(64, 2.0, &mut rng);
        let (lo, hi) = min_max(&m);
        assert_eq!((lo, hi), (0.0, 1.0));
        // Smooth: neighbours differ much less than the full range on average.
        let mean_step = m
            .windows(2)
            .map(|p| f64::from((p[1] - p[0]).abs()))
            .sum::<f64>()
            / m.len() as f64;
        assert!(mean_step < 0.08, "{mean_step}");
    }

    /// The reference's diamond-square written directly, with index wrap-around.
    fn plasma_by_indices(n: usize, decay: f64, rng: &mut Rng) -> Vec<f32> {
        let mut map = vec![0.0f32; n * n];
        let (mut step, mut wibble) = (n, 100.0f64);
        let at = |i: usize, j: usize| (i % n) * n + j % n;
        while step >= 2 {
            let (half, m) = (step / 2, n / step);
            let (lo, span) = ((-wibble * wibble) as f32, (2.0 * wibble * wibble) as f32);
            let mut d = vec![0.0f32; 3 * m * m];
            rng.fill_uniform(&mut d);
            let jit = |k: usize| lo + span * d[k];
            for i in 0..m {
                for j in 0..m {
                    let (y, x) = (i * step, j * step);
                    let s = (map[at(y, x)] + map[at(y + step, x)])
                        + (map[at(y, x + step)] + map[at(y + step, x + step)]);
                    map[at(y + half, x + half)] = s * 0.25 + jit(i * m + j);
                }
            }
            for i in 0..m {
                for j in 0..m {
                    let (y, x) = (i * step, j * step);
                    let c = map[at(y + half, x + half)];
                    let top = (c + map[at(y + n - half, x + half)])
                        + (map[at(y, x)] + map[at(y, x + step)]);
                    let left = (c + map[at(y + half, x + n - half)])
                        + (map[at(y, x)] + map[at(y + step, x)]);
                    map[at(y, x + half)] = top * 0.25 + jit(m * m + i * m + j);
                    map[at(y + half, x)] = left * 0.25 + jit(2 * m * m + i * m + j);
                }
            }
            step /= 2;
            wibble /= decay;
        }
        map
    }

    #[test]
    fn row_wise_plasma_matches_the_indexed_algorithm() {
        for n in [1, 2, 4, 32] {
            let want = plasma_by_indices(n, 1.7, &mut Rng::new(3, "p"));
            let (got, lo, range) = plasma_raw(n, 1.7, &mut Rng::new(3, "p"));
            assert!(got == want, "n = {n}");
            let (wlo, whi) = min_max(&want);
            assert_eq!((lo, range), (wlo, whi - wlo));
        }
    }

    #[test]
    fn fog_with_zero_field_only_rescales() {
        let img = test_image(8, 6);
        let out = fog_with_field(&img, Severity::ALL[0], &[0.0; 48]);
        let max = img.data().iter().copied().fold(0.0f32, f32::max);
        let k = max / (max + 1.5);
        for (a, b) in img.data().iter().zip(out.data()) {
            assert!((a * k - b).abs() < 1e-6);
        }
    }

    #[test]
    fn canny_finds_a_step_edge() {
        let (w, h) = (12, 8);
        let src: Vec<u8> = (0..w * h)
            .map(|i| if i % w < 6 { 20 } else { 220 })
            .collect();
        let e = canny(&src, w, h, 50, 150);
        for y in 0..h {
            let row = &e[y * w..(y + 1) * w];
            assert_eq!(
                row.iter().filter(|&&v| v == 255).count(),
                1,
                "row {y}: {row:?}"
            );
            assert!(row[5] == 255 || row[6] == 255);
        }
        assert!(canny(&[100; 64], 8, 8, 50, 150).iter().all(|&v| v == 0));
    }

    #[test]
    fn chamfer_distance_is_close_to_euclidean() {
        let (w, h) = (15, 15);
        let mut src = vec![255u8; w * h];
        src[7 * w + 7] = 0;
        let d = distance_transform(&src, w, h, 100.0);
        assert_eq!(d[7 * w + 7], 0.0);
        assert!((d[7 * w + 10] - 3.0).abs() < 1e-6);
        assert!((d[9 * w + 9] - 2.8).abs() < 0.01);
        assert!((d[8 * w + 9] - 2.1969).abs() < 1e-4);
        // Far corner within a few per cent of Euclidean.
        assert!(
            (d[0] - 98f32.sqrt()).abs() / 98f32.sqrt() < 0.03,
            "{}",
            d[0]
        );
    }

    /// The two chamfer passes written directly, one pixel and eight neighbours at a
    /// time, without a cap.
    fn chamfer_direct(src: &[u8], w: usize, h: usize) -> Vec<f32> {
        let far = u64::from(u32::MAX);
        let mut t = vec![far; w * h];
        let at = |t: &[u64], x: isize, y: isize| {
            if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
                far
            } else {
                t[y as usize * w + x as usize]
            }
        };
        let steps: [(isize, isize, u64); 8] = [
            (-1, -2, 143_976),
            (1, -2, 143_976),
            (-2, -1, 143_976),
            (-1, -1, 91750),
            (0, -1, 65536),
            (1, -1, 91750),
            (2, -1, 143_976),
            (-1, 0, 65536),
        ];
        for y in 0..h as isize {
            for x in 0..w as isize {
                let i = y as usize * w + x as usize;
                t[i] = if src[i] == 0 {
                    0
                } else {
                    steps
                        .iter()
                        .map(|&(dx, dy, d)| at(&t, x + dx, y + dy) + d)
                        .min()
                        .unwrap_or(far)
                };
            }
        }
        for y in (0..h as isize).rev() {
            for x in (0..w as isize).rev() {
                let i = y as usize * w + x as usize;
                let b = steps
                    .iter()
                    .map(|&(dx, dy, d)| at(&t, x - dx, y - dy) + d)
                    .min();
                t[i] = t[i].min(b.unwrap_or(far));
            }
        }
        t.iter().map(|&v| (v as f64 / 65536.0) as f32).collect()
    }

    #[test]
    fn row_wise_chamfer_matches_the_direct_passes() {
        let mut rng = Rng::new(8, "dt");
        for (w, h, zeros) in [
            (23, 19, 0.02),
            (40, 7, 0.005),
            (1, 12, 0.1),
            (9, 1, 0.2),
            (30, 30, 0.0),
        ] {
            let src: Vec<u8> = (0..w * h)
                .map(|_| if rng.chance(zeros) { 0 } else { 255 })
                .collect();
            let want = chamfer_direct(&src, w, h);
            for limit in [3.0f32, 20.0] {
                let got = distance_transform(&src, w, h, limit);
                for (g, v) in got.iter().zip(&want) {
                    assert_eq!(*g, v.min(limit), "{w}x{h} limit {limit}");
                }
            }
        }
    }

    #[test]
    fn equalize_spreads_levels() {
        let mut p: Vec<u8> = (0..100).map(|i| 100 + (i % 10) as u8).collect();
        equalize_hist(&mut p);
        assert_eq!(p.iter().copied().min(), Some(0));
        assert_eq!(p.iter().copied().max(), Some(255));
    }

    #[test]
    fn spatter_water_is_turquoise_and_mud_is_brown() {
        let img = Image::filled(64, 48, 0.5);
        let water = corrupt(&img, &Spatter, Severity::ALL[2], 1);
        let (r, g, b) = water.planes();
        let gain = |p: &[f32]| p.iter().map(|v| f64::from(v - 0.5)).sum::<f64>();
        assert!(gain(g) > gain(r) && (gain(g) - gain(b)).abs() < 1e-3 && gain(r) > 0.0);
        let mud = corrupt(&img, &Spatter, Severity::ALL[4], 1);
        let (r, _, b) = mud.planes();
        assert!(gain(r) < 0.0 && gain(b) < gain(r));
    }

    #[test]
    fn frost_textures_have_the_photos_crop_statistics() {
        for (i, p) in FROST_PRESETS.iter().enumerate() {
            let t = frost_texture(i);
            let (sm, sd) = frost_crop_stats(&t.data, t.w, t.h);
            eprintln!(
                "preset {i}: crop mean sd {sm:.2} ({}), crop sd {sd:.2} ({})",
                p.slow, p.detail
            );
            assert!(
                (sm / f64::from(p.slow) - 1.0).abs() < 0.03,
                "preset {i}: {sm}"
            );
            let want = f64::from(p.detail * FROST_DETAIL_GAIN);
            assert!((sd / want - 1.0).abs() < 0.03, "preset {i}: {sd}");
            // Whole-texture channel means as the photo's.
            let n = t.w * t.h;
            for c in 0..3 {
                let m = t.data[c * n..(c + 1) * n]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum::<f64>()
                    / n as f64;
                assert!(
                    (m - f64::from(p.mean[c])).abs() < 3.0,
                    "preset {i} c{c}: {m}"
                );
            }
        }
    }

    #[test]
    fn frost_crops_come_from_the_texture_and_stretch_for_large_images() {
        // A small image gets an exact crop of the cached texture.
        let mut rng = Rng::new(5, "t");
        let (w, h) = (31, 17);
        let crop = frost_crop(2, w, h, &mut rng);
        let t = frost_texture(2);
        let found = (0..t.h - h).any(|y0| {
            (0..t.w - w).any(|x0| {
                (0..h).all(|y| {
                    (0..w).all(|x| crop[y * w + x] == f32::from(t.data[(y0 + y) * t.w + x0 + x]))
                })
            })
        });
        assert!(found);
        // A larger image than the photo: a smooth stretch within the texture's range.
        let (w, h) = (1000, 700);
        let crop = frost_crop(1, w, h, &mut rng);
        assert_eq!(crop.len(), 3 * w * h);
        let (lo, hi) = min_max(&crop);
        assert!(lo >= 0.0 && hi <= 255.0 && hi - lo > 50.0, "{lo} {hi}");
        let img = Image::filled(w, h, 0.3);
        assert_eq!(corrupt(&img, &Frost, Severity::ALL[2], 1).len(), img.len());
    }

    #[test]
    fn snow_brightens() {
        let img = test_image(48, 40);
        for s in Severity::ALL {
            let out = corrupt(&img, &Snow, s, 3);
            let d: f64 = out
                .data()
                .iter()
                .zip(img.data())
                .map(|(a, b)| f64::from(a - b))
                .sum();
            assert!(d > 0.0);
        }
    }

    #[test]
    fn row_runs_draw_the_same_streak_as_the_box() {
        let (w, h) = (40, 50);
        for (p0, p1, width) in [
            ((10.3, -3.0), (17.8, 30.2), 1.0f32),
            ((45.0, 10.0), (52.0, 30.0), 1.0),
            ((-9.0, 10.0), (-2.0, 30.0), 1.5),
            ((5.0, -40.0), (9.0, -1.0), 1.5),
            ((30.0, 5.5), (26.1, 48.0), 1.8),
            ((2.0, 2.0), (38.0, 9.0), 1.2),
        ] {
            let mut fast = vec![0.0f32; w * h];
            draw_segment(&mut fast, w, h, p0, p1, width, 0.9);
            // Brute force over every pixel.
            let mut slow = vec![0.0f32; w * h];
            let (dx, dy) = (p1.0 - p0.0, p1.1 - p0.1);
            let len2 = dx * dx + dy * dy;
            for y in 0..h {
                for x in 0..w {
                    let (px, py) = (x as f32 - p0.0, y as f32 - p0.1);
                    let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
                    let d = ((px - t * dx).powi(2) + (py - t * dy).powi(2)).sqrt();
                    let c = (0.5 * width + 0.5 - d).clamp(0.0, 1.0);
                    slow[y * w + x] = c * 0.9 * (0.55 + 0.45 * (1.0 - (2.0 * t - 1.0).abs()));
                }
            }
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn droplets_stay_local() {
        let img = test_image(224, 160);
        let out = corrupt(&img, &LensDroplets, Severity::ALL[2], 2);
        let changed = out
            .data()
            .iter()
            .zip(img.data())
            .filter(|(a, b)| (*a - *b).abs() > 1e-6)
            .count();
        let share = changed as f64 / img.data().len() as f64;
        assert!(share > 0.01 && share < 0.4, "{share}");
    }

    // ---- Reference parity (imagecorruptions goldens; skipped when absent) ----

    fn fixture_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corrupt")
    }

    #[test]
    fn fog_matches_reference_goldens() {
        let dir = fixture_dir();
        let Some(input) = load_png(&dir.join("input.png")) else {
            eprintln!("skipping: no reference fixtures in {}", dir.display());
            return;
        };
        let img = Image::from_rgb8(&input);
        for s in Severity::ALL {
            let g = dir.join("golden");
            let (Some((shape, field)), Some(want)) = (
                read_npy_gz(&g.join(format!("fog_s{s}_field.npy.gz"))),
                load_png(&g.join(format!("fog_s{s}.png"))),
            ) else {
                eprintln!("skipping fog severity {s}: fixture missing");
                continue;
            };
            assert_eq!(shape, vec![img.height(), img.width()]);
            let mut out = fog_with_field(&img, s, &field);
            out.clamp01();
            let (psnr, mae) = psnr_mae(&out.to_rgb8(), &want);
            eprintln!("fog s{s}: PSNR {psnr:.2} dB, MAE {mae:.4} levels");
            assert!(
                psnr >= 35.0 || mae <= 1.5,
                "severity {s}: PSNR {psnr}, MAE {mae}"
            );
        }
    }

    /// Pooled mean and std of (out - in) in u8 levels over `seeds` seeds, and the
    /// sample standard deviations across seeds of the per-seed mean and std.
    fn diff_stats(
        c: &dyn Corruption,
        input: &image::RgbImage,
        s: Severity,
        seeds: u64,
    ) -> [f64; 4] {
        let img = Image::from_rgb8(input);
        let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0.0f64);
        let (mut means, mut stds) = (Vec::new(), Vec::new());
        for seed in 0..seeds {
            let out = corrupt(&img, c, s, 1000 + seed).to_rgb8();
            let (mut s1, mut s2, mut k) = (0.0f64, 0.0f64, 0.0f64);
            for (a, b) in out.as_raw().iter().zip(input.as_raw()) {
                let d = f64::from(*a) - f64::from(*b);
                s1 += d;
                s2 += d * d;
                k += 1.0;
            }
            sum += s1;
            sq += s2;
            n += k;
            means.push(s1 / k);
            stds.push((s2 / k - (s1 / k) * (s1 / k)).max(0.0).sqrt());
        }
        let mean = sum / n;
        let spread = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var =
                v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() as f64 - 1.0).max(1.0);
            var.sqrt()
        };
        [
            mean,
            (sq / n - mean * mean).max(0.0).sqrt(),
            spread(&means),
            spread(&stds),
        ]
    }

    /// Standard errors of the pooled mean and pooled std over `n` seeds, from the
    /// seed-to-seed spread of the per-seed means and stds: the pooled variance is the
    /// mean within-seed variance plus the variance of the seed means, and the latter is
    /// what dominates for corruptions whose brightness varies per seed (frost, fog).
    fn standard_errors(std: f64, sd_of_mean: f64, sd_of_std: f64, n: f64) -> (f64, f64) {
        let between = sd_of_mean * sd_of_mean;
        let within_std = (std * std - between).max(0.0).sqrt();
        let se_within = 2.0 * within_std * sd_of_std / n.sqrt();
        let se_between = between * (2.0 / (n - 1.0).max(1.0)).sqrt();
        let se_std =
            (se_within * se_within + se_between * se_between).sqrt() / (2.0 * std.max(1e-9));
        (sd_of_mean / n.sqrt(), se_std)
    }

    /// Compares pooled (out - in) statistics with the reference's: within 5% (of the
    /// reference std for the mean) plus two combined standard errors, since the
    /// reference itself averages only 20 seeds (for frost its seed-to-seed spread of the
    /// mean is 14-31 levels, so its 20-seed mean is only known to +-3..7 levels).
    fn check_stats(c: &dyn Corruption, seeds: u64) {
        let dir = fixture_dir();
        let (Some(input), Ok(text)) = (
            load_png(&dir.join("input.png")),
            std::fs::read_to_string(dir.join("stats.json")),
        ) else {
            eprintln!("skipping {}: no reference stats", c.name());
            return;
        };
        let Ok(stats) = serde_json::from_str::<serde_json::Value>(&text) else {
            return;
        };
        let ref_seeds = stats["seeds"].as_f64().unwrap_or(20.0);
        let seeds = std::env::var("WEATHER_STATS_SEEDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(seeds);
        let mut failures = Vec::new();
        for s in Severity::ALL {
            let r = &stats["stats"][c.name()][s.to_string()];
            let (Some(rm), Some(rs)) = (r["mean"].as_f64(), r["std"].as_f64()) else {
                continue;
            };
            let (se_rm, se_rs) = standard_errors(
                rs,
                r["seed_std_of_mean"].as_f64().unwrap_or(0.0),
                r["seed_std_of_std"].as_f64().unwrap_or(0.0),
                ref_seeds,
            );
            let [m, sd, sd_m, sd_s] = diff_stats(c, &input, s, seeds);
            let (se_m, se_s) = standard_errors(sd, sd_m, sd_s, seeds as f64);
            eprintln!(
                "{} s{s}: mean {m:.3} +- {se_m:.2} (ref {rm:.3} +- {se_rm:.2}, dev {:+.1}% of ref scale), \
                 std {sd:.3} +- {se_s:.2} (ref {rs:.3} +- {se_rs:.2}, dev {:+.1}%)",
                c.name(),
                100.0 * (m - rm) / rm.abs().max(rs),
                100.0 * (sd - rs) / rs
            );
            let tol_m = 0.05 * rm.abs().max(rs) + 2.0 * (se_rm * se_rm + se_m * se_m).sqrt();
            let tol_s = 0.05 * rs + 2.0 * (se_rs * se_rs + se_s * se_s).sqrt();
            if (m - rm).abs() > tol_m || (sd - rs).abs() > tol_s {
                failures.push(format!("s{s}: mean {m:.2} vs {rm:.2} (tol {tol_m:.2}), std {sd:.2} vs {rs:.2} (tol {tol_s:.2})"));
            }
        }
        assert!(failures.is_empty(), "{}: {failures:?}", c.name());
    }

    #[test]
    fn snow_stats_match_reference() {
        check_stats(&Snow, 8);
    }

    #[test]
    fn spatter_stats_match_reference() {
        check_stats(&Spatter, 16);
    }

    #[test]
    fn frost_stats_match_reference() {
        check_stats(&Frost, 24);
    }

    #[test]
    #[ignore]
    fn fog_stats_match_reference() {
        check_stats(&Fog, 40);
    }

    /// Writes every corruption at every severity of the sample photo to /tmp for eyeballing.
    #[test]
    #[ignore]
    fn write_pngs() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/images/landscape.jpg");
        let Some(src) = load_png(&path) else {
            return;
        };
        let src = image::imageops::resize(&src, 224, 126, image::imageops::FilterType::Triangle);
        let img = Image::from_rgb8(&src);
        let all: Vec<&dyn Corruption> = ALL
            .iter()
            .chain(crate::corrupt::geometry::ALL)
            .copied()
            .collect();
        for c in all {
            let mut sheet = image::RgbImage::new(224 * 5, 126);
            for s in Severity::ALL {
                let out = corrupt(&img, c, s, 7).to_rgb8();
                image::imageops::replace(&mut sheet, &out, 224 * i64::from(s.level() - 1), 0);
            }
            sheet
                .save(std::env::temp_dir().join(format!("corrupt_{}.png", c.name())))
                .unwrap();
        }
    }
}

/// Prints the statistics `frost_texture_stats.json` records, for each preset, to
/// calibrate the presets against it (run with `--ignored --nocapture`).
#[cfg(test)]
mod frost_calibration {
    use super::*;

    #[test]
    #[ignore]
    fn frost_texture_statistics() {
        let (w, h) = (128usize, 96usize);
        let n = w * h;
        for (pi, p) in FROST_PRESETS.iter().enumerate() {
            let mut rng = Rng::new(pi as u64, "calib");
            let seeds = 60;
            let (mut s, mut sq) = ([0.0f64; 3], [0.0f64; 3]);
            let (mut cm, mut cs, mut hp, mut ls) = (Vec::new(), Vec::new(), 0.0, 0.0);
            let mut hist = [0.0f64; 16];
            for _ in 0..seeds {
                let t = frost_crop(pi, w, h, &mut rng.fork("t"));
                for c in 0..3 {
                    for &v in &t[c * n..(c + 1) * n] {
                        s[c] += f64::from(v);
                        sq[c] += f64::from(v) * f64::from(v);
                    }
                }
                let luma: Vec<f32> = (0..n)
                    .map(|i| 0.2989 * t[i] + 0.587 * t[n + i] + 0.114 * t[2 * n + i])
                    .collect();
                for &v in &luma {
                    hist[((v / 16.0) as usize).min(15)] += 1.0 / (n * seeds) as f64;
                }
                let (m, sd) = mean_std(&luma);
                cm.push(m);
                cs.push(sd);
                let b = filters::gaussian_blur_plane(&luma, w, h, 2.0, 2.0, 4.0, Border::Reflect);
                let d: Vec<f32> = luma.iter().zip(&b).map(|(a, b)| a - b).collect();
                hp += f64::from(mean_std(&d).1) / seeds as f64;
                ls += f64::from(mean_std(&b).1) / seeds as f64;
            }
            let tot = (n * seeds) as f64;
            let mean: Vec<f64> = (0..3).map(|c| s[c] / tot).collect();
            let std: Vec<f64> = (0..3)
                .map(|c| (sq[c] / tot - mean[c] * mean[c]).sqrt())
                .collect();
            let (cmm, cms) = mean_std(&cm);
            let (csm, _) = mean_std(&cs);
            eprintln!(
                "preset {pi}: mean {mean:.1?} (want {:?}) std {std:.1?} (want {:?})",
                p.mean, p.std
            );
            eprintln!("   crop mean luma {cmm:.1} +- {cms:.1} (want sd {}), crop std {csm:.1} (want {}), highpass2 {hp:.1}, blur2 std {ls:.1}", p.slow, p.detail);
            eprintln!("   hist16 {:.3?}", hist);
            let t = frost_crop(pi, 224, 126, &mut rng.fork("png"));
            let img = Image::from_planes(224, 126, t.iter().map(|v| v / 255.0).collect());
            img.to_rgb8()
                .save(std::env::temp_dir().join(format!("frost_preset{pi}.png")))
                .unwrap();
        }
    }
}

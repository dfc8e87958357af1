//! Remote sensing: clouds with shadows, haze, detector stripe noise, band misregistration.

use super::kernels::{self, Border};
use super::{detmath, Corruption, Family, Image, Param, Rng, Severity};

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[&Clouds, &Haze, &StripeNoise, &BandMisregistration];

/// Cubic smoothstep of `t` clamped to [0, 1].
fn smoothstep(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// One octave of value noise: uniform lattice values every `cell` pixels (random
/// lattice offset), smoothstep-interpolated. Interpolation is separable: each lattice
/// row is expanded along x once, then every output row is one `lerp` of two of those.
fn value_noise(w: usize, h: usize, cell: f64, rng: &mut Rng) -> Vec<f32> {
    let gw = (w as f64 / cell).ceil() as usize + 2;
    let gh = (h as f64 / cell).ceil() as usize + 2;
    let mut lattice = vec![0.0f32; gw * gh];
    rng.fill_uniform(&mut lattice);
    let (ox, oy) = (rng.uniform_f64(), rng.uniform_f64());
    let split = |i: usize, o: f64| {
        let u = (i as f64 + 0.5) / cell + o;
        let k = u.floor();
        (k as usize, smoothstep((u - k) as f32))
    };
    let cols: Vec<(usize, f32)> = (0..w).map(|x| split(x, ox)).collect();
    let mut rows_x = vec![0.0f32; gh * w];
    for j in 0..gh {
        let l = &lattice[j * gw..(j + 1) * gw];
        for (v, &(i, t)) in rows_x[j * w..(j + 1) * w].iter_mut().zip(&cols) {
            *v = l[i] + t * (l[i + 1] - l[i]);
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        let (j, t) = split(y, oy);
        kernels::lerp(
            &rows_x[j * w..(j + 1) * w],
            &rows_x[(j + 1) * w..(j + 2) * w],
            t,
            &mut out[y * w..(y + 1) * w],
        );
    }
    out
}

/// Fractal (multi-octave) value noise in [0, 1]: the coarsest cell is `cell` pixels,
/// each octave halves it (down to 1) and weights by `persistence`.
fn fractal_noise(
    w: usize,
    h: usize,
    cell: f64,
    octaves: usize,
    persistence: f32,
    rng: &mut Rng,
) -> Vec<f32> {
    let mut acc = vec![0.0f32; w * h];
    let (mut amp, mut total, mut cell) = (1.0f32, 0.0f32, cell.max(1.0));
    for _ in 0..octaves {
        let layer = value_noise(w, h, cell, rng);
        kernels::axpy(&mut acc, &layer, amp);
        total += amp;
        amp *= persistence;
        cell = (cell / 2.0).max(1.0);
    }
    kernels::affine(&mut acc, 1.0 / total, 0.0);
    acc
}

/// The value above which about `share` of `v` lies (from a 1024-bin histogram), and
/// the maximum of `v`.
fn upper_quantile(v: &[f32], share: f64) -> (f32, f32) {
    let (lo, hi) = v
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    if v.is_empty() || hi <= lo {
        return (hi, hi);
    }
    const BINS: usize = 1024;
    let scale = BINS as f32 / (hi - lo);
    let mut hist = [0u32; BINS];
    for &x in v {
        hist[(((x - lo) * scale) as usize).min(BINS - 1)] += 1;
    }
    let want = (share * v.len() as f64) as u64;
    let mut above = 0u64;
    for b in (0..BINS).rev() {
        above += u64::from(hist[b]);
        if above >= want {
            return (lo + b as f32 / scale, hi);
        }
    }
    (lo, hi)
}

/// Clouds seen from orbit, with their shadows on the ground: fractal noise thresholded
/// into the requested cover with soft, thickening edges, blended as white-grey cloud
/// over the scene, and the same cloud field, displaced by a random offset (sun angle),
/// darkening the ground.
///
/// After DeepBench's `CloudGenerator` and strath-ai's SatelliteCloudGenerator (noise
/// clouds with shadows), with value noise of 6 octaves (coarsest cell 40 % of the
/// longer side, persistence 0.55). The threshold is the noise quantile that leaves
/// `cover` of the pixels cloudy; alpha ramps with smoothstep over the lowest 35 % of the
/// above-threshold range to `opacity`; cloud brightness goes from 0.82 at thin edges to
/// 0.98 at thick cores. Shadows: the alpha shifted by `shadow offset * U(0.5, 1) *
/// min(w, h)` in a random direction, `ground *= 1 - shadow * alpha_shifted`.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | cover | 0.12 | 0.25 | 0.38 | 0.5 | 0.62 |
/// | opacity | 0.55 | 0.65 | 0.75 | 0.85 | 0.9 |
/// | shadow | 0.3 | 0.35 | 0.4 | 0.45 | 0.5 |
/// | shadow offset | 0.1 | 0.1 | 0.1 | 0.1 | 0.1 |
pub struct Clouds;

const CLOUD_COVER: [f64; 5] = [0.12, 0.25, 0.38, 0.5, 0.62];
const CLOUD_OPACITY: [f32; 5] = [0.55, 0.65, 0.75, 0.85, 0.9];
const CLOUD_SHADOW: [f32; 5] = [0.3, 0.35, 0.4, 0.45, 0.5];
const CLOUD_SHADOW_OFFSET: f64 = 0.1;

impl Corruption for Clouds {
    fn name(&self) -> &'static str {
        "clouds"
    }
    fn family(&self) -> Family {
        Family::Satellite
    }
    fn summary(&self) -> &'static str {
        "fractal cloud cover with soft edges and displaced cloud shadows"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("cover", s.pick(&CLOUD_COVER)),
            Param::float("opacity", f64::from(s.pick(&CLOUD_OPACITY))),
            Param::float("shadow", f64::from(s.pick(&CLOUD_SHADOW))),
            Param::float("shadow_offset", CLOUD_SHADOW_OFFSET),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let cell = 0.4 * w.max(h) as f64;
        let noise = fractal_noise(w, h, cell, 6, 0.55, &mut rng.fork("noise"));
        let (t, hi) = upper_quantile(&noise, s.pick(&CLOUD_COVER));
        let ramp = 1.0 / (0.35 * (hi - t)).max(1e-6);
        let opacity = s.pick(&CLOUD_OPACITY);
        let thick: Vec<f32> = noise.iter().map(|&v| smoothstep((v - t) * ramp)).collect();

        let (sn, cs) = detmath::sincos(rng.range(0.0, std::f64::consts::TAU));
        let len = CLOUD_SHADOW_OFFSET * rng.range(0.5, 1.0) * w.min(h) as f64;
        let (dx, dy) = ((cs * len).round() as isize, (sn * len).round() as isize);
        let mut shadow = vec![0.0f32; w * h];
        kernels::shift_accumulate(
            &mut shadow,
            &thick,
            w,
            h,
            dx,
            dy,
            s.pick(&CLOUD_SHADOW) * opacity,
        );

        let mut out = image.clone();
        for c in 0..3 {
            for ((v, &k), &sh) in out.plane_mut(c).iter_mut().zip(&thick).zip(&shadow) {
                let a = opacity * k;
                let cloud = 0.82 + 0.16 * k;
                *v = *v * (1.0 - sh) * (1.0 - a) + a * cloud;
            }
        }
        out
    }
}

/// Thin atmospheric haze: the scattering model `I = J t + A (1 - t)` with a bright
/// bluish-grey airlight A and a transmission t that varies slowly over the scene.
///
/// Own design after Koschmieder's model as used in dehazing work: `t = transmission +
/// 0.08 (2 n - 1)`, n fractal noise of 3 octaves with coarsest cell 70 % of the longer
/// side; airlight (0.78, 0.82, 0.88).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | transmission | 0.85 | 0.75 | 0.65 | 0.55 | 0.45 |
/// | variation | 0.08 | 0.08 | 0.08 | 0.08 | 0.08 |
pub struct Haze;

const HAZE_TRANSMISSION: [f32; 5] = [0.85, 0.75, 0.65, 0.55, 0.45];
const HAZE_VARIATION: f32 = 0.08;
const AIRLIGHT: [f32; 3] = [0.78, 0.82, 0.88];

impl Corruption for Haze {
    fn name(&self) -> &'static str {
        "haze"
    }
    fn family(&self) -> Family {
        Family::Satellite
    }
    fn summary(&self) -> &'static str {
        "thin atmospheric haze veiling the scene with bluish-grey airlight"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("transmission", f64::from(s.pick(&HAZE_TRANSMISSION))),
            Param::float("variation", f64::from(HAZE_VARIATION)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let mut t = fractal_noise(w, h, 0.7 * w.max(h) as f64, 3, 0.5, rng);
        let t0 = s.pick(&HAZE_TRANSMISSION);
        kernels::affine(&mut t, 2.0 * HAZE_VARIATION, t0 - HAZE_VARIATION);
        let mut out = image.clone();
        for (c, &a) in AIRLIGHT.iter().enumerate() {
            for (v, &tt) in out.plane_mut(c).iter_mut().zip(&t) {
                *v = *v * tt + a * (1.0 - tt);
            }
        }
        out
    }
}

/// Push-broom detector striping: every detector (one image column, or one row when the
/// scan runs the other way; drawn from the rng) has its own gain and offset error, so
/// stripes run the full length of the image; at high severity some detectors are dead
/// (0) or hot (saturated).
///
/// Own design after the striping seen in Landsat / Hyperion imagery. Per channel (each
/// band has its own detector array) and line: `gain = 1 + gain sd * N(0, 1)`, `offset =
/// offset sd * N(0, 1)`; with probability `bad` a line is dead or hot (50/50).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | gain sd | 0.02 | 0.035 | 0.05 | 0.07 | 0.1 |
/// | offset sd | 0.01 | 0.018 | 0.025 | 0.035 | 0.05 |
/// | bad lines | 0 | 0 | 0 | 0.004 | 0.01 |
pub struct StripeNoise;

const STRIPE_GAIN: [f32; 5] = [0.02, 0.035, 0.05, 0.07, 0.1];
const STRIPE_OFFSET: [f32; 5] = [0.01, 0.018, 0.025, 0.035, 0.05];
const STRIPE_BAD: [f32; 5] = [0.0, 0.0, 0.0, 0.004, 0.01];

impl Corruption for StripeNoise {
    fn name(&self) -> &'static str {
        "stripe_noise"
    }
    fn family(&self) -> Family {
        Family::Satellite
    }
    fn summary(&self) -> &'static str {
        "push-broom detector striping with per-line gain and offset errors"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("gain_sd", f64::from(s.pick(&STRIPE_GAIN))),
            Param::float("offset_sd", f64::from(s.pick(&STRIPE_OFFSET))),
            Param::float("bad_lines", f64::from(s.pick(&STRIPE_BAD))),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let columns = rng.chance(0.5);
        let lines = if columns { w } else { h };
        let bad = s.pick(&STRIPE_BAD);
        let mut out = image.clone();
        let mut gain = vec![0.0f32; lines];
        let mut offset = vec![0.0f32; lines];
        let mut pick = vec![0.0f32; lines];
        for c in 0..3 {
            rng.fill_normal_scaled(&mut gain, 1.0, s.pick(&STRIPE_GAIN));
            rng.fill_normal_scaled(&mut offset, 0.0, s.pick(&STRIPE_OFFSET));
            rng.fill_uniform(&mut pick);
            for ((g, o), &u) in gain.iter_mut().zip(&mut offset).zip(&pick) {
                if u < bad {
                    *g = 0.0;
                    *o = if u < 0.5 * bad { 0.0 } else { 1.0 };
                }
            }
            let plane = out.plane_mut(c);
            for (y, row) in plane.chunks_exact_mut(w.max(1)).enumerate() {
                if columns {
                    for ((v, &g), &o) in row.iter_mut().zip(&gain).zip(&offset) {
                        *v = *v * g + o;
                    }
                } else {
                    kernels::affine(row, gain[y], offset[y]);
                }
            }
        }
        out
    }
}

/// Band-to-band misregistration: the red and blue bands are displaced relative to the
/// green one by sub-pixel to several-pixel offsets in random directions (separate
/// detectors or focal-plane arrays, imperfect co-registration); resampled bilinearly,
/// edges replicated.
///
/// Own design. Each of R and B moves by `shift * U(0.6, 1) * (w + h) / 2` pixels in an
/// independent uniform direction; G stays put.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | shift (fraction of mean side) | 0.003 | 0.006 | 0.012 | 0.02 | 0.03 |
pub struct BandMisregistration;

const BAND_SHIFT: [f64; 5] = [0.003, 0.006, 0.012, 0.02, 0.03];

/// `plane` moved by (`dx`, `dy`) pixels, bilinear, edges replicated.
fn shift_plane(plane: &[f32], w: usize, h: usize, dx: f32, dy: f32) -> Vec<f32> {
    let xs: Vec<f32> = (0..w).map(|x| x as f32 - dx).collect();
    let mut map_x = Vec::with_capacity(w * h);
    let mut map_y = Vec::with_capacity(w * h);
    for y in 0..h {
        map_x.extend_from_slice(&xs);
        map_y.extend(std::iter::repeat_n(y as f32 - dy, w));
    }
    let mut out = vec![0.0f32; w * h];
    kernels::remap_bilinear(plane, w, h, &map_x, &map_y, &mut out, Border::Nearest);
    out
}

impl Corruption for BandMisregistration {
    fn name(&self) -> &'static str {
        "band_misregistration"
    }
    fn family(&self) -> Family {
        Family::Satellite
    }
    fn summary(&self) -> &'static str {
        "colour bands shifted against each other by sub-pixel to few-pixel offsets"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("shift", s.pick(&BAND_SHIFT))]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let size = (w + h) as f64 / 2.0;
        let mut out = image.clone();
        for c in [0, 2] {
            let len = s.pick(&BAND_SHIFT) * rng.range(0.6, 1.0) * size;
            let (sn, cs) = detmath::sincos(rng.range(0.0, std::f64::consts::TAU));
            let moved = shift_plane(image.plane(c), w, h, (cs * len) as f32, (sn * len) as f32);
            out.plane_mut(c).copy_from_slice(&moved);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(w: usize, h: usize) -> Image {
        let mut data = vec![0.0f32; 3 * w * h];
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let v = 0.2 + 0.6 * ((x * (c + 1) + 3 * y) % 17) as f32 / 16.0;
                    data[c * w * h + y * w + x] = v;
                }
            }
        }
        Image::from_planes(w, h, data)
    }

    fn run(c: &dyn Corruption, img: &Image, level: i64, seed: u64) -> Image {
        super::super::corrupt(img, c, Severity::new(level).unwrap(), seed)
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
    fn every_size_and_severity_runs() {
        for c in ALL {
            for (w, h) in [(1, 1), (1, 9), (9, 1), (2, 2), (33, 17)] {
                let img = scene(w, h);
                for level in 1..=5 {
                    for seed in 0..3 {
                        let out = run(*c, &img, level, seed);
                        assert_eq!((out.width(), out.height()), (w, h), "{}", c.name());
                        assert!(out.data().iter().all(|v| v.is_finite()), "{}", c.name());
                    }
                }
            }
        }
    }

    #[test]
    fn same_bits_on_every_isa() {
        use crate::corrupt::kernels::{available, with_isa, Isa};
        let img = Image::filled(37, 29, 0.4);
        let img = Image::from_planes(
            37,
            29,
            img.data()
                .iter()
                .enumerate()
                .map(|(i, v)| v + ((i * 7919) % 23) as f32 / 40.0)
                .collect(),
        );
        for c in ALL {
            let want = with_isa(Isa::Scalar, || run(*c, &img, 4, 5)).unwrap();
            for isa in available() {
                let got = with_isa(isa, || run(*c, &img, 4, 5)).unwrap();
                assert!(got == want, "{} differs on {}", c.name(), isa.name());
            }
        }
    }

    #[test]
    fn strength_grows_with_severity_and_is_reproducible() {
        let img = scene(64, 48);
        for c in ALL {
            let d: Vec<f64> = (1..=5)
                .map(|l| {
                    (0..4)
                        .map(|seed| mad(&img, &run(*c, &img, l, seed)))
                        .sum::<f64>()
                        / 4.0
                })
                .collect();
            assert!(d[0] > 0.002, "{} too mild: {d:?}", c.name());
            assert!(
                d.windows(2).all(|p| p[1] >= p[0]),
                "{} not monotone: {d:?}",
                c.name()
            );
            assert_eq!(run(*c, &img, 3, 9), run(*c, &img, 3, 9), "{}", c.name());
            assert!(
                (1..8).any(|seed| run(*c, &img, 3, seed) != run(*c, &img, 3, 0)),
                "{}",
                c.name()
            );
        }
    }

    #[test]
    fn fractal_noise_is_in_range_and_smooth() {
        let mut rng = Rng::new(1, "t");
        let n = fractal_noise(70, 50, 28.0, 4, 0.5, &mut rng);
        assert!(n.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let mean = n.iter().sum::<f32>() / n.len() as f32;
        assert!((mean - 0.5).abs() < 0.15, "{mean}");
        let step = (1..n.len())
            .filter(|i| i % 70 != 0)
            .map(|i| (n[i] - n[i - 1]).abs())
            .sum::<f32>()
            / n.len() as f32;
        assert!(step < 0.08, "{step}");
    }

    #[test]
    fn cloud_cover_follows_severity_and_shadows_darken() {
        let img = Image::filled(80, 80, 0.3);
        for level in 1..=5 {
            let out = run(&Clouds, &img, level, 7);
            let cloudy = out.plane(0).iter().filter(|&&v| v > 0.31).count() as f64 / 6400.0;
            let cover = CLOUD_COVER[level as usize - 1];
            assert!(
                (cloudy - cover).abs() < 0.08,
                "{level}: {cloudy} vs {cover}"
            );
            assert!(
                out.plane(0).iter().any(|&v| v < 0.29),
                "no shadow at {level}"
            );
        }
    }

    #[test]
    fn haze_lifts_towards_the_airlight_and_lowers_contrast() {
        let img = scene(40, 40);
        let out = run(&Haze, &img, 5, 1);
        let range = |p: &[f32]| {
            p.iter().cloned().fold(0.0f32, f32::max) - p.iter().cloned().fold(1.0f32, f32::min)
        };
        assert!(range(out.plane(0)) < 0.7 * range(img.plane(0)));
        let black = run(&Haze, &Image::new(20, 20), 3, 1);
        // (1 - t) A with t in 0.65 +- 0.08: blue above red.
        assert!(black
            .plane(2)
            .iter()
            .zip(black.plane(0))
            .all(|(b, r)| b > r));
        assert!(black
            .plane(0)
            .iter()
            .all(|&v| v > 0.78 * 0.26 && v < 0.78 * 0.44));
    }

    #[test]
    fn stripes_are_constant_along_the_striping_axis() {
        let img = Image::filled(30, 20, 0.5);
        let mut saw = [false, false];
        for seed in 0..8 {
            let out = run(&StripeNoise, &img, 5, seed);
            for c in 0..3 {
                let p = out.plane(c);
                let cols_const = (0..30).all(|x| (0..20).all(|y| p[y * 30 + x] == p[x]));
                let rows_const = (0..20).all(|y| (0..30).all(|x| p[y * 30 + x] == p[y * 30]));
                assert!(cols_const || rows_const);
                assert!(!(cols_const && rows_const));
                saw[usize::from(cols_const)] = true;
            }
        }
        assert!(saw[0] && saw[1], "both orientations occur");
    }

    #[test]
    fn misregistration_moves_bands_and_keeps_their_histograms() {
        // A smooth field: resampling a smooth image hardly changes its histogram.
        let mut rng = Rng::new(4, "field");
        let mut data = Vec::new();
        for _ in 0..3 {
            data.extend(fractal_noise(64, 64, 24.0, 2, 0.5, &mut rng));
        }
        let img = Image::from_planes(64, 64, data);
        let out = run(&BandMisregistration, &img, 5, 3);
        assert_eq!(out.plane(1), img.plane(1));
        for c in [0, 2] {
            assert_ne!(out.plane(c), img.plane(c));
            let mut a = img.plane(c).to_vec();
            let mut b = out.plane(c).to_vec();
            a.sort_by(f32::total_cmp);
            b.sort_by(f32::total_cmp);
            let d = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
            assert!(d < 0.01, "{d}");
        }
        // An integer shift moves samples exactly.
        let p: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let s = shift_plane(&p, 8, 5, 2.0, 1.0);
        assert_eq!(s[2 * 8 + 5], p[8 + 3]);
    }
}

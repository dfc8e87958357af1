//! Scanned documents: scan lines, ink bleed, skew.

use super::filters::gaussian_blur_plane;
use super::kernels::{self, Border};
use super::{detmath, Corruption, Family, Image, Param, Rng, Severity};

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[&ScanLines, &InkBleed, &Skew];

/// Flatbed-scanner artifacts across the page: a few thin dark or bright horizontal
/// lines (dust and dirt on the sensor bar or lamp flicker at one position), broad
/// banding from uneven lamp output, and slight row-to-row brightness jitter.
///
/// Own design. Every row gets one affine map `v -> g v + o`, applied to the three
/// channels: banding `g = 1 + banding * sin(2 pi (cycles y / h + phase))` with cycles
/// U(1.5, 4); jitter `+ jitter * N(0, 1)` per row; then each line (row uniform, 1 to
/// `max(1, h / 112)` rows thick, strength `a = line strength * U(0.5, 1)`) is dark with
/// probability 0.6 (`v -> (1 - a) v`) and bright otherwise (`v -> (1 - a) v + a`).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | lines | 2 | 4 | 6 | 9 | 12 |
/// | line strength | 0.3 | 0.4 | 0.5 | 0.6 | 0.7 |
/// | banding | 0.015 | 0.025 | 0.035 | 0.05 | 0.065 |
/// | jitter | 0.005 | 0.008 | 0.012 | 0.016 | 0.02 |
pub struct ScanLines;

const SCAN_LINES: [i64; 5] = [2, 4, 6, 9, 12];
const SCAN_STRENGTH: [f64; 5] = [0.3, 0.4, 0.5, 0.6, 0.7];
const SCAN_BANDING: [f64; 5] = [0.015, 0.025, 0.035, 0.05, 0.065];
const SCAN_JITTER: [f32; 5] = [0.005, 0.008, 0.012, 0.016, 0.02];

impl Corruption for ScanLines {
    fn name(&self) -> &'static str {
        "scan_lines"
    }
    fn family(&self) -> Family {
        Family::Documents
    }
    fn summary(&self) -> &'static str {
        "scanner lines, lamp banding and row brightness jitter"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::int("lines", s.pick(&SCAN_LINES)),
            Param::float("line_strength", s.pick(&SCAN_STRENGTH)),
            Param::float("banding", s.pick(&SCAN_BANDING)),
            Param::float("jitter", f64::from(s.pick(&SCAN_JITTER))),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let cycles = rng.range(1.5, 4.0);
        let phase = rng.uniform_f64();
        let band = s.pick(&SCAN_BANDING);
        let mut jitter = vec![0.0f32; h];
        rng.fork("jitter")
            .fill_normal_scaled(&mut jitter, 0.0, s.pick(&SCAN_JITTER));
        let mut gain: Vec<f32> = (0..h)
            .map(|y| {
                let t = cycles * y as f64 / h as f64 + phase;
                (1.0 + band * detmath::sin(std::f64::consts::TAU * t)) as f32 + jitter[y]
            })
            .collect();
        let mut offset = vec![0.0f32; h];
        let thick_max = (h / 112).max(1) as u32;
        for _ in 0..s.pick(&SCAN_LINES) {
            let y0 = rng.below(h as u32) as usize;
            let thick = 1 + rng.below(thick_max) as usize;
            let a = (s.pick(&SCAN_STRENGTH) * rng.range(0.5, 1.0)) as f32;
            let bright = !rng.chance(0.6);
            for y in y0..(y0 + thick).min(h) {
                gain[y] *= 1.0 - a;
                offset[y] = offset[y] * (1.0 - a) + if bright { a } else { 0.0 };
            }
        }
        let mut out = image.clone();
        for c in 0..3 {
            for (y, row) in out.plane_mut(c).chunks_exact_mut(w.max(1)).enumerate() {
                kernels::affine(row, gain[y], offset[y]);
            }
        }
        out
    }
}

/// Ink bleeding into the paper: dark strokes spread (grey-level erosion of brightness,
/// i.e. a min filter) and feather out (Gaussian blur), and the result is mixed in where
/// it is darker than the page: `out = x + strength (min(x, blur(erode(x))) - x)`.
/// Deterministic.
///
/// Own design. Square structuring element of side `2 radius + 1`, edges replicated;
/// blur truncated at 3 sigma. Each channel separately, so coloured ink spreads in its
/// own colour.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | radius (px) | 1 | 1 | 2 | 2 | 3 |
/// | blur sigma (px) | 0.7 | 1.0 | 1.0 | 1.3 | 1.6 |
/// | strength | 0.5 | 0.65 | 0.7 | 0.8 | 0.9 |
pub struct InkBleed;

const INK_RADIUS: [usize; 5] = [1, 1, 2, 2, 3];
const INK_SIGMA: [f64; 5] = [0.7, 1.0, 1.0, 1.3, 1.6];
const INK_STRENGTH: [f32; 5] = [0.5, 0.65, 0.7, 0.8, 0.9];

/// Grey-level erosion (minimum over a `2r + 1` square), separable, edges replicated.
fn min_filter(plane: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let padded = kernels::pad_plane(plane, w, h, r, r, Border::Nearest);
    let pw = w + 2 * r;
    // Horizontal pass over every padded row, then vertical over the results.
    let mut horiz = vec![0.0f32; w * (h + 2 * r)];
    for (src, dst) in padded.chunks_exact(pw).zip(horiz.chunks_exact_mut(w)) {
        dst.copy_from_slice(&src[..w]);
        for d in 1..=2 * r {
            for (o, &v) in dst.iter_mut().zip(&src[d..d + w]) {
                *o = o.min(v);
            }
        }
    }
    let mut out = vec![0.0f32; w * h];
    for (y, dst) in out.chunks_exact_mut(w).enumerate() {
        dst.copy_from_slice(&horiz[y * w..(y + 1) * w]);
        for d in 1..=2 * r {
            let src = &horiz[(y + d) * w..(y + d + 1) * w];
            for (o, &v) in dst.iter_mut().zip(src) {
                *o = o.min(v);
            }
        }
    }
    out
}

impl Corruption for InkBleed {
    fn name(&self) -> &'static str {
        "ink_bleed"
    }
    fn family(&self) -> Family {
        Family::Documents
    }
    fn summary(&self) -> &'static str {
        "ink spreading and feathering from dark strokes into the paper"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::int("radius", s.pick(&INK_RADIUS) as i64),
            Param::float("blur_sigma", s.pick(&INK_SIGMA)),
            Param::float("strength", f64::from(s.pick(&INK_STRENGTH))),
        ]
    }
    fn is_random(&self) -> bool {
        false
    }
    fn apply(&self, image: &Image, s: Severity, _rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let sigma = s.pick(&INK_SIGMA);
        let k = s.pick(&INK_STRENGTH);
        let mut out = image.clone();
        if w == 0 || h == 0 {
            return out;
        }
        for c in 0..3 {
            let eroded = min_filter(image.plane(c), w, h, s.pick(&INK_RADIUS));
            let bled = gaussian_blur_plane(&eroded, w, h, sigma, sigma, 3.0, Border::Nearest);
            for (v, &b) in out.plane_mut(c).iter_mut().zip(&bled) {
                *v += k * (b.min(*v) - *v);
            }
        }
        out
    }
}

/// A page fed or laid on the scanner at a slight angle: rotation about the centre by
/// `angle` degrees, sign from the rng, bilinear, with the uncovered corners filled in
/// the paper's colour.
///
/// Own design. Paper colour: per channel, the upper quartile of the outermost ring of
/// pixels (the page margin; the quartile ignores text that touches the edge).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | angle (degrees) | 1 | 2 | 3.5 | 5.5 | 8 |
pub struct Skew;

const SKEW_DEGREES: [f64; 5] = [1.0, 2.0, 3.5, 5.5, 8.0];

/// Per-channel upper quartile of the image's outer ring of pixels.
fn paper_colour(image: &Image) -> [f32; 3] {
    let (w, h) = (image.width(), image.height());
    let mut colour = [1.0f32; 3];
    for (c, col) in colour.iter_mut().enumerate() {
        let p = image.plane(c);
        let mut ring: Vec<f32> = Vec::with_capacity(2 * (w + h));
        for x in 0..w {
            ring.push(p[x]);
            if h > 1 {
                ring.push(p[(h - 1) * w + x]);
            }
        }
        for y in 1..h.saturating_sub(1) {
            ring.push(p[y * w]);
            if w > 1 {
                ring.push(p[y * w + w - 1]);
            }
        }
        ring.sort_by(f32::total_cmp);
        if let Some(&v) = ring.get(ring.len() * 3 / 4) {
            *col = v;
        }
    }
    colour
}

/// `image` rotated by `angle` radians (counter-clockwise on screen for positive angles)
/// about its centre, outside filled with `fill`.
fn rotate(image: &Image, angle: f64, fill: [f32; 3]) -> Image {
    let (w, h) = (image.width(), image.height());
    let (sn, cs) = detmath::sincos(angle);
    let (sn, cs) = (sn as f32, cs as f32);
    let (cx, cy) = (
        ((w as f64 - 1.0) / 2.0) as f32,
        ((h as f64 - 1.0) / 2.0) as f32,
    );
    let mut map_x = vec![0.0f32; w * h];
    let mut map_y = vec![0.0f32; w * h];
    for y in 0..h {
        let dy = y as f32 - cy;
        for x in 0..w {
            let dx = x as f32 - cx;
            // Inverse map: a destination pixel samples the source rotated back.
            map_x[y * w + x] = cx + cs * dx - sn * dy;
            map_y[y * w + x] = cy + sn * dx + cs * dy;
        }
    }
    let mut out = image.clone();
    for (c, &f) in fill.iter().enumerate() {
        kernels::remap_bilinear(
            image.plane(c),
            w,
            h,
            &map_x,
            &map_y,
            out.plane_mut(c),
            Border::Constant(f),
        );
    }
    out
}

impl Corruption for Skew {
    fn name(&self) -> &'static str {
        "skew"
    }
    fn family(&self) -> Family {
        Family::Documents
    }
    fn summary(&self) -> &'static str {
        "scanned page slightly rotated, corners filled with paper colour"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("angle_degrees", s.pick(&SKEW_DEGREES))]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let sign = if rng.chance(0.5) { -1.0 } else { 1.0 };
        let angle = (sign * s.pick(&SKEW_DEGREES)).to_radians();
        rotate(image, angle, paper_colour(image))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A white page with dark "text" bars.
    fn page(w: usize, h: usize) -> Image {
        let mut p = vec![0.95f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let line = y % 8;
                if (2..4).contains(&line) && x > 3 && x + 3 < w && (x / 5) % 3 != 2 {
                    p[y * w + x] = 0.1;
                }
            }
        }
        let mut data = p.clone();
        data.extend(p.iter().map(|v| v * 0.98));
        data.extend(p.iter().map(|v| v * 0.9));
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
                let img = page(w, h);
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
        let img = page(64, 48);
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
            let differs = (1..8).any(|seed| run(*c, &img, 3, seed) != run(*c, &img, 3, 0));
            assert_eq!(differs, c.is_random(), "{}", c.name());
        }
    }

    #[test]
    fn scan_lines_are_uniform_along_rows() {
        let img = Image::filled(30, 40, 0.5);
        let out = run(&ScanLines, &img, 5, 3);
        let p = out.plane(0);
        assert!((0..40).all(|y| (0..30).all(|x| p[y * 30 + x] == p[y * 30])));
        let rows: Vec<f32> = (0..40).map(|y| p[y * 30]).collect();
        assert!(rows.iter().any(|&v| v < 0.4), "a dark line");
        assert_eq!(out.plane(0), out.plane(1));
    }

    #[test]
    fn ink_bleed_only_darkens_and_thickens_strokes() {
        let img = page(40, 32);
        let out = run(&InkBleed, &img, 4, 0);
        assert!(out
            .data()
            .iter()
            .zip(img.data())
            .all(|(o, i)| *o <= *i + 1e-6));
        let dark = |im: &Image| im.plane(0).iter().filter(|&&v| v < 0.5).count();
        assert!(
            dark(&out) > dark(&img) + 20,
            "{} vs {}",
            dark(&out),
            dark(&img)
        );
        // A blank page stays blank.
        let blank = Image::filled(16, 16, 0.9);
        assert_eq!(run(&InkBleed, &blank, 5, 0), blank);
        let m = min_filter(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0], 3, 2, 1);
        assert_eq!(m, vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn skew_of_zero_is_the_identity_and_fills_with_paper() {
        let img = page(33, 25);
        assert_eq!(rotate(&img, 0.0, [0.0; 3]), img);
        let paper = paper_colour(&img);
        assert!((paper[0] - 0.95).abs() < 1e-6 && (paper[2] - 0.855).abs() < 1e-6);
        let out = run(&Skew, &img, 5, 1);
        // The corners leave the source and take the paper colour.
        for (x, y) in [(0, 0), (32, 0), (0, 24), (32, 24)] {
            assert!((out.get(0, x, y) - 0.95).abs() < 1e-5);
        }
        let signs: Vec<bool> = (0..8)
            .map(|seed| run(&Skew, &img, 5, seed) == out)
            .collect();
        assert!(signs.iter().any(|&same| !same), "both signs occur");
    }
}

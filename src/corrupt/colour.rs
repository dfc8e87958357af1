//! Colour: brightness, contrast, saturation (ImageNet-C), global colour shift and white-balance casts.

use super::{detmath, kernels, Corruption, Family, Image, Param, Rng, Severity};

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[
    &Brightness,
    &Contrast,
    &Saturate,
    &ColourShift,
    &WhiteBalance,
];

/// Over-exposure: adds `c` to the HSV value channel (ImageNet-C `brightness`).
///
/// Converts to HSV as `skimage.color.rgb2hsv` does, sets `V = clip(V + c, 0, 1)` and
/// converts back, so hue and saturation survive while the image brightens.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | c (added to V) | 0.1 | 0.2 | 0.3 | 0.4 | 0.5 |
pub struct Brightness;

const BRIGHTNESS: [f32; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];

impl Corruption for Brightness {
    fn name(&self) -> &'static str {
        "brightness"
    }
    fn family(&self) -> Family {
        Family::Colour
    }
    fn summary(&self) -> &'static str {
        "over-exposure: HSV value raised by a constant"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("c", f64::from(s.pick(&BRIGHTNESS)))]
    }
    fn is_random(&self) -> bool {
        false
    }
    fn apply(&self, image: &Image, s: Severity, _rng: &mut Rng) -> Image {
        let c = s.pick(&BRIGHTNESS);
        map_hsv(image, |_h, _s, v| kernels::affine_clamp(v, 1.0, c))
    }
}

/// Loss of contrast: `(x - mean) * c + mean` per channel (ImageNet-C `contrast`), the
/// mean taken over the whole image for each channel (in f64, as numpy does).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | c (contrast kept) | 0.4 | 0.3 | 0.2 | 0.1 | 0.05 |
pub struct Contrast;

const CONTRAST: [f64; 5] = [0.4, 0.3, 0.2, 0.1, 0.05];

impl Corruption for Contrast {
    fn name(&self) -> &'static str {
        "contrast"
    }
    fn family(&self) -> Family {
        Family::Colour
    }
    fn summary(&self) -> &'static str {
        "loss of contrast towards each channel's mean"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("c", s.pick(&CONTRAST))]
    }
    fn is_random(&self) -> bool {
        false
    }
    fn apply(&self, image: &Image, s: Severity, _rng: &mut Rng) -> Image {
        let c = s.pick(&CONTRAST);
        let mut out = image.clone();
        if out.is_empty() {
            return out;
        }
        for ch in 0..3 {
            let plane = out.plane_mut(ch);
            let mean = plane.iter().map(|&v| f64::from(v)).sum::<f64>() / plane.len() as f64;
            // (x - m) c + m = x c + m (1 - c); the offset folds into one affine pass.
            kernels::affine(plane, c as f32, (mean - mean * c) as f32);
        }
        out
    }
}

/// Saturation change in HSV: `S = clip(S * a + b, 0, 1)` (ImageNet-C `saturate`);
/// severities 1 and 2 wash colours out, 3 to 5 over-saturate them.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | a (gain) | 0.3 | 0.1 | 2 | 5 | 20 |
/// | b (offset) | 0 | 0 | 0 | 0.1 | 0.2 |
pub struct Saturate;

const SATURATE: [(f32, f32); 5] = [(0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2)];

impl Corruption for Saturate {
    fn name(&self) -> &'static str {
        "saturate"
    }
    fn family(&self) -> Family {
        Family::Colour
    }
    fn summary(&self) -> &'static str {
        "saturation scaled in HSV (washed out, then over-saturated)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        let (a, b) = s.pick(&SATURATE);
        vec![
            Param::float("a", f64::from(a)),
            Param::float("b", f64::from(b)),
        ]
    }
    fn is_random(&self) -> bool {
        false
    }
    fn apply(&self, image: &Image, s: Severity, _rng: &mut Rng) -> Image {
        let (a, b) = s.pick(&SATURATE);
        map_hsv(image, |_h, sat, _v| kernels::affine_clamp(sat, a, b))
    }
}

/// A global colour cast, as DeepBench's `GlobalColourShift` (own formulation): every
/// channel gets a random gain and a random offset, the same for all pixels.
///
/// The offsets point along a random hue direction `theta ~ U(0, 360)` degrees,
/// `offset_c = shift * cos(theta - 120 c)` for R, G, B (c = 0, 1, 2), so they sum to zero
/// (the cast changes colour, not brightness) and always have the same strength; each
/// channel's gain is `1 + gain * u_c` with `u_c ~ U(-1, 1)` independently.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | shift (offset amplitude) | 0.04 | 0.07 | 0.10 | 0.14 | 0.18 |
/// | gain (max gain deviation) | 0.03 | 0.06 | 0.09 | 0.12 | 0.15 |
pub struct ColourShift;

const SHIFT: [f64; 5] = [0.04, 0.07, 0.10, 0.14, 0.18];
const SHIFT_GAIN: [f64; 5] = [0.03, 0.06, 0.09, 0.12, 0.15];

impl Corruption for ColourShift {
    fn name(&self) -> &'static str {
        "colour_shift"
    }
    fn family(&self) -> Family {
        Family::Colour
    }
    fn summary(&self) -> &'static str {
        "global colour cast: random per-channel offset and gain"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("shift", s.pick(&SHIFT)),
            Param::float("gain", s.pick(&SHIFT_GAIN)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (shift, gain) = (s.pick(&SHIFT), s.pick(&SHIFT_GAIN));
        let theta = rng.range(0.0, 360.0);
        let mut out = image.clone();
        for c in 0..3 {
            let offset = shift * detmath::cos((theta - 120.0 * c as f64).to_radians());
            let g = 1.0 + gain * rng.range(-1.0, 1.0);
            kernels::affine(out.plane_mut(c), g as f32, offset as f32);
        }
        out
    }
}

/// A wrong white balance, as handheld cameras produce under mixed light (own design):
/// the channels are multiplied by the colour of a black body at the scene temperature
/// relative to one at the 6500 K the camera assumed; warm (lower Kelvin, orange cast)
/// or cold (higher Kelvin, blue cast) chosen at random with equal odds.
///
/// Gains come from Planck's law at representative wavelengths R 610 nm, G 550 nm,
/// B 465 nm, `gain_c = B(lambda_c, T) / B(lambda_c, 6500 K)`, normalised so the Rec. 601
/// luma of a grey stays put (the cast shifts colour, not exposure).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | warm scene temperature (K) | 5600 | 4900 | 4300 | 3800 | 3300 |
/// | cold scene temperature (K) | 7600 | 8900 | 10500 | 12500 | 15500 |
pub struct WhiteBalance;

const WARM_K: [f64; 5] = [5600.0, 4900.0, 4300.0, 3800.0, 3300.0];
const COLD_K: [f64; 5] = [7600.0, 8900.0, 10500.0, 12500.0, 15500.0];
const CAMERA_K: f64 = 6500.0;

/// Per-channel gains for a scene at `kelvin` seen by a camera balanced for 6500 K.
pub fn white_balance_gains(kelvin: f64) -> [f64; 3] {
    // Second radiation constant hc/k in m K.
    const C2: f64 = 1.438_776_9e-2;
    const LAMBDA: [f64; 3] = [610e-9, 550e-9, 465e-9];
    let planck = |l: f64, t: f64| 1.0 / (detmath::exp(C2 / (l * t)) - 1.0);
    let mut g = [0.0; 3];
    for (gc, &l) in g.iter_mut().zip(&LAMBDA) {
        *gc = planck(l, kelvin) / planck(l, CAMERA_K);
    }
    let luma = 0.299 * g[0] + 0.587 * g[1] + 0.114 * g[2];
    g.map(|v| v / luma)
}

impl Corruption for WhiteBalance {
    fn name(&self) -> &'static str {
        "white_balance"
    }
    fn family(&self) -> Family {
        Family::Colour
    }
    fn summary(&self) -> &'static str {
        "wrong white balance: warm or cold black-body colour cast"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("warm_kelvin", s.pick(&WARM_K)),
            Param::float("cold_kelvin", s.pick(&COLD_K)),
            Param::float("camera_kelvin", CAMERA_K),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let kelvin = if rng.chance(0.5) {
            s.pick(&WARM_K)
        } else {
            s.pick(&COLD_K)
        };
        let gains = white_balance_gains(kelvin);
        let mut out = image.clone();
        for (c, g) in gains.iter().enumerate() {
            kernels::affine(out.plane_mut(c), *g as f32, 0.0);
        }
        out
    }
}

/// Converts to skimage HSV, lets `f` edit the (H, S, V) planes, converts back.
fn map_hsv(image: &Image, f: impl FnOnce(&mut [f32], &mut [f32], &mut [f32])) -> Image {
    let mut out = image.clone();
    // rgb2hsv expects [0, 1]; an upstream corruption may have left values outside.
    out.clamp01();
    let (r, g, b) = out.planes_mut();
    kernels::rgb_to_hsv(r, g, b);
    f(r, g, b);
    kernels::hsv_to_rgb(r, g, b);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corrupt::corrupt;

    fn test_image(w: usize, h: usize) -> Image {
        let mut im = Image::new(w, h);
        for c in 0..3 {
            for (i, v) in im.plane_mut(c).iter_mut().enumerate() {
                let (x, y) = (i % w, i / w);
                *v = ((x * 7 + y * 13 + c * 50) % 256) as f32 / 255.0;
            }
        }
        im
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
    fn every_corruption_handles_odd_sizes() {
        for c in ALL {
            for (w, h) in [(1, 1), (1, 9), (9, 1), (2, 2), (33, 17)] {
                let im = test_image(w, h);
                for s in Severity::ALL {
                    let out = corrupt(&im, *c, s, 3);
                    assert_eq!((out.width(), out.height()), (w, h), "{}", c.name());
                    assert!(
                        out.data().iter().all(|v| (0.0..=1.0).contains(v)),
                        "{}",
                        c.name()
                    );
                }
            }
        }
    }

    #[test]
    fn strength_grows_with_severity() {
        let im = test_image(40, 30);
        for c in [
            &Brightness as &dyn Corruption,
            &Contrast,
            &ColourShift,
            &WhiteBalance,
        ] {
            let mut last = 0.0;
            for s in Severity::ALL {
                // Average over seeds: the random casts vary in direction.
                let d: f64 = (0..8)
                    .map(|seed| mad(&im, &corrupt(&im, c, s, seed)))
                    .sum::<f64>()
                    / 8.0;
                assert!(d > last, "{} s{s}: {d} <= {last}", c.name());
                last = d;
            }
            assert!(last > 0.02, "{}", c.name());
        }
    }

    #[test]
    fn contrast_keeps_channel_means() {
        let im = test_image(20, 10);
        let out = Contrast.apply(&im, Severity::new(3).unwrap(), &mut Rng::new(0, "t"));
        for c in 0..3 {
            let m0: f32 = im.plane(c).iter().sum::<f32>() / 200.0;
            let m1: f32 = out.plane(c).iter().sum::<f32>() / 200.0;
            assert!((m0 - m1).abs() < 1e-5);
        }
    }

    #[test]
    fn saturate_leaves_greys_grey() {
        let im = Image::filled(4, 4, 0.4);
        for s in Severity::ALL {
            let out = corrupt(&im, &Saturate, s, 0);
            // With b = 0 a grey's zero saturation stays zero; b > 0 tints it red (hue 0).
            if s.level() <= 3 {
                assert!(out.data().iter().all(|v| (v - 0.4).abs() < 1e-6));
            }
        }
    }

    #[test]
    fn white_balance_gains_are_warm_and_cold() {
        let g = white_balance_gains(CAMERA_K);
        assert!(g.iter().all(|v| (v - 1.0).abs() < 1e-12));
        let warm = white_balance_gains(3300.0);
        assert!(
            warm[0] > 1.0 && warm[2] < warm[1] && warm[1] < warm[0],
            "{warm:?}"
        );
        let cold = white_balance_gains(15500.0);
        assert!(cold[2] > 1.0 && cold[0] < cold[1], "{cold:?}");
        // Severity 5 stays a cast, not a channel wipe-out.
        assert!(warm[2] > 0.4 && cold[0] > 0.6, "{warm:?} {cold:?}");
    }

    #[test]
    fn colour_shift_tints_a_grey() {
        let im = Image::filled(8, 8, 0.5);
        let out = ColourShift.apply(&im, Severity::new(5).unwrap(), &mut Rng::new(4, "t"));
        let (r, g, b) = out.planes();
        assert!(r[0] != g[0] || g[0] != b[0]);
    }

    #[test]
    fn deterministic_ones_ignore_the_seed() {
        let im = test_image(9, 7);
        for c in [&Brightness as &dyn Corruption, &Contrast, &Saturate] {
            assert!(!c.is_random());
            let s = Severity::new(4).unwrap();
            assert_eq!(corrupt(&im, c, s, 1), corrupt(&im, c, s, 2));
        }
    }

    /// Parity with imagecorruptions 1.1.2 goldens, when present.
    #[test]
    fn matches_reference_goldens() {
        for (name, c) in [
            ("brightness", &Brightness as &dyn Corruption),
            ("contrast", &Contrast),
            ("saturate", &Saturate),
        ] {
            for s in Severity::ALL {
                let Some((input, want)) = crate::corrupt::noise::parity::golden(name, s.level())
                else {
                    return;
                };
                let got = corrupt(&Image::from_rgb8(&input), c, s, 0).to_rgb8();
                crate::corrupt::noise::parity::assert_close(name, s.level(), &got, &want);
            }
        }
    }
}

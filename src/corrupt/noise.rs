//! Noise: Gaussian, shot, impulse and speckle (ImageNet-C), salt and pepper (DeepBench).

use std::sync::OnceLock;

use super::{detmath, kernels, Corruption, Family, Image, Param, Rng, Severity};

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[
    &GaussianNoise,
    &ShotNoise,
    &ImpulseNoise,
    &SpeckleNoise,
    &SaltPepper,
];

/// Additive white Gaussian noise, `clip(x + N(0, sigma))`.
pub struct GaussianNoise;

const GAUSSIAN_SIGMA: [f32; 5] = [0.08, 0.12, 0.18, 0.26, 0.38];

impl Corruption for GaussianNoise {
    fn name(&self) -> &'static str {
        "gaussian_noise"
    }
    fn family(&self) -> Family {
        Family::Noise
    }
    fn summary(&self) -> &'static str {
        "additive white Gaussian sensor noise"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("sigma", f64::from(s.pick(&GAUSSIAN_SIGMA)))]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let mut out = image.clone();
        let mut noise = vec![0.0f32; out.data().len()];
        rng.fill_normal(&mut noise);
        kernels::add_scaled_clamp(out.data_mut(), &noise, s.pick(&GAUSSIAN_SIGMA));
        out
    }
}

/// Photon shot noise (ImageNet-C `shot_noise`): each sample becomes `Poisson(x c) / c`,
/// so `c` is the photon count of a full-scale sample and dim pixels are noisier
/// relative to their level.
///
/// The Poisson draws are exact. Samples on the 8-bit grid (`x = k / 255`, what every
/// decoded photo holds) draw from a Walker alias table per level, built once per
/// severity: one 48-bit uniform per sample. Other values fall back to inversion of the
/// cumulative distribution for `lambda < 10` and Hörmann's transformed rejection (PTRS,
/// the method numpy uses) above.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | c (photons at full scale) | 60 | 25 | 12 | 5 | 3 |
pub struct ShotNoise;

const SHOT: [f64; 5] = [60.0, 25.0, 12.0, 5.0, 3.0];

impl Corruption for ShotNoise {
    fn name(&self) -> &'static str {
        "shot_noise"
    }
    fn family(&self) -> Family {
        Family::Noise
    }
    fn summary(&self) -> &'static str {
        "photon shot noise: Poisson(x c) / c"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("c", s.pick(&SHOT))]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let c = s.pick(&SHOT);
        let tables = shot_tables(s);
        let mut out = image.clone();
        let mut poisson: Option<Poisson> = None;
        let mut u = [0.0f32; 2 * SHOT_CHUNK];
        for chunk in out.data_mut().chunks_mut(SHOT_CHUNK) {
            let u = &mut u[..2 * chunk.len()];
            rng.fill_uniform(u);
            for (v, pair) in chunk.iter_mut().zip(u.chunks_exact(2)) {
                let t = *v * 255.0;
                // A truncating cast rather than `round` (a libm call on baseline x86_64);
                // NaN gives 0 and fails the test below.
                let level = (t + 0.5) as i32;
                *v = if (t - level as f32).abs() < 1e-4 && (0..=255).contains(&level) {
                    tables.sample(level as usize, pair[0], pair[1])
                } else {
                    let k = poisson.get_or_insert_with(Poisson::new).sample(*v, c, rng);
                    (k as f64 / c) as f32
                };
            }
        }
        out
    }
}

/// Samples per batch of uniforms drawn for the alias tables.
const SHOT_CHUNK: usize = 2048;
/// Poisson mass left out of an alias table's support (the tail beyond its last entry).
const TAIL_MASS: f64 = 1e-12;
/// 2^48: the resolution of the alias tables' acceptance thresholds.
const ALIAS_ONE: u64 = 1 << 48;

/// One alias-table slot: accept with probability `thr / 2^48` and give `keep`, else
/// give `alt` (the outputs `k / c` stored ready-made).
#[derive(Clone, Copy)]
struct AliasSlot {
    thr: u64,
    keep: f32,
    alt: f32,
}

/// Walker alias tables of Poisson(k / 255 c) for k = 0..=255 at one severity.
struct ShotTables {
    /// (first slot, slot count) of level k.
    spans: [(u32, u32); 256],
    slots: Vec<AliasSlot>,
}

impl ShotTables {
    fn new(c: f64) -> ShotTables {
        let mut spans = [(0u32, 0u32); 256];
        let mut slots = Vec::new();
        let mut pmf = Vec::new();
        for (k, span) in spans.iter_mut().enumerate() {
            // The same lambda the exact sampler forms for the f32 input k / 255.
            let lam = f64::from(k as f32 / 255.0) * c;
            poisson_pmf(lam, &mut pmf);
            *span = (slots.len() as u32, pmf.len() as u32);
            let value = |j: usize| (j as f64 / c) as f32;
            alias_table(&pmf, &mut slots, value);
        }
        ShotTables { spans, slots }
    }

    /// One draw for level `k` from two uniforms of `fill_uniform` (24 bits each).
    #[inline]
    fn sample(&self, k: usize, u0: f32, u1: f32) -> f32 {
        let (first, n) = self.spans[k];
        // The uniforms are multiples of 2^-24 below 1, so these are their exact bits.
        let hi = u64::from((u0 * 16_777_216.0) as u32);
        let lo = u64::from((u1 * 16_777_216.0) as u32);
        let m = ((hi << 24) | lo) * u64::from(n);
        let slot = &self.slots[first as usize + (m >> 48) as usize];
        if (m & (ALIAS_ONE - 1)) < slot.thr {
            slot.keep
        } else {
            slot.alt
        }
    }
}

/// The tables of severity `s`, built on first use.
fn shot_tables(s: Severity) -> &'static ShotTables {
    static TABLES: [OnceLock<ShotTables>; 5] = [const { OnceLock::new() }; 5];
    let i = usize::from(s.level()) - 1;
    TABLES[i].get_or_init(|| ShotTables::new(SHOT[i]))
}

/// The Poisson(`lam`) pmf from 0 up to where the tail beyond holds less than
/// `TAIL_MASS`, renormalised to sum to 1.
fn poisson_pmf(lam: f64, out: &mut Vec<f64>) {
    out.clear();
    let mut p = detmath::exp(-lam);
    let mut j = 0usize;
    loop {
        out.push(p);
        let next = p * lam / (j + 1) as f64;
        // Past the mode the terms shrink at least geometrically by lam / (j + 2), so
        // the tail after j is below next / (1 - lam / (j + 2)).
        let ratio = lam / (j + 2) as f64;
        if (j + 1) as f64 > lam && ratio < 1.0 && next / (1.0 - ratio) < TAIL_MASS {
            break;
        }
        p = next;
        j += 1;
    }
    let total: f64 = out.iter().sum();
    for v in out.iter_mut() {
        *v /= total;
    }
}

/// Appends Vose's alias table of `pmf` (outcome j reported as `value(j)`) to `slots`.
fn alias_table(pmf: &[f64], slots: &mut Vec<AliasSlot>, value: impl Fn(usize) -> f32) {
    let n = pmf.len();
    let mut q: Vec<f64> = pmf.iter().map(|&p| p * n as f64).collect();
    let mut alias: Vec<usize> = (0..n).collect();
    let mut small: Vec<usize> = (0..n).filter(|&j| q[j] < 1.0).collect();
    let mut large: Vec<usize> = (0..n).filter(|&j| q[j] >= 1.0).collect();
    while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
        small.pop();
        alias[s] = l;
        q[l] -= 1.0 - q[s];
        if q[l] < 1.0 {
            large.pop();
            small.push(l);
        }
    }
    // Whatever is left is 1 up to rounding.
    for j in large.into_iter().chain(small) {
        q[j] = 1.0;
    }
    slots.extend((0..n).map(|j| AliasSlot {
        thr: ((q[j] * ALIAS_ONE as f64).round() as u64).min(ALIAS_ONE),
        keep: value(j),
        alt: value(alias[j]),
    }));
}

/// Impulse noise (ImageNet-C `impulse_noise`, scikit-image `random_noise(mode='s&p')`):
/// every sample, each channel on its own, is replaced with probability `amount` by 0
/// or 1 (even odds).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | amount | 0.03 | 0.06 | 0.09 | 0.17 | 0.27 |
pub struct ImpulseNoise;

const IMPULSE: [f32; 5] = [0.03, 0.06, 0.09, 0.17, 0.27];

impl Corruption for ImpulseNoise {
    fn name(&self) -> &'static str {
        "impulse_noise"
    }
    fn family(&self) -> Family {
        Family::Noise
    }
    fn summary(&self) -> &'static str {
        "impulse noise: random samples of each channel forced to 0 or 1"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("amount", f64::from(s.pick(&IMPULSE))),
            Param::float("salt_vs_pepper", 0.5),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let mut out = image.clone();
        let mut u = vec![0.0f32; out.data().len()];
        rng.fill_uniform(&mut u);
        impulses(out.data_mut(), &u, s.pick(&IMPULSE));
        out
    }
}

/// One uniform per sample decides both whether it flips (`u < amount`) and to what
/// (pepper below `amount / 2`, salt above).
fn impulses(x: &mut [f32], u: &[f32], amount: f32) {
    kernels::impulses(x, u, amount * 0.5, amount);
}

/// Multiplicative speckle noise (ImageNet-C `speckle_noise`): `x + x N(0, c)`.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | c (noise std relative to x) | 0.15 | 0.2 | 0.35 | 0.45 | 0.6 |
pub struct SpeckleNoise;

const SPECKLE: [f32; 5] = [0.15, 0.2, 0.35, 0.45, 0.6];

impl Corruption for SpeckleNoise {
    fn name(&self) -> &'static str {
        "speckle_noise"
    }
    fn family(&self) -> Family {
        Family::Noise
    }
    fn summary(&self) -> &'static str {
        "multiplicative speckle noise: x + x N(0, c)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("c", f64::from(s.pick(&SPECKLE)))]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let mut out = image.clone();
        let mut noise = vec![0.0f32; out.data().len()];
        rng.fill_normal(&mut noise);
        kernels::speckle_clamp(out.data_mut(), &noise, s.pick(&SPECKLE));
        out
    }
}

/// Salt-and-pepper noise on whole pixels, as DeepBench's `SaltPepperNoise`: each pixel
/// (all three channels together, so the dots are black or white, not coloured) is set
/// with probability `amount` to black or white with even odds. Dead and hot pixels,
/// dust, transmission bit errors.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | amount (share of pixels hit) | 0.01 | 0.02 | 0.05 | 0.08 | 0.12 |
pub struct SaltPepper;

const SALT_PEPPER: [f32; 5] = [0.01, 0.02, 0.05, 0.08, 0.12];

impl Corruption for SaltPepper {
    fn name(&self) -> &'static str {
        "salt_pepper"
    }
    fn family(&self) -> Family {
        Family::Noise
    }
    fn summary(&self) -> &'static str {
        "salt-and-pepper noise: random pixels forced to black or white"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("amount", f64::from(s.pick(&SALT_PEPPER))),
            Param::float("salt_vs_pepper", 0.5),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let amount = s.pick(&SALT_PEPPER);
        let mut out = image.clone();
        let mut u = vec![0.0f32; out.len()];
        rng.fill_uniform(&mut u);
        for c in 0..3 {
            impulses(out.plane_mut(c), &u, amount);
        }
        out
    }
}

/// Below this mean the CDF is inverted; at and above it PTRS takes over (numpy's split).
const PTRS_FROM: f64 = 10.0;
/// CDF entries kept for the inversion; P(k >= 40) < 1e-13 for lambda < 10.
const CDF_LEN: usize = 40;
/// Direct-mapped cache slots for per-lambda setup (images from 8 bits have 256 levels).
const SLOTS: usize = 256;

/// The set-up work for one lambda.
#[derive(Clone, Copy)]
enum Setup {
    /// Invert the CDF row of this slot in `Poisson::cdf`.
    Inversion,
    /// PTRS constants.
    Ptrs {
        lam: f64,
        loglam: f64,
        a: f64,
        b: f64,
        inv_alpha: f64,
        vr: f64,
    },
}

/// A Poisson sampler that caches per-lambda set-up: shot noise meets few distinct
/// levels, and the set-up (a CDF table, or logarithms) costs more than a draw.
struct Poisson {
    keys: Vec<u64>,
    setups: Vec<Setup>,
    cdf: Vec<f64>,
}

impl Poisson {
    fn new() -> Poisson {
        Poisson {
            keys: vec![u64::MAX; SLOTS],
            setups: vec![Setup::Inversion; SLOTS],
            cdf: vec![0.0; SLOTS * CDF_LEN],
        }
    }

    /// One draw of Poisson(`x * c`); non-positive means give 0.
    fn sample(&mut self, x: f32, c: f64, rng: &mut Rng) -> i64 {
        let lam = f64::from(x) * c;
        if lam.is_nan() || lam <= 0.0 {
            return 0;
        }
        // Inputs far above 1 only come from upstream overshoot; cap them so the draw stays
        // an exactly representable integer.
        let lam = lam.min(1e9);
        let key = lam.to_bits();
        let slot = (((key >> 32) ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % SLOTS;
        if self.keys[slot] != key {
            self.keys[slot] = key;
            self.setups[slot] = if lam < PTRS_FROM {
                fill_cdf(lam, &mut self.cdf[slot * CDF_LEN..(slot + 1) * CDF_LEN]);
                Setup::Inversion
            } else {
                let slam = lam.sqrt();
                let b = 0.931 + 2.53 * slam;
                Setup::Ptrs {
                    lam,
                    loglam: detmath::ln(lam),
                    a: -0.059 + 0.02483 * b,
                    b,
                    inv_alpha: 1.1239 + 1.1328 / (b - 3.4),
                    vr: 0.9277 - 3.6224 / (b - 2.0),
                }
            };
        }
        match self.setups[slot] {
            Setup::Inversion => {
                let u = open_unit(rng);
                let row = &self.cdf[slot * CDF_LEN..(slot + 1) * CDF_LEN];
                row.iter().position(|&p| u < p).unwrap_or(CDF_LEN - 1) as i64
            }
            Setup::Ptrs {
                lam,
                loglam,
                a,
                b,
                inv_alpha,
                vr,
            } => loop {
                let u = open_unit(rng) - 0.5;
                let v = open_unit(rng);
                let us = 0.5 - u.abs();
                let k = ((2.0 * a / us + b) * u + lam + 0.43).floor();
                if us >= 0.07 && v <= vr {
                    return k as i64;
                }
                if k < 0.0 || (us < 0.013 && v > us) {
                    continue;
                }
                let lhs = detmath::ln(v) + detmath::ln(inv_alpha) - detmath::ln(a / (us * us) + b);
                if lhs <= -lam + k * loglam - ln_factorial(k as u64) {
                    return k as i64;
                }
            },
        }
    }
}

/// The Poisson(`lam`) CDF for k = 0..out.len(), the last entry forced to 1.
fn fill_cdf(lam: f64, out: &mut [f64]) {
    let mut pmf = detmath::exp(-lam);
    let mut acc = 0.0;
    for (k, o) in out.iter_mut().enumerate() {
        acc += pmf;
        *o = acc;
        pmf *= lam / (k + 1) as f64;
    }
    if let Some(last) = out.last_mut() {
        *last = 1.0;
    }
}

/// A uniform in (0, 1) from one 32-bit draw.
#[inline]
fn open_unit(rng: &mut Rng) -> f64 {
    (f64::from(rng.next_u32()) + 0.5) * (1.0 / 4_294_967_296.0)
}

/// ln(k!): a table for small k, Stirling's series beyond.
fn ln_factorial(k: u64) -> f64 {
    const TABLE: usize = 256;
    static LOGS: OnceLock<Vec<f64>> = OnceLock::new();
    let table = LOGS.get_or_init(|| {
        let mut t = vec![0.0; TABLE];
        for i in 1..TABLE {
            t[i] = t[i - 1] + detmath::ln(i as f64);
        }
        t
    });
    if (k as usize) < TABLE {
        return table[k as usize];
    }
    let x = k as f64 + 1.0;
    let x2 = x * x;
    (x - 0.5) * detmath::ln(x) - x + 0.918_938_533_204_672_8 + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x2)
        + 1.0 / (1260.0 * x * x2 * x2)
}

/// Small helpers comparing outputs with the imagecorruptions goldens in
/// `tests/fixtures/corrupt/`; every check skips (with a note) when the fixtures are absent.
#[cfg(test)]
pub(crate) mod parity {
    use std::path::{Path, PathBuf};

    use image::RgbImage;

    use crate::corrupt::{corrupt, Corruption, Image, Severity};

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corrupt")
    }

    /// The input image, or `None` (with a note) when the fixtures are missing.
    pub fn input() -> Option<RgbImage> {
        let path = dir().join("input.png");
        if !path.exists() {
            eprintln!("skipping reference parity: {} missing", path.display());
            return None;
        }
        Some(crate::imageio::load_rgb(&path).expect("fixture input decodes"))
    }

    /// (input, golden) for `name` at severity `level`.
    pub fn golden(name: &str, level: u8) -> Option<(RgbImage, RgbImage)> {
        let input = input()?;
        let path = dir().join(format!("golden/{name}_s{level}.png"));
        if !path.exists() {
            eprintln!("skipping reference parity: {} missing", path.display());
            return None;
        }
        Some((
            input,
            crate::imageio::load_rgb(&path).expect("golden decodes"),
        ))
    }

    /// The golden manifest's entry field `key` for `name` at `level` (e.g. motion blur's angle).
    pub fn manifest_field(name: &str, level: u8, key: &str) -> Option<f64> {
        let text = std::fs::read_to_string(dir().join("golden/manifest.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["goldens"].as_array()?.iter().find_map(|g| {
            (g["corruption"] == name && g["severity"] == level)
                .then(|| g[key].as_f64())
                .flatten()
        })
    }

    /// (PSNR in dB, mean absolute error in levels) between two 8-bit images.
    pub fn psnr_mae(a: &RgbImage, b: &RgbImage) -> (f64, f64) {
        let n = a.as_raw().len() as f64;
        let (mut se, mut ae) = (0.0, 0.0);
        for (x, y) in a.as_raw().iter().zip(b.as_raw()) {
            let d = f64::from(*x) - f64::from(*y);
            se += d * d;
            ae += d.abs();
        }
        let mse = se / n;
        let psnr = if mse == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (255.0 * 255.0 / mse).log10()
        };
        (psnr, ae / n)
    }

    /// Asserts PSNR >= 35 dB or MAE <= 1.5 levels, printing both.
    pub fn assert_close(name: &str, level: u8, got: &RgbImage, want: &RgbImage) {
        assert_eq!(got.dimensions(), want.dimensions(), "{name} s{level} size");
        let (psnr, mae) = psnr_mae(got, want);
        eprintln!("parity {name} s{level}: PSNR {psnr:.2} dB, MAE {mae:.4} levels");
        assert!(
            psnr >= 35.0 || mae <= 1.5,
            "{name} s{level}: PSNR {psnr:.2} dB, MAE {mae:.3}"
        );
    }

    /// The reference statistics of `out - in` in levels for `name` at `level`: mean, std,
    /// and the seed-to-seed spreads of both, with the number of seeds pooled.
    pub fn reference_stats(name: &str, level: u8) -> Option<[f64; 5]> {
        let path = dir().join("stats.json");
        let text = std::fs::read_to_string(&path).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let e = &v["stats"][name][level.to_string()];
        let f = |k: &str| e[k].as_f64();
        Some([
            f("mean")?,
            f("std")?,
            f("seed_std_of_mean")?,
            f("seed_std_of_std")?,
            e["seeds"].as_f64()?,
        ])
    }

    /// Pools `out - in` (levels) over `seeds` seeds of `c` at `s` and asserts its mean and
    /// std are within 5 % of the reference std of the reference's; where the
    /// reference's own seed-to-seed spread makes its pooled figures less certain than
    /// that (motion blur's random angle), within 3 standard errors of the difference.
    pub fn assert_stats(c: &dyn Corruption, s: Severity, seeds: u64) {
        let Some(input) = input() else { return };
        let Some([rm, rs, sm, ss, rn]) = reference_stats(c.name(), s.level()) else {
            eprintln!(
                "skipping stats parity: no reference stats for {} s{s}",
                c.name()
            );
            return;
        };
        let im = Image::from_rgb8(&input);
        let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0.0f64);
        for seed in 0..seeds {
            let out = corrupt(&im, c, s, seed).to_rgb8();
            for (o, i) in out.as_raw().iter().zip(input.as_raw()) {
                let d = f64::from(*o) - f64::from(*i);
                sum += d;
                sq += d * d;
                n += 1.0;
            }
        }
        let mean = sum / n;
        let std = (sq / n - mean * mean).sqrt();
        let se = (1.0 / rn + 1.0 / seeds as f64).sqrt();
        let (tol_mean, tol_std) = (
            (0.05 * rs).max(3.0 * sm * se),
            (0.05 * rs).max(3.0 * ss * se),
        );
        eprintln!(
            "stats {} s{s}: mean {mean:.3} (ref {rm:.3}, off {:+.2}% of std), std {std:.3} (ref {rs:.3}, off {:+.2}%), allowed {:.1}% / {:.1}%",
            c.name(),
            100.0 * (mean - rm) / rs,
            100.0 * (std - rs) / rs,
            100.0 * tol_mean / rs,
            100.0 * tol_std / rs
        );
        assert!(
            (mean - rm).abs() <= tol_mean,
            "{} s{s}: mean {mean} vs {rm}",
            c.name()
        );
        assert!(
            (std - rs).abs() <= tol_std,
            "{} s{s}: std {std} vs {rs}",
            c.name()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corrupt::corrupt;

    fn test_image(w: usize, h: usize) -> Image {
        let mut im = Image::new(w, h);
        for c in 0..3 {
            for (i, v) in im.plane_mut(c).iter_mut().enumerate() {
                *v = ((i * 37 + c * 71) % 256) as f32 / 255.0;
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
                    let out = corrupt(&im, *c, s, 5);
                    assert_eq!((out.width(), out.height()), (w, h));
                    assert!(out.data().iter().all(|v| (0.0..=1.0).contains(v)));
                }
            }
        }
    }

    #[test]
    fn strength_grows_with_severity() {
        let im = test_image(48, 32);
        for c in ALL {
            let mut last = 0.0;
            for s in Severity::ALL {
                let d = mad(&im, &corrupt(&im, *c, s, 9));
                assert!(d > last, "{} s{s}: {d} <= {last}", c.name());
                last = d;
            }
        }
    }

    #[test]
    fn poisson_moments_match() {
        let mut rng = Rng::new(1, "poisson");
        let mut p = Poisson::new();
        for lam in [0.3f64, 2.5, 9.9, 10.0, 27.0, 60.0, 5000.0] {
            let n = 40_000;
            let draws: Vec<f64> = (0..n)
                .map(|_| p.sample(lam as f32, 1.0, &mut rng) as f64)
                .collect();
            let lam = f64::from(lam as f32);
            let m = draws.iter().sum::<f64>() / n as f64;
            let v = draws.iter().map(|d| (d - m) * (d - m)).sum::<f64>() / n as f64;
            let se = (lam / n as f64).sqrt();
            assert!((m - lam).abs() < 5.0 * se, "lambda {lam}: mean {m}");
            assert!((v / lam - 1.0).abs() < 0.05, "lambda {lam}: var {v}");
            if lam < 20.0 {
                // P(0) = e^-lambda.
                let p0 = draws.iter().filter(|&&d| d == 0.0).count() as f64 / n as f64;
                let want = detmath::exp(-lam);
                assert!(
                    (p0 - want).abs() < 5.0 * (want / n as f64).sqrt() + 1e-4,
                    "lambda {lam}: P0 {p0}"
                );
            }
        }
        assert!((ln_factorial(300) - ln_factorial(299) - detmath::ln(300.0)).abs() < 1e-9);
        assert!((ln_factorial(255) - ln_factorial(254) - detmath::ln(255.0)).abs() < 1e-9);
    }

    #[test]
    fn alias_tables_reproduce_the_pmf() {
        for s in [Severity::new(1).unwrap(), Severity::new(5).unwrap()] {
            let c = s.pick(&SHOT);
            let t = shot_tables(s);
            let mut pmf = Vec::new();
            for k in [0usize, 1, 77, 128, 255] {
                poisson_pmf(f64::from(k as f32 / 255.0) * c, &mut pmf);
                let (first, n) = t.spans[k];
                assert_eq!(n as usize, pmf.len());
                let mut got = vec![0.0f64; pmf.len()];
                let index = |v: f32| (f64::from(v) * c).round() as usize;
                for slot in &t.slots[first as usize..(first + n) as usize] {
                    let keep = slot.thr as f64 / ALIAS_ONE as f64;
                    got[index(slot.keep)] += keep / f64::from(n);
                    got[index(slot.alt)] += (1.0 - keep) / f64::from(n);
                }
                for (j, (g, p)) in got.iter().zip(&pmf).enumerate() {
                    assert!((g - p).abs() < 1e-13, "s{s} k {k} j {j}: {g} vs {p}");
                }
                // The truncated tail is negligible and the mean is k / 255 c.
                let mean: f64 = pmf.iter().enumerate().map(|(j, p)| j as f64 * p).sum();
                let lam = f64::from(k as f32 / 255.0) * c;
                assert!((mean - lam).abs() < 1e-9 * (1.0 + lam), "{mean} vs {lam}");
            }
        }
    }

    #[test]
    fn off_grid_values_use_the_exact_sampler() {
        // Mixed on- and off-grid inputs: both paths unbiased.
        let mut im = Image::new(64, 64);
        for (i, v) in im.data_mut().iter_mut().enumerate() {
            *v = if i % 2 == 0 { 0.401 } else { 102.0 / 255.0 };
        }
        let out = ShotNoise.apply(&im, Severity::new(2).unwrap(), &mut Rng::new(4, "t"));
        for parity in 0..2 {
            let vals: Vec<f64> = out
                .data()
                .iter()
                .skip(parity)
                .step_by(2)
                .map(|&v| f64::from(v))
                .collect();
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            assert!((m - 0.4).abs() < 0.01, "{parity}: {m}");
        }
    }

    #[test]
    fn impulse_rate_and_values() {
        let im = Image::filled(100, 100, 0.5);
        let out = corrupt(&im, &ImpulseNoise, Severity::new(5).unwrap(), 2);
        let flipped =
            out.data().iter().filter(|&&v| v != 0.5).count() as f64 / out.data().len() as f64;
        assert!((flipped - 0.27).abs() < 0.01, "{flipped}");
        assert!(out.data().iter().all(|&v| v == 0.0 || v == 0.5 || v == 1.0));
        // Channels flip independently: some pixels are coloured.
        let (r, g, _) = out.planes();
        assert!(r.iter().zip(g).any(|(a, b)| a != b));
    }

    #[test]
    fn salt_pepper_hits_whole_pixels() {
        let im = Image::filled(100, 100, 0.5);
        let out = corrupt(&im, &SaltPepper, Severity::new(5).unwrap(), 2);
        let (r, g, b) = out.planes();
        assert!((0..r.len()).all(|i| r[i] == g[i] && g[i] == b[i]));
        let hit = r.iter().filter(|&&v| v != 0.5).count() as f64 / r.len() as f64;
        assert!((hit - 0.12).abs() < 0.01, "{hit}");
        let salt = r.iter().filter(|&&v| v == 1.0).count() as f64 / r.len() as f64;
        assert!((salt - 0.06).abs() < 0.008, "{salt}");
    }

    #[test]
    fn shot_noise_is_unbiased_and_scales() {
        let im = Image::filled(64, 64, 0.4);
        for s in Severity::ALL {
            let c = s.pick(&SHOT);
            let out = ShotNoise.apply(&im, s, &mut Rng::new(3, "t"));
            let n = out.data().len() as f64;
            let m = out.data().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let v = out
                .data()
                .iter()
                .map(|&x| (f64::from(x) - m).powi(2))
                .sum::<f64>()
                / n;
            // Poisson(0.4 c) / c: mean 0.4, variance 0.4 / c.
            assert!((m - 0.4).abs() < 0.01, "s{s}: {m}");
            assert!((v * c / 0.4 - 1.0).abs() < 0.05, "s{s}: {v}");
        }
    }

    #[test]
    fn matches_reference_statistics() {
        for c in [
            &GaussianNoise as &dyn Corruption,
            &ShotNoise,
            &ImpulseNoise,
            &SpeckleNoise,
        ] {
            for s in Severity::ALL {
                parity::assert_stats(c, s, 20);
            }
        }
    }
}

//! Lighting: cast shadows, sun flare, low light with sensor noise, uneven lighting, specular highlights, vignetting.
//!
//! All six work on the [0, 1] display values as if they were proportional to scene
//! radiance (a shadow or a vignette scales the light reaching the sensor; glare and
//! glints add light). Per-pixel gain fields that are sums of a row term and a column term
//! (vignetting, uneven lighting, the flare's glow) are built from per-row and per-column
//! tables so the inner loops are plain arithmetic on contiguous rows, which the compiler
//! vectorises without fused multiply-adds (the same bits on every ISA).

use super::filters::gaussian_blur_plane;
use super::kernels::{self, Border};
use super::{detmath, Corruption, Family, Image, Param, Rng, Severity};

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[
    &Shadow,
    &SunFlare,
    &LowLight,
    &UnevenLighting,
    &SpecularHighlights,
    &Vignetting,
];

const TAU: f64 = std::f64::consts::TAU;

/// `x[i] *= g[i]`.
fn mul_in_place(x: &mut [f32], g: &[f32]) {
    for (v, &k) in x.iter_mut().zip(g) {
        *v *= k;
    }
}

/// Screen blend of a light layer: `x + l * c * (1 - x)` (light adds, never past white).
fn screen_in_place(x: &mut [f32], light: &[f32], c: f32) {
    for (v, &l) in x.iter_mut().zip(light) {
        *v += l * c * (1.0 - *v);
    }
}

/// Sets to 1 the pixels whose centres lie inside `poly` (even-odd rule, scanline fill).
fn fill_polygon(mask: &mut [f32], w: usize, h: usize, poly: &[(f64, f64)]) {
    let mut xs: Vec<f64> = Vec::with_capacity(poly.len());
    for y in 0..h {
        let yc = y as f64 + 0.5;
        xs.clear();
        for i in 0..poly.len() {
            let (x0, y0) = poly[i];
            let (x1, y1) = poly[(i + 1) % poly.len()];
            if (y0 <= yc) != (y1 <= yc) {
                xs.push(x0 + (yc - y0) * (x1 - x0) / (y1 - y0));
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            // Pixel x is inside when its centre x + 0.5 lies in [a, b).
            let a = (pair[0] - 0.5).ceil().clamp(0.0, w as f64) as usize;
            let b = (pair[1] - 0.5).ceil().clamp(0.0, w as f64) as usize;
            if a < b {
                mask[y * w + a..y * w + b].fill(1.0);
            }
        }
    }
}

/// Cast shadows of out-of-frame objects: one to three random polygons in which the light
/// drops to a fraction that falls with severity, with soft (blurred) penumbra edges.
///
/// After DeepBench's `Shadow` and albumentations' `RandomShadow` (random polygons
/// darkened), with two physical touches of our own: the darkening is multiplicative on
/// all channels (less direct sunlight) and the blue channel keeps 10 % more of its light
/// (shadows are lit by blue skylight). Each shadow is a star-shaped polygon with 4 to 7
/// vertices around a uniform centre, radius 20-45 % of the longer side, random
/// elongation; the union mask is blurred with sigma `penumbra * max(w, h)`.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | light left in shadow | 0.75 | 0.65 | 0.55 | 0.45 | 0.35 |
/// | penumbra (fraction of max side) | 0.012 | 0.012 | 0.012 | 0.012 | 0.012 |
/// | shadows | 1..3 | 1..3 | 1..3 | 1..3 | 1..3 |
pub struct Shadow;

const SHADOW_LIGHT: [f32; 5] = [0.75, 0.65, 0.55, 0.45, 0.35];
const SHADOW_PENUMBRA: f64 = 0.012;

impl Corruption for Shadow {
    fn name(&self) -> &'static str {
        "shadow"
    }
    fn family(&self) -> Family {
        Family::Lighting
    }
    fn summary(&self) -> &'static str {
        "soft-edged polygonal cast shadows darkening parts of the scene"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("light_in_shadow", f64::from(s.pick(&SHADOW_LIGHT))),
            Param::float("penumbra", SHADOW_PENUMBRA),
            Param::list("shadows", vec![1.0, 3.0]),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let (wf, hf) = (w as f64, h as f64);
        let longer = wf.max(hf);
        let mut mask = vec![0.0f32; w * h];
        let count = rng.int_in(1, 3);
        let mut poly = Vec::with_capacity(7);
        for _ in 0..count {
            let (cx, cy) = (rng.range(0.0, wf), rng.range(0.0, hf));
            let radius = rng.range(0.2, 0.45) * longer;
            let stretch = rng.range(0.6, 1.6);
            let k = rng.int_in(4, 7);
            let phase = rng.range(0.0, TAU);
            poly.clear();
            for i in 0..k {
                let a = phase + (f64::from(i) + rng.range(-0.3, 0.3)) * TAU / f64::from(k);
                let r = radius * rng.range(0.5, 1.0);
                let (sn, cs) = detmath::sincos(a);
                poly.push((cx + r * cs * stretch, cy + r * sn / stretch));
            }
            fill_polygon(&mut mask, w, h, &poly);
        }
        let sigma = SHADOW_PENUMBRA * longer;
        let mask = gaussian_blur_plane(&mask, w, h, sigma, sigma, 3.0, Border::Nearest);
        let light = s.pick(&SHADOW_LIGHT);
        let mut out = image.clone();
        let mut gain = vec![0.0f32; w * h];
        for c in 0..3 {
            let lit = if c == 2 {
                light + 0.1 * (1.0 - light)
            } else {
                light
            };
            let drop = 1.0 - lit;
            for (g, &m) in gain.iter_mut().zip(&mask) {
                *g = 1.0 - drop * m;
            }
            mul_in_place(out.plane_mut(c), &gain);
        }
        out
    }
}

/// Sun in or near the frame: a bright disc with a radial glow, a row of coloured lens
/// ghosts on the line through the sun and the image centre, and veiling glare that lifts
/// the blacks and lowers contrast.
///
/// After albumentations' `RandomSunFlare` (sun in the upper half, ghost circles on a
/// line), reworked as light transport: everything is added light (screen blend), the
/// glow falls off as `1 / (1 + d^2 / r^2)^2` (a lens's long-tailed point spread), and
/// the ghosts sit at `sun + t (centre - sun)`, t uniform in [0.4, 2.2], as internal
/// reflections do. Ghost radii are 2-9 % of the shorter side, alpha `ghost alpha * U(0.5,
/// 1)`, tints from a five-colour coating palette. Sun disc radius is a fraction of the
/// shorter side; glow radius a fraction of the diagonal.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | sun radius | 0.04 | 0.05 | 0.06 | 0.07 | 0.08 |
/// | glow strength | 0.45 | 0.6 | 0.72 | 0.85 | 0.95 |
/// | glow radius | 0.12 | 0.16 | 0.2 | 0.25 | 0.3 |
/// | ghosts | 3 | 4 | 5 | 6 | 7 |
/// | ghost alpha | 0.12 | 0.16 | 0.2 | 0.25 | 0.3 |
/// | veiling glare | 0.04 | 0.08 | 0.12 | 0.17 | 0.23 |
pub struct SunFlare;

const FLARE_SUN_R: [f64; 5] = [0.04, 0.05, 0.06, 0.07, 0.08];
const FLARE_GLOW: [f32; 5] = [0.45, 0.6, 0.72, 0.85, 0.95];
const FLARE_GLOW_R: [f64; 5] = [0.12, 0.16, 0.2, 0.25, 0.3];
const FLARE_GHOSTS: [i64; 5] = [3, 4, 5, 6, 7];
const FLARE_GHOST_ALPHA: [f64; 5] = [0.12, 0.16, 0.2, 0.25, 0.3];
const FLARE_VEIL: [f32; 5] = [0.04, 0.08, 0.12, 0.17, 0.23];
const SUN_COLOUR: [f32; 3] = [1.0, 0.96, 0.88];
const GHOST_TINTS: [[f32; 3]; 5] = [
    [0.6, 1.0, 0.7],
    [1.0, 0.6, 0.9],
    [0.6, 0.8, 1.0],
    [1.0, 0.85, 0.5],
    [0.8, 0.6, 1.0],
];

impl Corruption for SunFlare {
    fn name(&self) -> &'static str {
        "sun_flare"
    }
    fn family(&self) -> Family {
        Family::Lighting
    }
    fn summary(&self) -> &'static str {
        "sun in frame: bright disc and glow, coloured lens ghosts, veiling glare"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("sun_radius", s.pick(&FLARE_SUN_R)),
            Param::float("glow_strength", f64::from(s.pick(&FLARE_GLOW))),
            Param::float("glow_radius", s.pick(&FLARE_GLOW_R)),
            Param::int("ghosts", s.pick(&FLARE_GHOSTS)),
            Param::float("ghost_alpha", s.pick(&FLARE_GHOST_ALPHA)),
            Param::float("veiling_glare", f64::from(s.pick(&FLARE_VEIL))),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let (wf, hf) = (w as f64, h as f64);
        let short = wf.min(hf);
        let diag = (wf * wf + hf * hf).sqrt();
        let mut out = image.clone();

        // Veiling glare: stray light spread evenly over the sensor.
        let veil = s.pick(&FLARE_VEIL);
        for (c, &sc) in SUN_COLOUR.iter().enumerate() {
            kernels::affine(out.plane_mut(c), 1.0 - veil, veil * sc);
        }

        let sx = rng.range(0.1, 0.9) * wf;
        let sy = rng.range(0.05, 0.45) * hf;
        let (cx, cy) = (wf / 2.0, hf / 2.0);

        // Ghosts, each touching only its bounding box.
        let alpha_max = s.pick(&FLARE_GHOST_ALPHA);
        for _ in 0..s.pick(&FLARE_GHOSTS) {
            let t = rng.range(0.4, 2.2);
            let gx = sx + t * (cx - sx);
            let gy = sy + t * (cy - sy);
            let r = rng.range(0.02, 0.09) * short;
            let alpha = (alpha_max * rng.range(0.5, 1.0)) as f32;
            let tint = GHOST_TINTS[rng.below(GHOST_TINTS.len() as u32) as usize];
            let x0 = (gx - r).floor().max(0.0) as usize;
            let x1 = ((gx + r).ceil().max(0.0) as usize).min(w);
            let y0 = (gy - r).floor().max(0.0) as usize;
            let y1 = ((gy + r).ceil().max(0.0) as usize).min(h);
            let (rf, edge) = (r as f32, (0.3 * r) as f32);
            for y in y0..y1 {
                let dy = (y as f64 + 0.5 - gy) as f32;
                for x in x0..x1 {
                    let dx = (x as f64 + 0.5 - gx) as f32;
                    let d = (dx * dx + dy * dy).sqrt();
                    let a = alpha * ((rf - d) / edge).clamp(0.0, 1.0);
                    if a > 0.0 {
                        let i = y * w + x;
                        for (c, &tc) in tint.iter().enumerate() {
                            let v = &mut out.plane_mut(c)[i];
                            *v += a * tc * (1.0 - *v);
                        }
                    }
                }
            }
        }

        // Sun disc and glow as one light layer; the squared distance is a row term plus
        // a column term.
        let rs = (s.pick(&FLARE_SUN_R) * short) as f32;
        let rg2 = (s.pick(&FLARE_GLOW_R) * diag).powi(2) as f32;
        let glow = s.pick(&FLARE_GLOW);
        let dx2: Vec<f32> = (0..w)
            .map(|x| ((x as f64 + 0.5 - sx) as f32).powi(2))
            .collect();
        let mut light = vec![0.0f32; w * h];
        for y in 0..h {
            let dy2 = ((y as f64 + 0.5 - sy) as f32).powi(2);
            for (l, &ex) in light[y * w..(y + 1) * w].iter_mut().zip(&dx2) {
                let q = ex + dy2;
                let halo = 1.0 / (1.0 + q / rg2);
                let core = ((rs - q.sqrt()) / (0.25 * rs) + 1.0).clamp(0.0, 1.0);
                *l = (glow * halo * halo).max(core);
            }
        }
        for (c, &sc) in SUN_COLOUR.iter().enumerate() {
            screen_in_place(out.plane_mut(c), &light, sc);
        }
        out
    }
}

/// Night or dim-room capture: the scene is underexposed (exposure drop and a steeper
/// tone curve), then the camera pushes gain, so the sensor's noise shows: signal-dependent
/// shot noise, Gaussian read noise, blotchy low-frequency colour noise, black-level
/// clipping and coarse ADC quantisation, all amplified by the digital gain.
///
/// Own design after the standard CMOS noise model (photon shot noise, read noise, ADC).
/// Per pixel and channel: `s = exposure * x^gamma` (via a 1024-segment table built with
/// `detmath::pow`), `e = s + sqrt(s / full_well) n1 + read n2 + colour * blur(n3)`,
/// clipped at the black level 0, quantised to `levels` steps of full scale, times
/// `gain`. Shot noise is Poisson approximated by a Gaussian of variance `s / full_well`
/// (full_well = electrons at full scale); n1, n2 are independent per channel (separate
/// photosites); n3 is a normal field blurred with sigma 1.5 px and scaled by 4 (back to
/// about unit std).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | exposure | 0.55 | 0.4 | 0.28 | 0.18 | 0.12 |
/// | gamma | 1.05 | 1.1 | 1.15 | 1.2 | 1.3 |
/// | full well (e- at full scale) | 1200 | 600 | 320 | 180 | 110 |
/// | read noise | 0.002 | 0.003 | 0.005 | 0.007 | 0.01 |
/// | colour noise | 0.002 | 0.003 | 0.004 | 0.006 | 0.008 |
/// | ADC levels | 1024 | 512 | 256 | 160 | 96 |
/// | digital gain | 1.3 | 1.6 | 1.9 | 2.3 | 2.8 |
pub struct LowLight;

const LL_EXPOSURE: [f32; 5] = [0.55, 0.4, 0.28, 0.18, 0.12];
const LL_GAMMA: [f64; 5] = [1.05, 1.1, 1.15, 1.2, 1.3];
const LL_FULL_WELL: [f32; 5] = [1200.0, 600.0, 320.0, 180.0, 110.0];
const LL_READ: [f32; 5] = [0.002, 0.003, 0.005, 0.007, 0.01];
const LL_COLOUR: [f32; 5] = [0.002, 0.003, 0.004, 0.006, 0.008];
const LL_LEVELS: [f32; 5] = [1024.0, 512.0, 256.0, 160.0, 96.0];
const LL_GAIN: [f32; 5] = [1.3, 1.6, 1.9, 2.3, 2.8];
const LL_TABLE: usize = 1024;

impl Corruption for LowLight {
    fn name(&self) -> &'static str {
        "low_light"
    }
    fn family(&self) -> Family {
        Family::Lighting
    }
    fn summary(&self) -> &'static str {
        "underexposed night capture with high-gain sensor noise and quantisation"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("exposure", f64::from(s.pick(&LL_EXPOSURE))),
            Param::float("gamma", s.pick(&LL_GAMMA)),
            Param::float("full_well", f64::from(s.pick(&LL_FULL_WELL))),
            Param::float("read_noise", f64::from(s.pick(&LL_READ))),
            Param::float("colour_noise", f64::from(s.pick(&LL_COLOUR))),
            Param::float("adc_levels", f64::from(s.pick(&LL_LEVELS))),
            Param::float("digital_gain", f64::from(s.pick(&LL_GAIN))),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let n = w * h;
        let exposure = s.pick(&LL_EXPOSURE);
        let gamma = s.pick(&LL_GAMMA);
        // x^gamma on a table with linear interpolation: one pow per entry, not per pixel.
        let table: Vec<f32> = (0..=LL_TABLE)
            .map(|i| (detmath::pow(i as f64 / LL_TABLE as f64, gamma) * f64::from(exposure)) as f32)
            .collect();
        let inv_well = 1.0 / s.pick(&LL_FULL_WELL);
        let read = s.pick(&LL_READ);
        let colour = s.pick(&LL_COLOUR);
        let levels = s.pick(&LL_LEVELS);
        let gain = s.pick(&LL_GAIN) / levels;

        let mut shot = vec![0.0f32; 3 * n];
        let mut readn = vec![0.0f32; 3 * n];
        let mut blotch = vec![0.0f32; 3 * n];
        rng.fork("shot").fill_normal(&mut shot);
        rng.fork("read").fill_normal(&mut readn);
        rng.fork("colour").fill_normal(&mut blotch);
        let mut out = image.clone();
        for c in 0..3 {
            let range = c * n..(c + 1) * n;
            let chroma =
                gaussian_blur_plane(&blotch[range.clone()], w, h, 1.5, 1.5, 3.0, Border::Reflect);
            // Blurring with sigma 1.5 leaves a unit normal about 0.19 std; x4 restores it.
            let plane = out.plane_mut(c);
            for (((v, &n1), &n2), &n3) in plane
                .iter_mut()
                .zip(&shot[range.clone()])
                .zip(&readn[range])
                .zip(&chroma)
            {
                let t = v.clamp(0.0, 1.0) * LL_TABLE as f32;
                let i = (t as usize).min(LL_TABLE - 1);
                let f = t - i as f32;
                let sig = table[i] + f * (table[i + 1] - table[i]);
                let e = sig + (sig * inv_well).sqrt() * n1 + read * n2 + colour * 4.0 * n3;
                let q = (e * levels).round().clamp(0.0, levels);
                *v = q * gain;
            }
        }
        out
    }
}

/// Uneven illumination on an inspection line: a smooth multiplicative gain field, either
/// a linear ramp in a random direction or a radial spot around a random centre, varying
/// between `1 - strength` and `1 + strength`.
///
/// Own design. Linear mode: `gain = 1 + strength (X cos a + Y sin a) / (|cos a| + |sin
/// a|)` with X, Y in [-1, 1]; radial mode: `gain = 1 + strength (1 - 2 r^2 / r_max^2)`,
/// centre uniform in the middle 60 %, r_max the distance to the farthest corner. Mode is
/// drawn 50/50.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | strength | 0.15 | 0.25 | 0.35 | 0.45 | 0.55 |
pub struct UnevenLighting;

const UNEVEN_STRENGTH: [f32; 5] = [0.15, 0.25, 0.35, 0.45, 0.55];

impl Corruption for UnevenLighting {
    fn name(&self) -> &'static str {
        "uneven_lighting"
    }
    fn family(&self) -> Family {
        Family::Lighting
    }
    fn summary(&self) -> &'static str {
        "smooth linear or radial illumination gradient across the scene"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float(
            "strength",
            f64::from(s.pick(&UNEVEN_STRENGTH)),
        )]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let (wf, hf) = (w as f64, h as f64);
        let a = f64::from(s.pick(&UNEVEN_STRENGTH));
        // gain(x, y) = 1 + col[x] + row[y] in both modes.
        let (col, row): (Vec<f32>, Vec<f32>) = if rng.chance(0.5) {
            let (sn, cs) = detmath::sincos(rng.range(0.0, TAU));
            let k = a / (sn.abs() + cs.abs());
            let col = (0..w)
                .map(|x| (k * cs * ((x as f64 + 0.5) / wf * 2.0 - 1.0)) as f32)
                .collect();
            let row = (0..h)
                .map(|y| (k * sn * ((y as f64 + 0.5) / hf * 2.0 - 1.0)) as f32)
                .collect();
            (col, row)
        } else {
            let cx = rng.range(0.2, 0.8) * wf;
            let cy = rng.range(0.2, 0.8) * hf;
            let rx = cx.max(wf - cx);
            let ry = cy.max(hf - cy);
            let k = 2.0 * a / (rx * rx + ry * ry);
            let col = (0..w)
                .map(|x| (a - k * (x as f64 + 0.5 - cx).powi(2)) as f32)
                .collect();
            let row = (0..h)
                .map(|y| (-k * (y as f64 + 0.5 - cy).powi(2)) as f32)
                .collect();
            (col, row)
        };
        let mut out = image.clone();
        for c in 0..3 {
            let plane = out.plane_mut(c);
            for (y, line) in plane.chunks_exact_mut(w.max(1)).enumerate() {
                let base = 1.0 + row[y];
                for (v, &cx) in line.iter_mut().zip(&col) {
                    *v *= base + cx;
                }
            }
        }
        out
    }
}

/// Specular glints on shiny parts: a few bright elliptical highlights with a saturated
/// core and a soft falloff, added to the image with a screen blend.
///
/// Own design. Each glint: centre uniform, semi-major axis `size * min(w, h) * U(0.7,
/// 1.3)`, aspect U(0.25, 0.7), orientation uniform; profile `peak * min(1, 1.6 (1 -
/// rho / 2.5)^3)` with rho the elliptical radius in semi-axes (support 2.5 semi-axes);
/// glints combine by screening; the light is white (the illuminant's colour).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | glints | 2 | 2 | 3 | 4 | 5 |
/// | size | 0.07 | 0.08 | 0.09 | 0.1 | 0.11 |
/// | peak | 0.6 | 0.7 | 0.8 | 0.9 | 1.0 |
pub struct SpecularHighlights;

const SPEC_COUNT: [i64; 5] = [2, 2, 3, 4, 5];
const SPEC_SIZE: [f64; 5] = [0.07, 0.08, 0.09, 0.1, 0.11];
const SPEC_PEAK: [f32; 5] = [0.6, 0.7, 0.8, 0.9, 1.0];

impl Corruption for SpecularHighlights {
    fn name(&self) -> &'static str {
        "specular_highlights"
    }
    fn family(&self) -> Family {
        Family::Lighting
    }
    fn summary(&self) -> &'static str {
        "bright elliptical glints from shiny surfaces"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::int("glints", s.pick(&SPEC_COUNT)),
            Param::float("size", s.pick(&SPEC_SIZE)),
            Param::float("peak", f64::from(s.pick(&SPEC_PEAK))),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let (wf, hf) = (w as f64, h as f64);
        let peak = s.pick(&SPEC_PEAK);
        let mut light = vec![0.0f32; w * h];
        for _ in 0..s.pick(&SPEC_COUNT) {
            let (gx, gy) = (rng.range(0.0, wf), rng.range(0.0, hf));
            let a = (s.pick(&SPEC_SIZE) * wf.min(hf) * rng.range(0.7, 1.3)).max(0.5);
            let b = a * rng.range(0.25, 0.7);
            let (sn, cs) = detmath::sincos(rng.range(0.0, std::f64::consts::PI));
            let ex = 2.5 * (a * a * cs * cs + b * b * sn * sn).sqrt();
            let ey = 2.5 * (a * a * sn * sn + b * b * cs * cs).sqrt();
            let x0 = (gx - ex).floor().max(0.0) as usize;
            let x1 = ((gx + ex).ceil().max(0.0) as usize).min(w);
            let y0 = (gy - ey).floor().max(0.0) as usize;
            let y1 = ((gy + ey).ceil().max(0.0) as usize).min(h);
            let (ia, ib) = ((1.0 / a) as f32, (1.0 / b) as f32);
            let (sn, cs) = (sn as f32, cs as f32);
            for y in y0..y1 {
                let dy = (y as f64 + 0.5 - gy) as f32;
                for x in x0..x1 {
                    let dx = (x as f64 + 0.5 - gx) as f32;
                    let u = (dx * cs + dy * sn) * ia;
                    let v = (dy * cs - dx * sn) * ib;
                    let t = 1.0 - (u * u + v * v).sqrt() / 2.5;
                    if t > 0.0 {
                        let g = peak * (1.6 * t * t * t).min(1.0);
                        let l = &mut light[y * w + x];
                        *l += g * (1.0 - *l);
                    }
                }
            }
        }
        let mut out = image.clone();
        for c in 0..3 {
            screen_in_place(out.plane_mut(c), &light, 1.0);
        }
        out
    }
}

/// Natural lens vignetting: brightness falls towards the corners as `cos^4` of the field
/// angle, `gain = 1 / (1 + r^2 / f^2)^2` with r the distance from the centre in units of
/// the half-diagonal and f the focal length in the same units, chosen so the corners keep
/// `corner gain` of their light. Deterministic.
///
/// Own design from the cos^4 law of illumination (no mechanical vignetting).
/// `f^2 = 1 / (1 / sqrt(corner gain) - 1)`.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | corner gain | 0.8 | 0.65 | 0.5 | 0.38 | 0.27 |
pub struct Vignetting;

const VIGNETTE_CORNER: [f64; 5] = [0.8, 0.65, 0.5, 0.38, 0.27];

impl Corruption for Vignetting {
    fn name(&self) -> &'static str {
        "vignetting"
    }
    fn family(&self) -> Family {
        Family::Lighting
    }
    fn summary(&self) -> &'static str {
        "cos^4 lens falloff darkening the corners"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        let g = s.pick(&VIGNETTE_CORNER);
        vec![
            Param::float("corner_gain", g),
            Param::float("focal_length", (1.0 / (1.0 / g.sqrt() - 1.0)).sqrt()),
        ]
    }
    fn is_random(&self) -> bool {
        false
    }
    fn apply(&self, image: &Image, s: Severity, _rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let (hw, hh) = (w as f64 / 2.0, h as f64 / 2.0);
        let g = s.pick(&VIGNETTE_CORNER);
        let inv_f2 = 1.0 / g.sqrt() - 1.0;
        // r^2 / f^2 split into a column and a row term.
        let k = inv_f2 / (hw * hw + hh * hh);
        let col: Vec<f32> = (0..w)
            .map(|x| (k * (x as f64 + 0.5 - hw).powi(2)) as f32)
            .collect();
        let row: Vec<f32> = (0..h)
            .map(|y| (k * (y as f64 + 0.5 - hh).powi(2)) as f32)
            .collect();
        let mut gain = vec![0.0f32; w * h];
        for (y, line) in gain.chunks_exact_mut(w.max(1)).enumerate() {
            let ry = 1.0 + row[y];
            for (gv, &cx) in line.iter_mut().zip(&col) {
                let d = ry + cx;
                *gv = 1.0 / (d * d);
            }
        }
        let mut out = image.clone();
        for c in 0..3 {
            mul_in_place(out.plane_mut(c), &gain);
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
        let img = scene(48, 40);
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
            assert_eq!(
                c.params(Severity::new(1).unwrap()).len(),
                c.params(Severity::new(5).unwrap()).len()
            );
        }
    }

    #[test]
    fn shadow_only_darkens() {
        let img = scene(40, 30);
        for seed in 0..5 {
            let out = run(&Shadow, &img, 5, seed);
            assert!(out
                .data()
                .iter()
                .zip(img.data())
                .all(|(o, i)| *o <= *i + 1e-6));
            // Some pixels reach the full darkening (inside a polygon).
            let min_ratio = out
                .plane(0)
                .iter()
                .zip(img.plane(0))
                .map(|(o, i)| o / i)
                .fold(1.0f32, f32::min);
            assert!(min_ratio < 0.45, "{min_ratio}");
        }
    }

    #[test]
    fn sun_flare_brightens_and_lowers_contrast() {
        let img = scene(64, 48);
        let out = run(&SunFlare, &img, 4, 3);
        let mean = |p: &[f32]| p.iter().sum::<f32>() / p.len() as f32;
        assert!(mean(out.plane(0)) > mean(img.plane(0)) + 0.02);
        // Blacks lifted by the veil everywhere.
        let black = Image::new(32, 32);
        let out = run(&SunFlare, &black, 3, 1);
        assert!(out.data().iter().all(|&v| v >= 0.1));
        // The sun is the brightest spot, close to white.
        assert!(out.plane(1).iter().cloned().fold(0.0, f32::max) > 0.95);
    }

    #[test]
    fn low_light_is_dark_noisy_and_quantised() {
        let img = Image::filled(64, 64, 0.5);
        let out = run(&LowLight, &img, 5, 4);
        let p = out.plane(0);
        let mean = p.iter().map(|&v| f64::from(v)).sum::<f64>() / p.len() as f64;
        // exposure * 0.5^1.3 * gain = 0.12 * 0.4061 * 2.8.
        assert!((mean - 0.1365).abs() < 0.006, "{mean}");
        let var = p
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / p.len() as f64;
        // shot sqrt(0.0487 / 110) = 0.021, read 0.01, colour ~0.006, all times gain
        // 2.8, plus the quantisation step: about 0.068.
        let sd = var.sqrt();
        assert!(sd > 0.058 && sd < 0.078, "{sd}");
        // Values sit on the ADC grid times the gain.
        let step = 2.8f32 / 96.0;
        assert!(p
            .iter()
            .all(|v| ((v / step) - (v / step).round()).abs() < 1e-3));
        // Brighter pixels are noisier (shot noise).
        let dark = run(&LowLight, &Image::filled(64, 64, 0.1), 5, 4);
        let sd_dark = {
            let q = dark.plane(0);
            let m = q.iter().sum::<f32>() / q.len() as f32;
            (q.iter().map(|v| (v - m).powi(2)).sum::<f32>() / q.len() as f32).sqrt()
        };
        assert!(sd_dark < 0.8 * sd as f32, "{sd_dark} vs {sd}");
    }

    #[test]
    fn uneven_lighting_is_a_smooth_gain() {
        let img = Image::filled(50, 30, 0.5);
        for seed in 0..6 {
            let out = run(&UnevenLighting, &img, 5, seed);
            let p = out.plane(1);
            let (lo, hi) = p
                .iter()
                .fold((1.0f32, 0.0f32), |(a, b), &v| (a.min(v), b.max(v)));
            assert!(
                hi - lo > 0.2 && lo >= 0.5 * 0.45 - 1e-4 && hi <= 0.5 * 1.55 + 1e-4,
                "{lo} {hi}"
            );
            for y in 0..30 {
                for x in 1..50 {
                    assert!((p[y * 50 + x] - p[y * 50 + x - 1]).abs() < 0.03);
                }
            }
            assert_eq!(out.plane(0), out.plane(2));
        }
    }

    #[test]
    fn specular_highlights_only_brighten() {
        let img = scene(60, 60);
        let out = run(&SpecularHighlights, &img, 5, 2);
        assert!(out
            .data()
            .iter()
            .zip(img.data())
            .all(|(o, i)| *o >= *i - 1e-6));
        assert!(out.data().iter().any(|&v| v > 0.99));
    }

    #[test]
    fn vignetting_darkens_corners_not_centre() {
        let img = Image::filled(41, 31, 0.8);
        let mut last_corner = 1.0;
        for level in 1..=5 {
            let out = run(&Vignetting, &img, level, 0);
            let centre = out.get(0, 20, 15);
            let corner = out.get(0, 0, 0);
            assert!(centre > 0.79, "{centre}");
            assert!(corner < centre && corner < last_corner);
            let want = 0.8 * VIGNETTE_CORNER[level as usize - 1] as f32;
            assert!((corner - want).abs() < 0.05, "{corner} vs {want}");
            last_corner = corner;
        }
    }
}

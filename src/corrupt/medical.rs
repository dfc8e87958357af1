//! Medical imaging artifacts: MRI ghosting, spikes, bias field, patient motion (through the Fourier domain) and Rician noise.
//!
//! The k-space artifacts (ghosting, spike, motion) act on the image's luminance
//! (ITU-R 601 weights): medical images are grey, and one 2-D transform each way instead
//! of three keeps them to a few milliseconds. The change of luminance is then added to
//! all three channels, so a grey image stays grey and comes out exactly as if the
//! artifact had been applied to its single channel.
//!
//! Transforms use rustfft's scalar planner in f64 (the SIMD planners pick their
//! algorithms from the CPU, which would change the last bits between machines): row
//! FFTs, a transpose, then column FFTs. K-space is kept in that transposed layout,
//! `k[kx * h + ky]`, with frequencies in FFT order (0, 1, .., -1).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlannerScalar};

use super::kernels::{self, Border};
use super::{detmath, Corruption, Family, Image, Param, Rng, Severity};

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[&Ghosting, &Spike, &BiasField, &MriMotion, &RicianNoise];

type C64 = Complex<f64>;

/// A 2-D DFT of a `w x h` grid, rows then columns.
struct Fft2 {
    w: usize,
    h: usize,
    row_fwd: Arc<dyn Fft<f64>>,
    row_inv: Arc<dyn Fft<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
    scratch: Vec<C64>,
}

impl Fft2 {
    fn new(w: usize, h: usize) -> Fft2 {
        let mut planner = FftPlannerScalar::<f64>::new();
        let row_fwd = planner.plan_fft_forward(w);
        let row_inv = planner.plan_fft_inverse(w);
        let col_fwd = planner.plan_fft_forward(h);
        let col_inv = planner.plan_fft_inverse(h);
        let scratch_len = [&row_fwd, &row_inv, &col_fwd, &col_inv]
            .iter()
            .map(|f| f.get_inplace_scratch_len())
            .max()
            .unwrap_or(0);
        Fft2 {
            w,
            h,
            row_fwd,
            row_inv,
            col_fwd,
            col_inv,
            scratch: vec![C64::new(0.0, 0.0); scratch_len],
        }
    }

    /// Row-major `h x w` samples to transposed k-space `k[kx * h + ky]`.
    fn forward(&mut self, mut data: Vec<C64>) -> Vec<C64> {
        self.row_fwd
            .process_with_scratch(&mut data, &mut self.scratch);
        let mut k = transpose(&data, self.w, self.h);
        self.col_fwd.process_with_scratch(&mut k, &mut self.scratch);
        k
    }

    /// Transposed k-space back to row-major samples, normalised by `1 / (w h)`.
    fn inverse(&mut self, mut k: Vec<C64>) -> Vec<C64> {
        self.col_inv.process_with_scratch(&mut k, &mut self.scratch);
        let mut data = transpose(&k, self.h, self.w);
        self.row_inv
            .process_with_scratch(&mut data, &mut self.scratch);
        let norm = 1.0 / (self.w * self.h) as f64;
        for v in &mut data {
            *v *= norm;
        }
        data
    }

    /// Spectrum of one real plane.
    fn forward_real(&mut self, plane: &[f32]) -> Vec<C64> {
        self.forward(plane.iter().map(|&v| C64::new(f64::from(v), 0.0)).collect())
    }

    /// Spectra of two real planes from one complex transform of `a + i b`, split by
    /// Hermitian symmetry: `A = (Z + conj Z(-k)) / 2`, `B = (Z - conj Z(-k)) / 2i`.
    fn forward_real_pair(&mut self, a: &[f32], b: &[f32]) -> (Vec<C64>, Vec<C64>) {
        let z = self.forward(
            a.iter()
                .zip(b)
                .map(|(&x, &y)| C64::new(f64::from(x), f64::from(y)))
                .collect(),
        );
        let (w, h) = (self.w, self.h);
        let mut sa = vec![C64::new(0.0, 0.0); w * h];
        let mut sb = vec![C64::new(0.0, 0.0); w * h];
        for kx in 0..w {
            let mx = (w - kx) % w;
            for ky in 0..h {
                let i = kx * h + ky;
                let zm = z[mx * h + (h - ky) % h].conj();
                let (s, d) = (z[i] + zm, z[i] - zm);
                sa[i] = s * 0.5;
                sb[i] = C64::new(0.5 * d.im, -0.5 * d.re);
            }
        }
        (sa, sb)
    }
}

/// `src` has `rows` rows of `cols`; the result has `cols` rows of `rows`.
fn transpose(src: &[C64], cols: usize, rows: usize) -> Vec<C64> {
    let mut out = vec![C64::new(0.0, 0.0); src.len()];
    // Tiles keep both sides in cache.
    const T: usize = 16;
    for r0 in (0..rows).step_by(T) {
        for c0 in (0..cols).step_by(T) {
            for r in r0..(r0 + T).min(rows) {
                for c in c0..(c0 + T).min(cols) {
                    out[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
    out
}

/// The signed frequency of FFT index `k` on a line of `n`.
fn signed_freq(k: usize, n: usize) -> isize {
    if k <= n / 2 {
        k as isize
    } else {
        k as isize - n as isize
    }
}

/// The axis along which k-space lines are acquired one after another (the
/// phase-encoding direction); artifacts spread along it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum PhaseAxis {
    /// Lines of constant ky: ghosts and motion smear run vertically.
    Y,
    /// Lines of constant kx: they run horizontally.
    X,
}

impl PhaseAxis {
    fn draw(rng: &mut Rng) -> PhaseAxis {
        if rng.chance(0.5) {
            PhaseAxis::Y
        } else {
            PhaseAxis::X
        }
    }

    /// Which line (and of how many) the transposed k-space entry `(kx, ky)` lies on.
    fn line(self, kx: usize, ky: usize, w: usize, h: usize) -> (usize, usize) {
        match self {
            PhaseAxis::Y => (ky, h),
            PhaseAxis::X => (kx, w),
        }
    }
}

/// The image with its luminance replaced by `new`: `x_c + (new - old)` per channel.
fn with_luma(image: &Image, old: &[f32], new: impl Iterator<Item = f64>) -> Image {
    let delta: Vec<f32> = new.zip(old).map(|(n, &o)| n as f32 - o).collect();
    let mut out = image.clone();
    for c in 0..3 {
        kernels::axpy(out.plane_mut(c), &delta, 1.0);
    }
    out
}

/// MRI ghosting: k-space lines at every `period`-th phase-encoding frequency (the
/// centre line excepted) are scaled by `1 - intensity`, which superimposes copies of the
/// image shifted by multiples of `1 / period` of the field of view (contrast-inverted
/// after the centre restoration, as in TorchIO).
///
/// After TorchIO's `RandomGhosting` (num_ghosts, axis, intensity, restore centre). Lines
/// are chosen by |signed frequency| so the spectrum stays Hermitian and the result is
/// real; the phase-encoding axis is drawn from the rng. Each ghost has `intensity /
/// period` of the image's contrast, while averaging more shifted copies smooths them,
/// so intensity rises past 1 at high severity (those lines change sign: a phase error of
/// pi). Works on luminance (module docs).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | period (ghosts + 1) | 2 | 2 | 3 | 3 | 4 |
/// | intensity | 0.3 | 0.5 | 1.0 | 1.3 | 1.8 |
pub struct Ghosting;

const GHOST_PERIOD: [i64; 5] = [2, 2, 3, 3, 4];
const GHOST_INTENSITY: [f64; 5] = [0.3, 0.5, 1.0, 1.3, 1.8];

/// Ghosting of one plane without clamping.
fn ghost_plane(
    plane: &[f32],
    w: usize,
    h: usize,
    axis: PhaseAxis,
    period: isize,
    factor: f64,
) -> Vec<f64> {
    let mut fft = Fft2::new(w, h);
    let mut k = fft.forward_real(plane);
    for kx in 0..w {
        for ky in 0..h {
            let (line, n) = axis.line(kx, ky, w, h);
            let f = signed_freq(line, n);
            if f != 0 && f % period == 0 {
                k[kx * h + ky] *= factor;
            }
        }
    }
    fft.inverse(k).into_iter().map(|v| v.re).collect()
}

impl Corruption for Ghosting {
    fn name(&self) -> &'static str {
        "ghosting"
    }
    fn family(&self) -> Family {
        Family::Medical
    }
    fn summary(&self) -> &'static str {
        "MRI ghosts: shifted copies from modulated k-space lines"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::int("period", s.pick(&GHOST_PERIOD)),
            Param::float("intensity", s.pick(&GHOST_INTENSITY)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let axis = PhaseAxis::draw(rng);
        let y = image.gray();
        let g = ghost_plane(
            &y,
            w,
            h,
            axis,
            s.pick(&GHOST_PERIOD) as isize,
            1.0 - s.pick(&GHOST_INTENSITY),
        );
        with_luma(image, &y, g.into_iter())
    }
}

/// MRI spike (herringbone) artifact: one or more isolated high-intensity points in
/// k-space, from a discharge in the scanner, which add sinusoidal stripes across the
/// whole image.
///
/// After TorchIO's `RandomSpike`: each spike adds `intensity * max |k|` with a random
/// phase at a random k-space position (positions within 1/16 of the band around the
/// centre are redrawn, up to 16 times, as they would only shade the image); the real
/// part is kept. A spike's stripes have amplitude `intensity * max |k| / (w h)`, about
/// `intensity` times the mean luminance. Works on luminance (module docs).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | spikes | 1 | 1 | 2 | 2 | 3 |
/// | intensity | 0.1 | 0.18 | 0.22 | 0.3 | 0.35 |
pub struct Spike;

const SPIKE_COUNT: [i64; 5] = [1, 1, 2, 2, 3];
const SPIKE_INTENSITY: [f64; 5] = [0.1, 0.18, 0.22, 0.3, 0.35];

/// A spike's transposed k-space index and complex value, for a spectrum whose largest
/// magnitude is `max_mag`.
fn draw_spike(rng: &mut Rng, w: usize, h: usize, intensity: f64, max_mag: f64) -> (usize, C64) {
    let (min_x, min_y) = ((w / 16) as isize, (h / 16) as isize);
    let (mut kx, mut ky) = (0, 0);
    for _ in 0..16 {
        kx = rng.below(w as u32) as usize;
        ky = rng.below(h as u32) as usize;
        if signed_freq(kx, w).abs() > min_x || signed_freq(ky, h).abs() > min_y {
            break;
        }
    }
    let (sn, cs) = detmath::sincos(rng.range(0.0, std::f64::consts::TAU));
    let a = intensity * max_mag;
    (kx * h + ky, C64::new(a * cs, a * sn))
}

impl Corruption for Spike {
    fn name(&self) -> &'static str {
        "spike"
    }
    fn family(&self) -> Family {
        Family::Medical
    }
    fn summary(&self) -> &'static str {
        "MRI spike: k-space outliers adding herringbone stripes"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::int("spikes", s.pick(&SPIKE_COUNT)),
            Param::float("intensity", s.pick(&SPIKE_INTENSITY)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let y = image.gray();
        let mut fft = Fft2::new(w, h);
        let mut k = fft.forward_real(&y);
        let max_mag = k.iter().map(|v| v.norm_sqr()).fold(0.0, f64::max).sqrt();
        for _ in 0..s.pick(&SPIKE_COUNT) {
            let (i, v) = draw_spike(rng, w, h, s.pick(&SPIKE_INTENSITY), max_mag);
            k[i] += v;
        }
        let out = fft.inverse(k);
        with_luma(image, &y, out.into_iter().map(|v| v.re))
    }
}

/// MRI bias field: a smooth multiplicative intensity inhomogeneity from the receive
/// coils, `exp(P(x, y))` with P a random polynomial of order 3 in coordinates normalised
/// to [-1, 1], coefficients uniform in `[-coefficient, coefficient]`.
///
/// After TorchIO's `RandomBiasField` (order 3, coefficients bounded). Two changes: the
/// constant term is left out and P is shifted to zero mean over the image, so the field
/// redistributes brightness instead of changing the overall gain; and `exp` is a local
/// deterministic range-reduced polynomial (|P| is small). No Fourier transform involved.
/// Applied to all channels alike.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | coefficient bound | 0.1 | 0.18 | 0.26 | 0.35 | 0.45 |
/// | order | 3 | 3 | 3 | 3 | 3 |
pub struct BiasField;

const BIAS_COEF: [f64; 5] = [0.1, 0.18, 0.26, 0.35, 0.45];
const BIAS_ORDER: usize = 3;

/// e^x for |x| <= 20: x = n ln2 + r with |r| <= ln2 / 2, Taylor to r^9 (relative error
/// below 1e-10), scaled by 2^n through the exponent bits.
fn exp_small(x: f64) -> f64 {
    let x = x.clamp(-20.0, 20.0);
    let n = (x * std::f64::consts::LOG2_E).round();
    let r = x - n * std::f64::consts::LN_2;
    let mut p = 1.0 / 362_880.0;
    for d in [40_320.0, 5_040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0] {
        p = p * r + 1.0 / d;
    }
    p * f64::from_bits(((1023 + n as i64) as u64) << 52)
}

/// The bias field for a `w x h` image and coefficients `c[i][j]` of `x^i y^j`.
fn bias_field(w: usize, h: usize, c: &[[f64; BIAS_ORDER + 1]; BIAS_ORDER + 1]) -> Vec<f32> {
    let coord = |i: usize, n: usize| (i as f64 + 0.5) / n as f64 * 2.0 - 1.0;
    let mut p = vec![0.0f64; w * h];
    let xs: Vec<f64> = (0..w).map(|x| coord(x, w)).collect();
    for y in 0..h {
        let yy = coord(y, h);
        // r[i] = sum_j c[i][j] y^j, so P = r0 + x (r1 + x (r2 + x r3)) along the row.
        let mut r = [0.0f64; BIAS_ORDER + 1];
        for (i, ri) in r.iter_mut().enumerate() {
            for j in (0..=BIAS_ORDER - i).rev() {
                *ri = *ri * yy + c[i][j];
            }
        }
        for (v, &x) in p[y * w..(y + 1) * w].iter_mut().zip(&xs) {
            *v = r[0] + x * (r[1] + x * (r[2] + x * r[3]));
        }
    }
    let mean = p.iter().sum::<f64>() / p.len().max(1) as f64;
    p.iter().map(|&v| exp_small(v - mean) as f32).collect()
}

impl Corruption for BiasField {
    fn name(&self) -> &'static str {
        "bias_field"
    }
    fn family(&self) -> Family {
        Family::Medical
    }
    fn summary(&self) -> &'static str {
        "smooth multiplicative intensity inhomogeneity (MRI bias field)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("coefficient_bound", s.pick(&BIAS_COEF)),
            Param::int("order", BIAS_ORDER as i64),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let bound = s.pick(&BIAS_COEF);
        let mut c = [[0.0f64; BIAS_ORDER + 1]; BIAS_ORDER + 1];
        for (i, row) in c.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate().take(BIAS_ORDER + 1 - i) {
                if i + j > 0 {
                    *v = rng.range(-bound, bound);
                }
            }
        }
        let field = bias_field(w, h, &c);
        let mut out = image.clone();
        for ch in 0..3 {
            for (v, &f) in out.plane_mut(ch).iter_mut().zip(&field) {
                *v *= f;
            }
        }
        out
    }
}

/// MRI patient motion: the subject moves (small rotations and translations) during the
/// scan, so successive stretches of phase-encoding lines are acquired from differently
/// posed images; the mixed k-space gives blurring, ghosting and ringing along the
/// phase-encoding axis.
///
/// After TorchIO's `RandomMotion`: the pose changes at `transforms` sorted times drawn
/// uniform in (0.1, 0.9) of the acquisition; before the first, the image is as given;
/// each later pose is a rotation about the centre by `±degrees * U(0.5, 1)` and a shift
/// of `±translation * U(0.5, 1) * min(w, h)` per axis, relative to the first pose. Lines
/// are acquired from the most negative frequency up; the posed images are resampled
/// bilinearly (edges replicated) and transformed two at a time (real pair packing);
/// the magnitude of the mixed spectrum's inverse is the result (MRI magnitude image).
/// Works on luminance (module docs).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | transforms | 1 | 2 | 2 | 3 | 3 |
/// | degrees | 1 | 2 | 3.5 | 5 | 7 |
/// | translation (fraction of min side) | 0.01 | 0.02 | 0.03 | 0.045 | 0.06 |
pub struct MriMotion;

const MOTION_TRANSFORMS: [i64; 5] = [1, 2, 2, 3, 3];
const MOTION_DEGREES: [f64; 5] = [1.0, 2.0, 3.5, 5.0, 7.0];
const MOTION_TRANSLATION: [f64; 5] = [0.01, 0.02, 0.03, 0.045, 0.06];

/// `plane` rotated by `angle` radians about the centre and shifted by (`tx`, `ty`).
fn rigid(plane: &[f32], w: usize, h: usize, angle: f64, tx: f64, ty: f64) -> Vec<f32> {
    let (sn, cs) = detmath::sincos(angle);
    let (sn, cs) = (sn as f32, cs as f32);
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    let (ox, oy) = ((cx + tx) as f32, (cy + ty) as f32);
    let (cx, cy) = (cx as f32, cy as f32);
    let mut map_x = vec![0.0f32; w * h];
    let mut map_y = vec![0.0f32; w * h];
    for y in 0..h {
        let dy = y as f32 - oy;
        for x in 0..w {
            let dx = x as f32 - ox;
            map_x[y * w + x] = cx + cs * dx + sn * dy;
            map_y[y * w + x] = cy - sn * dx + cs * dy;
        }
    }
    let mut out = vec![0.0f32; w * h];
    kernels::remap_bilinear(plane, w, h, &map_x, &map_y, &mut out, Border::Nearest);
    out
}

impl Corruption for MriMotion {
    fn name(&self) -> &'static str {
        "mri_motion"
    }
    fn family(&self) -> Family {
        Family::Medical
    }
    fn summary(&self) -> &'static str {
        "MRI patient motion: k-space mixed from several rigid poses"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::int("transforms", s.pick(&MOTION_TRANSFORMS)),
            Param::float("degrees", s.pick(&MOTION_DEGREES)),
            Param::float("translation", s.pick(&MOTION_TRANSLATION)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let axis = PhaseAxis::draw(rng);
        let count = s.pick(&MOTION_TRANSFORMS) as usize;
        let mut times: Vec<f64> = (0..count).map(|_| rng.range(0.1, 0.9)).collect();
        times.sort_by(f64::total_cmp);
        let deg = s.pick(&MOTION_DEGREES);
        let shift = s.pick(&MOTION_TRANSLATION) * w.min(h) as f64;
        let mut signed = |m: f64| {
            let v = m * rng.range(0.5, 1.0);
            if rng.chance(0.5) {
                -v
            } else {
                v
            }
        };
        let y = image.gray();
        let mut posed = vec![y.clone()];
        for _ in 0..count {
            let angle = signed(deg).to_radians();
            let (tx, ty) = (signed(shift), signed(shift));
            posed.push(rigid(&y, w, h, angle, tx, ty));
        }
        let mut fft = Fft2::new(w, h);
        let mut spectra = Vec::with_capacity(posed.len());
        for pair in posed.chunks(2) {
            if let [a, b] = pair {
                let (sa, sb) = fft.forward_real_pair(a, b);
                spectra.push(sa);
                spectra.push(sb);
            } else {
                spectra.push(fft.forward_real(&pair[0]));
            }
        }
        // Line order in time: from the most negative frequency to the most positive.
        let n_lines = if axis == PhaseAxis::Y { h } else { w };
        let pose_of_line: Vec<usize> = (0..n_lines)
            .map(|line| {
                let order = (line + n_lines / 2) % n_lines;
                let t = (order as f64 + 0.5) / n_lines as f64;
                times.iter().filter(|&&tt| tt <= t).count()
            })
            .collect();
        let mut mixed = vec![C64::new(0.0, 0.0); w * h];
        for kx in 0..w {
            for ky in 0..h {
                let (line, _) = axis.line(kx, ky, w, h);
                let i = kx * h + ky;
                mixed[i] = spectra[pose_of_line[line]][i];
            }
        }
        let out = fft.inverse(mixed);
        with_luma(image, &y, out.into_iter().map(|v| v.norm()))
    }
}

/// Rician noise of magnitude MRI: complex Gaussian noise on the real and imaginary
/// channels before the magnitude is taken, `sqrt((x + sigma n1)^2 + (sigma n2)^2)`; it
/// lifts the dark background to the Rayleigh mean `sigma sqrt(pi / 2)`.
///
/// Own implementation of the standard model (TorchIO has only Gaussian noise). The same
/// noise draw is used for the three channels, as a grey MR image has one channel.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | sigma | 0.02 | 0.04 | 0.06 | 0.09 | 0.12 |
pub struct RicianNoise;

const RICIAN_SIGMA: [f32; 5] = [0.02, 0.04, 0.06, 0.09, 0.12];

impl Corruption for RicianNoise {
    fn name(&self) -> &'static str {
        "rician_noise"
    }
    fn family(&self) -> Family {
        Family::Medical
    }
    fn summary(&self) -> &'static str {
        "Rician noise of magnitude MR images"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("sigma", f64::from(s.pick(&RICIAN_SIGMA)))]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let n = image.len();
        let sigma = s.pick(&RICIAN_SIGMA);
        let mut re = vec![0.0f32; n];
        let mut im = vec![0.0f32; n];
        rng.fill_normal_scaled(&mut re, 0.0, sigma);
        rng.fill_normal_scaled(&mut im, 0.0, sigma);
        let mut out = image.clone();
        for c in 0..3 {
            for ((v, &a), &b) in out.plane_mut(c).iter_mut().zip(&re).zip(&im) {
                let r = *v + a;
                *v = (r * r + b * b).sqrt();
            }
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

    /// A grey phantom: a bright disc and a square on a dark background.
    fn phantom(w: usize, h: usize) -> Image {
        let mut p = vec![0.05f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 - w as f32 * 0.4, y as f32 - h as f32 * 0.5);
                if dx * dx + dy * dy < (w.min(h) as f32 * 0.25).powi(2) {
                    p[y * w + x] = 0.7;
                }
                if x > w * 3 / 4 && x < w * 7 / 8 && y > h / 5 && y < h / 3 {
                    p[y * w + x] = 0.9;
                }
            }
        }
        let mut data = p.clone();
        data.extend_from_slice(&p);
        data.extend_from_slice(&p);
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
        let img = phantom(48, 40);
        for c in ALL {
            let d: Vec<f64> = (1..=5)
                .map(|l| {
                    (0..6)
                        .map(|seed| mad(&img, &run(*c, &img, l, seed)))
                        .sum::<f64>()
                        / 6.0
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
    fn fft_round_trip_and_pair_split() {
        let (w, h) = (12, 7);
        let a: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 11) as f32 / 10.0).collect();
        let b: Vec<f32> = (0..w * h).map(|i| ((i * 13) % 5) as f32 / 4.0).collect();
        let mut fft = Fft2::new(w, h);
        let ka = fft.forward_real(&a);
        // DC is the sum; the layout is transposed.
        let sum: f64 = a.iter().map(|&v| f64::from(v)).sum();
        assert!((ka[0].re - sum).abs() < 1e-9);
        // A direct DFT entry at (kx, ky) = (3, 2).
        let (kx, ky) = (3usize, 2usize);
        let mut d = C64::new(0.0, 0.0);
        for y in 0..h {
            for x in 0..w {
                let ph = -std::f64::consts::TAU
                    * ((kx * x) as f64 / w as f64 + (ky * y) as f64 / h as f64);
                d += C64::new(ph.cos(), ph.sin()) * f64::from(a[y * w + x]);
            }
        }
        assert!((ka[kx * h + ky] - d).norm() < 1e-9);
        let back = fft.inverse(ka.clone());
        assert!(back
            .iter()
            .zip(&a)
            .all(|(v, &x)| (v.re - f64::from(x)).abs() < 1e-12 && v.im.abs() < 1e-12));
        let (pa, pb) = fft.forward_real_pair(&a, &b);
        let kb = fft.forward_real(&b);
        assert!(pa.iter().zip(&ka).all(|(p, q)| (p - q).norm() < 1e-9));
        assert!(pb.iter().zip(&kb).all(|(p, q)| (p - q).norm() < 1e-9));
    }

    #[test]
    fn ghosting_keeps_the_centre_line_and_adds_ghosts_at_the_shift() {
        let (w, h) = (20, 24);
        let mut p = vec![0.0f32; w * h];
        p[5 * w + 7] = 1.0;
        let (period, alpha) = (4isize, 0.8);
        let out = ghost_plane(&p, w, h, PhaseAxis::Y, period, 1.0 - alpha);
        let mut fft = Fft2::new(w, h);
        let k_in = fft.forward_real(&p);
        let k_out = fft.forward_real(&out.iter().map(|&v| v as f32).collect::<Vec<_>>());
        for kx in 0..w {
            for ky in 0..h {
                let i = kx * h + ky;
                let f = signed_freq(ky, h);
                let want = if f != 0 && f % period == 0 {
                    k_in[i] * (1.0 - alpha)
                } else {
                    k_in[i]
                };
                assert!((k_out[i] - want).norm() < 1e-6, "{kx} {ky}");
            }
        }
        // Ghosts at multiples of h / period down the blob's column; nothing elsewhere.
        let col = alpha / h as f64;
        let ghost = -alpha / period as f64 + col;
        for j in 1..4 {
            let y = (5 + j * 6) % h;
            assert!((out[y * w + 7] - ghost).abs() < 1e-6, "{}", out[y * w + 7]);
        }
        assert!((out[9 * w + 7] - col).abs() < 1e-6);
        assert!(out[9 * w + 3].abs() < 1e-9 && out[5 * w + 12].abs() < 1e-9);
    }

    #[test]
    fn spike_adds_a_pure_sinusoid() {
        let img = phantom(32, 24);
        let y = img.gray();
        // Run the corruption's own steps without the final clamp.
        let mut rng = Rng::new(5, "spike");
        let out = Spike.apply(&img, Severity::new(1).unwrap(), &mut rng);
        let diff: Vec<f32> = out
            .plane(0)
            .iter()
            .zip(img.plane(0))
            .map(|(a, b)| a - b)
            .collect();
        let mut fft = Fft2::new(32, 24);
        let k = fft.forward_real(&diff);
        let mut mags: Vec<f64> = k.iter().map(|v| v.norm()).collect();
        mags.sort_by(|a, b| b.total_cmp(a));
        // One spike: its bin and the conjugate bin hold everything.
        assert!(
            mags[0] > 1.0 && mags[2] < 1e-3 * mags[0],
            "{:?}",
            &mags[..4]
        );
        // Amplitude is intensity * max |k| / N, and max |k| is the DC term here.
        let dc: f64 = y.iter().map(|&v| f64::from(v)).sum();
        let amp = diff.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            (f64::from(amp) - 0.1 * dc / (32.0 * 24.0)).abs() < 0.01,
            "{amp}"
        );
    }

    #[test]
    fn bias_field_is_smooth_positive_and_mean_neutral_in_log() {
        let img = Image::filled(40, 30, 0.4);
        for seed in 0..5 {
            let mut rng = Rng::new(seed, "bias_field");
            let out = BiasField.apply(&img, Severity::new(5).unwrap(), &mut rng);
            let ratio: Vec<f64> = out.plane(0).iter().map(|&v| f64::from(v) / 0.4).collect();
            assert!(ratio.iter().all(|&r| r > 0.0 && r < 60.0));
            let mean_log = ratio.iter().map(|r| r.ln()).sum::<f64>() / ratio.len() as f64;
            assert!(mean_log.abs() < 1e-5, "{mean_log}");
            let spread = ratio.iter().cloned().fold(0.0, f64::max)
                / ratio.iter().cloned().fold(f64::MAX, f64::min);
            assert!(spread > 1.2, "{spread}");
            for y in 0..30 {
                for x in 1..40 {
                    assert!((ratio[y * 40 + x] / ratio[y * 40 + x - 1] - 1.0).abs() < 0.15);
                }
            }
        }
        for x in [-3.0, -0.5, 0.0, 0.1, 1.7, 4.2] {
            assert!((exp_small(x) / detmath::exp(x) - 1.0).abs() < 1e-9, "{x}");
        }
    }

    #[test]
    fn motion_of_a_static_pose_is_the_identity_and_moves_edges() {
        let img = phantom(32, 32);
        // A zero rigid transform resamples exactly.
        let y = img.gray();
        assert_eq!(rigid(&y, 32, 32, 0.0, 0.0, 0.0), y);
        // Motion changes mostly the object's edges, not the flat interior.
        let out = run(&MriMotion, &img, 4, 3);
        let d: Vec<f32> = out
            .plane(0)
            .iter()
            .zip(img.plane(0))
            .map(|(a, b)| (a - b).abs())
            .collect();
        assert!(d.iter().cloned().fold(0.0, f32::max) > 0.1);
        assert_eq!(out.plane(0), out.plane(2));
    }

    #[test]
    fn rician_noise_on_black_has_the_rayleigh_mean() {
        let img = Image::new(128, 128);
        for level in [2, 5] {
            let sigma = f64::from(RICIAN_SIGMA[level as usize - 1]);
            let out = run(&RicianNoise, &img, level, 11);
            let p = out.plane(0);
            let mean = p.iter().map(|&v| f64::from(v)).sum::<f64>() / p.len() as f64;
            let want = sigma * (std::f64::consts::PI / 2.0).sqrt();
            assert!((mean - want).abs() < 0.02 * want, "{mean} vs {want}");
            assert!(p.iter().all(|&v| v >= 0.0));
        }
        // On a bright image it is nearly Gaussian with std sigma.
        let img = Image::filled(128, 128, 0.6);
        let out = run(&RicianNoise, &img, 3, 2);
        let p = out.plane(1);
        let m = p.iter().map(|&v| f64::from(v)).sum::<f64>() / p.len() as f64;
        let sd =
            (p.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / p.len() as f64).sqrt();
        assert!((sd - 0.06).abs() < 0.003, "{sd}");
    }
}

//! Noise: Gaussian, shot, impulse and speckle (ImageNet-C), salt and pepper (DeepBench).

use super::{kernels, Corruption, Family, Image, Param, Rng, Severity};

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[&GaussianNoise];

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

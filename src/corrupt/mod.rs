//! The corruption engine: simulates the conditions a deployed camera faces (weather,
//! sensor noise, optics, codecs, medical and satellite artifacts, the ImageNet-C set).
//!
//! An 8-bit image becomes a planar f32 [`Image`]; a [`Corruption`] from the
//! [`registry`] transforms it at a [`Severity`] from 1 to 5 with a seeded [`Rng`]; the
//! same (image, corruption, severity, seed) gives the same bytes on every platform and
//! every SIMD path. [`profile`] groups corruptions per deployment domain. The engine
//! knows nothing of models.

pub mod detmath;
pub mod filters;
pub mod image;
pub mod kernels;
pub mod profile;
pub mod registry;
pub mod rng;
pub mod sheet;
pub mod timing;

pub mod blur;
pub mod codec;
pub mod colour;
pub mod documents;
pub mod geometry;
mod jpeg;
pub mod lighting;
pub mod medical;
pub mod noise;
pub mod satellite;
pub mod weather;

use std::fmt;

use anyhow::{bail, Result};
use serde::Serialize;

pub use image::Image;
pub use profile::Profile;
pub use registry::{all, find};
pub use rng::Rng;

/// How strong a corruption is, 1 (mild) to 5 (severe), as in ImageNet-C.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Severity(u8);

impl Severity {
    /// All five severities, mildest first.
    pub const ALL: [Severity; 5] = [
        Severity(1),
        Severity(2),
        Severity(3),
        Severity(4),
        Severity(5),
    ];

    /// Checks that `level` is 1..=5.
    pub fn new(level: i64) -> Result<Severity> {
        if !(1..=5).contains(&level) {
            bail!("severity must be an integer from 1 to 5, got {level}");
        }
        Ok(Severity(level as u8))
    }

    /// 1..=5.
    pub fn level(self) -> u8 {
        self.0
    }

    /// 0..=4, to index a per-severity parameter table.
    pub fn index(self) -> usize {
        usize::from(self.0 - 1)
    }

    /// The entry of a five-row parameter table for this severity.
    pub fn pick<T: Copy>(self, table: &[T; 5]) -> T {
        table[self.index()]
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which kind of condition a corruption models; groups the `--list` output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Sensor and transmission noise.
    Noise,
    /// Optical and motion blur.
    Blur,
    /// Rain, snow, fog, frost, spatter, droplets.
    Weather,
    /// Brightness, contrast, saturation, colour casts.
    Colour,
    /// Flips, rotations, warps, occlusion.
    Geometry,
    /// Lossy compression and resolution loss.
    Digital,
    /// Illumination: shadows, flare, vignetting, low light.
    Lighting,
    /// MRI and X-ray artifacts.
    Medical,
    /// Remote-sensing artifacts.
    Satellite,
    /// Scanned-document artifacts.
    Documents,
}

/// One typed parameter value of a corruption at one severity, for docs and listings.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A real number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// A named choice (e.g. a mode).
    Text(&'static str),
    /// A list of numbers.
    List(Vec<f64>),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Text(v) => write!(f, "{v}"),
            ParamValue::List(v) => {
                let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// A named parameter and its value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    /// Parameter name as in the docs.
    pub name: &'static str,
    /// Its value at the severity asked for.
    pub value: ParamValue,
}

impl Param {
    /// A real-valued parameter.
    pub fn float(name: &'static str, value: f64) -> Param {
        Param {
            name,
            value: ParamValue::Float(value),
        }
    }

    /// An integer parameter.
    pub fn int(name: &'static str, value: i64) -> Param {
        Param {
            name,
            value: ParamValue::Int(value),
        }
    }

    /// A named choice.
    pub fn text(name: &'static str, value: &'static str) -> Param {
        Param {
            name,
            value: ParamValue::Text(value),
        }
    }

    /// A list of numbers.
    pub fn list(name: &'static str, value: Vec<f64>) -> Param {
        Param {
            name,
            value: ParamValue::List(value),
        }
    }
}

/// One simulated deployment condition.
///
/// Implementations must accept any image of at least 1x1 pixels at every severity
/// without panicking, and must draw all randomness from the given [`Rng`] and compute
/// pixels with IEEE basic operations, [`detmath`] and [`kernels`] only, so that results
/// are reproducible bit for bit across platforms and SIMD paths.
pub trait Corruption: Send + Sync {
    /// Stable snake_case name (the ImageNet-C name where there is one).
    fn name(&self) -> &'static str;
    /// The kind of condition.
    fn family(&self) -> Family;
    /// One line saying what it simulates.
    fn summary(&self) -> &'static str;
    /// Its parameters at `severity`, for `--list --verbose` and the docs.
    fn params(&self, severity: Severity) -> Vec<Param>;
    /// True when the output depends on the seed.
    fn is_random(&self) -> bool {
        true
    }
    /// Applies the corruption and returns the corrupted image (values clamped to [0, 1]).
    fn apply(&self, image: &Image, severity: Severity, rng: &mut Rng) -> Image;
}

/// Corrupts `image` with the named corruption; the seed and the corruption's name key the
/// random stream, so results do not depend on what ran before.
pub fn corrupt(image: &Image, corruption: &dyn Corruption, severity: Severity, seed: u64) -> Image {
    let mut rng = Rng::new(seed, corruption.name());
    let mut out = corruption.apply(image, severity, &mut rng);
    out.clamp01();
    out
}

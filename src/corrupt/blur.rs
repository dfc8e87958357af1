//! Blurs: defocus, glass, motion, zoom and Gaussian (ImageNet-C).

use super::Corruption;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[];

//! Colour: brightness, contrast, saturation (ImageNet-C), global colour shift and white-balance casts.

use super::Corruption;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[];

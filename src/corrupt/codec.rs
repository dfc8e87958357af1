//! Digital losses: JPEG compression and pixelation (ImageNet-C).

use super::Corruption;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[];

//! Weather: snow, frost, fog, spatter (ImageNet-C), rain streaks and lens droplets.

use super::Corruption;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[];

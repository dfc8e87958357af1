//! Geometry: flips, rotation, perspective, elastic and grid deformations, occlusion.

use super::Corruption;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[];

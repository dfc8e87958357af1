//! Remote sensing: clouds with shadows, haze, detector stripe noise, band misregistration.

use super::Corruption;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[];

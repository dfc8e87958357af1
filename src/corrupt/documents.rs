//! Scanned documents: scan lines, ink bleed, skew.

use super::Corruption;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[];

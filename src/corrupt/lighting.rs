//! Lighting: cast shadows, sun flare, low light with sensor noise, uneven lighting, specular highlights, vignetting.

use super::Corruption;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[];

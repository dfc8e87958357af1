//! Medical imaging artifacts: MRI ghosting, spikes, bias field, patient motion (through the Fourier domain) and Rician noise.

use super::Corruption;

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[];

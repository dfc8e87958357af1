//! Quantization of edgeclip encoders (int8 for VNNI / dot-product kernels, f16 for ARMv8.2).
//!
//! This crate is a placeholder in the workspace until the quantization work lands; it
//! intentionally exposes nothing yet.

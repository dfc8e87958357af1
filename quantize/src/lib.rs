//! edgeclip-quantize: turns f32 ONNX encoders into int8 ones that tract runs on its
//! integer kernels, and provides the tract operators those files need at load.
//!
//! - [`kernels`]: the quantization arithmetic (per-column weights, per-row activations,
//!   the f32 epilogue, SQNR).
//! - [`fused`]: the int8 linear layer as one operator on AVX-512 VNNI (quantizer,
//!   product and epilogue in one pass over packed weights).
//! - [`onnx`], [`linear`], [`rewrite`]: reading ONNX files, finding their linear layers
//!   and rewriting the chosen ones into `MatMulQ8` nodes.
//! - [`sensitivity`]: per-layer SQNR on calibration activations, the evidence for which
//!   layers stay in f32.
//! - [`ops`]: the tract operators and the `MatMulQ8` ONNX operator; a runtime loading
//!   quantized files calls [`ops::register`] on its ONNX parser.

pub mod fused;
pub mod kernels;
pub mod linear;
pub mod onnx;
pub mod ops;
pub mod rewrite;
pub mod sensitivity;

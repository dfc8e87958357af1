//! edgeclip: run contrastive vision-language encoders (CLIP, SigLIP, ALIGN) with tract on
//! edge devices, reproducing each family's preprocessing, tokenizer and zero-shot head.
//!
//! Data flows one way: image file → [`imageio`] → [`model::preprocess`] →
//! [`model::ImageEncoder`] → [`zeroshot`] head (class embeddings from a
//! [`zeroshot::cache::PromptCache`]) → probabilities.

pub mod bench;
pub mod corrupt;
pub mod dataset;
pub mod embedding;
pub mod framed;
pub mod fsutil;
pub mod imageio;
pub mod model;
pub mod monitor;
pub mod quantization;
pub mod selfcheck;
pub mod sysmem;
pub mod zeroshot;

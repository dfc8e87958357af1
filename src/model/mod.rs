//! The model layer: the model directory format, tract loading, preprocessing,
//! tokenization, and the image and text encoders built from them.

pub mod graph;
pub mod manifest;
pub mod preprocess;
pub mod resample;
pub mod tokenize;

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use image::RgbImage;
use sha2::{Digest, Sha256};

use crate::embedding::l2_normalize;
use graph::{Feed, Graph, GraphShape, LoadStats};
use manifest::{InputRole, Manifest};
use preprocess::Preprocessor;
use tokenize::{TextTokenizer, Tokens};

/// An opened model directory: its path and parsed manifest. Encoders load on demand,
/// so a device that only classifies from a prompt cache never touches the text tower.
#[derive(Debug, Clone)]
pub struct ModelDir {
    root: PathBuf,
    manifest: Manifest,
}

/// Options for compiling an encoder.
#[derive(Debug, Clone, Copy)]
pub struct EncoderOptions {
    /// Batch size the plan is compiled for (when the graph's batch is dynamic).
    pub batch: usize,
    /// Threads for tract's matrix products; 1 runs on the calling thread. Callers that
    /// already spread images over threads keep this at 1.
    pub threads: usize,
}

/// Most threads an encoder or worker pool accepts: more than 64 per core of any device is a
/// typo, not a setting.
pub const MAX_THREADS: usize = 1024;

/// Checks a `--threads` value against 1..=[`MAX_THREADS`].
pub fn check_threads(threads: usize) -> Result<usize> {
    if threads == 0 || threads > MAX_THREADS {
        bail!("--threads must be between 1 and {MAX_THREADS}, got {threads}");
    }
    Ok(threads)
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            batch: 1,
            threads: 1,
        }
    }
}

impl ModelDir {
    /// Opens a model directory and validates its manifest.
    pub fn open(root: impl AsRef<Path>) -> Result<ModelDir> {
        let root = root.as_ref().to_path_buf();
        let manifest = Manifest::load(&root)?;
        Ok(ModelDir { root, manifest })
    }

    /// A model directory from a manifest held in memory (validated like one read from
    /// disk); relative paths in it resolve against `root`.
    pub fn from_parts(root: PathBuf, manifest: Manifest) -> Result<ModelDir> {
        manifest.validate()?;
        Ok(ModelDir { root, manifest })
    }

    /// Directory path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Loads and optimises the image encoder.
    pub fn image_encoder(&self, opts: EncoderOptions) -> Result<ImageEncoder> {
        ImageEncoder::load(self, opts, &[])
    }

    /// Loads the image encoder so that it also records the ONNX values named `taps` on
    /// every run (see [`ImageEncoder::take_recorded`]); quantization calibrates with it.
    pub fn image_encoder_tapped(
        &self,
        opts: EncoderOptions,
        taps: &[String],
    ) -> Result<ImageEncoder> {
        ImageEncoder::load(self, opts, taps)
    }

    /// Loads the tokenizer and optimises the text encoder.
    pub fn text_encoder(&self, opts: EncoderOptions) -> Result<TextEncoder> {
        TextEncoder::load(self, opts, &[])
    }

    /// The text encoder, recording the ONNX values named `taps` on every run.
    pub fn text_encoder_tapped(
        &self,
        opts: EncoderOptions,
        taps: &[String],
    ) -> Result<TextEncoder> {
        TextEncoder::load(self, opts, taps)
    }

    /// Loads only the tokenizer.
    pub fn tokenizer(&self) -> Result<TextTokenizer> {
        TextTokenizer::load(&self.root, &self.manifest.text)
    }

    /// Identity of the text side (text encoder, its external data, tokenizer, context
    /// length), which is what a prompt cache depends on. Taken from the manifest when it
    /// records one, so devices without the text encoder can still check a cache.
    pub fn fingerprint(&self) -> Result<String> {
        if let Some(fp) = &self.manifest.text.fingerprint {
            return Ok(fp.clone());
        }
        self.compute_fingerprint()
    }

    /// Hashes the text encoder files; errors if they are not present.
    pub fn compute_fingerprint(&self) -> Result<String> {
        let text = &self.manifest.text;
        let mut hasher = Sha256::new();
        hasher.update(b"edgeclip-text-fingerprint-v1\0");
        hasher.update(text.context_length.to_le_bytes());
        hasher.update(text.pad_id.to_le_bytes());
        let onnx = self.root.join(&text.onnx);
        let mut files = vec![self.root.join(&text.tokenizer), onnx.clone()];
        files.extend(external_data_files(&onnx));
        hash_files(&mut hasher, &files).context(
            "record text.fingerprint in the manifest to deploy without the text encoder",
        )?;
        Ok(hex(&hasher.finalize()))
    }

    /// Identity of the image side (image encoder, its external data, preprocessing),
    /// which is what a monitor calibration depends on.
    pub fn image_fingerprint(&self) -> Result<String> {
        let image = &self.manifest.image;
        let mut hasher = Sha256::new();
        hasher.update(b"edgeclip-image-fingerprint-v1\0");
        hasher.update(serde_json::to_vec(&image.preprocess)?);
        let onnx = self.root.join(&image.onnx);
        let mut files = vec![onnx.clone()];
        files.extend(external_data_files(&onnx));
        hash_files(&mut hasher, &files)?;
        Ok(hex(&hasher.finalize()))
    }
}

fn hash_files(hasher: &mut Sha256, files: &[PathBuf]) -> Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    for file in files {
        let mut f = std::fs::File::open(file).with_context(|| {
            format!(
                "cannot fingerprint the model: {} is missing",
                file.display()
            )
        })?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(())
}

/// External weight files written beside an ONNX file (`<name>.data`, `<name>_data`).
fn external_data_files(onnx: &Path) -> Vec<PathBuf> {
    let Some(name) = onnx.file_name().and_then(|n| n.to_str()) else {
        return vec![];
    };
    [format!("{name}.data"), format!("{name}_data")]
        .into_iter()
        .map(|n| onnx.with_file_name(n))
        .filter(|p| p.is_file())
        .collect()
}

/// Lower-case hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_dim(what: &str, got: usize, manifest: &Manifest) -> Result<()> {
    if got != manifest.embed_dim as usize {
        bail!(
            "the {what} encoder outputs {got} values per item but the manifest says embed_dim {}",
            manifest.embed_dim
        );
    }
    Ok(())
}

/// The image tower: preprocessing plus the optimised tract plan.
#[derive(Debug)]
pub struct ImageEncoder {
    graph: Graph,
    pre: Preprocessor,
}

impl ImageEncoder {
    fn load(dir: &ModelDir, opts: EncoderOptions, taps: &[String]) -> Result<ImageEncoder> {
        let m = &dir.manifest;
        let pre = Preprocessor::new(&m.image.preprocess);
        let (h, w) = pre.input_size();
        let graph = Graph::load_tapped(
            &dir.root.join(&m.image.onnx),
            &m.image.inputs,
            m.image.output.as_deref(),
            taps,
            GraphShape {
                batch: opts.batch,
                threads: opts.threads,
                image: Some([3, h, w]),
                seq: Some(m.text.context_length as usize),
                f16: graph::f16_compute(m.precision)?,
            },
        )
        .context("image encoder")?;
        check_dim("image", graph.out_dim(), m)?;
        Ok(ImageEncoder { graph, pre })
    }

    /// The preprocessor this encoder feeds itself with.
    pub fn preprocessor(&self) -> &Preprocessor {
        &self.pre
    }

    /// Loading figures (time, parameters, FLOPs per image).
    pub fn stats(&self) -> &LoadStats {
        self.graph.stats()
    }

    /// Batch size the plan runs at.
    pub fn batch(&self) -> usize {
        self.graph.batch()
    }

    /// Values of the taps recorded since the last call: per run, per tap.
    pub fn take_recorded(&self) -> Vec<Vec<tract_onnx::prelude::Tensor>> {
        self.graph.take_recorded()
    }

    /// L2-normalised embeddings of already preprocessed NCHW tensors, one per image.
    pub fn embed_tensors(&self, pixels: &[f32]) -> Result<Vec<Vec<f32>>> {
        let per = self.pre.image_len();
        if !pixels.len().is_multiple_of(per) {
            bail!(
                "pixel buffer of {} floats is not a whole number of {per}-float images",
                pixels.len()
            );
        }
        let n = pixels.len() / per;
        let b = self.graph.batch();
        let dim = self.graph.out_dim();
        let mut out = Vec::with_capacity(n);
        let mut chunk = vec![0f32; b * per];
        for start in (0..n).step_by(b) {
            let take = (n - start).min(b);
            chunk[..take * per].copy_from_slice(&pixels[start * per..(start + take) * per]);
            chunk[take * per..].fill(0.0);
            let flat = self.graph.run(&|role| match role {
                InputRole::PixelValues => Some(Feed::F32(&chunk)),
                _ => None,
            })?;
            for item in flat.chunks_exact(dim).take(take) {
                let mut e = item.to_vec();
                l2_normalize(&mut e);
                out.push(e);
            }
        }
        Ok(out)
    }

    /// L2-normalised embeddings of decoded images.
    pub fn embed_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        let per = self.pre.image_len();
        let mut pixels = vec![0f32; images.len() * per];
        for (img, out) in images.iter().zip(pixels.chunks_exact_mut(per)) {
            self.pre.tensor_into(img, out)?;
        }
        self.embed_tensors(&pixels)
    }

    /// L2-normalised embedding of one decoded image.
    pub fn embed_image(&self, image: &RgbImage) -> Result<Vec<f32>> {
        Ok(self.embed_images(std::slice::from_ref(image))?.remove(0))
    }
}

/// The text tower: tokenizer plus the optimised tract plan.
#[derive(Debug)]
pub struct TextEncoder {
    graph: Graph,
    tokenizer: TextTokenizer,
}

impl TextEncoder {
    fn load(dir: &ModelDir, opts: EncoderOptions, taps: &[String]) -> Result<TextEncoder> {
        let m = &dir.manifest;
        let tokenizer = TextTokenizer::load(&dir.root, &m.text)?;
        let (h, w) = Preprocessor::new(&m.image.preprocess).input_size();
        let graph = Graph::load_tapped(
            &dir.root.join(&m.text.onnx),
            &m.text.inputs,
            m.text.output.as_deref(),
            taps,
            GraphShape {
                batch: opts.batch,
                threads: opts.threads,
                image: Some([3, h, w]),
                seq: Some(tokenizer.context_length()),
                f16: graph::f16_compute(m.precision)?,
            },
        )
        .context("text encoder")?;
        check_dim("text", graph.out_dim(), m)?;
        Ok(TextEncoder { graph, tokenizer })
    }

    /// The tokenizer this encoder feeds itself with.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Batch size the plan runs at.
    pub fn batch(&self) -> usize {
        self.graph.batch()
    }

    /// Loading figures (time, parameters, FLOPs per text).
    pub fn stats(&self) -> &LoadStats {
        self.graph.stats()
    }

    /// Values of the taps recorded since the last call: per run, per tap.
    pub fn take_recorded(&self) -> Vec<Vec<tract_onnx::prelude::Tensor>> {
        self.graph.take_recorded()
    }

    /// L2-normalised embeddings of tokenized texts.
    pub fn embed_tokens(&self, tokens: &[Tokens]) -> Result<Vec<Vec<f32>>> {
        let b = self.graph.batch();
        let seq = self.tokenizer.context_length();
        let dim = self.graph.out_dim();
        let mut out = Vec::with_capacity(tokens.len());
        let (mut ids, mut mask, mut types) = (
            vec![0i64; b * seq],
            vec![0i64; b * seq],
            vec![0i64; b * seq],
        );
        let positions: Vec<i64> = (0..b).flat_map(|_| 0..seq as i64).collect();
        for chunk in tokens.chunks(b) {
            ids.fill(0);
            mask.fill(0);
            types.fill(0);
            for (i, t) in chunk.iter().enumerate() {
                ids[i * seq..(i + 1) * seq].copy_from_slice(&t.ids);
                mask[i * seq..(i + 1) * seq].copy_from_slice(&t.attention_mask);
                types[i * seq..(i + 1) * seq].copy_from_slice(&t.type_ids);
            }
            let flat = self.graph.run(&|role| match role {
                InputRole::InputIds => Some(Feed::I64(&ids)),
                InputRole::AttentionMask => Some(Feed::I64(&mask)),
                InputRole::TokenTypeIds => Some(Feed::I64(&types)),
                InputRole::PositionIds => Some(Feed::I64(&positions)),
                InputRole::PixelValues => None,
            })?;
            for item in flat.chunks_exact(dim).take(chunk.len()) {
                let mut e = item.to_vec();
                l2_normalize(&mut e);
                out.push(e);
            }
        }
        Ok(out)
    }

    /// L2-normalised embeddings of texts.
    pub fn embed_texts<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let tokens = texts
            .iter()
            .map(|t| self.tokenizer.encode(t.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        self.embed_tokens(&tokens)
    }
}

//! The model directory format: `model.json`, versioned, recording everything the runtime
//! must not guess about a contrastive model (family, preprocessing, tokenizer, head).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// File name of the manifest inside a model directory.
pub const MANIFEST_FILE: &str = "model.json";
/// Value of the `format` field, so a stray JSON file is not mistaken for a manifest.
pub const MANIFEST_FORMAT: &str = "edgeclip-model";
/// The manifest version this build reads and writes.
pub const MANIFEST_VERSION: u32 = 1;

/// Model family; decides the zero-shot head and documents the reference pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// OpenAI CLIP / open_clip: softmax over scaled cosine.
    Clip,
    /// Google SigLIP: independent sigmoids of scaled cosine plus bias.
    Siglip,
    /// Kakao Brain ALIGN: softmax over cosine divided by the temperature.
    Align,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Clip => "clip",
            Family::Siglip => "siglip",
            Family::Align => "align",
        })
    }
}

/// Numeric precision the encoders were written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit float weights and compute.
    F32,
    /// 16-bit float weights and compute (ARMv8.2 devices).
    F16,
    /// 8-bit integer weights with integer matmuls.
    Int8,
}

impl Precision {
    /// The manifest's spelling: `f32`, `f16` or `int8`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an ONNX graph input carries; lets the runtime feed inputs by role, not by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputRole {
    /// Float image tensor `[batch, 3, height, width]`.
    PixelValues,
    /// Token ids `[batch, seq]`.
    InputIds,
    /// 1 for real tokens, 0 for padding.
    AttentionMask,
    /// BERT segment ids (all zero for a single sentence).
    TokenTypeIds,
    /// Positions `0..seq` for exports that take them as input.
    PositionIds,
}

impl fmt::Display for InputRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputRole::PixelValues => "pixel_values",
            InputRole::InputIds => "input_ids",
            InputRole::AttentionMask => "attention_mask",
            InputRole::TokenTypeIds => "token_type_ids",
            InputRole::PositionIds => "position_ids",
        })
    }
}

/// One ONNX graph input, in graph position order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Graph input name; informative, inputs are matched by position.
    #[serde(default)]
    pub name: Option<String>,
    /// What the runtime feeds into this input.
    pub role: InputRole,
}

/// How the image is brought to the network's input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// Resize the shortest side to `shortest_edge` (aspect kept), then centre crop to `size`.
    ShortestEdge,
    /// Squash straight to `size`, ignoring aspect ratio.
    Exact,
    /// Squash to `resize_size`, then centre crop to `size` (ALIGN: 346 then 289).
    ExactCenterCrop,
}

/// Resampling filter, matching PIL's filters of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resample {
    /// Keys cubic (a = -0.5), antialiased when downscaling, as PIL's BICUBIC.
    Bicubic,
    /// Triangle filter, antialiased when downscaling, as PIL's BILINEAR.
    Bilinear,
    /// Nearest neighbour, as PIL's NEAREST.
    Nearest,
}

/// Image preprocessing exactly as the reference image processor does it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    /// Resize rule.
    pub resize: ResizeMode,
    /// Target of the shortest side (only for `shortest_edge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortest_edge: Option<u32>,
    /// Intermediate `[height, width]` (only for `exact_center_crop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_size: Option<[u32; 2]>,
    /// Network input `[height, width]`.
    pub size: [u32; 2],
    /// Resampling filter.
    pub resample: Resample,
    /// Multiplier taking 8-bit values to the model's scale (usually 1/255).
    pub rescale_factor: f64,
    /// Per-channel mean subtracted after rescaling.
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by after the mean.
    pub std: [f32; 3],
}

/// The image encoder's ONNX file and its interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// ONNX file, relative to the model directory.
    pub onnx: PathBuf,
    /// Graph inputs in position order.
    pub inputs: Vec<InputSpec>,
    /// Name of the embedding output; `None` means the first output.
    #[serde(default)]
    pub output: Option<String>,
    /// Preprocessing.
    pub preprocess: Preprocess,
}

/// Tokenizer kind; informative, the tokenizer file itself drives tokenization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenizerKind {
    /// CLIP byte-level BPE.
    ClipBpe,
    /// SentencePiece unigram (SigLIP).
    SentencepieceUnigram,
    /// BERT WordPiece (ALIGN).
    Wordpiece,
}

/// Where the tokenizer's vocabulary came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerOrigin {
    /// Shipped with the pretrained checkpoint.
    Pretrained,
    /// The real CLIP BPE vocabulary as shipped in open_clip.
    OpenClipBpeVocab,
    /// Generated offline for a random-init model (same kind, not the real vocabulary).
    Generated,
}

/// How token sequences are brought to the context length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Pad every sequence with `pad_id` to `context_length`; truncate longer ones.
    MaxLength,
}

/// The text encoder's ONNX file, tokenizer and interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSpec {
    /// ONNX file, relative to the model directory.
    pub onnx: PathBuf,
    /// Graph inputs in position order.
    pub inputs: Vec<InputSpec>,
    /// Name of the embedding output; `None` means the first output.
    #[serde(default)]
    pub output: Option<String>,
    /// `tokenizer.json` (or `tokenizer.json.gz`), relative to the model directory.
    pub tokenizer: PathBuf,
    /// Tokenizer kind.
    pub tokenizer_kind: TokenizerKind,
    /// Where the vocabulary came from.
    pub tokenizer_origin: TokenizerOrigin,
    /// Sequence length the text encoder is run at.
    pub context_length: u32,
    /// Padding rule.
    pub padding: Padding,
    /// Id of the padding token.
    pub pad_id: u32,
    /// How the encoder pools token states; documentation for humans.
    pub pooling: String,
    /// Hex SHA-256 of the text encoder and tokenizer, recorded at export so a device
    /// without the text encoder can still check a prompt cache.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// Where the exported files came from; free-form except for the fields named here.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Source {
    /// Hugging Face checkpoint name or local folder, if any.
    #[serde(default)]
    pub checkpoint: Option<String>,
    /// Architecture preset used with random init, if any.
    #[serde(default)]
    pub arch: Option<String>,
    /// True when the weights are random (no pretrained checkpoint).
    #[serde(default)]
    pub random_init: bool,
    /// Which exporter wrote the ONNX files.
    #[serde(default)]
    pub exporter: Option<String>,
    /// Anything else the exporter recorded.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The parsed `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Always [`MANIFEST_VERSION`] for this build.
    pub version: u32,
    /// Human-readable model name.
    pub name: String,
    /// Model family.
    pub family: Family,
    /// Precision of the encoders.
    pub precision: Precision,
    /// Embedding dimension shared by both towers.
    pub embed_dim: u32,
    /// Multiplier applied to cosine similarity (exp(logit_scale), or 1/temperature).
    pub logit_scale: f32,
    /// Additive logit bias (SigLIP); `null` for the softmax families.
    pub logit_bias: Option<f32>,
    /// Provenance.
    #[serde(default)]
    pub source: Source,
    /// Image tower.
    pub image: ImageSpec,
    /// Text tower.
    pub text: TextSpec,
    /// How a quantized model was made (absent for f32 exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<QuantizationRecord>,
}

/// Provenance of a model written by `edgeclip quantize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantizationRecord {
    /// `int8` or `f16`.
    pub mode: String,
    /// The tool and version that wrote it.
    pub tool: String,
    /// Name of the f32 model it was made from.
    pub source: String,
    /// Images the per-layer decisions were calibrated on.
    pub calibration_images: usize,
    /// Profile whose corruptions augmented the calibration images.
    pub corrupt_profile: Option<String>,
    /// Linear layers in int8, both towers.
    pub int8_layers: usize,
    /// Linear layers kept in f32, both towers.
    pub f32_layers: usize,
}

#[derive(Deserialize)]
struct VersionProbe {
    format: Option<String>,
    version: Option<serde_json::Value>,
}

impl Manifest {
    /// Parses and validates a manifest from JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &Path) -> Result<Manifest> {
        let probe: VersionProbe = serde_json::from_str(text)
            .with_context(|| format!("{} is not valid JSON", origin.display()))?;
        match probe.format.as_deref() {
            Some(MANIFEST_FORMAT) => {}
            Some(other) => bail!(
                "{}: format is {other:?}, expected {MANIFEST_FORMAT:?}",
                origin.display()
            ),
            None => bail!(
                "{}: missing field `format` (expected {MANIFEST_FORMAT:?})",
                origin.display()
            ),
        }
        match probe.version {
            None => bail!("{}: missing field `version`", origin.display()),
            Some(v) if v.as_u64() == Some(MANIFEST_VERSION as u64) => {}
            Some(v) => bail!(
                "{}: unsupported manifest version {v}; this edgeclip reads version {MANIFEST_VERSION}",
                origin.display()
            ),
        }
        let manifest: Manifest = serde_json::from_str(text)
            .with_context(|| format!("{}: invalid manifest", origin.display()))?;
        manifest
            .validate()
            .with_context(|| format!("{}: invalid manifest", origin.display()))?;
        Ok(manifest)
    }

    /// Reads `model.json` from a model directory.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        if !dir.is_dir() {
            bail!("model directory {} does not exist", dir.display());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        Manifest::from_json(&text, &path)
    }

    /// Checks the relations serde cannot express.
    pub fn validate(&self) -> Result<()> {
        let pre = &self.image.preprocess;
        if self.embed_dim == 0 {
            bail!("embed_dim must be positive");
        }
        if !(self.logit_scale.is_finite() && self.logit_scale > 0.0) {
            bail!("logit_scale must be a positive number");
        }
        if self.family == Family::Siglip && self.logit_bias.is_none() {
            bail!("a siglip model needs logit_bias");
        }
        if pre.size[0] == 0 || pre.size[1] == 0 {
            bail!("image.preprocess.size must be positive");
        }
        if pre.resize == ResizeMode::ShortestEdge {
            match pre.shortest_edge {
                Some(0) | None => {
                    bail!("image.preprocess.shortest_edge is required (and positive) for resize \"shortest_edge\"")
                }
                Some(_) => {}
            }
        }
        if pre.resize == ResizeMode::ExactCenterCrop {
            match pre.resize_size {
                Some([h, w]) if h > 0 && w > 0 => {}
                _ => bail!("image.preprocess.resize_size [height, width] is required (and positive) for resize \"exact_center_crop\""),
            }
        }
        if pre.std.iter().any(|s| !(s.is_finite() && *s != 0.0)) {
            bail!("image.preprocess.std must be non-zero");
        }
        if !self
            .image
            .inputs
            .iter()
            .any(|i| i.role == InputRole::PixelValues)
        {
            bail!("image.inputs has no input with role \"pixel_values\"");
        }
        if !self
            .text
            .inputs
            .iter()
            .any(|i| i.role == InputRole::InputIds)
        {
            bail!("text.inputs has no input with role \"input_ids\"");
        }
        if self.text.context_length < 2 {
            bail!("text.context_length must be at least 2");
        }
        Ok(())
    }

    /// Serialises the manifest as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> String {
        r#"{
          "format": "edgeclip-model", "version": 1, "name": "t", "family": "clip",
          "precision": "f32", "embed_dim": 8, "logit_scale": 100.0, "logit_bias": null,
          "source": {"random_init": true, "exporter": "torchscript", "seed": 3},
          "image": {"onnx": "image.onnx", "inputs": [{"name": "pixel_values", "role": "pixel_values"}],
                    "output": "image_embeds",
                    "preprocess": {"resize": "shortest_edge", "shortest_edge": 224, "size": [224, 224],
                                   "resample": "bicubic", "rescale_factor": 0.00392156862745098,
                                   "mean": [0.48145466, 0.4578275, 0.40821073],
                                   "std": [0.26862954, 0.26130258, 0.27577711]}},
          "text": {"onnx": "text.onnx", "inputs": [{"name": "input_ids", "role": "input_ids"},
                                                  {"name": "attention_mask", "role": "attention_mask"}],
                   "output": "text_embeds", "tokenizer": "tokenizer.json", "tokenizer_kind": "clip-bpe",
                   "tokenizer_origin": "open_clip_bpe_vocab", "context_length": 77,
                   "padding": "max_length", "pad_id": 49407, "pooling": "eot"}
        }"#
        .to_string()
    }

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::from_json(text, Path::new("model.json"))
    }

    #[test]
    fn parses_a_complete_manifest() {
        let m = parse(&sample()).unwrap();
        assert_eq!(m.family, Family::Clip);
        assert_eq!(m.text.context_length, 77);
        assert_eq!(m.source.extra.get("seed").unwrap(), 3);
        // round trip
        let again = parse(&m.to_json()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn unknown_version_is_a_clear_error() {
        let text = sample().replace("\"version\": 1", "\"version\": 7");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("unsupported manifest version 7"), "{err}");
    }

    #[test]
    fn missing_field_names_the_field() {
        let text = sample().replace("\"embed_dim\": 8,", "");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("missing field `embed_dim`"), "{err}");
        let text = sample().replace(r#""std": [0.26862954, 0.26130258, 0.27577711]"#, "");
        let text = text.replace(r#"0.40821073],"#, "0.40821073]");
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("missing field `std`"), "{err}");
    }

    #[test]
    fn siglip_needs_a_bias_and_crop_needs_an_edge() {
        let text = sample().replace("\"family\": \"clip\"", "\"family\": \"siglip\"");
        assert!(format!("{:#}", parse(&text).unwrap_err()).contains("logit_bias"));
        let text = sample().replace("\"shortest_edge\": 224,", "");
        assert!(format!("{:#}", parse(&text).unwrap_err()).contains("shortest_edge"));
    }

    #[test]
    fn wrong_format_and_typos_are_rejected() {
        let text = sample().replace("edgeclip-model", "something-else");
        assert!(format!("{:#}", parse(&text).unwrap_err()).contains("format"));
        let text = sample().replace("\"resample\": \"bicubic\"", "\"resample\": \"bicubik\"");
        assert!(format!("{:#}", parse(&text).unwrap_err()).contains("bicubik"));
    }
}

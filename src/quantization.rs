//! `edgeclip quantize`: calibrates a model directory's encoders on images (optionally
//! corrupted by a domain profile), decides per linear layer between int8 and f32 from
//! measured sensitivity, writes a complete int8 model directory, and reports size and
//! accuracy against the f32 model. Its f16 mode stores the weights in half precision
//! for ARMv8.2 devices and reports the same accuracy checks.
//!
//! The graph work (finding layers, SQNR, the `MatMulQ8` rewrite) is `edgeclip-quantize`;
//! this module feeds it real activations through edgeclip's own preprocessing and
//! tokenizer, and checks the result with edgeclip's own encoders and zero-shot head.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context, Result};
use edgeclip_quantize::linear::{find_linears, Linear};
use edgeclip_quantize::onnx::OnnxFile;
use edgeclip_quantize::rewrite;
use edgeclip_quantize::sensitivity::{self, LayerSensitivity};
use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;

use crate::corrupt::{self, Profile};
use crate::dataset::ImageSet;
use crate::embedding::cosine;
use crate::model::manifest::{Manifest, Precision, QuantizationRecord, MANIFEST_FILE};
use crate::model::{EncoderOptions, ModelDir};
use crate::zeroshot::head::Head;
use crate::zeroshot::{ensemble_class_embeddings, templates};

/// The precision `edgeclip quantize` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantMode {
    /// int8 linear layers chosen by calibration (x86 VNNI, ARM SDOT / SMLAL).
    Int8,
    /// Every large weight stored as f16; computed in f16 on CPUs with f16 arithmetic.
    F16,
}

impl QuantMode {
    fn precision(self) -> Precision {
        match self {
            QuantMode::Int8 => Precision::Int8,
            QuantMode::F16 => Precision::F16,
        }
    }
}

/// What to build and how to decide.
#[derive(Clone)]
pub struct QuantizeOptions {
    /// Precision to write.
    pub mode: QuantMode,
    /// Images whose activations set the per-layer decisions (the rest are held out).
    pub calibration_images: usize,
    /// Held-out images the accuracy report uses, at most.
    pub heldout_images: usize,
    /// Also calibrate on every calibration image corrupted by this profile's corruptions.
    pub corrupt: Option<Profile>,
    /// A layer whose int8 output SQNR is below this stays f32.
    pub min_sqnr_db: f64,
    /// Mean held-out embedding cosine to f32 each tower must reach; layers move back to
    /// f32, least robust first, until it does.
    pub target_cosine: f64,
    /// Layers whose name contains one of these stay f32.
    pub keep_f32: Vec<String>,
    /// Threads for the encoders.
    pub threads: usize,
    /// Seed for the calibration split and corruptions.
    pub seed: u64,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            mode: QuantMode::Int8,
            calibration_images: 16,
            heldout_images: 200,
            corrupt: None,
            min_sqnr_db: 20.0,
            target_cosine: 0.99,
            keep_f32: Vec::new(),
            threads: 1,
            seed: 0,
        }
    }
}

/// Why a layer ended where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Quantized: its SQNR passed and the tower met its cosine target.
    Quantized,
    /// Kept f32: SQNR below `--min-sqnr`.
    LowSqnr,
    /// Kept f32: named by `--keep-f32`.
    Requested,
    /// Kept f32: moved back so the tower met its cosine target.
    CosineTarget,
}

/// One linear layer in the report.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// MatMul node name.
    pub name: String,
    /// `[k, n]` of the weight.
    pub shape: [usize; 2],
    /// int8 output SQNR on the calibration activations, dB.
    pub sqnr_db: f64,
    /// Activation max / rms.
    pub outlier_ratio: f64,
    /// `int8` or `f32`.
    pub precision: &'static str,
    /// Why.
    pub reason: Reason,
}

/// One encoder in the report.
#[derive(Debug, Clone, Serialize)]
pub struct TowerReport {
    /// `image` or `text`.
    pub tower: &'static str,
    /// File size before and after, bytes.
    pub bytes_f32: u64,
    /// File size of the written encoder, bytes.
    pub bytes_out: u64,
    /// Layers by decision.
    pub layers: Vec<LayerReport>,
    /// Held-out items compared (images or prompts).
    pub heldout: usize,
    /// Mean and minimum cosine of the written encoder's embeddings to f32's.
    pub cosine_mean: f64,
    /// Worst item's cosine.
    pub cosine_min: f64,
    /// Rounds of moving layers back to f32 for the cosine target.
    pub fallback_rounds: usize,
    /// Why the encoder was carried over unchanged, if it was.
    pub note: Option<String>,
}

/// Zero-shot agreement between the f32 and the quantized model on labelled held-out images.
#[derive(Debug, Clone, Serialize)]
pub struct ZeroShotReport {
    /// Labels (class names) used as prompts.
    pub classes: usize,
    /// Images compared.
    pub images: usize,
    /// Share of images whose top-1 class is the same.
    pub top1_agreement: f64,
    /// Accuracy of the f32 model.
    pub accuracy_f32: f64,
    /// Accuracy of the quantized model.
    pub accuracy_quantized: f64,
}

/// Everything `edgeclip quantize` measured; saved as `quantize-report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct QuantizeReport {
    /// Schema tag.
    pub format: &'static str,
    /// Source and output model names.
    pub source_model: String,
    /// Name of the written model.
    pub model: String,
    /// `int8` or `f16`.
    pub mode: &'static str,
    /// Whether the checks below ran the written model in f16 arithmetic (an f16 model on
    /// a CPU with f16, or `EDGECLIP_F16_COMPUTE=1`) rather than in f32 from f16 weights.
    pub f16_compute: bool,
    /// Calibration images (before augmentation) and corruption profile.
    pub calibration_images: usize,
    /// Profile whose corruptions augmented the calibration, if any.
    pub corrupt_profile: Option<String>,
    /// Thresholds in force.
    pub min_sqnr_db: f64,
    /// Cosine target in force.
    pub target_cosine: f64,
    /// Per encoder.
    pub towers: Vec<TowerReport>,
    /// When the images are labelled.
    pub zero_shot: Option<ZeroShotReport>,
}

/// Report file written next to the quantized model.
pub const REPORT_FILE: &str = "quantize-report.json";
/// Rows kept per tap per calibration item: enough for stable SQNR, bounded memory on
/// long sequences (SigLIP's 196 tokens, 64-token texts).
const ROWS_PER_ITEM: usize = 64;
/// Fallback rounds at most, each moving a tenth of the int8 layers back to f32.
const MAX_FALLBACK_ROUNDS: usize = 6;

/// Generic captions that calibrate the text tower when the images carry no labels.
const GENERIC_PROMPTS: &[&str] = &[
    "a photo of a person walking on the street",
    "a car parked next to a building",
    "a close-up photo of a dog",
    "a road sign on a sunny day",
    "an aerial view of fields and a river",
    "a blurry photo of a bicycle at night",
    "a chest x-ray",
    "a bowl of fruit on a wooden table",
    "a group of people at a train station",
    "a red traffic light in the rain",
    "a cat sleeping on a sofa",
    "a satellite image of a city",
];

/// Quantizes `src` into a new model directory `out` (which must not exist).
pub fn quantize_model(
    src: &ModelDir,
    out: &Path,
    data: &ImageSet,
    opts: &QuantizeOptions,
) -> Result<QuantizeReport> {
    let m = src.manifest();
    if m.precision != Precision::F32 {
        bail!(
            "{} is already quantized (precision {}); quantize its f32 original",
            src.root().display(),
            m.precision
        );
    }
    if out.exists() {
        bail!(
            "{} already exists; choose a new output directory",
            out.display()
        );
    }
    ensure!(
        opts.calibration_images > 0,
        "--calibration-images must be at least 1"
    );
    ensure!(
        opts.mode == QuantMode::Int8 || opts.corrupt.is_none(),
        "--corrupt augments int8 calibration; f16 mode has no calibration"
    );
    ensure!(
        (0.0..=1.0).contains(&opts.target_cosine),
        "--target-cosine must be between 0 and 1"
    );
    // Both graphs are read and checked before any image is decoded or encoder run.
    let image_graph = read_graph(src, &m.image.onnx, "image")?;
    let text_graph = read_graph(src, &m.text.onnx, "text")?;
    if opts.mode == QuantMode::Int8 && image_graph.1.is_empty() && text_graph.1.is_empty() {
        bail!(
            "neither encoder of {} has a linear layer (MatMul with a constant 2-D weight), the only operator int8 mode rewrites",
            src.root().display()
        );
    }
    let (calib, heldout) = split(
        data,
        opts.calibration_images,
        opts.heldout_images,
        opts.seed,
    )?;
    let calib = match opts.mode {
        QuantMode::Int8 => calib,
        // f16 has nothing to calibrate; the split still keeps the held-out set the same.
        QuantMode::F16 => Vec::new(),
    };
    let calib_images = load_images(&calib.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>())?;
    let heldout_images = load_images(&heldout.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>())?;
    let calib_images = augment(calib_images, opts.corrupt.as_ref(), opts.seed);

    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a directory name", out.display()))?;
    let staging = tempfile_dir(parent, name)?;
    let result: Result<QuantizeReport> = (|| {
        copy_side_files(src, staging.path())?;
        let eopts = EncoderOptions {
            batch: 1,
            threads: opts.threads,
        };
        let image = quantize_image_tower(
            src,
            staging.path(),
            image_graph,
            &calib_images,
            &heldout_images,
            opts,
            eopts,
        )?;
        let prompts = text_prompts(data);
        let (calib_prompts, heldout_prompts) = split_prompts(&prompts);
        let text = quantize_text_tower(
            src,
            staging.path(),
            text_graph,
            &calib_prompts,
            &heldout_prompts,
            opts,
            eopts,
        )?;

        let mut manifest = m.clone();
        manifest.name = format!("{}-{}", m.name, opts.mode.precision().as_str());
        manifest.precision = opts.mode.precision();
        // The text encoder changed, so a recorded fingerprint would be wrong.
        manifest.text.fingerprint = None;
        manifest.quantization = Some(QuantizationRecord {
            mode: opts.mode.precision().as_str().into(),
            tool: format!("edgeclip quantize {}", env!("CARGO_PKG_VERSION")),
            source: m.name.clone(),
            calibration_images: calib.len(),
            corrupt_profile: opts.corrupt.as_ref().map(|p| p.name.clone()),
            int8_layers: [&image, &text].iter().map(|t| count(t, "int8")).sum(),
            f32_layers: [&image, &text].iter().map(|t| count(t, "f32")).sum(),
        });
        crate::fsutil::write_atomic(
            &staging.path().join(MANIFEST_FILE),
            manifest.to_json().as_bytes(),
        )?;
        let quantized = ModelDir::open(staging.path())?;
        let zero_shot = match &data.labels {
            Some(labels) => Some(zero_shot(
                src,
                &quantized,
                labels,
                &heldout,
                &heldout_images,
                eopts,
            )?),
            None => None,
        };
        let report = QuantizeReport {
            format: "edgeclip-quantize/1",
            source_model: m.name.clone(),
            model: manifest.name.clone(),
            mode: opts.mode.precision().as_str(),
            f16_compute: crate::model::graph::f16_compute(manifest.precision)?,
            calibration_images: calib.len(),
            corrupt_profile: opts.corrupt.as_ref().map(|p| p.name.clone()),
            min_sqnr_db: opts.min_sqnr_db,
            target_cosine: opts.target_cosine,
            towers: vec![image, text],
            zero_shot,
        };
        crate::fsutil::write_atomic(
            &staging.path().join(REPORT_FILE),
            serde_json::to_string_pretty(&report)?.as_bytes(),
        )?;
        Ok(report)
    })();
    let report = result?;
    let staged = staging.keep();
    std::fs::rename(&staged, out)
        .with_context(|| format!("cannot move {} to {}", staged.display(), out.display()))?;
    Ok(report)
}

/// An encoder's f32 graph and its linear layers; refuses a graph already quantized.
fn read_graph(src: &ModelDir, onnx: &Path, tower: &str) -> Result<(OnnxFile, Vec<Linear>)> {
    let path = src.root().join(onnx);
    let file = OnnxFile::read(&path).with_context(|| format!("{tower} encoder"))?;
    if rewrite::is_quantized(&file) {
        bail!(
            "{} is already quantized; quantize its f32 original",
            path.display()
        );
    }
    let layers = find_linears(&file)?;
    Ok((file, layers))
}

fn count(t: &TowerReport, precision: &str) -> usize {
    t.layers.iter().filter(|l| l.precision == precision).count()
}

/// A staging directory beside the output, removed unless kept.
fn tempfile_dir(parent: &Path, name: &std::ffi::OsStr) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a staging directory in {}", parent.display()))
}

/// An image and its label index, as in [`ImageSet::items`].
type Item = (PathBuf, Option<usize>);

/// Tapped values per run, per tap (see [`crate::model::ImageEncoder::take_recorded`]).
type Recorded = Vec<Vec<tract_onnx::prelude::Tensor>>;

/// Calibration and held-out items: a seeded shuffle, so every class is likely in both.
fn split(
    data: &ImageSet,
    calibration: usize,
    heldout: usize,
    seed: u64,
) -> Result<(Vec<Item>, Vec<Item>)> {
    let mut items = data.items.clone();
    ensure!(
        items.len() >= 2,
        "quantization needs at least 2 images (calibration and held out), found {}",
        items.len()
    );
    let mut rng = crate::corrupt::rng::Rng::new(seed, "quantize-split");
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u32 + 1) as usize;
        items.swap(i, j);
    }
    let n_calib = calibration.min(items.len() - 1);
    let heldout_items: Vec<_> = items[n_calib..]
        .iter()
        .take(heldout.max(1))
        .cloned()
        .collect();
    items.truncate(n_calib);
    Ok((items, heldout_items))
}

fn load_images(paths: &[PathBuf]) -> Result<Vec<RgbImage>> {
    paths
        .par_iter()
        .map(|p| crate::imageio::load_rgb(p))
        .collect()
}

/// Adds, for every image, one version corrupted by each of the profile's corruptions at
/// a severity drawn from its list, so activation statistics cover deployment conditions.
fn augment(images: Vec<RgbImage>, profile: Option<&Profile>, seed: u64) -> Vec<RgbImage> {
    let Some(profile) = profile else {
        return images;
    };
    let extra: Vec<RgbImage> = images
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, img)| {
            let planar = corrupt::Image::from_rgb8(img);
            profile
                .entries
                .iter()
                .enumerate()
                .map(|(e, entry)| {
                    let s = entry.severities[(i + e) % entry.severities.len()];
                    let seed = seed.wrapping_add((i * 1000 + e) as u64);
                    corrupt::corrupt(&planar, entry.corruption, s, seed).to_rgb8()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut all = images;
    all.extend(extra);
    all
}

/// Prompts for the text tower: the labels in the simple templates when the images are
/// labelled, and a generic set of captions either way.
fn text_prompts(data: &ImageSet) -> Vec<String> {
    let mut prompts: Vec<String> = GENERIC_PROMPTS.iter().map(|s| s.to_string()).collect();
    if let Some(labels) = &data.labels {
        let simple = templates::resolve("simple").unwrap_or_default();
        for l in labels {
            for t in simple.iter().take(2) {
                prompts.push(templates::fill(t, l));
            }
        }
    }
    prompts
}

/// Every other prompt calibrates, the rest are held out.
fn split_prompts(prompts: &[String]) -> (Vec<String>, Vec<String>) {
    let (a, b): (Vec<_>, Vec<_>) = prompts.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    (
        a.into_iter().map(|(_, p)| p.clone()).collect(),
        b.into_iter().map(|(_, p)| p.clone()).collect(),
    )
}

/// Copies every top-level file of the source directory except the encoders and the
/// manifest (tokenizer, configs, model card) into the new directory.
fn copy_side_files(src: &ModelDir, dst: &Path) -> Result<()> {
    let m = src.manifest();
    let skip: Vec<PathBuf> = [&m.image.onnx, &m.text.onnx]
        .iter()
        .flat_map(|o| {
            let p = src.root().join(o);
            let name = o
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            [
                p.clone(),
                p.with_file_name(format!("{name}.data")),
                p.with_file_name(format!("{name}_data")),
            ]
        })
        .chain([src.root().join(MANIFEST_FILE), src.root().join(REPORT_FILE)])
        .collect();
    for entry in std::fs::read_dir(src.root())
        .with_context(|| format!("cannot read {}", src.root().display()))?
    {
        let path = entry?.path();
        if !path.is_file() || skip.iter().any(|s| s == &path) {
            continue;
        }
        let name = path.file_name().expect("a file has a name");
        std::fs::copy(&path, dst.join(name))
            .with_context(|| format!("cannot copy {}", path.display()))?;
    }
    Ok(())
}

/// Activations recorded at each layer's input, as rows of that layer's `k`.
fn collect_rows(
    recorded: Vec<Vec<tract_onnx::prelude::Tensor>>,
    taps: &[String],
) -> Result<HashMap<String, Vec<f32>>> {
    let mut rows: HashMap<String, Vec<f32>> =
        taps.iter().map(|t| (t.clone(), Vec::new())).collect();
    for run in recorded {
        for (tap, tensor) in taps.iter().zip(run) {
            let t = tensor.cast_to::<f32>()?;
            let values = t.try_as_plain_ram()?.as_slice::<f32>()?;
            let k = *t
                .shape()
                .last()
                .ok_or_else(|| anyhow!("tap {tap} is a scalar"))?;
            let n_rows = values.len() / k.max(1);
            // Evenly spaced rows, so long sequences are sampled across all positions.
            let step = n_rows.div_ceil(ROWS_PER_ITEM).max(1);
            let dst = rows.get_mut(tap).expect("every tap has an entry");
            for r in (0..n_rows).step_by(step) {
                dst.extend_from_slice(&values[r * k..(r + 1) * k]);
            }
        }
    }
    Ok(rows)
}

/// Per-layer decisions from the measured sensitivities, before the cosine check.
fn initial_choice(
    layers: &[Linear],
    sens: &[LayerSensitivity],
    opts: &QuantizeOptions,
) -> Vec<Reason> {
    layers
        .iter()
        .zip(sens)
        .map(|(l, s)| {
            if opts
                .keep_f32
                .iter()
                .any(|p| !p.is_empty() && l.name.contains(p.as_str()))
            {
                Reason::Requested
            } else if s.sqnr_db < opts.min_sqnr_db {
                Reason::LowSqnr
            } else {
                Reason::Quantized
            }
        })
        .collect()
}

/// Moves the least robust tenth (at least one) of the int8 layers back to f32.
fn fall_back(reasons: &mut [Reason], sens: &[LayerSensitivity]) -> bool {
    let mut int8: Vec<usize> = (0..reasons.len())
        .filter(|&i| reasons[i] == Reason::Quantized)
        .collect();
    if int8.is_empty() {
        return false;
    }
    int8.sort_by(|&a, &b| sens[a].sqnr_db.total_cmp(&sens[b].sqnr_db));
    for &i in int8.iter().take(int8.len().div_ceil(10)) {
        reasons[i] = Reason::CosineTarget;
    }
    true
}

/// One embedding per item.
type Embeddings = Vec<Vec<f32>>;

/// Runs a tower with taps over its calibration items.
type CalibrateFn<'a> = dyn Fn(&[String]) -> Result<Recorded> + 'a;
/// Embeds a tower's held-out items with a model directory's encoder.
type HeldoutFn<'a> = dyn Fn(&ModelDir) -> Result<Embeddings> + 'a;

/// The towers differ only in what they are fed; these closures say how.
struct Tower<'a> {
    name: &'static str,
    onnx: PathBuf,
    /// The f32 graph and its linear layers.
    graph: (OnnxFile, Vec<Linear>),
    /// Embeds the calibration items with an encoder loaded with `taps`, returning what
    /// was recorded.
    calibrate: Box<CalibrateFn<'a>>,
    /// Embeds the held-out items with the encoder of the directory given.
    heldout: Box<HeldoutFn<'a>>,
}

fn quantize_image_tower(
    src: &ModelDir,
    staging: &Path,
    graph: (OnnxFile, Vec<Linear>),
    calib: &[RgbImage],
    heldout: &[RgbImage],
    opts: &QuantizeOptions,
    eopts: EncoderOptions,
) -> Result<TowerReport> {
    let tower = Tower {
        name: "image",
        onnx: src.manifest().image.onnx.clone(),
        graph,
        calibrate: Box::new(|taps| {
            let enc = src.image_encoder_tapped(eopts, taps)?;
            for img in calib {
                enc.embed_image(img)?;
            }
            Ok(enc.take_recorded())
        }),
        heldout: Box::new(|dir| dir.image_encoder(eopts)?.embed_images(heldout)),
    };
    quantize_tower(src, staging, &tower, opts)
}

fn quantize_text_tower(
    src: &ModelDir,
    staging: &Path,
    graph: (OnnxFile, Vec<Linear>),
    calib: &[String],
    heldout: &[String],
    opts: &QuantizeOptions,
    eopts: EncoderOptions,
) -> Result<TowerReport> {
    let tower = Tower {
        name: "text",
        onnx: src.manifest().text.onnx.clone(),
        graph,
        calibrate: Box::new(|taps| {
            let enc = src.text_encoder_tapped(eopts, taps)?;
            enc.embed_texts(calib)?;
            Ok(enc.take_recorded())
        }),
        heldout: Box::new(|dir| dir.text_encoder(eopts)?.embed_texts(heldout)),
    };
    quantize_tower(src, staging, &tower, opts)
}

fn quantize_tower(
    src: &ModelDir,
    staging: &Path,
    tower: &Tower,
    opts: &QuantizeOptions,
) -> Result<TowerReport> {
    let src_path = src.root().join(&tower.onnx);
    let dst_path = staging.join(&tower.onnx);
    let (file, layers) = (&tower.graph.0, &tower.graph.1);
    if opts.mode == QuantMode::F16 {
        let (half, converted) = rewrite::to_f16(file)?;
        crate::fsutil::write_atomic(&dst_path, &half.encode())?;
        let reference = (tower.heldout)(src)?;
        let got = (tower.heldout)(&probe_dir(src, staging, tower.name, Precision::F16)?)?;
        let (cosine_mean, cosine_min) = cosines(&reference, &got);
        return Ok(TowerReport {
            tower: tower.name,
            bytes_f32: file_size(&src_path)?,
            bytes_out: file_size(&dst_path)?,
            layers: Vec::new(),
            heldout: reference.len(),
            cosine_mean,
            cosine_min,
            fallback_rounds: 0,
            note: Some(format!(
                "{converted} weight tensors of at least {} values stored as f16",
                rewrite::F16_MIN_ELEMENTS
            )),
        });
    }
    if layers.is_empty() {
        // Nothing int8 could run (ALIGN's EfficientNet is all convolutions): the encoder
        // is carried over unchanged.
        std::fs::copy(&src_path, &dst_path)
            .with_context(|| format!("cannot copy {}", src_path.display()))?;
        return Ok(TowerReport {
            tower: tower.name,
            bytes_f32: file_size(&src_path)?,
            bytes_out: file_size(&dst_path)?,
            layers: Vec::new(),
            heldout: 0,
            cosine_mean: 1.0,
            cosine_min: 1.0,
            fallback_rounds: 0,
            note: Some("no linear layer (MatMul with a constant 2-D weight): kept f32".into()),
        });
    }
    let mut taps: Vec<String> = layers.iter().map(|l| l.input.clone()).collect();
    taps.sort();
    taps.dedup();
    let rows = collect_rows((tower.calibrate)(&taps)?, &taps)?;
    let sens: Vec<LayerSensitivity> = layers
        .par_iter()
        .map(|l| sensitivity::measure(file, l, &rows[&l.input]))
        .collect::<Result<_>>()
        .with_context(|| format!("measuring the {} encoder's layers", tower.name))?;
    drop(rows);
    let reference = (tower.heldout)(src)?;
    let mut reasons = initial_choice(layers, &sens, opts);
    let mut rounds = 0;
    let (cos_mean, cos_min) = loop {
        let chosen: Vec<&Linear> = layers
            .iter()
            .zip(&reasons)
            .filter(|(_, r)| **r == Reason::Quantized)
            .map(|(l, _)| l)
            .collect();
        let q = rewrite::to_int8(file, &chosen)?;
        crate::fsutil::write_atomic(&dst_path, &q.encode())?;
        let probe = probe_dir(src, staging, tower.name, Precision::Int8)?;
        let got = (tower.heldout)(&probe)?;
        let (mean, min) = cosines(&reference, &got);
        if mean >= opts.target_cosine
            || rounds == MAX_FALLBACK_ROUNDS
            || !fall_back(&mut reasons, &sens)
        {
            break (mean, min);
        }
        rounds += 1;
    };
    let layers = layers
        .iter()
        .zip(&sens)
        .zip(&reasons)
        .map(|((l, s), r)| LayerReport {
            name: l.name.clone(),
            shape: [l.k, l.n],
            sqnr_db: s.sqnr_db,
            outlier_ratio: s.outlier_ratio,
            precision: if *r == Reason::Quantized {
                "int8"
            } else {
                "f32"
            },
            reason: *r,
        })
        .collect();
    Ok(TowerReport {
        tower: tower.name,
        bytes_f32: file_size(&src_path)?,
        bytes_out: file_size(&dst_path)?,
        layers,
        heldout: reference.len(),
        cosine_mean: cos_mean,
        cosine_min: cos_min,
        fallback_rounds: rounds,
        note: None,
    })
}

/// Mean and smallest cosine of paired embeddings.
fn cosines(reference: &[Vec<f32>], got: &[Vec<f32>]) -> (f64, f64) {
    let cos: Vec<f64> = reference
        .iter()
        .zip(got)
        .map(|(a, b)| f64::from(cosine(a, b)))
        .collect();
    let mean = cos.iter().sum::<f64>() / cos.len().max(1) as f64;
    let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
    (mean, min)
}

/// A model directory that reads the tower being quantized from `staging` and the other
/// one from the source, for checking one tower at a time; `precision` is what the
/// staged tower was written in (f16 decides how it computes).
fn probe_dir(
    src: &ModelDir,
    staging: &Path,
    tower: &str,
    precision: Precision,
) -> Result<ModelDir> {
    let mut m: Manifest = src.manifest().clone();
    m.precision = precision;
    let from_src = |p: &Path| -> PathBuf {
        std::path::absolute(src.root().join(p)).unwrap_or_else(|_| src.root().join(p))
    };
    match tower {
        "image" => {
            m.text.onnx = from_src(&m.text.onnx);
            m.image.onnx = std::path::absolute(staging.join(&m.image.onnx))?;
        }
        _ => {
            m.image.onnx = from_src(&m.image.onnx);
            m.text.onnx = std::path::absolute(staging.join(&m.text.onnx))?;
        }
    }
    m.text.tokenizer = from_src(&m.text.tokenizer);
    ModelDir::from_parts(src.root().to_path_buf(), m)
}

fn file_size(p: &Path) -> Result<u64> {
    Ok(std::fs::metadata(p)
        .with_context(|| format!("cannot read {}", p.display()))?
        .len())
}

fn zero_shot(
    f32_dir: &ModelDir,
    q_dir: &ModelDir,
    labels: &[String],
    heldout: &[Item],
    images: &[RgbImage],
    eopts: EncoderOptions,
) -> Result<ZeroShotReport> {
    let templates = templates::resolve("simple")?;
    let mut preds = Vec::new();
    for dir in [f32_dir, q_dir] {
        let text = dir.text_encoder(eopts)?;
        let classes = ensemble_class_embeddings(&text, labels, &templates)?;
        let head = Head::for_manifest(dir.manifest());
        let embs = dir.image_encoder(eopts)?.embed_images(images)?;
        preds.push(
            embs.iter()
                .map(|e| head.score(e, &classes).argmax())
                .collect::<Vec<_>>(),
        );
    }
    let n = images.len().max(1) as f64;
    let agree = preds[0]
        .iter()
        .zip(&preds[1])
        .filter(|(a, b)| a == b)
        .count() as f64
        / n;
    let acc = |p: &[usize]| {
        p.iter()
            .zip(heldout)
            .filter(|(p, (_, l))| Some(**p) == *l)
            .count() as f64
            / n
    };
    Ok(ZeroShotReport {
        classes: labels.len(),
        images: images.len(),
        top1_agreement: agree,
        accuracy_f32: acc(&preds[0]),
        accuracy_quantized: acc(&preds[1]),
    })
}

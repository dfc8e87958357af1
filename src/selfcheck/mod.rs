//! The on-device robustness self-check: clean images and every corruption x severity of
//! a domain profile through the deployed image encoder and prompt cache, scored by
//! label-flip probability (no labels needed) and accuracy (when labels exist).
//!
//! Each image is decoded once and its clean embedding computed once; its corrupted
//! versions follow in the same batch. Images are spread over a thread pool in chunks
//! and summed in folder order, so the report does not depend on the thread count, and
//! a run stopped between chunks reports the images it finished.

pub mod metrics;
pub mod plot;
pub mod report;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use rayon::prelude::*;

use crate::corrupt::{self, Corruption, Profile, Severity};
use crate::dataset::ImageSet;
use crate::embedding::dot;
use crate::imageio::load_rgb;
use crate::model::ImageEncoder;
use crate::zeroshot::cache::PromptCache;
use metrics::{CellStats, Observation, Thresholds};
use report::Report;

/// How a self-check runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base seed: image `i` (in folder order) is corrupted with seed `seed + i`.
    pub seed: u64,
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Pass/fail limits.
    pub thresholds: Thresholds,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            thresholds: Thresholds::default(),
        }
    }
}

/// One (corruption, severity) cell of a profile.
#[derive(Clone, Copy)]
pub struct Cell {
    /// The corruption.
    pub corruption: &'static dyn Corruption,
    /// Its severity.
    pub severity: Severity,
}

/// The cells of a profile, in profile order.
pub fn cells(profile: &Profile) -> Vec<Cell> {
    profile
        .entries
        .iter()
        .flat_map(|e| {
            e.severities.iter().map(|&severity| Cell {
                corruption: e.corruption,
                severity,
            })
        })
        .collect()
}

/// The corruption seed of the image at `index` in folder order.
pub fn image_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_add(index as u64)
}

/// The head's view of one embedding.
pub fn observe(cache: &PromptCache, embedding: &[f32], clean: Option<&[f32]>) -> Observation {
    let scores = cache.head.score(embedding, &cache.embeddings);
    Observation {
        predicted: scores.argmax(),
        confidence: scores.confidence(),
        entropy: scores.entropy(),
        cosine: clean.map_or(1.0, |c| dot(embedding, c)),
    }
}

/// The clean observation and one per cell for one image.
#[derive(Debug, Clone)]
pub struct ImageOutcome {
    /// Clean image.
    pub clean: Observation,
    /// One per cell, in cell order.
    pub cells: Vec<Observation>,
}

/// Embeddings of one decoded image, clean first, then corrupted by each cell in order.
pub fn embed_versions(
    encoder: &ImageEncoder,
    image: &RgbImage,
    cells: &[Cell],
    seed: u64,
) -> Result<Vec<Vec<f32>>> {
    let pre = encoder.preprocessor();
    let per = pre.image_len();
    let mut pixels = vec![0f32; (cells.len() + 1) * per];
    pre.tensor_into(image, &mut pixels[..per])?;
    let planar = corrupt::Image::from_rgb8(image);
    for (cell, out) in cells.iter().zip(pixels[per..].chunks_exact_mut(per)) {
        let corrupted = corrupt::corrupt(&planar, cell.corruption, cell.severity, seed);
        pre.tensor_into(&corrupted.to_rgb8(), out)?;
    }
    encoder.embed_tensors(&pixels)
}

/// Corrupts one decoded image with every cell and scores all versions.
pub fn check_image(
    encoder: &ImageEncoder,
    cache: &PromptCache,
    image: &RgbImage,
    cells: &[Cell],
    seed: u64,
) -> Result<ImageOutcome> {
    let embeddings = embed_versions(encoder, image, cells, seed)?;
    let clean = observe(cache, &embeddings[0], None);
    let cells = embeddings[1..]
        .iter()
        .map(|e| observe(cache, e, Some(&embeddings[0])))
        .collect();
    Ok(ImageOutcome { clean, cells })
}

/// Maps the image set's labels onto prompt indices; errors when a label has no prompt.
pub fn label_map(set: &ImageSet, cache: &PromptCache) -> Result<Vec<usize>> {
    match &set.labels {
        Some(labels) => cache.label_indices(labels),
        None => Ok(Vec::new()),
    }
}

/// Everything a self-check needs besides its options.
pub struct Inputs<'a> {
    /// Model name, for the report.
    pub model: String,
    /// The deployed image encoder.
    pub encoder: &'a ImageEncoder,
    /// The deployed prompt cache.
    pub cache: &'a PromptCache,
    /// Images (labelled or not).
    pub images: &'a ImageSet,
    /// Where the images came from, for the report.
    pub data: PathBuf,
    /// The domain profile.
    pub profile: &'a Profile,
}

/// Runs a self-check. `progress` is told how many encoder passes finished (one per
/// image and cell); setting `stop` ends the run after the current chunk, and the report
/// then covers the images finished so far (`interrupted` is set).
pub fn run(
    inputs: &Inputs,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
    stop: &AtomicBool,
) -> Result<Report> {
    if opts.threads == 0 {
        bail!("--threads must be at least 1");
    }
    let started = Instant::now();
    let cells = cells(inputs.profile);
    if cells.is_empty() {
        bail!("profile {} has no corruptions", inputs.profile.name);
    }
    let to_prompt = label_map(inputs.images, inputs.cache)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .context("cannot start the worker threads")?;
    let mut clean = CellStats::default();
    let mut stats = vec![CellStats::default(); cells.len()];
    let mut skipped = Vec::new();
    let mut interrupted = false;
    let items = &inputs.images.items;
    let chunk = opts.threads * 4;
    for (c, batch) in items.chunks(chunk).enumerate() {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        let outcomes: Vec<Result<ImageOutcome, String>> = pool.install(|| {
            batch
                .par_iter()
                .enumerate()
                .map(|(k, (path, _))| {
                    let seed = image_seed(opts.seed, c * chunk + k);
                    let out = load_rgb(path)
                        .and_then(|image| {
                            check_image(inputs.encoder, inputs.cache, &image, &cells, seed)
                        })
                        .map_err(|e| format!("{e:#}"));
                    progress(cells.len() as u64 + 1);
                    out
                })
                .collect()
        });
        for ((path, label), outcome) in batch.iter().zip(outcomes) {
            let outcome = match outcome {
                Ok(o) => o,
                Err(reason) => {
                    skipped.push((path.clone(), reason));
                    continue;
                }
            };
            let label = label.map(|l| to_prompt[l]);
            clean.add(&outcome.clean, &outcome.clean, label);
            for (s, seen) in stats.iter_mut().zip(&outcome.cells) {
                s.add(&outcome.clean, seen, label);
            }
        }
    }
    if clean.images == 0 {
        if interrupted {
            bail!("interrupted before any image was finished");
        }
        bail!(
            "no readable images in {} ({} skipped; first: {})",
            inputs.data.display(),
            skipped.len(),
            skipped
                .first()
                .map_or(String::new(), |(p, why)| format!("{}: {why}", p.display()))
        );
    }
    Ok(report::build(
        inputs,
        opts,
        &cells,
        &clean,
        &stats,
        skipped,
        interrupted,
        started.elapsed().as_secs_f64(),
    ))
}

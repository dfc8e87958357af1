//! The monitor's evaluation: replayed streams built from pools of scored frames (clean
//! images and each corruption x severity of a profile, from images the calibration never
//! saw). It measures false alarms on clean streams, detection delay and misses after a
//! switch to a corruption that costs real accuracy, and the error of the windowed ATC
//! and DoC accuracy estimates.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Result};
use rayon::prelude::*;
use serde::Serialize;

use super::calibrate::Calibration;
use super::Monitor;
use crate::corrupt::Rng;
use crate::imageio::load_rgb;
use crate::model::ImageEncoder;
use crate::selfcheck::{embed_versions, image_seed, Cell};
use crate::zeroshot::cache::PromptCache;

/// Logits and label (prompt index, when known) of one scored frame.
pub type Scored = (Vec<f32>, Option<usize>);

/// Frames of one corruption x severity.
#[derive(Debug, Clone)]
pub struct CellPool {
    /// Corruption name.
    pub corruption: String,
    /// Severity.
    pub severity: u8,
    /// Scored frames.
    pub frames: Vec<Scored>,
}

/// Clean frames and one pool per cell, from the same images.
#[derive(Debug, Clone)]
pub struct Pools {
    /// Clean frames.
    pub clean: Vec<Scored>,
    /// One per cell, in profile order.
    pub cells: Vec<CellPool>,
}

/// Scores `items` (path, prompt index when labelled) clean and under every cell;
/// unreadable images are left out. Image `i` is corrupted with seed `seed + i`.
pub fn score_pools(
    encoder: &ImageEncoder,
    cache: &PromptCache,
    items: &[(PathBuf, Option<usize>)],
    cells: &[Cell],
    seed: u64,
    progress: &(dyn Fn(u64) + Sync),
    stop: &AtomicBool,
) -> Result<Pools> {
    let logits = |e: &[f32]| cache.head.score(e, &cache.embeddings).logits;
    let scored: Vec<Option<Vec<Vec<f32>>>> = items
        .par_iter()
        .enumerate()
        .map(|(i, (path, _))| {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(None);
            }
            let out = match load_rgb(path) {
                Ok(img) => Some(
                    embed_versions(encoder, &img, cells, image_seed(seed, i))?
                        .iter()
                        .map(|e| logits(e))
                        .collect(),
                ),
                Err(_) => None,
            };
            progress(cells.len() as u64 + 1);
            Ok(out)
        })
        .collect::<Result<_>>()?;
    if stop.load(std::sync::atomic::Ordering::Relaxed) {
        bail!("interrupted");
    }
    let mut pools = Pools {
        clean: Vec::new(),
        cells: cells
            .iter()
            .map(|c| CellPool {
                corruption: c.corruption.name().to_string(),
                severity: c.severity.level(),
                frames: Vec::new(),
            })
            .collect(),
    };
    for ((_, label), versions) in items.iter().zip(scored) {
        let Some(mut versions) = versions else {
            continue;
        };
        let rest = versions.split_off(1);
        pools.clean.push((versions.remove(0), *label));
        for (pool, z) in pools.cells.iter_mut().zip(rest) {
            pool.frames.push((z, *label));
        }
    }
    Ok(pools)
}

/// Knobs of [`evaluate`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EvalOptions {
    /// Clean streams.
    pub clean_streams: usize,
    /// Frames per clean stream.
    pub clean_frames: usize,
    /// Streams per qualifying cell.
    pub shift_streams: usize,
    /// Clean frames before the switch.
    pub before: usize,
    /// Corrupted frames after the switch (no alarm by then is a miss).
    pub after: usize,
    /// Accuracy drop (fraction) that makes a cell a degradation to detect.
    pub min_drop: f64,
    /// Windows per cell for the estimate errors.
    pub windows: usize,
    /// Seed of the stream sampling.
    pub seed: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            clean_streams: 10,
            clean_frames: 5000,
            shift_streams: 20,
            before: 500,
            after: 1000,
            min_drop: 0.10,
            windows: 10,
            seed: 1,
        }
    }
}

/// Detection figures of one cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellDetection {
    /// Corruption name.
    pub corruption: String,
    /// Severity.
    pub severity: u8,
    /// True accuracy of the cell's pool.
    pub accuracy: f64,
    /// Clean accuracy minus that.
    pub drop: f64,
    /// Streams run.
    pub streams: usize,
    /// Streams with an alarm within `after` frames of the switch.
    pub detected: usize,
    /// Median frames from the switch to the alarm, over the detected streams.
    pub median_delay: Option<f64>,
}

/// Estimate errors of one cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellEstimate {
    /// Corruption name.
    pub corruption: String,
    /// Severity.
    pub severity: u8,
    /// True accuracy of the cell's pool.
    pub accuracy: f64,
    /// Mean ATC estimate over the windows.
    pub atc: f64,
    /// Mean absolute ATC error over the windows.
    pub atc_abs_error: f64,
    /// Mean plain (uncapped) ATC estimate.
    pub atc_uncapped: f64,
    /// Its mean absolute error.
    pub atc_uncapped_abs_error: f64,
    /// Mean DoC estimate.
    pub doc: f64,
    /// Mean absolute DoC error.
    pub doc_abs_error: f64,
}

/// What [`evaluate`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The options.
    pub options: EvalOptions,
    /// Frames per estimate window (the calibration's).
    pub window: usize,
    /// Accuracy of the clean pool.
    pub clean_accuracy: f64,
    /// Clean frames replayed (clean streams plus the clean stretch before each switch).
    pub clean_frames: u64,
    /// Alarms on them.
    pub false_alarms: u64,
    /// False alarms per 2000 clean frames.
    pub false_alarms_per_2000: f64,
    /// Per qualifying cell.
    pub detection: Vec<CellDetection>,
    /// Switch streams run.
    pub shift_streams: usize,
    /// Share of them with no alarm within `after` frames.
    pub missed_rate: f64,
    /// Median delay over all detected switch streams.
    pub median_delay: Option<f64>,
    /// Per cell.
    pub estimates: Vec<CellEstimate>,
    /// Mean absolute ATC error over all cells and windows, accuracy points.
    pub atc_mae_points: f64,
    /// The same for plain (uncapped) ATC.
    pub atc_uncapped_mae_points: f64,
    /// Mean absolute DoC error, accuracy points.
    pub doc_mae_points: f64,
}

fn accuracy(c: &Calibration, head: &crate::zeroshot::head::Head, frames: &[Scored]) -> f64 {
    let right = frames
        .iter()
        .filter(|(z, y)| Some(super::calibrate::frame(head, z, c.temperature).predicted) == *y)
        .count();
    right as f64 / frames.len().max(1) as f64
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Replays streams from `pools` through monitors made by `fresh`.
pub fn evaluate(
    fresh: &dyn Fn() -> Result<Monitor>,
    pools: &Pools,
    opts: EvalOptions,
) -> Result<EvalReport> {
    if pools.clean.is_empty() {
        bail!("no clean frames to replay");
    }
    let probe = fresh()?;
    let calib = probe.calibration().clone();
    let head = probe.head;
    let clean_accuracy = accuracy(&calib, &head, &pools.clean);
    let draw = |rng: &mut Rng, pool: &[Scored]| -> usize { rng.below(pool.len() as u32) as usize };

    let mut clean_frames = 0u64;
    let mut false_alarms = 0u64;
    for k in 0..opts.clean_streams {
        let mut m = fresh()?;
        let mut rng = Rng::new(opts.seed, &format!("clean-{k}"));
        for _ in 0..opts.clean_frames {
            let i = draw(&mut rng, &pools.clean);
            false_alarms += m.observe_logits(&pools.clean[i].0).alarms.len().min(1) as u64;
        }
        clean_frames += opts.clean_frames as u64;
    }

    let mut detection = Vec::new();
    let mut delays = Vec::new();
    let (mut shift_streams, mut missed) = (0usize, 0usize);
    let mut estimates = Vec::new();
    for (c, pool) in pools.cells.iter().enumerate() {
        if pool.frames.is_empty() {
            continue;
        }
        let acc = accuracy(&calib, &head, &pool.frames);
        // Windowed estimates on a stream of this cell alone.
        let (mut atc, mut atc_err, mut doc, mut doc_err) = (0.0, 0.0, 0.0, 0.0);
        let (mut plain, mut plain_err) = (0.0, 0.0);
        for w in 0..opts.windows {
            let mut m = fresh()?;
            let mut rng = Rng::new(opts.seed, &format!("window-{c}-{w}"));
            for _ in 0..calib.options.window {
                let i = draw(&mut rng, &pool.frames);
                m.observe_logits(&pool.frames[i].0);
            }
            let snap = m.snapshot();
            let d = snap.doc_accuracy.unwrap_or(f64::NAN);
            atc += snap.atc_accuracy;
            atc_err += (snap.atc_accuracy - acc).abs();
            plain += snap.atc_uncapped;
            plain_err += (snap.atc_uncapped - acc).abs();
            doc += d;
            doc_err += (d - acc).abs();
        }
        let nw = opts.windows.max(1) as f64;
        estimates.push(CellEstimate {
            corruption: pool.corruption.clone(),
            severity: pool.severity,
            accuracy: acc,
            atc: atc / nw,
            atc_abs_error: atc_err / nw,
            atc_uncapped: plain / nw,
            atc_uncapped_abs_error: plain_err / nw,
            doc: doc / nw,
            doc_abs_error: doc_err / nw,
        });
        if clean_accuracy - acc < opts.min_drop {
            continue;
        }
        let mut mine = Vec::new();
        for k in 0..opts.shift_streams {
            let mut m = fresh()?;
            let mut rng = Rng::new(opts.seed, &format!("shift-{c}-{k}"));
            for _ in 0..opts.before {
                let i = draw(&mut rng, &pools.clean);
                false_alarms += m.observe_logits(&pools.clean[i].0).alarms.len().min(1) as u64;
            }
            clean_frames += opts.before as u64;
            let delay = (1..=opts.after).find(|_| {
                let i = draw(&mut rng, &pool.frames);
                !m.observe_logits(&pool.frames[i].0).alarms.is_empty()
            });
            shift_streams += 1;
            match delay {
                Some(d) => mine.push(d as f64),
                None => missed += 1,
            }
        }
        delays.extend_from_slice(&mine);
        detection.push(CellDetection {
            corruption: pool.corruption.clone(),
            severity: pool.severity,
            accuracy: acc,
            drop: clean_accuracy - acc,
            streams: opts.shift_streams,
            detected: mine.len(),
            median_delay: median(&mut mine),
        });
    }
    let n_est = estimates.len().max(1) as f64;
    Ok(EvalReport {
        options: opts,
        window: calib.options.window,
        clean_accuracy,
        clean_frames,
        false_alarms,
        false_alarms_per_2000: 2000.0 * false_alarms as f64 / clean_frames.max(1) as f64,
        detection,
        shift_streams,
        missed_rate: missed as f64 / shift_streams.max(1) as f64,
        median_delay: median(&mut delays),
        atc_mae_points: 100.0 * estimates.iter().map(|e| e.atc_abs_error).sum::<f64>() / n_est,
        atc_uncapped_mae_points: 100.0
            * estimates
                .iter()
                .map(|e| e.atc_uncapped_abs_error)
                .sum::<f64>()
            / n_est,
        doc_mae_points: 100.0 * estimates.iter().map(|e| e.doc_abs_error).sum::<f64>() / n_est,
        estimates,
    })
}

/// Splits labelled items into calibration (even positions) and evaluation (odd) halves,
/// so the monitor is evaluated on images its calibration never saw.
pub fn split_halves<T: Clone>(items: &[T]) -> (Vec<T>, Vec<T>) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (i, item) in items.iter().enumerate() {
        if i % 2 == 0 {
            a.push(item.clone());
        } else {
            b.push(item.clone());
        }
    }
    (a, b)
}

/// Checks the pools are usable before the long replay.
pub fn check_pools(pools: &Pools, what: &str) -> Result<()> {
    if pools.clean.len() < 20 {
        bail!(
            "{what}: only {} readable images; the evaluation needs at least 20",
            pools.clean.len()
        );
    }
    Ok(())
}

/// The set's images with their labels as prompt indices (`None` when unlabelled);
/// errors when a label has no prompt.
pub fn prompt_items(
    set: &crate::dataset::ImageSet,
    cache: &PromptCache,
) -> Result<Vec<(PathBuf, Option<usize>)>> {
    let map = crate::selfcheck::label_map(set, cache)?;
    Ok(set
        .items
        .iter()
        .map(|(p, l)| (p.clone(), l.map(|l| map[l])))
        .collect())
}

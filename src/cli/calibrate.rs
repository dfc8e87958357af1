//! `edgeclip calibrate`: fit what the monitor needs on clean in-distribution images.

use std::path::PathBuf;

use anyhow::{bail, Result};
use edgeclip::model::EncoderOptions;
use edgeclip::monitor::calibrate::{fit, Calibration, FitOptions};
use edgeclip::monitor::evaluate::{prompt_items, score_pools};
use serde_json::json;

use super::selfcheck::{interrupt_flag, progress_bar, ModelData};

const AFTER: &str = "\
Scores clean, in-distribution images with the deployed image encoder and prompts, then fits:
a softmax temperature (by likelihood, labelled folders only), the ATC rule (a frame counts
as correct when its entropy is below a threshold under which the clean share equals the
clean accuracy; without labels, the clean 90th percentile), reference statistics (mean
confidence for DoC, entropy mean and spread, predicted-class proportions), and the alarm
thresholds of the CUSUM, Page-Hinkley and chi-square detectors, chosen by replaying a
million bootstrapped clean frames to the target false-alarm rate.

The file is tied to the image encoder and the prompt cache: `edgeclip monitor` refuses it
for another model or other prompts.

Examples:
  edgeclip calibrate -o calibration.ecc                     # built-in model and samples
  edgeclip calibrate --model DIR --cache prompts.ecp --data labelled/ -o site.ecc";

/// Arguments of `edgeclip calibrate`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER)]
pub struct Args {
    /// Clean, in-distribution images (`--data`), the model and the deployed prompts.
    #[command(flatten)]
    pub input: ModelData,
    /// Calibration file to write.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,
    /// Target false alarms per clean frame, all detectors together.
    #[arg(long, default_value_t = FitOptions::default().false_alarm_rate)]
    pub false_alarm_rate: f64,
    /// Drop of the ATC hit rate the CUSUM is tuned for.
    #[arg(long, default_value_t = FitOptions::default().cusum_shift)]
    pub cusum_shift: f64,
    /// Frames of the windowed ATC and DoC estimates.
    #[arg(long, default_value_t = FitOptions::default().window)]
    pub window: usize,
    /// Frames per chi-square block.
    #[arg(long, default_value_t = FitOptions::default().chi_window)]
    pub chi_window: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    if args.window == 0 || args.chi_window == 0 {
        bail!("--window and --chi-window must be at least 1");
    }
    let (dir, _, images, source) = args.input.resolve()?;
    let cache = source.resolve(&dir)?;
    let encoder = dir.image_encoder(EncoderOptions::default())?;
    let items = prompt_items(&images, &cache)?;
    let stop = interrupt_flag();
    let bar = progress_bar(items.len() as u64, "calibrate");
    let pools = super::with_threads(args.threads, || {
        score_pools(&encoder, &cache, &items, &[], 0, &|n| bar.inc(n), &stop)
    })??;
    bar.finish_and_clear();
    let logits: Vec<Vec<f32>> = pools.clean.iter().map(|(z, _)| z.clone()).collect();
    let labels: Option<Vec<usize>> = pools.clean.iter().map(|(_, y)| *y).collect();
    let opts = FitOptions {
        false_alarm_rate: args.false_alarm_rate,
        cusum_shift: args.cusum_shift,
        chi_window: args.chi_window,
        window: args.window,
        ..FitOptions::default()
    };
    let mut calibration = fit(&cache.head, &logits, labels.as_deref(), opts)?;
    stamp(&mut calibration, &dir, &cache)?;
    calibration.save(&args.out)?;
    if args.json {
        return super::print_json(&summary(&calibration, &args.out));
    }
    println!("{}", describe(&calibration));
    println!("wrote {}", args.out.display());
    Ok(())
}

/// Ties a calibration to the model's image side and the prompt cache.
pub fn stamp(
    c: &mut Calibration,
    dir: &edgeclip::model::ModelDir,
    cache: &edgeclip::zeroshot::cache::PromptCache,
) -> Result<()> {
    c.model_name = dir.manifest().name.clone();
    c.image_fingerprint = dir.image_fingerprint()?;
    c.prompt_fingerprint = cache.content_fingerprint()?;
    c.labels = cache.labels.clone();
    Ok(())
}

fn summary(c: &Calibration, out: &std::path::Path) -> serde_json::Value {
    json!({
        "file": out, "model": c.model_name, "frames": c.frames, "labelled": c.labelled,
        "temperature": c.temperature, "clean_accuracy": c.clean_accuracy,
        "entropy_threshold": c.entropy_threshold, "hit_rate": c.hit_rate,
        "mean_confidence": c.mean_confidence, "mean_entropy": c.mean_entropy,
        "std_entropy": c.std_entropy, "class_proportions": c.class_proportions,
        "options": c.options, "cusum": {"p0": c.cusum.p0, "p1": c.cusum.p1, "h": c.cusum.h},
        "page_hinkley": {"mean": c.page_hinkley.mean, "delta": c.page_hinkley.delta,
                          "lambda": c.page_hinkley.lambda},
        "chi_square": {"window": c.chi_square.window, "critical": c.chi_square.critical},
    })
}

/// A few lines describing a calibration.
pub fn describe(c: &Calibration) -> String {
    format!(
        "calibrated {} on {} clean frames ({})\n\
         temperature {:.3}  clean accuracy {}  ATC: entropy <= {:.4} counts as correct ({:.1}% of clean frames)\n\
         DoC reference confidence {:.4}  entropy {:.4} +- {:.4}\n\
         alarms at {:.1e} false alarms per frame: CUSUM h {:.3} (rate {:.3} -> {:.3}), Page-Hinkley lambda {:.3}, chi-square {:.2} per {} frames",
        c.model_name,
        c.frames,
        if c.labelled { "labelled" } else { "unlabelled" },
        c.temperature,
        c.clean_accuracy
            .map_or("-".to_string(), |a| format!("{:.1}%", 100.0 * a)),
        c.entropy_threshold,
        100.0 * c.hit_rate,
        c.mean_confidence,
        c.mean_entropy,
        c.std_entropy,
        c.options.false_alarm_rate,
        c.cusum.h,
        c.cusum.p0,
        c.cusum.p1,
        c.page_hinkley.lambda,
        c.chi_square.critical,
        c.chi_square.window
    )
}

//! `edgeclip monitor-eval`: the monitor's reproducible evaluation on a labelled folder.

use anyhow::Result;
use edgeclip::corrupt::Profile;
use edgeclip::model::EncoderOptions;
use edgeclip::monitor::calibrate::{fit, FitOptions};
use edgeclip::monitor::evaluate::{
    check_pools, evaluate, prompt_items, score_pools, split_halves, EvalOptions, EvalReport,
};
use edgeclip::monitor::Monitor;
use edgeclip::selfcheck::cells;
use serde_json::json;

use super::selfcheck::{interrupt_flag, progress_bar, ModelData};

const AFTER: &str = "\
Splits a labelled folder into halves (even / odd positions): the monitor is calibrated on
the first and evaluated on the second, clean and under every corruption x severity of the
profile (image i corrupted with seed --seed + i). Streams are replayed from those scored
frames:
  - clean streams (--clean-streams x --clean-frames): false alarms per 2000 frames;
  - for every cell whose true accuracy is at least --min-drop below the clean accuracy,
    --shift-streams streams of --before clean frames then --after corrupted ones: the
    median delay from the switch to the first alarm, and the share missed;
  - per cell, --windows windows of the calibration's window size: mean absolute error of
    the ATC and DoC accuracy estimates against the cell's true accuracy.
Targets: <= 1 false alarm per 2000 clean frames, median delay <= 100 frames, <= 5% missed,
ATC mean absolute error <= 5 points.

Examples:
  edgeclip monitor-eval                        # built-in model, samples, driving profile
  edgeclip monitor-eval --model DIR --data labelled/ --profile satellite --json";

/// Arguments of `edgeclip monitor-eval`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER)]
pub struct Args {
    /// A labelled folder (`--data`), the model and the deployed prompts.
    #[command(flatten)]
    pub input: ModelData,
    /// Domain profile: a built-in name or a TOML file.
    #[arg(long, default_value = "driving", value_name = "NAME|FILE")]
    pub profile: String,
    /// Base seed of the corruptions and of the stream sampling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads for scoring (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Clean streams.
    #[arg(long, default_value_t = EvalOptions::default().clean_streams)]
    pub clean_streams: usize,
    /// Frames per clean stream.
    #[arg(long, default_value_t = EvalOptions::default().clean_frames)]
    pub clean_frames: usize,
    /// Streams per degrading cell.
    #[arg(long, default_value_t = EvalOptions::default().shift_streams)]
    pub shift_streams: usize,
    /// Clean frames before each switch.
    #[arg(long, default_value_t = EvalOptions::default().before)]
    pub before: usize,
    /// Corrupted frames after each switch.
    #[arg(long, default_value_t = EvalOptions::default().after)]
    pub after: usize,
    /// Accuracy drop (fraction) that makes a cell a degradation to detect.
    #[arg(long, default_value_t = EvalOptions::default().min_drop)]
    pub min_drop: f64,
    /// Estimate windows per cell.
    #[arg(long, default_value_t = EvalOptions::default().windows)]
    pub windows: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let profile = Profile::load(&args.profile)?;
    let (dir, data, images, source) = args.input.resolve()?;
    if !images.is_labelled() {
        anyhow::bail!(
            "{} is not labelled; the evaluation needs one sub-folder per class",
            data.display()
        );
    }
    let cache = source.resolve(&dir)?;
    let encoder = dir.image_encoder(EncoderOptions::default())?;
    let (calib_items, eval_items) = split_halves(&prompt_items(&images, &cache)?);
    let cells = cells(&profile);
    let stop = interrupt_flag();
    let total = calib_items.len() as u64 + eval_items.len() as u64 * (cells.len() as u64 + 1);
    let bar = progress_bar(total, "monitor-eval");
    let (calib_pools, eval_pools) = super::with_threads(args.threads, || -> Result<_> {
        let a = score_pools(
            &encoder,
            &cache,
            &calib_items,
            &[],
            args.seed,
            &|n| bar.inc(n),
            &stop,
        )?;
        let b = score_pools(
            &encoder,
            &cache,
            &eval_items,
            &cells,
            args.seed,
            &|n| bar.inc(n),
            &stop,
        )?;
        Ok((a, b))
    })??;
    bar.finish_and_clear();
    check_pools(&calib_pools, "calibration half")?;
    check_pools(&eval_pools, "evaluation half")?;
    let logits: Vec<Vec<f32>> = calib_pools.clean.iter().map(|(z, _)| z.clone()).collect();
    let labels: Option<Vec<usize>> = calib_pools.clean.iter().map(|(_, y)| *y).collect();
    let mut calibration = fit(
        &cache.head,
        &logits,
        labels.as_deref(),
        FitOptions::default(),
    )?;
    super::calibrate::stamp(&mut calibration, &dir, &cache)?;
    let fresh = || {
        Monitor::new(
            calibration.clone(),
            cache.head,
            cache.embeddings.clone(),
            cache.dim as usize,
        )
    };
    let opts = EvalOptions {
        clean_streams: args.clean_streams,
        clean_frames: args.clean_frames,
        shift_streams: args.shift_streams,
        before: args.before,
        after: args.after,
        min_drop: args.min_drop,
        windows: args.windows,
        seed: args.seed,
    };
    let report = evaluate(&fresh, &eval_pools, opts)?;
    if args.json {
        return super::print_json(&json!({
            "model": dir.manifest().name, "data": data, "profile": profile.name,
            "calibration_images": calib_pools.clean.len(), "evaluation_images": eval_pools.clean.len(),
            "report": report,
        }));
    }
    println!(
        "model {}  data {}  profile {}  calibration {} images  evaluation {} images",
        dir.manifest().name,
        data.display(),
        profile.name,
        calib_pools.clean.len(),
        eval_pools.clean.len()
    );
    println!("{}", super::calibrate::describe(&calibration));
    print_report(&report);
    Ok(())
}

fn print_report(r: &EvalReport) {
    println!(
        "clean accuracy (evaluation half) {:.1}%",
        100.0 * r.clean_accuracy
    );
    println!(
        "{:<22} {:>3} {:>7} {:>7} {:>7} {:>7} {:>9} {:>7} {:>8}",
        "cell", "sev", "acc %", "ATC %", "plain %", "DoC %", "detected", "median", "ATC err"
    );
    for e in &r.estimates {
        let d = r
            .detection
            .iter()
            .find(|d| d.corruption == e.corruption && d.severity == e.severity);
        println!(
            "{:<22} {:>3} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>9} {:>7} {:>8.1}",
            e.corruption,
            e.severity,
            100.0 * e.accuracy,
            100.0 * e.atc,
            100.0 * e.atc_uncapped,
            100.0 * e.doc,
            d.map_or("-".into(), |d| format!("{}/{}", d.detected, d.streams)),
            d.and_then(|d| d.median_delay)
                .map_or("-".into(), |m| format!("{m:.0}")),
            100.0 * e.atc_abs_error
        );
    }
    let verdict = |ok: bool| if ok { "pass" } else { "FAIL" };
    println!(
        "{} false alarms: {} in {} clean frames = {:.3} per 2000 (target <= 1)",
        verdict(r.false_alarms_per_2000 <= 1.0),
        r.false_alarms,
        r.clean_frames,
        r.false_alarms_per_2000
    );
    println!(
        "{} detection: {} switch streams, median delay {} frames (target <= 100), missed {:.1}% (target <= 5%)",
        verdict(r.median_delay.is_some_and(|m| m <= 100.0) && r.missed_rate <= 0.05),
        r.shift_streams,
        r.median_delay.map_or("-".into(), |m| format!("{m:.0}")),
        100.0 * r.missed_rate
    );
    println!(
        "{} ATC mean absolute error {:.2} points at window {} (target <= 5); plain ATC {:.2}, DoC {:.2} points",
        verdict(r.atc_mae_points <= 5.0),
        r.atc_mae_points,
        r.window,
        r.atc_uncapped_mae_points,
        r.doc_mae_points
    );
}

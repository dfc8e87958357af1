//! The command-line interface: argument definitions and one module per subcommand.
//! Each subcommand parses, calls the library, and prints; no model logic lives here.

pub mod bench;
pub mod cache;
pub mod calibrate;
pub mod classify;
pub mod corrupt;
pub mod embed;
pub mod eval;
pub mod info;
pub mod monitor;
pub mod monitor_eval;
pub mod quantize;
pub mod selfcheck;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use edgeclip::model::{check_threads, EncoderOptions};

const EXAMPLES: &str = "\
Examples:
  edgeclip info --model models/cache/clip-vit-b32
  edgeclip classify --model DIR --labels cat,dog,car photo.jpg
  edgeclip cache --model DIR --labels cat,dog,car --templates imagenet -o prompts.ecp
  edgeclip classify --model DIR --cache prompts.ecp --top 3 --json *.jpg
  edgeclip embed --model DIR --image a.jpg --text \"a photo of a cat\" --json
  edgeclip bench --model DIR --runs 30
  edgeclip quantize --model DIR --data photos/ -o DIR-int8
  edgeclip eval --model DIR --data labelled_folder/
  edgeclip corrupt photo.jpg --profile driving --grid sheet.png
  edgeclip selfcheck                             # built-in model, samples, driving
  edgeclip calibrate -o site.ecc
  edgeclip monitor --calibration site.ecc --watch frames/ --metrics edgeclip.prom

A model directory holds model.json, the image and text encoders (ONNX) and the tokenizer;
models/export.py writes one from a Hugging Face checkpoint. Without --model, edgeclip uses
$EDGECLIP_MODEL, then the built-in default model.";

/// Top-level arguments.
#[derive(Debug, Parser)]
#[command(
    name = "edgeclip",
    version,
    about = "Run CLIP / SigLIP / ALIGN encoders on edge devices and check their robustness there",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe a model: family, shapes, parameters, FLOPs, load and optimise time.
    Info(info::Args),
    /// Print L2-normalised image and text embeddings.
    Embed(embed::Args),
    /// Zero-shot classify images against labels or a prompt cache.
    Classify(classify::Args),
    /// Write the ensembled class embeddings to a prompt cache file.
    Cache(cache::Args),
    /// Zero-shot accuracy on a labelled folder (one sub-folder per class).
    Eval(eval::Args),
    /// Measure single-item latency of the image and text encoders.
    Bench(bench::Args),
    /// Write an int8 copy of a model, with the accuracy cost measured.
    Quantize(quantize::Args),
    /// Simulate deployment conditions: list, apply, preview and time image corruptions.
    Corrupt(corrupt::Args),
    /// Robustness self-check: clean vs every corruption x severity of a domain profile.
    Selfcheck(selfcheck::Args),
    /// Fit the monitor's temperature, ATC rule, reference statistics and alarm thresholds.
    Calibrate(calibrate::Args),
    /// Watch a stream of images for degradation, without labels.
    Monitor(monitor::Args),
    /// Evaluate the monitor: false alarms, detection delay, ATC error on replayed streams.
    MonitorEval(monitor_eval::Args),
}

/// Runs a parsed command line; returns the exit status.
pub fn run(cli: Cli) -> Result<i32> {
    let done = |r: Result<()>| r.map(|()| 0);
    match cli.command {
        Command::Info(a) => done(info::run(a)),
        Command::Embed(a) => done(embed::run(a)),
        Command::Classify(a) => done(classify::run(a)),
        Command::Cache(a) => done(cache::run(a)),
        Command::Eval(a) => done(eval::run(a)),
        Command::Bench(a) => done(bench::run(a)),
        Command::Quantize(a) => done(quantize::run(a)),
        Command::Corrupt(a) => done(corrupt::run(a)),
        Command::Selfcheck(a) => selfcheck::run(a),
        Command::Calibrate(a) => done(calibrate::run(a)),
        Command::Monitor(a) => done(monitor::run(a)),
        Command::MonitorEval(a) => done(monitor_eval::run(a)),
    }
}

/// Runs `f` on a pool of `threads` workers (default: all cores).
pub fn with_threads<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    let n = resolve_threads(threads)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the worker threads: {e}"))?;
    Ok(pool.install(f))
}

/// `--threads`, defaulting to all cores, checked against the bound every command shares.
fn resolve_threads(threads: Option<usize>) -> Result<usize> {
    check_threads(
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    )
}

/// Encoder options for a single stream of inputs: `--threads` (default: all cores) go to
/// tract's matrix products.
pub fn encoder_options(threads: Option<usize>) -> Result<EncoderOptions> {
    Ok(EncoderOptions {
        batch: 1,
        threads: resolve_threads(threads)?,
    })
}

/// Where the built-in default model lives in a source checkout.
pub fn default_model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/default")
}

/// The built-in default model's labelled sample set.
pub fn default_samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/samples")
}

/// `--data`, else the built-in sample set when the model is the built-in one too (no
/// `--model`, no `$EDGECLIP_MODEL`): another model's labels are not the samples'.
pub fn resolve_data(data: Option<PathBuf>, model: Option<&PathBuf>) -> Result<PathBuf> {
    match (data, model) {
        (Some(d), _) => Ok(d),
        (None, None) if std::env::var_os("EDGECLIP_MODEL").is_none() => Ok(default_samples_dir()),
        _ => bail!("--data is required with a model other than the built-in one"),
    }
}

/// `--model`, else `$EDGECLIP_MODEL`, else the built-in default model.
pub fn resolve_model(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p);
    }
    if let Some(p) = std::env::var_os("EDGECLIP_MODEL") {
        return Ok(PathBuf::from(p));
    }
    let default = default_model_dir();
    if default
        .join(edgeclip::model::manifest::MANIFEST_FILE)
        .is_file()
    {
        return Ok(default);
    }
    bail!("no --model given, $EDGECLIP_MODEL is not set, and the built-in default model was not found at {}", default.display())
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

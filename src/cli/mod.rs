//! The command-line interface: argument definitions and one module per subcommand.
//! Each subcommand parses, calls the library, and prints; no model logic lives here.

pub mod bench;
pub mod cache;
pub mod classify;
pub mod corrupt;
pub mod embed;
pub mod eval;
pub mod info;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  edgeclip info --model models/cache/clip-vit-b32
  edgeclip classify --model DIR --labels cat,dog,car photo.jpg
  edgeclip cache --model DIR --labels cat,dog,car --templates imagenet -o prompts.ecp
  edgeclip classify --model DIR --cache prompts.ecp --top 3 --json *.jpg
  edgeclip embed --model DIR --image a.jpg --text \"a photo of a cat\" --json
  edgeclip bench --model DIR --runs 30
  edgeclip eval --model DIR --data labelled_folder/
  edgeclip corrupt photo.jpg --profile driving --grid sheet.png

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
    /// Simulate deployment conditions: list, apply, preview and time image corruptions.
    Corrupt(corrupt::Args),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Info(a) => info::run(a),
        Command::Embed(a) => embed::run(a),
        Command::Classify(a) => classify::run(a),
        Command::Cache(a) => cache::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Corrupt(a) => corrupt::run(a),
    }
}

/// Where the built-in default model lives in a source checkout.
pub fn default_model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/default")
}

/// The built-in default model's labelled sample set.
pub fn default_samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/samples")
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

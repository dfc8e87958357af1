//! `edgeclip bench`: warm latency of the image and text encoders, one item at a time.

use std::path::PathBuf;

use anyhow::{bail, Result};
use edgeclip::bench::{measure, Latency};
use edgeclip::model::graph::LoadStats;
use edgeclip::model::{EncoderOptions, ModelDir};
use serde_json::json;

/// Arguments of `edgeclip bench`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  edgeclip bench --model models/cache/clip-vit-b32 --runs 30 --json

JSON: {\"model\", \"threads\", \"image_encoder\": {\"runs\", \"median_ms\", \"mean_ms\", \"min_ms\",
\"p90_ms\", \"p99_ms\", \"load_ms\", \"optimize_ms\", \"gflops\"}, \"text_encoder\": {...} or null}")]
pub struct Args {
    /// Model directory (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Timed runs per encoder.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Untimed warm-up runs per encoder.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Threads (only 1 is supported in this build).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Skip the text encoder.
    #[arg(long)]
    pub image_only: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if args.threads != 1 {
        bail!(
            "--threads {} is not supported yet: this build runs encoders on 1 thread",
            args.threads
        );
    }
    let model_path = super::resolve_model(args.model)?;
    let dir = ModelDir::open(&model_path)?;
    let image = dir.image_encoder(EncoderOptions::default())?;
    let pixels = vec![0.25f32; image.preprocessor().image_len()];
    let img_lat = measure(args.warmup, args.runs, || {
        image.embed_tensors(&pixels).map(|_| ())
    })?;
    let image_json = encoder_json(&img_lat, image.stats());
    let text_json = if args.image_only {
        None
    } else {
        let text = dir.text_encoder(EncoderOptions::default())?;
        let tokens = vec![text
            .tokenizer()
            .encode("a photo of a stop sign on a rainy street.")?];
        let lat = measure(args.warmup, args.runs, || {
            text.embed_tokens(&tokens).map(|_| ())
        })?;
        Some(encoder_json(&lat, text.stats()))
    };
    let report = json!({
        "model": model_path, "threads": args.threads,
        "image_encoder": image_json, "text_encoder": text_json,
    });
    if args.json {
        return super::print_json(&report);
    }
    println!("model {}  threads {}", model_path.display(), args.threads);
    println!(
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "encoder", "median", "p90", "p99", "min", "GFLOP", "load+opt"
    );
    for (name, v) in [
        ("image", Some(&report["image_encoder"])),
        (
            "text",
            report["text_encoder"]
                .as_object()
                .map(|_| &report["text_encoder"]),
        ),
    ] {
        let Some(v) = v else { continue };
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:<14} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>8.3} {:>8.0}ms",
            name,
            f("median_ms"),
            f("p90_ms"),
            f("p99_ms"),
            f("min_ms"),
            f("gflops"),
            f("load_ms") + f("optimize_ms")
        );
    }
    Ok(())
}

fn encoder_json(lat: &Latency, stats: &LoadStats) -> serde_json::Value {
    json!({
        "runs": lat.runs, "median_ms": lat.median_ms, "mean_ms": lat.mean_ms,
        "min_ms": lat.min_ms, "p90_ms": lat.p90_ms, "p99_ms": lat.p99_ms,
        "load_ms": stats.load_ms, "optimize_ms": stats.optimize_ms,
        "gflops": stats.flops_per_item as f64 / 1e9,
    })
}

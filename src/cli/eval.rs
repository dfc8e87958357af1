//! `edgeclip eval`: zero-shot top-1 accuracy on a labelled folder (one sub-folder per class).

use std::path::PathBuf;

use anyhow::Result;
use edgeclip::dataset::LabelledFolder;
use edgeclip::model::ModelDir;
use edgeclip::zeroshot::eval::evaluate;
use edgeclip::zeroshot::{templates, PromptSource};
use serde_json::json;

/// Arguments of `edgeclip eval`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prompts are built from the folder names only (`a photo of a {label}.` with the default
`simple` templates), so the score is zero-shot.

Examples:
  edgeclip eval                                  # built-in model on its sample set
  edgeclip eval --model DIR --data photos/ --templates imagenet --json

JSON: {\"model\", \"data\", \"templates\", \"images\", \"correct\", \"accuracy\",
\"skipped\": [[path, reason]], \"per_class\": [{\"label\", \"images\", \"correct\", \"accuracy\"}],
\"predictions\": [{\"path\", \"label\", \"predicted\", \"prob\"}] (with --predictions)}")]
pub struct Args {
    /// Model directory (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Labelled folder: one sub-folder of images per class, named as the label
    /// (default: the built-in sample set, with the built-in model).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Prompt templates: `simple`, `imagenet`, `none`, or a file.
    #[arg(long, default_value = "simple", conflicts_with = "cache")]
    pub templates: String,
    /// Use a prompt cache instead of the text encoder (its labels must cover the folders).
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Include every prediction in the JSON.
    #[arg(long)]
    pub predictions: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Threads for the encoder's matrix products (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    let data_path = super::resolve_data(args.data.clone(), args.model.as_ref())?;
    let data = LabelledFolder::open(&data_path)?;
    let dir = ModelDir::open(super::resolve_model(args.model)?)?;
    let source = match args.cache {
        Some(path) => PromptSource::Cache(path),
        None => PromptSource::Labels {
            labels: data.labels.clone(),
            templates: templates::resolve(&args.templates)?,
        },
    };
    let cache = source.resolve(&dir)?;
    let encoder = dir.image_encoder(super::encoder_options(args.threads)?)?;
    let report = evaluate(&encoder, &cache, &data)?;
    if args.json {
        let mut v = json!({
            "model": dir.manifest().name, "data": data_path, "templates": cache.templates,
            "images": report.images, "correct": report.correct, "accuracy": report.accuracy,
            "skipped": report.skipped, "per_class": report.per_class,
        });
        if args.predictions {
            v["predictions"] = serde_json::to_value(&report.predictions)?;
        }
        return super::print_json(&v);
    }
    println!(
        "model {}  data {}",
        dir.manifest().name,
        data_path.display()
    );
    println!(
        "{:<32} {:>7} {:>8} {:>9}",
        "class", "images", "correct", "accuracy"
    );
    for c in &report.per_class {
        println!(
            "{:<32} {:>7} {:>8} {:>8.2}%",
            c.label,
            c.images,
            c.correct,
            100.0 * c.accuracy
        );
    }
    println!(
        "{:<32} {:>7} {:>8} {:>8.2}%",
        "all",
        report.images,
        report.correct,
        100.0 * report.accuracy
    );
    for (p, why) in &report.skipped {
        println!("skipped {}: {why}", p.display());
    }
    Ok(())
}

//! `edgeclip classify`: zero-shot predictions for images, from labels or a prompt cache.

use std::path::PathBuf;

use anyhow::{bail, Result};
use edgeclip::imageio::load_rgb;
use edgeclip::model::ModelDir;
use edgeclip::zeroshot::{templates, PromptSource};
use serde_json::json;

/// Arguments of `edgeclip classify`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  edgeclip classify --model DIR --labels \"stop sign,yield sign,speed limit sign\" road.jpg
  edgeclip classify --model DIR --labels cat,dog --templates imagenet --top 1 --json a.jpg b.png
  edgeclip classify --model DIR --cache prompts.ecp *.jpg   # never loads the text encoder

JSON output: {\"model\", \"head\", \"labels\", \"results\": [{\"image\", \"top\": [{\"rank\", \"label\",
\"index\", \"prob\", \"logit\"}]}]}; prob is a softmax over labels (CLIP, ALIGN) or an
independent sigmoid per label (SigLIP).")]
pub struct Args {
    /// Model directory (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Comma-separated class labels.
    #[arg(long, conflicts_with = "cache", required_unless_present = "cache")]
    pub labels: Option<String>,
    /// Prompt templates: `simple`, `imagenet` (CLIP's 80), `none`, or a file with one `{}` template per line.
    #[arg(long, default_value = "simple", conflicts_with = "cache")]
    pub templates: String,
    /// Prompt cache written by `edgeclip cache`.
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// How many classes to show per image.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Images to classify.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Threads for the encoder's matrix products (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    if args.top == 0 {
        bail!("--top must be at least 1");
    }
    let dir = ModelDir::open(super::resolve_model(args.model)?)?;
    let source = match (args.cache, &args.labels) {
        (Some(path), _) => PromptSource::Cache(path),
        (None, Some(list)) => PromptSource::Labels {
            labels: templates::parse_labels(list)?,
            templates: templates::resolve(&args.templates)?,
        },
        (None, None) => bail!("give --labels or --cache"),
    };
    let cache = source.resolve(&dir)?;
    let encoder = dir.image_encoder(super::encoder_options(args.threads)?)?;
    let k = args.top.min(cache.labels.len());
    let mut results = Vec::with_capacity(args.images.len());
    for path in &args.images {
        let img = load_rgb(path)?;
        let emb = encoder.embed_image(&img)?;
        let scores = cache.head.score(&emb, &cache.embeddings);
        let top: Vec<_> = scores
            .top_k(k)
            .into_iter()
            .enumerate()
            .map(|(rank, i)| {
                json!({"rank": rank + 1, "label": cache.labels[i], "index": i,
                       "prob": scores.probs[i], "logit": scores.logits[i]})
            })
            .collect();
        if !args.json {
            println!("{}", path.display());
            for t in &top {
                println!(
                    "  {:>2}. {:<32} {:>8.4}   (logit {:+.3})",
                    t["rank"],
                    t["label"].as_str().unwrap_or_default(),
                    t["prob"].as_f64().unwrap_or(f64::NAN),
                    t["logit"].as_f64().unwrap_or(f64::NAN)
                );
            }
        }
        results.push(json!({"image": path, "top": top}));
    }
    if args.json {
        super::print_json(&json!({
            "model": dir.manifest().name, "head": cache.head.kind,
            "labels": cache.labels, "results": results,
        }))?;
    }
    Ok(())
}

//! `edgeclip cache`: write ensembled class embeddings so devices need only the image encoder.

use std::path::PathBuf;

use anyhow::Result;
use edgeclip::model::ModelDir;
use edgeclip::zeroshot::{build_cache, templates};

/// Arguments of `edgeclip cache`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  edgeclip cache --model DIR --labels \"stop sign,yield sign\" --templates imagenet -o signs.ecp
  edgeclip classify --model DIR --cache signs.ecp photo.jpg")]
pub struct Args {
    /// Model directory (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Comma-separated class labels.
    #[arg(long)]
    pub labels: String,
    /// Prompt templates: `simple`, `imagenet` (CLIP's 80), `none`, or a file with one `{}` template per line.
    #[arg(long, default_value = "simple")]
    pub templates: String,
    /// Output file (written atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Threads for the encoder's matrix products (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    let labels = templates::parse_labels(&args.labels)?;
    let tpl = templates::resolve(&args.templates)?;
    let dir = ModelDir::open(super::resolve_model(args.model)?)?;
    let text = dir.text_encoder(super::encoder_options(args.threads)?)?;
    let cache = build_cache(&dir, &text, labels, tpl)?;
    cache.save(&args.output)?;
    println!(
        "wrote {} ({} labels x {} templates, dim {}, {} head, model {:?})",
        args.output.display(),
        cache.labels.len(),
        cache.templates.len(),
        cache.dim,
        cache.head.kind,
        cache.model_name
    );
    Ok(())
}

//! `edgeclip embed`: L2-normalised embeddings of images and texts.

use std::path::PathBuf;

use anyhow::{bail, Result};
use edgeclip::imageio::load_rgb;
use edgeclip::model::ModelDir;
use serde_json::json;

/// Arguments of `edgeclip embed`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  edgeclip embed --model DIR --image cat.jpg --text \"a photo of a cat\" --json"
)]
pub struct Args {
    /// Model directory (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Image to embed (repeatable).
    #[arg(long = "image", value_name = "PATH")]
    pub images: Vec<PathBuf>,
    /// Text to embed (repeatable).
    #[arg(long = "text", value_name = "STR")]
    pub texts: Vec<String>,
    /// Print JSON (full vectors) instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Threads for the encoder's matrix products (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    if args.images.is_empty() && args.texts.is_empty() {
        bail!("nothing to embed: give at least one --image or --text");
    }
    let model_path = super::resolve_model(args.model)?;
    let dir = ModelDir::open(&model_path)?;
    let opts = super::encoder_options(args.threads)?;
    let mut image_embs = Vec::new();
    if !args.images.is_empty() {
        let encoder = dir.image_encoder(opts)?;
        for path in &args.images {
            let img = load_rgb(path)?;
            image_embs.push(encoder.embed_image(&img)?);
        }
    }
    let text_embs = if args.texts.is_empty() {
        Vec::new()
    } else {
        dir.text_encoder(opts)?.embed_texts(&args.texts)?
    };
    if args.json {
        let images: Vec<_> = args
            .images
            .iter()
            .zip(&image_embs)
            .map(|(p, e)| json!({"path": p, "embedding": e}))
            .collect();
        let texts: Vec<_> = args
            .texts
            .iter()
            .zip(&text_embs)
            .map(|(t, e)| json!({"text": t, "embedding": e}))
            .collect();
        return super::print_json(&json!({
            "model": model_path, "embed_dim": dir.manifest().embed_dim,
            "images": images, "texts": texts,
        }));
    }
    let head = |e: &[f32]| {
        let shown: Vec<String> = e.iter().take(6).map(|x| format!("{x:+.4}")).collect();
        format!(
            "[{}{}]",
            shown.join(" "),
            if e.len() > 6 { " ..." } else { "" }
        )
    };
    for (p, e) in args.images.iter().zip(&image_embs) {
        println!("image {}  dim {}  {}", p.display(), e.len(), head(e));
    }
    for (t, e) in args.texts.iter().zip(&text_embs) {
        println!("text  {t:?}  dim {}  {}", e.len(), head(e));
    }
    Ok(())
}

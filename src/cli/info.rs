//! `edgeclip info`: what a model is and what it costs to load and run.

use std::path::PathBuf;

use anyhow::Result;
use edgeclip::model::manifest::ResizeMode;
use edgeclip::model::{EncoderOptions, ModelDir};
use edgeclip::zeroshot::head::Head;
use serde_json::json;

/// Arguments of `edgeclip info`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  edgeclip info --model models/cache/clip-vit-b32 --json")]
pub struct Args {
    /// Model directory (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let dir = ModelDir::open(super::resolve_model(args.model)?)?;
    let m = dir.manifest();
    let image = dir.image_encoder(EncoderOptions::default())?;
    let text_present = dir.root().join(&m.text.onnx).is_file();
    let text = if text_present {
        Some(dir.text_encoder(EncoderOptions::default())?)
    } else {
        None
    };
    let head = Head::for_manifest(m);
    let fingerprint = dir.fingerprint().ok();
    let pre = &m.image.preprocess;
    let resize = match pre.resize {
        ResizeMode::ShortestEdge => format!(
            "shortest edge to {} then centre crop {}x{}",
            pre.shortest_edge.unwrap_or(0),
            pre.size[1],
            pre.size[0]
        ),
        ResizeMode::Exact => format!("squash to {}x{}", pre.size[1], pre.size[0]),
        ResizeMode::ExactCenterCrop => {
            let [h, w] = pre.resize_size.unwrap_or(pre.size);
            format!(
                "squash to {w}x{h} then centre crop {}x{}",
                pre.size[1], pre.size[0]
            )
        }
    };
    let is = image.stats();
    if args.json {
        let text_json = text.as_ref().map(|t| {
            let s = t.stats();
            json!({
                "onnx": m.text.onnx, "input_shape": [1, m.text.context_length],
                "params": s.params, "flops_per_text": s.flops_per_item,
                "load_ms": s.load_ms, "optimize_ms": s.optimize_ms,
                "vocab_size": t.tokenizer().vocab_size(),
                "tokenizer_kind": m.text.tokenizer_kind, "tokenizer_origin": m.text.tokenizer_origin,
                "context_length": m.text.context_length, "pad_id": m.text.pad_id, "pooling": m.text.pooling,
            })
        });
        return super::print_json(&json!({
            "name": m.name, "directory": dir.root(), "family": m.family, "precision": m.precision,
            "embed_dim": m.embed_dim, "head": head, "source": m.source, "fingerprint": fingerprint,
            "image": {
                "onnx": m.image.onnx, "input_shape": [1, 3, pre.size[0], pre.size[1]],
                "params": is.params, "flops_per_image": is.flops_per_item,
                "load_ms": is.load_ms, "optimize_ms": is.optimize_ms,
                "preprocess": pre, "resize": resize,
            },
            "text": text_json,
        }));
    }
    println!("model        {} ({}, {})", m.name, m.family, m.precision);
    println!("directory    {}", dir.root().display());
    let origin = if m.source.random_init {
        "random init".to_string()
    } else {
        m.source
            .checkpoint
            .clone()
            .unwrap_or_else(|| "unknown".into())
    };
    println!(
        "source       {origin}{}{}",
        m.source
            .arch
            .as_deref()
            .map(|a| format!(", arch {a}"))
            .unwrap_or_default(),
        m.source
            .exporter
            .as_deref()
            .map(|e| format!(", exporter {e}"))
            .unwrap_or_default()
    );
    println!("embed dim    {}", m.embed_dim);
    println!(
        "head         {} (scale {}, bias {})",
        head.kind, head.scale, head.bias
    );
    println!(
        "image        {}  input 1x3x{}x{}  {:.2} M params  {:.3} GFLOP/image  load {:.0} ms  optimise {:.0} ms",
        m.image.onnx.display(),
        pre.size[0],
        pre.size[1],
        is.params as f64 / 1e6,
        is.flops_per_item as f64 / 1e9,
        is.load_ms,
        is.optimize_ms
    );
    println!(
        "             {resize}, {}, rescale {:.6}, mean {:?}, std {:?}",
        serde_json::to_value(pre.resample)?.as_str().unwrap_or("?"),
        pre.rescale_factor,
        pre.mean,
        pre.std
    );
    match &text {
        Some(t) => {
            let s = t.stats();
            println!(
                "text         {}  input 1x{}  {:.2} M params  {:.3} GFLOP/text  load {:.0} ms  optimise {:.0} ms",
                m.text.onnx.display(),
                m.text.context_length,
                s.params as f64 / 1e6,
                s.flops_per_item as f64 / 1e9,
                s.load_ms,
                s.optimize_ms
            );
            println!(
                "             tokenizer {:?} ({:?}), vocab {}, context {}, pad id {}; pooling: {}",
                m.text.tokenizer_kind,
                m.text.tokenizer_origin,
                t.tokenizer().vocab_size(),
                m.text.context_length,
                m.text.pad_id,
                m.text.pooling
            );
        }
        None => println!(
            "text         {} absent (image-only deployment: classify with --cache)",
            m.text.onnx.display()
        ),
    }
    if let Some(fp) = fingerprint {
        println!("fingerprint  {fp}");
    }
    Ok(())
}

//! `edgeclip bench`: load, plan and warm latency of every stage, per model, thread count
//! and batch, as a table or the `edgeclip-bench/1` JSON report.

use std::path::PathBuf;

use anyhow::{Context, Result};
use edgeclip::bench::model::{bench_model, EncoderResult, Settings};
use edgeclip::bench::report::{compare, Change, Report};
use edgeclip::bench::Latency;

/// Arguments of `edgeclip bench`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every (model, threads, batch) is loaded afresh and measured on its own: preprocessing of a
640x480 frame, the image encoder, the tokenizer, the text encoder and the zero-shot head.
Latency is warm (after --warmup untimed runs): p50, p90 and p99 over --runs calls; cheap
stages (preprocess, tokenize, head) run at least 100 times. Peak memory is the process's
resident high-water mark while that setting loaded and ran (Linux; reset between settings).

Examples:
  edgeclip bench
  edgeclip bench --model models/cache/clip-vit-b32-random --threads 1,2 --runs 30
  edgeclip bench --model a --model b --json --save today.json
  edgeclip bench --model a --compare yesterday.json

JSON (schema \"edgeclip-bench/1\"): {\"schema\", \"edgeclip\", \"machine\": {\"arch\", \"os\",
\"cpu\", \"cores\", \"features\"}, \"runs\", \"warmup\", \"results\": [{\"model\", \"path\",
\"family\", \"precision\", \"threads\", \"batch\", \"preprocess\": LATENCY, \"image\": ENCODER,
\"tokenize\": LATENCY|null, \"text\": ENCODER|null, \"head\": LATENCY, \"head_classes\",
\"peak_rss_mib\"|null}], \"compare\": [CHANGE] (with --compare)}
LATENCY: {\"runs\", \"median_ms\" (p50), \"mean_ms\", \"min_ms\", \"p90_ms\", \"p99_ms\"}
ENCODER: {\"load_ms\", \"optimize_ms\", \"plan_batch\", \"gflop_per_item\", \"latency\": LATENCY,
\"items_per_s\", \"gflops_per_s\"}
CHANGE: {\"model\", \"precision\", \"threads\", \"batch\", \"stage\", \"old\", \"new\", \"ratio\"}")]
pub struct Args {
    /// Model directory, repeatable (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Vec<PathBuf>,
    /// Threads for tract's matrix products; a comma-separated list measures each.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub threads: Vec<usize>,
    /// Items per encoder call; a comma-separated list measures each.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub batch: Vec<usize>,
    /// Timed runs per encoder.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Untimed warm-up runs per stage.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Classes the zero-shot head scores against.
    #[arg(long, default_value_t = 1000)]
    pub classes: usize,
    /// Skip the tokenizer and text encoder (a device that uses a prompt cache).
    #[arg(long)]
    pub image_only: bool,
    /// Print the JSON report instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Show each stage's change against an earlier `--json` report.
    #[arg(long, value_name = "OLD.json")]
    pub compare: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let models = if args.model.is_empty() {
        vec![super::resolve_model(None)?]
    } else {
        args.model.clone()
    };
    let settings: Vec<Settings> = args
        .threads
        .iter()
        .flat_map(|&threads| {
            args.batch.iter().map(move |&batch| Settings {
                threads,
                batch,
                runs: args.runs,
                warmup: args.warmup,
                classes: args.classes,
                text: !args.image_only,
            })
        })
        .collect();
    // Check every setting and the old report before spending minutes measuring.
    for s in &settings {
        s.validate()?;
    }
    let old = args.compare.as_deref().map(Report::load).transpose()?;

    let mut results = Vec::new();
    for model in &models {
        for s in &settings {
            let r = bench_model(model, s).with_context(|| {
                format!(
                    "benchmarking {} (threads {}, batch {})",
                    model.display(),
                    s.threads,
                    s.batch
                )
            })?;
            results.push(r);
        }
    }
    let report = Report::new(args.runs, args.warmup, results);
    let changes = old.as_ref().map(|o| compare(o, &report));
    if let Some(path) = &args.save {
        let text = serde_json::to_string_pretty(&report)?;
        edgeclip::fsutil::write_atomic(path, text.as_bytes())?;
    }
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(c) = &changes {
            value["compare"] = serde_json::to_value(c)?;
        }
        return super::print_json(&value);
    }
    print_table(&report);
    if let (Some(c), Some(path)) = (&changes, &args.compare) {
        print_changes(c, path);
    }
    Ok(())
}

/// A table row: stage, its latency, and (items/s, GFLOP/s, load+plan ms) for encoders.
type Row<'a> = (&'a str, &'a Latency, Option<(f64, f64, f64)>);

fn print_table(report: &Report) {
    let m = &report.machine;
    println!(
        "machine: {} ({}, {} cores; {})   runs {}, warm-up {}",
        m.cpu,
        m.arch,
        m.cores,
        m.features.join(" "),
        report.runs,
        report.warmup
    );
    println!(
        "{:<24} {:<5} {:>3} {:>5}  {:<10} {:>9} {:>9} {:>9} {:>10} {:>8} {:>10} {:>9}",
        "model",
        "prec",
        "thr",
        "batch",
        "stage",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "items/s",
        "GFLOP/s",
        "load+plan",
        "peak MiB"
    );
    for r in &report.results {
        let head = format!("head/{}", r.head_classes);
        let mut rows: Vec<Row> = vec![("preprocess", &r.preprocess, None)];
        rows.push(("image", &r.image.latency, Some(encoder_cols(&r.image))));
        if let Some(t) = &r.tokenize {
            rows.push(("tokenize", t, None));
        }
        if let Some(t) = &r.text {
            rows.push(("text", &t.latency, Some(encoder_cols(t))));
        }
        rows.push((&head, &r.head, None));
        for (i, (stage, lat, enc)) in rows.into_iter().enumerate() {
            let (model, prec, thr, batch, peak) = if i == 0 {
                (
                    r.model.as_str(),
                    r.precision.as_str(),
                    r.threads.to_string(),
                    r.batch.to_string(),
                    r.peak_rss_mib.map_or("-".into(), |p| format!("{p:.0}")),
                )
            } else {
                ("", "", String::new(), String::new(), String::new())
            };
            let (items, gflops, load) = match enc {
                Some((items, gflops, load)) => (
                    format!("{items:.1}"),
                    format!("{gflops:.1}"),
                    format!("{load:.0} ms"),
                ),
                None => (
                    format!("{:.0}", 1e3 / lat.median_ms.max(1e-9)),
                    String::new(),
                    String::new(),
                ),
            };
            println!(
                "{:<24} {:<5} {:>3} {:>5}  {:<10} {:>9} {:>9} {:>9} {:>10} {:>8} {:>10} {:>9}",
                model,
                prec,
                thr,
                batch,
                stage,
                ms(lat.median_ms),
                ms(lat.p90_ms),
                ms(lat.p99_ms),
                items,
                gflops,
                load,
                peak
            );
        }
    }
}

fn encoder_cols(e: &EncoderResult) -> (f64, f64, f64) {
    (e.items_per_s, e.gflops_per_s, e.load_ms + e.optimize_ms)
}

/// Milliseconds with precision that suits their size (head and tokenizer are microseconds).
fn ms(v: f64) -> String {
    if v < 0.1 {
        format!("{v:.4}")
    } else if v < 10.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1}")
    }
}

fn print_changes(changes: &[Change], old: &std::path::Path) {
    println!();
    if changes.is_empty() {
        println!(
            "no setting of {} matches this run (model, precision, threads, batch)",
            old.display()
        );
        return;
    }
    println!(
        "change against {} (new / old; below 1 is faster or smaller)",
        old.display()
    );
    println!(
        "{:<24} {:<5} {:>3} {:>5}  {:<10} {:>10} {:>10} {:>7}",
        "model", "prec", "thr", "batch", "stage", "old", "new", "ratio"
    );
    for c in changes {
        let unit = if c.stage == "peak_rss" { "MiB" } else { "ms" };
        println!(
            "{:<24} {:<5} {:>3} {:>5}  {:<10} {:>7} {unit:<3}{:>7} {unit:<3}{:>6.2}x",
            c.model,
            c.precision,
            c.threads,
            c.batch,
            c.stage,
            ms(c.old),
            ms(c.new),
            c.ratio
        );
    }
}

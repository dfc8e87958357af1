//! `edgeclip selfcheck`: clean vs corrupted through the deployed model, per cell of a
//! domain profile; table, JSON report and SVG picture.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Result};
use edgeclip::corrupt::Profile;
use edgeclip::dataset::ImageSet;
use edgeclip::fsutil::write_atomic;
use edgeclip::model::{EncoderOptions, ModelDir};
use edgeclip::selfcheck::metrics::Thresholds;
use edgeclip::selfcheck::{self, plot, Inputs, Options};
use edgeclip::zeroshot::{templates, PromptSource};
use indicatif::{ProgressBar, ProgressStyle};

const AFTER: &str = "\
Without arguments, checks the built-in default model on its sample set (models/samples)
with the driving profile.

Per corruption x severity it reports the label-flip probability (LFP: share of images
whose zero-shot prediction differs from the clean one; needs no labels), accuracy and its
drop (labelled folders: one sub-folder per class), the mean cosine between clean and
corrupted embeddings, and the mean change of confidence and entropy. Image i (in folder
order) is corrupted with seed --seed + i.

Checks (defaults): mean LFP <= 0.25, worst corruption's mean LFP <= 0.5, relative
robustness (mean corrupted accuracy / clean accuracy, labelled only) >= 0.75.

Writes OUT/report.json (schema edgeclip-selfcheck/1) and OUT/report.svg.
Exit status: 0 all checks passed, 2 a check failed, 130 interrupted (Ctrl-C; the report
covers the images finished), 1 error.

Examples:
  edgeclip selfcheck
  edgeclip selfcheck --model DIR --data labelled/ --profile driving --out check/
  edgeclip selfcheck --model DIR --cache prompts.ecp --data frames/ --profile fog.toml
  edgeclip selfcheck --json --max-mean-lfp 0.1 > report.json";

/// The model, the images and the prompts: shared by `selfcheck`, `calibrate` and
/// `monitor-eval`.
#[derive(Debug, clap::Args)]
pub struct ModelData {
    /// Model directory (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Images: a labelled folder (one sub-folder per class) or a folder of images
    /// (default: the built-in sample set, with the built-in model).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Prompt cache the device uses (default: prompts from the folder's labels).
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Comma-separated labels to prompt with (for unlabelled folders without --cache).
    #[arg(long, value_delimiter = ',', conflicts_with = "cache")]
    pub labels: Option<Vec<String>>,
    /// Prompt templates: `simple`, `imagenet`, `none`, or a file.
    #[arg(long, default_value = "simple", conflicts_with = "cache")]
    pub templates: String,
}

/// Arguments of `edgeclip selfcheck`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER)]
pub struct Args {
    #[command(flatten)]
    pub input: ModelData,
    /// Domain profile: a built-in name or a TOML file.
    #[arg(long, default_value = "driving", value_name = "NAME|FILE")]
    pub profile: String,
    /// Base seed of the corruptions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Images per encoder call (1 was fastest for the default model with tract).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Folder for report.json and report.svg.
    #[arg(short = 'o', long = "out", default_value = "edgeclip-selfcheck")]
    pub out: PathBuf,
    /// Print the JSON report instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Highest acceptable mean LFP.
    #[arg(long, default_value_t = Thresholds::default().max_mean_lfp)]
    pub max_mean_lfp: f64,
    /// Highest acceptable mean LFP of the worst corruption.
    #[arg(long, default_value_t = Thresholds::default().max_worst_lfp)]
    pub max_worst_lfp: f64,
    /// Lowest acceptable relative robustness (labelled folders only).
    #[arg(long, default_value_t = Thresholds::default().min_relative_robustness)]
    pub min_robustness: f64,
}

impl ModelData {
    /// Opens the model and the images and says where the prompts come from.
    pub fn resolve(self) -> Result<(ModelDir, PathBuf, ImageSet, PromptSource)> {
        let ModelData {
            model,
            data,
            cache,
            labels,
            templates: template_set,
        } = self;
        resolve_inputs(model, data, cache, labels, &template_set)
    }
}

fn resolve_inputs(
    model: Option<PathBuf>,
    data: Option<PathBuf>,
    cache: Option<PathBuf>,
    labels: Option<Vec<String>>,
    template_set: &str,
) -> Result<(ModelDir, PathBuf, ImageSet, PromptSource)> {
    let data_path = super::resolve_data(data, model.as_ref())?;
    let images = ImageSet::open(&data_path)?;
    let dir = ModelDir::open(super::resolve_model(model)?)?;
    let source = match (cache, labels, &images.labels) {
        (Some(path), _, _) => PromptSource::Cache(path),
        (None, Some(labels), _) => PromptSource::Labels {
            labels,
            templates: templates::resolve(template_set)?,
        },
        (None, None, Some(labels)) => PromptSource::Labels {
            labels: labels.clone(),
            templates: templates::resolve(template_set)?,
        },
        (None, None, None) => bail!(
            "{} has no class sub-folders, so give the prompts: --cache FILE or --labels a,b,c",
            data_path.display()
        ),
    };
    Ok((dir, data_path, images, source))
}

/// A flag set by Ctrl-C (the second Ctrl-C exits at once).
pub fn interrupt_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Failing to install the handler only loses the graceful stop.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: finishing the images in flight (Ctrl-C again to quit now)");
    });
    stop
}

/// A progress bar on stderr (drawn only on a terminal).
pub fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{what} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} ({{eta}} left)"
    )) {
        bar.set_style(style);
    }
    bar
}

pub fn run(args: Args) -> Result<i32> {
    let profile = Profile::load(&args.profile)?;
    let (dir, data, images, source) = args.input.resolve()?;
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let cache = source.resolve(&dir)?;
    let encoder = dir.image_encoder(EncoderOptions {
        batch: args.batch,
        threads: 1,
    })?;
    let opts = Options {
        seed: args.seed,
        threads: args.threads.unwrap_or(Options::default().threads),
        thresholds: Thresholds {
            max_mean_lfp: args.max_mean_lfp,
            max_worst_lfp: args.max_worst_lfp,
            min_relative_robustness: args.min_robustness,
        },
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.out.display()))?;
    let cells = selfcheck::cells(&profile).len() as u64;
    let bar = progress_bar(images.items.len() as u64 * (cells + 1), "selfcheck");
    let stop = interrupt_flag();
    let inputs = Inputs {
        model: dir.manifest().name.clone(),
        encoder: &encoder,
        cache: &cache,
        images: &images,
        data,
        profile: &profile,
    };
    let report = selfcheck::run(&inputs, &opts, &|n| bar.inc(n), &stop)?;
    bar.finish_and_clear();
    write_report(&args.out, &report)?;
    if args.json {
        super::print_json(&report)?;
    } else {
        println!("{}", report.table());
        println!(
            "report: {}  picture: {}",
            args.out.join("report.json").display(),
            args.out.join("report.svg").display()
        );
    }
    Ok(if report.interrupted {
        130
    } else if report.pass {
        0
    } else {
        2
    })
}

fn write_report(out: &Path, report: &selfcheck::report::Report) -> Result<()> {
    write_atomic(
        &out.join("report.json"),
        serde_json::to_string_pretty(report)?.as_bytes(),
    )?;
    write_atomic(&out.join("report.svg"), plot::svg(report)?.as_bytes())
}

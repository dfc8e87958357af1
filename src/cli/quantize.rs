//! `edgeclip quantize`: write an int8 (or f16) copy of a model directory, with the
//! per-layer choices and the accuracy cost measured on calibration and held-out images.

use std::path::PathBuf;

use anyhow::Result;
use edgeclip::corrupt::Profile;
use edgeclip::dataset::ImageSet;
use edgeclip::model::ModelDir;
use edgeclip::quantization::{
    quantize_model, QuantMode, QuantizeOptions, QuantizeReport, REPORT_FILE,
};

/// Arguments of `edgeclip quantize`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
How it decides: every linear layer (MatMul with a constant weight) of both encoders is a
candidate. Its input activations are recorded on the calibration images (and prompts), and
the int8 layer's output is compared with the f32 one (SQNR). Layers under --min-sqnr, or
named by --keep-f32, stay f32. The towers are then checked on held-out images and prompts:
while the mean embedding cosine to f32 is under --target-cosine, the least robust tenth of
the int8 layers moves back to f32. The report lists every layer's SQNR, outlier ratio and
precision, and is saved as quantize-report.json in the new directory.

int8 layers run on edgeclip's fused AVX-512 VNNI kernel on x86 CPUs that have it, else on
tract's integer matrix kernels (AVX2 on x86, dot-product or NEON on ARM), with per-row
activation scales computed at run time and per-column weight scales; the files use
edgeclip's MatMulQ8 operator (domain ai.edgeclip), so only edgeclip loads them.

--mode f16 stores every weight tensor of 1024 values or more as f16 (half the size) and needs
no calibration. On CPUs with f16 arithmetic (ARMv8.2: Jetson Orin, Raspberry Pi 5) the model
computes in f16; elsewhere in f32 from the f16 weights. EDGECLIP_F16_COMPUTE=1 forces f16
arithmetic (emulated, slow) to measure its accuracy on any machine; the report's
f16_compute says which ran.

Examples:
  edgeclip quantize -o models/cache/default-int8          # built-in model and samples
  edgeclip quantize --model DIR --data photos/ --corrupt driving -o DIR-int8
  edgeclip quantize --model DIR --data photos/ --keep-f32 fc2,visual_projection -o OUT
  edgeclip quantize --model DIR --data photos/ --mode f16 -o DIR-f16

JSON (--json, and quantize-report.json): {\"format\": \"edgeclip-quantize/1\", \"source_model\",
\"model\", \"mode\": int8|f16, \"f16_compute\", \"calibration_images\", \"corrupt_profile\", \"min_sqnr_db\", \"target_cosine\",
\"towers\": [{\"tower\", \"bytes_f32\", \"bytes_out\", \"heldout\", \"cosine_mean\", \"cosine_min\",
\"fallback_rounds\", \"layers\": [{\"name\", \"shape\", \"sqnr_db\", \"outlier_ratio\", \"precision\",
\"reason\": quantized|low-sqnr|requested|cosine-target}]}],
\"zero_shot\": {\"classes\", \"images\", \"top1_agreement\", \"accuracy_f32\", \"accuracy_quantized\"} | null}")]
pub struct Args {
    /// f32 model directory (default: $EDGECLIP_MODEL, then the built-in model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Output model directory; must not exist.
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// Precision to write.
    #[arg(long, value_enum, default_value = "int8")]
    pub mode: Mode,
    /// Images to calibrate and check on: a labelled folder (one sub-folder per class, which
    /// adds zero-shot agreement and accuracy to the report) or a flat folder (default: the
    /// built-in sample set, with the built-in model).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Also calibrate on the calibration images corrupted by this domain profile's
    /// corruptions (a built-in name or a TOML file), so activation ranges cover them.
    #[arg(long, value_name = "PROFILE")]
    pub corrupt: Option<String>,
    /// Images used for calibration; the rest are held out for the accuracy check.
    #[arg(long, default_value_t = 16)]
    pub calibration_images: usize,
    /// Held-out images checked, at most.
    #[arg(long, default_value_t = 200)]
    pub heldout_images: usize,
    /// Keep a layer f32 when its int8 output SQNR (dB) is below this.
    #[arg(long, default_value_t = 20.0)]
    pub min_sqnr: f64,
    /// Mean held-out embedding cosine to f32 each encoder must reach.
    #[arg(long, default_value_t = 0.99)]
    pub target_cosine: f64,
    /// Keep layers whose name contains one of these (comma-separated, repeatable) in f32.
    #[arg(long, value_delimiter = ',', value_name = "PATTERN")]
    pub keep_f32: Vec<String>,
    /// Seed for the calibration split and corruptions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for the encoders' matrix products (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Precisions `edgeclip quantize` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// int8 weights and integer matrix products.
    Int8,
    /// f16 weights; f16 arithmetic on ARMv8.2 CPUs.
    F16,
}

pub fn run(args: Args) -> Result<()> {
    let data_path = super::resolve_data(args.data.clone(), args.model.as_ref())?;
    let dir = ModelDir::open(super::resolve_model(args.model)?)?;
    let data = ImageSet::open(&data_path)?;
    let corrupt = args.corrupt.as_deref().map(Profile::load).transpose()?;
    let opts = QuantizeOptions {
        mode: match args.mode {
            Mode::Int8 => QuantMode::Int8,
            Mode::F16 => QuantMode::F16,
        },
        calibration_images: args.calibration_images,
        heldout_images: args.heldout_images,
        corrupt,
        min_sqnr_db: args.min_sqnr,
        target_cosine: args.target_cosine,
        keep_f32: args.keep_f32,
        threads: super::encoder_options(args.threads)?.threads,
        seed: args.seed,
    };
    let report = quantize_model(&dir, &args.out, &data, &opts)?;
    if args.json {
        return super::print_json(&report);
    }
    print_report(&report, &args.out);
    Ok(())
}

fn print_report(r: &QuantizeReport, out: &std::path::Path) {
    println!(
        "{} -> {} ({}{}), calibrated on {} images{}",
        r.source_model,
        r.model,
        r.mode,
        match (r.mode, r.f16_compute) {
            ("f16", true) => ", checked in f16 arithmetic",
            ("f16", false) => ", checked in f32 arithmetic from f16 weights",
            _ => "",
        },
        r.calibration_images,
        r.corrupt_profile
            .as_ref()
            .map(|p| format!(" + {p} corruptions"))
            .unwrap_or_default()
    );
    println!(
        "{:<6} {:>10} {:>10} {:>6} {:>6} {:>6} {:>9} {:>11} {:>10}",
        "tower", "f32 MB", "out MB", "ratio", "int8", "f32", "held-out", "cosine", "min cosine"
    );
    let mb = |b: u64| b as f64 / 1e6;
    for t in &r.towers {
        let int8 = t.layers.iter().filter(|l| l.precision == "int8").count();
        println!(
            "{:<6} {:>10.1} {:>10.1} {:>6.3} {:>6} {:>6} {:>9} {:>11.5} {:>10.5}",
            t.tower,
            mb(t.bytes_f32),
            mb(t.bytes_out),
            t.bytes_out as f64 / t.bytes_f32.max(1) as f64,
            int8,
            t.layers.len() - int8,
            t.heldout,
            t.cosine_mean,
            t.cosine_min
        );
    }
    for t in &r.towers {
        if let Some(note) = &t.note {
            println!("{} encoder: {note}", t.tower);
        }
        let kept: Vec<_> = t.layers.iter().filter(|l| l.precision == "f32").collect();
        if kept.is_empty() {
            continue;
        }
        println!("{} layers kept f32:", t.tower);
        for l in kept {
            println!(
                "  {:<60} {:>5}x{:<5} sqnr {:>6.1} dB  outliers {:>6.1}  {:?}",
                l.name, l.shape[0], l.shape[1], l.sqnr_db, l.outlier_ratio, l.reason
            );
        }
    }
    let worst = r
        .towers
        .iter()
        .flat_map(|t| t.layers.iter().map(move |l| (t.tower, l)))
        .filter(|(_, l)| l.precision == "int8")
        .min_by(|a, b| a.1.sqnr_db.total_cmp(&b.1.sqnr_db));
    if let Some((tower, l)) = worst {
        println!(
            "least robust int8 layer: {tower} {} ({:.1} dB)",
            l.name, l.sqnr_db
        );
    }
    if let Some(z) = &r.zero_shot {
        println!(
            "zero-shot on {} held-out images, {} classes: top-1 agreement {:.2}%, accuracy f32 {:.2}% -> {} {:.2}%",
            z.images,
            z.classes,
            100.0 * z.top1_agreement,
            100.0 * z.accuracy_f32,
            r.mode,
            100.0 * z.accuracy_quantized
        );
    }
    println!(
        "wrote {} (report: {})",
        out.display(),
        out.join(REPORT_FILE).display()
    );
}

//! `edgeclip corrupt`: list, apply, preview and time the corruption engine.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use edgeclip::corrupt::profile::{builtin_names, Profile};
use edgeclip::corrupt::timing::{time_profile, TimingOptions};
use edgeclip::corrupt::{self, kernels, registry, sheet, Image, Severity};
use edgeclip::imageio::{load_rgb, save_rgb};
use serde_json::json;

const EXAMPLES: &str = "\
Examples:
  edgeclip corrupt --list
  edgeclip corrupt --list --verbose            # parameters per severity
  edgeclip corrupt photo.jpg --corruption fog --severity 3 --seed 7 -o fog3.png
  edgeclip corrupt photo.jpg --profile driving --grid sheet.png
  edgeclip corrupt photo.jpg --profile driving -o out/      # every cell as a PNG
  edgeclip corrupt photo.jpg --profile imagenet-c --bench --threads 1 --json

A profile is a built-in name (driving, medical, manufacturing, people, satellite, handheld,
documents, imagenet-c) or a TOML file:
  name = \"my-site\"
  [[corruption]]
  name = \"fog\"
  severities = [1, 3, 5]

The same image, corruption, severity and seed always give the same bytes, on every
machine and SIMD path. Grayscale and alpha inputs are read as RGB (alpha dropped); any
size from 1x1 up to 16384 px per side is accepted.";

/// Arguments of `edgeclip corrupt`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Image to corrupt.
    #[arg(value_name = "IMAGE", required_unless_present = "list")]
    pub image: Option<PathBuf>,
    /// List the corruptions and profiles, then exit.
    #[arg(long)]
    pub list: bool,
    /// With --list: show every corruption's parameters per severity.
    #[arg(long, requires = "list")]
    pub verbose: bool,
    /// Corruption to apply (see --list).
    #[arg(long, value_name = "NAME", conflicts_with = "profile")]
    pub corruption: Option<String>,
    /// Severity 1 (mild) .. 5 (severe) for --corruption.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3,
        allow_negative_numbers = true
    )]
    pub severity: i64,
    /// Seed of the random stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Domain profile: a built-in name or a TOML file.
    #[arg(long, value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// Output image (with --corruption) or output folder (with --profile).
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Write a labelled contact sheet of every corruption at every severity.
    #[arg(long, value_name = "SHEET.png", requires = "profile")]
    pub grid: Option<PathBuf>,
    /// Time every corruption x severity of the profile (median of --repeats).
    #[arg(long, requires = "profile")]
    pub bench: bool,
    /// Timed repeats per cell for --bench.
    #[arg(long, default_value_t = 15)]
    pub repeats: usize,
    /// Threads for --bench: 1 times single images; N times batches on N threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    if args.list {
        return list(args.verbose, args.json);
    }
    let Some(path) = &args.image else {
        bail!("give an IMAGE to corrupt (or --list)");
    };
    if args.corruption.is_none() && args.profile.is_none() {
        bail!("say what to do: --corruption NAME (with -o OUT) or --profile NAME (with --grid, --bench or -o DIR)");
    }
    if let Some(name) = &args.corruption {
        let c = registry::find(name)?;
        let s = Severity::new(args.severity)?;
        let Some(out) = &args.out else {
            bail!("--corruption needs -o OUT (the corrupted image to write)");
        };
        let img = Image::from_rgb8(&load_rgb(path)?);
        let result = corrupt::corrupt(&img, c, s, args.seed).to_rgb8();
        save_rgb(out, &result)?;
        if !args.json {
            eprintln!(
                "{} severity {} seed {} -> {}",
                c.name(),
                s,
                args.seed,
                out.display()
            );
        }
        return Ok(());
    }
    let profile = Profile::load(args.profile.as_deref().unwrap_or_default())?;
    if !(args.bench || args.grid.is_some() || args.out.is_some()) {
        bail!("--profile needs --grid SHEET.png, --bench or -o DIR");
    }
    let rgb = load_rgb(path)?;
    if let Some(grid) = &args.grid {
        save_rgb(grid, &sheet::contact_sheet(&rgb, &profile, args.seed))?;
        eprintln!(
            "contact sheet of profile {} ({} cells) -> {}",
            profile.name,
            profile.cells(),
            grid.display()
        );
    }
    if let Some(dir) = &args.out {
        write_cells(&rgb, &profile, args.seed, dir)?;
    }
    if args.bench {
        bench(&rgb, &profile, &args)?;
    }
    Ok(())
}

fn list(verbose: bool, json: bool) -> Result<()> {
    let all = registry::all();
    if json {
        let items: Vec<_> = all
            .iter()
            .map(|c| {
                let params: serde_json::Map<String, serde_json::Value> = Severity::ALL
                    .iter()
                    .map(|s| {
                        let p: serde_json::Map<String, serde_json::Value> = c
                            .params(*s)
                            .into_iter()
                            .map(|p| (p.name.to_string(), json!(p.value)))
                            .collect();
                        (s.to_string(), serde_json::Value::Object(p))
                    })
                    .collect();
                json!({"name": c.name(), "family": c.family(), "random": c.is_random(),
                       "summary": c.summary(), "params": params})
            })
            .collect();
        return super::print_json(&json!({
            "corruptions": items,
            "profiles": builtin_names(),
            "simd": kernels::detected().name(),
        }));
    }
    println!(
        "{} corruptions (SIMD path on this CPU: {})",
        all.len(),
        kernels::detected().name()
    );
    let mut family = None;
    for c in all {
        if family != Some(c.family()) {
            family = Some(c.family());
            println!("\n{:?}", c.family());
        }
        println!(
            "  {:<22} {}{}",
            c.name(),
            c.summary(),
            if c.is_random() {
                ""
            } else {
                " (deterministic)"
            }
        );
        if verbose {
            for s in Severity::ALL {
                let ps: Vec<String> = c
                    .params(s)
                    .iter()
                    .map(|p| format!("{}={}", p.name, p.value))
                    .collect();
                println!("      {s}: {}", ps.join("  "));
            }
        }
    }
    println!("\nprofiles: {}", builtin_names().join(", "));
    Ok(())
}

fn write_cells(
    rgb: &image::RgbImage,
    profile: &Profile,
    seed: u64,
    dir: &std::path::Path,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    let img = Image::from_rgb8(rgb);
    for entry in &profile.entries {
        for &s in &entry.severities {
            let out = corrupt::corrupt(&img, entry.corruption, s, seed).to_rgb8();
            save_rgb(
                &dir.join(format!("{}_s{}.png", entry.corruption.name(), s)),
                &out,
            )?;
        }
    }
    eprintln!("{} images -> {}", profile.cells(), dir.display());
    Ok(())
}

fn bench(rgb: &image::RgbImage, profile: &Profile, args: &Args) -> Result<()> {
    let max_threads = 4 * std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if args.threads == 0 || args.threads > max_threads.max(256) {
        bail!(
            "--threads must be between 1 and {}, got {}",
            max_threads.max(256),
            args.threads
        );
    }
    let img = Image::from_rgb8(rgb);
    let timings = time_profile(
        &img,
        profile,
        TimingOptions {
            repeats: args.repeats,
            threads: args.threads,
            seed: args.seed,
        },
    )?;
    if args.json {
        return super::print_json(&timings);
    }
    println!(
        "profile {}  image {}x{}  threads {}  simd {}  median of {} runs",
        profile.name,
        img.width(),
        img.height(),
        args.threads,
        kernels::detected().name(),
        args.repeats
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "corruption", "s1 ms", "s2 ms", "s3 ms", "s4 ms", "s5 ms"
    );
    let mut total = 0.0;
    for entry in &profile.entries {
        let mut cols = Vec::new();
        for s in Severity::ALL {
            match timings
                .iter()
                .find(|t| t.corruption == entry.corruption.name() && t.severity == s.level())
            {
                Some(t) => {
                    total += t.median_ms;
                    cols.push(format!("{:>9.3}", t.median_ms));
                }
                None => cols.push(format!("{:>9}", "-")),
            }
        }
        println!("{:<22} {}", entry.corruption.name(), cols.join(" "));
    }
    println!(
        "total over {} cells: {:.2} ms per image",
        timings.len(),
        total
    );
    Ok(())
}

//! Benchmarks one model directory at one (threads, batch) setting: load and plan time,
//! warm latency of every stage a device runs (preprocessing, image encoder, tokenizer,
//! text encoder, zero-shot head), throughput, achieved GFLOP/s and peak memory.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::{measure, Latency};
use crate::model::graph::LoadStats;
use crate::model::{check_threads, EncoderOptions, ModelDir};
use crate::sysmem;
use crate::zeroshot::head::Head;

/// How to benchmark a model.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Threads for tract's matrix products (1 runs on the calling thread).
    pub threads: usize,
    /// Items per encoder call.
    pub batch: usize,
    /// Timed runs per encoder (cheap stages run at least 100 times).
    pub runs: usize,
    /// Untimed runs before timing.
    pub warmup: usize,
    /// Classes the zero-shot head scores against.
    pub classes: usize,
    /// Also load and time the text encoder and tokenizer.
    pub text: bool,
}

impl Settings {
    /// Rejects settings no run can honour, with the flag to fix.
    pub fn validate(&self) -> Result<()> {
        if self.runs == 0 {
            bail!("--runs must be at least 1");
        }
        check_threads(self.threads)?;
        if self.batch == 0 || self.batch > 4096 {
            bail!("--batch must be between 1 and 4096, got {}", self.batch);
        }
        if self.classes == 0 {
            bail!("--classes must be at least 1");
        }
        Ok(())
    }
}

/// One encoder's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderResult {
    /// Parsing the ONNX file.
    pub load_ms: f64,
    /// Type inference, decluttering and optimisation into a runnable plan.
    pub optimize_ms: f64,
    /// Batch the plan was compiled for (a graph with a fixed batch keeps its own).
    pub plan_batch: usize,
    /// Floating-point operations per item, in GFLOP.
    pub gflop_per_item: f64,
    /// Warm latency of one call on `batch` items.
    pub latency: Latency,
    /// Items per second at the median.
    pub items_per_s: f64,
    /// Achieved GFLOP/s at the median.
    pub gflops_per_s: f64,
}

impl EncoderResult {
    fn new(stats: &LoadStats, plan_batch: usize, batch: usize, latency: Latency) -> Self {
        let gflop = stats.flops_per_item as f64 / 1e9;
        let per_s = 1e3 / latency.median_ms.max(1e-9);
        EncoderResult {
            load_ms: stats.load_ms,
            optimize_ms: stats.optimize_ms,
            plan_batch,
            gflop_per_item: gflop,
            items_per_s: batch as f64 * per_s,
            gflops_per_s: gflop * batch as f64 * per_s,
            latency,
        }
    }
}

/// Everything measured for one (model, threads, batch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    /// The manifest's model name.
    pub model: String,
    /// The directory benchmarked.
    pub path: PathBuf,
    /// Model family (clip, siglip, align).
    pub family: String,
    /// Encoder precision from the manifest.
    pub precision: String,
    /// Threads for tract's matrix products.
    pub threads: usize,
    /// Items per encoder call.
    pub batch: usize,
    /// Resize, crop and normalise one 640x480 RGB frame into the encoder's tensor.
    pub preprocess: Latency,
    /// The image encoder.
    pub image: EncoderResult,
    /// Tokenising one prompt (null with `--image-only`).
    pub tokenize: Option<Latency>,
    /// The text encoder (null with `--image-only`).
    pub text: Option<EncoderResult>,
    /// Zero-shot head: scoring one image embedding against `head_classes` classes.
    pub head: Latency,
    /// Classes the head scored against.
    pub head_classes: usize,
    /// Peak resident memory while loading and running this setting, in MiB (null where
    /// the platform cannot tell).
    pub peak_rss_mib: Option<f64>,
}

/// Benchmarks `path` with `settings`.
pub fn bench_model(path: &Path, settings: &Settings) -> Result<ModelResult> {
    settings.validate()?;
    // Memory freed by the previous setting would otherwise count towards this one's peak.
    sysmem::release_free_memory();
    let peak_reset = sysmem::reset_peak_rss().is_ok();

    let dir = ModelDir::open(path)?;
    let m = dir.manifest().clone();
    let opts = EncoderOptions {
        batch: settings.batch,
        threads: settings.threads,
    };
    let cheap_runs = settings.runs.max(100);

    let image = dir.image_encoder(opts)?;
    let pre = image.preprocessor();
    let frame = camera_frame(640, 480);
    let per = pre.image_len();
    let mut pixels = vec![0f32; settings.batch * per];
    let preprocess = measure(settings.warmup, cheap_runs, || {
        pre.tensor_into(&frame, &mut pixels[..per])
    })
    .context("preprocessing")?;
    for i in 1..settings.batch {
        pixels.copy_within(..per, i * per);
    }
    let mut embedding = Vec::new();
    let image_latency = measure(settings.warmup, settings.runs, || {
        embedding = image.embed_tensors(&pixels)?.swap_remove(0);
        Ok(())
    })
    .context("image encoder")?;
    let image_result =
        EncoderResult::new(image.stats(), image.batch(), settings.batch, image_latency);

    let (tokenize, text) = if settings.text {
        let text = dir.text_encoder(opts)?;
        let tok = text.tokenizer();
        let prompts: Vec<String> = (0..settings.batch)
            .map(|i| {
                format!(
                    "a photo of a {} on a rainy street.",
                    OBJECTS[i % OBJECTS.len()]
                )
            })
            .collect();
        let tokenize = measure(settings.warmup, cheap_runs, || {
            tok.encode(&prompts[0]).map(drop)
        })
        .context("tokenizer")?;
        let tokens = prompts
            .iter()
            .map(|p| tok.encode(p))
            .collect::<Result<Vec<_>>>()?;
        let latency = measure(settings.warmup, settings.runs, || {
            text.embed_tokens(&tokens).map(drop)
        })
        .context("text encoder")?;
        let result = EncoderResult::new(text.stats(), text.batch(), settings.batch, latency);
        (Some(tokenize), Some(result))
    } else {
        (None, None)
    };

    let head = Head::for_manifest(&m);
    let classes = unit_rows(settings.classes, embedding.len());
    let head_latency = measure(settings.warmup, cheap_runs, || {
        std::hint::black_box(head.score(&embedding, &classes));
        Ok(())
    })?;

    let peak_rss_mib = if peak_reset {
        sysmem::peak_rss_bytes().map(|b| b as f64 / (1024.0 * 1024.0))
    } else {
        None
    };
    Ok(ModelResult {
        model: m.name.clone(),
        path: path.to_path_buf(),
        family: m.family.to_string(),
        precision: m.precision.to_string(),
        threads: settings.threads,
        batch: settings.batch,
        preprocess,
        image: image_result,
        tokenize,
        text,
        head: head_latency,
        head_classes: settings.classes,
        peak_rss_mib,
    })
}

const OBJECTS: [&str; 8] = [
    "stop sign",
    "pedestrian",
    "cyclist",
    "delivery van",
    "traffic light",
    "dog",
    "bus",
    "motorbike",
];

/// A deterministic textured frame: gradients plus hashed noise, so resampling does the
/// same work as on a photo (a flat frame would not exercise it differently, but keeps the
/// benchmark free of fixture files).
pub fn camera_frame(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let h =
            (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)).wrapping_mul(2_654_435_761);
        let n = (h >> 24) as u8 / 4;
        image::Rgb([
            ((x * 255 / width.max(1)) as u8).wrapping_add(n),
            ((y * 255 / height.max(1)) as u8).wrapping_add(n),
            (((x + y) * 127 / (width + height).max(1)) as u8).wrapping_add(n),
        ])
    })
}

/// `rows` unit vectors of `dim` floats, deterministic, for timing the head.
fn unit_rows(rows: usize, dim: usize) -> Vec<f32> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(rows * dim);
    for _ in 0..rows {
        let start = out.len();
        for _ in 0..dim {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            out.push(((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5);
        }
        crate::embedding::l2_normalize(&mut out[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MAX_THREADS;

    fn settings() -> Settings {
        Settings {
            threads: 1,
            batch: 1,
            runs: 2,
            warmup: 0,
            classes: 10,
            text: true,
        }
    }

    #[test]
    fn rejects_settings_no_run_can_honour() {
        for (s, flag) in [
            (
                Settings {
                    runs: 0,
                    ..settings()
                },
                "--runs",
            ),
            (
                Settings {
                    threads: 0,
                    ..settings()
                },
                "--threads",
            ),
            (
                Settings {
                    threads: MAX_THREADS + 1,
                    ..settings()
                },
                "--threads",
            ),
            (
                Settings {
                    batch: 0,
                    ..settings()
                },
                "--batch",
            ),
            (
                Settings {
                    classes: 0,
                    ..settings()
                },
                "--classes",
            ),
        ] {
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains(flag), "{e}");
        }
        settings().validate().unwrap();
    }

    #[test]
    fn head_rows_are_unit_vectors() {
        let rows = unit_rows(3, 16);
        for r in rows.chunks_exact(16) {
            let n: f32 = r.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
        assert_ne!(rows[..16], rows[16..32]);
    }

    #[test]
    fn benchmarks_the_default_model() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/default");
        let r = bench_model(&dir, &settings()).unwrap();
        assert_eq!(r.image.latency.runs, 2);
        assert!(r.image.latency.median_ms > 0.0);
        assert!(r.image.gflop_per_item > 0.0 && r.image.gflops_per_s > 0.0);
        assert_eq!(r.head.runs, 100);
        assert!(r.text.is_some() && r.tokenize.is_some());
        #[cfg(target_os = "linux")]
        assert!(r.peak_rss_mib.unwrap() > 1.0);
    }
}

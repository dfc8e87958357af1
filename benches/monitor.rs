//! The monitor's own work per frame (everything after the image embedding: scoring
//! against the cached prompts, temperature, entropy, the window, CUSUM, Page-Hinkley and
//! chi-square) next to the default model's image encoder, in one run.
//!
//! `cargo bench --bench monitor`; the goal is monitor < 1% of the encoder.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use edgeclip::model::{EncoderOptions, ModelDir};
use edgeclip::monitor::calibrate::{fit, FitOptions};
use edgeclip::monitor::Monitor;
use edgeclip::zeroshot::{build_cache, templates};

fn per_frame(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = ModelDir::open(root.join("models/default")).expect("default model");
    let samples =
        edgeclip::dataset::LabelledFolder::open(&root.join("models/samples")).expect("samples");
    let text = dir
        .text_encoder(EncoderOptions::default())
        .expect("text encoder");
    let cache = build_cache(
        &dir,
        &text,
        samples.labels.clone(),
        templates::resolve("simple").expect("templates"),
    )
    .expect("prompt cache");
    let encoder = dir
        .image_encoder(EncoderOptions::default())
        .expect("image encoder");
    let images: Vec<_> = samples
        .items
        .iter()
        .step_by(4)
        .map(|(p, _)| edgeclip::imageio::load_rgb(p).expect("sample"))
        .collect();
    let embeddings: Vec<Vec<f32>> = images
        .iter()
        .map(|img| encoder.embed_image(img).expect("embedding"))
        .collect();
    let logits: Vec<Vec<f32>> = embeddings
        .iter()
        .map(|e| cache.head.score(e, &cache.embeddings).logits)
        .collect();
    let labels: Vec<usize> = samples.items.iter().step_by(4).map(|(_, l)| *l).collect();
    let mut calibration =
        fit(&cache.head, &logits, Some(&labels), FitOptions::default()).expect("calibration");
    calibration.labels = cache.labels.clone();
    let mut monitor = Monitor::new(
        calibration,
        cache.head,
        cache.embeddings.clone(),
        cache.dim as usize,
    )
    .expect("monitor");

    let mut group = c.benchmark_group("monitor-per-frame");
    let mut i = 0;
    group.bench_function("image encoder (default model, preprocess + embed)", |b| {
        b.iter(|| {
            i = (i + 1) % images.len();
            encoder
                .embed_image(black_box(&images[i]))
                .expect("embedding")
        })
    });
    group.bench_function("monitor observe (after the embedding)", |b| {
        b.iter(|| {
            i = (i + 1) % embeddings.len();
            monitor.observe(black_box(&embeddings[i])).expect("observe")
        })
    });
    group.bench_function("monitor snapshot (per report)", |b| {
        b.iter(|| black_box(monitor.snapshot()))
    });
    group.finish();
}

criterion_group!(benches, per_frame);
criterion_main!(benches);

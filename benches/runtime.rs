//! Criterion benches of the runtime on the committed default model: preprocessing, the
//! tokenizer, both encoders (one and two threads), the prompt-cache round trip and the
//! zero-shot head.
//!
//! `cargo bench --bench runtime`; `edgeclip bench` reports the same stages with
//! percentiles and memory for any model directory.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use edgeclip::bench::model::camera_frame;
use edgeclip::model::{EncoderOptions, ModelDir};
use edgeclip::zeroshot::build_cache;
use edgeclip::zeroshot::cache::PromptCache;
use edgeclip::zeroshot::head::Head;

fn model() -> ModelDir {
    ModelDir::open(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/default"))
        .expect("the committed default model")
}

fn preprocess(c: &mut Criterion) {
    let dir = model();
    let image = dir
        .image_encoder(EncoderOptions::default())
        .expect("image encoder");
    let pre = image.preprocessor();
    let mut out = vec![0f32; pre.image_len()];
    let mut group = c.benchmark_group("preprocess");
    for (w, h) in [(640u32, 480u32), (1920, 1080)] {
        let frame = camera_frame(w, h);
        group.bench_function(BenchmarkId::from_parameter(format!("{w}x{h}")), |b| {
            b.iter(|| pre.tensor_into(&frame, &mut out).unwrap())
        });
    }
    group.finish();
}

fn encoders(c: &mut Criterion) {
    let dir = model();
    let mut group = c.benchmark_group("encoder");
    group.sample_size(30);
    for threads in [1, 2] {
        let opts = EncoderOptions { batch: 1, threads };
        let image = dir.image_encoder(opts).expect("image encoder");
        let pixels = image
            .preprocessor()
            .tensor(&camera_frame(640, 480))
            .unwrap();
        group.bench_function(BenchmarkId::new("image", format!("{threads}t")), |b| {
            b.iter(|| image.embed_tensors(&pixels).unwrap())
        });
        let text = dir.text_encoder(opts).expect("text encoder");
        let tokens = vec![text
            .tokenizer()
            .encode("a photo of a stop sign on a rainy street.")
            .unwrap()];
        group.bench_function(BenchmarkId::new("text", format!("{threads}t")), |b| {
            b.iter(|| text.embed_tokens(&tokens).unwrap())
        });
    }
    group.finish();
}

fn tokenize(c: &mut Criterion) {
    let tok = model().tokenizer().expect("tokenizer");
    c.bench_function("tokenize/prompt", |b| {
        b.iter(|| {
            tok.encode("a photo of a delivery van in heavy fog.")
                .unwrap()
        })
    });
}

fn prompts_and_head(c: &mut Criterion) {
    let dir = model();
    let text = dir
        .text_encoder(EncoderOptions::default())
        .expect("text encoder");
    let labels: Vec<String> = (0..100).map(|i| format!("object {i}")).collect();
    let cache = build_cache(&dir, &text, labels.clone(), vec!["a photo of a {}.".into()])
        .expect("prompt cache");
    let bytes = cache.to_bytes().unwrap();
    c.bench_function("prompt_cache/load_100", |b| {
        b.iter(|| PromptCache::from_bytes(&bytes).unwrap())
    });
    let wanted: Vec<String> = labels.iter().rev().take(10).cloned().collect();
    c.bench_function("prompt_cache/lookup_10_of_100", |b| {
        b.iter(|| cache.label_indices(&wanted).unwrap())
    });

    let head = Head::for_manifest(dir.manifest());
    let dim = cache.dim as usize;
    let image = cache.class(3).to_vec();
    let mut group = c.benchmark_group("head");
    for classes in [10usize, 100, 1000] {
        let rows: Vec<f32> = cache
            .embeddings
            .iter()
            .copied()
            .cycle()
            .take(classes * dim)
            .collect();
        group.bench_function(BenchmarkId::from_parameter(classes), |b| {
            b.iter(|| head.score(&image, &rows))
        });
    }
    group.finish();
}

criterion_group!(benches, preprocess, tokenize, encoders, prompts_and_head);
criterion_main!(benches);

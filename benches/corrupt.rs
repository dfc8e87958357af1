//! Criterion benchmarks of the corruption engine at 224x224, one thread: every
//! ImageNet-C corruption at severity 3, and the hot kernels on the scalar twin versus the
//! vector instruction sets this CPU has.
//!
//! `cargo bench --bench corrupt`; `benches/compare_imagecorruptions.py` times the same
//! corruptions against the Python reference side by side.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use edgeclip::corrupt::kernels::{self, Border};
use edgeclip::corrupt::{corrupt, filters, Image, Profile, Rng, Severity};

/// As in the binary: image buffers start on a cache line.
#[global_allocator]
static ALLOC: edgeclip::sysmem::CacheLineAlloc = edgeclip::sysmem::CacheLineAlloc;

fn test_image() -> Image {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/images/landscape.jpg"
    );
    let rgb = edgeclip::imageio::load_rgb(std::path::Path::new(path)).expect("fixture image");
    let (w, h) = rgb.dimensions();
    let side = w.min(h);
    let crop =
        image::imageops::crop_imm(&rgb, (w - side) / 2, (h - side) / 2, side, side).to_image();
    let small = image::imageops::resize(&crop, 224, 224, image::imageops::FilterType::Triangle);
    Image::from_rgb8(&small)
}

fn imagenet_c(c: &mut Criterion) {
    edgeclip::sysmem::keep_freed_buffers();
    let img = test_image();
    let profile = Profile::load("imagenet-c").expect("built-in profile");
    let mut group = c.benchmark_group("imagenet-c-224");
    group.sample_size(20);
    let s3 = Severity::new(3).expect("valid");
    for entry in &profile.entries {
        let name = entry.corruption.name();
        group.bench_function(name, |b| {
            b.iter(|| corrupt(black_box(&img), entry.corruption, s3, 1))
        });
    }
    group.finish();
}

/// Runs `f` once per available instruction set (scalar, and every vector set this CPU
/// has, so AVX2 and AVX-512 can be compared on one machine), named after it.
fn per_isa(c: &mut Criterion, group: &str, mut f: impl FnMut() + Clone) {
    let mut g = c.benchmark_group(group);
    for isa in kernels::available() {
        let mut run = f.clone();
        g.bench_function(BenchmarkId::from_parameter(isa.name()), |b| {
            b.iter(|| kernels::with_isa(isa, &mut run).expect("available"))
        });
    }
    g.finish();
    f();
}

fn kernels_vs_scalar(c: &mut Criterion) {
    let img = test_image();
    let plane = img.plane(1).to_vec();
    let n = plane.len();
    per_isa(c, "kernel-gaussian-blur-sigma3-224", || {
        black_box(filters::gaussian_blur_plane(
            &plane,
            224,
            224,
            3.0,
            3.0,
            4.0,
            Border::Nearest,
        ));
    });
    // The same blur on a plane that starts on a cache line (what `CacheLineAlloc` gives)
    // and on one 16 bytes in (what glibc's own alignment gives), side by side.
    let mut g = c.benchmark_group("kernel-gaussian-blur-sigma3-224-start");
    let mut buf = vec![0.0f32; n + 16];
    for (name, at) in [("line-aligned", 0), ("16-bytes-in", 4)] {
        buf[at..at + n].copy_from_slice(&plane);
        let src = &buf[at..at + n];
        assert_eq!((src.as_ptr() as usize).is_multiple_of(64), at == 0);
        g.bench_function(name, |b| {
            b.iter(|| filters::gaussian_blur_plane(src, 224, 224, 3.0, 3.0, 4.0, Border::Nearest))
        });
    }
    g.finish();
    per_isa(c, "kernel-fill-normal-3x224x224", || {
        let mut v = vec![0.0f32; 3 * n];
        Rng::new(1, "bench").fill_normal(&mut v);
        black_box(v);
    });
    per_isa(c, "kernel-hsv-round-trip-224", || {
        let mut im = img.clone();
        let (r, g, b) = im.planes_mut();
        kernels::rgb_to_hsv(r, g, b);
        kernels::hsv_to_rgb(r, g, b);
        black_box(im);
    });
    let mx: Vec<f32> = (0..n).map(|i| (i % 224) as f32 * 0.9 + 3.3).collect();
    let my: Vec<f32> = (0..n).map(|i| (i / 224) as f32 * 0.9 + 5.7).collect();
    per_isa(c, "kernel-remap-bilinear-224", || {
        let mut out = vec![0.0f32; n];
        kernels::remap_bilinear(&plane, 224, 224, &mx, &my, &mut out, Border::Reflect);
        black_box(out);
    });
}

criterion_group!(benches, imagenet_c, kernels_vs_scalar);
criterion_main!(benches);

//! The corruption engine against its promises: parity with imagecorruptions 1.1.2
//! (goldens and perturbation statistics in `tests/fixtures/corrupt/`), identical bytes on
//! every SIMD path and platform, and no panic on any image size.
//!
//! Tolerances (from issue 4): deterministic corruptions within PSNR 35 dB or mean
//! absolute error <= 1.5 levels; stochastic ones with the mean and the standard deviation
//! of (output - input) within 5% of the reference's. For the mean, "5%" is taken of the
//! larger of |mean| and std, because the mean of zero-mean noise is ~0 and any relative
//! bound on it is meaningless; and a bound never goes below three standard errors of the
//! difference of the two seed-pooled estimates (reference: 200 seeds, 20 for glass_blur;
//! here: 60), which for fog, frost and motion_blur (a per-seed spread of the mean of 13+
//! levels) is wider than 5%.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use edgeclip::corrupt::kernels::{self, Isa};
use edgeclip::corrupt::{blur, corrupt, geometry, registry, weather, Image, Severity};
use sha2::{Digest, Sha256};

fn corrupt_fixtures() -> std::path::PathBuf {
    fixtures().join("corrupt")
}

fn load_png(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

fn input() -> Image {
    Image::from_rgb8(&load_png(&corrupt_fixtures().join("input.png")))
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(corrupt_fixtures().join("golden/manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// (PSNR dB, mean absolute error in levels) between two 8-bit images.
fn psnr_mae(a: &image::RgbImage, b: &image::RgbImage) -> (f64, f64) {
    assert_eq!(a.dimensions(), b.dimensions());
    let n = a.as_raw().len() as f64;
    let (mut se, mut ae) = (0.0f64, 0.0f64);
    for (&x, &y) in a.as_raw().iter().zip(b.as_raw()) {
        let d = f64::from(x) - f64::from(y);
        se += d * d;
        ae += d.abs();
    }
    let mse = se / n;
    let psnr = if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    };
    (psnr, ae / n)
}

fn field(entry: &serde_json::Value, key: &str) -> Vec<f32> {
    let (shape, data) = read_npy_f32(&corrupt_fixtures().join(entry[key].as_str().unwrap()));
    assert_eq!(shape, vec![96, 128]);
    data
}

#[test]
fn deterministic_corruptions_match_the_reference() {
    let img = input();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for g in manifest()["goldens"].as_array().unwrap() {
        let name = g["corruption"].as_str().unwrap();
        let s = Severity::new(g["severity"].as_i64().unwrap()).unwrap();
        let want = load_png(&corrupt_fixtures().join(g["file"].as_str().unwrap()));
        let mut got = match name {
            "motion_blur" => blur::motion_blur_at(&img, s, g["angle"].as_f64().unwrap()),
            "fog" => weather::fog_with_field(&img, s, &field(g, "field")),
            "elastic_transform" => {
                geometry::elastic_with_fields(&img, s, &field(g, "dx"), &field(g, "dy"))
            }
            _ => {
                let c = registry::find(name).unwrap();
                assert!(
                    !c.is_random(),
                    "{name} has a golden, so it must not depend on the seed"
                );
                corrupt(&img, c, s, 0)
            }
        };
        got.clamp01();
        let (psnr, mae) = psnr_mae(&got.to_rgb8(), &want);
        report.push(format!("{name:<18} s{s}  PSNR {psnr:6.2} dB  MAE {mae:.3}"));
        if !(psnr >= 35.0 || mae <= 1.5) {
            failures.push(format!("{name} s{s}: PSNR {psnr:.2} dB, MAE {mae:.3}"));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert_eq!(report.len(), 55, "every golden was checked");
    assert!(
        failures.is_empty(),
        "outside PSNR 35 dB / MAE 1.5: {failures:?}"
    );
}

/// Mean and std of (out - in) in levels, pooled over seeds, and the std across seeds of
/// the per-seed means.
fn perturbation(img: &Image, name: &str, s: Severity, seeds: u64) -> (f64, f64) {
    let c = registry::find(name).unwrap();
    let clean = img.to_rgb8();
    let (mut sum, mut sum2, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for seed in 0..seeds {
        let out = corrupt(img, c, s, 1000 + seed).to_rgb8();
        for (&o, &i) in out.as_raw().iter().zip(clean.as_raw()) {
            let d = f64::from(o) - f64::from(i);
            sum += d;
            sum2 += d * d;
            n += 1.0;
        }
    }
    let mean = sum / n;
    (mean, (sum2 / n - mean * mean).max(0.0).sqrt())
}

#[test]
fn stochastic_corruptions_match_the_reference_statistics() {
    let img = input();
    let text = std::fs::read_to_string(corrupt_fixtures().join("stats.json")).unwrap();
    let stats: serde_json::Value = serde_json::from_str(&text).unwrap();
    const OURS: u64 = 60;
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let per_name: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(stats["stats"].clone()).unwrap();
    for (name, sevs) in &per_name {
        for level in 1..=5 {
            let r = &sevs[level.to_string()];
            let (rm, rs) = (r["mean"].as_f64().unwrap(), r["std"].as_f64().unwrap());
            let ref_seeds = r["seeds"].as_f64().unwrap();
            // Standard error of (ours - reference), each side's from the reference spread.
            let se = |spread: f64| spread * (1.0 / ref_seeds + 1.0 / OURS as f64).sqrt();
            let se_mean = se(r["seed_std_of_mean"].as_f64().unwrap());
            let se_std = se(r["seed_std_of_std"].as_f64().unwrap());
            let (m, sd) = perturbation(&img, name, Severity::new(level).unwrap(), OURS);
            let tol_mean = (0.05 * rm.abs().max(rs)).max(3.0 * se_mean);
            let tol_std = (0.05 * rs).max(3.0 * se_std);
            report.push(format!(
                "{name:<18} s{level}  mean {m:8.3} (ref {rm:8.3} ±{tol_mean:.2})  std {sd:7.3} (ref {rs:7.3} ±{tol_std:.2})"
            ));
            if (m - rm).abs() > tol_mean || (sd - rs).abs() > tol_std {
                failures.push(format!(
                    "{name} s{level}: mean {m:.3} vs {rm:.3}, std {sd:.3} vs {rs:.3}"
                ));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Every corruption at every severity, as 8-bit bytes.
fn all_outputs(img: &Image, seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for c in registry::all() {
        for s in Severity::ALL {
            out.push((
                format!("{} s{s}", c.name()),
                corrupt(img, *c, s, seed).to_rgb8().into_raw(),
            ));
        }
    }
    out
}

#[test]
fn every_simd_path_gives_the_scalar_bytes() {
    let img = input();
    let want = kernels::with_isa(Isa::Scalar, || all_outputs(&img, 3)).unwrap();
    for isa in kernels::available() {
        let got = kernels::with_isa(isa, || all_outputs(&img, 3)).unwrap();
        for ((name, a), (_, b)) in want.iter().zip(&got) {
            assert!(
                a == b,
                "{name}: {} differs from the scalar twin",
                isa.name()
            );
        }
    }
}

/// SHA-256 of every corruption's output on the fixture: the same on every platform.
/// `EDGECLIP_BLESS=1` rewrites the file after an intended change.
#[test]
fn outputs_are_the_same_on_every_platform() {
    let img = input();
    let path = corrupt_fixtures().join("output_hashes.json");
    let got: BTreeMap<String, String> = all_outputs(&img, 0)
        .into_iter()
        .map(|(name, bytes)| (name, format!("{:x}", Sha256::digest(&bytes))))
        .collect();
    if std::env::var_os("EDGECLIP_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path)
        .expect("output_hashes.json (run with EDGECLIP_BLESS=1 to create)");
    let want: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    let differ: Vec<&String> = got.keys().filter(|k| want.get(*k) != got.get(*k)).collect();
    assert!(
        differ.is_empty(),
        "outputs differ from the committed hashes on {} ({}): {differ:?}; if the change is intended, rerun with EDGECLIP_BLESS=1",
        std::env::consts::ARCH,
        kernels::detected().name()
    );
}

#[test]
fn every_corruption_accepts_any_size() {
    for (w, h) in [(1, 1), (1, 9), (9, 1), (2, 2), (33, 17), (5, 40)] {
        let mut img = Image::new(w, h);
        for (i, v) in img.data_mut().iter_mut().enumerate() {
            *v = ((i * 37) % 101) as f32 / 100.0;
        }
        for c in registry::all() {
            for s in Severity::ALL {
                let out = corrupt(&img, *c, s, 11);
                assert_eq!(
                    (out.width(), out.height()),
                    (w, h),
                    "{} s{s} on {w}x{h}",
                    c.name()
                );
                assert!(
                    out.data().iter().all(|v| (0.0..=1.0).contains(v)),
                    "{} s{s} on {w}x{h}",
                    c.name()
                );
            }
        }
    }
}

#[test]
fn severity_raises_the_change() {
    // Mean absolute change may not fall much from one severity to the next (allowing
    // seed noise), and severity 5 changes the image more than severity 1.
    let img = input();
    let clean = img.to_rgb8();
    for c in registry::all() {
        let change: Vec<f64> = Severity::ALL
            .iter()
            .map(|&s| {
                let seeds = 4;
                (0..seeds)
                    .map(|seed| psnr_mae(&corrupt(&img, *c, s, seed).to_rgb8(), &clean).1)
                    .sum::<f64>()
                    / seeds as f64
            })
            .collect();
        assert!(change[0] > 0.0, "{}: severity 1 changes nothing", c.name());
        assert!(change[4] > change[0], "{}: {change:?}", c.name());
    }
}

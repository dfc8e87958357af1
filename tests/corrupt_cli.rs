//! `edgeclip corrupt` against the real binary: listing, applying, contact sheets,
//! timing, and every bad input it promises a clear one-line error for.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn input() -> PathBuf {
    fixtures().join("corrupt/input.png")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn list_names_every_corruption_and_profile() {
    let out = edgeclip(&["corrupt", "--list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v["corruptions"].as_array().unwrap();
    assert_eq!(items.len(), edgeclip::corrupt::registry::all().len());
    for item in items {
        assert!(
            item["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{item}"
        );
        for s in 1..=5 {
            assert!(item["params"][s.to_string()].is_object(), "{item}");
        }
    }
    let profiles: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for p in [
        "driving",
        "medical",
        "manufacturing",
        "people",
        "satellite",
        "handheld",
        "documents",
        "imagenet-c",
    ] {
        assert!(profiles.contains(&p), "{p}");
    }
    let text = edgeclip(&["corrupt", "--list", "--verbose"]);
    assert!(text.status.success());
    assert!(stdout(&text).contains("gaussian_noise") && stdout(&text).contains("sigma=0.18"));
}

#[test]
fn applies_one_corruption_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    let c = dir.path().join("c.png");
    for (out, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        let r = edgeclip(&[
            "corrupt",
            s(&input()),
            "--corruption",
            "gaussian_noise",
            "--severity",
            "2",
            "--seed",
            seed,
            "-o",
            s(out),
        ]);
        assert!(r.status.success(), "{}", stderr(&r));
    }
    let (ia, ib, ic) = (
        image::open(&a).unwrap(),
        image::open(&b).unwrap(),
        image::open(&c).unwrap(),
    );
    assert_eq!(ia.as_bytes(), ib.as_bytes(), "same seed, same bytes");
    assert_ne!(ia.as_bytes(), ic.as_bytes(), "another seed, other noise");
    let clean = image::open(input()).unwrap();
    assert_eq!((ia.width(), ia.height()), (clean.width(), clean.height()));
    assert_ne!(ia.as_bytes(), clean.as_bytes());
}

#[test]
fn contact_sheet_has_a_row_per_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "name = \"two\"\n[[corruption]]\nname = \"gaussian_noise\"\nseverities = [1, 5]\n[[corruption]]\nname = \"GaussianNoise\"\n")
        .unwrap();
    // DeepBench's class name resolves to the same corruption, so the profile repeats it.
    let r = edgeclip(&[
        "corrupt",
        s(&input()),
        "--profile",
        s(&profile),
        "--grid",
        s(&dir.path().join("g.png")),
    ]);
    assert_clear_error(&r, "twice");
    std::fs::write(
        &profile,
        "name = \"one\"\n[[corruption]]\nname = \"gaussian_noise\"\nseverities = [1, 5]\n",
    )
    .unwrap();
    let sheet = dir.path().join("sheet.png");
    let r = edgeclip(&[
        "corrupt",
        s(&input()),
        "--profile",
        s(&profile),
        "--grid",
        s(&sheet),
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let img = image::open(&sheet).unwrap();
    // One row of 128x96 cells (images below 160 px keep their size) and six columns.
    assert!(
        img.width() > 6 * 128 && img.height() > 96 && img.height() < 2 * 96 + 40,
        "{}x{}",
        img.width(),
        img.height()
    );
}

#[test]
fn profile_cells_write_to_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "name = \"n\"\n[[corruption]]\nname = \"gaussian_noise\"\nseverities = [2, 4]\n",
    )
    .unwrap();
    let out = dir.path().join("cells");
    let r = edgeclip(&[
        "corrupt",
        s(&input()),
        "--profile",
        s(&profile),
        "-o",
        s(&out),
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(
        out.join("gaussian_noise_s2.png").is_file() && out.join("gaussian_noise_s4.png").is_file()
    );
    assert!(!out.join("gaussian_noise_s1.png").exists());
}

#[test]
fn bench_json_has_one_entry_per_cell() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "name = \"n\"\n[[corruption]]\nname = \"gaussian_noise\"\nseverities = [1, 3]\n",
    )
    .unwrap();
    for threads in ["1", "2"] {
        let r = edgeclip(&[
            "corrupt",
            s(&input()),
            "--profile",
            s(&profile),
            "--bench",
            "--repeats",
            "2",
            "--threads",
            threads,
            "--json",
        ]);
        assert!(r.status.success(), "{}", stderr(&r));
        let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        let cells = v.as_array().unwrap();
        assert_eq!(cells.len(), 2);
        for (cell, sev) in cells.iter().zip([1, 3]) {
            assert_eq!(cell["corruption"], "gaussian_noise");
            assert_eq!(cell["severity"], sev);
            assert!(cell["median_ms"].as_f64().unwrap() > 0.0);
        }
    }
}

#[test]
fn odd_inputs_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    // Grayscale, alpha and palette images are read as RGB; a 1x1 image is a valid image.
    let tiny = dir.path().join("tiny.png");
    image::RgbImage::from_pixel(1, 1, image::Rgb([200, 100, 50]))
        .save(&tiny)
        .unwrap();
    for img in [
        image("gray.png"),
        image("rgba.png"),
        image("palette.png"),
        tiny,
    ] {
        let out = dir.path().join("o.png");
        let r = edgeclip(&[
            "corrupt",
            s(&img),
            "--corruption",
            "gaussian_noise",
            "-o",
            s(&out),
        ]);
        assert!(r.status.success(), "{}: {}", img.display(), stderr(&r));
        let o = image::open(&out).unwrap();
        let i = image::open(&img).unwrap();
        assert_eq!((o.width(), o.height()), (i.width(), i.height()));
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.png");
    let i = input();
    let run = |args: &[&str]| edgeclip(&[&["corrupt"], args].concat());
    assert_clear_error(
        &run(&[
            s(&i),
            "--corruption",
            "fog",
            "--severity",
            "0",
            "-o",
            s(&out),
        ]),
        "severity must be an integer from 1 to 5, got 0",
    );
    assert_clear_error(
        &run(&[
            s(&i),
            "--corruption",
            "fog",
            "--severity",
            "6",
            "-o",
            s(&out),
        ]),
        "got 6",
    );
    assert_clear_error(
        &run(&[s(&i), "--corruption", "sandstorm", "-o", s(&out)]),
        "valid names: gaussian_noise",
    );
    assert_clear_error(
        &run(&[s(&i), "--profile", "moon-base", "--bench"]),
        "built-in profiles: driving",
    );
    assert_clear_error(
        &run(&[s(&i), "--corruption", "gaussian_noise"]),
        "needs -o OUT",
    );
    assert_clear_error(
        &run(&[
            s(&i),
            "--corruption",
            "gaussian_noise",
            "-o",
            s(&dir.path().join("o.xyz")),
        ]),
        "unsupported file extension",
    );
    assert_clear_error(
        &run(&[
            s(&i),
            "--corruption",
            "gaussian_noise",
            "-o",
            s(&dir.path().join("no/such/o.png")),
        ]),
        "does not exist",
    );
    assert_clear_error(
        &run(&[
            s(&image("not_an_image.jpg")),
            "--corruption",
            "gaussian_noise",
            "-o",
            s(&out),
        ]),
        "cannot decode image",
    );
    assert_clear_error(
        &run(&[
            s(&image("bomb.png")),
            "--corruption",
            "gaussian_noise",
            "-o",
            s(&out),
        ]),
        "bomb.png",
    );
    assert_clear_error(
        &run(&[
            s(&dir.path().join("missing.png")),
            "--corruption",
            "gaussian_noise",
            "-o",
            s(&out),
        ]),
        "cannot read image",
    );
    assert_clear_error(&run(&[s(&i), "--profile", "driving"]), "needs --grid");
    assert_clear_error(
        &run(&[
            s(&i),
            "--profile",
            "imagenet-c",
            "--bench",
            "--repeats",
            "0",
        ]),
        "--repeats must be at least 1",
    );
    assert_clear_error(
        &run(&[
            s(&i),
            "--profile",
            "imagenet-c",
            "--bench",
            "--threads",
            "0",
        ]),
        "--threads must be between 1",
    );
    assert_clear_error(
        &run(&[
            s(&i),
            "--profile",
            "imagenet-c",
            "--bench",
            "--threads",
            "100000",
        ]),
        "--threads must be between 1",
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"b\"\n[[corruption]]\nname = \"gaussian_noise\"\nseverities = [7]\n",
    )
    .unwrap();
    assert_clear_error(
        &run(&[s(&i), "--profile", s(&bad), "--bench"]),
        "corruption 'gaussian_noise': severity must be an integer from 1 to 5, got 7",
    );
    std::fs::write(&bad, "name = \"b\"\n[[corruption]]\nname = \"lava\"\n").unwrap();
    assert_clear_error(
        &run(&[s(&i), "--profile", s(&bad), "--bench"]),
        "unknown corruption 'lava'",
    );
    assert!(!out.exists(), "no output is left behind by a failed run");
}

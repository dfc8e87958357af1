//! `edgeclip bench` against the real binary: the default run, the JSON report, saving and
//! comparing, thread and batch sweeps, and every bad input it promises a clear error for.

mod common;

use common::*;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("bench --json prints JSON")
}

#[test]
fn runs_on_the_default_model_with_no_arguments() {
    let out = edgeclip(&["bench"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    for stage in [
        "preprocess",
        "image",
        "tokenize",
        "text",
        "head/1000",
        "machine:",
    ] {
        assert!(table.contains(stage), "no {stage} in:\n{table}");
    }
    assert!(table.contains("edgeclip-default"), "{table}");
}

#[test]
fn report_is_complete_saved_and_comparable() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("old.json");
    let out = edgeclip(&[
        "bench",
        "--model",
        s(&model("clip-tiny")),
        "--threads",
        "1,2",
        "--batch",
        "1,3",
        "--runs",
        "5",
        "--warmup",
        "1",
        "--classes",
        "50",
        "--json",
        "--save",
        s(&saved),
    ]);
    let report = json(&out);
    assert_eq!(report["schema"], "edgeclip-bench/1");
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    let results = report["results"].as_array().unwrap();
    let settings: Vec<(u64, u64)> = results
        .iter()
        .map(|r| (r["threads"].as_u64().unwrap(), r["batch"].as_u64().unwrap()))
        .collect();
    assert_eq!(settings, [(1, 1), (1, 3), (2, 1), (2, 3)]);
    for r in results {
        let image = &r["image"];
        let lat = &image["latency"];
        assert_eq!(lat["runs"], 5);
        let (p50, p90, p99) = (
            lat["median_ms"].as_f64().unwrap(),
            lat["p90_ms"].as_f64().unwrap(),
            lat["p99_ms"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p90 && p90 <= p99, "{lat}");
        assert!(image["optimize_ms"].as_f64().unwrap() > 0.0);
        assert!(image["gflops_per_s"].as_f64().unwrap() > 0.0);
        // Throughput is items per call over the median call.
        let items = image["items_per_s"].as_f64().unwrap();
        let batch = r["batch"].as_f64().unwrap();
        assert!((items - batch * 1e3 / p50).abs() < 1e-6 * items);
        assert!(r["text"]["latency"]["median_ms"].as_f64().unwrap() > 0.0);
        assert_eq!(r["head"]["runs"], 100);
        assert_eq!(r["head_classes"], 50);
        #[cfg(target_os = "linux")]
        assert!(r["peak_rss_mib"].as_f64().unwrap() > 1.0, "{r}");
    }
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(on_disk, report);

    let out = edgeclip(&[
        "bench",
        "--model",
        s(&model("clip-tiny")),
        "--runs",
        "3",
        "--image-only",
        "--compare",
        s(&saved),
        "--json",
    ]);
    let cmp = json(&out);
    assert!(cmp["results"][0]["text"].is_null());
    let stages: Vec<&str> = cmp["compare"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["preprocess", "image", "head", "peak_rss"][..stages.len()]
    );
    assert!(stages.len() >= 3);

    let out = edgeclip(&[
        "bench",
        "--model",
        s(&model("clip-tiny")),
        "--runs",
        "2",
        "--image-only",
        "--compare",
        s(&saved),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("change against"), "{table}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = model("clip-tiny");
    let broken = dir.path().join("broken");
    copy_dir(&tiny, &broken);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(broken.join("model.json")).unwrap()).unwrap();
    let onnx = manifest["image"]["onnx"].as_str().unwrap();
    std::fs::write(broken.join(onnx), b"not an onnx file").unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"results\": []}").unwrap();
    let missing = dir.path().join("missing");

    for (args, needle) in [
        (vec!["--model", s(&missing)], "missing"),
        (vec!["--model", s(&broken)], "ONNX"),
        (vec!["--model", s(&tiny), "--runs", "0"], "--runs"),
        (vec!["--model", s(&tiny), "--threads", "0"], "--threads"),
        (
            vec!["--model", s(&tiny), "--threads", "1,100000"],
            "--threads",
        ),
        (vec!["--model", s(&tiny), "--batch", "0"], "--batch"),
        (
            vec!["--model", s(&tiny), "--compare", s(&junk)],
            "not an edgeclip bench report",
        ),
        (
            vec!["--model", s(&tiny), "--compare", s(&missing)],
            "cannot read",
        ),
    ] {
        let mut full = vec!["bench"];
        full.extend(args);
        assert_clear_error(&edgeclip(&full), needle);
    }
}

#[test]
fn encoder_commands_refuse_absurd_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = model("clip-tiny");
    let img = image("landscape.jpg");
    let cache = dir.path().join("c.ecpc");
    for bad in ["0", "100000"] {
        for args in [
            vec!["embed", "--model", s(&tiny), "--text", "a dog"],
            vec!["classify", "--model", s(&tiny), "--labels", "a,b", s(&img)],
            vec![
                "cache",
                "--model",
                s(&tiny),
                "--labels",
                "a,b",
                "-o",
                s(&cache),
            ],
            vec!["eval"],
        ] {
            let mut full = args.clone();
            full.extend(["--threads", bad]);
            assert_clear_error(&edgeclip(&full), "--threads must be between 1 and");
        }
    }
    assert!(!cache.exists());
}

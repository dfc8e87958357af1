//! The self-check and the monitor against the real binary, the built-in default model
//! and its committed samples.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/samples")
}

/// A labelled folder of `per_class` samples from each of `classes`.
fn small_set(root: &Path, classes: &[&str], per_class: usize) {
    for c in classes {
        std::fs::create_dir_all(root.join(c)).unwrap();
        for i in 0..per_class {
            let name = format!("{i:03}.png");
            std::fs::copy(samples().join(c).join(&name), root.join(c).join(&name)).unwrap();
        }
    }
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}); stderr: {}", stderr(out)))
}

const CLASSES: [&str; 3] = ["stop sign", "yield sign", "traffic light"];

#[test]
fn selfcheck_agrees_with_corrupt_and_classify_run_separately() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_set(&data, &CLASSES, 3);
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "name = \"p\"\n[[corruption]]\nname = \"gaussian_noise\"\nseverities = [5]\n\
         [[corruption]]\nname = \"fog\"\nseverities = [3]\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = edgeclip(&[
        "selfcheck",
        "--data",
        data.to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
        "--seed",
        "40",
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(2)),
        "{}",
        stderr(&out)
    );
    let report = json_of(&out);
    assert_eq!(report["schema"], "edgeclip-selfcheck/1");
    assert_eq!(report["images"], 9);
    assert!(out_dir.join("report.json").is_file() && out_dir.join("report.svg").is_file());

    // Folder order: labels sorted, then file names; image i gets seed 40 + i.
    let mut labels: Vec<&str> = CLASSES.to_vec();
    labels.sort();
    let images: Vec<(PathBuf, &str)> = labels
        .iter()
        .flat_map(|l| {
            let data = &data;
            (0..3).map(move |i| (data.join(l).join(format!("{i:03}.png")), *l))
        })
        .collect();
    let classify = |paths: &[PathBuf]| -> Vec<String> {
        let mut args = vec!["classify", "--labels"];
        let joined = labels.join(",");
        args.push(&joined);
        args.push("--json");
        let strs: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
        args.extend(strs);
        let out = edgeclip(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        json_of(&out)["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["top"][0]["label"].as_str().unwrap().to_string())
            .collect()
    };
    let clean = classify(&images.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
    let clean_acc = clean
        .iter()
        .zip(&images)
        .filter(|(p, (_, l))| p == l)
        .count() as f64
        / 9.0;
    assert!((report["clean"]["accuracy"].as_f64().unwrap() - clean_acc).abs() < 1e-12);
    for (cell, (name, sev)) in [("gaussian_noise", "5"), ("fog", "3")].iter().enumerate() {
        let mut corrupted = Vec::new();
        for (i, (path, _)) in images.iter().enumerate() {
            let dst = dir.path().join(format!("{name}-{i}.png"));
            let seed = (40 + i).to_string();
            let out = edgeclip(&[
                "corrupt",
                path.to_str().unwrap(),
                "--corruption",
                name,
                "--severity",
                sev,
                "--seed",
                &seed,
                "-o",
                dst.to_str().unwrap(),
            ]);
            assert!(out.status.success(), "{}", stderr(&out));
            corrupted.push(dst);
        }
        let preds = classify(&corrupted);
        let flips = preds.iter().zip(&clean).filter(|(a, b)| a != b).count();
        let right = preds
            .iter()
            .zip(&images)
            .filter(|(p, (_, l))| p == l)
            .count();
        let c = &report["cells"][cell];
        assert_eq!(c["corruption"], *name);
        assert!(
            (c["lfp"].as_f64().unwrap() - flips as f64 / 9.0).abs() < 1e-12,
            "{c}"
        );
        assert!(
            (c["accuracy"].as_f64().unwrap() - right as f64 / 9.0).abs() < 1e-12,
            "{c}"
        );
    }
}

#[test]
fn selfcheck_skips_unreadable_images_and_rejects_empty_folders() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_set(&data, &CLASSES[..2], 2);
    std::fs::write(data.join("stop sign/broken.png"), b"not a png").unwrap();
    let out = edgeclip(&[
        "selfcheck",
        "--data",
        data.to_str().unwrap(),
        "--profile",
        "imagenet-c",
        "--out",
        dir.path().join("o").to_str().unwrap(),
        "--json",
    ]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(2)),
        "{}",
        stderr(&out)
    );
    let r = json_of(&out);
    assert_eq!(r["images"], 4);
    assert_eq!(r["skipped"].as_array().unwrap().len(), 1);
    assert!(r["skipped"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("broken.png"));

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = edgeclip(&["selfcheck", "--data", empty.to_str().unwrap()]);
    assert_clear_error(&out, "contains no images");
    let out = edgeclip(&["selfcheck", "--profile", "nowhere"]);
    assert_clear_error(&out, "unknown profile");
    // Unlabelled images need prompts.
    let flat = dir.path().join("flat");
    std::fs::create_dir(&flat).unwrap();
    std::fs::copy(samples().join("stop sign/000.png"), flat.join("a.png")).unwrap();
    let out = edgeclip(&["selfcheck", "--data", flat.to_str().unwrap()]);
    assert_clear_error(&out, "--labels");
}

#[cfg(unix)]
#[test]
fn interrupted_selfcheck_reports_what_it_finished() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let child = edgeclip_command()
        .args(["selfcheck", "--json", "--out", out_dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let it finish a few chunks of images, then press Ctrl-C.
    std::thread::sleep(std::time::Duration::from_secs(8));
    // SAFETY: sending SIGINT to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let r = json_of(&out);
    assert_eq!(r["interrupted"], true);
    let n = r["images"].as_u64().unwrap();
    assert!(n > 0 && n < 240, "{n} images");
    assert_eq!(
        r["cells"][0]["images"], n,
        "every cell covers the same images"
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(saved["images"], n);
}

/// Runs `edgeclip monitor` and returns its JSON lines.
fn monitor(args: &[&str]) -> (std::process::Output, Vec<serde_json::Value>) {
    let out = edgeclip(&[&["monitor"], args].concat());
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (out, lines)
}

#[test]
fn calibrate_then_monitor_a_list_with_state_metrics_and_bad_frames() {
    let dir = tempfile::tempdir().unwrap();
    let calib = dir.path().join("site.ecc");
    let out = edgeclip(&["calibrate", "-o", calib.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = json_of(&out);
    assert_eq!(c["frames"], 240);
    assert!(c["temperature"].as_f64().unwrap() > 0.0);
    assert!((c["hit_rate"].as_f64().unwrap() - c["clean_accuracy"].as_f64().unwrap()).abs() < 0.01);

    let mut paths: Vec<String> = CLASSES
        .iter()
        .flat_map(|c| (0..4).map(move |i| samples().join(c).join(format!("{i:03}.png"))))
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    let broken = dir.path().join("broken.jpg");
    std::fs::write(&broken, b"\xff\xd8 truncated").unwrap();
    paths.insert(5, broken.to_str().unwrap().to_string());
    let list = dir.path().join("list.txt");
    std::fs::write(&list, paths[..10].join("\n") + "\n").unwrap();
    let state = dir.path().join("monitor.state");
    let metrics = dir.path().join("edgeclip.prom");
    let base = [
        "--calibration",
        calib.to_str().unwrap(),
        "--list",
        list.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
        "--report-every",
        "4",
    ];
    let (out, lines) = monitor(&base);
    assert!(out.status.success(), "{}", stderr(&out));
    let skips: Vec<_> = lines.iter().filter(|l| l["event"] == "skip").collect();
    assert_eq!(skips.len(), 1);
    assert!(skips[0]["path"].as_str().unwrap().ends_with("broken.jpg"));
    let last = lines.last().unwrap();
    assert_eq!(last["final"], true);
    assert_eq!(last["snapshot"]["frames"], 9);
    assert_eq!(last["snapshot"]["skipped"], 1);
    assert_eq!(lines.iter().filter(|l| l["event"] == "window").count(), 3);
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        prom.contains("edgeclip_monitor_frames_total{model=\"edgeclip-default\"} 9\n"),
        "{prom}"
    );

    // Appended paths are picked up where the last run stopped, with the state carried over.
    std::fs::write(&list, paths.join("\n") + "\n").unwrap();
    let (out, lines) = monitor(&base);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines.last().unwrap()["snapshot"]["frames"], 12);

    // A damaged state is refused with the way out; --reset-state starts afresh.
    let mut bytes = std::fs::read(&state).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&state, &bytes).unwrap();
    let (out, _) = monitor(&base);
    assert_clear_error(&out, "--reset-state");
    let (out, lines) = monitor(&[&base[..], &["--reset-state"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines.last().unwrap()["snapshot"]["frames"], 12);
}

#[test]
fn monitor_refuses_a_calibration_from_another_model() {
    let dir = tempfile::tempdir().unwrap();
    let calib = dir.path().join("site.ecc");
    let out = edgeclip(&["calibrate", "-o", calib.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let img = samples().join("stop sign/000.png");
    let out = edgeclip(&[
        "monitor",
        "--model",
        model("clip-tiny").to_str().unwrap(),
        "--calibration",
        calib.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    assert_clear_error(&out, "another image encoder");
    let junk = dir.path().join("junk.ecc");
    std::fs::write(&junk, b"ECCALIBR but nothing else").unwrap();
    let out = edgeclip(&[
        "monitor",
        "--calibration",
        junk.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    assert_clear_error(&out, "calibration");
}

#[cfg(unix)]
#[test]
fn monitor_watches_a_folder_and_serves_metrics_until_interrupted() {
    use std::io::{BufRead, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let calib = dir.path().join("site.ecc");
    let out = edgeclip(&["calibrate", "-o", calib.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for (i, c) in CLASSES.iter().enumerate() {
        std::fs::copy(
            samples().join(c).join("000.png"),
            frames.join(format!("{i}.png")),
        )
        .unwrap();
    }
    let mut child = edgeclip_command()
        .args([
            "monitor",
            "--calibration",
            calib.to_str().unwrap(),
            "--watch",
        ])
        .arg(&frames)
        .args([
            "--settle-ms",
            "0",
            "--poll-ms",
            "50",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the watcher whatever happens below, so a failure cannot hang the test run.
    struct KillOnDrop(u32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            // SAFETY: signalling our own child process.
            unsafe {
                libc::kill(self.0 as i32, libc::SIGKILL);
            }
        }
    }
    let _guard = KillOnDrop(child.id());
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("serving metrics on http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected stderr: {line}"))
        .to_string();
    // Wait until the three frames are scored, then scrape.
    let mut body = String::new();
    for _ in 0..100 {
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        body.clear();
        conn.read_to_string(&mut body).unwrap();
        if body.contains("edgeclip_monitor_frames_total{model=\"edgeclip-default\"} 3\n") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(
        body.contains("frames_total{model=\"edgeclip-default\"} 3\n"),
        "{body}"
    );
    // SAFETY: sending SIGINT to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["snapshot"]["frames"], 3);
}

/// The monitor's evaluation on the default model (about a minute on two cores):
/// `cargo test --release --test selfcheck_monitor -- --ignored --nocapture`.
#[test]
#[ignore]
fn monitor_meets_its_targets_on_the_default_model() {
    let out = edgeclip(&["monitor-eval", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = &json_of(&out)["report"];
    println!("{}", serde_json::to_string_pretty(r).unwrap());
    assert!(r["clean_frames"].as_u64().unwrap() >= 50_000);
    assert!(r["false_alarms_per_2000"].as_f64().unwrap() <= 1.0);
    assert!(r["median_delay"].as_f64().unwrap() <= 100.0);
    assert!(r["missed_rate"].as_f64().unwrap() <= 0.05);
    assert!(r["atc_mae_points"].as_f64().unwrap() <= 5.0);
}

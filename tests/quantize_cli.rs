//! `edgeclip quantize` against the real binary: the built-in model end to end (accuracy
//! budget, a loadable int8 directory), the fixture models, and every bad input it
//! promises a clear error for.

mod common;

use common::*;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

fn fails_with(args: &[&str], needle: &str) {
    let out = edgeclip(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should fail; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = stderr(&out);
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Quantizing a quantized model directory is refused, and nothing is written.
fn refuses_requantizing(model: &Path, out: &Path) {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/samples");
    let args = [
        "quantize",
        "--model",
        s(model),
        "--data",
        s(&samples),
        "-o",
        s(out),
    ];
    fails_with(&args, "already quantized");
    assert!(!out.exists());
}

#[test]
fn default_model_quantizes_within_its_accuracy_budget() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int8");
    let r = json(&edgeclip(&["quantize", "-o", s(&out), "--json"]));
    assert_eq!(r["format"], "edgeclip-quantize/1");
    for t in r["towers"].as_array().unwrap() {
        let cos = t["cosine_mean"].as_f64().unwrap();
        assert!(cos >= 0.99, "{} cosine {cos}", t["tower"]);
        assert!(t["layers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["precision"] == "int8"));
        for l in t["layers"].as_array().unwrap() {
            assert!(l["sqnr_db"].as_f64().unwrap() > 0.0, "{l}");
        }
    }
    let image = &r["towers"][0];
    assert_eq!(image["tower"], "image");
    let ratio = image["bytes_out"].as_f64().unwrap() / image["bytes_f32"].as_f64().unwrap();
    assert!(ratio < 0.4, "image encoder only shrank to {ratio}");
    let z = &r["zero_shot"];
    assert!(z["top1_agreement"].as_f64().unwrap() >= 0.98, "{z}");
    let drop = z["accuracy_f32"].as_f64().unwrap() - z["accuracy_quantized"].as_f64().unwrap();
    assert!(drop <= 0.01, "{z}");

    // A complete model directory: manifest, report, and it runs.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    assert_eq!(manifest["precision"], "int8");
    assert_eq!(manifest["quantization"]["mode"], "int8");
    assert!(out.join("quantize-report.json").is_file());
    let info = edgeclip(&["info", "--model", s(&out)]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("int8"), "{text}");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/samples");
    let eval = json(&edgeclip(&[
        "eval",
        "--model",
        s(&out),
        "--data",
        s(&samples),
        "--json",
    ]));
    let f32_eval = json(&edgeclip(&["eval", "--json"]));
    let (a, b) = (
        f32_eval["accuracy"].as_f64().unwrap(),
        eval["accuracy"].as_f64().unwrap(),
    );
    assert!(a - b <= 0.01, "eval accuracy {a} -> {b}");

    // Quantizing the result again is refused, and the output is never overwritten.
    refuses_requantizing(&out, &dir.path().join("again"));
    fails_with(&["quantize", "-o", s(&out)], "already exists");
}

#[test]
fn fixture_models_quantize_to_close_embeddings() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/samples");
    for name in MODELS {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(name);
        let r = json(&edgeclip(&[
            "quantize",
            "--model",
            s(&model(name)),
            "--data",
            s(&samples),
            "--calibration-images",
            "4",
            "--heldout-images",
            "8",
            "--corrupt",
            "driving",
            "-o",
            s(&out),
            "--json",
        ]));
        assert_eq!(r["corrupt_profile"], "driving", "{name}");
        for t in r["towers"].as_array().unwrap() {
            let cos = t["cosine_mean"].as_f64().unwrap();
            assert!(cos >= 0.99, "{name} {} cosine {cos}", t["tower"]);
            // ALIGN's image tower (EfficientNet) is all convolutions: carried over as f32.
            let carried = *name == "align-tiny" && t["tower"] == "image";
            assert_eq!(t["note"].is_string(), carried, "{name} {t}");
        }
        let emb = edgeclip(&[
            "embed",
            "--model",
            s(&out),
            "--text",
            "a photo of a stop sign",
            "--json",
        ]);
        assert!(emb.status.success(), "{name}: {}", stderr(&emb));
    }
}

#[test]
fn keep_f32_and_thresholds_steer_the_choice() {
    let dir = tempfile::tempdir().unwrap();
    let r = json(&edgeclip(&[
        "quantize",
        "--keep-f32",
        "fc2",
        "--min-sqnr",
        "1000",
        "--heldout-images",
        "8",
        "-o",
        s(&dir.path().join("a")),
        "--json",
    ]));
    for t in r["towers"].as_array().unwrap() {
        for l in t["layers"].as_array().unwrap() {
            assert_eq!(l["precision"], "f32", "{l}");
            let want = if l["name"].as_str().unwrap().contains("fc2") {
                "requested"
            } else {
                "low-sqnr"
            };
            assert_eq!(l["reason"], want, "{l}");
        }
    }
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fails_with(
        &[
            "quantize",
            "--model",
            s(&model("clip-tiny")),
            "--data",
            s(&empty),
            "-o",
            s(&out),
        ],
        "contains no images",
    );
    fails_with(
        &["quantize", "--model", s(&model("clip-tiny")), "-o", s(&out)],
        "--data is required",
    );
    fails_with(
        &[
            "quantize",
            "--model",
            s(&dir.path().join("nope")),
            "--data",
            s(&empty),
            "-o",
            s(&out),
        ],
        "does not exist",
    );
    fails_with(
        &["quantize", "--target-cosine", "2", "-o", s(&out)],
        "--target-cosine",
    );
    fails_with(
        &["quantize", "--calibration-images", "0", "-o", s(&out)],
        "--calibration-images",
    );
    fails_with(
        &["quantize", "--corrupt", "no-such-profile", "-o", s(&out)],
        "no-such-profile",
    );

    // An encoder with no linear layer to quantize, and one that is not ONNX at all.
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/samples");
    let odd = dir.path().join("odd");
    copy_dir(&model("clip-tiny"), &odd);
    let identity = edgeclip_quantize::onnx::OnnxFile::from_graph(
        tract_onnx::pb::GraphProto {
            node: vec![edgeclip_quantize::onnx::node(
                "id",
                "Identity",
                "",
                &["pixel_values"],
                &["image_embeds"],
            )],
            ..Default::default()
        },
        17,
    );
    std::fs::write(odd.join("image.onnx"), identity.encode()).unwrap();
    std::fs::write(odd.join("text.onnx"), identity.encode()).unwrap();
    let args = [
        "quantize",
        "--model",
        s(&odd),
        "--data",
        s(&samples),
        "--calibration-images",
        "2",
        "--heldout-images",
        "2",
        "-o",
        s(&out),
    ];
    fails_with(&args, "neither encoder");
    std::fs::write(odd.join("image.onnx"), b"not a protobuf at all").unwrap();
    fails_with(&args, "not an ONNX model");
    assert!(!out.exists(), "a failed run left {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(".out"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

/// `--mode f16` on the built-in model: half the size, and close to f32 both computed in
/// f32 from the f16 weights and (forced here, native on ARMv8.2) in f16 arithmetic.
#[test]
fn f16_mode_halves_the_model_and_stays_close_in_f16_arithmetic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f16");
    let run = |extra_env: Option<&str>, out: &Path| {
        let mut cmd = edgeclip_command();
        if let Some(v) = extra_env {
            cmd.env("EDGECLIP_F16_COMPUTE", v);
        }
        cmd.args([
            "quantize",
            "--mode",
            "f16",
            "--heldout-images",
            "60",
            "-o",
            s(out),
            "--json",
        ]);
        json(&cmd.output().unwrap())
    };
    let r = run(Some("1"), &out);
    assert_eq!(r["mode"], "f16");
    assert_eq!(r["f16_compute"], true);
    assert_eq!(r["calibration_images"], 0);
    for t in r["towers"].as_array().unwrap() {
        let cos = t["cosine_mean"].as_f64().unwrap();
        assert!(
            cos >= 0.999,
            "{} cosine {cos} in f16 arithmetic",
            t["tower"]
        );
        let ratio = t["bytes_out"].as_f64().unwrap() / t["bytes_f32"].as_f64().unwrap();
        assert!(
            (0.45..0.6).contains(&ratio),
            "{} only shrank to {ratio}",
            t["tower"]
        );
        assert!(t["note"].as_str().unwrap().contains("stored as f16"), "{t}");
    }
    let z = &r["zero_shot"];
    assert!(z["top1_agreement"].as_f64().unwrap() >= 0.98, "{z}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    assert_eq!(manifest["precision"], "f16");
    assert_eq!(manifest["quantization"]["mode"], "f16");

    // The written model classifies like f32 in either arithmetic.
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/samples");
    let f32_acc = json(&edgeclip(&["eval", "--json"]))["accuracy"]
        .as_f64()
        .unwrap();
    for compute in ["0", "1"] {
        let mut cmd = edgeclip_command();
        cmd.env("EDGECLIP_F16_COMPUTE", compute);
        cmd.args(["eval", "--model", s(&out), "--data", s(&samples), "--json"]);
        let acc = json(&cmd.output().unwrap())["accuracy"].as_f64().unwrap();
        assert!(
            f32_acc - acc <= 0.01,
            "EDGECLIP_F16_COMPUTE={compute}: {f32_acc} -> {acc}"
        );
    }

    // f16 models are not quantized again, --corrupt has nothing to calibrate, and a bad
    // override is refused.
    refuses_requantizing(&out, &dir.path().join("x"));
    fails_with(
        &[
            "quantize",
            "--mode",
            "f16",
            "--corrupt",
            "driving",
            "-o",
            s(&dir.path().join("y")),
        ],
        "f16 mode has no calibration",
    );
    let mut cmd = edgeclip_command();
    cmd.env("EDGECLIP_F16_COMPUTE", "yes");
    cmd.args(["eval", "--model", s(&out), "--data", s(&samples)]);
    assert_clear_error(
        &cmd.output().unwrap(),
        "EDGECLIP_F16_COMPUTE must be 0 or 1",
    );
    assert!(!dir.path().join("x").exists() && !dir.path().join("y").exists());
}

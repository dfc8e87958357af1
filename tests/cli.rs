//! The real binary against real files: happy paths and every bad input the runtime
//! promises a clear one-line error for.

mod common;

use common::*;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `edgeclip embed` on one fixture image.
fn embed_image(model_dir: &Path, image_name: &str) -> std::process::Output {
    edgeclip(&[
        "embed",
        "--model",
        s(model_dir),
        "--image",
        s(&image(image_name)),
    ])
}

/// Runs `edgeclip classify` with a fixture model on the landscape image.
fn classify_landscape(model_name: &str, args: &[&str]) -> std::process::Output {
    let m = model(model_name);
    let img = image("landscape.jpg");
    let mut all = vec!["classify", "--model", s(&m)];
    all.extend_from_slice(args);
    all.push(s(&img));
    edgeclip(&all)
}

/// Writes a two-label prompt cache for `model_dir` with the binary.
fn write_cache(model_dir: &Path, cache: &Path) {
    let out = edgeclip(&[
        "cache",
        "--model",
        s(model_dir),
        "--labels",
        "a,b",
        "-o",
        s(cache),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn classify_with_labels_prints_a_table_and_json() {
    let m = model("clip-tiny");
    let out = edgeclip(&[
        "classify",
        "--model",
        s(&m),
        "--labels",
        "cat,dog,car",
        "--top",
        "2",
        s(&image("landscape.jpg")),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("landscape.jpg") && text.contains(" 1. "),
        "{text}"
    );
    let out = edgeclip(&[
        "classify",
        "--model",
        s(&m),
        "--labels",
        "cat,dog,car",
        "--json",
        s(&image("landscape.jpg")),
        s(&image("portrait.png")),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["head"], "softmax");
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    let top = v["results"][0]["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    let total: f64 = top.iter().map(|t| t["prob"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4);
}

#[test]
fn cache_then_classify_matches_classify_with_labels() {
    let m = model("siglip-tiny");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("p.ecp");
    let out = edgeclip(&[
        "cache",
        "--model",
        s(&m),
        "--labels",
        "stop sign,yield sign,car",
        "--templates",
        "imagenet",
        "-o",
        s(&cache),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let img = image("square224.png");
    let a = edgeclip(&[
        "classify",
        "--model",
        s(&m),
        "--cache",
        s(&cache),
        "--json",
        s(&img),
    ]);
    let b = edgeclip(&[
        "classify",
        "--model",
        s(&m),
        "--labels",
        "stop sign,yield sign,car",
        "--templates",
        "imagenet",
        "--json",
        s(&img),
    ]);
    assert!(
        a.status.success() && b.status.success(),
        "{} {}",
        stderr(&a),
        stderr(&b)
    );
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["head"], "sigmoid");
}

#[test]
fn a_device_with_a_cache_needs_no_text_encoder() {
    let src = model("clip-tiny");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("p.ecp");
    write_cache(&src, &cache);
    // Deploy: copy the model, record the fingerprint, remove the text encoder.
    let dev = dir.path().join("device");
    copy_dir(&src, &dev);
    let info = edgeclip(&["info", "--model", s(&src), "--json"]);
    let fp = serde_json::from_slice::<serde_json::Value>(&info.stdout).unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest_path = dev.join("model.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest["text"]["fingerprint"] = fp.into();
    std::fs::write(&manifest_path, serde_json::to_string(&manifest).unwrap()).unwrap();
    std::fs::remove_file(dev.join(manifest["text"]["onnx"].as_str().unwrap())).unwrap();
    let out = edgeclip(&[
        "classify",
        "--model",
        s(&dev),
        "--cache",
        s(&cache),
        s(&image("landscape.jpg")),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn embed_json_has_unit_vectors() {
    let m = model("align-tiny");
    let out = edgeclip(&[
        "embed",
        "--model",
        s(&m),
        "--image",
        s(&image("gray.png")),
        "--text",
        "a dog",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for e in [&v["images"][0]["embedding"], &v["texts"][0]["embedding"]] {
        let n: f64 = e
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap().powi(2))
            .sum();
        assert!((n - 1.0).abs() < 1e-4);
    }
}

#[test]
fn info_reports_shapes_params_and_flops() {
    let out = edgeclip(&["info", "--model", s(&model("clip-tiny")), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["family"], "clip");
    assert_eq!(
        v["image"]["input_shape"],
        serde_json::json!([1, 3, 224, 224])
    );
    assert!(v["image"]["params"].as_u64().unwrap() > 1000);
    assert!(v["image"]["flops_per_image"].as_u64().unwrap() > 100_000);
    assert!(v["text"]["flops_per_text"].as_u64().unwrap() > 1000);
    assert_eq!(v["text"]["vocab_size"], 49408);
}

#[test]
fn missing_model_directory() {
    let out = edgeclip(&["info", "--model", "/no/such/model"]);
    assert_clear_error(&out, "does not exist");
}

#[test]
fn missing_onnx_file() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&model("clip-tiny"), dir.path());
    std::fs::remove_file(dir.path().join("image.onnx")).unwrap();
    let out = embed_image(dir.path(), "landscape.jpg");
    assert_clear_error(&out, "image.onnx");
}

#[test]
fn not_an_onnx_file() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&model("clip-tiny"), dir.path());
    std::fs::write(
        dir.path().join("image.onnx"),
        b"this is a text file, not a protobuf\n",
    )
    .unwrap();
    let out = embed_image(dir.path(), "landscape.jpg");
    assert_clear_error(&out, "not a loadable ONNX model");
}

#[test]
fn truncated_onnx_file() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&model("clip-tiny"), dir.path());
    let p = dir.path().join("image.onnx");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let out = embed_image(dir.path(), "landscape.jpg");
    assert_clear_error(&out, "not a loadable ONNX model");
}

fn with_manifest_edit(edit: impl Fn(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&model("clip-tiny"), dir.path());
    let p = dir.path().join("model.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    dir
}

#[test]
fn manifest_with_unknown_version() {
    let dir = with_manifest_edit(|v| v["version"] = 99.into());
    let out = edgeclip(&["info", "--model", s(dir.path())]);
    assert_clear_error(&out, "unsupported manifest version 99");
}

#[test]
fn manifest_with_missing_field() {
    let dir = with_manifest_edit(|v| {
        v["image"]["preprocess"]
            .as_object_mut()
            .unwrap()
            .remove("mean");
    });
    let out = edgeclip(&["info", "--model", s(dir.path())]);
    assert_clear_error(&out, "missing field `mean`");
}

#[test]
fn image_that_is_not_an_image() {
    let out = embed_image(&model("clip-tiny"), "not_an_image.jpg");
    assert_clear_error(&out, "not_an_image.jpg");
}

#[test]
fn zero_byte_image() {
    let out = embed_image(&model("clip-tiny"), "empty.png");
    assert_clear_error(&out, "empty (0 bytes)");
}

#[test]
fn decompression_bomb() {
    let out = embed_image(&model("clip-tiny"), "bomb.png");
    assert_clear_error(&out, "bomb.png");
    assert!(
        stderr(&out).to_lowercase().contains("limit"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_image_file() {
    let out = edgeclip(&[
        "classify",
        "--model",
        s(&model("clip-tiny")),
        "--labels",
        "a,b",
        "/no/such.jpg",
    ]);
    assert_clear_error(&out, "/no/such.jpg");
}

#[test]
fn empty_label_list() {
    let out = classify_landscape("clip-tiny", &["--labels", " , "]);
    assert_clear_error(&out, "label list is empty");
}

#[test]
fn cache_from_another_model() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("clip.ecp");
    write_cache(&model("clip-tiny"), &cache);
    let out = classify_landscape("siglip-tiny", &["--cache", s(&cache)]);
    assert_clear_error(&out, "was made for model");
}

#[test]
fn truncated_and_corrupted_caches() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c.ecp");
    write_cache(&model("clip-tiny"), &cache);
    let bytes = std::fs::read(&cache).unwrap();
    std::fs::write(&cache, &bytes[..bytes.len() - 10]).unwrap();
    let out = classify_landscape("clip-tiny", &["--cache", s(&cache)]);
    assert_clear_error(&out, "truncated");
    let mut flipped = bytes.clone();
    flipped[30] ^= 0xff;
    std::fs::write(&cache, &flipped).unwrap();
    let out = classify_landscape("clip-tiny", &["--cache", s(&cache)]);
    assert_clear_error(&out, "corrupted");
}

#[test]
fn unknown_templates_and_zero_top() {
    let out = classify_landscape("clip-tiny", &["--labels", "a", "--templates", "fancy"]);
    assert_clear_error(&out, "neither a built-in set");
    let out = classify_landscape("clip-tiny", &["--labels", "a", "--top", "0"]);
    assert_clear_error(&out, "--top");
}

#[test]
fn bench_rejects_zero_runs() {
    let out = edgeclip(&["bench", "--model", s(&model("clip-tiny")), "--runs", "0"]);
    assert_clear_error(&out, "--runs");
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = edgeclip_command()
        .args([
            "embed",
            "--model",
            s(&model("clip-tiny")),
            "--text",
            "a",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

//! The built-in default model: found without `--model`, and still accurate on its
//! committed samples, so a silent break in preprocessing or tokenization fails CI.

mod common;

use common::*;

#[test]
fn default_model_accuracy_on_committed_samples_stays_above_85_percent() {
    let out = edgeclip(&["eval", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acc = v["accuracy"].as_f64().unwrap();
    assert_eq!(v["images"], 240);
    assert_eq!(v["per_class"].as_array().unwrap().len(), 12);
    assert!(v["skipped"].as_array().unwrap().is_empty());
    // The model card records 96.25% for the Python reference on these 240 images.
    assert!(acc > 0.85, "default model accuracy {acc}");
}

#[test]
fn classify_works_without_model() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let img = root.join("models/samples/stop sign/000.png");
    let out = edgeclip(&[
        "classify",
        "--labels",
        "stop sign,yield sign,traffic light,parking sign",
        "--json",
        img.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], "edgeclip-default");
    assert_eq!(v["results"][0]["top"][0]["label"], "stop sign");
}

#[test]
fn eval_of_a_folder_without_images_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cat")).unwrap();
    std::fs::write(dir.path().join("cat/readme.txt"), "no images").unwrap();
    let out = edgeclip(&[
        "eval",
        "--model",
        model("clip-tiny").to_str().unwrap(),
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("contains no images"));
    let out = edgeclip(&["eval", "--model", model("clip-tiny").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data is required"));
}

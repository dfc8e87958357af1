//! Shared helpers for the integration tests: fixture paths, golden files, the binary.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A committed tiny model directory.
pub fn model(name: &str) -> PathBuf {
    fixtures().join("models").join(name)
}

/// A committed test image.
pub fn image(name: &str) -> PathBuf {
    fixtures().join("images").join(name)
}

/// The fixture model names.
pub const MODELS: &[&str] = &["clip-tiny", "siglip-tiny", "align-tiny"];

/// Parsed `goldens.json` of a fixture model.
pub fn goldens(model: &str) -> serde_json::Value {
    let p = fixtures().join("goldens").join(model).join("goldens.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// Path inside a model's golden folder.
pub fn golden_file(model: &str, name: &str) -> PathBuf {
    fixtures().join("goldens").join(model).join(name)
}

/// Reads a (gzipped) little-endian float32 or uint8 `.npy` file as floats: `(shape, data)`.
pub fn read_npy_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    };
    assert_eq!(&bytes[..6], b"\x93NUMPY", "not an npy file");
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    let is_u8 = header.contains("'descr': '|u1'");
    assert!(is_u8 || header.contains("'descr': '<f4'"), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let shape_str = header.split("'shape': (").nth(1).unwrap();
    let shape_str = &shape_str[..shape_str.find(')').unwrap()];
    let shape: Vec<usize> = shape_str
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let body = &bytes[start + header_len..];
    let data: Vec<f32> = if is_u8 {
        body.iter().map(|&b| b as f32).collect()
    } else {
        body.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    assert_eq!(data.len(), shape.iter().product::<usize>());
    (shape, data)
}

/// Float vector from a JSON array.
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Integer vector from a JSON array.
pub fn ints(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// A command for the real `edgeclip` binary, with no `EDGECLIP_MODEL` from the caller's
/// environment. When `EDGECLIP_TEST_RUNNER` is set (a program and its arguments, split at
/// white space) the binary runs through it: a test binary cross-built for ARM and run
/// under qemu-user can only start another ARM binary through qemu unless binfmt_misc
/// knows the format, which containers and CI machines often lack (`.ci/cross test`).
pub fn edgeclip_command() -> Command {
    let bin = env!("CARGO_BIN_EXE_edgeclip");
    let runner = std::env::var("EDGECLIP_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(bin);
            cmd
        }
        None => Command::new(bin),
    };
    cmd.env_remove("EDGECLIP_MODEL");
    cmd
}

/// Runs the real `edgeclip` binary.
pub fn edgeclip(args: &[&str]) -> Output {
    edgeclip_command()
        .args(args)
        .output()
        .expect("run edgeclip")
}

/// Copies a directory tree (fixtures are flat, one level of files).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The standard error of a run, as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failed run with a single `error:` line mentioning `needle`, and no panic.
pub fn assert_clear_error(out: &std::process::Output, needle: &str) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

//! The benchmark's JSON report (schema `edgeclip-bench/1`) and the comparison of two
//! reports, so a fleet's results can be collected and a change measured.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::machine::Machine;
use super::model::ModelResult;

/// Schema tag written into every report.
pub const SCHEMA: &str = "edgeclip-bench/1";

/// A whole `edgeclip bench` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// edgeclip version that measured.
    pub edgeclip: String,
    /// Where it ran.
    pub machine: Machine,
    /// Timed runs per encoder.
    pub runs: usize,
    /// Warm-up runs per stage.
    pub warmup: usize,
    /// One entry per (model, threads, batch), in the order measured.
    pub results: Vec<ModelResult>,
}

impl Report {
    /// A report of `results` measured on this machine.
    pub fn new(runs: usize, warmup: usize, results: Vec<ModelResult>) -> Report {
        Report {
            schema: SCHEMA.to_string(),
            edgeclip: env!("CARGO_PKG_VERSION").to_string(),
            machine: Machine::current(),
            runs,
            warmup,
            results,
        }
    }

    /// Reads a report written by `edgeclip bench --json`.
    pub fn load(path: &Path) -> Result<Report> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let probe: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        match probe.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => {}
            Some(other) => bail!(
                "{} has schema {other:?}; this edgeclip compares {SCHEMA:?} reports",
                path.display()
            ),
            None => bail!(
                "{} is not an edgeclip bench report (no \"schema\"); write one with `edgeclip bench --json > FILE`",
                path.display()
            ),
        }
        serde_json::from_value(probe)
            .with_context(|| format!("{} is a damaged {SCHEMA} report", path.display()))
    }
}

/// The change of one stage's median between two reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Model name.
    pub model: String,
    /// Precision.
    pub precision: String,
    /// Threads.
    pub threads: usize,
    /// Batch.
    pub batch: usize,
    /// preprocess, image, tokenize, text, head or peak_rss.
    pub stage: &'static str,
    /// Old value (median ms, or MiB for peak_rss).
    pub old: f64,
    /// New value.
    pub new: f64,
    /// new / old: below 1 is faster (or smaller).
    pub ratio: f64,
}

fn stages(r: &ModelResult) -> Vec<(&'static str, Option<f64>)> {
    vec![
        ("preprocess", Some(r.preprocess.median_ms)),
        ("image", Some(r.image.latency.median_ms)),
        ("tokenize", r.tokenize.as_ref().map(|l| l.median_ms)),
        ("text", r.text.as_ref().map(|t| t.latency.median_ms)),
        ("head", Some(r.head.median_ms)),
        ("peak_rss", r.peak_rss_mib),
    ]
}

/// Stage-by-stage changes for every setting present in both reports, matched by model
/// name, precision, threads and batch.
pub fn compare(old: &Report, new: &Report) -> Vec<Change> {
    let mut out = Vec::new();
    for n in &new.results {
        let Some(o) = old.results.iter().find(|o| {
            (&o.model, &o.precision, o.threads, o.batch)
                == (&n.model, &n.precision, n.threads, n.batch)
        }) else {
            continue;
        };
        for ((stage, nv), (_, ov)) in stages(n).into_iter().zip(stages(o)) {
            if let (Some(nv), Some(ov)) = (nv, ov) {
                out.push(Change {
                    model: n.model.clone(),
                    precision: n.precision.clone(),
                    threads: n.threads,
                    batch: n.batch,
                    stage,
                    old: ov,
                    new: nv,
                    ratio: if ov > 0.0 { nv / ov } else { f64::NAN },
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::model::EncoderResult;
    use crate::bench::Latency;
    use std::path::PathBuf;

    fn result(model: &str, threads: usize, image_ms: f64) -> ModelResult {
        let lat = |ms: f64| Latency::from_samples(&[ms]);
        ModelResult {
            model: model.to_string(),
            path: PathBuf::from("m"),
            family: "clip".into(),
            precision: "f32".into(),
            threads,
            batch: 1,
            preprocess: lat(1.0),
            image: EncoderResult {
                load_ms: 1.0,
                optimize_ms: 1.0,
                plan_batch: 1,
                gflop_per_item: 1.0,
                latency: lat(image_ms),
                items_per_s: 1.0,
                gflops_per_s: 1.0,
            },
            tokenize: None,
            text: None,
            head: lat(0.5),
            head_classes: 10,
            peak_rss_mib: Some(100.0),
        }
    }

    #[test]
    fn compares_matching_settings_only() {
        let old = Report::new(5, 1, vec![result("a", 1, 100.0), result("b", 1, 10.0)]);
        let new = Report::new(5, 1, vec![result("a", 1, 50.0), result("a", 2, 30.0)]);
        let changes = compare(&old, &new);
        // a@1 matches (4 stages with values); a@2 and b have no partner.
        assert_eq!(changes.len(), 4);
        let image = changes.iter().find(|c| c.stage == "image").unwrap();
        assert_eq!((image.old, image.new, image.ratio), (100.0, 50.0, 0.5));
        assert!(changes.iter().all(|c| c.model == "a" && c.threads == 1));
    }

    #[test]
    fn round_trips_and_refuses_foreign_json() {
        let dir = tempfile::tempdir().unwrap();
        let report = Report::new(5, 1, vec![result("a", 1, 100.0)]);
        let path = dir.path().join("r.json");
        std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(Report::load(&path).unwrap(), report);

        std::fs::write(&path, r#"{"model": "x"}"#).unwrap();
        let e = Report::load(&path).unwrap_err().to_string();
        assert!(e.contains("not an edgeclip bench report"), "{e}");
        std::fs::write(&path, r#"{"schema": "edgeclip-bench/9"}"#).unwrap();
        let e = Report::load(&path).unwrap_err().to_string();
        assert!(e.contains("edgeclip-bench/9"), "{e}");
        std::fs::write(&path, r#"{"schema": "edgeclip-bench/1", "runs": 1}"#).unwrap();
        let e = format!("{:#}", Report::load(&path).unwrap_err());
        assert!(e.contains("damaged"), "{e}");
    }
}

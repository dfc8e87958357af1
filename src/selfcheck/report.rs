//! The self-check report: its JSON schema (`edgeclip-selfcheck/1`), the aggregate verdict
//! and the terminal table.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::metrics::{mean, CellStats, Check, Thresholds};
use super::{Cell, Inputs, Options};

/// Schema name and version of the JSON report.
pub const SCHEMA: &str = "edgeclip-selfcheck/1";

/// A whole self-check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Model name from the manifest.
    pub model: String,
    /// Image folder.
    pub data: PathBuf,
    /// Whether accuracy could be computed.
    pub labelled: bool,
    /// Prompt labels, in prompt order (predictions index into this).
    pub labels: Vec<String>,
    /// Domain profile name.
    pub profile: String,
    /// Base seed (image `i` is corrupted with seed `seed + i`).
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Images finished (every cell covers exactly these).
    pub images: usize,
    /// Unreadable images, with the reason.
    pub skipped: Vec<Skipped>,
    /// True when the run was stopped early; the figures cover `images` only.
    pub interrupted: bool,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// The clean images.
    pub clean: CleanSummary,
    /// One entry per corruption x severity, in profile order.
    pub cells: Vec<CellReport>,
    /// One entry per corruption: means over its severities.
    pub corruptions: Vec<CorruptionSummary>,
    /// The aggregate figures.
    pub summary: Summary,
    /// The limits the checks used.
    pub thresholds: Thresholds,
    /// Each pass/fail check.
    pub checks: Vec<Check>,
    /// True when every check passed.
    pub pass: bool,
}

/// An image that could not be used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    /// Its path.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// Clean-image figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CleanSummary {
    /// Top-1 accuracy, when labelled.
    pub accuracy: Option<f64>,
    /// Mean probability of the predicted class.
    pub mean_confidence: f64,
    /// Mean entropy (nats).
    pub mean_entropy: f64,
}

/// One corruption x severity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellReport {
    /// Corruption name.
    pub corruption: String,
    /// Severity 1..5.
    pub severity: u8,
    /// Images.
    pub images: usize,
    /// Label-flip probability: share of images whose prediction differs from the clean one.
    pub lfp: f64,
    /// Top-1 accuracy, when labelled.
    pub accuracy: Option<f64>,
    /// Clean accuracy minus this accuracy, when labelled.
    pub accuracy_drop: Option<f64>,
    /// Mean cosine between clean and corrupted image embeddings.
    pub mean_cosine: f64,
    /// Mean change of the predicted class's probability (corrupted minus clean).
    pub mean_confidence_change: f64,
    /// Mean change of the entropy in nats (corrupted minus clean).
    pub mean_entropy_change: f64,
}

/// One corruption over its severities.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CorruptionSummary {
    /// Corruption name.
    pub corruption: String,
    /// Mean LFP over its severities.
    pub mean_lfp: f64,
    /// Mean accuracy over its severities, when labelled.
    pub mean_accuracy: Option<f64>,
}

/// Aggregate figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Mean LFP over all cells.
    pub mean_lfp: f64,
    /// Mean accuracy over all cells, when labelled.
    pub mean_corrupted_accuracy: Option<f64>,
    /// Mean corrupted accuracy / clean accuracy, when labelled.
    pub relative_robustness: Option<f64>,
    /// The corruption with the highest mean LFP.
    pub worst_corruption: String,
    /// Its mean LFP.
    pub worst_lfp: f64,
}

/// Assembles the report from the accumulated statistics.
#[allow(clippy::too_many_arguments)]
pub(super) fn build(
    inputs: &Inputs,
    opts: &Options,
    cells: &[Cell],
    clean: &CellStats,
    stats: &[CellStats],
    skipped: Vec<(PathBuf, String)>,
    interrupted: bool,
    elapsed_s: f64,
) -> Report {
    let clean_acc = clean.accuracy();
    let cell_reports: Vec<CellReport> = cells
        .iter()
        .zip(stats)
        .map(|(cell, s)| CellReport {
            corruption: cell.corruption.name().to_string(),
            severity: cell.severity.level(),
            images: s.images,
            lfp: s.lfp(),
            accuracy: s.accuracy(),
            accuracy_drop: s.accuracy().zip(clean_acc).map(|(a, c)| c - a),
            mean_cosine: s.mean_cosine(),
            mean_confidence_change: s.mean_confidence_change(),
            mean_entropy_change: s.mean_entropy_change(),
        })
        .collect();
    let mut corruptions: Vec<CorruptionSummary> = Vec::new();
    for entry in &inputs.profile.entries {
        let name = entry.corruption.name();
        let mine: Vec<&CellReport> = cell_reports
            .iter()
            .filter(|c| c.corruption == name)
            .collect();
        corruptions.push(CorruptionSummary {
            corruption: name.to_string(),
            mean_lfp: mean(mine.iter().map(|c| c.lfp)),
            mean_accuracy: clean_acc.map(|_| mean(mine.iter().filter_map(|c| c.accuracy))),
        });
    }
    let worst = corruptions
        .iter()
        .max_by(|a, b| a.mean_lfp.total_cmp(&b.mean_lfp))
        .cloned();
    let mean_acc = clean_acc.map(|_| mean(cell_reports.iter().filter_map(|c| c.accuracy)));
    let summary = Summary {
        mean_lfp: mean(cell_reports.iter().map(|c| c.lfp)),
        mean_corrupted_accuracy: mean_acc,
        relative_robustness: mean_acc
            .zip(clean_acc)
            .map(|(m, c)| if c > 0.0 { m / c } else { f64::NAN }),
        worst_corruption: worst
            .as_ref()
            .map_or(String::new(), |w| w.corruption.clone()),
        worst_lfp: worst.map_or(f64::NAN, |w| w.mean_lfp),
    };
    let t = opts.thresholds;
    let mut checks = vec![
        Check::at_most("mean_lfp", summary.mean_lfp, t.max_mean_lfp),
        Check::at_most("worst_corruption_lfp", summary.worst_lfp, t.max_worst_lfp),
    ];
    if let Some(r) = summary.relative_robustness {
        checks.push(Check::at_least(
            "relative_robustness",
            r,
            t.min_relative_robustness,
        ));
    }
    Report {
        schema: SCHEMA.to_string(),
        model: inputs.model.clone(),
        data: inputs.data.clone(),
        labelled: clean_acc.is_some(),
        labels: inputs.cache.labels.clone(),
        profile: inputs.profile.name.clone(),
        seed: opts.seed,
        threads: opts.threads,
        images: clean.images,
        skipped: skipped
            .into_iter()
            .map(|(path, reason)| Skipped { path, reason })
            .collect(),
        interrupted,
        elapsed_s,
        clean: CleanSummary {
            accuracy: clean_acc,
            mean_confidence: clean.mean_confidence(),
            mean_entropy: clean.mean_entropy(),
        },
        pass: checks.iter().all(|c| c.pass),
        cells: cell_reports,
        corruptions,
        summary,
        thresholds: t,
        checks,
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{:.1}", 100.0 * v))
}

impl Report {
    /// The terminal table: one row per cell, then the summary and the checks.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "model {}  data {}  profile {}  images {}{}",
            self.model,
            self.data.display(),
            self.profile,
            self.images,
            if self.interrupted {
                "  (interrupted: partial results)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "clean: accuracy {}%  confidence {:.3}  entropy {:.3}",
            pct(self.clean.accuracy),
            self.clean.mean_confidence,
            self.clean.mean_entropy
        );
        let _ = writeln!(
            s,
            "{:<22} {:>3} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}",
            "corruption", "sev", "LFP %", "acc %", "drop", "cosine", "d conf", "d ent"
        );
        for c in &self.cells {
            let _ = writeln!(
                s,
                "{:<22} {:>3} {:>7.1} {:>7} {:>7} {:>7.3} {:>+8.3} {:>+8.3}",
                c.corruption,
                c.severity,
                100.0 * c.lfp,
                pct(c.accuracy),
                pct(c.accuracy_drop),
                c.mean_cosine,
                c.mean_confidence_change,
                c.mean_entropy_change
            );
        }
        let m = &self.summary;
        let _ = writeln!(
            s,
            "mean LFP {:.1}%  mean corrupted accuracy {}%  relative robustness {}  worst {} (LFP {:.1}%)",
            100.0 * m.mean_lfp,
            pct(m.mean_corrupted_accuracy),
            m.relative_robustness.map_or("-".into(), |r| format!("{r:.3}")),
            m.worst_corruption,
            100.0 * m.worst_lfp
        );
        for c in &self.checks {
            let _ = writeln!(
                s,
                "{} {:<22} {:.3} ({} {:.3})",
                if c.pass { "pass" } else { "FAIL" },
                c.name,
                c.value,
                if c.kind == "max" { "<=" } else { ">=" },
                c.limit
            );
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(s, "skipped {} unreadable images:", self.skipped.len());
            for k in self.skipped.iter().take(10) {
                let _ = writeln!(s, "  {}: {}", k.path.display(), k.reason);
            }
        }
        let _ = write!(
            s,
            "{} in {:.1} s",
            if self.pass { "PASS" } else { "FAIL" },
            self.elapsed_s
        );
        s
    }
}

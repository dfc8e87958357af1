//! Per-cell robustness metrics: what changes between an image's clean and corrupted
//! predictions, accumulated over images, and the aggregate verdict.

use serde::{Deserialize, Serialize};

/// What the zero-shot head said about one (possibly corrupted) image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Predicted class (index into the prompt labels).
    pub predicted: usize,
    /// Probability of the predicted class.
    pub confidence: f32,
    /// Entropy of the class distribution, in nats.
    pub entropy: f32,
    /// Cosine between this image's embedding and its clean embedding (1 for the clean).
    pub cosine: f32,
}

/// Running sums over the images of one cell (or of the clean set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellStats {
    /// Images observed.
    pub images: usize,
    /// Images whose prediction differs from the clean prediction.
    pub flips: usize,
    /// Labelled images observed.
    pub labelled: usize,
    /// Labelled images predicted correctly.
    pub correct: usize,
    sum_cosine: f64,
    sum_confidence_change: f64,
    sum_entropy_change: f64,
    sum_confidence: f64,
    sum_entropy: f64,
}

impl CellStats {
    /// Adds one image: its clean observation, the corrupted one, and its label (as a
    /// prompt index) when known.
    pub fn add(&mut self, clean: &Observation, seen: &Observation, label: Option<usize>) {
        self.images += 1;
        self.flips += usize::from(seen.predicted != clean.predicted);
        if let Some(l) = label {
            self.labelled += 1;
            self.correct += usize::from(seen.predicted == l);
        }
        self.sum_cosine += f64::from(seen.cosine);
        self.sum_confidence_change += f64::from(seen.confidence) - f64::from(clean.confidence);
        self.sum_entropy_change += f64::from(seen.entropy) - f64::from(clean.entropy);
        self.sum_confidence += f64::from(seen.confidence);
        self.sum_entropy += f64::from(seen.entropy);
    }

    fn mean(&self, sum: f64) -> f64 {
        if self.images == 0 {
            f64::NAN
        } else {
            sum / self.images as f64
        }
    }

    /// Label-flip probability: share of images whose prediction changed.
    pub fn lfp(&self) -> f64 {
        self.mean(self.flips as f64)
    }

    /// Top-1 accuracy over the labelled images, if any.
    pub fn accuracy(&self) -> Option<f64> {
        (self.labelled > 0).then(|| self.correct as f64 / self.labelled as f64)
    }

    /// Mean cosine between clean and corrupted embeddings.
    pub fn mean_cosine(&self) -> f64 {
        self.mean(self.sum_cosine)
    }

    /// Mean change of the predicted class's probability (corrupted minus clean).
    pub fn mean_confidence_change(&self) -> f64 {
        self.mean(self.sum_confidence_change)
    }

    /// Mean change of the entropy (corrupted minus clean), in nats.
    pub fn mean_entropy_change(&self) -> f64 {
        self.mean(self.sum_entropy_change)
    }

    /// Mean probability of the predicted class.
    pub fn mean_confidence(&self) -> f64 {
        self.mean(self.sum_confidence)
    }

    /// Mean entropy, in nats.
    pub fn mean_entropy(&self) -> f64 {
        self.mean(self.sum_entropy)
    }
}

/// Pass/fail limits of a self-check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Highest acceptable mean LFP over all cells.
    pub max_mean_lfp: f64,
    /// Highest acceptable LFP of the worst corruption (mean over its severities).
    pub max_worst_lfp: f64,
    /// Lowest acceptable relative robustness (mean corrupted / clean accuracy); only
    /// checked when labels exist.
    pub min_relative_robustness: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_mean_lfp: 0.25,
            max_worst_lfp: 0.5,
            min_relative_robustness: 0.75,
        }
    }
}

/// One pass/fail check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// The measured value.
    pub value: f64,
    /// The limit it is held to.
    pub limit: f64,
    /// `"max"` when the value must not exceed the limit, `"min"` when it must reach it.
    pub kind: String,
    /// Whether it held.
    pub pass: bool,
}

impl Check {
    /// A check that `value <= limit`.
    pub fn at_most(name: &str, value: f64, limit: f64) -> Check {
        Check {
            name: name.into(),
            value,
            limit,
            kind: "max".into(),
            pass: value <= limit,
        }
    }

    /// A check that `value >= limit`.
    pub fn at_least(name: &str, value: f64, limit: f64) -> Check {
        Check {
            name: name.into(),
            value,
            limit,
            kind: "min".into(),
            pass: value >= limit,
        }
    }
}

/// Mean of the finite values; NaN when there are none.
pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        sum += v;
        n += 1;
    }
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(predicted: usize, confidence: f32, entropy: f32, cosine: f32) -> Observation {
        Observation {
            predicted,
            confidence,
            entropy,
            cosine,
        }
    }

    #[test]
    fn cell_stats_count_flips_accuracy_and_changes() {
        let mut s = CellStats::default();
        // Image 1, label 0: clean right, corrupted flips to 1 (wrong).
        s.add(&obs(0, 0.9, 0.3, 1.0), &obs(1, 0.5, 0.9, 0.8), Some(0));
        // Image 2, label 1: clean wrong (0), corrupted still 0.
        s.add(&obs(0, 0.6, 0.5, 1.0), &obs(0, 0.7, 0.4, 0.9), Some(1));
        // Image 3 unlabelled: flips.
        s.add(&obs(2, 0.8, 0.2, 1.0), &obs(0, 0.4, 1.0, 0.6), None);
        assert_eq!((s.images, s.flips, s.labelled, s.correct), (3, 2, 2, 0));
        assert!((s.lfp() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.accuracy(), Some(0.0));
        assert!((s.mean_cosine() - (0.8 + 0.9 + 0.6) / 3.0).abs() < 1e-6);
        let dconf = ((0.5 - 0.9) + (0.7 - 0.6) + (0.4 - 0.8)) / 3.0;
        assert!((s.mean_confidence_change() - dconf).abs() < 1e-6);
        let dent = ((0.9 - 0.3) + (0.4 - 0.5) + (1.0 - 0.2)) / 3.0;
        assert!((s.mean_entropy_change() - dent).abs() < 1e-6);
    }

    #[test]
    fn empty_cells_have_no_accuracy() {
        let s = CellStats::default();
        assert!(s.lfp().is_nan());
        assert_eq!(s.accuracy(), None);
        assert!(mean([f64::NAN]).is_nan());
        assert_eq!(mean([1.0, f64::NAN, 3.0]), 2.0);
    }

    #[test]
    fn checks_compare_in_the_right_direction() {
        assert!(Check::at_most("x", 0.2, 0.25).pass);
        assert!(!Check::at_most("x", 0.3, 0.25).pass);
        assert!(Check::at_least("y", 0.8, 0.75).pass);
        assert!(!Check::at_least("y", 0.7, 0.75).pass);
        assert!(!Check::at_least("y", f64::NAN, 0.75).pass);
    }
}

//! Zero-shot heads: CLIP and ALIGN take a softmax over scaled cosines, SigLIP an
//! independent sigmoid of scaled cosine plus bias per class.

use serde::{Deserialize, Serialize};

use crate::embedding::dot;
use crate::model::manifest::{Family, Manifest};

/// How logits become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// Probabilities over classes sum to one.
    Softmax,
    /// Each class scored on its own in (0, 1).
    Sigmoid,
}

impl std::fmt::Display for HeadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeadKind::Softmax => "softmax",
            HeadKind::Sigmoid => "sigmoid",
        })
    }
}

/// A zero-shot head: logit = scale * cos + bias, then softmax or sigmoid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// Softmax or sigmoid.
    pub kind: HeadKind,
    /// Multiplier on the cosine.
    pub scale: f32,
    /// Added after scaling (SigLIP); zero for the softmax families.
    pub bias: f32,
}

/// One image's scores against every class.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// scale * cos + bias per class.
    pub logits: Vec<f32>,
    /// Softmax or sigmoid of the logits.
    pub probs: Vec<f32>,
}

impl Scores {
    /// Indices of the `k` most probable classes, best first (ties keep label order).
    pub fn top_k(&self, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.probs.len()).collect();
        idx.sort_by(|&a, &b| self.logits[b].total_cmp(&self.logits[a]).then(a.cmp(&b)));
        idx.truncate(k);
        idx
    }

    /// Index of the most probable class (the first of equal ones); a linear scan, since
    /// the monitor calls it on every frame.
    pub fn argmax(&self) -> usize {
        let mut best = 0;
        for (i, z) in self.logits.iter().enumerate().skip(1) {
            if z.total_cmp(&self.logits[best]).is_gt() {
                best = i;
            }
        }
        best
    }

    /// Probability of the predicted class (for a sigmoid head, of the normalised scores).
    pub fn confidence(&self) -> f32 {
        let sum: f32 = self.probs.iter().sum();
        let max = self.probs.iter().copied().fold(0.0f32, f32::max);
        if sum > 0.0 {
            max / sum
        } else {
            0.0
        }
    }

    /// Shannon entropy (nats) of the class distribution; sigmoid scores are normalised
    /// to sum to one first, so both heads give a value in [0, ln classes].
    pub fn entropy(&self) -> f32 {
        entropy(&self.probs)
    }
}

/// Shannon entropy (nats) of non-negative weights after normalising them to sum to one.
pub fn entropy(p: &[f32]) -> f32 {
    let sum: f64 = p.iter().map(|&x| x as f64).sum();
    if sum <= 0.0 {
        return 0.0;
    }
    -p.iter()
        .map(|&x| x as f64 / sum)
        .filter(|&q| q > 0.0)
        .map(|q| q * q.ln())
        .sum::<f64>() as f32
}

impl Head {
    /// The head a manifest's family and logit parameters call for.
    pub fn for_manifest(m: &Manifest) -> Head {
        match m.family {
            Family::Siglip => Head {
                kind: HeadKind::Sigmoid,
                scale: m.logit_scale,
                bias: m.logit_bias.unwrap_or(0.0),
            },
            Family::Clip | Family::Align => Head {
                kind: HeadKind::Softmax,
                scale: m.logit_scale,
                bias: m.logit_bias.unwrap_or(0.0),
            },
        }
    }

    /// Scores a unit-norm image embedding against unit-norm class embeddings
    /// (row-major, `dim` floats per class).
    pub fn score(&self, image: &[f32], classes: &[f32]) -> Scores {
        let logits = self.logits(image, classes);
        let probs = self.probabilities(&logits);
        Scores { logits, probs }
    }

    /// `scale * cos + bias` per class, without the probabilities.
    pub fn logits(&self, image: &[f32], classes: &[f32]) -> Vec<f32> {
        classes
            .chunks_exact(image.len().max(1))
            .map(|c| self.scale * dot(image, c) + self.bias)
            .collect()
    }

    /// Turns logits into probabilities.
    pub fn probabilities(&self, logits: &[f32]) -> Vec<f32> {
        match self.kind {
            HeadKind::Softmax => softmax(logits),
            HeadKind::Sigmoid => logits.iter().map(|&z| sigmoid(z)).collect(),
        }
    }
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|&z| ((z - max) as f64).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|&e| (e / sum) as f32).collect()
}

/// Numerically stable logistic function.
pub fn sigmoid(z: f32) -> f32 {
    let z = z as f64;
    (if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_head_sums_to_one_and_ranks_by_cosine() {
        let head = Head {
            kind: HeadKind::Softmax,
            scale: 100.0,
            bias: 0.0,
        };
        let img = [1.0, 0.0];
        let classes = [0.0, 1.0, 0.8, 0.6, 1.0, 0.0];
        let s = head.score(&img, &classes);
        assert!((s.probs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(s.top_k(3), vec![2, 1, 0]);
        assert_eq!(s.argmax(), 2);
        assert!((s.logits[1] - 80.0).abs() < 1e-4);
    }

    #[test]
    fn sigmoid_head_is_independent_per_class() {
        let head = Head {
            kind: HeadKind::Sigmoid,
            scale: 10.0,
            bias: -5.0,
        };
        let s = head.score(&[1.0, 0.0], &[1.0, 0.0, 0.5, 0.0]);
        assert!((s.probs[0] - sigmoid(5.0)).abs() < 1e-7);
        assert!((s.probs[1] - 0.5).abs() < 1e-7);
        assert!(sigmoid(-1000.0) >= 0.0 && sigmoid(1000.0) <= 1.0);
        assert!(softmax(&[1000.0, 0.0])[0] > 0.999);
    }

    #[test]
    fn confidence_and_entropy_of_known_distributions() {
        let uniform = Scores {
            logits: vec![0.0; 4],
            probs: vec![0.25; 4],
        };
        assert!((uniform.entropy() - 4f32.ln()).abs() < 1e-6);
        assert!((uniform.confidence() - 0.25).abs() < 1e-7);
        let sure = Scores {
            logits: vec![9.0, 0.0],
            probs: vec![1.0, 0.0],
        };
        assert_eq!(sure.entropy(), 0.0);
        assert_eq!(sure.confidence(), 1.0);
        // Sigmoid scores are normalised: [0.9, 0.3] behaves as [0.75, 0.25].
        let sig = Scores {
            logits: vec![0.0; 2],
            probs: vec![0.9, 0.3],
        };
        assert!((sig.confidence() - 0.75).abs() < 1e-6);
        let h = -(0.75f32 * 0.75f32.ln() + 0.25 * 0.25f32.ln());
        assert!((sig.entropy() - h).abs() < 1e-6);
    }
}

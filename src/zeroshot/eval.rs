//! Zero-shot accuracy on a labelled folder: the evidence that a model (and the runtime's
//! preprocessing and tokenizer) works, comparable with the Python reference.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;

use super::cache::PromptCache;
use crate::dataset::LabelledFolder;
use crate::imageio::load_rgb;
use crate::model::ImageEncoder;

/// Accuracy of one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassAccuracy {
    /// Class label.
    pub label: String,
    /// Images of this class that were scored.
    pub images: usize,
    /// Of those, predicted correctly.
    pub correct: usize,
    /// correct / images.
    pub accuracy: f64,
}

/// One image's prediction.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// Image path.
    pub path: PathBuf,
    /// True label.
    pub label: String,
    /// Predicted label.
    pub predicted: String,
    /// Probability of the predicted label.
    pub prob: f32,
}

/// Result of [`evaluate`].
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Images scored.
    pub images: usize,
    /// Images predicted correctly.
    pub correct: usize,
    /// Top-1 accuracy in [0, 1].
    pub accuracy: f64,
    /// Unreadable images that were skipped, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Per-class accuracy, in label order.
    pub per_class: Vec<ClassAccuracy>,
    /// Every prediction, in folder order.
    pub predictions: Vec<Prediction>,
}

/// Scores every image of `data` against the cache's classes. The cache's labels must be
/// the folder's labels (in any order). Unreadable images are skipped and reported.
pub fn evaluate(
    encoder: &ImageEncoder,
    cache: &PromptCache,
    data: &LabelledFolder,
) -> Result<EvalReport> {
    let to_cache = cache.label_indices(&data.labels)?;
    let mut per_class: Vec<ClassAccuracy> = data
        .labels
        .iter()
        .map(|l| ClassAccuracy {
            label: l.clone(),
            images: 0,
            correct: 0,
            accuracy: 0.0,
        })
        .collect();
    let mut predictions = Vec::with_capacity(data.items.len());
    let mut skipped = Vec::new();
    for (path, class) in &data.items {
        let img = match load_rgb(path) {
            Ok(img) => img,
            Err(e) => {
                skipped.push((path.clone(), format!("{e:#}")));
                continue;
            }
        };
        let emb = encoder.embed_image(&img)?;
        let scores = cache.head.score(&emb, &cache.embeddings);
        let best = scores.argmax();
        let right = best == to_cache[*class];
        per_class[*class].images += 1;
        per_class[*class].correct += right as usize;
        predictions.push(Prediction {
            path: path.clone(),
            label: data.labels[*class].clone(),
            predicted: cache.labels[best].clone(),
            prob: scores.probs[best],
        });
    }
    if predictions.is_empty() {
        bail!("no readable images to evaluate ({} skipped)", skipped.len());
    }
    for c in &mut per_class {
        c.accuracy = if c.images == 0 {
            f64::NAN
        } else {
            c.correct as f64 / c.images as f64
        };
    }
    let correct = per_class.iter().map(|c| c.correct).sum();
    Ok(EvalReport {
        images: predictions.len(),
        correct,
        accuracy: correct as f64 / predictions.len() as f64,
        skipped,
        per_class,
        predictions,
    })
}

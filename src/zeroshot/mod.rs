//! Zero-shot classification: prompt templates and their ensembling into class
//! embeddings, the prompt cache, and the heads that turn cosines into probabilities.

pub mod cache;
pub mod eval;
pub mod head;
pub mod templates;

use anyhow::{Context, Result};

use crate::embedding::l2_normalize;
use crate::model::{ModelDir, TextEncoder};
use cache::PromptCache;
use head::Head;

/// Embeds every (template, label) prompt and averages per label: each prompt embedding
/// is unit-norm, their mean is re-normalised (CLIP's prompt ensembling).
/// Returns `labels.len() x dim` row-major.
pub fn ensemble_class_embeddings(
    text: &TextEncoder,
    labels: &[String],
    templates: &[String],
) -> Result<Vec<f32>> {
    let prompts: Vec<String> = labels
        .iter()
        .flat_map(|l| templates.iter().map(move |t| templates::fill(t, l)))
        .collect();
    let embs = text
        .embed_texts(&prompts)
        .context("cannot embed the prompts")?;
    let dim = embs.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(labels.len() * dim);
    for group in embs.chunks(templates.len()) {
        let mut mean = vec![0f32; dim];
        for e in group {
            mean.iter_mut().zip(e).for_each(|(m, x)| *m += x);
        }
        l2_normalize(&mut mean);
        out.extend_from_slice(&mean);
    }
    Ok(out)
}

/// Builds a prompt cache for `labels` x `templates` with the model's text encoder.
pub fn build_cache(
    model: &ModelDir,
    text: &TextEncoder,
    labels: Vec<String>,
    templates: Vec<String>,
) -> Result<PromptCache> {
    // The text files are at hand here, so check them against a recorded fingerprint
    // instead of trusting it: a cache must never be stamped with the wrong identity.
    let fingerprint = model.compute_fingerprint()?;
    if let Some(recorded) = &model.manifest().text.fingerprint {
        anyhow::ensure!(
            *recorded == fingerprint,
            "the text encoder or tokenizer in {} does not match the fingerprint its manifest records; re-export the model",
            model.root().display()
        );
    }
    let embeddings = ensemble_class_embeddings(text, &labels, &templates)?;
    Ok(PromptCache {
        model_name: model.manifest().name.clone(),
        fingerprint,
        head: Head::for_manifest(model.manifest()),
        labels,
        templates,
        dim: model.manifest().embed_dim,
        embeddings,
    })
}

/// Where class embeddings come from: a prompt cache file (checked against the model, the
/// text encoder never loaded) or labels and templates embedded now.
#[derive(Debug, Clone)]
pub enum PromptSource {
    /// A file written by `edgeclip cache`.
    Cache(std::path::PathBuf),
    /// Labels and templates to embed with the model's text encoder.
    Labels {
        /// Class labels.
        labels: Vec<String>,
        /// Templates, each with one `{}`.
        templates: Vec<String>,
    },
}

impl PromptSource {
    /// Loads or builds the prompt cache for `model`.
    pub fn resolve(self, model: &ModelDir) -> Result<PromptCache> {
        match self {
            PromptSource::Cache(path) => {
                let cache = PromptCache::load(&path)?;
                cache.check_model(model)?;
                Ok(cache)
            }
            PromptSource::Labels { labels, templates } => {
                let text = model.text_encoder(crate::model::EncoderOptions::default())?;
                build_cache(model, &text, labels, templates)
            }
        }
    }
}

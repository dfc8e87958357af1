//! The prompt cache: ensembled class embeddings written with serde + postcard, framed by
//! a magic, a format version and a SHA-256 checksum, and tied to the model's text-side
//! fingerprint so a device classifies without ever loading the text encoder.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::head::Head;
use crate::framed;
use crate::fsutil::write_atomic;
use crate::model::ModelDir;

/// First bytes of every prompt cache file.
pub const MAGIC: &[u8; 8] = b"ECPROMPT";
/// Cache format version this build reads and writes.
pub const CACHE_VERSION: u32 = 1;

/// Class embeddings ready for the zero-shot head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptCache {
    /// Name of the model the cache was made with.
    pub model_name: String,
    /// Text-side fingerprint of that model (see [`ModelDir::fingerprint`]).
    pub fingerprint: String,
    /// The head to score with.
    pub head: Head,
    /// Class labels, in row order.
    pub labels: Vec<String>,
    /// Templates that were ensembled.
    pub templates: Vec<String>,
    /// Embedding dimension.
    pub dim: u32,
    /// Unit-norm class embeddings, `labels.len() x dim`, row-major.
    pub embeddings: Vec<f32>,
}

impl PromptCache {
    /// Embedding of class `i`.
    pub fn class(&self, i: usize) -> &[f32] {
        let d = self.dim as usize;
        &self.embeddings[i * d..(i + 1) * d]
    }

    /// The prompt row of each of `labels`; errors on a label the cache has no prompt for.
    pub fn label_indices(&self, labels: &[String]) -> Result<Vec<usize>> {
        labels
            .iter()
            .map(|l| {
                self.labels.iter().position(|c| c == l).ok_or_else(|| {
                    anyhow::anyhow!(
                        "class {l:?} of the image folder is not among the prompt labels ({})",
                        self.labels.join(", ")
                    )
                })
            })
            .collect()
    }

    /// Encodes the cache to its file format.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload = postcard::to_stdvec(self).context("cannot encode the prompt cache")?;
        Ok(framed::encode(MAGIC, CACHE_VERSION, &payload))
    }

    /// Decodes and verifies a cache file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<PromptCache> {
        let payload = framed::decode(
            bytes,
            MAGIC,
            CACHE_VERSION,
            "prompt cache",
            "rebuild it with `edgeclip cache`",
        )?;
        let cache: PromptCache = postcard::from_bytes(payload)
            .context("prompt cache is corrupted (cannot decode its contents)")?;
        cache.validate()?;
        Ok(cache)
    }

    /// Identity of the class embeddings, labels and head (what predictions depend on).
    pub fn content_fingerprint(&self) -> Result<String> {
        Ok(framed::sha256_hex(&postcard::to_stdvec(&(
            &self.head,
            &self.labels,
            self.dim,
            &self.embeddings,
        ))?))
    }

    fn validate(&self) -> Result<()> {
        if self.labels.is_empty() {
            bail!("prompt cache has no labels");
        }
        if self.dim == 0 || self.embeddings.len() != self.labels.len() * self.dim as usize {
            bail!(
                "prompt cache is corrupted ({} floats for {} labels of dimension {})",
                self.embeddings.len(),
                self.labels.len(),
                self.dim
            );
        }
        Ok(())
    }

    /// Writes the cache atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads and verifies a cache file.
    pub fn load(path: &Path) -> Result<PromptCache> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read prompt cache {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("prompt cache {}", path.display()))
    }

    /// Errors unless the cache was made with this model's text side.
    pub fn check_model(&self, model: &ModelDir) -> Result<()> {
        let fp = model.fingerprint()?;
        if fp != self.fingerprint {
            bail!(
                "prompt cache was made for model {:?} (fingerprint {}), not for {} ({:?}, fingerprint {}); rebuild it with `edgeclip cache`",
                self.model_name,
                short(&self.fingerprint),
                model.root().display(),
                model.manifest().name,
                short(&fp)
            );
        }
        if self.dim != model.manifest().embed_dim {
            bail!(
                "prompt cache has dimension {} but the model embeds to {}",
                self.dim,
                model.manifest().embed_dim
            );
        }
        Ok(())
    }
}

fn short(fp: &str) -> &str {
    &fp[..fp.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zeroshot::head::HeadKind;

    fn sample() -> PromptCache {
        PromptCache {
            model_name: "m".into(),
            fingerprint: "ab".repeat(32),
            head: Head {
                kind: HeadKind::Softmax,
                scale: 100.0,
                bias: 0.0,
            },
            labels: vec!["cat".into(), "dog".into()],
            templates: vec!["a {}".into()],
            dim: 2,
            embeddings: vec![1.0, 0.0, 0.0, 1.0],
        }
    }

    #[test]
    fn round_trips() {
        let c = sample();
        assert_eq!(PromptCache::from_bytes(&c.to_bytes().unwrap()).unwrap(), c);
    }

    #[test]
    fn every_truncation_and_every_bit_flip_is_an_error() {
        let bytes = sample().to_bytes().unwrap();
        for n in 0..bytes.len() {
            assert!(
                PromptCache::from_bytes(&bytes[..n]).is_err(),
                "truncated to {n}"
            );
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(PromptCache::from_bytes(&b).is_err(), "flip at {i}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(PromptCache::from_bytes(&longer).is_err());
    }

    #[test]
    fn messages_say_what_is_wrong() {
        let bytes = sample().to_bytes().unwrap();
        let msg = |b: &[u8]| format!("{:#}", PromptCache::from_bytes(b).unwrap_err());
        assert!(msg(&bytes[..bytes.len() - 5]).contains("truncated"));
        assert!(msg(b"PK\x03\x04 zip file").contains("not an edgeclip prompt cache"));
        let mut b = bytes.clone();
        let last = b.len() - 40;
        b[last] ^= 1;
        assert!(msg(&b).contains("corrupted"));
    }
}

//! Tokenization through the `tokenizers` crate from the model's `tokenizer.json`, with
//! padding and truncation forced to the manifest's context length so ids match the
//! reference processor called with `padding="max_length", truncation=True`.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

use super::manifest::TextSpec;

/// Token ids and masks for one text, each exactly `context_length` long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Token ids, padded with the pad id.
    pub ids: Vec<i64>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Segment ids (all zero for a single text).
    pub type_ids: Vec<i64>,
}

/// A tokenizer bound to one model's context length and padding rule.
pub struct TextTokenizer {
    inner: Tokenizer,
    context_length: usize,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("context_length", &self.context_length)
            .finish_non_exhaustive()
    }
}

/// Reads a tokenizer file, transparently gunzipping `*.gz`.
pub fn read_tokenizer_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw =
        std::fs::read(path).with_context(|| format!("cannot read tokenizer {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .with_context(|| format!("tokenizer {} is not valid gzip", path.display()))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

impl TextTokenizer {
    /// Loads the tokenizer named by a manifest's text spec, relative to `dir`.
    pub fn load(dir: &Path, spec: &TextSpec) -> Result<TextTokenizer> {
        let path = dir.join(&spec.tokenizer);
        let bytes = read_tokenizer_bytes(&path)?;
        Self::from_bytes(&bytes, spec).with_context(|| format!("tokenizer {}", path.display()))
    }

    /// Builds the tokenizer from `tokenizer.json` bytes.
    pub fn from_bytes(bytes: &[u8], spec: &TextSpec) -> Result<TextTokenizer> {
        let mut inner =
            Tokenizer::from_bytes(bytes).map_err(|e| anyhow!("not a valid tokenizer.json: {e}"))?;
        let context_length = spec.context_length as usize;
        let pad_token = inner.id_to_token(spec.pad_id).ok_or_else(|| {
            anyhow!(
                "pad_id {} from the manifest is not in the vocabulary",
                spec.pad_id
            )
        })?;
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: context_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| anyhow!("cannot configure truncation: {e}"))?;
        inner.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::Fixed(context_length),
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id: spec.pad_id,
            pad_type_id: 0,
            pad_token,
        }));
        Ok(TextTokenizer {
            inner,
            context_length,
        })
    }

    /// Sequence length every encoding is padded or truncated to.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// Number of entries in the vocabulary, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Tokenizes one text with special tokens, padded and truncated to the context length.
    pub fn encode(&self, text: &str) -> Result<Tokens> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| anyhow!("cannot tokenize {text:?}: {e}"))?;
        if enc.get_ids().len() != self.context_length {
            bail!(
                "tokenizer produced {} ids for {text:?}, expected {}",
                enc.get_ids().len(),
                self.context_length
            );
        }
        let widen = |v: &[u32]| v.iter().map(|&x| x as i64).collect::<Vec<_>>();
        Ok(Tokens {
            ids: widen(enc.get_ids()),
            attention_mask: widen(enc.get_attention_mask()),
            type_ids: widen(enc.get_type_ids()),
        })
    }
}

//! Prompt templates: built-in sets (a simple one and CLIP's 80 ImageNet prompts) and
//! user files with one template per line.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// The placeholder a template's class name replaces.
pub const PLACEHOLDER: &str = "{}";

/// One prompt, enough for small label sets and the default model.
pub const SIMPLE: &[&str] = &["a photo of a {}."];

/// The 80 prompts CLIP's authors ensembled for ImageNet zero-shot classification.
pub const IMAGENET: &[&str] = &[
    "a bad photo of a {}.",
    "a photo of many {}.",
    "a sculpture of a {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of the {}.",
    "a rendering of a {}.",
    "graffiti of a {}.",
    "a bad photo of the {}.",
    "a cropped photo of the {}.",
    "a tattoo of a {}.",
    "the embroidered {}.",
    "a photo of a hard to see {}.",
    "a bright photo of a {}.",
    "a photo of a clean {}.",
    "a photo of a dirty {}.",
    "a dark photo of the {}.",
    "a drawing of a {}.",
    "a photo of my {}.",
    "the plastic {}.",
    "a photo of the cool {}.",
    "a close-up photo of a {}.",
    "a black and white photo of the {}.",
    "a painting of the {}.",
    "a painting of a {}.",
    "a pixelated photo of the {}.",
    "a sculpture of the {}.",
    "a bright photo of the {}.",
    "a cropped photo of a {}.",
    "a plastic {}.",
    "a photo of the dirty {}.",
    "a jpeg corrupted photo of a {}.",
    "a blurry photo of the {}.",
    "a photo of the {}.",
    "a good photo of the {}.",
    "a rendering of the {}.",
    "a {} in a video game.",
    "a photo of one {}.",
    "a doodle of a {}.",
    "a close-up photo of the {}.",
    "a photo of a {}.",
    "the origami {}.",
    "the {} in a video game.",
    "a sketch of a {}.",
    "a doodle of the {}.",
    "a origami {}.",
    "a low resolution photo of a {}.",
    "the toy {}.",
    "a rendition of the {}.",
    "a photo of the clean {}.",
    "a photo of a large {}.",
    "a rendition of a {}.",
    "a photo of a nice {}.",
    "a photo of a weird {}.",
    "a blurry photo of a {}.",
    "a cartoon {}.",
    "art of a {}.",
    "a sketch of the {}.",
    "a embroidered {}.",
    "a pixelated photo of a {}.",
    "itap of the {}.",
    "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.",
    "a plushie {}.",
    "a photo of the nice {}.",
    "a photo of the small {}.",
    "a photo of the weird {}.",
    "the cartoon {}.",
    "art of the {}.",
    "a drawing of the {}.",
    "a photo of the large {}.",
    "a black and white photo of a {}.",
    "the plushie {}.",
    "a dark photo of a {}.",
    "itap of a {}.",
    "graffiti of the {}.",
    "a toy {}.",
    "itap of my {}.",
    "a photo of a cool {}.",
    "a photo of a small {}.",
    "a tattoo of the {}.",
];

/// Names of the built-in template sets, for help texts and errors.
pub const BUILTIN_NAMES: &[&str] = &["simple", "imagenet", "none"];

/// Resolves `--templates`: a built-in name or a file path.
pub fn resolve(name_or_file: &str) -> Result<Vec<String>> {
    match name_or_file {
        "simple" => Ok(owned(SIMPLE)),
        "imagenet" => Ok(owned(IMAGENET)),
        // The label itself is the prompt; useful when labels are already sentences.
        "none" => Ok(vec![PLACEHOLDER.to_string()]),
        path => {
            let p = Path::new(path);
            if !p.exists() {
                bail!(
                    "--templates {path:?} is neither a built-in set ({}) nor an existing file",
                    BUILTIN_NAMES.join(", ")
                );
            }
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read templates file {path}"))?;
            parse(&text).with_context(|| format!("templates file {path}"))
        }
    }
}

/// Parses a templates file: one per line, blank lines and `#` comments skipped.
pub fn parse(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.matches(PLACEHOLDER).count() != 1 {
            bail!(
                "line {}: template {line:?} must contain `{{}}` exactly once",
                i + 1
            );
        }
        out.push(line.to_string());
    }
    if out.is_empty() {
        bail!("no templates found (one per line, each containing `{{}}`)");
    }
    Ok(out)
}

/// Fills a template with a class name.
pub fn fill(template: &str, label: &str) -> String {
    template.replacen(PLACEHOLDER, label, 1)
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Parses a comma-separated label list, trimming blanks; empty lists are an error.
pub fn parse_labels(list: &str) -> Result<Vec<String>> {
    let labels: Vec<String> = list
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if labels.is_empty() {
        bail!("the label list is empty; give at least one label, e.g. --labels cat,dog");
    }
    let mut seen = std::collections::HashSet::new();
    for l in &labels {
        if !seen.insert(l) {
            bail!("label {l:?} appears twice in the label list");
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_well_formed() {
        assert_eq!(IMAGENET.len(), 80);
        for t in SIMPLE.iter().chain(IMAGENET) {
            assert_eq!(t.matches(PLACEHOLDER).count(), 1, "{t}");
        }
        let unique: std::collections::HashSet<_> = IMAGENET.iter().collect();
        assert_eq!(unique.len(), 80);
    }

    #[test]
    fn files_need_a_placeholder() {
        assert_eq!(parse("# c\n\na {} here\n").unwrap(), vec!["a {} here"]);
        assert!(parse("no placeholder").is_err());
        assert!(parse("# only comments\n").is_err());
        assert!(resolve("/no/such/file").is_err());
    }

    #[test]
    fn labels() {
        assert_eq!(parse_labels(" cat, dog ,").unwrap(), vec!["cat", "dog"]);
        assert!(parse_labels(" , ").is_err());
        assert!(parse_labels("cat,cat").is_err());
        assert_eq!(fill("a {} b", "x"), "a x b");
    }
}

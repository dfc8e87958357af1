//! Labelled image folders: one sub-folder per class (named as the zero-shot label),
//! with an optional `labels.txt` fixing the label order.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// File extensions treated as images when scanning folders.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff", "ppm", "pgm", "pnm",
];

/// A labelled image set.
#[derive(Debug, Clone)]
pub struct LabelledFolder {
    /// Class labels in order.
    pub labels: Vec<String>,
    /// `(path, label index)` for every image, sorted by label then file name.
    pub items: Vec<(PathBuf, usize)>,
}

/// True when the path's extension is a known image extension.
pub fn is_image_path(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Image files directly inside `dir`, sorted by name.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("cannot read folder {}", dir.display()))?
    {
        let p = entry?.path();
        if p.is_file() && is_image_path(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

impl LabelledFolder {
    /// Scans `root`: label order from `labels.txt` (one label per line, or
    /// `folder<TAB>label`) when present, else sorted sub-folder names.
    pub fn open(root: &Path) -> Result<LabelledFolder> {
        if !root.is_dir() {
            bail!("image folder {} does not exist", root.display());
        }
        let list = root.join("labels.txt");
        let classes: Vec<(String, String)> = if list.is_file() {
            std::fs::read_to_string(&list)
                .with_context(|| format!("cannot read {}", list.display()))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| match l.split_once('\t') {
                    Some((folder, label)) => (folder.trim().to_string(), label.trim().to_string()),
                    None => (l.to_string(), l.to_string()),
                })
                .collect()
        } else {
            let mut dirs: Vec<String> = std::fs::read_dir(root)?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| !n.starts_with('.'))
                .collect();
            dirs.sort();
            dirs.into_iter().map(|d| (d.clone(), d)).collect()
        };
        if classes.is_empty() {
            bail!(
                "{} has no class sub-folders (expected one folder of images per label)",
                root.display()
            );
        }
        let mut items = Vec::new();
        for (i, (folder, _)) in classes.iter().enumerate() {
            let dir = root.join(folder);
            if !dir.is_dir() {
                bail!(
                    "{} lists class folder {folder:?}, which does not exist",
                    list.display()
                );
            }
            items.extend(list_images(&dir)?.into_iter().map(|p| (p, i)));
        }
        if items.is_empty() {
            bail!("{} contains no images", root.display());
        }
        Ok(LabelledFolder {
            labels: classes.into_iter().map(|(_, l)| l).collect(),
            items,
        })
    }
}

/// Images to check: a labelled folder (one sub-folder per class) or a flat folder of
/// unlabelled images.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// Class labels when the folder is labelled.
    pub labels: Option<Vec<String>>,
    /// `(path, label index)` for every image, in folder order.
    pub items: Vec<(PathBuf, Option<usize>)>,
}

impl ImageSet {
    /// Opens `root`: labelled when it has class sub-folders or a `labels.txt`, else the
    /// images directly inside it, unlabelled.
    pub fn open(root: &Path) -> Result<ImageSet> {
        if !root.is_dir() {
            bail!("image folder {} does not exist", root.display());
        }
        let has_subfolders = std::fs::read_dir(root)
            .with_context(|| format!("cannot read folder {}", root.display()))?
            .filter_map(|e| e.ok())
            .any(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'));
        if has_subfolders || root.join("labels.txt").is_file() {
            let f = LabelledFolder::open(root)?;
            return Ok(ImageSet {
                labels: Some(f.labels),
                items: f.items.into_iter().map(|(p, i)| (p, Some(i))).collect(),
            });
        }
        let items: Vec<_> = list_images(root)?.into_iter().map(|p| (p, None)).collect();
        if items.is_empty() {
            bail!(
                "{} contains no images (expected image files, or one sub-folder of images per label)",
                root.display()
            );
        }
        Ok(ImageSet {
            labels: None,
            items,
        })
    }

    /// True when every image has a label.
    pub fn is_labelled(&self) -> bool {
        self.labels.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_folders_and_respects_labels_txt() {
        let dir = tempfile::tempdir().unwrap();
        for (c, files) in [("b", vec!["2.png", "1.jpg", "x.txt"]), ("a", vec!["0.PNG"])] {
            std::fs::create_dir(dir.path().join(c)).unwrap();
            for f in files {
                std::fs::write(dir.path().join(c).join(f), b"").unwrap();
            }
        }
        let f = LabelledFolder::open(dir.path()).unwrap();
        assert_eq!(f.labels, vec!["a", "b"]);
        assert_eq!(f.items.len(), 3);
        assert!(f.items[1].0.ends_with("b/1.jpg"));
        std::fs::write(dir.path().join("labels.txt"), "b\tbee\na\n").unwrap();
        let f = LabelledFolder::open(dir.path()).unwrap();
        assert_eq!(f.labels, vec!["bee", "a"]);
        assert_eq!(f.items[0].1, 0);
        std::fs::write(dir.path().join("labels.txt"), "zzz\n").unwrap();
        assert!(LabelledFolder::open(dir.path()).is_err());
        assert!(LabelledFolder::open(&dir.path().join("nope")).is_err());
    }

    #[test]
    fn image_sets_are_labelled_or_flat() {
        let dir = tempfile::tempdir().unwrap();
        let err = ImageSet::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("contains no images"), "{err}");
        std::fs::write(dir.path().join("b.png"), b"").unwrap();
        std::fs::write(dir.path().join("a.jpg"), b"").unwrap();
        let flat = ImageSet::open(dir.path()).unwrap();
        assert!(!flat.is_labelled());
        assert_eq!(flat.items.len(), 2);
        assert!(flat.items[0].0.ends_with("a.jpg") && flat.items[0].1.is_none());
        std::fs::create_dir(dir.path().join("cat")).unwrap();
        std::fs::write(dir.path().join("cat/1.png"), b"").unwrap();
        let labelled = ImageSet::open(dir.path()).unwrap();
        assert_eq!(labelled.labels.as_deref(), Some(&["cat".to_string()][..]));
        assert_eq!(
            labelled.items,
            vec![(dir.path().join("cat/1.png"), Some(0))]
        );
    }
}

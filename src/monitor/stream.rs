//! Where the monitor's frames come from: paths given at once, a list file, standard
//! input, or a watched folder; each can say where it stopped so a restart resumes there.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::dataset::is_image_path;

/// A frame source.
#[derive(Debug, Clone)]
pub enum Source {
    /// These paths, in order.
    Paths(Vec<PathBuf>),
    /// A text file of paths, one per line.
    List(PathBuf),
    /// Paths read from standard input, one per line.
    Stdin,
    /// New image files appearing in a folder, oldest first; runs until stopped.
    Watch {
        /// The folder.
        dir: PathBuf,
        /// How often to look.
        poll: Duration,
        /// A file is taken once it has not changed for this long (so half-written files
        /// are not read).
        settle: Duration,
    },
}

/// An open source.
pub struct Stream {
    source: Source,
    lines: Option<Box<dyn BufRead>>,
    consumed: u64,
    watermark: Option<(u128, String)>,
    pending: VecDeque<(u128, String)>,
}

fn mtime_ns(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

impl Stream {
    /// Opens `source`, skipping what a previous run consumed when `resume` (a token from
    /// [`Stream::resume_token`]) belongs to the same kind of source.
    pub fn open(source: Source, resume: Option<&str>) -> Result<Stream> {
        let lines: Option<Box<dyn BufRead>> = match &source {
            Source::List(path) => Some(Box::new(std::io::BufReader::new(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot open the list {}", path.display()))?,
            ))),
            Source::Stdin => Some(Box::new(std::io::BufReader::new(std::io::stdin()))),
            Source::Paths(_) => None,
            Source::Watch { dir, .. } => {
                if !dir.is_dir() {
                    anyhow::bail!("watched folder {} does not exist", dir.display());
                }
                None
            }
        };
        let mut s = Stream {
            source,
            lines,
            consumed: 0,
            watermark: None,
            pending: VecDeque::new(),
        };
        if let Some(token) = resume {
            s.resume(token)?;
        }
        Ok(s)
    }

    fn resume(&mut self, token: &str) -> Result<()> {
        match (&self.source, token.split_once(':')) {
            (Source::Paths(_), Some(("index", n))) | (Source::List(_), Some(("line", n))) => {
                let n: u64 = n
                    .parse()
                    .context("monitor state has a bad resume position")?;
                while self.consumed < n && self.next_line()?.is_some() {}
            }
            (Source::Watch { .. }, Some(("watch", rest))) => {
                let (t, name) = rest
                    .split_once(':')
                    .context("monitor state has a bad resume position")?;
                let t: u128 = t
                    .parse()
                    .context("monitor state has a bad resume position")?;
                self.watermark = Some((t, name.to_string()));
            }
            // Another kind of source (or stdin, which cannot be rewound): start at its
            // beginning.
            _ => {}
        }
        Ok(())
    }

    fn next_line(&mut self) -> Result<Option<PathBuf>> {
        if let Source::Paths(paths) = &self.source {
            let p = paths.get(self.consumed as usize).cloned();
            self.consumed += u64::from(p.is_some());
            return Ok(p);
        }
        let Some(reader) = self.lines.as_mut() else {
            return Ok(None);
        };
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            self.consumed += 1;
            let t = line.trim();
            if !t.is_empty() && !t.starts_with('#') {
                return Ok(Some(PathBuf::from(t)));
            }
        }
    }

    /// The next frame's path; `None` when the source is exhausted or `stop` was set.
    pub fn next(&mut self, stop: &AtomicBool) -> Result<Option<PathBuf>> {
        let Source::Watch { dir, poll, settle } = self.source.clone() else {
            return self.next_line();
        };
        loop {
            if let Some((t, name)) = self.pending.pop_front() {
                self.watermark = Some((t, name.clone()));
                return Ok(Some(dir.join(name)));
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            self.scan(&dir, settle)?;
            if self.pending.is_empty() {
                // Sleep in short steps so a stop request is seen quickly.
                let mut slept = Duration::ZERO;
                while slept < poll && !stop.load(Ordering::Relaxed) {
                    let step = Duration::from_millis(50).min(poll - slept);
                    std::thread::sleep(step);
                    slept += step;
                }
            }
        }
    }

    fn scan(&mut self, dir: &std::path::Path, settle: Duration) -> Result<()> {
        let now = mtime_ns(SystemTime::now());
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir)
            .with_context(|| format!("cannot read watched folder {}", dir.display()))?
        {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            if !is_image_path(&path) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let Ok(modified) = meta.modified() else {
                continue;
            };
            let t = mtime_ns(modified);
            if now.saturating_sub(t) < settle.as_nanos() || !meta.is_file() {
                continue;
            }
            let key = (t, entry.file_name().to_string_lossy().into_owned());
            if self.watermark.as_ref().is_none_or(|w| key > *w) {
                found.push(key);
            }
        }
        found.sort();
        self.pending.extend(found);
        Ok(())
    }

    /// Where this stream stands, to resume from after a restart (`None` for stdin).
    pub fn resume_token(&self) -> Option<String> {
        match &self.source {
            Source::Paths(_) => Some(format!("index:{}", self.consumed)),
            Source::List(_) => Some(format!("line:{}", self.consumed)),
            Source::Stdin => None,
            Source::Watch { .. } => self
                .watermark
                .as_ref()
                .map(|(t, name)| format!("watch:{t}:{name}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_resumes_after_the_consumed_lines() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list.txt");
        std::fs::write(&list, "a.png\n\n# comment\nb.png\nc.png\n").unwrap();
        let stop = AtomicBool::new(false);
        let mut s = Stream::open(Source::List(list.clone()), None).unwrap();
        assert_eq!(s.next(&stop).unwrap(), Some(PathBuf::from("a.png")));
        assert_eq!(s.next(&stop).unwrap(), Some(PathBuf::from("b.png")));
        let token = s.resume_token().unwrap();
        let mut again = Stream::open(Source::List(list), Some(&token)).unwrap();
        assert_eq!(again.next(&stop).unwrap(), Some(PathBuf::from("c.png")));
        assert_eq!(again.next(&stop).unwrap(), None);
    }

    #[test]
    fn watch_takes_settled_new_files_in_order_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        for name in ["b.png", "a.png", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let src = || Source::Watch {
            dir: dir.path().to_path_buf(),
            poll: Duration::from_millis(10),
            settle: Duration::ZERO,
        };
        let mut s = Stream::open(src(), None).unwrap();
        let first = s.next(&stop).unwrap().unwrap();
        let second = s.next(&stop).unwrap().unwrap();
        let mut names = vec![first, second];
        names.sort();
        assert_eq!(
            names,
            vec![dir.path().join("a.png"), dir.path().join("b.png")]
        );
        let token = s.resume_token().unwrap();
        // A restarted stream sees only files newer than what was taken.
        let mut again = Stream::open(src(), Some(&token)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.path().join("c.png"), b"x").unwrap();
        assert_eq!(again.next(&stop).unwrap(), Some(dir.path().join("c.png")));
        stop.store(true, Ordering::Relaxed);
        assert_eq!(again.next(&stop).unwrap(), None);
    }

    #[test]
    fn missing_list_or_folder_is_a_clear_error() {
        let e = Stream::open(Source::List("/nonexistent/list".into()), None)
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("cannot open the list"));
        let e = Stream::open(
            Source::Watch {
                dir: "/nonexistent".into(),
                poll: Duration::from_millis(1),
                settle: Duration::ZERO,
            },
            None,
        )
        .err()
        .unwrap();
        assert!(format!("{e:#}").contains("does not exist"));
    }
}

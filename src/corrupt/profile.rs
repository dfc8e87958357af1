//! Domain profiles: which corruptions, at which severities, a deployment meets.
//!
//! A profile is a TOML file:
//!
//! ```toml
//! name = "driving"
//! description = "Road cameras"
//!
//! [[corruption]]
//! name = "fog"
//! severities = [1, 3, 5]   # optional; all five when absent
//! ```
//!
//! The built-in ones live in `src/corrupt/profiles/`; a user file is accepted anywhere a
//! profile name is.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::{registry, Corruption, Severity};

/// The built-in profiles: (name, TOML text).
const BUILTIN: &[(&str, &str)] = &[
    ("driving", include_str!("profiles/driving.toml")),
    ("medical", include_str!("profiles/medical.toml")),
    ("manufacturing", include_str!("profiles/manufacturing.toml")),
    ("people", include_str!("profiles/people.toml")),
    ("satellite", include_str!("profiles/satellite.toml")),
    ("handheld", include_str!("profiles/handheld.toml")),
    ("documents", include_str!("profiles/documents.toml")),
    ("imagenet-c", include_str!("profiles/imagenet-c.toml")),
];

/// A validated profile.
#[derive(Clone)]
pub struct Profile {
    /// Profile name.
    pub name: String,
    /// What deployment it describes.
    pub description: String,
    /// Corruptions with the severities to run, in file order.
    pub entries: Vec<Entry>,
}

/// One corruption of a profile.
#[derive(Clone)]
pub struct Entry {
    /// The corruption.
    pub corruption: &'static dyn Corruption,
    /// Severities to run, ascending, without repeats.
    pub severities: Vec<Severity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    corruption: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    severities: Option<Vec<i64>>,
}

impl Profile {
    /// Parses and validates profile TOML; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Profile> {
        let raw: RawProfile = toml::from_str(text)
            .with_context(|| format!("profile {origin} is not valid profile TOML"))?;
        if raw.corruption.is_empty() {
            bail!("profile {origin} lists no corruptions (add [[corruption]] entries with a name)");
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(raw.corruption.len());
        for e in raw.corruption {
            let corruption =
                registry::find(&e.name).with_context(|| format!("profile {origin}"))?;
            if entries
                .iter()
                .any(|x| x.corruption.name() == corruption.name())
            {
                bail!(
                    "profile {origin} lists corruption '{}' twice",
                    corruption.name()
                );
            }
            let mut severities = match e.severities {
                None => Severity::ALL.to_vec(),
                Some(levels) => {
                    if levels.is_empty() {
                        bail!(
                            "profile {origin}: corruption '{}' has an empty severities list",
                            e.name
                        );
                    }
                    levels
                        .into_iter()
                        .map(Severity::new)
                        .collect::<Result<Vec<_>>>()
                        .with_context(|| format!("profile {origin}: corruption '{}'", e.name))?
                }
            };
            severities.sort();
            severities.dedup();
            entries.push(Entry {
                corruption,
                severities,
            });
        }
        Ok(Profile {
            name: raw.name,
            description: raw.description,
            entries,
        })
    }

    /// A built-in profile by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<Profile> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Profile::from_toml(text, &format!("'{name_or_path}' (built in)"));
        }
        let path = Path::new(name_or_path);
        if path.exists() || name_or_path.ends_with(".toml") {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read profile file {}", path.display()))?;
            return Profile::from_toml(&text, &path.display().to_string());
        }
        bail!(
            "unknown profile '{name_or_path}'; built-in profiles: {} (or give a path to a .toml file)",
            builtin_names().join(", ")
        )
    }

    /// Number of (corruption, severity) cells.
    pub fn cells(&self) -> usize {
        self.entries.iter().map(|e| e.severities.len()).sum()
    }
}

/// Names of the built-in profiles.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_load() {
        for name in builtin_names() {
            let p = Profile::load(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert_eq!(p.name, name);
            assert!(p.cells() >= 5 * 7, "{name}");
        }
        assert_eq!(Profile::load("imagenet-c").unwrap().entries.len(), 19);
    }

    #[test]
    fn bad_profiles_are_clear_errors() {
        let err = |t: &str| format!("{:#}", Profile::from_toml(t, "test").err().unwrap());
        let e = err("name = 'x'\n[[corruption]]\nname = 'sandstorm'\n");
        assert!(
            e.contains("unknown corruption 'sandstorm'") && e.contains("valid names:"),
            "{e}"
        );
        let e = err("name = 'x'\n[[corruption]]\nname = 'brightness'\nseverities = [0, 3]\n");
        assert!(
            e.contains("severity must be an integer from 1 to 5, got 0")
                && e.contains("brightness"),
            "{e}"
        );
        let e = err("name = 'x'\n[[corruption]]\nname = 'brightness'\nseverities = [6]\n");
        assert!(e.contains("got 6"), "{e}");
        let e = err("name = 'x'\n");
        assert!(e.contains("lists no corruptions"), "{e}");
        let e = err(
            "name = 'x'\n[[corruption]]\nname = 'contrast'\n[[corruption]]\nname = 'contrast'\n",
        );
        assert!(e.contains("twice"), "{e}");
        let e = err("name = 'x'\n[[corruption]]\nname = 'contrast'\nstrength = 3\n");
        assert!(e.contains("not valid profile TOML"), "{e}");
        let e = format!("{:#}", Profile::load("no-such-profile").err().unwrap());
        assert!(e.contains("built-in profiles: driving"), "{e}");
    }

    #[test]
    fn severities_are_sorted_and_deduplicated() {
        let p = Profile::from_toml(
            "name = 'x'\n[[corruption]]\nname = 'contrast'\nseverities = [5, 1, 5]\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            p.entries[0].severities,
            vec![Severity::new(1).unwrap(), Severity::new(5).unwrap()]
        );
    }
}

//! The catalogue of corruptions, looked up by name.

use std::sync::OnceLock;

use anyhow::{bail, Result};

use super::{
    blur, codec, colour, documents, geometry, lighting, medical, noise, satellite, weather,
    Corruption,
};

/// Every corruption the engine knows, grouped by family, in a stable order.
pub fn all() -> &'static [&'static dyn Corruption] {
    static ALL: OnceLock<Vec<&'static dyn Corruption>> = OnceLock::new();
    ALL.get_or_init(|| {
        let families: [&[&'static dyn Corruption]; 10] = [
            noise::ALL,
            blur::ALL,
            weather::ALL,
            colour::ALL,
            codec::ALL,
            geometry::ALL,
            lighting::ALL,
            medical::ALL,
            satellite::ALL,
            documents::ALL,
        ];
        families.iter().flat_map(|f| f.iter().copied()).collect()
    })
}

/// DeepBench's corruption class names, accepted wherever a name is, so its TOML
/// configurations read unchanged.
const ALIASES: &[(&str, &str)] = &[
    ("brightness", "brightness"),
    ("contrast", "contrast"),
    ("imageflip", "flip"),
    ("gaussiannoise", "gaussian_noise"),
    ("imagerotation", "rotation"),
    ("motionblur", "motion_blur"),
    ("perspectivetransformation", "perspective"),
    ("shadow", "shadow"),
    ("gridelasticdeformation", "grid_elastic"),
    ("saltpeppernoise", "salt_pepper"),
    ("gaussianblur", "gaussian_blur"),
    ("globalcolourshift", "colour_shift"),
    ("globalcolorshift", "colour_shift"),
    ("griddistortion", "grid_distortion"),
    ("rain", "rain"),
    ("cloudgenerator", "clouds"),
];

/// Looks up a corruption by its name (or a DeepBench class name); an unknown name is an
/// error that lists the valid ones.
pub fn find(name: &str) -> Result<&'static dyn Corruption> {
    let key = name.trim().to_ascii_lowercase().replace('-', "_");
    if let Some(c) = all().iter().find(|c| c.name() == key) {
        return Ok(*c);
    }
    let squashed = key.replace('_', "");
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == squashed) {
        if let Some(c) = all().iter().find(|c| c.name() == *to) {
            return Ok(*c);
        }
    }
    bail!(
        "unknown corruption '{name}'; valid names: {}",
        names().join(", ")
    )
}

/// All corruption names, in catalogue order.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|c| c.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let names = names();
        let mut seen = std::collections::HashSet::new();
        for n in &names {
            assert!(seen.insert(*n), "duplicate {n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{n}"
            );
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = find("sandstorm").err().unwrap().to_string();
        assert!(err.contains("unknown corruption 'sandstorm'"), "{err}");
        if let Some(first) = names().first() {
            assert!(err.contains(first), "{err}");
        }
    }

    #[test]
    fn deepbench_aliases_resolve() {
        for (from, to) in ALIASES {
            if all().iter().any(|c| c.name() == *to) {
                assert_eq!(find(from).unwrap().name(), *to);
            }
        }
    }
}

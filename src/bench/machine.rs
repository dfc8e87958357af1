//! What the benchmark ran on: CPU model, cores and the vector features tract and the
//! corruption engine can use, so results from a fleet can be told apart.

use serde::{Deserialize, Serialize};

/// The machine a benchmark ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// `std::env::consts::ARCH` (x86_64, aarch64, arm).
    pub arch: String,
    /// `std::env::consts::OS`.
    pub os: String,
    /// CPU model name from /proc/cpuinfo, or "unknown".
    pub cpu: String,
    /// Logical cores available to this process.
    pub cores: usize,
    /// Vector features that select kernels (x86: avx2, fma, avx512f, avx512vnni; aarch64:
    /// neon, fp16, dotprod, i8mm).
    pub features: Vec<String>,
}

impl Machine {
    /// Reads the current machine.
    pub fn current() -> Machine {
        Machine {
            arch: std::env::consts::ARCH.to_string(),
            os: std::env::consts::OS.to_string(),
            cpu: cpu_name().unwrap_or_else(|| "unknown".to_string()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            features: features(),
        }
    }
}

fn cpu_name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    // x86 says "model name"; ARM kernels say "Model" (board) or nothing useful, so fall back
    // to the implementer/part pair that identifies the core.
    let field = |key: &str| {
        info.lines()
            .find(|l| l.split(':').next().map(str::trim) == Some(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    field("model name").or_else(|| field("Model")).or_else(|| {
        Some(format!(
            "implementer {} part {}",
            field("CPU implementer")?,
            field("CPU part")?
        ))
    })
}

#[allow(clippy::vec_init_then_push)]
// On a target with no runtime-detected features (armv7) nothing is pushed.
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(unused_mut)
)]
fn features() -> Vec<String> {
    let mut f: Vec<&str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        for (name, on) in [
            ("avx2", has!("avx2")),
            ("fma", has!("fma")),
            ("avx512f", has!("avx512f")),
            ("avx512vnni", has!("avx512vnni")),
            ("f16c", has!("f16c")),
        ] {
            if on {
                f.push(name);
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use std::arch::is_aarch64_feature_detected as has;
        for (name, on) in [
            ("neon", has!("neon")),
            ("fp16", has!("fp16")),
            ("dotprod", has!("dotprod")),
            ("i8mm", has!("i8mm")),
        ] {
            if on {
                f.push(name);
            }
        }
    }
    f.into_iter().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_machine() {
        let m = Machine::current();
        assert_eq!(m.arch, std::env::consts::ARCH);
        assert!(m.cores >= 1);
        assert!(!m.cpu.is_empty());
        #[cfg(target_arch = "aarch64")]
        assert!(m.features.iter().any(|f| f == "neon"));
    }
}

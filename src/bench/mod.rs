//! Benchmarking: latency percentiles, the per-model benchmark behind `edgeclip bench`, its
//! JSON report and the comparison of two reports.

use std::time::Instant;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

pub mod machine;
pub mod model;
pub mod report;

/// Summary of repeated timings, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// Number of timed runs.
    pub runs: usize,
    /// Median.
    pub median_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Fastest run.
    pub min_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

impl Latency {
    /// Summarises raw timings (nearest-rank percentiles).
    pub fn from_samples(samples: &[f64]) -> Latency {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let pct = |p: f64| {
            if n == 0 {
                return f64::NAN;
            }
            let rank = ((p / 100.0) * n as f64).ceil() as usize;
            s[rank.clamp(1, n) - 1]
        };
        let median = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Latency {
            runs: n,
            median_ms: median,
            mean_ms: s.iter().sum::<f64>() / n.max(1) as f64,
            min_ms: s.first().copied().unwrap_or(f64::NAN),
            p90_ms: pct(90.0),
            p99_ms: pct(99.0),
        }
    }
}

/// Runs `f` `warmup` times untimed, then `runs` times timed.
pub fn measure(warmup: usize, runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<Latency> {
    if runs == 0 {
        bail!("the number of runs must be at least 1");
    }
    for _ in 0..warmup {
        f()?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(Latency::from_samples(&samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        let l = Latency::from_samples(&samples);
        assert_eq!(
            (l.median_ms, l.p90_ms, l.p99_ms, l.min_ms),
            (50.5, 90.0, 99.0, 1.0)
        );
        assert_eq!(Latency::from_samples(&[3.0, 1.0, 2.0]).median_ms, 2.0);
        assert!(measure(0, 0, || Ok(())).is_err());
        assert_eq!(measure(1, 4, || Ok(())).unwrap().runs, 4);
    }
}

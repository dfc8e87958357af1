//! In-process timing of a profile's corruptions: per-image latency on one thread, or
//! batch throughput over a thread pool.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::Serialize;

use super::{corrupt, Image, Profile};

/// Timing of one (corruption, severity) cell.
#[derive(Clone, Debug, Serialize)]
pub struct CellTiming {
    /// Corruption name.
    pub corruption: &'static str,
    /// Severity 1..5.
    pub severity: u8,
    /// Median wall time per image, in milliseconds.
    pub median_ms: f64,
    /// Threads used.
    pub threads: usize,
    /// Images per second at that median (all threads together).
    pub images_per_s: f64,
}

/// How to time a profile.
#[derive(Clone, Copy, Debug)]
pub struct TimingOptions {
    /// Timed repeats per cell (median taken).
    pub repeats: usize,
    /// Threads; 1 times single images, more times batches of `2 * threads` images.
    pub threads: usize,
    /// Seed of the first repeat; repeat i uses seed + i.
    pub seed: u64,
}

/// Times every cell of `profile` on `image`.
pub fn time_profile(
    image: &Image,
    profile: &Profile,
    opts: TimingOptions,
) -> Result<Vec<CellTiming>> {
    if opts.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    if opts.threads == 0 {
        bail!("--threads must be at least 1");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .context("cannot start the thread pool")?;
    let batch = if opts.threads == 1 {
        1
    } else {
        2 * opts.threads
    };
    let mut out = Vec::with_capacity(profile.cells());
    for entry in &profile.entries {
        for &s in &entry.severities {
            let c = entry.corruption;
            // One untimed run warms caches and the allocator.
            std::hint::black_box(corrupt(image, c, s, opts.seed));
            let mut samples = Vec::with_capacity(opts.repeats);
            for r in 0..opts.repeats {
                let seed = opts.seed.wrapping_add(r as u64 * batch as u64);
                let t = Instant::now();
                if batch == 1 {
                    std::hint::black_box(corrupt(image, c, s, seed));
                } else {
                    pool.install(|| {
                        (0..batch as u64).into_par_iter().for_each(|i| {
                            std::hint::black_box(corrupt(image, c, s, seed.wrapping_add(i)));
                        })
                    });
                }
                samples.push(t.elapsed().as_secs_f64() * 1e3 / batch as f64);
            }
            let median_ms = crate::bench::Latency::from_samples(&samples).median_ms;
            out.push(CellTiming {
                corruption: c.name(),
                severity: s.level(),
                median_ms,
                threads: opts.threads,
                images_per_s: 1e3 / median_ms.max(1e-9),
            });
        }
    }
    Ok(out)
}

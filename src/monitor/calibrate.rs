//! Calibration: what the monitor learns from clean in-distribution frames before it
//! watches a stream: a softmax temperature, the ATC threshold, reference statistics, and
//! alarm thresholds chosen by replaying clean streams to a target false-alarm rate.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::detectors::{ChiSquare, Cusum, PageHinkley};
use crate::corrupt::Rng;
use crate::framed;
use crate::fsutil::write_atomic;
use crate::zeroshot::head::{softmax, Head, HeadKind, Scores};

/// First bytes of a calibration file.
pub const MAGIC: &[u8; 8] = b"ECCALIBR";
/// Calibration format version.
pub const VERSION: u32 = 1;

/// The head's temperature-scaled view of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Predicted class.
    pub predicted: usize,
    /// Probability of the predicted class.
    pub confidence: f32,
    /// Entropy in nats.
    pub entropy: f32,
}

/// Probabilities of `logits` under `head` at `temperature` (softmax heads only; a
/// sigmoid head's scores are independent and left unscaled).
pub fn frame(head: &Head, logits: &[f32], temperature: f32) -> Frame {
    let scores = match head.kind {
        HeadKind::Softmax => {
            let scaled: Vec<f32> = logits.iter().map(|z| z / temperature).collect();
            let probs = softmax(&scaled);
            Scores {
                logits: scaled,
                probs,
            }
        }
        HeadKind::Sigmoid => Scores {
            logits: logits.to_vec(),
            probs: head.probabilities(logits),
        },
    };
    Frame {
        predicted: scores.argmax(),
        confidence: scores.confidence(),
        entropy: scores.entropy(),
    }
}

/// Knobs of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Target false alarms per frame of all detectors together on clean streams.
    pub false_alarm_rate: f64,
    /// Drop of the ATC hit rate the CUSUM is tuned to detect.
    pub cusum_shift: f64,
    /// Frames per chi-square block.
    pub chi_window: usize,
    /// Frames of the windowed ATC / DoC estimates.
    pub window: usize,
    /// Clean frames replayed to choose the thresholds.
    pub replay_frames: usize,
    /// Seed of the replay.
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            false_alarm_rate: 5e-5,
            cusum_shift: 0.10,
            chi_window: 200,
            window: 500,
            replay_frames: 1_000_000,
            seed: 0,
        }
    }
}

/// Everything the monitor needs, tied to the model and prompt cache it was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Model name.
    pub model_name: String,
    /// Image-side fingerprint of the model (`ModelDir::image_fingerprint`).
    pub image_fingerprint: String,
    /// Fingerprint of the prompt cache's contents (`PromptCache::content_fingerprint`).
    pub prompt_fingerprint: String,
    /// Prompt labels, in order.
    pub labels: Vec<String>,
    /// Clean frames it was fitted on.
    pub frames: usize,
    /// Whether those frames had labels.
    pub labelled: bool,
    /// Softmax temperature fitted by likelihood (1 without labels or for sigmoid heads).
    pub temperature: f32,
    /// Clean accuracy, when labelled.
    pub clean_accuracy: Option<f64>,
    /// ATC rule: a frame counts as correct when its entropy is at most this. With labels
    /// the share of such frames on the clean set equals its accuracy (Garg et al. 2022);
    /// without, it is the clean 90th percentile.
    pub entropy_threshold: f64,
    /// Share of clean frames the ATC rule counts as correct.
    pub hit_rate: f64,
    /// Mean confidence on the clean frames (DoC's reference).
    pub mean_confidence: f64,
    /// Mean entropy on the clean frames.
    pub mean_entropy: f64,
    /// Standard deviation of the entropy on the clean frames.
    pub std_entropy: f64,
    /// Predicted-class proportions on the clean frames (smoothed).
    pub class_proportions: Vec<f64>,
    /// Share of each class in the stream, as calibrated: label proportions when
    /// labelled, else the predicted-class proportions.
    pub class_prior: Vec<f64>,
    /// The options the thresholds were chosen with.
    pub options: FitOptions,
    /// CUSUM on the ATC hits, with its replayed threshold.
    pub cusum: Cusum,
    /// Page-Hinkley on the entropy, with its replayed threshold.
    pub page_hinkley: PageHinkley,
    /// Chi-square on the class histogram, with its replayed critical value.
    pub chi_square: ChiSquare,
}

/// Fits the temperature that minimises the negative log-likelihood of the labels
/// (golden-section search over log T in [0.05, 20]).
pub fn fit_temperature(logits: &[Vec<f32>], labels: &[usize]) -> f32 {
    let nll = |t: f64| -> f64 {
        logits
            .iter()
            .zip(labels)
            .map(|(z, &y)| {
                let scaled: Vec<f64> = z.iter().map(|&v| v as f64 / t).collect();
                let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = max + scaled.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
                lse - scaled.get(y).copied().unwrap_or(max)
            })
            .sum()
    };
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (nll(c.exp()), nll(d.exp()));
    for _ in 0..60 {
        if fc < fd {
            (b, d, fd) = (d, c, fc);
            c = b - g * (b - a);
            fc = nll(c.exp());
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + g * (b - a);
            fd = nll(d.exp());
        }
    }
    ((a + b) / 2.0).exp() as f32
}

/// The entropy threshold under which a share `rate` of `entropies` falls (midway between
/// neighbours, so ties do not matter).
pub fn entropy_threshold(entropies: &[f64], rate: f64) -> f64 {
    let mut sorted = entropies.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let k = ((rate * n as f64).round() as usize).min(n);
    match k {
        0 => f64::NEG_INFINITY,
        k if k == n => f64::INFINITY,
        k => (sorted[k - 1] + sorted[k]) / 2.0,
    }
}

/// Smallest threshold in `[0, hi]` whose replayed alarm count per frame is at most
/// `rate` (bisection; the count falls as the threshold rises).
fn replay_threshold(rate: f64, frames: usize, mut alarms: impl FnMut(f64) -> usize) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while (alarms(hi) as f64 / frames as f64) > rate && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        if (alarms(mid) as f64 / frames as f64) > rate {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Calibrates on clean frames: `logits` per frame, `labels` (prompt indices) when known.
pub fn fit(
    head: &Head,
    logits: &[Vec<f32>],
    labels: Option<&[usize]>,
    opts: FitOptions,
) -> Result<Calibration> {
    let n = logits.len();
    if n < 20 {
        bail!("calibration needs at least 20 readable clean images, got {n}");
    }
    let classes = logits[0].len();
    if labels.is_some_and(|l| l.len() != n) {
        bail!("calibration has {n} frames but a different number of labels");
    }
    if !(opts.false_alarm_rate > 0.0 && opts.false_alarm_rate < 1.0) {
        bail!("the false-alarm rate must be between 0 and 1");
    }
    if !(opts.cusum_shift > 0.0 && opts.cusum_shift < 1.0) {
        bail!("the CUSUM shift must be between 0 and 1");
    }
    let temperature = match (labels, head.kind) {
        (Some(l), HeadKind::Softmax) => fit_temperature(logits, l),
        _ => 1.0,
    };
    let frames: Vec<Frame> = logits.iter().map(|z| frame(head, z, temperature)).collect();
    let entropies: Vec<f64> = frames.iter().map(|f| f64::from(f.entropy)).collect();
    let clean_accuracy = labels.map(|l| {
        frames
            .iter()
            .zip(l)
            .filter(|(f, &y)| f.predicted == y)
            .count() as f64
            / n as f64
    });
    let entropy_threshold = entropy_threshold(&entropies, clean_accuracy.unwrap_or(0.9));
    let hits: Vec<bool> = entropies.iter().map(|&e| e <= entropy_threshold).collect();
    let hit_rate = hits.iter().filter(|&&h| h).count() as f64 / n as f64;
    let mean_entropy = entropies.iter().sum::<f64>() / n as f64;
    let std_entropy = (entropies
        .iter()
        .map(|e| (e - mean_entropy).powi(2))
        .sum::<f64>()
        / (n - 1) as f64)
        .sqrt();
    let mean_confidence = frames.iter().map(|f| f64::from(f.confidence)).sum::<f64>() / n as f64;
    let mut counts = vec![0f64; classes];
    for f in &frames {
        counts[f.predicted] += 1.0;
    }
    // Half a count of smoothing keeps every expected count positive.
    let total = n as f64 + 0.5 * classes as f64;
    let class_proportions: Vec<f64> = counts.iter().map(|c| (c + 0.5) / total).collect();
    let class_prior = match labels {
        Some(l) => {
            let mut counts = vec![0f64; classes];
            for &y in l {
                if let Some(c) = counts.get_mut(y) {
                    *c += 1.0;
                }
            }
            counts.iter().map(|c| (c + 0.5) / total).collect()
        }
        None => class_proportions.clone(),
    };

    // Replay: one long bootstrap stream of clean frames, shared by all detectors.
    let per_detector = opts.false_alarm_rate / 3.0;
    let mut rng = Rng::new(opts.seed, "monitor-calibration-replay");
    let stream: Vec<u32> = (0..opts.replay_frames)
        .map(|_| rng.below(n as u32))
        .collect();
    let p0 = hit_rate.clamp(0.02, 0.98);
    let p1 = (p0 - opts.cusum_shift).max(0.01);
    let h = replay_threshold(per_detector, stream.len(), |h| {
        let mut c = Cusum::new(p0, p1, h);
        stream
            .iter()
            .filter(|&&i| c.update(hits[i as usize]))
            .count()
    });
    let delta = 0.25 * std_entropy;
    let lambda = replay_threshold(per_detector, stream.len(), |lambda| {
        let mut ph = PageHinkley::new(mean_entropy, delta, lambda);
        stream
            .iter()
            .filter(|&&i| ph.update(entropies[i as usize]))
            .count()
    });
    let window = opts.chi_window.max(classes);
    let mut stats: Vec<f64> = stream
        .chunks_exact(window)
        .map(|block| {
            let mut c = vec![0u32; classes];
            for &i in block {
                c[frames[i as usize].predicted] += 1;
            }
            ChiSquare::statistic(&class_proportions, &c, window)
        })
        .collect();
    if stats.is_empty() {
        bail!("the replay is shorter than one chi-square block; raise the replay length");
    }
    stats.sort_by(f64::total_cmp);
    let per_block = (per_detector * window as f64).min(1.0);
    let idx = (((1.0 - per_block) * stats.len() as f64).ceil() as usize).min(stats.len() - 1);
    let critical = stats[idx];
    Ok(Calibration {
        model_name: String::new(),
        image_fingerprint: String::new(),
        prompt_fingerprint: String::new(),
        labels: Vec::new(),
        frames: n,
        labelled: labels.is_some(),
        temperature,
        clean_accuracy,
        entropy_threshold,
        hit_rate,
        mean_confidence,
        mean_entropy,
        std_entropy,
        class_proportions: class_proportions.clone(),
        class_prior,
        options: opts,
        cusum: Cusum::new(p0, p1, h),
        page_hinkley: PageHinkley::new(mean_entropy, delta, lambda),
        chi_square: ChiSquare::new(class_proportions, window, critical),
    })
}

impl Calibration {
    /// Encodes to the file format.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload = postcard::to_stdvec(self).context("cannot encode the calibration")?;
        Ok(framed::encode(MAGIC, VERSION, &payload))
    }

    /// Decodes and verifies a calibration file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Calibration> {
        let payload = framed::decode(
            bytes,
            MAGIC,
            VERSION,
            "calibration",
            "recalibrate with `edgeclip calibrate`",
        )?;
        let c: Calibration = postcard::from_bytes(payload)
            .context("calibration is corrupted (cannot decode its contents)")?;
        if c.class_proportions.len() != c.labels.len()
            || c.class_prior.len() != c.labels.len()
            || c.labels.is_empty()
        {
            bail!("calibration is corrupted (class statistics do not match its labels)");
        }
        Ok(c)
    }

    /// Writes the calibration atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads and verifies a calibration file.
    pub fn load(path: &Path) -> Result<Calibration> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read calibration {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("calibration {}", path.display()))
    }

    /// Errors unless the calibration was made with this image encoder and prompt cache.
    pub fn check(&self, image_fingerprint: &str, prompt_fingerprint: &str) -> Result<()> {
        if self.image_fingerprint != image_fingerprint {
            bail!(
                "the calibration was made for another image encoder (model {:?}); recalibrate with `edgeclip calibrate` for this model",
                self.model_name
            );
        }
        if self.prompt_fingerprint != prompt_fingerprint {
            bail!("the calibration was made with other prompts (a different prompt cache or labels); recalibrate with the deployed prompt cache");
        }
        Ok(())
    }

    /// A stable identity of this calibration, recorded in monitor state files.
    pub fn id(&self) -> Result<String> {
        Ok(framed::sha256_hex(&postcard::to_stdvec(self)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head {
            kind: HeadKind::Softmax,
            scale: 1.0,
            bias: 0.0,
        }
    }

    /// Three-class logits: class `y` leads by `margin`.
    fn logits(y: usize, margin: f32) -> Vec<f32> {
        let mut z = vec![0.0; 3];
        z[y] = margin;
        z
    }

    #[test]
    fn temperature_recovers_an_overconfident_scale() {
        // Labels drawn so that the true class probability at T = 2 matches: logits with
        // margin 4 are right with probability e^2 / (e^2 + 2) = 0.787 at T = 2.
        let mut z = Vec::new();
        let mut y = Vec::new();
        let mut rng = Rng::new(1, "t");
        for _ in 0..4000 {
            let pred = rng.below(3) as usize;
            z.push(logits(pred, 4.0));
            let right = (rng.uniform() as f64) < (2f64.exp() / (2f64.exp() + 2.0));
            y.push(if right {
                pred
            } else {
                (pred + 1 + rng.below(2) as usize) % 3
            });
        }
        let t = fit_temperature(&z, &y);
        assert!((t - 2.0).abs() < 0.15, "T = {t}");
    }

    #[test]
    fn atc_threshold_reproduces_the_accuracy_on_the_calibration_set() {
        let e: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        let t = entropy_threshold(&e, 0.8);
        assert_eq!(e.iter().filter(|&&x| x <= t).count(), 80);
        assert_eq!(entropy_threshold(&e, 0.0), f64::NEG_INFINITY);
        assert_eq!(entropy_threshold(&e, 1.0), f64::INFINITY);
    }

    fn sample_calibration() -> Calibration {
        let mut rng = Rng::new(2, "c");
        let mut z = Vec::new();
        let mut y = Vec::new();
        for _ in 0..300 {
            let c = rng.below(3) as usize;
            z.push(logits(c, 1.0 + 4.0 * rng.uniform()));
            y.push(if rng.uniform() < 0.9 { c } else { (c + 1) % 3 });
        }
        let opts = FitOptions {
            replay_frames: 200_000,
            chi_window: 60,
            ..FitOptions::default()
        };
        let mut c = fit(&head(), &z, Some(&y), opts).unwrap();
        c.labels = vec!["a".into(), "b".into(), "c".into()];
        c
    }

    #[test]
    fn replayed_thresholds_hold_the_false_alarm_rate_on_fresh_clean_streams() {
        let c = sample_calibration();
        assert!(c.clean_accuracy.unwrap() > 0.8);
        assert!((c.hit_rate - c.clean_accuracy.unwrap()).abs() < 0.01);
        // A fresh replay (other seed) of the same clean distribution.
        let mut rng = Rng::new(99, "fresh");
        let mut z = Vec::new();
        for _ in 0..300 {
            let k = rng.below(3) as usize;
            z.push(logits(k, 1.0 + 4.0 * rng.uniform()));
        }
        let (mut cu, mut ph, mut chi) = (c.cusum, c.page_hinkley, c.chi_square.clone());
        let mut alarms = 0;
        let frames = 300_000;
        for _ in 0..frames {
            let f = frame(&head(), &z[rng.below(300) as usize], c.temperature);
            alarms += usize::from(cu.update(f64::from(f.entropy) <= c.entropy_threshold));
            alarms += usize::from(ph.update(f64::from(f.entropy)));
            alarms += usize::from(chi.update(f.predicted));
        }
        // Target 5e-5 per frame: 15 expected; allow for the other sample's differences.
        assert!(alarms < 60, "{alarms} alarms in {frames} clean frames");
    }

    #[test]
    fn file_round_trips_and_rejects_damage_and_other_models() {
        let mut c = sample_calibration();
        c.image_fingerprint = "img".into();
        c.prompt_fingerprint = "pr".into();
        let bytes = c.to_bytes().unwrap();
        assert_eq!(Calibration::from_bytes(&bytes).unwrap(), c);
        let mut bad = bytes.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 1;
        assert!(format!("{:#}", Calibration::from_bytes(&bad).unwrap_err()).contains("corrupted"));
        assert!(c.check("img", "pr").is_ok());
        assert!(
            format!("{:#}", c.check("other", "pr").unwrap_err()).contains("another image encoder")
        );
        assert!(format!("{:#}", c.check("img", "x").unwrap_err()).contains("other prompts"));
    }

    #[test]
    fn too_few_frames_is_an_error() {
        let z = vec![logits(0, 1.0); 5];
        assert!(fit(&head(), &z, None, FitOptions::default()).is_err());
    }
}

//! The label-free degradation monitor: each frame's image embedding is scored against
//! the cached prompt embeddings, and constant-memory detectors watch the stream for
//! degradation: a windowed ATC accuracy estimate with a confidence interval, DoC as a
//! cross-check, a CUSUM on the ATC hits, Page-Hinkley on the entropy, and a chi-square
//! test of the predicted-class histogram. Its state persists atomically between runs.

pub mod calibrate;
pub mod detectors;
pub mod evaluate;
pub mod prometheus;
pub mod stream;

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::framed;
use crate::fsutil::write_atomic;
use crate::zeroshot::head::Head;
use calibrate::{frame, Calibration};
use detectors::{wilson_interval, ChiSquare, Cusum, PageHinkley, Window};

/// First bytes of a monitor state file.
pub const STATE_MAGIC: &[u8; 8] = b"ECMONSTA";
/// State format version.
pub const STATE_VERSION: u32 = 1;

/// Alarm counts per detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarms {
    /// CUSUM on the ATC hits.
    pub cusum: u64,
    /// Page-Hinkley on the entropy.
    pub page_hinkley: u64,
    /// Chi-square on the class histogram.
    pub chi_square: u64,
}

impl Alarms {
    /// All alarms.
    pub fn total(&self) -> u64 {
        self.cusum + self.page_hinkley + self.chi_square
    }
}

/// Everything the monitor carries from frame to frame; bounded in size whatever the
/// stream length, and saved so a restart resumes where it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorState {
    /// Identity of the calibration this state belongs to.
    pub calibration_id: String,
    /// Frames scored.
    pub frames: u64,
    /// Unreadable frames skipped.
    pub skipped: u64,
    /// Alarms raised so far.
    pub alarms: Alarms,
    /// Frame number of the last alarm, if any.
    pub last_alarm: Option<u64>,
    /// CUSUM state.
    pub cusum: Cusum,
    /// Page-Hinkley state.
    pub page_hinkley: PageHinkley,
    /// Chi-square state.
    pub chi_square: ChiSquare,
    /// Recent frames.
    pub window: Window,
    /// Where the input source stopped (its own encoding), for resuming.
    pub resume: Option<String>,
}

/// What one frame did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameOutcome {
    /// Predicted label index.
    pub predicted: usize,
    /// Temperature-scaled confidence.
    pub confidence: f32,
    /// Entropy (nats).
    pub entropy: f32,
    /// Whether the ATC rule counts it as correct.
    pub atc_hit: bool,
    /// Detectors that raised an alarm on this frame.
    pub alarms: Vec<&'static str>,
}

/// The monitor's current estimates, emitted per window and exported as metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Frames scored.
    pub frames: u64,
    /// Unreadable frames skipped.
    pub skipped: u64,
    /// Frames in the estimate window.
    pub window_frames: usize,
    /// ATC accuracy estimate over the window, each predicted class capped at its
    /// calibrated share of the stream (see [`detectors::Window::capped_hit_rate`]); for an
    /// unlabelled calibration, the share of confident frames.
    pub atc_accuracy: f64,
    /// Plain ATC estimate (share of frames the ATC rule counts as correct).
    pub atc_uncapped: f64,
    /// 95% Wilson interval of the estimate (window noise only).
    pub atc_low: f64,
    /// Upper end of the interval.
    pub atc_high: f64,
    /// DoC accuracy estimate (clean accuracy minus the drop of mean confidence).
    pub doc_accuracy: Option<f64>,
    /// CUSUM statistic and its threshold.
    pub cusum: f64,
    /// CUSUM threshold.
    pub cusum_threshold: f64,
    /// Page-Hinkley statistic.
    pub page_hinkley: f64,
    /// Page-Hinkley threshold.
    pub page_hinkley_threshold: f64,
    /// Chi-square statistic of the last complete block.
    pub chi_square: f64,
    /// Chi-square critical value.
    pub chi_square_critical: f64,
    /// Alarms so far.
    pub alarms: Alarms,
    /// Frame of the last alarm.
    pub last_alarm: Option<u64>,
}

/// A calibrated monitor and its state.
#[derive(Debug, Clone)]
pub struct Monitor {
    calibration: Calibration,
    head: Head,
    classes: Vec<f32>,
    dim: usize,
    state: MonitorState,
}

impl Monitor {
    /// A monitor in its initial state. `classes` are the cache's unit-norm class
    /// embeddings (`labels x dim`), scored with `head`.
    pub fn new(
        calibration: Calibration,
        head: Head,
        classes: Vec<f32>,
        dim: usize,
    ) -> Result<Monitor> {
        if dim == 0 || classes.len() != calibration.labels.len() * dim {
            bail!(
                "the prompt embeddings do not match the calibration's {} labels",
                calibration.labels.len()
            );
        }
        let state = MonitorState {
            calibration_id: calibration.id()?,
            frames: 0,
            skipped: 0,
            alarms: Alarms::default(),
            last_alarm: None,
            cusum: calibration.cusum,
            page_hinkley: calibration.page_hinkley,
            chi_square: calibration.chi_square.clone(),
            window: Window::new(calibration.options.window, calibration.labels.len()),
            resume: None,
        };
        Ok(Monitor {
            calibration,
            head,
            classes,
            dim,
            state,
        })
    }

    /// The calibration in use.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// The current state.
    pub fn state(&self) -> &MonitorState {
        &self.state
    }

    /// Records where the input source stopped.
    pub fn set_resume(&mut self, resume: Option<String>) {
        self.state.resume = resume;
    }

    /// Replaces the state with a saved one; errors if it belongs to another calibration.
    pub fn restore(&mut self, state: MonitorState) -> Result<()> {
        if state.calibration_id != self.state.calibration_id {
            bail!("the monitor state was written with another calibration; start afresh with --reset-state");
        }
        if state.chi_square.expected.len() != self.calibration.labels.len()
            || state.window.size != self.calibration.options.window
        {
            bail!("monitor state is corrupted (class counts do not match the calibration)");
        }
        self.state = state;
        Ok(())
    }

    /// Counts an unreadable frame.
    pub fn skip(&mut self) {
        self.state.skipped += 1;
    }

    /// Scores one L2-normalised image embedding and updates every detector.
    pub fn observe(&mut self, embedding: &[f32]) -> Result<FrameOutcome> {
        if embedding.len() != self.dim {
            bail!(
                "embedding has {} values, the prompts {}",
                embedding.len(),
                self.dim
            );
        }
        let logits = self.head.logits(embedding, &self.classes);
        Ok(self.observe_logits(&logits))
    }

    /// Updates every detector with one frame's logits.
    pub fn observe_logits(&mut self, logits: &[f32]) -> FrameOutcome {
        let c = &self.calibration;
        let f = frame(&self.head, logits, c.temperature);
        let hit = f64::from(f.entropy) <= c.entropy_threshold;
        let s = &mut self.state;
        s.frames += 1;
        s.window.push(hit, f.confidence, f.predicted);
        let mut alarms = Vec::new();
        if s.cusum.update(hit) {
            s.alarms.cusum += 1;
            alarms.push("cusum");
        }
        if s.page_hinkley.update(f64::from(f.entropy)) {
            s.alarms.page_hinkley += 1;
            alarms.push("page_hinkley");
        }
        if s.chi_square.update(f.predicted) {
            s.alarms.chi_square += 1;
            alarms.push("chi_square");
        }
        if !alarms.is_empty() {
            s.last_alarm = Some(s.frames);
        }
        FrameOutcome {
            predicted: f.predicted,
            confidence: f.confidence,
            entropy: f.entropy,
            atc_hit: hit,
            alarms,
        }
    }

    /// The current estimates.
    pub fn snapshot(&self) -> Snapshot {
        let s = &self.state;
        let c = &self.calibration;
        let n = s.window.len();
        let rate = s.window.capped_hit_rate(&c.class_prior);
        let hits = if n == 0 {
            0
        } else {
            (rate * n as f64).round() as usize
        };
        let (lo, hi) = wilson_interval(hits, n);
        Snapshot {
            frames: s.frames,
            skipped: s.skipped,
            window_frames: n,
            atc_accuracy: rate,
            atc_uncapped: s.window.hit_rate(),
            atc_low: lo,
            atc_high: hi,
            doc_accuracy: c
                .clean_accuracy
                .map(|a| a - (c.mean_confidence - s.window.mean_confidence())),
            cusum: s.cusum.s,
            cusum_threshold: s.cusum.h,
            page_hinkley: s.page_hinkley.m,
            page_hinkley_threshold: s.page_hinkley.lambda,
            chi_square: s.chi_square.last,
            chi_square_critical: s.chi_square.critical,
            alarms: s.alarms,
            last_alarm: s.last_alarm,
        }
    }

    /// Saves the state atomically.
    pub fn save_state(&self, path: &Path) -> Result<()> {
        let payload =
            postcard::to_stdvec(&self.state).context("cannot encode the monitor state")?;
        write_atomic(path, &framed::encode(STATE_MAGIC, STATE_VERSION, &payload))
    }

    /// Reads a state file.
    pub fn load_state(path: &Path) -> Result<MonitorState> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read monitor state {}", path.display()))?;
        let decoded = framed::decode(
            &bytes,
            STATE_MAGIC,
            STATE_VERSION,
            "monitor state",
            "start afresh with --reset-state",
        )
        .and_then(|p| {
            postcard::from_bytes::<MonitorState>(p)
                .context("monitor state is corrupted (cannot decode its contents)")
        });
        decoded.with_context(|| {
            format!(
                "monitor state {} (start afresh with --reset-state)",
                path.display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::calibrate::{fit, FitOptions};
    use super::*;
    use crate::corrupt::Rng;
    use crate::zeroshot::head::HeadKind;

    fn monitor() -> Monitor {
        let head = Head {
            kind: HeadKind::Softmax,
            scale: 10.0,
            bias: 0.0,
        };
        let classes = vec![1.0, 0.0, 0.0, 1.0];
        let mut rng = Rng::new(5, "m");
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..200 {
            let k = rng.below(2) as usize;
            let m = 2.0 + 6.0 * rng.uniform();
            let mut z = vec![0.0; 2];
            z[k] = m;
            logits.push(z);
            labels.push(if rng.uniform() < 0.92 { k } else { 1 - k });
        }
        let opts = FitOptions {
            replay_frames: 100_000,
            chi_window: 50,
            window: 100,
            ..FitOptions::default()
        };
        let mut c = fit(&head, &logits, Some(&labels), opts).unwrap();
        c.labels = vec!["a".into(), "b".into()];
        Monitor::new(c, head, classes, 2).unwrap()
    }

    #[test]
    fn confident_frames_stay_quiet_and_uncertain_ones_alarm() {
        let mut m = monitor();
        // Margin 7, above the calibration's average of 5: confident.
        let sharp = [0.95f32, 0.25];
        let flat = [0.72f32, 0.69];
        for i in 0..2000 {
            let e = if i % 2 == 0 {
                sharp
            } else {
                [sharp[1], sharp[0]]
            };
            let out = m.observe(&e).unwrap();
            assert!(
                out.alarms.is_empty(),
                "frame {i}: {out:?} {:?}",
                m.snapshot()
            );
        }
        let snap = m.snapshot();
        assert_eq!(snap.frames, 2000);
        assert_eq!(snap.atc_accuracy, 1.0);
        let first = (0..200).find(|_| !m.observe(&flat).unwrap().alarms.is_empty());
        assert!(first.is_some_and(|k| k < 50), "late or no alarm: {first:?}");
        assert!(m.snapshot().atc_accuracy < 1.0);
    }

    #[test]
    fn state_round_trips_and_is_tied_to_its_calibration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        let mut m = monitor();
        for _ in 0..77 {
            m.observe(&[0.9, 0.436]).unwrap();
        }
        m.set_resume(Some("line:77".into()));
        m.save_state(&path).unwrap();
        let mut fresh = monitor();
        fresh.restore(Monitor::load_state(&path).unwrap()).unwrap();
        assert_eq!(fresh.state(), m.state());
        // Bit rot is an error that names the recovery.
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 4;
        std::fs::write(&path, &bytes).unwrap();
        let err = format!("{:#}", Monitor::load_state(&path).unwrap_err());
        assert!(
            err.contains("corrupted") && err.contains("--reset-state"),
            "{err}"
        );
        // A state from another calibration is refused.
        let mut other = m.state().clone();
        other.calibration_id = "x".into();
        assert!(fresh.restore(other).is_err());
    }

    #[test]
    fn wrong_embedding_size_is_an_error() {
        let mut m = monitor();
        assert!(m.observe(&[1.0, 0.0, 0.0]).is_err());
    }
}

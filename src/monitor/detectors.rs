//! Streaming change detectors with constant memory: a Bernoulli CUSUM, a one-sided
//! Page-Hinkley test, a windowed chi-square test of the predicted-class histogram, and a
//! sliding window of recent frames for the ATC and DoC accuracy estimates.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// CUSUM for a drop of a Bernoulli rate from `p0` to `p1` (Page 1954): the log
/// likelihood ratio of each observation is summed, floored at zero, and an alarm is
/// raised (and the sum reset) when it passes `h`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cusum {
    /// In-control rate (share of frames the ATC rule counts as correct).
    pub p0: f64,
    /// Rate to detect.
    pub p1: f64,
    /// Alarm threshold.
    pub h: f64,
    /// Current statistic.
    pub s: f64,
}

impl Cusum {
    /// A fresh detector.
    pub fn new(p0: f64, p1: f64, h: f64) -> Cusum {
        Cusum { p0, p1, h, s: 0.0 }
    }

    /// Log likelihood ratio of one observation (`hit` = counted as correct).
    pub fn llr(&self, hit: bool) -> f64 {
        if hit {
            (self.p1 / self.p0).ln()
        } else {
            ((1.0 - self.p1) / (1.0 - self.p0)).ln()
        }
    }

    /// Adds one observation; true when it raises the alarm (the statistic then resets).
    pub fn update(&mut self, hit: bool) -> bool {
        self.s = (self.s + self.llr(hit)).max(0.0);
        if self.s > self.h {
            self.s = 0.0;
            return true;
        }
        false
    }
}

/// One-sided Page-Hinkley test for an increase of a mean (here: the entropy of the
/// predictions) above its calibrated `mean` by more than `delta`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PageHinkley {
    /// Reference mean.
    pub mean: f64,
    /// Tolerated drift.
    pub delta: f64,
    /// Alarm threshold.
    pub lambda: f64,
    /// Cumulative deviation above its running minimum.
    pub m: f64,
}

impl PageHinkley {
    /// A fresh detector.
    pub fn new(mean: f64, delta: f64, lambda: f64) -> PageHinkley {
        PageHinkley {
            mean,
            delta,
            lambda,
            m: 0.0,
        }
    }

    /// Adds one value; true when it raises the alarm (the statistic then resets).
    pub fn update(&mut self, x: f64) -> bool {
        self.m = (self.m + x - self.mean - self.delta).max(0.0);
        if self.m > self.lambda {
            self.m = 0.0;
            return true;
        }
        false
    }
}

/// Chi-square test of the predicted-class counts of each block of `window` frames
/// against the calibrated class proportions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChiSquare {
    /// Calibrated class proportions (smoothed, all positive, summing to one).
    pub expected: Vec<f64>,
    /// Frames per block.
    pub window: usize,
    /// Alarm when the block's statistic exceeds this.
    pub critical: f64,
    /// Counts of the block in progress.
    pub counts: Vec<u32>,
    /// Frames in the block in progress.
    pub seen: usize,
    /// Statistic of the last complete block.
    pub last: f64,
}

impl ChiSquare {
    /// A fresh detector.
    pub fn new(expected: Vec<f64>, window: usize, critical: f64) -> ChiSquare {
        let k = expected.len();
        ChiSquare {
            expected,
            window: window.max(1),
            critical,
            counts: vec![0; k],
            seen: 0,
            last: 0.0,
        }
    }

    /// Pearson's statistic of `counts` (summing to `n`) against `expected` proportions.
    pub fn statistic(expected: &[f64], counts: &[u32], n: usize) -> f64 {
        expected
            .iter()
            .zip(counts)
            .map(|(&p, &c)| {
                let e = p * n as f64;
                let d = c as f64 - e;
                d * d / e
            })
            .sum()
    }

    /// Adds one predicted class; true when it completes a block that raises the alarm.
    pub fn update(&mut self, class: usize) -> bool {
        if let Some(c) = self.counts.get_mut(class) {
            *c += 1;
        }
        self.seen += 1;
        if self.seen < self.window {
            return false;
        }
        self.last = Self::statistic(&self.expected, &self.counts, self.seen);
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.seen = 0;
        self.last > self.critical
    }
}

/// The most recent frames' ATC hits, confidences and predicted classes, for windowed
/// estimates; memory is the window plus one counter pair per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Capacity.
    pub size: usize,
    frames: VecDeque<(bool, f32, u32)>,
    hit_count: usize,
    confidence_sum: f64,
    class_frames: Vec<u32>,
    class_hits: Vec<u32>,
}

impl Window {
    /// An empty window of `size` frames over `classes` classes.
    pub fn new(size: usize, classes: usize) -> Window {
        let size = size.max(1);
        Window {
            size,
            frames: VecDeque::with_capacity(size),
            hit_count: 0,
            confidence_sum: 0.0,
            class_frames: vec![0; classes],
            class_hits: vec![0; classes],
        }
    }

    fn count(&mut self, (hit, confidence, class): (bool, f32, u32), add: bool) {
        let k = class as usize;
        if add {
            self.hit_count += usize::from(hit);
            self.confidence_sum += f64::from(confidence);
            if k < self.class_frames.len() {
                self.class_frames[k] += 1;
                self.class_hits[k] += u32::from(hit);
            }
        } else {
            self.hit_count -= usize::from(hit);
            self.confidence_sum -= f64::from(confidence);
            if k < self.class_frames.len() {
                self.class_frames[k] -= 1;
                self.class_hits[k] -= u32::from(hit);
            }
        }
    }

    /// Adds a frame, dropping the oldest when full.
    pub fn push(&mut self, hit: bool, confidence: f32, class: usize) {
        if self.frames.len() == self.size {
            if let Some(old) = self.frames.pop_front() {
                self.count(old, false);
            }
        }
        let frame = (hit, confidence, class as u32);
        self.frames.push_back(frame);
        self.count(frame, true);
    }

    /// Frames in the window.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when no frame was added yet.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Share of ATC hits: the plain ATC accuracy estimate.
    pub fn hit_rate(&self) -> f64 {
        if self.frames.is_empty() {
            f64::NAN
        } else {
            self.hit_count as f64 / self.frames.len() as f64
        }
    }

    /// ATC hits with each predicted class capped at what its share of the stream allows:
    /// if class k makes up `prior[k]` of the frames, at most that many (plus two binomial
    /// standard deviations of window noise) of the frames predicted as k can be right.
    /// This catches corruptions that collapse the predictions onto a few classes with
    /// high confidence, which plain ATC scores as accurate; it assumes the class mix of
    /// the stream stays as calibrated.
    pub fn capped_hit_rate(&self, prior: &[f64]) -> f64 {
        if self.frames.is_empty() {
            return f64::NAN;
        }
        let n = self.frames.len() as f64;
        let capped: f64 = self
            .class_hits
            .iter()
            .zip(prior)
            .map(|(&hits, &p)| f64::from(hits).min(p * n + 2.0 * (n * p * (1.0 - p)).sqrt()))
            .sum();
        let outside =
            self.hit_count as f64 - self.class_hits.iter().map(|&h| f64::from(h)).sum::<f64>();
        (capped + outside) / n
    }

    /// Mean confidence, for DoC.
    pub fn mean_confidence(&self) -> f64 {
        if self.frames.is_empty() {
            f64::NAN
        } else {
            self.confidence_sum / self.frames.len() as f64
        }
    }
}

/// Wilson score interval (95%) for `hits` successes in `n` trials.
pub fn wilson_interval(hits: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n_f = n as f64;
    let p = hits as f64 / n_f;
    let denom = 1.0 + z * z / n_f;
    let centre = (p + z * z / (2.0 * n_f)) / denom;
    let half = z * ((p * (1.0 - p) / n_f + z * z / (4.0 * n_f * n_f)).sqrt()) / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cusum_stays_quiet_in_control_and_fires_after_a_drop() {
        let mut c = Cusum::new(0.9, 0.8, 4.0);
        // In control: 9 hits per miss, the drift is negative.
        for i in 0..10_000 {
            assert!(!c.update(i % 10 != 0), "false alarm at {i}");
        }
        // Out of control: 6 hits per 10.
        let fired = (0..200).position(|i| c.update(i % 10 < 6));
        let at = fired.expect("no alarm after the drop");
        assert!(at < 60, "alarm only after {at} frames");
        assert_eq!(c.s, 0.0, "reset after the alarm");
    }

    #[test]
    fn page_hinkley_detects_a_mean_increase() {
        let mut ph = PageHinkley::new(1.0, 0.1, 5.0);
        for i in 0..5_000 {
            let x = if i % 2 == 0 { 0.8 } else { 1.2 };
            assert!(!ph.update(x));
        }
        // The clean stretch ends on 1.2, leaving the statistic at 0.1.
        assert!((ph.m - 0.1).abs() < 1e-9);
        let at = (0..100).position(|_| ph.update(1.6)).expect("alarm");
        // Each frame adds 0.5, so the sum passes 5 at the 10th frame.
        assert_eq!(at, 9);
    }

    #[test]
    fn chi_square_blocks_and_statistic() {
        let mut c = ChiSquare::new(vec![0.5, 0.5], 4, 3.0);
        for class in [0, 1, 0] {
            assert!(!c.update(class));
        }
        assert!(!c.update(1), "balanced block");
        assert_eq!(c.last, 0.0);
        for _ in 0..3 {
            assert!(!c.update(0));
        }
        assert!(c.update(0), "all in one class: statistic 4 > 3");
        assert!((c.last - 4.0).abs() < 1e-12);
        assert_eq!(ChiSquare::statistic(&[0.25, 0.75], &[1, 3], 4), 0.0);
        // Out-of-range classes count towards the block but not the cells.
        let mut c = ChiSquare::new(vec![1.0], 1, 0.5);
        assert!(c.update(7));
    }

    #[test]
    fn window_keeps_the_last_frames() {
        let mut w = Window::new(3, 2);
        assert!(w.hit_rate().is_nan() && w.is_empty());
        for (hit, conf, class) in [
            (true, 0.9, 0),
            (false, 0.5, 1),
            (true, 0.7, 1),
            (false, 0.1, 0),
        ] {
            w.push(hit, conf, class);
        }
        assert_eq!(w.len(), 3);
        assert!((w.hit_rate() - 1.0 / 3.0).abs() < 1e-12);
        assert!((w.mean_confidence() - (0.5 + 0.7 + 0.1) / 3.0).abs() < 1e-6);
        assert_eq!(
            (w.class_frames.clone(), w.class_hits.clone()),
            (vec![1, 2], vec![0, 1])
        );
    }

    #[test]
    fn capped_rate_discounts_confident_collapse_but_not_a_balanced_stream() {
        let prior = vec![0.25; 4];
        let mut balanced = Window::new(400, 4);
        let mut collapsed = Window::new(400, 4);
        for i in 0..400 {
            balanced.push(i % 10 != 0, 0.9, i % 4);
            collapsed.push(true, 0.99, 0);
        }
        assert!((balanced.capped_hit_rate(&prior) - balanced.hit_rate()).abs() < 1e-12);
        assert_eq!(collapsed.hit_rate(), 1.0);
        // At most a quarter (plus 2 sd = 0.043) of the frames can be class 0.
        let c = collapsed.capped_hit_rate(&prior);
        assert!(
            (c - (0.25 + 2.0 * (400.0f64 * 0.25 * 0.75).sqrt() / 400.0)).abs() < 1e-12,
            "{c}"
        );
    }

    #[test]
    fn wilson_interval_matches_known_values() {
        // 70 of 100: (0.604, 0.781) to three decimals.
        let (lo, hi) = wilson_interval(70, 100);
        assert!(
            (lo - 0.6042).abs() < 1e-3 && (hi - 0.7810).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
        let (lo, hi) = wilson_interval(10, 10);
        assert!(lo > 0.6 && hi > 1.0 - 1e-9, "{lo} {hi}");
    }
}

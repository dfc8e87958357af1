//! Counter-based random numbers: draw i of a stream is a pure function of (key, i).
//!
//! That is what lets a vector kernel fill 16 lanes at once and still produce the bytes
//! the scalar twin produces, and what makes a corruption's output independent of the
//! SIMD path, the thread count and the platform. Each draw hashes the 64-bit counter with
//! a 64-bit key through two keyed rounds of a 32-bit integer mixer (xorshift-multiply,
//! the "lowbias32" constants), which is a bijection of the counter for every key.

use super::detmath;
use super::kernels;

/// The 32-bit mixer; a bijection on u32.
#[inline(always)]
pub(crate) fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Draw `(hi, lo)` of the stream keyed by `(k0, k1)`.
#[inline(always)]
pub(crate) fn hash(k0: u32, k1: u32, lo: u32, hi: u32) -> u32 {
    mix32(mix32(lo ^ k0) ^ hi.wrapping_add(k1))
}

/// Uniform in [0, 1) with 24 random bits.
#[inline(always)]
pub(crate) fn unit_f32(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Uniform in (0, 1], for logarithms.
#[inline(always)]
pub(crate) fn unit_open_f32(h: u32) -> f32 {
    ((h >> 8) + 1) as f32 * (1.0 / 16_777_216.0)
}

/// A keyed, seekable random stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    k0: u32,
    k1: u32,
    counter: u64,
}

impl Rng {
    /// A stream for `seed`, separated by `stream` (e.g. the corruption name) so that two
    /// corruptions run with the same seed do not draw correlated noise.
    pub fn new(seed: u64, stream: &str) -> Rng {
        // FNV-1a of the stream name, then the seed folded in through the mixer.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in stream.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        let s0 = mix32(seed as u32 ^ h as u32);
        let s1 = mix32((seed >> 32) as u32 ^ (h >> 32) as u32 ^ 0x9e37_79b9);
        Rng {
            k0: mix32(s0 ^ s1.rotate_left(7)),
            k1: mix32(s1 ^ 0x85eb_ca6b ^ s0),
            counter: 0,
        }
    }

    /// An independent stream derived from this one (for a sub-task such as one layer).
    pub fn fork(&mut self, stream: &str) -> Rng {
        let a = u64::from(self.next_u32());
        let b = u64::from(self.next_u32());
        Rng::new((a << 32) | b, stream)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        let c = self.counter;
        self.counter = c.wrapping_add(1);
        hash(self.k0, self.k1, c as u32, (c >> 32) as u32)
    }

    /// Uniform f32 in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        unit_f32(self.next_u32())
    }

    /// Uniform f64 in [0, 1) with 53 random bits.
    pub fn uniform_f64(&mut self) -> f64 {
        let hi = u64::from(self.next_u32());
        let lo = u64::from(self.next_u32());
        (((hi << 32) | lo) >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform f64 in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform_f64()
    }

    /// Uniform integer in [0, n) (Lemire's multiply-shift; n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u32()) * u64::from(n)) >> 32) as u32
    }

    /// Uniform integer in [lo, hi] inclusive.
    pub fn int_in(&mut self, lo: i32, hi: i32) -> i32 {
        debug_assert!(lo <= hi);
        let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
        lo + ((u64::from(self.next_u32()) * span) >> 32) as i32
    }

    /// Standard normal f64 (Box-Muller on two 53-bit uniforms).
    pub fn normal_f64(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform_f64();
        let u2 = self.uniform_f64();
        (-2.0 * detmath::ln(u1)).sqrt() * detmath::cos(std::f64::consts::TAU * u2)
    }

    /// True with probability p.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform_f64() < p
    }

    /// Fills `out` with uniforms in [0, 1), vectorised.
    pub fn fill_uniform(&mut self, out: &mut [f32]) {
        let n = out.len() as u64;
        self.for_each_block(n, out, kernels::fill_uniform);
    }

    /// Fills `out` with standard normals (Box-Muller, vectorised).
    pub fn fill_normal(&mut self, out: &mut [f32]) {
        // Normals come in blocks of 16 counters (see `kernels::fill_normal`).
        let n = (out.len() as u64).div_ceil(16) * 16;
        self.for_each_block(n, out, kernels::fill_normal);
    }

    /// Normals with mean `loc` and standard deviation `scale`.
    pub fn fill_normal_scaled(&mut self, out: &mut [f32], loc: f32, scale: f32) {
        self.fill_normal(out);
        kernels::affine(out, scale, loc);
    }

    /// Calls `fill` on runs of `out` whose counters share their high 32 bits, then
    /// advances the counter by `consumed`.
    fn for_each_block(
        &mut self,
        consumed: u64,
        out: &mut [f32],
        fill: fn(u32, u32, u32, u32, &mut [f32]),
    ) {
        let mut start = self.counter;
        let mut rest = out;
        while !rest.is_empty() {
            let room = (1u64 << 32) - (start & 0xffff_ffff);
            // Keep 16-blocks together for the normal fill; counters stay 16-aligned
            // relative to a fill's start, so `room` is a multiple of 16 or the run ends.
            let take = (rest.len() as u64)
                .min(room & !15)
                .max(16.min(rest.len() as u64)) as usize;
            let (head, tail) = rest.split_at_mut(take.min(rest.len()));
            fill(self.k0, self.k1, start as u32, (start >> 32) as u32, head);
            start = start.wrapping_add(head.len() as u64);
            rest = tail;
        }
        self.counter = self.counter.wrapping_add(consumed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u32> = (0..8)
            .map(|_| 0)
            .scan(Rng::new(7, "fog"), |r, _: u32| Some(r.next_u32()))
            .collect();
        let b: Vec<u32> = (0..8)
            .map(|_| 0)
            .scan(Rng::new(7, "fog"), |r, _: u32| Some(r.next_u32()))
            .collect();
        let c: Vec<u32> = (0..8)
            .map(|_| 0)
            .scan(Rng::new(7, "snow"), |r, _: u32| Some(r.next_u32()))
            .collect();
        let d: Vec<u32> = (0..8)
            .map(|_| 0)
            .scan(Rng::new(8, "fog"), |r, _: u32| Some(r.next_u32()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn fills_follow_the_counter() {
        let mut r = Rng::new(1, "x");
        let mut v = vec![0.0f32; 37];
        r.fill_uniform(&mut v);
        let mut s = Rng::new(1, "x");
        let w: Vec<f32> = (0..37).map(|_| s.uniform()).collect();
        assert_eq!(v, w);
        assert_eq!(r.next_u32(), s.next_u32());
    }

    #[test]
    fn uniform_and_normal_moments() {
        let mut r = Rng::new(3, "moments");
        let mut u = vec![0.0f32; 200_000];
        r.fill_uniform(&mut u);
        let mean = u.iter().map(|&x| f64::from(x)).sum::<f64>() / u.len() as f64;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
        let mut n = vec![0.0f32; 200_001];
        r.fill_normal(&mut n);
        let m = n.iter().map(|&x| f64::from(x)).sum::<f64>() / n.len() as f64;
        let v = n.iter().map(|&x| (f64::from(x) - m).powi(2)).sum::<f64>() / n.len() as f64;
        let k =
            n.iter().map(|&x| (f64::from(x) - m).powi(4)).sum::<f64>() / n.len() as f64 / (v * v);
        assert!(
            m.abs() < 0.01 && (v - 1.0).abs() < 0.01 && (k - 3.0).abs() < 0.05,
            "{m} {v} {k}"
        );
        let tail = n.iter().filter(|x| x.abs() > 3.0).count() as f64 / n.len() as f64;
        assert!((tail - 0.0027).abs() < 0.0006, "{tail}");
    }

    #[test]
    fn integers_stay_in_range() {
        let mut r = Rng::new(0, "ints");
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let v = r.int_in(-3, 3);
            assert!((-3..=3).contains(&v));
            seen[(v + 3) as usize] += 1;
            assert!(r.below(5) < 5);
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }
}

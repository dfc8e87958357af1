//! Deterministic elementary functions.
//!
//! `f64::exp`, `sin` and friends call the platform's libm, whose last bit differs between
//! glibc versions, musl and aarch64. The engine promises the same bytes for the same
//! (image, corruption, severity, seed) on every platform, so anything that feeds a pixel
//! goes through these: range reduction and polynomials built from IEEE add, multiply,
//! divide and sqrt only, which are correctly rounded everywhere. The f32 functions are
//! the scalar twins of the vector code in `kernels` and must keep its operation order.

use std::f64::consts::{FRAC_PI_2, LN_2};

/// e^x, accurate to a few ulp over the whole f64 range.
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -745.0 {
        return 0.0;
    }
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let n = (x / LN_2).round();
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Taylor series to r^13 / 13!: |r| <= ln2 / 2 makes the remainder below 1e-17.
    let mut p = 1.0 / 6_227_020_800.0;
    for d in (1..13).rev() {
        p = p * r + 1.0 / factorial(d);
    }
    let p = p * r + 1.0;
    scale_pow2(p, n as i32)
}

fn factorial(n: u32) -> f64 {
    (1..=n).map(f64::from).product()
}

/// x * 2^n without overflow in the intermediate power.
fn scale_pow2(x: f64, n: i32) -> f64 {
    let mut x = x;
    let mut n = n;
    while n > 1000 {
        x *= f64::from_bits(((1023 + 1000) as u64) << 52);
        n -= 1000;
    }
    while n < -1000 {
        x *= f64::from_bits(((1023 - 1000) as u64) << 52);
        n += 1000;
    }
    x * f64::from_bits(((1023 + n) as u64) << 52)
}

/// Natural logarithm; NaN below 0, -inf at 0.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let (mut m, mut e) = frexp(x);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // atanh series: ln m = 2 (s + s^3/3 + ...); |s| <= 0.172 so 11 terms reach 1e-17.
    let mut p = 0.0;
    for k in (1..12).rev() {
        p = p * s2 + 1.0 / f64::from(2 * k + 1);
    }
    let ln_m = 2.0 * s + 2.0 * s * s2 * p;
    f64::from(e) * LN_2 + ln_m
}

/// Mantissa in [1, 2) and exponent, for positive finite x.
fn frexp(x: f64) -> (f64, i32) {
    let mut x = x;
    let mut bias = 0;
    if x < f64::MIN_POSITIVE {
        x *= 2f64.powi(64);
        bias = -64;
    }
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i32 - 1023 + bias;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    (m, e)
}

/// a^b for a > 0.
pub fn pow(a: f64, b: f64) -> f64 {
    if a == 0.0 {
        return if b > 0.0 { 0.0 } else { f64::INFINITY };
    }
    exp(b * ln(a))
}

/// sin and cos of x (radians).
pub fn sincos(x: f64) -> (f64, f64) {
    if !x.is_finite() {
        return (f64::NAN, f64::NAN);
    }
    // Cody-Waite reduction by pi/2 in three parts; exact enough for |x| < 1e6, which is
    // all an image corruption ever asks.
    const P1: f64 = 1.570_796_326_734_125_6;
    const P2: f64 = 6.077_100_506_506_192e-11;
    const P3: f64 = 2.022_266_248_795_950_6e-21;
    let q = (x / FRAC_PI_2).round();
    let r = ((x - q * P1) - q * P2) - q * P3;
    let t = r * r;
    let mut s = 0.0;
    let mut c = 0.0;
    // Taylor to r^17 / r^18: |r| <= pi/4 leaves < 1e-17.
    for k in (0..9).rev() {
        s = s * t + sign(k) / factorial(2 * k + 1);
        c = c * t + sign(k) / factorial(2 * k);
    }
    let s = s * r;
    let c = c + sign(9) / factorial(18) * t.powi(9);
    match (q as i64).rem_euclid(4) {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

fn sign(k: u32) -> f64 {
    if k.is_multiple_of(2) {
        1.0
    } else {
        -1.0
    }
}

/// sin(x) in radians.
pub fn sin(x: f64) -> f64 {
    sincos(x).0
}

/// cos(x) in radians.
pub fn cos(x: f64) -> f64 {
    sincos(x).1
}

/// atan(x), via argument halving and a series.
pub fn atan(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x.abs() > 1.0 {
        let r = FRAC_PI_2 - atan(1.0 / x.abs());
        return if x > 0.0 { r } else { -r };
    }
    // Two halvings bring |x| below tan(pi/16) ~ 0.199: atan x = 2 atan(x / (1 + sqrt(1+x^2))).
    let mut y = x;
    for _ in 0..2 {
        y /= 1.0 + (1.0 + y * y).sqrt();
    }
    let t = y * y;
    let mut p = 0.0;
    for k in (0..14).rev() {
        p = p * t + sign(k) / f64::from(2 * k + 1);
    }
    4.0 * y * p
}

/// atan2(y, x) with the usual quadrant conventions.
pub fn atan2(y: f64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x > 0.0 {
        atan(y / x)
    } else if x < 0.0 {
        if y >= 0.0 {
            atan(y / x) + PI
        } else {
            atan(y / x) - PI
        }
    } else if y > 0.0 {
        FRAC_PI_2
    } else if y < 0.0 {
        -FRAC_PI_2
    } else {
        0.0
    }
}

/// tanh(x).
pub fn tanh(x: f64) -> f64 {
    if x > 20.0 {
        return 1.0;
    }
    if x < -20.0 {
        return -1.0;
    }
    let e = exp(2.0 * x);
    (e - 1.0) / (e + 1.0)
}

pub(crate) const LN2_F32: f32 = std::f32::consts::LN_2;

/// ln(x) for positive normal f32; the scalar twin of the vector `ln` in `kernels`.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = e as f32 + if big { 1.0 } else { 0.0 };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    let two_s = s + s;
    e * LN2_F32 + (two_s + two_s * p)
}

/// (cos 2πu, sin 2πu) for u in [0, 1); the scalar twin of the vector `sincos_turn`.
#[inline(always)]
pub fn sincos_turn_f32(u: f32) -> (f32, f32) {
    let w = u * 4.0 + 0.5;
    let f = w.floor();
    let q = (f as i32) & 3;
    let theta = (w - f - 0.5) * std::f32::consts::FRAC_PI_2;
    let t = theta * theta;
    let s = theta
        * (1.0
            + t * (-1.0 / 6.0 + t * (1.0 / 120.0 + t * (-1.0 / 5040.0 + t * (1.0 / 362_880.0)))));
    let c = 1.0 + t * (-0.5 + t * (1.0 / 24.0 + t * (-1.0 / 720.0 + t * (1.0 / 40320.0))));
    match q {
        0 => (c, s),
        1 => (-s, c),
        2 => (-c, -s),
        _ => (s, -c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn exp_ln_match_libm() {
        for i in -2000..2000 {
            let x = i as f64 * 0.173;
            assert!(close(exp(x), x.exp(), 1e-14), "exp({x})");
            let y = (i as f64).abs() * 3.7 + 1e-9;
            assert!(
                (ln(y) - y.ln()).abs() < 1e-14 * y.ln().abs().max(1.0),
                "ln({y})"
            );
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(ln(1.0), 0.0);
        assert!(ln(-1.0).is_nan());
    }

    #[test]
    fn trig_matches_libm() {
        for i in -5000..5000 {
            let x = i as f64 * 0.0137;
            let (s, c) = sincos(x);
            assert!((s - x.sin()).abs() < 1e-15, "sin({x})");
            assert!((c - x.cos()).abs() < 1e-15, "cos({x})");
            assert!((atan(x) - x.atan()).abs() < 1e-15, "atan({x})");
            assert!((atan2(x, 0.7) - x.atan2(0.7)).abs() < 1e-15);
            assert!((atan2(0.3, -x) - 0.3f64.atan2(-x)).abs() < 1e-14);
        }
        assert!((pow(2.5, 1.7) - 2.5f64.powf(1.7)).abs() < 1e-14);
        assert!((tanh(0.3) - 0.3f64.tanh()).abs() < 1e-15);
    }

    #[test]
    fn f32_twins_are_accurate() {
        for i in 1..=100_000u32 {
            let u = i as f32 / 100_001.0;
            assert!((ln_f32(u) - u.ln()).abs() < 2e-6 * u.ln().abs().max(1.0));
            let (c, s) = sincos_turn_f32(u);
            let a = std::f32::consts::TAU * u;
            assert!(
                (c - a.cos()).abs() < 2e-6 && (s - a.sin()).abs() < 2e-6,
                "{u}"
            );
        }
    }
}

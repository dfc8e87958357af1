//! The lossy half of a baseline JPEG round trip, reproduced exactly in integer
//! arithmetic: what libjpeg-turbo does when Pillow saves an RGB image with
//! `save(format='JPEG', quality=q)` and opens it again with default settings.
//!
//! Entropy coding is lossless, so encode-then-decode equals these steps alone:
//! - RGB to YCbCr with 16-bit fixed-point weights (rounding biases included);
//! - 4:2:0 chroma: 2x2 means with the alternating +1/+2 bias; edges grow to whole MCUs
//!   by repeating the last column and row (chroma's last *downsampled* row below);
//! - per 8x8 block: the `islow` forward DCT (13-bit constants, 2 extra bits after the
//!   row pass), quantisation by 8 x the Annex K table scaled for `q` and clamped to
//!   1..=255 (rounded half away from zero, done with libjpeg-turbo's reciprocals), then
//!   dequantisation and the `islow` inverse DCT with its wrap-around range limit;
//! - "fancy" triangle upsampling of chroma (edge rows and columns repeated), plain 2x2
//!   repetition when the chroma is at most 2 samples wide, as libjpeg does;
//! - YCbCr to RGB with libjpeg's fixed-point tables, clamped to 0..=255.
//!
//! The transforms run on eight blocks at once, one block per lane of `[i32; 8]`, so every
//! step is the same operation on all lanes and the compiler vectorises it (on x86_64 the
//! code is compiled a second time for AVX2, used when the kernels run AVX2 or better).
//! The maths is integer, so every instruction set gives the same bytes. Unlike libjpeg,
//! any size works (JPEG files stop at 65500 pixels a side; the simulation has no such
//! limit).

#[cfg(target_arch = "x86_64")]
use super::kernels::{self, Isa};
use super::Image;

/// Blocks transformed side by side.
const LANES: usize = 8;
/// `LANES` 8x8 blocks, coefficient-major and transposed: `blk[col * 8 + row][lane]`
/// (the byte transposes that fill it leave columns contiguous).
type Blocks = [[i32; LANES]; 64];

/// Annex K luminance table (natural order), quality 50.
const STD_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// Annex K chrominance table (natural order), quality 50.
const STD_CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/// libjpeg's `FIX` for the colour tables (16 fraction bits, rounded).
const fn fix16(x: f64) -> i32 {
    (x * 65536.0 + 0.5) as i32
}

/// libjpeg's `FIX` for the DCTs (13 fraction bits, rounded).
const fn fix13(x: f64) -> i32 {
    (x * 8192.0 + 0.5) as i32
}

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;
const F0_298: i32 = fix13(0.298_631_336);
const F0_390: i32 = fix13(0.390_180_644);
const F0_541: i32 = fix13(0.541_196_100);
const F0_765: i32 = fix13(0.765_366_865);
const F0_899: i32 = fix13(0.899_976_223);
const F1_175: i32 = fix13(1.175_875_602);
const F1_501: i32 = fix13(1.501_321_110);
const F1_847: i32 = fix13(1.847_759_065);
const F1_961: i32 = fix13(1.961_570_560);
const F2_053: i32 = fix13(2.053_119_869);
const F2_562: i32 = fix13(2.562_915_447);
const F3_072: i32 = fix13(3.072_711_026);

const HALF16: i32 = 1 << 15;
/// Chroma's +128 offset in 16-bit fixed point.
const CBCR_OFFSET: i32 = 128 << 16;

/// One quantisation table in the form the block loop uses: per coefficient (transposed
/// order, like [`Blocks`]), the correction added to |x|, the reciprocal and shift
/// standing for the division by 8 q, and q itself for dequantisation.
struct Divisors {
    corr: [u32; 64],
    recip: [u32; 64],
    shift: [u32; 64],
    q: [i32; 64],
}

impl Divisors {
    fn new(base: &[u16; 64], quality: i32) -> Divisors {
        let mut d = Divisors {
            corr: [0; 64],
            recip: [0; 64],
            shift: [0; 64],
            q: [0; 64],
        };
        for (natural, &q) in quant_table(base, quality).iter().enumerate() {
            let i = natural % 8 * 8 + natural / 8;
            let (recip, corr, shift) = reciprocal(u32::from(q) * 8);
            d.corr[i] = corr;
            d.recip[i] = recip;
            d.shift[i] = shift;
            d.q[i] = i32::from(q);
        }
        d
    }
}

/// `jpeg_set_quality(q, force_baseline = TRUE)`: the table scaled by 5000/q below 50,
/// 200 - 2q from 50, rounded, clamped to 1..=255.
fn quant_table(base: &[u16; 64], quality: i32) -> [u16; 64] {
    let q = quality.clamp(1, 100);
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    base.map(|b| ((i32::from(b) * scale + 50) / 100).clamp(1, 255) as u16)
}

/// libjpeg-turbo's division by `divisor` (>= 2) for 16-bit coefficients, as
/// (reciprocal, correction, shift): `((|x| + corr) * recip) >> shift` equals
/// `(|x| + divisor / 2) / divisor` for every |x| < 2^15 (a test checks all of them).
fn reciprocal(divisor: u32) -> (u32, u32, u32) {
    let b = 31 - divisor.leading_zeros();
    let mut r = 16 + b;
    let mut fq = (1u32 << r) / divisor;
    let fr = (1u32 << r) % divisor;
    let mut c = divisor / 2;
    if fr == 0 {
        fq >>= 1;
        r -= 1;
    } else if fr <= divisor / 2 {
        c += 1;
    } else {
        fq += 1;
    }
    (fq, c, r)
}

// Wrapping arithmetic on purpose: sums and products are exact modulo 2^32, and every
// value that is shifted right fits in i32, so the result equals libjpeg's 64-bit one
// even if an intermediate of an extreme block would not.
#[inline(always)]
fn add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

#[inline(always)]
fn sub(a: i32, b: i32) -> i32 {
    a.wrapping_sub(b)
}

#[inline(always)]
fn mul(a: i32, k: i32) -> i32 {
    a.wrapping_mul(k)
}

/// libjpeg's `DESCALE`: shift right by `n`, rounding half up.
#[inline(always)]
fn descale(a: i32, n: u32) -> i32 {
    a.wrapping_add(1 << (n - 1)) >> n
}

/// One 1-D pass of `jpeg_fdct_islow` over eight samples; the row pass keeps
/// `PASS1_BITS` extra bits, the column pass removes them.
#[inline(always)]
fn fdct_1d<const ROWS: bool>(d: [i32; 8]) -> [i32; 8] {
    let tmp0 = add(d[0], d[7]);
    let tmp7 = sub(d[0], d[7]);
    let tmp1 = add(d[1], d[6]);
    let tmp6 = sub(d[1], d[6]);
    let tmp2 = add(d[2], d[5]);
    let tmp5 = sub(d[2], d[5]);
    let tmp3 = add(d[3], d[4]);
    let tmp4 = sub(d[3], d[4]);

    let tmp10 = add(tmp0, tmp3);
    let tmp13 = sub(tmp0, tmp3);
    let tmp11 = add(tmp1, tmp2);
    let tmp12 = sub(tmp1, tmp2);

    let (o0, o4, n) = if ROWS {
        (
            add(tmp10, tmp11) << PASS1_BITS,
            sub(tmp10, tmp11) << PASS1_BITS,
            CONST_BITS - PASS1_BITS,
        )
    } else {
        (
            descale(add(tmp10, tmp11), PASS1_BITS),
            descale(sub(tmp10, tmp11), PASS1_BITS),
            CONST_BITS + PASS1_BITS,
        )
    };
    let z1 = mul(add(tmp12, tmp13), F0_541);
    let o2 = descale(add(z1, mul(tmp13, F0_765)), n);
    let o6 = descale(add(z1, mul(tmp12, -F1_847)), n);

    let z1 = add(tmp4, tmp7);
    let z2 = add(tmp5, tmp6);
    let z3 = add(tmp4, tmp6);
    let z4 = add(tmp5, tmp7);
    let z5 = mul(add(z3, z4), F1_175);
    let tmp4 = mul(tmp4, F0_298);
    let tmp5 = mul(tmp5, F2_053);
    let tmp6 = mul(tmp6, F3_072);
    let tmp7 = mul(tmp7, F1_501);
    let z1 = mul(z1, -F0_899);
    let z2 = mul(z2, -F2_562);
    let z3 = add(mul(z3, -F1_961), z5);
    let z4 = add(mul(z4, -F0_390), z5);
    let o7 = descale(add(add(tmp4, z1), z3), n);
    let o5 = descale(add(add(tmp5, z2), z4), n);
    let o3 = descale(add(add(tmp6, z2), z3), n);
    let o1 = descale(add(add(tmp7, z1), z4), n);
    [o0, o1, o2, o3, o4, o5, o6, o7]
}

/// One 1-D pass of `jpeg_idct_islow`: the column pass leaves `PASS1_BITS` extra bits,
/// the row pass removes them and the DCT's factor 8 (centred samples out).
#[inline(always)]
fn idct_1d<const COLS: bool>(d: [i32; 8]) -> [i32; 8] {
    let z2 = d[2];
    let z3 = d[6];
    let z1 = mul(add(z2, z3), F0_541);
    let tmp2 = add(z1, mul(z3, -F1_847));
    let tmp3 = add(z1, mul(z2, F0_765));
    let tmp0 = add(d[0], d[4]) << CONST_BITS;
    let tmp1 = sub(d[0], d[4]) << CONST_BITS;
    let tmp10 = add(tmp0, tmp3);
    let tmp13 = sub(tmp0, tmp3);
    let tmp11 = add(tmp1, tmp2);
    let tmp12 = sub(tmp1, tmp2);

    let (tmp0, tmp1, tmp2, tmp3) = (d[7], d[5], d[3], d[1]);
    let z1 = add(tmp0, tmp3);
    let z2 = add(tmp1, tmp2);
    let z3 = add(tmp0, tmp2);
    let z4 = add(tmp1, tmp3);
    let z5 = mul(add(z3, z4), F1_175);
    let tmp0 = mul(tmp0, F0_298);
    let tmp1 = mul(tmp1, F2_053);
    let tmp2 = mul(tmp2, F3_072);
    let tmp3 = mul(tmp3, F1_501);
    let z1 = mul(z1, -F0_899);
    let z2 = mul(z2, -F2_562);
    let z3 = add(mul(z3, -F1_961), z5);
    let z4 = add(mul(z4, -F0_390), z5);
    let tmp0 = add(tmp0, add(z1, z3));
    let tmp1 = add(tmp1, add(z2, z4));
    let tmp2 = add(tmp2, add(z2, z3));
    let tmp3 = add(tmp3, add(z1, z4));

    let n = if COLS {
        CONST_BITS - PASS1_BITS
    } else {
        CONST_BITS + PASS1_BITS + 3
    };
    [
        descale(add(tmp10, tmp3), n),
        descale(add(tmp11, tmp2), n),
        descale(add(tmp12, tmp1), n),
        descale(add(tmp13, tmp0), n),
        descale(sub(tmp13, tmp0), n),
        descale(sub(tmp12, tmp1), n),
        descale(sub(tmp11, tmp2), n),
        descale(sub(tmp10, tmp3), n),
    ]
}

/// libjpeg's post-IDCT range limit: centre, then 0..=255 with wrap-around far out
/// (values up to 511 above saturate, beyond that the 10-bit index wraps to 0).
#[inline(always)]
fn range_limit(v: i32) -> i32 {
    let j = v.wrapping_add(128) & 1023;
    if j < 256 {
        j
    } else if j < 640 {
        255
    } else {
        0
    }
}

/// Lane `l` of `blk[first + k * step]`, k = 0..8.
#[inline(always)]
fn load(blk: &Blocks, first: usize, step: usize, l: usize) -> [i32; 8] {
    let mut d = [0; 8];
    for (k, d) in d.iter_mut().enumerate() {
        *d = blk[first + k * step][l];
    }
    d
}

/// Stores what [`load`] loads.
#[inline(always)]
fn store(blk: &mut Blocks, first: usize, step: usize, l: usize, d: [i32; 8]) {
    for (k, d) in d.into_iter().enumerate() {
        blk[first + k * step][l] = d;
    }
}

/// Quantises a DCT output (rounding half away from zero) and dequantises it.
#[inline(always)]
fn requantise(x: i32, corr: u32, recip: u32, shift: u32, q: i32) -> i32 {
    let s = x >> 31;
    let a = ((x ^ s) - s) as u32;
    let level = (a.wrapping_add(corr).wrapping_mul(recip) >> shift) as i32;
    (level.wrapping_mul(q) ^ s) - s
}

/// Forward DCT, quantisation, dequantisation and inverse DCT of `LANES` blocks of
/// centred samples, in place; leaves decoded samples in 0..=255.
// Lanes are the innermost loops, so each scalar step below becomes one vector operation.
// In the transposed layout a row is `blk[r + 8 * k]`, a column `blk[8 * c + k]`.
#[inline(always)]
fn round_trip_blocks(blk: &mut Blocks, div: &Divisors) {
    for r in 0..8 {
        for l in 0..LANES {
            let d = fdct_1d::<true>(load(blk, r, 8, l));
            store(blk, r, 8, l, d);
        }
    }
    // The forward column pass, the quantisation and the inverse column pass all work
    // down a column: one pass.
    for c in (0..64).step_by(8) {
        for l in 0..LANES {
            let mut d = fdct_1d::<false>(load(blk, c, 1, l));
            for (k, d) in d.iter_mut().enumerate() {
                let i = c + k;
                *d = requantise(*d, div.corr[i], div.recip[i], div.shift[i], div.q[i]);
            }
            store(blk, c, 1, l, idct_1d::<true>(d));
        }
    }
    for r in 0..8 {
        for l in 0..LANES {
            let mut d = idct_1d::<false>(load(blk, r, 8, l));
            for d in d.iter_mut() {
                *d = range_limit(*d);
            }
            store(blk, r, 8, l, d);
        }
    }
}

/// Transposes eight 8x8 byte matrices at once, each held as eight little-endian rows
/// (`x[row][matrix]`): afterwards byte `j` of `x[i][m]` is what byte `i` of `x[j][m]`
/// was. Off-diagonal 4x4, then 2x2, then 1x1 blocks swap; the matrices are the inner
/// loop, so every step is a vector operation.
#[inline(always)]
pub(super) fn transpose8x8x8(x: &mut [[u64; 8]; 8]) {
    for (bits, mask) in [
        (32, 0x0000_0000_FFFF_FFFF_u64),
        (16, 0x0000_FFFF_0000_FFFF),
        (8, 0x00FF_00FF_00FF_00FF),
    ] {
        let d = bits / 8;
        for i in (0..8).filter(|i| i & d == 0) {
            let (lo, hi) = x.split_at_mut(i + d);
            for (a, b) in lo[i].iter_mut().zip(hi[0].iter_mut()) {
                let t = ((*a >> bits) ^ *b) & mask;
                *a ^= t << bits;
                *b ^= t;
            }
        }
    }
}

/// Round-trips the `bw x bh` top-left blocks of a plane (row stride `stride`) in place,
/// `LANES` blocks at a time in raster order.
#[inline(always)]
fn round_trip_plane(plane: &mut [u8], stride: usize, bw: usize, bh: usize, div: &Divisors) {
    let mut blk: Blocks = [[0; LANES]; 64];
    // Rows of the group's blocks: `x[lane][row]` on the way in, `x[col][row]` once
    // transposed (byte `lane`, the layout of `blk`), and the reverse on the way out.
    let mut x = [[0u64; 8]; LANES];
    let (mut bx, mut by) = (0, 0);
    while by < bh {
        let mut origin = [0usize; LANES];
        let mut count = 0;
        while count < LANES && by < bh {
            origin[count] = (by * stride + bx) * 8;
            count += 1;
            bx += 1;
            if bx == bw {
                (bx, by) = (0, by + 1);
            }
        }
        // Spare lanes of the last group repeat its last block; their output is dropped.
        let last = origin[count - 1];
        origin[count..].fill(last);
        for (rows, &o) in x.iter_mut().zip(&origin) {
            for (r, v) in rows.iter_mut().enumerate() {
                let at = o + r * stride;
                *v = u64::from_le_bytes(plane[at..at + 8].try_into().expect("8 bytes"));
            }
        }
        transpose8x8x8(&mut x);
        for (lanes, v) in blk.iter_mut().zip(x.iter().flatten()) {
            for (lane, &b) in lanes.iter_mut().zip(&v.to_le_bytes()) {
                *lane = i32::from(b) - 128;
            }
        }
        round_trip_blocks(&mut blk, div);
        for (v, lanes) in x.iter_mut().flatten().zip(&blk) {
            let mut b = [0u8; 8];
            for (b, &lane) in b.iter_mut().zip(lanes) {
                *b = lane as u8;
            }
            *v = u64::from_le_bytes(b);
        }
        transpose8x8x8(&mut x);
        for (rows, &o) in x.iter().zip(&origin).take(count) {
            for (r, v) in rows.iter().enumerate() {
                let at = o + r * stride;
                plane[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// RGB to YCbCr for one row (`jccolor.c`'s tables written as products).
#[inline(always)]
fn rgb_to_ycc(r: &[u8], g: &[u8], b: &[u8], y: &mut [u8], cb: &mut [u8], cr: &mut [u8]) {
    const YR: i32 = fix16(0.299);
    const YG: i32 = fix16(0.587);
    const YB: i32 = fix16(0.114);
    const CBR: i32 = fix16(0.168_74);
    const CBG: i32 = fix16(0.331_26);
    const HALF: i32 = fix16(0.5);
    const CRG: i32 = fix16(0.418_69);
    const CRB: i32 = fix16(0.081_31);
    let px = r.iter().zip(g).zip(b);
    let out = y.iter_mut().zip(cb.iter_mut()).zip(cr.iter_mut());
    for (((&r, &g), &b), ((y, cb), cr)) in px.zip(out) {
        let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
        *y = ((YR * r + YG * g + YB * b + HALF16) >> 16) as u8;
        *cb = ((-CBR * r - CBG * g + HALF * b + CBCR_OFFSET + HALF16 - 1) >> 16) as u8;
        *cr = ((HALF * r - CRG * g - CRB * b + CBCR_OFFSET + HALF16 - 1) >> 16) as u8;
    }
}

/// One row of 2x2 chroma means from two full-resolution rows, bias 1, 2, 1, 2, ...
#[inline(always)]
fn downsample_row(a: &[u8], b: &[u8], out: &mut [u8]) {
    let n = out.len();
    let (a, b) = (&a[..2 * n], &b[..2 * n]);
    for j in 0..n {
        let s = u16::from(a[2 * j]) + u16::from(a[2 * j + 1]);
        let s = s + u16::from(b[2 * j]) + u16::from(b[2 * j + 1]);
        out[j] = ((s + 1 + (j as u16 & 1)) >> 2) as u8;
    }
}

/// libjpeg's h2v2 fancy upsampling of one output row: `near` is the chroma row the
/// output row lies in, `far` the next-nearest one; `out` gets `2 * near.len()` samples.
#[inline(always)]
fn fancy_row(near: &[u8], far: &[u8], out: &mut [u8], sums: &mut [u16]) {
    let n = near.len();
    let (far, sums, out) = (&far[..n], &mut sums[..n], &mut out[..2 * n]);
    for ((s, &a), &b) in sums.iter_mut().zip(near).zip(far) {
        *s = 3 * u16::from(a) + u16::from(b);
    }
    let sums = &sums[..n];
    out[0] = ((4 * sums[0] + 8) >> 4) as u8;
    out[1] = ((3 * sums[0] + sums[1] + 7) >> 4) as u8;
    let (prev, this, next) = (&sums[..n - 2], &sums[1..n - 1], &sums[2..]);
    let mid = &mut out[2..2 * n - 2];
    for j in 0..n - 2 {
        let t = 3 * this[j];
        mid[2 * j] = ((t + prev[j] + 8) >> 4) as u8;
        mid[2 * j + 1] = ((t + next[j] + 7) >> 4) as u8;
    }
    out[2 * n - 2] = ((3 * sums[n - 1] + sums[n - 2] + 8) >> 4) as u8;
    out[2 * n - 1] = ((4 * sums[n - 1] + 7) >> 4) as u8;
}

/// YCbCr to RGB for one row (`jdcolor.c`'s tables written as products).
#[inline(always)]
fn ycc_to_rgb(y: &[u8], cb: &[u8], cr: &[u8], r: &mut [u8], g: &mut [u8], b: &mut [u8]) {
    const RCR: i32 = fix16(1.402);
    const BCB: i32 = fix16(1.772);
    const GCR: i32 = fix16(0.714_14);
    const GCB: i32 = fix16(0.344_14);
    let px = y.iter().zip(cb).zip(cr);
    let out = r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut());
    for (((&y, &cb), &cr), ((r, g), b)) in px.zip(out) {
        let y = i32::from(y);
        let cb = i32::from(cb) - 128;
        let cr = i32::from(cr) - 128;
        *r = (y + ((RCR * cr + HALF16) >> 16)).clamp(0, 255) as u8;
        *g = (y + ((-GCB * cb - GCR * cr + HALF16) >> 16)).clamp(0, 255) as u8;
        *b = (y + ((BCB * cb + HALF16) >> 16)).clamp(0, 255) as u8;
    }
}

/// JPEG-compresses `image` at `quality` (1..=100, clamped) and decodes it, exactly as
/// libjpeg-turbo under Pillow would: samples become 8-bit as [`Image::to_rgb8`] makes
/// them, and come back as [`Image::from_rgb8`] would.
pub fn compress(image: &Image, quality: i32) -> Image {
    if image.is_empty() {
        return image.clone();
    }
    // The same integer code compiled for AVX2, where 32-bit lane products are one
    // instruction (baseline x86_64 has to emulate them, so little gets vectorised).
    // Integer maths gives the same bytes either way; the forced-ISA tests run both.
    #[cfg(target_arch = "x86_64")]
    if matches!(kernels::active(), Isa::Avx2 | Isa::Avx512) {
        // SAFETY: `active` only reports instruction sets this CPU has.
        return unsafe { compress_avx2(image, quality) };
    }
    compress_any(image, quality)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn compress_avx2(image: &Image, quality: i32) -> Image {
    compress_any(image, quality)
}

/// `Image::to_rgb8`'s conversion of one sample: clamp, scale, truncate; NaN gives 0 as
/// there (`max` drops it here, `as` does there).
// `clamp` would keep NaN, which the unchecked conversion must not see.
#[allow(clippy::manual_clamp)]
#[inline(always)]
pub(super) fn to_u8(v: f32) -> u8 {
    let t = v.max(0.0).min(1.0) * 255.0 + 1e-4;
    // SAFETY: `t` is finite and within 0..256, so the conversion is exact; the checked
    // `as` would add NaN and overflow fix-ups that keep the loop scalar.
    unsafe { t.to_int_unchecked::<i32>() as u8 }
}

/// [`compress`] of a non-empty image, for whatever instruction set the caller is
/// compiled for.
#[inline(always)]
fn compress_any(image: &Image, quality: i32) -> Image {
    let (w, h) = (image.width(), image.height());
    // Luma is padded to whole 16x16 MCUs, chroma to whole 8x8 blocks of the halved
    // size; `dw x dh` chroma samples are real, the rest repeats edges.
    let lw = w.div_ceil(16) * 16;
    let (cw, ch) = (lw / 2, h.div_ceil(16) * 8);
    let (dw, dh) = (w.div_ceil(2), h.div_ceil(2));
    let (bw, bh) = (w.div_ceil(8), h.div_ceil(8));
    let mut luma = vec![0u8; lw * bh * 8];
    let mut cb = vec![0u8; cw * ch];
    let mut cr = vec![0u8; cw * ch];

    let (sr, sg, sb) = image.planes();
    let (mut r, mut g, mut b) = (vec![0u8; w], vec![0u8; w], vec![0u8; w]);
    let mut cb_full = [vec![0u8; lw], vec![0u8; lw]];
    let mut cr_full = [vec![0u8; lw], vec![0u8; lw]];
    for i in 0..dh {
        for k in 0..2 {
            let y = 2 * i + k;
            if y == h {
                // Odd height: the row pair is completed with the last row.
                let [a, z] = &mut cb_full;
                z.copy_from_slice(a);
                let [a, z] = &mut cr_full;
                z.copy_from_slice(a);
                continue;
            }
            for (dst, src) in [(&mut r, sr), (&mut g, sg), (&mut b, sb)] {
                for (d, &v) in dst.iter_mut().zip(&src[y * w..(y + 1) * w]) {
                    *d = to_u8(v);
                }
            }
            let lrow = &mut luma[y * lw..(y + 1) * lw];
            let (fb, fr) = (&mut cb_full[k], &mut cr_full[k]);
            rgb_to_ycc(&r, &g, &b, &mut lrow[..w], &mut fb[..w], &mut fr[..w]);
            for row in [lrow, &mut fb[..], &mut fr[..]] {
                let last = row[w - 1];
                row[w..].fill(last);
            }
        }
        let out = i * cw..(i + 1) * cw;
        downsample_row(&cb_full[0], &cb_full[1], &mut cb[out.clone()]);
        downsample_row(&cr_full[0], &cr_full[1], &mut cr[out]);
    }
    for y in h..bh * 8 {
        luma.copy_within((h - 1) * lw..h * lw, y * lw);
    }
    for i in dh..ch {
        cb.copy_within((dh - 1) * cw..dh * cw, i * cw);
        cr.copy_within((dh - 1) * cw..dh * cw, i * cw);
    }

    let luma_div = Divisors::new(&STD_LUMA, quality);
    let chroma_div = Divisors::new(&STD_CHROMA, quality);
    let planes = [
        (&mut luma[..], lw, bw, bh, &luma_div),
        (&mut cb[..], cw, cw / 8, ch / 8, &chroma_div),
        (&mut cr[..], cw, cw / 8, ch / 8, &chroma_div),
    ];
    for (plane, stride, bw, bh, div) in planes {
        round_trip_plane(plane, stride, bw, bh, div);
    }

    // libjpeg upsamples with the triangle filter only when chroma is wider than 2.
    let fancy = dw > 2;
    let mut up_cb = vec![0u8; 2 * dw];
    let mut up_cr = vec![0u8; 2 * dw];
    let mut sums = vec![0u16; dw];
    let mut rgb = vec![0u8; 3 * w * h];
    let (or, rest) = rgb.split_at_mut(w * h);
    let (og, ob) = rest.split_at_mut(w * h);
    for y in 0..h {
        let i = y / 2;
        if fancy {
            // The other row is the one above for even rows, below for odd ones; edge
            // rows stand in for the missing neighbours.
            let k = if y % 2 == 0 {
                i.saturating_sub(1)
            } else {
                (i + 1).min(dh - 1)
            };
            let (near, far) = (i * cw..i * cw + dw, k * cw..k * cw + dw);
            fancy_row(&cb[near.clone()], &cb[far.clone()], &mut up_cb, &mut sums);
            fancy_row(&cr[near], &cr[far], &mut up_cr, &mut sums);
        } else {
            for (x, (u, v)) in up_cb.iter_mut().zip(up_cr.iter_mut()).enumerate() {
                *u = cb[i * cw + x / 2];
                *v = cr[i * cw + x / 2];
            }
        }
        let lrow = &luma[y * lw..y * lw + w];
        let row = y * w..(y + 1) * w;
        let (r, g, b) = (&mut or[row.clone()], &mut og[row.clone()], &mut ob[row]);
        ycc_to_rgb(lrow, &up_cb[..w], &up_cr[..w], r, g, b);
    }
    // `Image::from_rgb8`'s conversion; collecting skips zeroing the f32 buffer.
    let data = rgb.iter().map(|&v| f32::from(v) / 255.0).collect();
    Image::from_planes(w, h, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocals_divide_exactly() {
        // Every divisor a table entry can give (8 x 1..=255) and every 16-bit magnitude:
        // libjpeg-turbo's 16-bit reciprocals (used here and by its SIMD quantiser) and
        // its 32-bit ones (its C quantiser) both equal rounded division.
        for q in 1..=255u32 {
            let d = 8 * q;
            let (recip, corr, shift) = reciprocal(d);
            let (recip32, corr32, shift32) = {
                let b = 31 - d.leading_zeros();
                let mut r = 32 + b;
                let mut fq = (1u64 << r) / u64::from(d);
                let fr = (1u64 << r) % u64::from(d);
                let mut c = u64::from(d / 2);
                if fr == 0 {
                    fq >>= 1;
                    r -= 1;
                } else if fr <= u64::from(d / 2) {
                    c += 1;
                } else {
                    fq += 1;
                }
                (fq, c, r)
            };
            for a in 0..32768u32 {
                let want = (a + d / 2) / d;
                assert_eq!(((a + corr) * recip) >> shift, want, "{a} / {d}");
                assert_eq!(
                    ((u64::from(a) + corr32) * recip32) >> shift32,
                    u64::from(want),
                    "{a} / {d}"
                );
            }
        }
    }

    #[test]
    fn quality_scales_and_clamps_the_tables() {
        assert_eq!(quant_table(&STD_LUMA, 50), STD_LUMA);
        assert!(quant_table(&STD_CHROMA, 100).iter().all(|&q| q == 1));
        // Quality 7 scales by 714%: 99 -> 707, clamped to 255; 10 -> 71.
        let t = quant_table(&STD_LUMA, 7);
        assert_eq!((t[2], t[63]), (71, 255));
        assert_eq!(quant_table(&STD_LUMA, 0), quant_table(&STD_LUMA, 1));
        assert_eq!(quant_table(&STD_LUMA, 250), quant_table(&STD_LUMA, 100));
    }

    #[test]
    fn constants_are_libjpegs() {
        assert_eq!(
            [F0_298, F0_390, F0_541, F0_765, F0_899, F1_175],
            [2446, 3196, 4433, 6270, 7373, 9633]
        );
        assert_eq!(
            [F1_501, F1_847, F1_961, F2_053, F2_562, F3_072],
            [12299, 15137, 16069, 16819, 20995, 25172]
        );
        assert_eq!([fix16(1.402), fix16(1.772)], [91881, 116130]);
    }

    #[test]
    fn range_limit_saturates_then_wraps() {
        let got: Vec<i32> = [-900, -129, -128, 0, 127, 128, 511, 512, 895, 897]
            .into_iter()
            .map(range_limit)
            .collect();
        assert_eq!(got, [252, 0, 0, 128, 255, 255, 255, 0, 0, 1]);
    }
}

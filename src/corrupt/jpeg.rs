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
//! step is the same operation on all lanes and the compiler vectorises it; the maths is
//! integer, so every instruction set gives the same bytes. Unlike libjpeg, any size works
//! (JPEG files stop at 65500 pixels a side; the simulation has no such limit).

/// Blocks transformed side by side.
const LANES: usize = 8;
/// One value from each of `LANES` blocks.
type V = [i32; LANES];
/// `LANES` 8x8 blocks, coefficient-major: `blk[row * 8 + col][lane]`.
type Blocks = [V; 64];

/// Annex K luminance table (natural order), quality 50.
const STD_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
    56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104,
    113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// Annex K chrominance table (natural order), quality 50.
const STD_CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99,
    99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
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

/// One quantisation table in the form the block loop uses: per coefficient, the
/// correction added to |x|, the reciprocal and shift standing for the division by
/// 8 q, and q itself for dequantisation.
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
        for (i, &q) in quant_table(base, quality).iter().enumerate() {
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

#[inline(always)]
fn zip(a: V, b: V, f: impl Fn(i32, i32) -> i32) -> V {
    let mut o = [0; LANES];
    for l in 0..LANES {
        o[l] = f(a[l], b[l]);
    }
    o
}

#[inline(always)]
fn map(a: V, f: impl Fn(i32) -> i32) -> V {
    let mut o = [0; LANES];
    for l in 0..LANES {
        o[l] = f(a[l]);
    }
    o
}

// Wrapping arithmetic on purpose: sums and products are exact modulo 2^32, and every
// value that is shifted right fits in i32, so the result equals libjpeg's 64-bit one
// even if an intermediate of an extreme block would not.
#[inline(always)]
fn add(a: V, b: V) -> V {
    zip(a, b, i32::wrapping_add)
}

#[inline(always)]
fn sub(a: V, b: V) -> V {
    zip(a, b, i32::wrapping_sub)
}

#[inline(always)]
fn mul(a: V, k: i32) -> V {
    map(a, |x| x.wrapping_mul(k))
}

#[inline(always)]
fn shl(a: V, n: u32) -> V {
    map(a, |x| x << n)
}

/// libjpeg's `DESCALE`: shift right by `n`, rounding half up.
#[inline(always)]
fn descale(a: V, n: u32) -> V {
    map(a, |x| x.wrapping_add(1 << (n - 1)) >> n)
}

/// One 1-D pass of `jpeg_fdct_islow` over eight samples (per lane); the row pass keeps
/// `PASS1_BITS` extra bits, the column pass removes them.
#[inline(always)]
fn fdct_1d<const ROWS: bool>(d: [V; 8]) -> [V; 8] {
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
            shl(add(tmp10, tmp11), PASS1_BITS),
            shl(sub(tmp10, tmp11), PASS1_BITS),
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

/// One 1-D pass of `jpeg_idct_islow` (per lane): the column pass leaves `PASS1_BITS`
/// extra bits, the row pass removes them and the DCT's factor 8 (centred samples out).
#[inline(always)]
fn idct_1d<const COLS: bool>(d: [V; 8]) -> [V; 8] {
    let z2 = d[2];
    let z3 = d[6];
    let z1 = mul(add(z2, z3), F0_541);
    let tmp2 = add(z1, mul(z3, -F1_847));
    let tmp3 = add(z1, mul(z2, F0_765));
    let tmp0 = shl(add(d[0], d[4]), CONST_BITS);
    let tmp1 = shl(sub(d[0], d[4]), CONST_BITS);
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

/// Forward DCT, quantisation, dequantisation and inverse DCT of `LANES` blocks of
/// centred samples, in place; leaves decoded samples in 0..=255.
#[inline(always)]
fn round_trip_blocks(blk: &mut Blocks, div: &Divisors) {
    for r in 0..8 {
        let row = fdct_1d::<true>(std::array::from_fn(|c| blk[r * 8 + c]));
        blk[r * 8..r * 8 + 8].copy_from_slice(&row);
    }
    for c in 0..8 {
        let col = fdct_1d::<false>(std::array::from_fn(|k| blk[k * 8 + c]));
        for (k, v) in col.into_iter().enumerate() {
            blk[k * 8 + c] = v;
        }
    }
    for (i, v) in blk.iter_mut().enumerate() {
        let (corr, recip, shift, q) = (div.corr[i], div.recip[i], div.shift[i], div.q[i]);
        *v = map(*v, |x| {
            let s = x >> 31;
            let a = ((x ^ s) - s) as u32;
            let level = (a.wrapping_add(corr).wrapping_mul(recip) >> shift) as i32;
            (level.wrapping_mul(q) ^ s) - s
        });
    }
    for c in 0..8 {
        let col = idct_1d::<true>(std::array::from_fn(|k| blk[k * 8 + c]));
        for (k, v) in col.into_iter().enumerate() {
            blk[k * 8 + c] = v;
        }
    }
    for r in 0..8 {
        let row = idct_1d::<false>(std::array::from_fn(|c| blk[r * 8 + c]));
        for (c, v) in row.into_iter().enumerate() {
            blk[r * 8 + c] = map(v, range_limit);
        }
    }
}

/// Round-trips the `bw x bh` top-left blocks of a plane (row stride `stride`) in place,
/// `LANES` blocks at a time in raster order.
fn round_trip_plane(plane: &mut [u8], stride: usize, bw: usize, bh: usize, div: &Divisors) {
    let n = bw * bh;
    let origin = |b: usize| (b / bw) * 8 * stride + (b % bw) * 8;
    let mut blk: Blocks = [[0; LANES]; 64];
    let mut start = 0;
    while start < n {
        let count = (n - start).min(LANES);
        for l in 0..LANES {
            // Spare lanes of the last group repeat its last block; their output is dropped.
            let o = origin(start + l.min(count - 1));
            for r in 0..8 {
                let src = &plane[o + r * stride..o + r * stride + 8];
                for (c, &p) in src.iter().enumerate() {
                    blk[r * 8 + c][l] = i32::from(p) - 128;
                }
            }
        }
        round_trip_blocks(&mut blk, div);
        for l in 0..count {
            let o = origin(start + l);
            for r in 0..8 {
                let dst = &mut plane[o + r * stride..o + r * stride + 8];
                for (c, d) in dst.iter_mut().enumerate() {
                    *d = blk[r * 8 + c][l] as u8;
                }
            }
        }
        start += count;
    }
}

/// RGB to YCbCr for one row (`jccolor.c`'s tables written as products).
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
fn downsample_row(a: &[u8], b: &[u8], out: &mut [u8]) {
    let pairs = a.chunks_exact(2).zip(b.chunks_exact(2));
    for (j, ((a, b), o)) in pairs.zip(out.iter_mut()).enumerate() {
        let s = u32::from(a[0]) + u32::from(a[1]) + u32::from(b[0]) + u32::from(b[1]);
        *o = ((s + 1 + (j as u32 & 1)) >> 2) as u8;
    }
}

/// libjpeg's h2v2 fancy upsampling of one output row: `near` is the chroma row the
/// output row lies in, `far` the next-nearest one; `out` gets `2 * near.len()` samples.
fn fancy_row(near: &[u8], far: &[u8], out: &mut [u8], sums: &mut [i32]) {
    let n = near.len();
    for ((s, &a), &b) in sums.iter_mut().zip(near).zip(far) {
        *s = 3 * i32::from(a) + i32::from(b);
    }
    let sums = &sums[..n];
    out[0] = ((4 * sums[0] + 8) >> 4) as u8;
    out[1] = ((3 * sums[0] + sums[1] + 7) >> 4) as u8;
    for (w, o) in sums.windows(3).zip(out[2..].chunks_exact_mut(2)) {
        o[0] = ((3 * w[1] + w[0] + 8) >> 4) as u8;
        o[1] = ((3 * w[1] + w[2] + 7) >> 4) as u8;
    }
    out[2 * n - 2] = ((3 * sums[n - 1] + sums[n - 2] + 8) >> 4) as u8;
    out[2 * n - 1] = ((4 * sums[n - 1] + 7) >> 4) as u8;
}

/// YCbCr to RGB for one row (`jdcolor.c`'s tables written as products).
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

/// JPEG-compresses a `w x h` RGB image at `quality` (1..=100, clamped) and decodes it,
/// exactly as libjpeg-turbo under Pillow would. `fill(y, r, g, b)` must write input
/// row `y` (`w` samples per channel); `emit(y, r, g, b)` receives decoded row `y`. Rows
/// are asked for and handed out top to bottom, each once. Empty images do nothing.
pub fn round_trip(
    w: usize,
    h: usize,
    quality: i32,
    mut fill: impl FnMut(usize, &mut [u8], &mut [u8], &mut [u8]),
    mut emit: impl FnMut(usize, &[u8], &[u8], &[u8]),
) {
    if w == 0 || h == 0 {
        return;
    }
    // Luma is padded to whole 16x16 MCUs, chroma to whole 8x8 blocks of the halved
    // size; `dw x dh` chroma samples are real, the rest repeats edges.
    let lw = w.div_ceil(16) * 16;
    let (cw, ch) = (lw / 2, h.div_ceil(16) * 8);
    let (dw, dh) = (w.div_ceil(2), h.div_ceil(2));
    let (bw, bh) = (w.div_ceil(8), h.div_ceil(8));
    let mut luma = vec![0u8; lw * bh * 8];
    let mut cb = vec![0u8; cw * ch];
    let mut cr = vec![0u8; cw * ch];

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
            fill(y, &mut r, &mut g, &mut b);
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
    round_trip_plane(&mut luma, lw, bw, bh, &luma_div);
    round_trip_plane(&mut cb, cw, cw / 8, ch / 8, &chroma_div);
    round_trip_plane(&mut cr, cw, cw / 8, ch / 8, &chroma_div);

    // libjpeg upsamples with the triangle filter only when chroma is wider than 2.
    let fancy = dw > 2;
    let mut up_cb = vec![0u8; 2 * dw];
    let mut up_cr = vec![0u8; 2 * dw];
    let mut sums = vec![0i32; dw];
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
        ycc_to_rgb(lrow, &up_cb[..w], &up_cr[..w], &mut r, &mut g, &mut b);
        emit(y, &r, &g, &b);
    }
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
                assert_eq!((a + corr) * recip >> shift, want, "{a} / {d}");
                assert_eq!(
                    (u64::from(a) + corr32) * recip32 >> shift32,
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

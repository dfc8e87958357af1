//! Digital losses: JPEG compression and pixelation (ImageNet-C).

use image::RgbImage;

use super::jpeg;
#[cfg(target_arch = "x86_64")]
use super::kernels::{self, Isa};
use super::{Corruption, Family, Image, Param, Rng, Severity};

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[&JpegCompression, &Pixelate];

/// JPEG artefacts (ImageNet-C `jpeg_compression`): the 8-bit image is encoded and decoded
/// the way Pillow's `save(format='JPEG', quality=q)` and `Image.open` do it, with
/// libjpeg(-turbo) behaviour: baseline, standard (Annex K) quantisation tables scaled by
/// quality and clamped to 8 bits, 4:2:0 chroma subsampling, standard Huffman tables,
/// integer DCT; decoded with fancy upsampling. `jpeg::compress` simulates those
/// lossy steps exactly (the entropy coding in between is lossless), so no bit stream is
/// produced; unlike a real JPEG file, any image size works.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | quality | 25 | 18 | 15 | 10 | 7 |
pub struct JpegCompression;

const JPEG_QUALITY: [i64; 5] = [25, 18, 15, 10, 7];

impl Corruption for JpegCompression {
    fn name(&self) -> &'static str {
        "jpeg_compression"
    }
    fn family(&self) -> Family {
        Family::Digital
    }
    fn summary(&self) -> &'static str {
        "JPEG compression artefacts at low quality"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::int("quality", s.pick(&JPEG_QUALITY)),
            Param::text("subsampling", "4:2:0"),
        ]
    }
    fn is_random(&self) -> bool {
        false
    }
    fn apply(&self, image: &Image, s: Severity, _rng: &mut Rng) -> Image {
        jpeg::compress(image, s.pick(&JPEG_QUALITY) as i32)
    }
}

/// Resolution loss (ImageNet-C `pixelate`): Pillow's BOX down-scale to
/// `int(w c) x int(h c)` (at least 1 x 1), then NEAREST back up to `w x h`, both
/// reproduced exactly on the 8-bit image.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | c (scale) | 0.6 | 0.5 | 0.4 | 0.3 | 0.25 |
pub struct Pixelate;

const PIXELATE: [f64; 5] = [0.6, 0.5, 0.4, 0.3, 0.25];

impl Corruption for Pixelate {
    fn name(&self) -> &'static str {
        "pixelate"
    }
    fn family(&self) -> Family {
        Family::Digital
    }
    fn summary(&self) -> &'static str {
        "pixelation: box down-scale, nearest up-scale"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("scale", s.pick(&PIXELATE))]
    }
    fn is_random(&self) -> bool {
        false
    }
    fn apply(&self, image: &Image, s: Severity, _rng: &mut Rng) -> Image {
        let c = s.pick(&PIXELATE);
        let (w, h) = (image.width(), image.height());
        let small_w = ((w as f64 * c) as usize).max(1);
        let small_h = ((h as f64 * c) as usize).max(1);
        pixelate(image, small_w, small_h)
    }
}

/// Pillow's BOX filter weights along one axis: output `i` reads `len[i]` inputs from
/// `start[i]` with weights `weights[i * taps..]`; `uniform[i]` is that weight when all
/// of them are equal (a box's are, bar zero-weight ends, which are trimmed).
struct BoxTaps {
    start: Vec<usize>,
    len: Vec<usize>,
    taps: usize,
    weights: Vec<i32>,
    uniform: Vec<Option<i32>>,
}

impl BoxTaps {
    fn new(in_size: usize, out_size: usize) -> BoxTaps {
        let mut coeffs = box_coeffs(in_size, out_size);
        for (start, k) in coeffs.iter_mut() {
            let lead = k.iter().take_while(|&&v| v == 0).count();
            let trail = k[lead..].iter().rev().take_while(|&&v| v == 0).count();
            k.truncate(k.len() - trail);
            k.drain(..lead);
            *start += lead;
        }
        let taps = coeffs.iter().map(|(_, k)| k.len()).max().unwrap_or(0);
        let mut weights = vec![0i32; taps * out_size];
        for (i, (_, k)) in coeffs.iter().enumerate() {
            weights[i * taps..i * taps + k.len()].copy_from_slice(k);
        }
        BoxTaps {
            start: coeffs.iter().map(|c| c.0).collect(),
            len: coeffs.iter().map(|c| c.1.len()).collect(),
            taps,
            weights,
            uniform: coeffs
                .iter()
                .map(|(_, k)| k.iter().all(|&v| v == k[0]).then(|| k.first().copied()))
                .map(Option::flatten)
                .collect(),
        }
    }

    /// One pass along the *rows* of `src` (`in_size` rows of `n` samples): output row
    /// `i` of `dst` is the weighted sum of the input rows output `i` reads, rounded and
    /// clipped like Pillow's 8-bit resampler. Whole rows at a time, so it vectorises;
    /// equal weights add the rows first and multiply once (the same integer sum).
    #[inline(always)]
    fn resample_rows(&self, src: &[u8], n: usize, dst: &mut [u8], acc: &mut [i32]) {
        let round = 1i32 << (PRECISION_BITS - 1);
        let acc = &mut acc[..n];
        for (i, out) in dst.chunks_exact_mut(n).enumerate() {
            let rows = src[self.start[i] * n..(self.start[i] + self.len[i]) * n].chunks_exact(n);
            match self.uniform[i] {
                Some(k) => {
                    acc.fill(0);
                    for row in rows {
                        for (a, &p) in acc.iter_mut().zip(row) {
                            *a += i32::from(p);
                        }
                    }
                    for a in acc.iter_mut() {
                        *a = *a * k + round;
                    }
                }
                None => {
                    acc.fill(round);
                    let k = &self.weights[i * self.taps..];
                    for (row, &kj) in rows.zip(k) {
                        for (a, &p) in acc.iter_mut().zip(row) {
                            *a += kj * i32::from(p);
                        }
                    }
                }
            }
            for (o, &a) in out.iter_mut().zip(acc.iter()) {
                *o = (a >> PRECISION_BITS).clamp(0, 255) as u8;
            }
        }
    }
}

/// For each of `out` outputs, the input PIL's NEAREST resize from `input` samples picks.
fn nearest_index(input: usize, out: usize) -> Vec<usize> {
    let scale = input as f64 / out as f64;
    (0..out)
        .map(|x| (((x as f64 + 0.5) * scale) as usize).min(input - 1))
        .collect()
}

/// `dst[c * rows + r] = src[r * cols + c]`: 8x8 tiles, eight side by side at a time,
/// through the vectorised byte transpose; ragged edges one byte at a time.
#[inline(always)]
fn transpose_plane(src: &[u8], rows: usize, cols: usize, dst: &mut [u8]) {
    let (r8, c8) = (rows / 8 * 8, cols / 8 * 8);
    let mut x = [[0u64; 8]; 8];
    for r0 in (0..r8).step_by(8) {
        for c0 in (0..c8).step_by(64) {
            let tiles = ((c8 - c0) / 8).min(8);
            for (i, row) in x.iter_mut().enumerate() {
                let line = &src[(r0 + i) * cols + c0..];
                for (m, v) in row.iter_mut().enumerate().take(tiles) {
                    *v = u64::from_le_bytes(line[8 * m..8 * m + 8].try_into().expect("8"));
                }
            }
            jpeg::transpose8x8x8(&mut x);
            for (j, row) in x.iter().enumerate() {
                for (m, v) in row.iter().enumerate().take(tiles) {
                    let at = (c0 + 8 * m + j) * rows + r0;
                    dst[at..at + 8].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    for r in 0..rows {
        let from = if r < r8 { c8 } else { 0 };
        for c in from..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/// Writes each `values[i]` over the next `runs[i]` (at most 8) slots of `row`, which has
/// 8 slots to spare: one 8-wide store per run, partly overwritten by the next.
#[inline(never)]
fn expand_short_runs(values: &[f32], runs: &[usize], row: &mut [f32]) {
    let mut at = 0;
    for (&v, &n) in values.iter().zip(runs) {
        if let Some(dst) = row.get_mut(at..at + 8) {
            dst.copy_from_slice(&[v; 8]);
        }
        at += n;
    }
}

/// `box_resize` to `sw x sh` then NEAREST back up, plane by plane on the planar image:
/// the same 8-bit arithmetic as going through `RgbImage`, without the interleaving.
/// The horizontal pass runs on the transposed plane so that, like the vertical one, it
/// adds whole rows; the up-scale builds each distinct row once and copies it.
fn pixelate(image: &Image, sw: usize, sh: usize) -> Image {
    // As for JPEG: integer and exact float steps only, so the AVX2 build of the same
    // code gives the same bytes.
    #[cfg(target_arch = "x86_64")]
    if matches!(kernels::active(), Isa::Avx2 | Isa::Avx512) {
        // SAFETY: `active` only reports instruction sets this CPU has.
        return unsafe { pixelate_avx2(image, sw, sh) };
    }
    pixelate_any(image, sw, sh)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pixelate_avx2(image: &Image, sw: usize, sh: usize) -> Image {
    pixelate_any(image, sw, sh)
}

/// [`pixelate`] for whatever instruction set the caller is compiled for.
#[inline(always)]
fn pixelate_any(image: &Image, sw: usize, sh: usize) -> Image {
    let (w, h) = (image.width(), image.height());
    let hx = (sw != w).then(|| BoxTaps::new(w, sw));
    let vy = (sh != h).then(|| BoxTaps::new(h, sh));
    let xs = nearest_index(sw, w);
    let ys = nearest_index(sh, h);
    let mut src8 = vec![0u8; w * h];
    let mut t = vec![0u8; w * h];
    let mut mid_t = vec![0u8; sw * h];
    let mut mid = vec![0u8; h * sw];
    let mut small = vec![0u8; sw * sh];
    let mut acc = vec![0i32; w.max(h)];
    let mut small_f = vec![0.0f32; sw];
    // NEAREST repeats each small column over a run of output columns. Runs of up to 8
    // are written as 8-wide stores that the next run partly overwrites (the row has
    // 8 spare slots); longer ones fall back to one index per pixel.
    let mut runs = vec![0usize; sw];
    for &x in &xs {
        runs[x] += 1;
    }
    let short_runs = runs.iter().all(|&n| n <= 8);
    let mut row = vec![0.0f32; w + 8];
    let mut data = Vec::with_capacity(3 * w * h);
    for c in 0..3 {
        for (d, &v) in src8.iter_mut().zip(image.plane(c)) {
            *d = jpeg::to_u8(v);
        }
        let mid = match &hx {
            Some(taps) => {
                transpose_plane(&src8, h, w, &mut t);
                taps.resample_rows(&t, h, &mut mid_t, &mut acc);
                transpose_plane(&mid_t, sw, h, &mut mid);
                &mid
            }
            None => &src8,
        };
        let small = match &vy {
            Some(taps) => {
                taps.resample_rows(mid, sw, &mut small, &mut acc);
                &small
            }
            None => mid,
        };
        for (y, &sy) in ys.iter().enumerate() {
            if y == 0 || sy != ys[y - 1] {
                for (f, &v) in small_f.iter_mut().zip(&small[sy * sw..(sy + 1) * sw]) {
                    *f = f32::from(v) / 255.0;
                }
                if short_runs {
                    expand_short_runs(&small_f, &runs, &mut row);
                } else {
                    for (o, &x) in row.iter_mut().zip(&xs) {
                        *o = small_f[x];
                    }
                }
            }
            data.extend_from_slice(&row[..w]);
        }
    }
    Image::from_planes(w, h, data)
}

/// Fixed-point fraction bits of Pillow's 8-bit resampler.
const PRECISION_BITS: u32 = 22;

/// Pillow's per-output-pixel box filter weights along one axis: (first input index,
/// fixed-point weights).
fn box_coeffs(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 0.5 * filterscale;
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C's truncating casts; both bounds are clamped into [0, in_size].
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64)
                .min(in_size as i64)
                .max(xmin as i64) as usize;
            // Pillow's box is 1 on (-0.5, 0.5].
            let k: Vec<f64> = (xmin..xmax)
                .map(|x| {
                    let t = (x as f64 - center + 0.5) * ss;
                    if t > -0.5 && t <= 0.5 {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let ww: f64 = k.iter().sum();
            let fixed = k
                .iter()
                .map(|&v| {
                    let v = if ww != 0.0 { v / ww } else { v };
                    (v * f64::from(1u32 << PRECISION_BITS) + 0.5) as i32
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

/// Pillow's `resize(..., Image.BOX)` for 8-bit RGB: horizontal pass into an 8-bit
/// intermediate, then vertical, each rounding like `ImagingResampleHorizontal_8bpc`.
pub fn box_resize(img: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (ow, oh) = (out_w as usize, out_h as usize);
    if (w, h) == (ow, oh) {
        return img.clone();
    }
    let round = 1i32 << (PRECISION_BITS - 1);
    let clip8 = |acc: i32| (acc >> PRECISION_BITS).clamp(0, 255) as u8;
    let src = img.as_raw();
    let mid: Vec<u8> = if ow != w {
        let coeffs = box_coeffs(w, ow);
        let mut out = vec![0u8; h * ow * 3];
        for y in 0..h {
            let line = &src[y * w * 3..(y + 1) * w * 3];
            for (xx, (xmin, k)) in coeffs.iter().enumerate() {
                let mut acc = [round; 3];
                for (j, &kj) in k.iter().enumerate() {
                    let p = &line[(xmin + j) * 3..(xmin + j) * 3 + 3];
                    for c in 0..3 {
                        acc[c] += i32::from(p[c]) * kj;
                    }
                }
                for c in 0..3 {
                    out[(y * ow + xx) * 3 + c] = clip8(acc[c]);
                }
            }
        }
        out
    } else {
        src.clone()
    };
    let pixels = if oh != h {
        let coeffs = box_coeffs(h, oh);
        let stride = ow * 3;
        let mut out = vec![0u8; oh * stride];
        let mut acc = vec![0i32; stride];
        for (yy, (ymin, k)) in coeffs.iter().enumerate() {
            acc.fill(round);
            for (j, &kj) in k.iter().enumerate() {
                let row = &mid[(ymin + j) * stride..(ymin + j + 1) * stride];
                for (a, &s) in acc.iter_mut().zip(row) {
                    *a += i32::from(s) * kj;
                }
            }
            for (o, &a) in out[yy * stride..(yy + 1) * stride].iter_mut().zip(&acc) {
                *o = clip8(a);
            }
        }
        out
    } else {
        mid
    };
    RgbImage::from_raw(out_w, out_h, pixels).expect("buffer matches its size")
}

/// The real libjpeg (mozjpeg in its libjpeg-turbo profile) encode and decode that
/// [`jpeg::compress`] simulates; the tests hold the simulation to it byte for byte.
#[cfg(test)]
mod libjpeg {
    use std::os::raw::{c_int, c_ulong};

    use image::RgbImage;

    /// Encodes with libjpeg at `quality` as Pillow does, then decodes; `None` if libjpeg fails.
    pub(super) fn jpeg_round_trip(rgb: &RgbImage, quality: c_int) -> Option<RgbImage> {
        let encoded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| encode_jpeg(rgb, quality)))
                .ok()?;
        crate::imageio::decode_rgb(&encoded).ok()
    }

    /// libjpeg compression state plus the error manager and memory destination it points
    /// into; boxed so those pointers stay valid, and torn down on drop even after an error.
    struct Encoder {
        cinfo: mozjpeg_sys::jpeg_compress_struct,
        err: mozjpeg_sys::jpeg_error_mgr,
        buf: *mut u8,
        size: c_ulong,
        created: bool,
    }

    impl Drop for Encoder {
        fn drop(&mut self) {
            // SAFETY: `cinfo` was created by jpeg_CreateCompress when `created` is set, and
            // `buf` is null or the malloc'd buffer libjpeg's memory destination owns.
            unsafe {
                if self.created {
                    mozjpeg_sys::jpeg_destroy_compress(&mut self.cinfo);
                }
                if !self.buf.is_null() {
                    libc::free(self.buf.cast());
                }
            }
        }
    }

    extern "C-unwind" fn unwind_on_error(_cinfo: &mut mozjpeg_sys::jpeg_common_struct) {
        // Unwinds back to `jpeg_round_trip`'s catch_unwind without the panic hook's message.
        std::panic::resume_unwind(Box::new("libjpeg error"));
    }

    extern "C-unwind" fn ignore_message(
        _cinfo: &mut mozjpeg_sys::jpeg_common_struct,
        _level: c_int,
    ) {
    }

    /// Pillow's JPEG encoder set-up: `jpeg_set_defaults`, `jpeg_set_quality(q, TRUE)`, default
    /// (4:2:0) sampling. mozjpeg is switched to its libjpeg-turbo profile (no trellis
    /// quantisation, no progressive scans, no Huffman optimisation, Annex K tables); its
    /// own quality call would skip the 8-bit clamp of the tables (force_baseline false),
    /// which changes qualities below 12, hence the direct calls.
    fn encode_jpeg(rgb: &RgbImage, quality: c_int) -> Vec<u8> {
        use mozjpeg_sys as ffi;
        let (w, h) = rgb.dimensions();
        // SAFETY: all-zero is the documented initial state of these C structs; every
        // pointer libjpeg keeps (error manager, destination buffer and size) lives in the
        // box, which outlives the compressor; rows point into `rgb`, alive throughout.
        unsafe {
            let mut enc = Box::new(Encoder {
                cinfo: std::mem::zeroed(),
                err: std::mem::zeroed(),
                buf: std::ptr::null_mut(),
                size: 0,
                created: false,
            });
            ffi::jpeg_std_error(&mut enc.err);
            enc.err.error_exit = Some(unwind_on_error);
            enc.err.emit_message = Some(ignore_message);
            enc.cinfo.common.err = &mut enc.err;
            ffi::jpeg_create_compress(&mut enc.cinfo);
            enc.created = true;
            let Encoder {
                cinfo, buf, size, ..
            } = &mut *enc;
            ffi::jpeg_mem_dest(cinfo, buf, size);
            cinfo.image_width = w;
            cinfo.image_height = h;
            cinfo.input_components = 3;
            cinfo.in_color_space = ffi::J_COLOR_SPACE::JCS_RGB;
            ffi::jpeg_c_set_int_param(
                cinfo,
                ffi::J_INT_PARAM::JINT_COMPRESS_PROFILE,
                ffi::JINT_COMPRESS_PROFILE_VALUE::JCP_FASTEST as c_int,
            );
            ffi::jpeg_set_defaults(cinfo);
            ffi::jpeg_set_quality(cinfo, quality, 1);
            ffi::jpeg_start_compress(cinfo, 1);
            let stride = 3 * w as usize;
            let rows: Vec<*const u8> = rgb
                .as_raw()
                .chunks_exact(stride)
                .map(|r| r.as_ptr())
                .collect();
            let mut done = 0usize;
            while done < rows.len() {
                let n = ffi::jpeg_write_scanlines(
                    cinfo,
                    rows.as_ptr().add(done),
                    (rows.len() - done) as u32,
                );
                if n == 0 {
                    break;
                }
                done += n as usize;
            }
            ffi::jpeg_finish_compress(cinfo);
            if buf.is_null() {
                return Vec::new();
            }
            std::slice::from_raw_parts(*buf, *size as usize).to_vec()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corrupt::corrupt;
    use crate::corrupt::kernels;
    use crate::corrupt::noise::parity;

    fn test_image(w: usize, h: usize) -> Image {
        let mut im = Image::new(w, h);
        for c in 0..3 {
            for (i, v) in im.plane_mut(c).iter_mut().enumerate() {
                let (x, y) = (i % w, i / w);
                *v = ((x * 11 + y * 5 + c * 80 + (x * y) % 7 * 20) % 256) as f32 / 255.0;
            }
        }
        Image::from_rgb8(&im.to_rgb8())
    }

    fn mad(a: &Image, b: &Image) -> f64 {
        a.data()
            .iter()
            .zip(b.data())
            .map(|(x, y)| f64::from((x - y).abs()))
            .sum::<f64>()
            / a.data().len() as f64
    }

    #[test]
    fn every_corruption_handles_odd_sizes() {
        for c in ALL {
            for (w, h) in [(1, 1), (1, 9), (9, 1), (2, 2), (33, 17)] {
                let im = test_image(w, h);
                for s in Severity::ALL {
                    let out = corrupt(&im, *c, s, 0);
                    assert_eq!((out.width(), out.height()), (w, h), "{}", c.name());
                }
            }
        }
    }

    #[test]
    fn strength_grows_with_severity() {
        let im = test_image(64, 48);
        for c in ALL {
            let mut last = 0.0;
            for s in Severity::ALL {
                let d = mad(&im, &corrupt(&im, *c, s, 0));
                assert!(d > last, "{} s{s}: {d} <= {last}", c.name());
                last = d;
            }
        }
    }

    #[test]
    fn box_resize_averages_blocks() {
        // 4x2 -> 2x1: each output averages a 2x2 block, rounding half up after each pass
        // (rows 5 and 1.5 -> 2, then 3.5 -> 4; 150 and 50.5 -> 51, then 100.5 -> 101).
        let img = RgbImage::from_raw(
            4,
            2,
            vec![
                0, 0, 0, 10, 10, 10, 100, 0, 0, 200, 0, 0, 1, 1, 1, 2, 2, 2, 50, 0, 0, 51, 0, 0,
            ],
        )
        .unwrap();
        let out = box_resize(&img, 2, 1);
        assert_eq!(out.as_raw(), &[4, 4, 4, 101, 0, 0]);
        let flat = RgbImage::from_pixel(37, 23, image::Rgb([9, 99, 199]));
        assert!(box_resize(&flat, 11, 6)
            .pixels()
            .all(|p| p.0 == [9, 99, 199]));
    }

    #[test]
    fn planar_pixelate_matches_the_rgb_path() {
        use crate::model::manifest::Resample;
        let sizes = [
            (1, 1),
            (1, 9),
            (9, 1),
            (2, 2),
            (33, 17),
            (37, 23),
            (100, 75),
            (224, 224),
        ];
        let reference = |im: &Image, sw: usize, sh: usize| {
            let (w, h) = (im.width() as u32, im.height() as u32);
            let small = box_resize(&im.to_rgb8(), sw as u32, sh as u32);
            crate::model::resample::resize(&small, w, h, Resample::Nearest)
        };
        for (w, h) in sizes {
            let mut im = test_image(w, h);
            // Off-grid and out-of-range values go through the same truncation.
            let d = im.data_mut();
            d[0] = 0.123_456;
            d[d.len() - 1] = 1.7;
            d[d.len() / 2] = -0.2;
            d[d.len() / 3] = f32::NAN;
            // Every instruction set the kernels can use takes the same path here.
            for isa in kernels::available() {
                for s in Severity::ALL {
                    let c = s.pick(&PIXELATE);
                    let sw = ((w as f64 * c) as usize).max(1);
                    let sh = ((h as f64 * c) as usize).max(1);
                    let want = reference(&im, sw, sh);
                    let got =
                        kernels::with_isa(isa, || Pixelate.apply(&im, s, &mut Rng::new(0, "t")))
                            .unwrap();
                    assert_eq!(got.to_rgb8(), want, "{w}x{h} s{s} {isa:?}");
                    assert_eq!(got.data(), Image::from_rgb8(&want).data(), "{w}x{h} s{s}");
                }
                // Runs of more than 8 equal columns take the per-pixel path.
                let got = kernels::with_isa(isa, || pixelate(&im, 1.max(w / 11), 2.min(h)));
                let want = reference(&im, 1.max(w / 11), 2.min(h));
                assert_eq!(got.unwrap().to_rgb8(), want, "{w}x{h} long runs {isa:?}");
            }
        }
    }

    #[test]
    fn pixelate_makes_blocks() {
        let im = test_image(40, 40);
        let out = Pixelate
            .apply(&im, Severity::new(5).unwrap(), &mut Rng::new(0, "t"))
            .to_rgb8();
        // 40 * 0.25 = 10 blocks of 4: each 4x4 block is flat.
        for y in 0..40 {
            for x in 0..40 {
                assert_eq!(out.get_pixel(x, y), out.get_pixel(x / 4 * 4, y / 4 * 4));
            }
        }
    }

    /// The simulation on an 8-bit image.
    fn simulate(rgb: &RgbImage, quality: i32) -> RgbImage {
        jpeg::compress(&Image::from_rgb8(rgb), quality).to_rgb8()
    }

    /// xorshift64* bytes.
    fn noise_bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    }

    /// Smooth gradients, a hard-edged disc, saturated corners and a little noise: the
    /// mix of flat, smooth and sharp content photos have.
    fn photo_like(w: u32, h: u32, seed: u64) -> RgbImage {
        let noise = noise_bytes((w * h * 3) as usize, seed);
        let (cx, cy, rad) = (w as f64 * 0.6, h as f64 * 0.4, (w.min(h) as f64) * 0.3);
        RgbImage::from_fn(w, h, |x, y| {
            let (fx, fy) = (x as f64 / w as f64, y as f64 / h as f64);
            let inside = (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2) < rad * rad;
            let base = if x < w / 8 && y < h / 8 {
                [255.0, 255.0, 0.0]
            } else if inside {
                [230.0 - 40.0 * fy, 30.0, 60.0 + 50.0 * fx]
            } else {
                [
                    40.0 + 150.0 * fx,
                    90.0 + 100.0 * fy,
                    200.0 - 120.0 * fx * fy,
                ]
            };
            let i = ((y * w + x) * 3) as usize;
            image::Rgb(std::array::from_fn(|c| {
                (base[c] + f64::from(noise[i + c] % 16) - 8.0).clamp(0.0, 255.0) as u8
            }))
        })
    }

    #[test]
    fn simulated_jpeg_equals_libjpeg_byte_for_byte() {
        let sizes = [
            (1, 1),
            (1, 9),
            (9, 1),
            (2, 2),
            (3, 5),
            (4, 4),
            (5, 3),
            (6, 2),
            (7, 13),
            (8, 8),
            (16, 16),
            (17, 33),
            (33, 17),
            (31, 30),
            (64, 48),
            (100, 75),
        ];
        let qualities = [25, 18, 15, 10, 7, 1, 2, 12, 50, 75, 90, 95, 100];
        for (w, h) in sizes {
            let random = RgbImage::from_raw(w, h, noise_bytes((w * h * 3) as usize, 7)).unwrap();
            let flat = RgbImage::from_pixel(w, h, image::Rgb([200, 10, 90]));
            for (kind, img) in [
                ("random", random),
                ("photo", photo_like(w, h, 3)),
                ("flat", flat),
            ] {
                for q in qualities {
                    let want = libjpeg::jpeg_round_trip(&img, q).unwrap();
                    for isa in kernels::available() {
                        let got = kernels::with_isa(isa, || simulate(&img, q)).unwrap();
                        assert!(got == want, "{kind} {w}x{h} q{q} {isa:?}");
                    }
                }
            }
        }
        let photo = parity::golden("jpeg_compression", 1).map(|(input, _)| input);
        let photo = photo.unwrap_or_else(|| photo_like(224, 224, 11));
        let odd = image::imageops::crop_imm(&photo, 3, 5, 203, 157).to_image();
        for img in [photo, odd] {
            for q in qualities {
                let want = libjpeg::jpeg_round_trip(&img, q).unwrap();
                for isa in kernels::available() {
                    let got = kernels::with_isa(isa, || simulate(&img, q)).unwrap();
                    assert!(got == want, "{:?} q{q} {isa:?}", img.dimensions());
                }
            }
        }
    }

    #[test]
    fn jpeg_sizes_beyond_the_file_format_limit_work() {
        // libjpeg refuses sides over 65500; the simulation just compresses.
        for (w, h) in [(70_000, 1), (1, 70_000)] {
            let img = photo_like(w, h, 5);
            let out = simulate(&img, 10);
            assert_eq!(out.dimensions(), (w, h));
            let diff: u64 = img
                .as_raw()
                .iter()
                .zip(out.as_raw())
                .map(|(&a, &b)| u64::from(a.abs_diff(b)))
                .sum();
            assert!(diff > 0);
        }
    }

    #[test]
    fn jpeg_keeps_a_flat_image_and_is_lossy_otherwise() {
        let flat = Image::from_rgb8(&RgbImage::from_pixel(24, 16, image::Rgb([128, 128, 128])));
        let out = corrupt(&flat, &JpegCompression, Severity::new(5).unwrap(), 0);
        assert!(mad(&flat, &out) < 1.0 / 255.0);
        let im = test_image(24, 16);
        assert!(
            mad(
                &im,
                &corrupt(&im, &JpegCompression, Severity::new(1).unwrap(), 0)
            ) > 0.01
        );
    }

    #[test]
    fn matches_reference_goldens() {
        for (name, c) in [
            ("pixelate", &Pixelate as &dyn Corruption),
            ("jpeg_compression", &JpegCompression),
        ] {
            for s in Severity::ALL {
                let Some((input, want)) = parity::golden(name, s.level()) else {
                    return;
                };
                let got = corrupt(&Image::from_rgb8(&input), c, s, 0).to_rgb8();
                parity::assert_close(name, s.level(), &got, &want);
            }
        }
    }
}

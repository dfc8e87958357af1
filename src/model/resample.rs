//! Pillow-exact resampling of 8-bit RGB images.
//!
//! The reference image processors resize with PIL, so any other resampler (including
//! `fast_image_resize`, measured at up to 26 levels off on upscales) shifts the pixels a
//! model sees. This reproduces Pillow's separable convolution: the same filter support
//! scaling for antialiasing, the same float coefficients normalised per output pixel,
//! the same 22-bit fixed-point rounding, a horizontal pass into an 8-bit intermediate,
//! then a vertical pass; and PIL's NEAREST pixel-centre mapping.

use image::RgbImage;

use super::manifest::Resample;

/// Fixed-point fraction bits Pillow uses for 8-bit images (32 - 8 - 2).
const PRECISION_BITS: u32 = 22;

#[derive(Clone, Copy)]
enum Filter {
    Bicubic,
    Bilinear,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bicubic => 2.0,
            Filter::Bilinear => 1.0,
        }
    }

    fn eval(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bilinear => (1.0 - x).max(0.0),
            Filter::Bicubic => {
                // Keys cubic with a = -0.5, as Pillow's bicubic_filter.
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

/// Per output index: first input index, then `ksize` fixed-point weights (zero padded).
struct Coeffs {
    start: Vec<usize>,
    len: Vec<usize>,
    weights: Vec<i32>,
    ksize: usize,
}

impl Coeffs {
    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the whole input range.
    fn new(in_size: u32, out_size: u32, filter: Filter) -> Coeffs {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filter.support() * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut start = Vec::with_capacity(out_size as usize);
        let mut len = Vec::with_capacity(out_size as usize);
        let mut weights = vec![0i32; out_size as usize * ksize];
        let mut k = vec![0f64; ksize];
        let ss = 1.0 / filterscale;
        for xx in 0..out_size as usize {
            let center = (xx as f64 + 0.5) * scale;
            // C casts truncate toward zero; the clamps make that equal to floor here.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin).min(ksize);
            let mut ww = 0.0;
            for (x, kx) in k.iter_mut().enumerate().take(n) {
                let w = filter.eval((x as f64 + xmin as f64 - center + 0.5) * ss);
                *kx = w;
                ww += w;
            }
            let row = &mut weights[xx * ksize..(xx + 1) * ksize];
            for (x, out) in row.iter_mut().enumerate().take(n) {
                let w = if ww != 0.0 { k[x] / ww } else { k[x] };
                let fixed = w * (1u32 << PRECISION_BITS) as f64;
                *out = if w < 0.0 {
                    (fixed - 0.5) as i32
                } else {
                    (fixed + 0.5) as i32
                };
            }
            start.push(xmin);
            len.push(n);
        }
        Coeffs {
            start,
            len,
            weights,
            ksize,
        }
    }

    fn row(&self, i: usize) -> (usize, &[i32]) {
        let w = &self.weights[i * self.ksize..i * self.ksize + self.len[i]];
        (self.start[i], w)
    }
}

#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

const ROUND: i32 = 1 << (PRECISION_BITS - 1);

fn horizontal(
    src: &[u8],
    src_w: usize,
    rows: std::ops::Range<usize>,
    out_w: usize,
    c: &Coeffs,
) -> Vec<u8> {
    let mut out = vec![0u8; rows.len() * out_w * 3];
    for (oy, y) in rows.enumerate() {
        let line = &src[y * src_w * 3..(y + 1) * src_w * 3];
        let dst = &mut out[oy * out_w * 3..(oy + 1) * out_w * 3];
        for (xx, px) in dst.chunks_exact_mut(3).enumerate() {
            let (xmin, w) = c.row(xx);
            let (mut r, mut g, mut b) = (ROUND, ROUND, ROUND);
            for (k, s) in w.iter().zip(line[xmin * 3..].chunks_exact(3)) {
                r += s[0] as i32 * k;
                g += s[1] as i32 * k;
                b += s[2] as i32 * k;
            }
            px[0] = clip8(r);
            px[1] = clip8(g);
            px[2] = clip8(b);
        }
    }
    out
}

fn vertical(src: &[u8], width: usize, row_offset: usize, out_h: usize, c: &Coeffs) -> Vec<u8> {
    let stride = width * 3;
    let mut out = vec![0u8; out_h * stride];
    let mut acc = vec![0i32; stride];
    for yy in 0..out_h {
        let (ymin, w) = c.row(yy);
        acc.fill(ROUND);
        for (j, k) in w.iter().enumerate() {
            let y = ymin + j - row_offset;
            for (a, s) in acc.iter_mut().zip(&src[y * stride..(y + 1) * stride]) {
                *a += *s as i32 * k;
            }
        }
        for (o, a) in out[yy * stride..(yy + 1) * stride].iter_mut().zip(&acc) {
            *o = clip8(*a);
        }
    }
    out
}

fn nearest(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let sx = w as f64 / width as f64;
    let sy = h as f64 / height as f64;
    let xs: Vec<u32> = (0..width)
        .map(|x| (((x as f64 + 0.5) * sx) as u32).min(w - 1))
        .collect();
    RgbImage::from_fn(width, height, |x, y| {
        let src_y = (((y as f64 + 0.5) * sy) as u32).min(h - 1);
        *img.get_pixel(xs[x as usize], src_y)
    })
}

/// Resizes `img` to `width x height` exactly as `PIL.Image.resize` does.
pub fn resize(img: &RgbImage, width: u32, height: u32, filter: Resample) -> RgbImage {
    let (w, h) = img.dimensions();
    if (w, h) == (width, height) {
        return img.clone();
    }
    let filter = match filter {
        Resample::Nearest => return nearest(img, width, height),
        Resample::Bicubic => Filter::Bicubic,
        Resample::Bilinear => Filter::Bilinear,
    };
    let (w, h, out_w, out_h) = (w as usize, h as usize, width as usize, height as usize);
    let vert = (out_h != h).then(|| Coeffs::new(h as u32, height, filter));
    // Only the rows the vertical pass reads need a horizontal pass.
    let rows = match &vert {
        Some(v) => {
            let first = v.start[0];
            let last = (0..out_h).map(|i| v.start[i] + v.len[i]).max().unwrap_or(h);
            first..last
        }
        None => 0..h,
    };
    let (buf, buf_w, row_offset) = if out_w != w {
        let c = Coeffs::new(w as u32, width, filter);
        (
            horizontal(img.as_raw(), w, rows.clone(), out_w, &c),
            out_w,
            rows.start,
        )
    } else {
        (img.as_raw().clone(), w, 0)
    };
    let pixels = match &vert {
        Some(v) => vertical(&buf, buf_w, row_offset, out_h, v),
        None => buf,
    };
    RgbImage::from_raw(width, height, pixels).expect("buffer matches its size")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(640u32, 224u32), (50, 224), (224, 224), (3, 1), (1, 7)] {
            let c = Coeffs::new(i, o, Filter::Bicubic);
            for xx in 0..o as usize {
                let (_, w) = c.row(xx);
                let sum: i64 = w.iter().map(|&x| x as i64).sum();
                assert!(
                    (sum - (1 << PRECISION_BITS)).abs() <= w.len() as i64,
                    "{i}->{o} at {xx}: {sum}"
                );
            }
        }
    }

    #[test]
    fn constant_images_stay_constant_and_sizes_are_exact() {
        let img = RgbImage::from_pixel(37, 11, image::Rgb([200, 13, 99]));
        for f in [Resample::Bicubic, Resample::Bilinear, Resample::Nearest] {
            for (w, h) in [(5, 3), (100, 40), (37, 50), (1, 1)] {
                let out = resize(&img, w, h, f);
                assert_eq!(out.dimensions(), (w, h));
                assert!(out.pixels().all(|p| p.0 == [200, 13, 99]), "{f:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn nearest_picks_pixel_centres() {
        let img = RgbImage::from_fn(4, 1, |x, _| image::Rgb([x as u8 * 10, 0, 0]));
        let out = resize(&img, 2, 1, Resample::Nearest);
        // centres 0.5*2 = 1 and 1.5*2 = 3
        assert_eq!(
            (out.get_pixel(0, 0).0[0], out.get_pixel(1, 0).0[0]),
            (10, 30)
        );
    }
}

//! Image preprocessing that reproduces the Hugging Face image processors: PIL-style
//! antialiased resampling on 8-bit RGB, transformers' resize and centre-crop rounding,
//! then rescale and normalise into an NCHW float tensor.

use anyhow::{bail, Result};
use image::RgbImage;

use super::manifest::{Preprocess, Resample, ResizeMode};

/// Turns decoded RGB images into the float tensor an image encoder expects.
#[derive(Debug, Clone)]
pub struct Preprocessor {
    spec: Preprocess,
    /// Per channel, the normalised value of each 8-bit level, so the hot loop is a lookup.
    lut: [[f32; 256]; 3],
}

impl Preprocessor {
    /// Builds a preprocessor for a manifest's `image.preprocess`.
    pub fn new(spec: &Preprocess) -> Preprocessor {
        let mut lut = [[0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, out) in table.iter_mut().enumerate() {
                // transformers rescales in float64, casts to float32, then normalises in float32.
                let rescaled = (v as f64 * spec.rescale_factor) as f32;
                *out = (rescaled - spec.mean[c]) / spec.std[c];
            }
        }
        Preprocessor {
            spec: spec.clone(),
            lut,
        }
    }

    /// Network input `(height, width)`.
    pub fn input_size(&self) -> (usize, usize) {
        (self.spec.size[0] as usize, self.spec.size[1] as usize)
    }

    /// Number of floats one image occupies in the input tensor.
    pub fn image_len(&self) -> usize {
        let (h, w) = self.input_size();
        3 * h * w
    }

    /// The spec this preprocessor follows.
    pub fn spec(&self) -> &Preprocess {
        &self.spec
    }

    /// Resizes and crops an image to the network's input size, still as 8-bit RGB.
    pub fn resize_and_crop(&self, img: &RgbImage) -> Result<RgbImage> {
        let (out_h, out_w) = (self.spec.size[0], self.spec.size[1]);
        match self.spec.resize {
            ResizeMode::Exact => resample(img, out_w, out_h, self.spec.resample),
            ResizeMode::ExactCenterCrop => {
                let [h, w] = self.spec.resize_size.unwrap_or(self.spec.size);
                let resized = resample(img, w, h, self.spec.resample)?;
                Ok(center_crop(&resized, out_w, out_h))
            }
            ResizeMode::ShortestEdge => {
                let edge = self.spec.shortest_edge.unwrap_or(out_h.min(out_w));
                let (w, h) = shortest_edge_size(img.width(), img.height(), edge);
                let resized = resample(img, w, h, self.spec.resample)?;
                Ok(center_crop(&resized, out_w, out_h))
            }
        }
    }

    /// Writes the normalised NCHW tensor of one image into `out` (length [`Self::image_len`]).
    pub fn tensor_into(&self, img: &RgbImage, out: &mut [f32]) -> Result<()> {
        let sized = self.resize_and_crop(img)?;
        self.normalize_into(&sized, out);
        Ok(())
    }

    /// Returns the normalised NCHW tensor of one image as a flat vector.
    pub fn tensor(&self, img: &RgbImage) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.image_len()];
        self.tensor_into(img, &mut out)?;
        Ok(out)
    }

    fn normalize_into(&self, sized: &RgbImage, out: &mut [f32]) {
        let plane = (sized.width() * sized.height()) as usize;
        assert_eq!(out.len(), 3 * plane, "output buffer has the wrong length");
        let (r, rest) = out.split_at_mut(plane);
        let (g, b) = rest.split_at_mut(plane);
        for (i, px) in sized.as_raw().chunks_exact(3).enumerate() {
            r[i] = self.lut[0][px[0] as usize];
            g[i] = self.lut[1][px[1] as usize];
            b[i] = self.lut[2][px[2] as usize];
        }
    }
}

/// transformers' `get_resize_output_image_size` for an int size and `default_to_square=False`:
/// the short side becomes `edge`, the long side `int(edge * long / short)` (truncated).
pub fn shortest_edge_size(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    let new_long = (edge as f64 * long as f64 / short as f64) as u32;
    if width <= height {
        (edge, new_long.max(1))
    } else {
        (new_long.max(1), edge)
    }
}

/// Resamples with PIL's filters (antialiased convolution for bicubic and bilinear).
pub fn resample(img: &RgbImage, width: u32, height: u32, filter: Resample) -> Result<RgbImage> {
    if width == 0 || height == 0 || img.width() == 0 || img.height() == 0 {
        bail!(
            "cannot resize {}x{} to {width}x{height}",
            img.width(),
            img.height()
        );
    }
    Ok(super::resample::resize(img, width, height, filter))
}

/// transformers' `center_crop`: offsets `(size - crop) // 2`; an image smaller than the
/// crop is zero-padded, centred the same way.
pub fn center_crop(img: &RgbImage, crop_w: u32, crop_h: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w == crop_w && h == crop_h {
        return img.clone();
    }
    let mut out = RgbImage::new(crop_w, crop_h);
    // Position of the crop window in source coordinates (may be negative when padding).
    let top = (h as i64 - crop_h as i64).div_euclid(2);
    let left = (w as i64 - crop_w as i64).div_euclid(2);
    for y in 0..crop_h {
        let sy = top + y as i64;
        if sy < 0 || sy >= h as i64 {
            continue;
        }
        for x in 0..crop_w {
            let sx = left + x as i64;
            if sx < 0 || sx >= w as i64 {
                continue;
            }
            out.put_pixel(x, y, *img.get_pixel(sx as u32, sy as u32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(resize: ResizeMode) -> Preprocess {
        Preprocess {
            resize,
            shortest_edge: Some(4),
            resize_size: None,
            size: [4, 4],
            resample: Resample::Bicubic,
            rescale_factor: 1.0 / 255.0,
            mean: [0.5, 0.5, 0.5],
            std: [0.5, 0.5, 0.5],
        }
    }

    #[test]
    fn shortest_edge_truncates_like_transformers() {
        assert_eq!(shortest_edge_size(640, 360, 224), (398, 224));
        assert_eq!(shortest_edge_size(300, 500, 224), (224, 373));
        assert_eq!(shortest_edge_size(50, 80, 224), (224, 358));
        assert_eq!(shortest_edge_size(224, 224, 224), (224, 224));
    }

    #[test]
    fn crop_uses_floor_offsets() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let c = center_crop(&img, 2, 2);
        // (5-2)//2 = 1, (3-2)//2 = 0
        assert_eq!(c.get_pixel(0, 0).0, [1, 0, 0]);
        assert_eq!(c.get_pixel(1, 1).0, [2, 1, 0]);
    }

    #[test]
    fn constant_image_normalises_to_constant_planes() {
        let p = Preprocessor::new(&spec(ResizeMode::ShortestEdge));
        let img = RgbImage::from_pixel(9, 6, image::Rgb([255, 0, 51]));
        let t = p.tensor(&img).unwrap();
        assert_eq!(t.len(), 48);
        assert!(t[..16].iter().all(|v| (v - 1.0).abs() < 1e-6));
        assert!(t[16..32].iter().all(|v| (v + 1.0).abs() < 1e-6));
        assert!(t[32..].iter().all(|v| (v - (0.2 - 0.5) / 0.5).abs() < 1e-6));
    }

    #[test]
    fn exact_mode_squashes() {
        let p = Preprocessor::new(&spec(ResizeMode::Exact));
        let img = RgbImage::from_pixel(1, 1, image::Rgb([0, 0, 0]));
        assert_eq!(p.resize_and_crop(&img).unwrap().dimensions(), (4, 4));
    }
}

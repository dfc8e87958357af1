//! The engine's image buffer: three planar f32 channels in [0, 1].
//!
//! Planar rather than interleaved because every hot kernel (noise, pointwise colour,
//! separable and stencil blurs, warps) then reads and writes contiguous runs of one
//! channel, which is what 8- and 16-lane vectors want; HSV maths loads the three planes
//! side by side. The scale is [0, 1] because that is the scale the ImageNet-C reference
//! computes in, so parameters carry over unchanged.

use image::RgbImage;

/// A planar RGB image with f32 samples in [0, 1] (values may leave that range mid-way).
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl Image {
    /// A black image of the given size.
    pub fn new(width: usize, height: usize) -> Image {
        Image {
            width,
            height,
            data: vec![0.0; 3 * width * height],
        }
    }

    /// An image whose three planes all hold `value`.
    pub fn filled(width: usize, height: usize, value: f32) -> Image {
        Image {
            width,
            height,
            data: vec![value; 3 * width * height],
        }
    }

    /// Wraps planar data laid out R plane, G plane, B plane.
    pub fn from_planes(width: usize, height: usize, data: Vec<f32>) -> Image {
        assert_eq!(data.len(), 3 * width * height, "planar buffer size");
        Image {
            width,
            height,
            data,
        }
    }

    /// Converts 8-bit RGB to planar [0, 1] exactly as `x / 255.` does.
    pub fn from_rgb8(img: &RgbImage) -> Image {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let n = w * h;
        let mut data = vec![0.0f32; 3 * n];
        let (r, rest) = data.split_at_mut(n);
        let (g, b) = rest.split_at_mut(n);
        for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
            r[i] = f32::from(px[0]) / 255.0;
            g[i] = f32::from(px[1]) / 255.0;
            b[i] = f32::from(px[2]) / 255.0;
        }
        Image {
            width: w,
            height: h,
            data,
        }
    }

    /// Converts back to 8-bit RGB the way the reference does: clip to [0, 1], scale by
    /// 255 and truncate (`np.uint8(np.clip(x, 0, 1) * 255)`).
    ///
    /// A tiny bias keeps values that are integers up to f32 rounding (255 * (k / 255))
    /// from truncating one level down.
    pub fn to_rgb8(&self) -> RgbImage {
        let n = self.width * self.height;
        let mut out = Vec::with_capacity(3 * n);
        let (r, g, b) = self.planes();
        for i in 0..n {
            out.push(to_u8(r[i]));
            out.push(to_u8(g[i]));
            out.push(to_u8(b[i]));
        }
        RgbImage::from_raw(self.width as u32, self.height as u32, out)
            .expect("buffer matches its size")
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Pixels per plane.
    pub fn len(&self) -> usize {
        self.width * self.height
    }

    /// True for a 0-pixel image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All three planes, R then G then B.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// All three planes, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// One plane (0 = R, 1 = G, 2 = B).
    pub fn plane(&self, c: usize) -> &[f32] {
        let n = self.len();
        &self.data[c * n..(c + 1) * n]
    }

    /// One plane, mutable.
    pub fn plane_mut(&mut self, c: usize) -> &mut [f32] {
        let n = self.len();
        &mut self.data[c * n..(c + 1) * n]
    }

    /// The three planes.
    pub fn planes(&self) -> (&[f32], &[f32], &[f32]) {
        let n = self.len();
        let (r, rest) = self.data.split_at(n);
        let (g, b) = rest.split_at(n);
        (r, g, b)
    }

    /// The three planes, mutable.
    pub fn planes_mut(&mut self) -> (&mut [f32], &mut [f32], &mut [f32]) {
        let n = self.len();
        let (r, rest) = self.data.split_at_mut(n);
        let (g, b) = rest.split_at_mut(n);
        (r, g, b)
    }

    /// Sample at (x, y) of plane `c`.
    pub fn get(&self, c: usize, x: usize, y: usize) -> f32 {
        self.data[c * self.len() + y * self.width + x]
    }

    /// Clamps every sample to [0, 1].
    pub fn clamp01(&mut self) {
        super::kernels::clamp01(&mut self.data);
    }

    /// Luminance plane with the ITU-R 601 weights OpenCV's `RGB2GRAY` uses.
    pub fn gray(&self) -> Vec<f32> {
        let (r, g, b) = self.planes();
        (0..self.len())
            .map(|i| 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i])
            .collect()
    }
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0 + 1e-4) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u8_round_trip_is_exact() {
        let raw: Vec<u8> = (0..=255u8).flat_map(|v| [v, 255 - v, v / 2]).collect();
        let img = RgbImage::from_raw(16, 16, raw).unwrap();
        assert_eq!(Image::from_rgb8(&img).to_rgb8(), img);
    }

    #[test]
    fn planes_are_separate() {
        let img = RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 255, 0]).unwrap();
        let im = Image::from_rgb8(&img);
        assert_eq!(im.plane(0), &[1.0, 0.0]);
        assert_eq!(im.plane(1), &[0.0, 1.0]);
        assert_eq!(im.plane(2), &[0.0, 0.0]);
    }

    #[test]
    fn conversion_truncates_like_numpy() {
        let mut im = Image::new(1, 1);
        im.data_mut().copy_from_slice(&[0.999, -0.5, 2.0]);
        assert_eq!(im.to_rgb8().as_raw(), &[254, 0, 255]);
    }
}

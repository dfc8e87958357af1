//! Decoding image files into 8-bit RGB the way the reference pipelines see them:
//! EXIF orientation applied, alpha dropped, grayscale replicated, and size limits
//! enforced so a decompression bomb is an error instead of an out-of-memory kill.

use std::path::Path;

use anyhow::{bail, Context, Result};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

/// Largest accepted width or height, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Largest accepted decoded size in bytes (about 64 megapixels of RGBA).
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Decodes an image file to RGB8, honouring EXIF orientation (as PIL's `exif_transpose`).
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read image {}", path.display()))?;
    if meta.is_dir() {
        bail!("{} is a directory, not an image", path.display());
    }
    if meta.len() == 0 {
        bail!("{} is empty (0 bytes), not an image", path.display());
    }
    let mut reader = ImageReader::open(path)
        .with_context(|| format!("cannot open image {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read image {}", path.display()))?;
    if reader.format().is_none() {
        bail!("{} is not an image (unrecognised format)", path.display());
    }
    reader.limits(limits());
    decode(reader).with_context(|| format!("cannot decode image {}", path.display()))
}

/// Decodes an in-memory encoded image (PNG, JPEG, ...) to RGB8 with the same rules as [`load_rgb`].
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage> {
    if bytes.is_empty() {
        bail!("empty buffer is not an image");
    }
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    if reader.format().is_none() {
        bail!("not an image (unrecognised format)");
    }
    reader.limits(limits());
    decode(reader)
}

fn decode<R: std::io::BufRead + std::io::Seek>(reader: ImageReader<R>) -> Result<RgbImage> {
    let mut decoder = reader.into_decoder()?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        bail!("image has zero size ({w}x{h})");
    }
    // A broken EXIF block must not make a good image unreadable; PIL ignores it too.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    Ok(match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: &DynamicImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn grayscale_is_replicated_and_alpha_dropped() {
        let gray = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(3, 2, image::Luma([77])));
        let rgb = decode_rgb(&png(&gray)).unwrap();
        assert_eq!(rgb.dimensions(), (3, 2));
        assert!(rgb.pixels().all(|p| p.0 == [77, 77, 77]));
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            2,
            2,
            image::Rgba([10, 20, 30, 0]),
        ));
        let rgb = decode_rgb(&png(&rgba)).unwrap();
        assert!(rgb.pixels().all(|p| p.0 == [10, 20, 30]));
    }

    #[test]
    fn garbage_and_empty_buffers_are_errors() {
        assert!(decode_rgb(b"").is_err());
        let err = decode_rgb(b"definitely not an image").unwrap_err();
        assert!(format!("{err:#}").contains("not an image"));
    }
}

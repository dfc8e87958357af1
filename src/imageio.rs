//! Decoding image files into 8-bit RGB the way the reference pipelines see them:
//! EXIF orientation applied, alpha dropped, grayscale replicated, and size limits
//! enforced so a decompression bomb is an error instead of an out-of-memory kill.
//!
//! JPEG goes through libjpeg-turbo's decoder (via `mozjpeg`, built from C source with
//! no SIMD assembler), the decoder inside Pillow: other decoders are allowed by the
//! standard to differ in IDCT and chroma upsampling, and the pure-Rust one does, by up
//! to 3 levels on our fixtures. Every other format goes through the `image` crate.

use std::path::Path;

use anyhow::{bail, Context, Result};
use image::metadata::Orientation;
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
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read image {}", path.display()))?;
    if meta.is_dir() {
        bail!("{} is a directory, not an image", path.display());
    }
    if meta.len() == 0 {
        bail!("{} is empty (0 bytes), not an image", path.display());
    }
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read image {}", path.display()))?;
    decode_rgb(&bytes).with_context(|| format!("cannot decode image {}", path.display()))
}

/// Decodes an in-memory encoded image (PNG, JPEG, ...) to RGB8 with the same rules as [`load_rgb`].
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage> {
    if bytes.is_empty() {
        bail!("empty buffer is not an image");
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return decode_jpeg(bytes);
    }
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    if reader.format().is_none() {
        bail!("not an image (unrecognised format)");
    }
    reader.limits(limits());
    decode(reader)
}

/// Encodes `img` in the format its extension names (png, jpg/jpeg at quality 95, bmp,
/// tif/tiff, ppm) and writes it atomically.
pub fn save_rgb(path: &Path, img: &RgbImage) -> Result<()> {
    use image::codecs::jpeg::JpegEncoder;
    use image::ImageFormat;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let format = match ext.as_str() {
        "png" => ImageFormat::Png,
        "jpg" | "jpeg" => ImageFormat::Jpeg,
        "bmp" => ImageFormat::Bmp,
        "tif" | "tiff" => ImageFormat::Tiff,
        "ppm" | "pnm" => ImageFormat::Pnm,
        _ => bail!(
            "cannot write {}: unsupported file extension (use .png, .jpg, .bmp, .tiff or .ppm)",
            path.display()
        ),
    };
    let mut buf = std::io::Cursor::new(Vec::new());
    if format == ImageFormat::Jpeg {
        img.write_with_encoder(JpegEncoder::new_with_quality(&mut buf, 95))
    } else {
        img.write_to(&mut buf, format)
    }
    .with_context(|| format!("cannot encode {}", path.display()))?;
    crate::fsutil::write_atomic(path, buf.get_ref())
}

fn check_size(w: u64, h: u64) -> Result<()> {
    if w == 0 || h == 0 {
        bail!("image has zero size ({w}x{h})");
    }
    if w > MAX_SIDE as u64 || h > MAX_SIDE as u64 || w * h * 4 > MAX_ALLOC {
        bail!("image of {w}x{h} pixels exceeds the decoding limit ({MAX_SIDE} pixels per side, {} MiB)", MAX_ALLOC >> 20);
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage> {
    // libjpeg reports fatal errors by unwinding (resume_unwind, so no panic message);
    // catch it here so a corrupt file is an ordinary error.
    let result = std::panic::catch_unwind(|| -> Result<RgbImage> {
        let decomp =
            mozjpeg::Decompress::with_markers(&[mozjpeg::Marker::APP(1)]).from_mem(bytes)?;
        let (w, h) = decomp.size();
        check_size(w as u64, h as u64)?;
        let orientation = decomp
            .markers()
            .filter_map(|m| m.data.strip_prefix(b"Exif\0\0"))
            .find_map(Orientation::from_exif_chunk)
            .unwrap_or(Orientation::NoTransforms);
        let mut started = decomp.rgb()?;
        let pixels = started.read_scanlines::<u8>()?;
        started.finish()?;
        let rgb = RgbImage::from_raw(w as u32, h as u32, pixels)
            .ok_or_else(|| anyhow::anyhow!("JPEG decoder returned a short buffer"))?;
        let mut img = DynamicImage::ImageRgb8(rgb);
        img.apply_orientation(orientation);
        Ok(img.into_rgb8())
    });
    match result {
        Ok(r) => r.context("not a valid JPEG"),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "libjpeg error".into());
            bail!("not a valid JPEG: {msg}")
        }
    }
}

fn decode<R: std::io::BufRead + std::io::Seek>(reader: ImageReader<R>) -> Result<RgbImage> {
    let mut decoder = reader.into_decoder()?;
    let (w, h) = decoder.dimensions();
    check_size(w as u64, h as u64)?;
    // A broken EXIF block must not make a good image unreadable; PIL ignores it too.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
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
    fn corrupt_jpeg_is_an_error_not_an_abort() {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        bytes.extend_from_slice(b"JFIF\0 and then nothing that makes sense");
        let err = decode_rgb(&bytes).unwrap_err();
        assert!(format!("{err:#}").contains("not a valid JPEG"), "{err:#}");
        let good = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/images/landscape.jpg"
        ))
        .unwrap();
        for cut in [3, 20, 200, good.len() / 2] {
            // Truncated files either fail cleanly or decode (libjpeg pads a cut scan).
            let _ = decode_rgb(&good[..cut]);
        }
        assert_eq!(decode_rgb(&good).unwrap().dimensions(), (640, 360));
    }

    #[test]
    fn garbage_and_empty_buffers_are_errors() {
        assert!(decode_rgb(b"").is_err());
        let err = decode_rgb(b"definitely not an image").unwrap_err();
        assert!(format!("{err:#}").contains("not an image"));
    }
}

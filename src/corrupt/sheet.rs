//! Contact sheets: every corruption of a profile at every severity, labelled, in one PNG,
//! so a person can judge at a glance whether a profile's conditions look like the field.

use image::{imageops, Rgb, RgbImage};

use super::{corrupt, Image, Profile, Severity};

const CELL_MAX: u32 = 160;
const GAP: u32 = 4;
const LABEL_W: u32 = 8 * 22;
const HEADER_H: u32 = 28;
const BACKGROUND: Rgb<u8> = Rgb([32, 32, 32]);
const INK: Rgb<u8> = Rgb([235, 235, 235]);
const MISSING: Rgb<u8> = Rgb([64, 64, 64]);

/// Renders the clean image and each (corruption, severity) cell of `profile` as a grid:
/// one row per corruption, columns clean, 1..5.
pub fn contact_sheet(image: &RgbImage, profile: &Profile, seed: u64) -> RgbImage {
    let (w, h) = image.dimensions();
    let scale = f64::from(CELL_MAX) / f64::from(w.max(h).max(1));
    let (tw, th) = if scale < 1.0 {
        (
            ((f64::from(w) * scale).round() as u32).max(1),
            ((f64::from(h) * scale).round() as u32).max(1),
        )
    } else {
        (w.max(1), h.max(1))
    };
    let th_row = th.max(10);
    let cols = 6;
    let sheet_w = LABEL_W + cols * (tw + GAP) + GAP;
    let sheet_h = HEADER_H + profile.entries.len() as u32 * (th_row + GAP) + GAP;
    let mut sheet = RgbImage::from_pixel(sheet_w, sheet_h, BACKGROUND);
    draw_text(
        &mut sheet,
        GAP,
        4,
        &format!("profile {}  seed {seed}", profile.name),
        1,
    );
    for (i, label) in ["clean", "1", "2", "3", "4", "5"].iter().enumerate() {
        draw_text(
            &mut sheet,
            LABEL_W + i as u32 * (tw + GAP) + GAP,
            16,
            label,
            1,
        );
    }
    let thumb = |img: &RgbImage| imageops::resize(img, tw, th, imageops::FilterType::Triangle);
    let clean = thumb(image);
    let planar = Image::from_rgb8(image);
    for (r, entry) in profile.entries.iter().enumerate() {
        let y = HEADER_H + r as u32 * (th_row + GAP);
        draw_text(
            &mut sheet,
            GAP,
            y + th_row / 2 - 4,
            entry.corruption.name(),
            1,
        );
        imageops::replace(&mut sheet, &clean, i64::from(LABEL_W + GAP), i64::from(y));
        for s in Severity::ALL {
            let x = LABEL_W + u32::from(s.level()) * (tw + GAP) + GAP;
            if entry.severities.contains(&s) {
                let out = corrupt(&planar, entry.corruption, s, seed).to_rgb8();
                imageops::replace(&mut sheet, &thumb(&out), i64::from(x), i64::from(y));
            } else {
                let blank = RgbImage::from_pixel(tw, th, MISSING);
                imageops::replace(&mut sheet, &blank, i64::from(x), i64::from(y));
            }
        }
    }
    sheet
}

/// Draws `text` with the 8x8 public-domain bitmap font, `scale` pixels per dot.
fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str, scale: u32) {
    for (i, ch) in text.chars().enumerate() {
        let Some(glyph) = font8x8::legacy::BASIC_LEGACY.get(ch as usize) else {
            continue;
        };
        for (gy, row) in glyph.iter().enumerate() {
            for gx in 0..8 {
                if row & (1 << gx) == 0 {
                    continue;
                }
                for sy in 0..scale {
                    for sx in 0..scale {
                        let px = x + (i as u32 * 8 + gx) * scale + sx;
                        let py = y + gy as u32 * scale + sy;
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, INK);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lands_where_asked() {
        let mut img = RgbImage::from_pixel(40, 10, BACKGROUND);
        draw_text(&mut img, 0, 0, "I", 1);
        assert!(img.pixels().any(|p| *p == INK));
        assert!(img
            .enumerate_pixels()
            .all(|(x, _, p)| *p == BACKGROUND || x < 8));
    }
}

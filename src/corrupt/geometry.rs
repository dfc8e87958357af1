//! Geometry: flips, rotation, perspective, elastic and grid deformations, occlusion.
//!
//! Every warp here builds a dense backward map (for each output pixel, where to sample
//! the input) row by row and hands it to [`kernels::remap_bilinear`], which gathers with
//! vector instructions; the maps themselves are cheap scalar arithmetic.

use super::filters;
use super::kernels::{self, Border};
use super::{detmath, Corruption, Family, Image, Param, Rng, Severity};

/// The corruptions of this family, in catalogue order.
pub const ALL: &[&dyn Corruption] = &[
    &ElasticTransform,
    &Flip,
    &Rotation,
    &Perspective,
    &GridElastic,
    &GridDistortion,
    &Occlusion,
];

/// Samples every plane of `image` at (`map_x[i]`, `map_y[i]`).
fn warp(image: &Image, map_x: &[f32], map_y: &[f32], border: Border) -> Image {
    let (w, h) = (image.width(), image.height());
    let mut out = Image::new(w, h);
    for c in 0..3 {
        kernels::remap_bilinear(image.plane(c), w, h, map_x, map_y, out.plane_mut(c), border);
    }
    out
}

// ---------------------------------------------------------------------------------------
// elastic_transform

/// Elastic deformation (ImageNet-C `elastic_transform`, imagecorruptions 1.1.2).
///
/// Two fields of independent uniform draws in `[-max_d, max_d]` with
/// `max_d = 0.005 * H` (the reference uses the height for both axes) are smoothed by a
/// Gaussian with per-axis sigma `0.01 * (H, W)` (scipy `reflect` mode, truncate 3),
/// scaled by `alpha`, and the image is resampled bilinearly at `(y + dy, x + dx)` with
/// half-sample-symmetric (scipy `reflect`) borders. Simulates a wobbly, locally
/// non-rigid distortion (heat shimmer, a flexing lens or sheet).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | alpha | 12.5 | 16.25 | 21.25 | 25 | 30 |
/// | max_d (x H) | 0.005 | 0.005 | 0.005 | 0.005 | 0.005 |
/// | sigma (x (H, W)) | 0.01 | 0.01 | 0.01 | 0.01 | 0.01 |
pub struct ElasticTransform;

const ELASTIC_ALPHA: [f64; 5] = [
    250.0 * 0.05,
    250.0 * 0.065,
    250.0 * 0.085,
    250.0 * 0.1,
    250.0 * 0.12,
];

/// Elastic transform driven by the raw uniform draws `raw_dx`, `raw_dy` (row-major
/// `H x W`, before smoothing), so tests can inject the reference's random fields.
pub fn elastic_with_fields(
    image: &Image,
    severity: Severity,
    raw_dx: &[f32],
    raw_dy: &[f32],
) -> Image {
    let (w, h) = (image.width(), image.height());
    assert!(raw_dx.len() == w * h && raw_dy.len() == w * h, "field size");
    if w == 0 || h == 0 {
        return image.clone();
    }
    let alpha = severity.pick(&ELASTIC_ALPHA) as f32;
    let (sy, sx) = (0.01 * h as f64, 0.01 * w as f64);
    let mut dx = filters::gaussian_blur_plane(raw_dx, w, h, sy, sx, 3.0, Border::Reflect);
    let mut dy = filters::gaussian_blur_plane(raw_dy, w, h, sy, sx, 3.0, Border::Reflect);
    // The reference casts alpha * smoothed to f32 and adds it to integer coordinates.
    for y in 0..h {
        let (rx, ry) = (&mut dx[y * w..(y + 1) * w], &mut dy[y * w..(y + 1) * w]);
        for (x, (vx, vy)) in rx.iter_mut().zip(ry.iter_mut()).enumerate() {
            *vx = x as f32 + *vx * alpha;
            *vy = y as f32 + *vy * alpha;
        }
    }
    warp(image, &dx, &dy, Border::Reflect)
}

impl Corruption for ElasticTransform {
    fn name(&self) -> &'static str {
        "elastic_transform"
    }
    fn family(&self) -> Family {
        Family::Geometry
    }
    fn summary(&self) -> &'static str {
        "smooth random local displacement field (ImageNet-C elastic transform)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("alpha", s.pick(&ELASTIC_ALPHA)),
            Param::float("max_d_per_height", 0.005),
            Param::float("sigma_per_side", 0.01),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let max_d = (0.005 * h as f64) as f32;
        let mut raw_dx = vec![0.0f32; w * h];
        let mut raw_dy = vec![0.0f32; w * h];
        rng.fill_uniform(&mut raw_dx);
        rng.fill_uniform(&mut raw_dy);
        kernels::affine(&mut raw_dx, 2.0 * max_d, -max_d);
        kernels::affine(&mut raw_dy, 2.0 * max_d, -max_d);
        elastic_with_fields(image, s, &raw_dx, &raw_dy)
    }
}

// ---------------------------------------------------------------------------------------
// flip

/// Mirror flips (DeepBench `ImageFlip`), deterministic per severity.
///
/// A flip has no natural strength, so the severities step through flips that are
/// increasingly unusual for a camera: a left-right mirror (common in selfie cameras and
/// augmentation, harmless to most labels), an upside-down image (a camera mounted the
/// wrong way), then both (a 180 degree turn).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | flip | horizontal | horizontal | vertical | vertical | both |
pub struct Flip;

const FLIP_MODE: [&str; 5] = ["horizontal", "horizontal", "vertical", "vertical", "both"];

impl Corruption for Flip {
    fn name(&self) -> &'static str {
        "flip"
    }
    fn family(&self) -> Family {
        Family::Geometry
    }
    fn summary(&self) -> &'static str {
        "mirror flip: horizontal (1-2), vertical (3-4), both (5)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::text("flip", s.pick(&FLIP_MODE))]
    }
    fn is_random(&self) -> bool {
        false
    }
    fn apply(&self, image: &Image, s: Severity, _rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let mode = s.pick(&FLIP_MODE);
        let (fx, fy) = (mode != "vertical", mode != "horizontal");
        let mut out = Image::new(w, h);
        for c in 0..3 {
            let src = image.plane(c);
            let dst = out.plane_mut(c);
            for y in 0..h {
                let sy = if fy { h - 1 - y } else { y };
                let (srow, drow) = (&src[sy * w..(sy + 1) * w], &mut dst[y * w..(y + 1) * w]);
                if fx {
                    for (d, s) in drow.iter_mut().zip(srow.iter().rev()) {
                        *d = *s;
                    }
                } else {
                    drow.copy_from_slice(srow);
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// rotation

/// Rotation about the image centre (DeepBench `ImageRotation`).
///
/// The angle's magnitude is fixed per severity and its sign is random; bilinear
/// resampling, with the corners that rotate in filled by mirroring the image about its
/// edges (OpenCV `BORDER_REFLECT_101`, albumentations' default), so no black wedges give
/// the rotation away.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | angle (degrees, random sign) | 5 | 10 | 15 | 20 | 30 |
pub struct Rotation;

const ROTATION_DEG: [f64; 5] = [5.0, 10.0, 15.0, 20.0, 30.0];

/// Rotates `image` by `deg` degrees (counter-clockwise as displayed) about its centre.
fn rotate(image: &Image, deg: f64) -> Image {
    let (w, h) = (image.width(), image.height());
    let (s, c) = detmath::sincos(deg.to_radians());
    let (cx, cy) = ((w as f64 - 1.0) * 0.5, (h as f64 - 1.0) * 0.5);
    let mut mx = vec![0.0f32; w * h];
    let mut my = vec![0.0f32; w * h];
    for y in 0..h {
        let v = y as f64 - cy;
        // Backward map: rotate the output offset by -deg (y points down on screen).
        let (bx, by) = (cx - s * v, cy + c * v);
        let (rx, ry) = (&mut mx[y * w..(y + 1) * w], &mut my[y * w..(y + 1) * w]);
        for (x, (px, py)) in rx.iter_mut().zip(ry.iter_mut()).enumerate() {
            let u = x as f64 - cx;
            *px = (bx + c * u) as f32;
            *py = (by + s * u) as f32;
        }
    }
    warp(image, &mx, &my, Border::Mirror)
}

impl Corruption for Rotation {
    fn name(&self) -> &'static str {
        "rotation"
    }
    fn family(&self) -> Family {
        Family::Geometry
    }
    fn summary(&self) -> &'static str {
        "rotation about the centre by 5-30 degrees, random sign, mirrored borders"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("angle_deg", s.pick(&ROTATION_DEG)),
            Param::text("sign", "random"),
            Param::text("border", "reflect_101"),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
        rotate(image, sign * s.pick(&ROTATION_DEG))
    }
}

// ---------------------------------------------------------------------------------------
// perspective

/// Perspective change (DeepBench `PerspectiveTransformation`, albumentations
/// `Perspective`): each image corner moves by an independent uniform offset of up to
/// `scale` times the image side in x and y, and the image is warped by the homography
/// that takes the moved corners to the frame (solved in f64), bilinear, mirrored
/// borders. Simulates a camera looking at the scene from a slightly different pose.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | max corner offset (x side) | 0.04 | 0.07 | 0.10 | 0.13 | 0.17 |
pub struct Perspective;

const PERSPECTIVE_SCALE: [f64; 5] = [0.04, 0.07, 0.10, 0.13, 0.17];

/// The homography (row-major 3x3, h22 = 1) taking `from[i]` to `to[i]`, or `None` when
/// the points are degenerate.
fn homography(from: &[(f64, f64); 4], to: &[(f64, f64); 4]) -> Option<[f64; 9]> {
    // Eight equations in h00..h21: u = (h00 x + h01 y + h02) / (h20 x + h21 y + 1), etc.
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let ((x, y), (u, v)) = (from[i], to[i]);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    // Gaussian elimination with partial pivoting on the augmented matrix.
    for col in 0..8 {
        let piv = (col..8).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                if f != 0.0 {
                    for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                        *v -= f * p;
                    }
                }
            }
        }
    }
    let mut hm = [0.0; 9];
    for i in 0..8 {
        hm[i] = a[i][8] / a[i][i];
    }
    hm[8] = 1.0;
    Some(hm)
}

impl Corruption for Perspective {
    fn name(&self) -> &'static str {
        "perspective"
    }
    fn family(&self) -> Family {
        Family::Geometry
    }
    fn summary(&self) -> &'static str {
        "perspective warp from random corner offsets (camera pose change)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::float("max_corner_offset", s.pick(&PERSPECTIVE_SCALE)),
            Param::text("border", "reflect_101"),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let scale = s.pick(&PERSPECTIVE_SCALE);
        let (fw, fh) = ((w as f64 - 1.0).max(1.0), (h as f64 - 1.0).max(1.0));
        let frame = [(0.0, 0.0), (fw, 0.0), (fw, fh), (0.0, fh)];
        let mut moved = frame;
        for p in moved.iter_mut() {
            p.0 += rng.range(-scale, scale) * fw;
            p.1 += rng.range(-scale, scale) * fh;
        }
        // Backward map: output frame corners come from the moved corners of the input.
        let Some(hm) = homography(&frame, &moved) else {
            return image.clone();
        };
        let mut mx = vec![0.0f32; w * h];
        let mut my = vec![0.0f32; w * h];
        for y in 0..h {
            let yf = y as f64;
            let (ax, ay, az) = (hm[1] * yf + hm[2], hm[4] * yf + hm[5], hm[7] * yf + 1.0);
            let (rx, ry) = (&mut mx[y * w..(y + 1) * w], &mut my[y * w..(y + 1) * w]);
            for (x, (px, py)) in rx.iter_mut().zip(ry.iter_mut()).enumerate() {
                let xf = x as f64;
                let z = hm[6] * xf + az;
                // Corner offsets below 1/6 of the side keep z well away from 0 in-frame.
                let z = if z.abs() < 1e-9 { 1e-9 } else { z };
                *px = ((hm[0] * xf + ax) / z) as f32;
                *py = ((hm[3] * xf + ay) / z) as f32;
            }
        }
        warp(image, &mx, &my, Border::Mirror)
    }
}

// ---------------------------------------------------------------------------------------
// grid_elastic

/// Coarse-grid elastic deformation (DeepBench `GridElasticDeformation`, albumentations
/// `GridElasticDeform`): random displacements at the nodes of a `n x n` grid, uniform
/// in `[-m, m]` times the shorter side per axis, interpolated to every pixel with
/// smoothstep-weighted bilinear interpolation (continuous slope across cells), then
/// bilinear resampling with mirrored borders. Simulates a bent or crumpled subject
/// (packaging, fabric, a face turning).
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | grid cells n | 4 | 4 | 5 | 6 | 6 |
/// | max displacement m (x shorter side) | 0.02 | 0.03 | 0.04 | 0.052 | 0.066 |
pub struct GridElastic;

const GRID_ELASTIC_CELLS: [usize; 5] = [4, 4, 5, 6, 6];
const GRID_ELASTIC_MAG: [f64; 5] = [0.02, 0.03, 0.04, 0.052, 0.066];

fn smoothstep(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// For each of `len` pixels, the grid cell and smoothstep weight along an axis of `n`
/// cells spanning the pixel centres `0..len-1`.
fn cell_weights(len: usize, n: usize) -> Vec<(usize, f32)> {
    let span = (len as f64 - 1.0).max(1.0);
    (0..len)
        .map(|i| {
            let t = i as f64 / span * n as f64;
            let k = (t.floor() as usize).min(n - 1);
            (k, smoothstep((t - k as f64) as f32))
        })
        .collect()
}

/// Interpolates node values `g` (`(n+1) x (n+1)`, row-major) to a `w x h` field.
fn interpolate_grid(g: &[f32], n: usize, w: usize, h: usize) -> Vec<f32> {
    let xs = cell_weights(w, n);
    let ys = cell_weights(h, n);
    let mut out = vec![0.0f32; w * h];
    // Each node row interpolated along x once; output rows then blend two of them.
    let mut rows = vec![0.0f32; (n + 1) * w];
    for j in 0..=n {
        let node = &g[j * (n + 1)..(j + 1) * (n + 1)];
        for (v, &(k, t)) in rows[j * w..(j + 1) * w].iter_mut().zip(&xs) {
            *v = node[k] + t * (node[k + 1] - node[k]);
        }
    }
    for (y, &(k, t)) in ys.iter().enumerate() {
        let (a, b) = (&rows[k * w..(k + 1) * w], &rows[(k + 1) * w..(k + 2) * w]);
        kernels::lerp(a, b, t, &mut out[y * w..(y + 1) * w]);
    }
    out
}

impl Corruption for GridElastic {
    fn name(&self) -> &'static str {
        "grid_elastic"
    }
    fn family(&self) -> Family {
        Family::Geometry
    }
    fn summary(&self) -> &'static str {
        "smooth random displacements on a coarse grid (grid elastic deformation)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::int("grid_cells", s.pick(&GRID_ELASTIC_CELLS) as i64),
            Param::float("max_displacement", s.pick(&GRID_ELASTIC_MAG)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let n = s.pick(&GRID_ELASTIC_CELLS);
        let m = (s.pick(&GRID_ELASTIC_MAG) * w.min(h) as f64) as f32;
        let nodes = (n + 1) * (n + 1);
        let mut gx = vec![0.0f32; nodes];
        let mut gy = vec![0.0f32; nodes];
        rng.fill_uniform(&mut gx);
        rng.fill_uniform(&mut gy);
        kernels::affine(&mut gx, 2.0 * m, -m);
        kernels::affine(&mut gy, 2.0 * m, -m);
        let mut mx = interpolate_grid(&gx, n, w, h);
        let mut my = interpolate_grid(&gy, n, w, h);
        for y in 0..h {
            let (rx, ry) = (&mut mx[y * w..(y + 1) * w], &mut my[y * w..(y + 1) * w]);
            for (x, (px, py)) in rx.iter_mut().zip(ry.iter_mut()).enumerate() {
                *px += x as f32;
                *py += y as f32;
            }
        }
        warp(image, &mx, &my, Border::Mirror)
    }
}

// ---------------------------------------------------------------------------------------
// grid_distortion

/// Grid distortion (albumentations `GridDistortion`, DeepBench manufacturing set): the
/// image is cut by `steps` lines per axis into cells whose widths (and heights) are
/// scaled by independent factors `1 + U(-limit, limit)`, then renormalised so the cells
/// still tile the whole image; each axis maps piecewise-linearly. Simulates lens and
/// conveyor-scanner distortions that stretch some bands and squeeze others.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | steps | 5 | 5 | 5 | 5 | 5 |
/// | limit | 0.15 | 0.25 | 0.35 | 0.45 | 0.6 |
pub struct GridDistortion;

const GRID_DISTORT_STEPS: usize = 5;
const GRID_DISTORT_LIMIT: [f64; 5] = [0.15, 0.25, 0.35, 0.45, 0.6];

/// Source coordinate for each of `len` output pixels along one axis.
fn distort_axis(len: usize, limit: f64, rng: &mut Rng) -> Vec<f32> {
    let n = GRID_DISTORT_STEPS;
    let factors: Vec<f64> = (0..n).map(|_| 1.0 + rng.range(-limit, limit)).collect();
    let total: f64 = factors.iter().sum();
    let span = (len as f64 - 1.0).max(0.0);
    // Source knots: cumulative stretched widths scaled to the full span.
    let mut knots = vec![0.0f64; n + 1];
    for i in 0..n {
        knots[i + 1] = knots[i] + factors[i] / total * span;
    }
    (0..len)
        .map(|i| {
            let t = if span > 0.0 {
                i as f64 / span * n as f64
            } else {
                0.0
            };
            let k = (t.floor() as usize).min(n - 1);
            let f = t - k as f64;
            (knots[k] + f * (knots[k + 1] - knots[k])) as f32
        })
        .collect()
}

impl Corruption for GridDistortion {
    fn name(&self) -> &'static str {
        "grid_distortion"
    }
    fn family(&self) -> Family {
        Family::Geometry
    }
    fn summary(&self) -> &'static str {
        "piecewise-linear stretching of grid bands along x and y (grid distortion)"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![
            Param::int("steps", GRID_DISTORT_STEPS as i64),
            Param::float("limit", s.pick(&GRID_DISTORT_LIMIT)),
        ]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let limit = s.pick(&GRID_DISTORT_LIMIT);
        let xs = distort_axis(w, limit, rng);
        let ys = distort_axis(h, limit, rng);
        let mut mx = Vec::with_capacity(w * h);
        let mut my = Vec::with_capacity(w * h);
        for &sy in &ys {
            mx.extend_from_slice(&xs);
            my.extend(std::iter::repeat_n(sy, w));
        }
        warp(image, &mx, &my, Border::Nearest)
    }
}

// ---------------------------------------------------------------------------------------
// occlusion

/// Occlusion by fingers and objects (own design, for the handheld and people domains):
/// soft-edged ellipses are added until they cover the target share of the image.
/// About half are fingers: long skin-coloured ellipses reaching in from a random image
/// edge, shaded towards their rim; the rest are dark objects (a strap, a hand-held
/// item, a passer-by) placed anywhere. Edges fade over about 1.5 px plus 1% of the
/// shorter side, as an out-of-focus near object would.
///
/// | severity | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | covered share | 0.05 | 0.10 | 0.17 | 0.25 | 0.35 |
pub struct Occlusion;

const OCCLUSION_AREA: [f64; 5] = [0.05, 0.10, 0.17, 0.25, 0.35];

/// One soft ellipse with centre, semi-axes, orientation and colour.
struct Blob {
    cx: f64,
    cy: f64,
    a: f64,
    b: f64,
    cos: f64,
    sin: f64,
    rgb: [f32; 3],
    shade: f32,
}

impl Blob {
    /// Blends the blob into `alpha`/`colour` and returns the alpha it added.
    fn paint(&self, w: usize, h: usize, soft: f64, alpha: &mut [f32], colour: &mut [f32]) -> f64 {
        let reach = self.a.max(self.b) + soft;
        let x0 = (self.cx - reach).floor().max(0.0) as usize;
        let y0 = (self.cy - reach).floor().max(0.0) as usize;
        let x1 = ((self.cx + reach).ceil().max(0.0) as usize).min(w);
        let y1 = ((self.cy + reach).ceil().max(0.0) as usize).min(h);
        let n = w * h;
        let mut added = 0.0;
        for y in y0..y1 {
            let dy = y as f64 - self.cy;
            for x in x0..x1 {
                let dx = x as f64 - self.cx;
                let u = (dx * self.cos + dy * self.sin) / self.a;
                let v = (-dx * self.sin + dy * self.cos) / self.b;
                let q = (u * u + v * v).sqrt();
                // Signed distance to the rim, approximately, in pixels.
                let d = (1.0 - q) * self.b.min(self.a);
                let t = (d / soft + 0.5).clamp(0.0, 1.0) as f32;
                if t <= 0.0 {
                    continue;
                }
                let i = y * w + x;
                let old = alpha[i];
                let new = old + t * (1.0 - old);
                added += f64::from(new - old);
                // Nearer objects cover farther ones: blend this colour over.
                let lum = 1.0 - self.shade * (q.min(1.0) * q.min(1.0)) as f32;
                for c in 0..3 {
                    let v = colour[c * n + i];
                    colour[c * n + i] = v + t * (self.rgb[c] * lum - v);
                }
                alpha[i] = new;
            }
        }
        added
    }
}

impl Corruption for Occlusion {
    fn name(&self) -> &'static str {
        "occlusion"
    }
    fn family(&self) -> Family {
        Family::Geometry
    }
    fn summary(&self) -> &'static str {
        "fingers and dark objects covering 5-35% of the frame"
    }
    fn params(&self, s: Severity) -> Vec<Param> {
        vec![Param::float("covered_share", s.pick(&OCCLUSION_AREA))]
    }
    fn apply(&self, image: &Image, s: Severity, rng: &mut Rng) -> Image {
        let (w, h) = (image.width(), image.height());
        let n = w * h;
        let target = s.pick(&OCCLUSION_AREA) * n as f64;
        let short = w.min(h) as f64;
        let soft = 1.5 + 0.01 * short;
        let mut alpha = vec![0.0f32; n];
        let mut colour = vec![0.0f32; 3 * n];
        let mut covered = 0.0;
        let (wf, hf) = (w as f64, h as f64);
        for _ in 0..24 {
            if covered >= target {
                break;
            }
            let remaining = (target - covered).max(0.02 * n as f64);
            let finger = rng.chance(0.5);
            let blob = if finger {
                // Finger: width ~ 16-28% of the short side, reaching in from an edge.
                let b = (rng.range(0.08, 0.14) * short).max(0.6);
                let a = (remaining / (std::f64::consts::PI * b))
                    .min(3.2 * b)
                    .max(1.8 * b);
                let edge = rng.below(4);
                let along = rng.uniform_f64();
                let tilt = rng.range(-0.5, 0.5);
                let (px, py, dir) = match edge {
                    0 => (along * wf, 0.0, std::f64::consts::FRAC_PI_2),
                    1 => (along * wf, hf, -std::f64::consts::FRAC_PI_2),
                    2 => (0.0, along * hf, 0.0),
                    _ => (wf, along * hf, std::f64::consts::PI),
                };
                let (sin, cos) = detmath::sincos(dir + tilt);
                // Half the finger lies outside the frame: centre a little inside.
                let inset = 0.35 * a;
                let tone = rng.range(0.45, 1.0) as f32;
                Blob {
                    cx: px + cos * inset,
                    cy: py + sin * inset,
                    a,
                    b,
                    cos,
                    sin,
                    rgb: [0.86 * tone, 0.64 * tone, 0.52 * tone],
                    shade: 0.35,
                }
            } else {
                let area = remaining.min(0.5 * target.max(1.0)) * rng.range(0.6, 1.0);
                let aspect = rng.range(1.0, 2.5);
                let b = (area / (std::f64::consts::PI * aspect)).sqrt().max(0.6);
                let (sin, cos) = detmath::sincos(rng.range(0.0, std::f64::consts::PI));
                let g = rng.range(0.06, 0.22) as f32;
                Blob {
                    cx: rng.uniform_f64() * wf,
                    cy: rng.uniform_f64() * hf,
                    a: b * aspect,
                    b,
                    cos,
                    sin,
                    rgb: [
                        g,
                        g * rng.range(0.9, 1.1) as f32,
                        g * rng.range(0.9, 1.15) as f32,
                    ],
                    shade: 0.2,
                }
            };
            covered += blob.paint(w, h, soft, &mut alpha, &mut colour);
        }
        let mut out = image.clone();
        for c in 0..3 {
            let src = &colour[c * n..(c + 1) * n];
            for ((o, &a), &v) in out.plane_mut(c).iter_mut().zip(&alpha).zip(src) {
                // `colour` holds paint premultiplied by its coverage.
                *o = v + (1.0 - a) * *o;
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::corrupt::corrupt;

    fn test_image(w: usize, h: usize) -> Image {
        let mut data = Vec::with_capacity(3 * w * h);
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let v = ((x * 7 + y * 13 + c * 5) % 17) as f32 / 16.0 * 0.6
                        + 0.2 * (x as f32 / w.max(1) as f32)
                        + 0.1 * ((x / 4 + y / 3) % 2) as f32;
                    data.push(v);
                }
            }
        }
        Image::from_planes(w, h, data)
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
    fn every_corruption_survives_odd_sizes() {
        for c in ALL {
            for (w, h) in [(1, 1), (1, 9), (9, 1), (2, 2), (33, 17), (120, 3), (3, 90)] {
                let img = test_image(w, h);
                for s in Severity::ALL {
                    for seed in 0..3 {
                        let out = corrupt(&img, *c, s, seed);
                        assert_eq!((out.width(), out.height()), (w, h), "{}", c.name());
                        assert!(
                            out.data().iter().all(|v| v.is_finite()),
                            "{} {s} {w}x{h}",
                            c.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn strength_grows_with_severity() {
        let img = test_image(48, 40);
        for c in ALL {
            let mut last = 0.0;
            for s in Severity::ALL {
                let d: f64 = (0..6)
                    .map(|seed| mad(&img, &corrupt(&img, *c, s, seed)))
                    .sum::<f64>()
                    / 6.0;
                assert!(d > 1e-3, "{} {s} changes nothing", c.name());
                if c.name() != "flip" {
                    assert!(d >= last * 0.97, "{} severity {s}: {d} < {last}", c.name());
                }
                last = d;
            }
        }
    }

    #[test]
    fn identical_bits_on_every_isa() {
        use crate::corrupt::kernels::{available, with_isa, Isa};
        let img = test_image(37, 23);
        for c in ALL {
            for s in [Severity::ALL[0], Severity::ALL[4]] {
                let want = with_isa(Isa::Scalar, || corrupt(&img, *c, s, 4)).unwrap();
                for isa in available() {
                    let got = with_isa(isa, || corrupt(&img, *c, s, 4)).unwrap();
                    assert!(
                        got == want,
                        "{} {s}: {} differs from scalar",
                        c.name(),
                        isa.name()
                    );
                }
            }
        }
    }

    #[test]
    fn deterministic_per_seed() {
        let img = test_image(21, 14);
        for c in ALL {
            let a = corrupt(&img, *c, Severity::ALL[2], 5);
            let b = corrupt(&img, *c, Severity::ALL[2], 5);
            assert_eq!(a, b, "{}", c.name());
            if c.is_random() {
                let d = corrupt(&img, *c, Severity::ALL[2], 6);
                assert_ne!(a, d, "{}", c.name());
            }
        }
    }

    #[test]
    fn flip_is_an_involution() {
        let img = test_image(13, 7);
        for s in Severity::ALL {
            let once = corrupt(&img, &Flip, s, 0);
            assert_ne!(once, img);
            assert_eq!(corrupt(&once, &Flip, s, 0), img);
        }
        // Severity 1 mirrors left-right.
        let once = corrupt(&img, &Flip, Severity::ALL[0], 0);
        assert_eq!(once.get(1, 0, 3), img.get(1, 12, 3));
    }

    #[test]
    fn rotation_keeps_the_centre_and_reverses() {
        let img = test_image(31, 31);
        let r = rotate(&img, 20.0);
        for c in 0..3 {
            assert!((r.get(c, 15, 15) - img.get(c, 15, 15)).abs() < 1e-5);
        }
        // A point on the x axis moves towards negative y for a counter-clockwise turn.
        let mut dot = Image::new(31, 31);
        dot.plane_mut(0)[15 * 31 + 25] = 1.0;
        let r = rotate(&dot, 90.0);
        assert!(r.get(0, 15, 5) > 0.9, "{}", r.get(0, 15, 5));
    }

    #[test]
    fn homography_maps_corners() {
        let from = [(0.0, 0.0), (10.0, 0.0), (10.0, 8.0), (0.0, 8.0)];
        let to = [(1.0, 0.5), (9.0, -0.3), (10.5, 8.2), (-0.4, 7.0)];
        let hm = homography(&from, &to).unwrap();
        for (p, q) in from.iter().zip(&to) {
            let z = hm[6] * p.0 + hm[7] * p.1 + 1.0;
            let u = (hm[0] * p.0 + hm[1] * p.1 + hm[2]) / z;
            let v = (hm[3] * p.0 + hm[4] * p.1 + hm[5]) / z;
            assert!((u - q.0).abs() < 1e-9 && (v - q.1).abs() < 1e-9);
        }
        assert!(homography(&from, &[(0.0, 0.0); 4]).is_none());
    }

    #[test]
    fn grid_distortion_maps_keep_the_frame() {
        let mut rng = Rng::new(3, "t");
        let xs = distort_axis(50, 0.5, &mut rng);
        assert_eq!(xs[0], 0.0);
        assert!((xs[49] - 49.0).abs() < 1e-4);
        assert!(xs.windows(2).all(|p| p[1] > p[0]), "monotone");
        // Some band is stretched, some squeezed.
        let steps: Vec<f32> = xs.windows(2).map(|p| p[1] - p[0]).collect();
        assert!(steps.iter().any(|&d| d > 1.05) && steps.iter().any(|&d| d < 0.95));
    }

    #[test]
    fn occlusion_covers_the_target_share() {
        let img = Image::filled(80, 60, 0.9);
        for s in Severity::ALL {
            let want = s.pick(&OCCLUSION_AREA);
            let mut share = 0.0;
            for seed in 0..8 {
                let out = corrupt(&img, &Occlusion, s, seed);
                let moved = out
                    .plane(2)
                    .iter()
                    .filter(|&&v| (v - 0.9).abs() > 0.05)
                    .count();
                share += moved as f64 / out.len() as f64 / 8.0;
            }
            assert!(
                share > 0.6 * want && share < 1.4 * want + 0.02,
                "severity {s}: {share} vs {want}"
            );
        }
    }

    #[test]
    fn elastic_with_zero_fields_is_identity() {
        let img = test_image(20, 16);
        let z = vec![0.0f32; 20 * 16];
        assert_eq!(elastic_with_fields(&img, Severity::ALL[4], &z, &z), img);
    }

    // ---- Reference parity (imagecorruptions goldens; skipped when absent) ----

    fn fixture_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corrupt")
    }

    /// Reads a gzip'd little-endian f32 `.npy` file: (shape, data).
    pub(crate) fn read_npy_gz(path: &std::path::Path) -> Option<(Vec<usize>, Vec<f32>)> {
        use std::io::Read;
        let f = std::fs::File::open(path).ok()?;
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(f).read_to_end(&mut raw).ok()?;
        if raw.len() < 10 || &raw[..6] != b"\x93NUMPY" {
            return None;
        }
        let (hlen, start) = if raw[6] == 1 {
            (u16::from_le_bytes([raw[8], raw[9]]) as usize, 10)
        } else {
            (
                u32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]) as usize,
                12,
            )
        };
        let header = std::str::from_utf8(&raw[start..start + hlen]).ok()?;
        if !header.contains("'<f4'") || header.contains("'fortran_order': True") {
            return None;
        }
        let shape_txt = header.split("'shape': (").nth(1)?.split(')').next()?;
        let shape: Vec<usize> = shape_txt
            .split(',')
            .filter_map(|t| t.trim().parse().ok())
            .collect();
        let data = raw[start + hlen..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Some((shape, data))
    }

    pub(crate) fn load_png(path: &std::path::Path) -> Option<image::RgbImage> {
        Some(image::open(path).ok()?.to_rgb8())
    }

    /// (PSNR in dB, MAE in u8 levels) between two 8-bit images.
    pub(crate) fn psnr_mae(a: &image::RgbImage, b: &image::RgbImage) -> (f64, f64) {
        let n = a.as_raw().len() as f64;
        let (mut se, mut ae) = (0.0, 0.0);
        for (x, y) in a.as_raw().iter().zip(b.as_raw()) {
            let d = f64::from(*x) - f64::from(*y);
            se += d * d;
            ae += d.abs();
        }
        let mse = se / n;
        let psnr = if mse == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (255.0 * 255.0 / mse).log10()
        };
        (psnr, ae / n)
    }

    #[test]
    fn elastic_matches_reference_goldens() {
        let dir = fixture_dir();
        let Some(input) = load_png(&dir.join("input.png")) else {
            eprintln!("skipping: no reference fixtures in {}", dir.display());
            return;
        };
        let img = Image::from_rgb8(&input);
        let (w, h) = (img.width(), img.height());
        for s in Severity::ALL {
            let g = dir.join("golden");
            let (Some((sx, dx)), Some((sy, dy)), Some(want)) = (
                read_npy_gz(&g.join(format!("elastic_transform_s{s}_dx.npy.gz"))),
                read_npy_gz(&g.join(format!("elastic_transform_s{s}_dy.npy.gz"))),
                load_png(&g.join(format!("elastic_transform_s{s}.png"))),
            ) else {
                eprintln!("skipping elastic severity {s}: fixture missing");
                continue;
            };
            assert_eq!((sx, sy), (vec![h, w], vec![h, w]));
            let mut out = elastic_with_fields(&img, s, &dx, &dy);
            out.clamp01();
            let (psnr, mae) = psnr_mae(&out.to_rgb8(), &want);
            eprintln!("elastic_transform s{s}: PSNR {psnr:.2} dB, MAE {mae:.4} levels");
            assert!(
                psnr >= 35.0 || mae <= 1.5,
                "severity {s}: PSNR {psnr}, MAE {mae}"
            );
        }
    }

    #[test]
    fn elastic_stats_match_reference() {
        let dir = fixture_dir();
        let (Some(input), Ok(stats)) = (
            load_png(&dir.join("input.png")),
            std::fs::read_to_string(dir.join("stats.json")),
        ) else {
            eprintln!("skipping: no reference stats");
            return;
        };
        let stats: serde_json::Value = match serde_json::from_str(&stats) {
            Ok(v) => v,
            Err(_) => return,
        };
        let img = Image::from_rgb8(&input);
        let src = input.as_raw();
        for s in [Severity::ALL[0], Severity::ALL[4]] {
            let r = &stats["stats"]["elastic_transform"][s.to_string()];
            let (Some(rm), Some(rs)) = (r["mean"].as_f64(), r["std"].as_f64()) else {
                continue;
            };
            let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0.0f64);
            for seed in 0..8 {
                let out = corrupt(&img, &ElasticTransform, s, seed).to_rgb8();
                for (a, b) in out.as_raw().iter().zip(src) {
                    let d = f64::from(*a) - f64::from(*b);
                    sum += d;
                    sq += d * d;
                    n += 1.0;
                }
            }
            let mean = sum / n;
            let std = (sq / n - mean * mean).sqrt();
            eprintln!(
                "elastic_transform s{s}: mean {mean:.3} (ref {rm:.3}), std {std:.3} (ref {rs:.3})"
            );
            assert!((std - rs).abs() <= 0.05 * rs, "std {std} vs {rs}");
            assert!((mean - rm).abs() <= 0.05 * rs, "mean {mean} vs {rm}");
        }
    }
}

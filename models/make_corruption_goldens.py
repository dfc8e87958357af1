#!/usr/bin/env python3
"""Regenerate the image corruption fixtures under tests/fixtures/corrupt/ from the reference,
``imagecorruptions`` 1.1.2 (see models/corruption_reference.py for the install and the
compatibility fixes), deterministically:

    models/.venv/bin/pip install -r models/requirements.txt
    models/.venv/bin/pip install --no-deps imagecorruptions==1.1.2
    models/.venv/bin/python models/make_corruption_goldens.py            # ~20 s on one core
    models/.venv/bin/python models/make_corruption_goldens.py --check    # rebuild in memory, compare

Files (paths relative to tests/fixtures/corrupt/):

  input.png                  128x96 RGB: images/landscape.jpg (640x360) centre-cropped to 4:3
                             (box 80,0,560,360) and resized to 128x96 with PIL LANCZOS. Non-square.
  golden/<name>_s<N>.png     RGB 8-bit PNG of imagecorruptions.corrupt(input, corruption_name=name,
                             severity=N) (the package's np.uint8(...) of a clipped float: truncation),
                             N = 1..5, for brightness, contrast, saturate, pixelate, jpeg_compression,
                             defocus_blur, gaussian_blur, zoom_blur, motion_blur, fog, elastic_transform.
                             np.random.seed(seed) right before each call, seed in the manifest.
      motion_blur: np.random.uniform(-45, 45) (the angle) returns MOTION_BLUR_ANGLES[N-1] (degrees).
      fog: golden/fog_s<N>_field.npy.gz = plasma_fractal(mapsize, wibbledecay)[:96, :128], the
           normalised [0,1] map that fog() adds (times c[0]) to the image.
      elastic_transform: golden/elastic_transform_s<N>_dx.npy.gz and _dy.npy.gz = the raw
           np.random.uniform(-max_d, max_d, size=(96,128)) draws (dx first, then dy), before the
           gaussian smoothing; max_d = 96 * 0.005 = 0.48.
      Field files: gzip (mtime 0) of a .npy, dtype '<f4', C order, shape (96, 128). The reference
      was handed these float32-rounded values back, so each golden is exactly reference(field).
  golden/manifest.json       every golden with corruption, severity, seed and fixed inputs, plus the
                             package versions.
  stats.json                 statistics of the stochastic corruptions on input.png over --seeds seeds
                             (seed = crc32("<name>/<severity>/<k>"), k = 0..S-1): with
                             d = out - in in uint8 levels over all pixels, channels and seeds:
                             mean, std (population), mean_abs = mean |d|; per seed k the mean m_k and
                             std s_k of d, and seed_std_of_mean / seed_std_of_std = their sample
                             std (ddof=1) across seeds. 6 significant digits.
  frost_texture_stats.json   statistics of the 6 frost textures after frost()'s rescale for a 96x128
                             input (cv2 INTER_CUBIC by 1.1; all six are larger than the input).

impulse_noise is only reproducible because corruption_reference.py passes skimage's random_noise an
rng drawn from NumPy's legacy global state (skimage >= 0.19 ignores np.random.seed).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corruption_reference as cr  # noqa: E402  (sets thread env vars before numpy)
import edgeclip_common as ec  # noqa: E402

FIX = ec.FIXTURES_DIR
OUT = FIX / "corrupt"
SOURCE_IMAGE = FIX / "images" / "landscape.jpg"
W, H = 128, 96
DETERMINISTIC = ["brightness", "contrast", "saturate", "pixelate", "jpeg_compression", "defocus_blur",
                 "gaussian_blur", "zoom_blur", "motion_blur", "fog", "elastic_transform"]
STOCHASTIC = ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur", "motion_blur",
              "snow", "frost", "fog", "spatter", "elastic_transform"]
# fixed motion_blur angle (degrees) per severity 1..5; the reference draws uniform(-45, 45)
MOTION_BLUR_ANGLES = [27.5, -45.0, 0.0, 38.25, -12.75]
FOG_PARAMS = [(1.5, 2), (2., 2), (2.5, 1.7), (2.5, 1.5), (3., 1.4)]  # (c0, wibbledecay), corruptions.fog
DEFAULT_SEEDS = 200
# glass_blur's pixel loop runs in Python (about 0.6 s a call), so it gets fewer seeds.
SLOW_SEEDS = {"glass_blur": 20}
LUMA = (0.2989, 0.5870, 0.1140)  # corruptions.rgb2gray
MAX_TREE_BYTES = 1_600_000


def sig6(x: float) -> float:
    return float(f"{x:.6g}")


def seed_for(*parts) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def png_bytes(arr) -> bytes:
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def npy_gz(arr) -> bytes:
    import numpy as np

    arr = np.ascontiguousarray(arr, dtype="<f4")
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return ec.gzip_bytes(buf.getvalue())


def json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode()


# --------------------------------------------------------------------------
# input
# --------------------------------------------------------------------------


def make_input() -> tuple[bytes, "object"]:
    """Returns (png bytes, uint8 HxWx3 array decoded from those bytes)."""
    import numpy as np
    from PIL import Image

    with Image.open(SOURCE_IMAGE) as im:
        im = im.convert("RGB")
        sw, sh = im.size
        cw, ch = min(sw, sh * 4 // 3), min(sh, sw * 3 // 4)
        left, top = (sw - cw) // 2, (sh - ch) // 2
        small = im.crop((left, top, left + cw, top + ch)).resize((W, H), Image.LANCZOS)
    data = png_bytes(np.asarray(small))
    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("RGB")).copy()
    assert arr.shape == (H, W, 3)
    return data, arr


# --------------------------------------------------------------------------
# goldens
# --------------------------------------------------------------------------


def make_goldens(x, files: dict[str, bytes]) -> None:
    import numpy as np

    entries = []
    for name in DETERMINISTIC:
        for s in cr.SEVERITIES:
            seed = seed_for(name, s)
            base = f"golden/{name}_s{s}"
            entry = {"file": f"{base}.png", "corruption": name, "severity": s, "seed": seed}
            np.random.seed(seed)
            if name == "motion_blur":
                angle = MOTION_BLUR_ANGLES[s - 1]
                with cr.fixed_uniform(angle) as calls:
                    out = cr.corrupt(x, name, s)
                assert calls == [(-45, 45)], f"motion_blur drew {calls}"
                entry["angle"] = angle
            elif name == "fog":
                fields = []
                with cr.record_plasma(fields, H, W):
                    out = cr.corrupt(x, name, s)
                assert len(fields) == 1
                with cr.inject_plasma(fields[0]):  # the stored field alone reproduces the golden
                    assert np.array_equal(cr.corrupt(x, name, s), out), f"{base}: fog replay differs"
                files[f"{base}_field.npy.gz"] = npy_gz(fields[0])
                c0, decay = FOG_PARAMS[s - 1]
                entry.update(field=f"{base}_field.npy.gz", field_shape=[H, W], field_dtype="<f4",
                             mapsize=1 << (max(H, W, 3) - 1).bit_length(), wibbledecay=decay, c0=c0)
            elif name == "elastic_transform":
                fields = []
                with cr.record_elastic(fields):
                    out = cr.corrupt(x, name, s)
                assert len(fields) == 2 and all(f.shape == (H, W) for f in fields), [f.shape for f in fields]
                with cr.inject_uniform(fields) as left:
                    assert np.array_equal(cr.corrupt(x, name, s), out), f"{base}: elastic replay differs"
                    assert not left
                files[f"{base}_dx.npy.gz"] = npy_gz(fields[0])
                files[f"{base}_dy.npy.gz"] = npy_gz(fields[1])
                entry.update(dx=f"{base}_dx.npy.gz", dy=f"{base}_dy.npy.gz", field_shape=[H, W],
                             field_dtype="<f4", max_d=H * 0.005)
            else:
                out = cr.corrupt(x, name, s)
            assert out.dtype == np.uint8 and out.shape == x.shape, (name, out.dtype, out.shape)
            files[entry["file"]] = png_bytes(out)
            entries.append(entry)
    manifest = {
        "format": "edgeclip-corrupt-goldens",
        "version": 1,
        "paths": "relative to tests/fixtures/corrupt/",
        "reference": cr.versions(),
        "input": {"file": "input.png", "width": W, "height": H,
                  "made_from": "images/landscape.jpg, centre crop to 4:3, PIL LANCZOS resize"},
        "call": "np.random.seed(seed); imagecorruptions.corrupt(input_uint8_hwc, corruption_name, severity)",
        "output": "np.uint8 of the clipped float result (truncation toward zero), RGB PNG",
        "fields": "gzip'd .npy, dtype <f4, C order, shape [H, W]; the golden was computed from exactly "
                  "these float32 values. fog: plasma_fractal(mapsize, wibbledecay)[:H, :W] (in [0,1]). "
                  "elastic_transform: raw np.random.uniform(-max_d, max_d, (H, W)) draws, dx then dy, "
                  "before the gaussian smoothing.",
        "goldens": entries,
    }
    files["golden/manifest.json"] = json_bytes(manifest)


# --------------------------------------------------------------------------
# statistics of the stochastic corruptions
# --------------------------------------------------------------------------


def _std_ddof1(xs) -> float:
    m = math.fsum(xs) / len(xs)
    return math.sqrt(math.fsum((v - m) ** 2 for v in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0


def make_stats(x, seeds: int, files: dict[str, bytes], log=None) -> None:
    import numpy as np

    xi = x.astype(np.int64)
    n = xi.size
    stats = {}
    for name in STOCHASTIC:
        stats[name] = {}
        name_seeds = min(seeds, SLOW_SEEDS.get(name, seeds))
        for s in cr.SEVERITIES:
            s1 = s2 = sa = 0
            means, stds = [], []
            for k in range(name_seeds):
                np.random.seed(seed_for(name, s, k))
                d = cr.corrupt(x, name, s).astype(np.int64) - xi
                a, b, c = int(d.sum()), int((d * d).sum()), int(np.abs(d).sum())
                s1, s2, sa = s1 + a, s2 + b, sa + c
                m = a / n
                means.append(m)
                stds.append(math.sqrt(max(b / n - m * m, 0.0)))
            N = n * name_seeds
            mean = s1 / N
            stats[name][str(s)] = {
                "seeds": name_seeds,
                "mean": sig6(mean),
                "std": sig6(math.sqrt(max(s2 / N - mean * mean, 0.0))),
                "mean_abs": sig6(sa / N),
                "seed_std_of_mean": sig6(_std_ddof1(means)),
                "seed_std_of_std": sig6(_std_ddof1(stds)),
            }
        if log:
            log(f"stats {name}")
    out = {
        "input": "input.png",
        "seeds": "per entry (glass_blur fewer: its reference loop is slow)",
        "seed": "np.random.seed(crc32('<name>/<severity>/<k>')), k = 0..seeds-1, before each call",
        "d": "corrupt(input).astype(float) - input.astype(float), uint8 levels, all pixels, channels and "
             "seeds pooled; std is the population std; seed_std_of_* are sample std (ddof=1) across seeds "
             "of the per-seed mean / std of d",
        "reference": cr.versions(),
        "stats": stats,
    }
    files["stats.json"] = json_bytes(out)


# --------------------------------------------------------------------------
# frost textures
# --------------------------------------------------------------------------


def _frost_rescale(frost, h: int, w: int):
    """corruptions.frost()'s resize of the texture for an h x w input."""
    import cv2
    import numpy as np

    fh, fw = frost.shape[:2]
    if fh >= h and fw >= w:
        sf = 1
    elif fh < h and fw >= w:
        sf = h / fh
    elif fh >= h and fw < w:
        sf = w / fw
    else:
        sf = np.maximum(h / fh, w / fw)
    sf *= 1.1
    new = (int(np.ceil(fw * sf)), int(np.ceil(fh * sf)))
    return cv2.resize(frost, dsize=new, interpolation=cv2.INTER_CUBIC), float(sf)


def _spectrum_slope(luma) -> tuple[float, list]:
    """Least-squares slope of log10 radial power vs log10 frequency (cycles/pixel) over
    [4 / min(H, W), 0.4], Hann-windowed; also the binned spectrum for reference."""
    import numpy as np

    h, w = luma.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    f = np.fft.fft2((luma - luma.mean()) * win)
    p = (f.real ** 2 + f.imag ** 2) / (win ** 2).sum()
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    fr = np.sqrt(fy ** 2 + fx ** 2)
    edges = np.geomspace(4.0 / min(h, w), 0.4, 13)
    centers, powers = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (fr >= lo) & (fr < hi)
        if m.any():
            centers.append(math.sqrt(lo * hi))
            powers.append(float(p[m].mean()))
    lx, ly = np.log10(centers), np.log10(powers)
    slope = float(np.polyfit(lx, ly, 1)[0])
    return slope, [[sig6(c), sig6(v)] for c, v in zip(centers, powers)]


def _autocorr_radius(luma, level: float) -> float:
    """Smallest radius (px) at which the radially averaged autocorrelation of luma falls below level."""
    import numpy as np

    h, w = luma.shape
    z = luma - luma.mean()
    f = np.fft.fft2(z, s=(2 * h, 2 * w))
    ac = np.fft.ifft2(f.real ** 2 + f.imag ** 2).real
    ac /= ac[0, 0]
    yy = np.minimum(np.arange(2 * h), 2 * h - np.arange(2 * h))[:, None]
    xx = np.minimum(np.arange(2 * w), 2 * w - np.arange(2 * w))[None, :]
    r = np.rint(np.sqrt(yy ** 2 + xx ** 2)).astype(int)
    for radius in range(1, min(h, w) // 2):
        if ac[r == radius].mean() < level:
            return float(radius)
    return float(min(h, w) // 2)


def make_frost_stats(files: dict[str, bytes], h: int = H, w: int = W) -> None:
    import cv2
    import numpy as np
    from scipy.ndimage import gaussian_filter

    images = []
    decoded = []
    for i, path in enumerate(cr.frost_files()):
        bgr = cv2.imread(path)  # as frost() reads it: 3-channel BGR, any alpha dropped
        same = [Path(p).name for p, d in decoded if d.shape == bgr.shape and np.array_equal(d, bgr)]
        decoded.append((path, bgr))
        channels = cv2.imread(path, cv2.IMREAD_UNCHANGED).shape
        res, sf = _frost_rescale(bgr, h, w)
        rgb = res[..., ::-1].astype(np.float64)
        luma = rgb @ np.array(LUMA)
        hist, _ = np.histogram(luma, bins=16, range=(0.0, 256.0))
        slope, spectrum = _spectrum_slope(luma)
        # the reference crops h x w at a uniformly random offset: spread of the crop's mean luma
        ys = np.linspace(0, res.shape[0] - h - 1, 8).round().astype(int)
        xs = np.linspace(0, res.shape[1] - w - 1, 8).round().astype(int)
        crop_means = [float(luma[y:y + h, x:x + w].mean()) for y in ys for x in xs]
        crop_stds = [float(luma[y:y + h, x:x + w].std()) for y in ys for x in xs]
        images.append({
            "file": Path(path).name,
            "chosen_by_frost": i < 5,
            "shape": list(bgr.shape[:2]),
            "file_channels": channels[2] if len(channels) == 3 else 1,
            "same_pixels_as": same[0] if same else None,
            "scale": sig6(sf),
            "rescaled_shape": list(res.shape[:2]),
            "mean_rgb": [sig6(v) for v in rgb.reshape(-1, 3).mean(0)],
            "std_rgb": [sig6(v) for v in rgb.reshape(-1, 3).std(0)],
            "luma_mean": sig6(luma.mean()),
            "luma_std": sig6(luma.std()),
            "luma_hist16": [sig6(v / luma.size) for v in hist],
            "frac_luma_gt_128": sig6(float((luma > 128).mean())),
            "frac_luma_gt_200": sig6(float((luma > 200).mean())),
            "luma_std_after_blur_sigma2": sig6(gaussian_filter(luma, 2.0, mode="reflect").std()),
            "luma_std_after_blur_sigma8": sig6(gaussian_filter(luma, 8.0, mode="reflect").std()),
            "luma_std_highpass_sigma2": sig6((luma - gaussian_filter(luma, 2.0, mode="reflect")).std()),
            "power_spectrum_slope": sig6(slope),
            "power_spectrum": spectrum,
            "autocorr_radius_0.5_px": _autocorr_radius(luma, 0.5),
            "autocorr_radius_0.2_px": _autocorr_radius(luma, 0.2),
            "crop_mean_luma": {"mean": sig6(np.mean(crop_means)), "std": sig6(np.std(crop_means)),
                               "min": sig6(min(crop_means)), "max": sig6(max(crop_means))},
            "crop_std_luma": {"mean": sig6(np.mean(crop_stds)), "std": sig6(np.std(crop_stds))},
        })
    out = {
        "for_input": [h, w],
        "reference": cr.versions(),
        "notes": [
            "frost() picks idx = np.random.randint(5): only frost1..frost5 are ever used; frost6 is listed "
            "for completeness (chosen_by_frost=false).",
            "Rescale as frost() does for an input of for_input (H, W): every texture is at least that big, so "
            "the factor is 1 * 1.1; cv2.resize INTER_CUBIC to (ceil(w*1.1), ceil(h*1.1)); cv2.imread is BGR, "
            "the statistics are RGB of the whole rescaled texture. frost() then takes a random H x W crop "
            "(offsets np.random.randint(0, rescaled - input)) and returns clip(c0 * x + c1 * crop, 0, 255) "
            "with (c0, c1) = (1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75) for severity 1..5.",
            "file_channels 4: the PNG has an alpha channel, which cv2.imread drops. same_pixels_as: this file "
            "decodes to exactly the pixels of an earlier one (frost2.png and frost3.png differ only as files), "
            "so frost() uses four distinct textures, frost2 with probability 2/5.",
            "luma = 0.2989 R + 0.5870 G + 0.1140 B (corruptions.rgb2gray), pixel values 0..255; luma_hist16 is the "
            "fraction of pixels in 16 equal bins over [0, 256).",
            "luma_std_after_blur_sigmaS: std of scipy.ndimage.gaussian_filter(luma, S, mode='reflect'); "
            "luma_std_highpass_sigma2: std of luma minus that blur.",
            "power_spectrum: [frequency (cycles/pixel), mean |FFT|^2 of the Hann-windowed zero-mean luma] in 12 "
            "log-spaced radial bins over [4/min(H,W), 0.4]; power_spectrum_slope: least-squares slope of "
            "log10 power vs log10 frequency over those bins.",
            "autocorr_radius_L_px: smallest radius at which the radially averaged autocorrelation of the "
            "zero-mean luma falls below L.",
            "crop_mean_luma / crop_std_luma: over an 8x8 grid of H x W crops of the rescaled texture (the crop "
            "frost() would take), the mean / std / min / max of each crop's luma mean, and of each crop's std.",
        ],
        "images": images,
    }
    files["frost_texture_stats.json"] = json_bytes(out)


# --------------------------------------------------------------------------


def build(seeds: int, log=None) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    data, x = make_input()
    files["input.png"] = data
    make_goldens(x, files)
    if log:
        log(f"{len(files)} input and golden files")
    make_frost_stats(files)
    make_stats(x, seeds, files, log)
    return files


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="make_corruption_goldens.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT, help=f"fixture folder (default {OUT})")
    ap.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="seeds per stochastic corruption x severity")
    ap.add_argument("--check", action="store_true",
                    help="rebuild in memory and compare byte for byte with --out (writes nothing)")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.seeds < 2:
        raise ec.UserError("--seeds must be at least 2")

    def log(msg):
        if not args.quiet:
            print(f"[corrupt] {msg}", file=sys.stderr)

    try:
        cr.load()
    except cr.ReferenceMissing as e:
        raise ec.UserError(str(e)) from None
    files = build(args.seeds, log)
    total = sum(len(v) for v in files.values())
    if args.check:
        want = {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
        have = tree_digest(args.out) if args.out.is_dir() else {}
        diff = sorted(k for k in want if have.get(k) != want[k])
        extra = sorted(k for k in have if k not in want)
        if diff or extra:
            if diff:
                print("differs from a fresh build (or missing):\n  " + "\n  ".join(diff), file=sys.stderr)
            if extra:
                print("not produced by this script:\n  " + "\n  ".join(extra), file=sys.stderr)
            return 1
        print(f"[corrupt] {len(want)} files ({total} bytes) reproduced byte for byte", file=sys.stderr)
        return 0
    if total > MAX_TREE_BYTES:
        raise ec.UserError(f"fixtures would take {total} bytes, over the {MAX_TREE_BYTES} budget")
    with ec.atomic_directory(args.out, force=True) as dest:  # the whole folder is replaced at once
        for rel, data in files.items():
            p = Path(dest) / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    log(f"wrote {len(files)} files ({total} bytes) to {args.out}")
    return 0


if __name__ == "__main__":
    ec.run_main(main)

#!/usr/bin/env python3
"""A plain-numpy reimplementation of the reference image preprocessing, bit-exact.

It documents, as runnable code, what the Rust side has to reproduce to match the pixel
goldens exactly: Pillow's 8-bit resampling (as transformers calls it) and transformers'
resize / centre-crop / rescale / normalise arithmetic.

Pillow's Image.resize for 8-bit images (reducing_gap=None), per axis:
  scale = in / out; fs = max(scale, 1); support = filter_support * fs
  (bicubic a = -0.5 support 2, bilinear = triangle support 1, nearest handled elsewhere)
  for output index i: center = (i + 0.5) * scale
    xmin = max(int(center - support + 0.5), 0); xmax = min(int(center + support + 0.5), in)
    w_j = filter((j + xmin - center + 0.5) / fs) for j in [0, xmax - xmin), normalised to sum 1
    then quantised to fixed point: k_j = int(+-0.5 + w_j * 2^22) (round half away from zero)
    out = clamp((2^21 + sum(in[xmin + j] * k_j)) >> 22, 0, 255)
  The horizontal pass runs first (only when the width changes) and its result is stored as
  uint8; then the vertical pass (only when the height changes). Same size: a plain copy.
transformers then: centre crop top = (H - h) // 2, left = (W - w) // 2; rescale
uint8 -> float64 * factor -> float32; normalise in float32 (x - mean) / std. ALIGN's
EfficientNet processor instead computes float32(x * (1/127.5) in float64) - 1.

    models/.venv/bin/python models/pil_resample.py --self-test
checks this code against Pillow and against the committed pixel goldens.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np

PRECISION_BITS = 22


def _bicubic(x: float, a: float = -0.5) -> float:
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


def _bilinear(x: float) -> float:
    x = abs(x)
    return 1.0 - x if x < 1.0 else 0.0


FILTERS = {"bicubic": (_bicubic, 2.0), "bilinear": (_bilinear, 1.0)}


def coefficients(in_size: int, out_size: int, filt: str) -> list[tuple[int, list[int]]]:
    """Per output index: (first input index, fixed-point weights)."""
    f, filter_support = FILTERS[filt]
    scale = in_size / out_size
    fs = max(scale, 1.0)
    support = filter_support * fs
    out = []
    for i in range(out_size):
        center = (i + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        w = [f((j + xmin - center + 0.5) / fs) for j in range(xmax)]
        total = sum(w)
        if total != 0.0:
            w = [v / total for v in w]
        k = [int(0.5 + v * (1 << PRECISION_BITS)) if v >= 0 else int(-0.5 + v * (1 << PRECISION_BITS)) for v in w]
        out.append((xmin, k))
    return out


def _pass(arr: np.ndarray, out_size: int, filt: str, axis: int) -> np.ndarray:
    a = np.moveaxis(arr, axis, 0).astype(np.int64)
    rows = []
    for xmin, k in coefficients(a.shape[0], out_size, filt):
        acc = np.full(a.shape[1:], 1 << (PRECISION_BITS - 1), np.int64)
        for j, kj in enumerate(k):
            acc += a[xmin + j] * kj
        rows.append(np.clip(acc >> PRECISION_BITS, 0, 255))
    return np.moveaxis(np.stack(rows), 0, axis).astype(np.uint8)


def resize(rgb: np.ndarray, width: int, height: int, filt: str) -> np.ndarray:
    """Pillow-exact resize of a uint8 [H, W, C] array (bicubic or bilinear)."""
    h, w = rgb.shape[:2]
    out = rgb
    if width != w:
        out = _pass(out, width, filt, 1)
    if height != h:
        out = _pass(out, height, filt, 0)
    return out.copy()


def preprocess(rgb: np.ndarray, spec: dict, family: str) -> np.ndarray:
    """uint8 [H, W, 3] (after load_image) -> float32 [1, 3, h, w], as the reference computes it."""
    h, w = rgb.shape[:2]
    mode = spec["resize"]
    if mode == "shortest_edge":
        s = spec["shortest_edge"]
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(s * long / short)
        nh, nw = (new_long, s) if w <= h else (s, new_long)
    elif mode == "exact":
        nh, nw = spec["size"]
    elif mode == "exact_center_crop":
        nh, nw = spec["resize_size"]
    else:
        raise ValueError(f"unknown resize mode {mode!r}")
    img = resize(rgb, nw, nh, spec["resample"])
    ch, cw = spec["size"]
    if (nh, nw) != (ch, cw):
        top, left = (nh - ch) // 2, (nw - cw) // 2
        if top < 0 or left < 0:
            raise ValueError("crop larger than the resized image (transformers zero-pads; not needed here)")
        img = img[top : top + ch, left : left + cw]
    if family == "align":
        x = (img.astype(np.float64) * (1 / 127.5)).astype(np.float32) - np.float32(1.0)
    else:
        x = (img.astype(np.float64) * spec["rescale_factor"]).astype(np.float32)
        x = (x - np.array(spec["mean"], np.float32)) / np.array(spec["std"], np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def self_test(fixtures: Path) -> int:
    from PIL import Image
    from transformers.image_utils import load_image

    bad = 0
    pil = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
    for name, size, filt in [("landscape.jpg", (398, 224), "bicubic"), ("small.png", (224, 358), "bicubic"),
                             ("portrait.png", (346, 346), "bilinear"), ("gray.png", (100, 300), "bicubic")]:
        img = load_image(str(fixtures / "images" / name))
        ref = np.asarray(img.resize(size, resample=pil[filt]))
        got = resize(np.asarray(img), size[0], size[1], filt)
        n = int((ref != got).sum())
        bad += n != 0
        print(f"resize {name} -> {size} {filt}: {n} differing values")
    for model_dir in sorted((fixtures / "models").iterdir()):
        man = json.loads((model_dir / "model.json").read_text())
        gdir = fixtures / "goldens" / model_dir.name
        worst = 0.0
        for item in json.loads((gdir / "goldens.json").read_text())["images"]:
            stem = Path(item["file"]).stem
            rgb = np.load(gzip.open(fixtures / "goldens" / "decoded" / f"rgb_{stem}.npy.gz"))
            gold = np.load(gzip.open(gdir / item["pixels"]))
            worst = max(worst, float(np.abs(preprocess(rgb, man["image"]["preprocess"], man["family"]) - gold).max()))
        bad += worst != 0.0
        print(f"pixels {model_dir.name}: max |numpy - golden| = {worst}")
    print("OK" if not bad else "MISMATCH")
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="pil_resample.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--self-test", action="store_true", help="compare with Pillow and the committed goldens")
    ap.add_argument("--fixtures", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "fixtures")
    args = ap.parse_args(argv)
    if not args.self_test:
        ap.print_help()
        return 0
    return self_test(args.fixtures)


if __name__ == "__main__":
    sys.exit(main())

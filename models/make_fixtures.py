#!/usr/bin/env python3
"""Regenerate every committed test fixture and golden, deterministically, in one command:

    models/.venv/bin/python models/make_fixtures.py

(about a minute on one core). It writes, under tests/fixtures/:

  images/            procedurally drawn test images (PIL, seeded) plus error cases:
                     landscape.jpg 640x360, portrait.png 300x500, small.png 50x80 (upscaled),
                     square224.png 224x224, exif_rotated.jpg (EXIF Orientation=6: stored pixels are
                     rotated, displayed 320x240), gray.png (mode L), rgba.png (real transparency, hidden
                     colour under alpha=0), palette.png (mode P with a transparent index);
                     not_an_image.jpg (text), empty.png (0 bytes), bomb.png (20000x20000 1-bit PNG,
                     400 Mpixel: a decompression bomb in a ~50 KB file)
  texts.json         the hard texts (edgeclip_text.HARD_TEXTS)
  models/<m>/        tiny random-init model directories made by export.py (seed 0, --gzip-tokenizer)
                     for m in clip-tiny, siglip-tiny, align-tiny
  goldens/decoded/   rgb_<image>.npy.gz: uint8 [H,W,3] after transformers.image_utils.load_image
                     (EXIF transpose + convert("RGB")), to separate decoding from resizing
  goldens/<m>/       goldens.json + pixels_<image>.npy.gz (float32 pixel_values, C order) from the
                     reference pipeline: load_image -> the family's transformers image processor
                     (return_tensors="np"); tokenizer(padding="max_length", max_length=context,
                     truncation=True); onnxruntime (CPUExecutionProvider) on the model directory.

goldens.json:
  {"model", "manifest_name", "reference": {...versions...},
   "images": [{"file", "pixels", "shape", "embedding"}],      embedding = raw ONNX output
   "texts": [{"text", "input_ids", "attention_mask", ["token_type_ids"], "embedding"}
             (+ "tokenizer_json_input_ids" and "note" where tokenizer.json cannot match the reference)],
   "zeroshot": {"labels", "templates", "image_probs"}}
zeroshot: per label, embed every template, L2-normalise, average, re-normalise; per image
softmax(logit_scale * cos) for CLIP/ALIGN, sigmoid(logit_scale * cos + logit_bias) for SigLIP.

Options: --only {images,texts,models,goldens} (repeatable) to redo one stage; --check to
verify that a fresh build reproduces the committed files byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import struct
import sys
import tempfile
import zlib
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import edgeclip_common as ec  # noqa: E402
from edgeclip_common import UserError  # noqa: E402

FIX = ec.FIXTURES_DIR
TINY = ["clip-tiny", "siglip-tiny", "align-tiny"]
SEED = 0
MAX_MODEL_BYTES = 3 * 1024 * 1024
ZS_LABELS = ["cat", "dog", "car", "mountain", "beach", "city street", "flower", "bird"]
ZS_TEMPLATES = ["a photo of a {}.", "a blurry photo of a {}."]
IMAGES = [
    "landscape.jpg", "portrait.png", "small.png", "square224.png", "exif_rotated.jpg", "gray.png", "rgba.png",
    "palette.png",
]
BAD_IMAGES = ["not_an_image.jpg", "empty.png", "bomb.png"]
NOTES = {
    "align": [
        "Raw image embeddings are onnxruntime's. ALIGN pools with ONNX AveragePool(kernel=stride=640, "
        "ceil_mode=1, count_include_pad=1) over a 9x9 map: onnxruntime divides by 640*640, PyTorch and tract "
        "divide by the 81 valid positions, so tract's raw image_embeds are these times 409600/81 (~5057). "
        "Directions are identical: compare L2-normalised image embeddings.",
    ],
    "siglip": [
        "SigLIP's text.onnx takes input_ids only; attention_mask is listed because the reference tokenizer "
        "returns it, but the model does not use it (padding is part of the input).",
    ],
}
KNOWN_DIVERGENCE = {
    "siglip": "tokenizer.json cannot reproduce the reference here: the slow SiglipTokenizer encodes text that "
    "follows a literal special token without a word-start '\u2581' (tokenizers normalises each segment between "
    "special tokens alone and cannot tell the first from the others)",
}


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------


def _rng(seed):
    import numpy as np

    return np.random.default_rng(seed)


def _noise(rng, h, w, amp):
    return rng.normal(0, amp, (h, w, 1)).repeat(3, axis=2)


def _to_img(arr):
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def draw_landscape(w=640, h=360):
    import numpy as np
    from PIL import ImageDraw, ImageFilter

    rng = _rng(1)
    y = np.linspace(0, 1, h)[:, None, None]
    sky = (1 - y) * np.array([70, 120, 210]) + y * np.array([250, 180, 120])
    arr = np.broadcast_to(sky, (h, w, 3)).astype(np.float64).copy()
    img = _to_img(arr)
    d = ImageDraw.Draw(img)
    d.ellipse([470, 40, 540, 110], fill=(255, 230, 150))
    for layer, (base, col) in enumerate([(170, (90, 90, 120)), (215, (60, 80, 70))]):
        xs = np.arange(0, w + 20, 20)
        ys = base + np.cumsum(rng.normal(0, 12, len(xs)))
        ys = np.clip(ys, 80, 260)
        d.polygon([(0, h)] + [(int(x), int(v)) for x, v in zip(xs, ys)] + [(w, h)], fill=col)
    d.rectangle([0, 270, w, h], fill=(70, 120, 60))
    d.rectangle([200, 285, 430, 330], fill=(80, 120, 170))  # lake
    for i in range(14):
        x = int(rng.integers(10, w - 10))
        b = int(rng.integers(275, 350))
        s = int(rng.integers(12, 28))
        d.polygon([(x, b - 3 * s), (x - s, b), (x + s, b)], fill=(30, int(rng.integers(70, 110)), 40))
        d.rectangle([x - 2, b, x + 2, b + 8], fill=(90, 60, 30))
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(0.6)), np.float64) + _noise(rng, h, w, 4.0)
    xx = np.arange(w)[None, :, None]
    arr[270:] += 6 * np.sin(xx / 3.0)[:, :, :] * (np.arange(h - 270)[:, None, None] % 7 < 3)
    return _to_img(arr)


def draw_portrait(w=300, h=500):
    import numpy as np
    from PIL import ImageDraw

    rng = _rng(2)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([120 + 80 * np.sin(xx / 23.0), 90 + 60 * np.cos(yy / 31.0), 140 + 50 * np.sin((xx + yy) / 41.0)], -1)
    img = _to_img(base)
    d = ImageDraw.Draw(img)
    d.ellipse([90, 60, 210, 200], fill=(230, 190, 160), outline=(60, 40, 30), width=3)  # head
    d.ellipse([120, 110, 140, 125], fill=(40, 40, 80))
    d.ellipse([160, 110, 180, 125], fill=(40, 40, 80))
    d.arc([125, 140, 175, 175], 20, 160, fill=(150, 40, 40), width=4)
    d.rectangle([70, 210, 230, 440], fill=(40, 90, 160), outline=(20, 30, 60), width=4)  # body
    for i in range(8):
        d.line([(70, 230 + 25 * i), (230, 230 + 25 * i)], fill=(200, 200, 60), width=3)
    for i in range(0, w, 20):
        d.rectangle([i, 470, i + 9, 499], fill=(20, 20, 20))
    d.text((20, 20), "edgeclip 300x500", fill=(255, 255, 255))
    arr = np.asarray(img, np.float64)
    # texture that PNG filters still compress: a periodic weave plus sparse speckles
    arr += (((xx // 2 + yy // 3) % 4) * 3 - 4)[..., None]
    speck = rng.random((h, w)) < 0.01
    arr[speck] = 255 - arr[speck]
    return _to_img(arr)


def draw_small(w=50, h=80):
    import numpy as np
    from PIL import ImageDraw

    rng = _rng(3)
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx * 5.0, yy * 3.0, 255 - xx * 4.0], -1) + _noise(rng, h, w, 10)
    img = _to_img(arr)
    d = ImageDraw.Draw(img)
    d.ellipse([8, 10, 40, 42], fill=(250, 240, 30))
    d.rectangle([5, 50, 45, 70], outline=(0, 0, 0), width=2)
    d.line([(0, 0), (49, 79)], fill=(255, 0, 0), width=1)
    return img


def draw_square(n=224):
    import numpy as np
    from PIL import ImageDraw

    rng = _rng(4)
    yy, xx = np.mgrid[0:n, 0:n]
    checker = ((xx // 16 + yy // 16) % 2) * 60
    arr = np.stack([checker + xx * 0.5, 100 + checker * 0.5, 200 - yy * 0.6], -1) + _noise(rng, n, n, 1.5)
    img = _to_img(arr)
    d = ImageDraw.Draw(img)
    for i in range(6):
        cx, cy, r = (int(v) for v in rng.integers(20, n - 20, 3) % [n, n, 40])
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=tuple(int(v) for v in rng.integers(0, 256, 3)), width=3)
    d.polygon([(112, 20), (200, 200), (24, 200)], outline=(255, 255, 255), width=2)
    return img


def draw_oriented(w=320, h=240):
    """A scene with an unmistakable 'up': red top edge, arrow pointing up, green bottom-left."""
    import numpy as np
    from PIL import ImageDraw

    rng = _rng(5)
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([200 - yy * 0.5, 180 + 30 * np.sin(xx / 17.0), 120 + yy * 0.4], -1) + _noise(rng, h, w, 3)
    img = _to_img(arr)
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w - 1, 14], fill=(220, 20, 20))
    d.rectangle([0, h - 40, 60, h - 1], fill=(20, 180, 40))
    d.polygon([(160, 30), (110, 110), (140, 110), (140, 200), (180, 200), (180, 110), (210, 110)], fill=(20, 20, 120))
    d.text((230, 200), "UP", fill=(0, 0, 0))
    return img


def draw_gray(w=256, h=192):
    import numpy as np
    from PIL import Image, ImageDraw

    rng = _rng(6)
    yy, xx = np.mgrid[0:h, 0:w]
    arr = 40 + xx * 0.6 + 30 * np.sin(yy / 9.0) + rng.normal(0, 4, (h, w))
    img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.ellipse([60, 40, 180, 160], outline=255, width=6)
    d.rectangle([190, 20, 240, 170], fill=10)
    return img


def draw_rgba(w=200, h=150):
    """Alpha ramps from opaque (left) to fully transparent (right); under alpha=0 hides bright magenta.

    transformers' load_image does convert("RGB"), which drops alpha without compositing,
    so the hidden colour is what the reference sees.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    rng = _rng(7)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([60 + xx * 0.8, 140 + 40 * np.sin(yy / 11.0), 200 - yy * 0.8], -1) + _noise(rng, h, w, 3)
    rgb[:, 150:] = [255, 0, 255]  # hidden under alpha 0
    alpha = np.clip(255 - xx * (255 / 150), 0, 255)
    alpha[60:90, :] = 128  # a half-transparent band
    arr = np.concatenate([np.clip(np.rint(rgb), 0, 255), np.rint(alpha)[..., None]], -1).astype(np.uint8)
    img = Image.fromarray(arr)
    d = ImageDraw.Draw(img)
    d.ellipse([20, 20, 100, 100], fill=(250, 250, 0, 255))
    return img


def draw_palette(w=160, h=120):
    from PIL import Image, ImageDraw

    img = Image.new("P", (w, h), 0)
    pal = [0, 0, 0]
    for i in range(1, 16):
        pal += [(i * 53) % 256, (i * 97) % 256, (i * 151) % 256]
    img.putpalette(pal + [0, 0, 0] * (256 - 16))
    d = ImageDraw.Draw(img)
    for i in range(15):
        d.rectangle([i * 10, (i * 7) % 60, i * 10 + 30, (i * 7) % 60 + 50], fill=i + 1)
    d.ellipse([40, 30, 120, 110], fill=3)
    img.info["transparency"] = 0
    return img


def png_bytes(img, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True, **kw)
    return buf.getvalue()


def jpeg_bytes(img, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", **kw)
    return buf.getvalue()


def bomb_png(side: int = 20000) -> bytes:
    """A valid 1-bit grayscale PNG of side x side zero pixels (deflate does ~1000:1 on it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    parts = []
    block = row * 256
    for _ in range(side // 256):
        parts.append(comp.compress(block))
    parts.append(comp.compress(row * (side % 256)))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def make_images(out: Path) -> None:
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    files = {
        "landscape.jpg": jpeg_bytes(draw_landscape(), quality=85),  # 4:2:0 chroma subsampling (PIL default)
        "portrait.png": png_bytes(draw_portrait()),
        "small.png": png_bytes(draw_small()),
        "square224.png": png_bytes(draw_square()),
        "gray.png": png_bytes(draw_gray()),
        "rgba.png": png_bytes(draw_rgba()),
        "palette.png": png_bytes(draw_palette(), transparency=0),
    }
    # EXIF Orientation 6 = "rotate 90 degrees clockwise to display": store the upright
    # scene rotated 90 degrees counter-clockwise; PIL's exif_transpose undoes it.
    upright = draw_oriented()
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    files["exif_rotated.jpg"] = jpeg_bytes(stored, quality=90, subsampling=0, exif=exif.tobytes())
    files["not_an_image.jpg"] = b"This is a plain text file with a .jpg name; decoders must reject it.\n"
    files["empty.png"] = b""
    files["bomb.png"] = bomb_png()
    for name, data in files.items():
        ec.atomic_write_bytes(out / name, data)
    for name in IMAGES:
        size = (out / name).stat().st_size
        if size > 60 * 1024:
            raise UserError(f"{name} is {size} bytes (> 60 KB); adjust its drawing")


# --------------------------------------------------------------------------
# texts, models
# --------------------------------------------------------------------------


def make_texts(path: Path) -> None:
    import edgeclip_text as et

    obj = {
        "description": "Hard texts for tokenizer and text-encoder tests; regenerate with models/make_fixtures.py. "
        "'category' is informational.",
        "texts": [{"category": c, "text": t} for c, t in et.HARD_TEXTS],
    }
    ec.atomic_write_json(path, obj)


def make_models(root: Path) -> None:
    import export

    for arch in TINY:
        out = root / arch
        export.main(["--random-init", "--arch", arch, "--seed", str(SEED), "--out", str(out),
                     "--gzip-tokenizer", "--force"])
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        if size > MAX_MODEL_BYTES:
            raise UserError(f"{out} is {size} bytes, over the 3 MB fixture budget")


# --------------------------------------------------------------------------
# goldens
# --------------------------------------------------------------------------


def npy_gz(arr) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return ec.gzip_bytes(buf.getvalue())


def floats(a) -> list[float]:
    import numpy as np

    return [float(x) for x in np.asarray(a, np.float32).ravel()]


def zeroshot(ref: "ec.Reference", image_embs) -> dict:
    import numpy as np

    m = ref.manifest
    cls = []
    for label in ZS_LABELS:
        e = ec.l2_normalize(ref.embed_texts([t.format(label) for t in ZS_TEMPLATES]))
        cls.append(ec.l2_normalize(e.mean(0)))
    cls = np.stack(cls)
    cos = ec.l2_normalize(image_embs) @ cls.T
    if m["family"] == "siglip":
        probs = 1 / (1 + np.exp(-(m["logit_scale"] * cos + m["logit_bias"])))
    else:
        z = m["logit_scale"] * cos
        z = z - z.max(1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return {"labels": ZS_LABELS, "templates": ZS_TEMPLATES,
            "image_files": list(IMAGES), "image_probs": [[float(p) for p in row] for row in probs]}


def make_goldens(models_root: Path, images_dir: Path, out_root: Path) -> None:
    import numpy as np
    import onnxruntime
    import PIL
    import tokenizers
    import transformers
    from transformers.image_utils import load_image
    from tokenizers import Tokenizer
    import edgeclip_text as et

    texts = et.hard_texts()
    dec = out_root / "decoded"
    for name in IMAGES:
        arr = np.asarray(load_image(str(images_dir / name)), np.uint8)
        ec.atomic_write_bytes(dec / f"rgb_{Path(name).stem}.npy.gz", npy_gz(arr))

    for model in TINY:
        ref = ec.Reference(models_root / model)
        gdir = out_root / model
        images = []
        embs = []
        for name in IMAGES:
            pix = ref.pixels(images_dir / name)
            emb = ref.embed_pixels(pix)[0]
            pname = f"pixels_{Path(name).stem}.npy.gz"
            ec.atomic_write_bytes(gdir / pname, npy_gz(pix))
            images.append({"file": name, "pixels": pname, "shape": list(pix.shape), "embedding": floats(emb)})
            embs.append(emb)

        # what tokenizer.json itself gives, to flag texts it cannot reproduce
        tj = (models_root / model / ref.manifest["text"]["tokenizer"]).read_bytes()
        if ref.manifest["text"]["tokenizer"].endswith(".gz"):
            import gzip

            tj = gzip.decompress(tj)
        fast = Tokenizer.from_str(tj.decode("utf-8"))
        fast.enable_truncation(ref.context_length)
        fast.enable_padding(length=ref.context_length, pad_id=ref.manifest["text"]["pad_id"])

        encs = [ref.encode(t) for t in texts]
        temb = ref.embed_encodings(encs)
        entries = []
        for t, e, emb in zip(texts, encs, temb):
            item = {"text": t}
            for k in ("input_ids", "attention_mask", "token_type_ids"):
                if k in e:
                    item[k] = e[k]
            item["embedding"] = floats(emb)
            fids = fast.encode(t).ids
            if fids != e["input_ids"]:
                item["tokenizer_json_input_ids"] = fids
                item["note"] = KNOWN_DIVERGENCE.get(ref.family, "tokenizer.json differs from the reference tokenizer")
            entries.append(item)
        m = ref.manifest
        golden = {
            "model": model,
            "manifest_name": m["name"],
            "family": m["family"],
            "embed_dim": m["embed_dim"],
            "reference": {
                "pipeline": "transformers.image_utils.load_image -> " + type(ref.image_processor).__name__
                + "(return_tensors='np'); " + type(ref.tokenizer).__name__
                + f"(padding='max_length', max_length={ref.context_length}, truncation=True); onnxruntime CPU",
                "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "onnxruntime": onnxruntime.__version__, "pillow": PIL.__version__, "numpy": np.__version__,
            },
            "notes": NOTES.get(m["family"], []),
            "images": images,
            "texts": entries,
            "zeroshot": zeroshot(ref, np.stack(embs)),
        }
        ec.atomic_write_json(gdir / "goldens.json", golden, indent=None)
        n_bad = sum("tokenizer_json_input_ids" in e for e in entries)
        print(f"[goldens] {model}: {len(images)} images, {len(entries)} texts ({n_bad} tokenizer.json divergences)",
              file=sys.stderr)


# --------------------------------------------------------------------------


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def build(root: Path, stages: set[str]) -> None:
    if "images" in stages:
        make_images(root / "images")
        print(f"[fixtures] images -> {root / 'images'}", file=sys.stderr)
    if "texts" in stages:
        make_texts(root / "texts.json")
        print(f"[fixtures] texts -> {root / 'texts.json'}", file=sys.stderr)
    if "models" in stages:
        make_models(root / "models")
    if "goldens" in stages:
        make_goldens(root / "models", root / "images", root / "goldens")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="make_fixtures.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=["images", "texts", "models", "goldens"],
                    help="run only this stage (repeatable); default: all")
    ap.add_argument("--out", type=Path, default=FIX, help=f"fixtures root (default {FIX})")
    ap.add_argument("--check", action="store_true",
                    help="build into a temporary directory and compare byte for byte with --out")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    stages = set(args.only or ["images", "texts", "models", "goldens"])
    if args.check:
        with tempfile.TemporaryDirectory(prefix="edgeclip-fixtures-") as tmp:
            tmp = Path(tmp)
            if not {"images", "models"} <= stages and "goldens" in stages:
                for sub in ("images", "models"):
                    if sub not in stages and (args.out / sub).is_dir():
                        shutil.copytree(args.out / sub, tmp / sub)
            build(tmp, stages)
            a, b = tree_digest(tmp), tree_digest(args.out)
            checked = {k for k in a}
            diff = sorted(k for k in checked if a.get(k) != b.get(k))
            if diff:
                print("differs from a fresh build:\n  " + "\n  ".join(diff), file=sys.stderr)
                return 1
            print(f"[fixtures] {len(checked)} files reproduced byte for byte", file=sys.stderr)
            return 0
    build(args.out, stages)
    return 0


if __name__ == "__main__":
    ec.run_main(main)

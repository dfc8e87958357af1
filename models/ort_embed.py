#!/usr/bin/env python3
"""Embed images and texts with the Python reference pipeline (onnxruntime).

Same JSON shape as the Rust CLI's `edgeclip embed --json`:

  {"model": DIR, "embed_dim": N,
   "images": [{"path": P, "embedding": [...]}],
   "texts":  [{"text": S, "embedding": [...]}]}

Embeddings are L2-normalised (use --raw for the ONNX outputs as they are).
Reference pipeline: transformers.image_utils.load_image (EXIF transpose, convert("RGB"))
-> the family's transformers image processor; transformers tokenizer with
padding="max_length", max_length=context_length, truncation=True; onnxruntime
(CPUExecutionProvider) on the directory's image.onnx / text.onnx.

Examples:
  models/.venv/bin/python models/ort_embed.py --model tests/fixtures/models/clip-tiny \\
      --image tests/fixtures/images/landscape.jpg --text "a photo of a cat" --json
  # a leading "embed" is accepted, so this script can stand in for the edgeclip binary:
  models/.venv/bin/python models/ort_embed.py embed --model DIR --text=hello --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edgeclip_common as ec  # noqa: E402
from edgeclip_common import UserError  # noqa: E402


def embed(model_dir: str, images: list[str], texts: list[str], raw: bool = False, threads: int = 1) -> dict:
    ref = ec.Reference(Path(model_dir), threads=threads)
    out = {"model": model_dir, "embed_dim": int(ref.manifest["embed_dim"]), "images": [], "texts": []}
    if images:
        pix = []
        for p in images:
            try:
                pix.append(ref.pixels(p))
            except UserError:
                raise
            except Exception as e:  # noqa: BLE001 - PIL raises many types for bad files
                raise UserError(f"cannot decode image {p}: {type(e).__name__}: {e}") from None
        import numpy as np

        embs = ref.embed_pixels(np.concatenate(pix, 0))
        if not raw:
            embs = ec.l2_normalize(embs)
        out["images"] = [{"path": p, "embedding": [float(x) for x in e]} for p, e in zip(images, embs)]
    if texts:
        embs = ref.embed_texts(texts)
        if not raw:
            embs = ec.l2_normalize(embs)
        out["texts"] = [{"text": t, "embedding": [float(x) for x in e]} for t, e in zip(texts, embs)]
    return out


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["embed"]:
        argv = argv[1:]
    ap = argparse.ArgumentParser(prog="ort_embed.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, metavar="DIR", help="edgeclip model directory")
    ap.add_argument("--image", action="append", default=[], metavar="PATH", help="image file (repeatable)")
    ap.add_argument("--text", action="append", default=[], metavar="TEXT",
                    help="text (repeatable; use --text=VALUE for values starting with '-')")
    ap.add_argument("--json", action="store_true", help="print JSON (default: a short human-readable summary)")
    ap.add_argument("--raw", action="store_true", help="do not L2-normalise the embeddings")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    args = ap.parse_args(argv)
    if not args.image and not args.text:
        ap.error("give at least one --image or --text")
    out = embed(args.model, args.image, args.text, raw=args.raw, threads=args.threads)
    if args.json:
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    else:
        print(f"model {out['model']} (embed_dim {out['embed_dim']})")
        for it in out["images"]:
            print(f"image {it['path']}: [{', '.join(f'{v:+.4f}' for v in it['embedding'][:6])}, ...]")
        for it in out["texts"]:
            print(f"text {json.dumps(it['text'], ensure_ascii=False)[:60]}: "
                  f"[{', '.join(f'{v:+.4f}' for v in it['embedding'][:6])}, ...]")
    return 0


if __name__ == "__main__":
    ec.run_main(main)

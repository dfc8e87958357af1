#!/usr/bin/env python3
"""Python-side zero-shot accuracy of an edgeclip model directory on a folder-per-class set.

Reference pipeline (the one the Rust runtime is compared against): transformers'
``load_image`` + the model directory's slow image processor (``preprocessor_config.json``),
the reference tokenizer with ``padding="max_length"`` to the manifest's context length,
and onnxruntime (CPUExecutionProvider) on the directory's ``image.onnx`` / ``text.onnx``
(see ``edgeclip_common.Reference``). Prompts are built from class names only with one
template (default ``a photo of a {}.``, the runtime's simple template); the prediction
is the arg-max cosine similarity.

Data layout: ``DIR/<class>/<image>`` where the folder name is the class name used in the
prompt. If ``DIR/labels.txt`` exists its lines give the class order (one class name per
line; a line ``folder<TAB>class name`` maps a folder to a different label); otherwise the
sorted folder names are the classes.

Examples:
  models/.venv/bin/python models/eval_default.py --data models/samples
  models/.venv/bin/python models/world.py --split test --per-class 100 --out models/cache/heldout
  models/.venv/bin/python models/eval_default.py --data models/cache/heldout --json /tmp/heldout.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edgeclip_common as ec  # noqa: E402
from edgeclip_common import UserError  # noqa: E402

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
DEFAULT_MODEL = Path(__file__).resolve().parent / "default"


def read_dataset(data: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """(class names, [(image path, class index)]) of a folder-per-class set."""
    if not data.is_dir():
        raise UserError(f"{data} is not a directory")
    folders: list[tuple[str, str]] = []  # (folder, label)
    labels_txt = data / "labels.txt"
    if labels_txt.is_file():
        for line in labels_txt.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            folder, _, label = line.partition("\t")
            folders.append((folder, label or folder))
    else:
        folders = [(p.name, p.name) for p in sorted(data.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        raise UserError(f"{data}: no class folders")
    items = []
    for k, (folder, _) in enumerate(folders):
        d = data / folder
        if not d.is_dir():
            raise UserError(f"{data}: class folder {folder!r} missing")
        for p in sorted(d.iterdir()):
            if p.suffix.lower() in IMAGE_EXTS and p.is_file():
                items.append((p, k))
    if not items:
        raise UserError(f"{data}: no images")
    return [label for _, label in folders], items


def evaluate(model_dir: Path, data: Path, template: str = "a photo of a {}.", threads: int = 1, batch: int = 64) -> dict:
    import numpy as np

    t0 = time.time()
    classes, items = read_dataset(data)
    ref = ec.Reference(model_dir, threads=threads)
    if "{}" not in template:
        raise UserError("the template needs a {} placeholder")
    prompts = [template.replace("{}", c) for c in classes]
    txt = ec.l2_normalize(ref.embed_texts(prompts))
    embs = []
    for s in range(0, len(items), batch):
        pix = np.concatenate([ref.pixels(p) for p, _ in items[s : s + batch]], 0)
        embs.append(ref.embed_pixels(pix))
    img = ec.l2_normalize(np.concatenate(embs, 0))
    sims = img @ txt.T
    pred = sims.argmax(-1)
    truth = np.array([k for _, k in items])
    K = len(classes)
    confusion = np.zeros((K, K), np.int64)
    for t, p in zip(truth, pred):
        confusion[t, p] += 1
    per_class = {c: float(confusion[k, k] / max(1, confusion[k].sum())) for k, c in enumerate(classes)}
    return {
        "model": str(model_dir),
        "data": str(data),
        "template": template,
        "classes": classes,
        "n_images": len(items),
        "top1": float((pred == truth).mean()),
        "per_class_top1": per_class,
        "confusion": confusion.tolist(),
        "predictions": [
            {"path": str(p.relative_to(data)), "label": classes[k], "pred": classes[int(q)], "score": float(sims[i, q])}
            for i, ((p, k), q) in enumerate(zip(items, pred))
        ],
        "seconds": round(time.time() - t0, 2),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(prog="eval_default.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, metavar="DIR", help="folder-per-class image set")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, metavar="DIR",
                    help="edgeclip model directory (default models/default)")
    ap.add_argument("--template", default="a photo of a {}.", help="prompt template with {} (default 'a photo of a {}.')")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    ap.add_argument("--batch", type=int, default=64, help="images per onnxruntime call (default 64)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the full result (with per-image predictions) here")
    args = ap.parse_args(argv)
    res = evaluate(args.model, args.data, args.template, args.threads, args.batch)
    print(f"model {res['model']}  data {res['data']}  ({res['n_images']} images, {len(res['classes'])} classes, "
          f"template {res['template']!r})")
    for c, a in res["per_class_top1"].items():
        print(f"  {c:28s} {a * 100:6.2f}%")
    print(f"zero-shot top-1: {res['top1'] * 100:.2f}%")
    if args.json:
        ec.atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    ec.run_main(main)

#!/usr/bin/env python3
"""Write ``model_card.md`` of the shipped default model from its training report and evaluations.

The export (models/export.py) writes a technical card (tokenizer, preprocessing, export
check); this script puts the training story in front of it: what the model is and is not,
the exact commands, seed, wall time, configuration and the held-out metrics.

    models/.venv/bin/python models/train_card.py --model models/default \\
        --report models/cache/default-hf/train_report.json \\
        --eval models/cache/default-eval-heldout.json --eval models/cache/default-eval-samples.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import world  # noqa: E402

EXPORT_MARKER = "<!-- export.py card below -->"


def dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def build_card(model_dir: Path, report: dict, evals: list[dict], export_card: str, commands: list[str],
               extra_runs: list[dict]) -> str:
    h = report["hparams"]
    t = report["time_seconds"]
    held = report["heldout"]
    m = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    L = []
    L += [
        f"# {m['name']}: edgeclip's built-in default model",
        "",
        "A small CLIP (ViT image tower + causal text transformer, `transformers.CLIPModel`) that edgeclip",
        "**trains itself, from scratch, on a synthetic world of road scenes** (`models/world.py`), so that",
        "the robustness self-check, zero-shot demos and the accuracy / corruption / quantization / monitor",
        "tests have a model whose zero-shot predictions mean something without downloading anything.",
        "",
        "**What it is:** a real CLIP architecture with the real 49408-token CLIP BPE tokenizer and CLIP's",
        f"preprocessing recipe at {h['input_size']} px, exported by the same `models/export.py` path as real",
        f"checkpoints. It recognises the {len(world.CLASSES)} classes below in procedurally drawn scenes.",
        "",
        "**What it is not:** a general-purpose vision-language model. It has never seen a photograph; it knows",
        "only the world's classes and caption vocabulary, so embeddings of anything else (real photos, other",
        "labels) carry no meaning, and it must never be used for actual driving decisions. Real deployments",
        "export their own checkpoint with `models/export.py --checkpoint ...`.",
        "",
        "## Zero-shot labels",
        "",
        "Prompts are built from the class name only: `" + world.ZERO_SHOT_TEMPLATE.replace("{}", "{class}") + "`",
        "(edgeclip's simple template).",
        "",
    ]
    L += [f"{i}. {c}" for i, c in enumerate(world.CLASSES)]
    L += [
        "",
        "## Metrics (Python side)",
        "",
        f"Held-out zero-shot top-1, prompts from class names only, on images the training never saw (held out",
        "by seed: split `test` / `samples` of the world, training uses split `train`):",
        "",
        "The PyTorch evaluation at the end of training and `models/cache/heldout` are the same 1200 images.",
        "",
        "| evaluation | pipeline | images | top-1 |",
        "|---|---|---|---|",
        f"| world split `{held['split']}`, {held['per_class']}/class | transformers CLIPProcessor + CLIPModel (PyTorch) "
        f"| {held['per_class'] * len(world.CLASSES)} | {held['zero_shot_top1'] * 100:.2f}% |",
    ]
    for e in evals:
        L.append(f"| `{e['data']}` | reference pipeline on the exported ONNX (transformers processor + onnxruntime; "
                 f"`models/eval_default.py`) | {e['n_images']} | {e['top1'] * 100:.2f}% |")
    for r in extra_runs:
        L.append(f"| world split `{r['heldout']['split']}` (retrain from scratch, {r.get('label', 'second run')}) "
                 f"| transformers (PyTorch) | {r['heldout']['per_class'] * len(world.CLASSES)} "
                 f"| {r['heldout']['zero_shot_top1'] * 100:.2f}% |")
    L += ["", "Per class (world split `test`, PyTorch):", "", "| class | top-1 |", "|---|---|"]
    L += [f"| {c} | {v * 100:.1f}% |" for c, v in held["per_class_top1"].items()]
    L += [
        "",
        "## How it was made",
        "",
        "```sh",
        *commands,
        "```",
        "",
        f"* Seed {report['seed']} (python, numpy, torch; `torch.use_deterministic_algorithms(True)`); the world is",
        f"  seeded per image from (world seed {report['world']['seed']}, split, index), the data order per epoch",
        f"  from (seed, epoch) and every caption draw from (seed, epoch, image index). Only the float summation",
        f"  order depends on the torch thread count (here {report['threads']}; with the same thread count a retrain",
        "  reproduces the weights exactly on the same machine and library versions).",
        f"* Wall time on this machine ({report['platform']['cpu_count']} cores, CPU only, shared): rendering "
        f"{report['world']['train_images']} training images {t['data']:.0f} s, training {t['train']:.0f} s, "
        f"held-out evaluation {t['eval']:.0f} s, **total {t['total'] / 60:.1f} min**.",
        f"* Data: {report['world']['train_images']} rendered {world.IMAGE_SIZE}x{world.IMAGE_SIZE} scenes (balanced over "
        f"classes) x {h['epochs']} epochs, a fresh caption per image and epoch from "
        f"{len(world.CAPTION_TEMPLATES)} templates with attribute words (colour, size, position, scene, light).",
        f"* Objective: symmetric InfoNCE over the batch with CLIP's learnable logit scale (init 1/0.07, clamped at 100);"
        f" final logit scale {report['final_logit_scale']:.2f}.",
        f"* Optimiser: AdamW (betas 0.9/0.98, eps 1e-6), lr {h['lr']:g}, weight decay {h['weight_decay']:g} on matrices,"
        f" {h['warmup_frac'] * 100:.0f}% linear warm-up then cosine, batch {h['batch_size']}, gradient clipping 1.0.",
        "",
        "## Configuration",
        "",
        f"* Image tower: ViT, {h['input_size']}x{h['input_size']} input, patch {h['patch_size']}, width {h['vision_width']},"
        f" {h['vision_layers']} layers, {h['vision_heads']} heads, MLP 4x, quick_gelu.",
        f"* Text tower: width {h['text_width']}, {h['text_layers']} layers, {h['text_heads']} heads, context length"
        f" {h['context_length']}, vocabulary 49408 (real CLIP BPE), pooled at the end-of-text token.",
        f"* Embedding size {h['embed_dim']}; {report['parameters']:,} parameters (the 49408-row token table is most"
        " of the text tower).",
        "* Tokenizer: `CLIPTokenizerFast` built from the real CLIP BPE vocabulary that ships in open_clip_torch",
        "  (`bpe_simple_vocab_16e6.txt.gz`, via `models/edgeclip_text.py`) and saved with the checkpoint, so it",
        "  tokenizes exactly as OpenAI CLIP (the export card below calls it the checkpoint's own tokenizer).",
        f"* Preprocessing: `CLIPImageProcessor`, shortest edge {h['input_size']} (bicubic), centre crop"
        f" {h['input_size']}x{h['input_size']}, OpenAI CLIP mean/std.",
        f"* Directory size: {dir_size(model_dir) / 1e6:.2f} MB.",
        "",
        "## Sample set",
        "",
        "`models/samples/<class name>/NNN.png` (folder name = zero-shot label, spaces kept; `labels.txt` lists the",
        f"classes in label order): images of the held-out world split `samples`, {world.IMAGE_SIZE}x{world.IMAGE_SIZE} PNG.",
        "A larger held-out set: `models/.venv/bin/python models/world.py --split test --per-class 100 --out models/cache/heldout`.",
        "",
        EXPORT_MARKER,
        "",
    ]
    body = export_card.strip().splitlines()
    if body and body[0].startswith("# "):
        rest = body[1:]
        while rest and not rest[0].strip():
            rest = rest[1:]
        body = ["## Export details", ""] + rest
    body = [("#" + ln if ln.startswith("## ") and i > 0 else ln) for i, ln in enumerate(body)]
    return "\n".join(L + body) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=HERE / "default")
    ap.add_argument("--report", type=Path, default=HERE / "cache" / "default-hf" / "train_report.json")
    ap.add_argument("--eval", type=Path, action="append", default=[], help="eval_default.py --json output (repeatable)")
    ap.add_argument("--extra-run", type=Path, action="append", default=[],
                    help="train_report.json of a retrain-from-scratch run, to record reproducibility")
    args = ap.parse_args(argv)
    report = json.loads(args.report.read_text(encoding="utf-8"))
    evals = [json.loads(p.read_text(encoding="utf-8")) for p in args.eval]
    extra = []
    for p in args.extra_run:
        r = json.loads(p.read_text(encoding="utf-8"))
        r["label"] = f"total {r['time_seconds']['total'] / 60:.1f} min"
        a_w, b_w = args.report.parent / "model.safetensors", p.parent / "model.safetensors"
        if a_w.is_file() and b_w.is_file():
            same = a_w.read_bytes() == b_w.read_bytes()
            r["label"] += ", weights bitwise identical" if same else ", weights differ"
        extra.append(r)
    card_path = args.model / "model_card.md"
    text = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    if EXPORT_MARKER in text:  # re-running: keep only the export's part
        text = text.split(EXPORT_MARKER, 1)[1]
        text = "\n".join(("# " + ln[3:] if i == 0 and ln.startswith("## Export details") else ln)
                         for i, ln in enumerate(text.strip().splitlines()))
        text = text.replace("\n### ", "\n## ")
    train_cmd = ("HF_HUB_OFFLINE=1 models/.venv/bin/python models/train_default.py --out models/cache/default-hf"
                 f" --threads {report['threads']} --seed {report['seed']}")
    commands = [
        "# 1. render the world and train (writes a Hugging Face CLIP folder)",
        train_cmd,
        *([f"# reproducibility check: the same command, from scratch, into another folder",
           train_cmd.replace("models/cache/default-hf", str(args.extra_run[0].parent))] if args.extra_run else []),
        "# 2. export (same path as real checkpoints)",
        "models/.venv/bin/python models/export.py --checkpoint models/cache/default-hf --out models/default "
        "--name " + json.loads((args.model / "model.json").read_text())["name"] + " --gzip-tokenizer --force",
        "# 3. held-out sets and the Python-side zero-shot accuracy on the exported ONNX",
        "models/.venv/bin/python models/world.py --split test --per-class 100 --out models/cache/heldout",
        "models/.venv/bin/python models/world.py --split samples --per-class 20 --out models/samples",
        "models/.venv/bin/python models/eval_default.py --data models/cache/heldout --json models/cache/default-eval-heldout.json",
        "models/.venv/bin/python models/eval_default.py --data models/samples --json models/cache/default-eval-samples.json",
        "# 4. this card",
        "models/.venv/bin/python models/train_card.py --model models/default --eval models/cache/default-eval-heldout.json "
        "--eval models/cache/default-eval-samples.json"
        + "".join(f" --extra-run {p}" for p in args.extra_run),
    ]
    card = build_card(args.model, report, evals, text, commands, extra)
    card_path.write_text(card, encoding="utf-8")
    print(f"wrote {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

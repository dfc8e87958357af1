"""Train edgeclip's built-in default model: a small CLIP on the synthetic road-sign world.

The model is a ``transformers`` ``CLIPModel`` built from a small ``CLIPConfig`` (so it
saves, loads and exports exactly like a real CLIP checkpoint), with the real CLIP BPE
tokenizer (49408 tokens, from the vocabulary that ships in open_clip_torch) and CLIP's
preprocessing recipe (shortest-edge bicubic resize, centre crop, CLIP mean/std) at a
small input size. It is trained contrastively -- symmetric InfoNCE with the learnable
logit scale -- on image/caption pairs from ``world.py``, and evaluated zero-shot on the
held-out ``test`` split with prompts built from class names only (``a photo of a {class}.``).

Reproduce the shipped model (then export it with models/export.py)::

    HF_HUB_OFFLINE=1 models/.venv/bin/python models/train_default.py \\
        --out models/cache/default-hf --threads 1 --seed 0

Everything is seeded (python, numpy, torch, the world, the data order and the caption
draws) and torch runs with ``use_deterministic_algorithms(True)``; the result depends on
``--threads`` only through floating-point summation order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import os
import platform
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import world  # noqa: E402

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
CLIP_BOS, CLIP_EOS = 49406, 49407

DEFAULTS = dict(
    seed=0,
    input_size=64,
    patch_size=8,
    vision_width=128,
    vision_layers=4,
    vision_heads=4,
    text_width=32,
    text_layers=4,
    text_heads=4,
    context_length=32,
    embed_dim=64,
    train_images=45000,
    epochs=3,
    batch_size=128,
    lr=1e-3,
    weight_decay=0.1,
    warmup_frac=0.05,
    eval_per_class=100,
)


# --------------------------------------------------------------------------
# Model, tokenizer, processor
# --------------------------------------------------------------------------


def build_config(a):
    from transformers import CLIPConfig

    text = dict(
        vocab_size=49408,
        hidden_size=a.text_width,
        intermediate_size=4 * a.text_width,
        num_hidden_layers=a.text_layers,
        num_attention_heads=a.text_heads,
        max_position_embeddings=a.context_length,
        hidden_act="quick_gelu",
        bos_token_id=CLIP_BOS,
        eos_token_id=CLIP_EOS,
        pad_token_id=CLIP_EOS,
    )
    vision = dict(
        image_size=a.input_size,
        patch_size=a.patch_size,
        hidden_size=a.vision_width,
        intermediate_size=4 * a.vision_width,
        num_hidden_layers=a.vision_layers,
        num_attention_heads=a.vision_heads,
        num_channels=3,
        hidden_act="quick_gelu",
    )
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=a.embed_dim, logit_scale_init_value=2.6592)


def build_tokenizer(context_length: int, workdir: Path):
    """CLIPTokenizerFast from the real CLIP BPE vocabulary (49408 tokens)."""
    import edgeclip_text

    fast, _slow = edgeclip_text.build_clip_tokenizer(workdir, context_length=context_length)
    assert len(fast) == 49408, len(fast)
    return fast


def build_image_processor(input_size: int):
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(
        do_resize=True,
        size={"shortest_edge": input_size},
        resample=Image.BICUBIC,
        do_center_crop=True,
        crop_size={"height": input_size, "width": input_size},
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=OPENAI_CLIP_MEAN,
        image_std=OPENAI_CLIP_STD,
        do_convert_rgb=True,
    )


def resize_crop_u8(img: Image.Image, size: int) -> np.ndarray:
    """The processor's resize + centre crop on 8-bit RGB (PIL bicubic, transformers rounding)."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.BICUBIC)
    arr = np.asarray(img.convert("RGB"))
    top, left = (nh - size) // 2, (nw - size) // 2
    return arr[top : top + size, left : left + size]


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def _render_chunk(job):
    split, start, stop, size = job
    imgs = np.empty((stop - start, size, size, 3), np.uint8)
    metas = []
    for i in range(start, stop):
        img, meta = world.render(split, i)
        imgs[i - start] = resize_crop_u8(img, size)
        metas.append(meta)
    return start, imgs, metas


def world_fingerprint() -> str:
    return hashlib.sha256((HERE / "world.py").read_bytes()).hexdigest()[:16]


def generate(split: str, n: int, size: int, workers: int, cache_dir: Path | None, log=print):
    """Renders items 0..n-1 of ``split`` at the model input size (uint8 NHWC) + metadata."""
    cache = None
    if cache_dir is not None:
        cache = cache_dir / f"world-{split}-{n}-{size}-{world_fingerprint()}.npz"
        if cache.is_file():
            z = np.load(cache, allow_pickle=False)
            log(f"loaded {n} {split} images from {cache}")
            return z["images"], json.loads(str(z["metas"]))
    t0 = time.time()
    chunk = 500
    jobs = [(split, s, min(n, s + chunk), size) for s in range(0, n, chunk)]
    images = np.empty((n, size, size, 3), np.uint8)
    metas: list = [None] * n
    if workers > 1:
        ctx = mp.get_context("fork")
        with ctx.Pool(workers) as pool:
            for start, imgs, ms in pool.imap_unordered(_render_chunk, jobs):
                images[start : start + len(imgs)] = imgs
                metas[start : start + len(ms)] = ms
    else:
        for job in jobs:
            start, imgs, ms = _render_chunk(job)
            images[start : start + len(imgs)] = imgs
            metas[start : start + len(ms)] = ms
    log(f"rendered {n} {split} images in {time.time() - t0:.1f}s with {workers} worker(s)")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, images=images, metas=json.dumps(metas))
        tmp.replace(cache)
    return images, metas


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


def seed_everything(seed: int):
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def to_pixels(batch_u8, mean, std):
    import torch

    x = torch.from_numpy(batch_u8).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - mean) / std


def param_groups(model, wd):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.ndim < 2 or "embedding" in name or "logit_scale" in name or "norm" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def zero_shot_fast(model, images_u8, labels, text_ids, mean, std, bs=500):
    """Zero-shot top-1 on preprocessed uint8 images (used for monitoring during training)."""
    import torch

    with torch.no_grad():
        t = model.get_text_features(input_ids=text_ids)
        t = t / t.norm(dim=-1, keepdim=True)
        correct = 0
        for s in range(0, len(images_u8), bs):
            v = model.get_image_features(pixel_values=to_pixels(images_u8[s : s + bs], mean, std))
            v = v / v.norm(dim=-1, keepdim=True)
            correct += int(((v @ t.T).argmax(-1) == torch.as_tensor(labels[s : s + bs])).sum())
    return correct / len(images_u8)


def zero_shot_reference(model, processor, split: str, per_class: int, bs: int = 200):
    """Held-out zero-shot accuracy the reference way: CLIPProcessor on PIL images + prompts
    built from class names only, CLIPModel features, cosine similarity, argmax."""
    import torch

    prompts = world.zero_shot_prompts()
    items = world.class_index_items(split, per_class)
    with torch.no_grad():
        tin = processor(text=prompts, return_tensors="pt", padding=True)
        t = model.get_text_features(input_ids=tin["input_ids"], attention_mask=tin["attention_mask"])
        t = t / t.norm(dim=-1, keepdim=True)
        correct = 0
        per_cls = {c: [0, 0] for c in world.CLASSES}
        confusion = np.zeros((len(world.CLASSES), len(world.CLASSES)), np.int64)
        for s in range(0, len(items), bs):
            chunk = items[s : s + bs]
            pil = [world.render(split, idx)[0] for _, _, idx in chunk]
            pv = processor(images=pil, return_tensors="pt")["pixel_values"]
            v = model.get_image_features(pixel_values=pv)
            v = v / v.norm(dim=-1, keepdim=True)
            pred = (v @ t.T).argmax(-1).tolist()
            for (c, _, _), p in zip(chunk, pred):
                k = world.CLASSES.index(c)
                confusion[k, p] += 1
                per_cls[c][1] += 1
                if p == k:
                    correct += 1
                    per_cls[c][0] += 1
    return correct / len(items), {c: a / b for c, (a, b) in per_cls.items()}, confusion


def train(a):
    import torch
    import torch.nn.functional as F
    from transformers import CLIPModel, CLIPProcessor

    t_start = time.time()
    torch.set_num_threads(a.threads)
    seed_everything(a.seed)
    log_lines = []

    def log(msg):
        line = f"[{time.time() - t_start:7.1f}s] {msg}"
        print(line, flush=True)
        log_lines.append(line)

    cache_dir = HERE / "cache" if a.cache else None
    images, metas = generate("train", a.train_images, a.input_size, a.workers, cache_dir, log)
    val_imgs, val_metas = generate("val", 25 * len(world.CLASSES), a.input_size, a.workers, None, log)
    val_labels = np.array([m["label_id"] for m in val_metas])
    t_data = time.time() - t_start

    tok = build_tokenizer(a.context_length, HERE / "cache" / "world-clip-bpe-tokenizer")
    image_processor = build_image_processor(a.input_size)
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tok)
    # the training path's resize/crop must equal the processor's
    for i in range(8):
        img, _ = world.render("val", i)
        ref = image_processor(images=img, return_tensors="np")["pixel_values"][0]
        mine = ((resize_crop_u8(img, a.input_size).astype(np.float32) / 255.0 - np.array(OPENAI_CLIP_MEAN, np.float32)) / np.array(OPENAI_CLIP_STD, np.float32)).transpose(2, 0, 1)
        assert np.abs(ref - mine).max() < 1e-4, np.abs(ref - mine).max()

    def tokenize(texts):
        enc = tok(texts, padding="max_length", max_length=a.context_length, truncation=True, return_tensors="pt")
        return enc["input_ids"]

    prompt_ids = tokenize(world.zero_shot_prompts())

    torch.manual_seed(a.seed)
    model = CLIPModel(build_config(a))
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f}M parameters (vision {sum(p.numel() for p in model.vision_model.parameters()) / 1e6:.2f}M, "
        f"text {sum(p.numel() for p in model.text_model.parameters()) / 1e6:.2f}M)")

    opt = torch.optim.AdamW(param_groups(model, a.weight_decay), lr=a.lr, betas=(0.9, 0.98), eps=1e-6)
    steps_per_epoch = a.train_images // a.batch_size
    total = steps_per_epoch * a.epochs
    warmup = max(1, int(a.warmup_frac * total))

    def lr_at(step):
        if step < warmup:
            return a.lr * (step + 1) / warmup
        p = (step - warmup) / max(1, total - warmup)
        return a.lr * 0.5 * (1 + math.cos(math.pi * p))

    mean = torch.tensor(OPENAI_CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_CLIP_STD).view(1, 3, 1, 1)
    max_scale = math.log(100.0)
    step = 0
    t_train = time.time()
    history = []
    for epoch in range(a.epochs):
        order = np.random.default_rng([a.seed, 1000 + epoch]).permutation(a.train_images)
        run_loss, run_n = 0.0, 0
        for b in range(steps_per_epoch):
            idx = np.sort(order[b * a.batch_size : (b + 1) * a.batch_size])
            caps = [world.caption(metas[i], np.random.default_rng([a.seed, epoch, int(i)])) for i in idx]
            ids = tokenize(caps)
            px = to_pixels(images[idx], mean, std)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            img_emb = model.get_image_features(pixel_values=px)
            txt_emb = model.get_text_features(input_ids=ids)
            img_emb = img_emb / img_emb.norm(dim=-1, keepdim=True)
            txt_emb = txt_emb / txt_emb.norm(dim=-1, keepdim=True)
            logits = model.logit_scale.exp() * img_emb @ txt_emb.T
            target = torch.arange(len(idx))
            loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, max_scale)
            run_loss += float(loss.detach()) * len(idx)
            run_n += len(idx)
            step += 1
            if step % a.log_every == 0 or step == total:
                elapsed = time.time() - t_train
                log(f"epoch {epoch} step {step}/{total} loss {run_loss / run_n:.4f} "
                    f"scale {model.logit_scale.exp().item():.1f} lr {lr_at(step - 1):.2e} "
                    f"({elapsed / step:.2f}s/step, eta {elapsed / step * (total - step):.0f}s)")
                run_loss, run_n = 0.0, 0
        model.eval()
        acc = zero_shot_fast(model, val_imgs, val_labels, prompt_ids, mean, std)
        model.train()
        history.append({"epoch": epoch, "step": step, "val_zero_shot_top1": acc})
        log(f"epoch {epoch} done: val zero-shot top-1 {acc * 100:.2f}% ({len(val_labels)} images)")
    train_seconds = time.time() - t_train
    model.eval()

    # Save a standard Hugging Face CLIP folder
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)

    # Held-out evaluation the reference way (reload from disk: exactly what export sees)
    reloaded = CLIPModel.from_pretrained(out).eval()
    ref_processor = CLIPProcessor(image_processor=build_image_processor(a.input_size), tokenizer=tok)
    t_eval = time.time()
    acc, per_class, confusion = zero_shot_reference(reloaded, ref_processor, "test", a.eval_per_class)
    log(f"held-out zero-shot top-1 (split 'test', {a.eval_per_class}/class, prompts 'a photo of a {{class}}.'): {acc * 100:.2f}%")
    for c, v in per_class.items():
        log(f"  {c:26s} {v * 100:6.1f}%")
    total_seconds = time.time() - t_start

    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "seed": a.seed,
        "threads": a.threads,
        "workers": a.workers,
        "world": {"seed": world.WORLD_SEED, "image_size": world.IMAGE_SIZE, "classes": world.CLASSES,
                  "train_images": a.train_images, "fingerprint": world_fingerprint()},
        "hparams": {k: getattr(a, k) for k in DEFAULTS},
        "parameters": n_params,
        "time_seconds": {"data": round(t_data, 1), "train": round(train_seconds, 1), "eval": round(time.time() - t_eval, 1),
                         "total": round(total_seconds, 1)},
        "history": history,
        "final_logit_scale": float(model.logit_scale.exp()),
        "heldout": {"split": "test", "per_class": a.eval_per_class, "prompt": world.ZERO_SHOT_TEMPLATE,
                    "zero_shot_top1": acc, "per_class_top1": per_class, "confusion": confusion.tolist()},
        "platform": {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count()},
        "log": log_lines,
    }
    (out / "train_report.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"saved {out} (total wall time {total_seconds:.0f}s)")
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "cache" / "default-hf"))
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: on a shared 2-core machine 2 threads can be far slower)")
    ap.add_argument("--workers", type=int, default=2, help="processes rendering the world")
    ap.add_argument("--cache", action="store_true",
                    help="reuse / write the rendered training set as models/cache/world-train-*.npz (development)")
    ap.add_argument("--log-every", type=int, default=25)
    for k, v in DEFAULTS.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    a = ap.parse_args()
    train(a)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Export a CLIP / SigLIP checkpoint with Hugging Face optimum into an edgeclip model directory.

Run it with the separate optimum venv (optimum-onnx pins its own optimum/transformers range):

  python3 -m venv models/.venv-optimum
  models/.venv-optimum/bin/pip install -r models/requirements-optimum.txt
  models/.venv-optimum/bin/python models/export_optimum.py \\
      --checkpoint models/cache/default-hf --out models/cache/default-optimum

optimum (optimum.exporters.onnx.main_export, task feature-extraction) writes ONE combined
graph, model.onnx, holding both towers:

  CLIP:   inputs input_ids, pixel_values, attention_mask (in the graph's order)
  SigLIP: inputs input_ids, pixel_values (no attention_mask)
  outputs logits_per_image, logits_per_text, text_embeds, image_embeds

The manifest points both towers at model.onnx, lists every graph input in position order
with its role and selects image_embeds / text_embeds as the output; edgeclip feeds zeros
to the inputs the selected output does not depend on. Everything else (preprocessing from
the image processor config, tokenizer.json, logit_scale/logit_bias, context length) comes
from the same helpers as models/export.py.

The directory gets: model.json, model.onnx (+ external data if optimum wrote any),
tokenizer.json[.gz], the reference tokenizer/processor files (tokenizer_config.json,
special_tokens_map.json, spiece.model for SigLIP, preprocessor_config.json), config.json
and model_card.md. ALIGN is not supported by optimum's ONNX exporter: use models/export.py.

Unless --no-verify, the export is checked with onnxruntime (feeding zeros to the unused
inputs, as edgeclip does) against PyTorch get_image_features / get_text_features.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edgeclip_common as ec  # noqa: E402  (sets HF_HUB_OFFLINE=1 unless already set)
import export as ex  # noqa: E402  (models/export.py: preprocess_spec, tokenizer_json_text, ...)
from edgeclip_common import UserError  # noqa: E402

SUPPORTED = ("clip", "siglip")
ROLES = ("pixel_values", "input_ids", "attention_mask", "token_type_ids", "position_ids")
TEXT_ROLES = {"clip": ["input_ids", "attention_mask"], "siglip": ["input_ids"]}
ONNX_NAME = "model.onnx"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# checkpoint pieces (model for logit parameters + verification, tokenizer, processor)
# --------------------------------------------------------------------------


def load_checkpoint(checkpoint: str):
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(checkpoint)
    except Exception as e:  # noqa: BLE001 - one line for hub/offline/path problems
        hint = " (downloads are off: set HF_HUB_OFFLINE=0 to allow them)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
        raise UserError(f"cannot load the config of {checkpoint!r}{hint}: {e}") from None
    family = config.model_type
    if family == "align":
        raise UserError(f"{checkpoint!r} is ALIGN, which optimum's ONNX exporter does not support; use models/export.py")
    if family not in SUPPORTED:
        raise UserError(f"{checkpoint!r} has model_type {family!r}; export_optimum.py supports {', '.join(SUPPORTED)}")
    # Same loading as models/export.py (transformers' default attention, eval mode).
    model, tokenizer, image_processor, family, origin = ex.build_from_checkpoint(checkpoint, "auto")
    return model, tokenizer, image_processor, family, origin


def context_length(tokenizer, model, family: str) -> int:
    """As models/export.py: the family default unless the tokenizer says otherwise."""
    ctx = ex.CONTEXT[family]
    mml = getattr(tokenizer, "model_max_length", ctx)
    if mml != ctx and mml < 10**6:
        ctx = int(mml)
    if model.config.text_config.max_position_embeddings < ctx:
        raise UserError(f"text model has {model.config.text_config.max_position_embeddings} positions "
                        f"< context length {ctx}")
    return ctx


# --------------------------------------------------------------------------
# optimum export
# --------------------------------------------------------------------------


def run_optimum(checkpoint: str, out: Path, *, task: str, opset: int | None, batch: str, ctx: int,
                image_hw: tuple[int, int], validate: bool) -> None:
    try:
        from optimum.exporters.onnx import main_export
    except ImportError as e:
        raise UserError(f"optimum's ONNX exporter is not importable ({e}); run with models/.venv-optimum/bin/python "
                        "after `pip install -r models/requirements-optimum.txt`") from None
    shapes = {}
    if batch == "fixed":
        # no dynamic axes: the dummy shapes become the graph's shapes
        shapes = dict(batch_size=1, sequence_length=ctx, num_channels=3, height=image_hw[0], width=image_hw[1])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main_export(
                checkpoint, output=str(out), task=task, opset=opset, device="cpu", framework="pt",
                library_name="transformers", no_dynamic_axes=(batch == "fixed"), do_validation=validate,
                local_files_only=os.environ.get("HF_HUB_OFFLINE") == "1", **shapes,
            )
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - optimum raises many kinds; keep the message
        raise UserError(f"optimum export of {checkpoint!r} failed: {type(e).__name__}: {e}") from None
    if not (out / ONNX_NAME).is_file():
        made = sorted(p.name for p in out.iterdir())
        raise UserError(f"optimum did not write {ONNX_NAME} (it wrote {made}); only single-graph exports are supported")


def graph_io(path: Path) -> tuple[list[dict], list[str], dict]:
    """Graph inputs in position order as manifest entries, output names, and input shapes."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    init = {i.name for i in m.graph.initializer}
    inputs, shapes = [], {}
    for i in m.graph.input:
        if i.name in init:
            continue
        if i.name not in ROLES:
            raise UserError(f"{path.name} has an input {i.name!r} with no edgeclip role (roles: {', '.join(ROLES)})")
        inputs.append({"name": i.name, "role": i.name})
        shapes[i.name] = [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
    outputs = [o.name for o in m.graph.output]
    for need in ("image_embeds", "text_embeds"):
        if need not in outputs:
            raise UserError(f"{path.name} has no output {need!r} (outputs: {outputs})")
    return inputs, outputs, shapes


def external_data_files(path: Path) -> list[str]:
    """File names the graph's initializers keep their weights in (large exports only)."""
    import onnx
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    m = onnx.load(str(path), load_external_data=False)
    locs = set()
    for t in _get_all_tensors(m):
        if uses_external_data(t):
            locs.update(e.value for e in t.external_data if e.key == "location")
    for loc in locs:
        if Path(loc).name != loc:
            raise UserError(f"{path.name} keeps external data in a subdirectory ({loc!r}); unsupported")
    return sorted(locs)


# --------------------------------------------------------------------------
# verification: onnxruntime (zeros for the other tower's inputs) vs PyTorch
# --------------------------------------------------------------------------


def _feed(session, given: dict, batch: int, ctx: int, hw: tuple[int, int]) -> dict:
    import numpy as np

    feed = {}
    for i in session.get_inputs():
        if i.name in given:
            feed[i.name] = given[i.name]
        elif i.name == "pixel_values":
            feed[i.name] = np.zeros((batch, 3, *hw), np.float32)
        else:
            feed[i.name] = np.zeros((batch, ctx), np.int64)
    return feed


def verify(path: Path, model, tokenizer, family: str, spec: dict, ctx: int, batch: str) -> dict:
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    onnx.checker.check_model(str(path))
    n = 2 if batch == "dynamic" else 1
    g = torch.Generator().manual_seed(1234)
    pix = ex.synthetic_pixels(n, spec, g)
    texts = ["a photo of a cat", "a diagram of a small red car parked next to a tree"][:n]
    enc = tokenizer(texts, padding="max_length", max_length=ctx, truncation=True, return_tensors="pt")
    text_inputs = {k: enc[k].to(torch.int64) for k in TEXT_ROLES[family]}
    with torch.no_grad():
        ref_img = model.get_image_features(pixel_values=pix).numpy()
        ref_txt = model.get_text_features(**text_inputs).numpy()

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    hw = tuple(spec["size"])
    np_text = {k: v.numpy() for k, v in text_inputs.items()}
    oi = s.run(["image_embeds"], _feed(s, {"pixel_values": pix.numpy()}, n, ctx, hw))[0]
    ot = s.run(["text_embeds"], _feed(s, np_text, n, ctx, hw))[0]
    if n > 1:  # batch 1 must give the same rows as batch 2
        oi1 = s.run(["image_embeds"], _feed(s, {"pixel_values": pix.numpy()[1:]}, 1, ctx, hw))[0]
        ot1 = s.run(["text_embeds"], _feed(s, {k: v[1:] for k, v in np_text.items()}, 1, ctx, hw))[0]
        if ec.cosine(oi1[0], oi[1]) < 0.99999 or ec.cosine(ot1[0], ot[1]) < 0.99999:
            raise UserError("the ONNX graph gives different results at batch 1 and batch 2")
    # optimum's graph returns L2-normalised embeddings (CLIPModel.forward normalises);
    # edgeclip normalises anyway, so compare directions.
    res = {
        "image_min_cosine": min(ec.cosine(a, b) for a, b in zip(oi, ref_img)),
        "text_min_cosine": min(ec.cosine(a, b) for a, b in zip(ot, ref_txt)),
        "image_max_abs_diff_normalised": float(np.abs(ec.l2_normalize(oi) - ec.l2_normalize(ref_img)).max()),
        "text_max_abs_diff_normalised": float(np.abs(ec.l2_normalize(ot) - ec.l2_normalize(ref_txt)).max()),
    }
    log("[export_optimum] onnxruntime (zeros for the other tower) vs PyTorch get_*_features: "
        "image min cos {image_min_cosine:.8f} max|diff| {image_max_abs_diff_normalised:.2e}; "
        "text min cos {text_min_cosine:.8f} max|diff| {text_max_abs_diff_normalised:.2e}".format(**res))
    if res["image_min_cosine"] < 0.9999 or res["text_min_cosine"] < 0.9999:
        raise UserError("onnxruntime output does not match PyTorch (cosine < 0.9999)")
    return res


# --------------------------------------------------------------------------
# manifest + directory
# --------------------------------------------------------------------------


def model_card(m: dict, results: dict, diffs: list, io: dict) -> str:
    src = m["source"]
    lines = [
        f"# {m['name']}",
        "",
        f"Exported from the checkpoint `{src['checkpoint']}` with Hugging Face optimum "
        f"(`models/export_optimum.py`, `optimum.exporters.onnx.main_export`, task `{src['task']}`).",
        "",
        f"* One combined graph `{m['image']['onnx']}`: inputs {io['inputs']} (position order), outputs {io['outputs']}.",
        "  The image tower selects `image_embeds`, the text tower `text_embeds`; edgeclip feeds zeros to the",
        "  inputs the selected output does not depend on. Both outputs are already L2-normalised by",
        "  the model's forward; edgeclip normalises again (a no-op).",
        f"* Opset {src['opset']}, batch axis {src['batch']}; optimum {src['optimum']}, optimum-onnx {src['optimum_onnx']},",
        f"  torch {src['torch']}, transformers {src['transformers']}.",
        f"* Embedding size {m['embed_dim']}; context {m['text']['context_length']}; logit_scale {m['logit_scale']:.6g}"
        + (f", logit_bias {m['logit_bias']:.6g}" if m["logit_bias"] is not None else "") + ".",
        f"* Image preprocessing: {json.dumps(m['image']['preprocess'])}",
        f"* tokenizer.json vs the reference tokenizer on the hard texts: {len(diffs)} differ.",
    ]
    if "image_min_cosine" in results:
        lines.append(f"* onnxruntime vs PyTorch: image min cosine {results['image_min_cosine']:.8f}, "
                     f"text min cosine {results['text_min_cosine']:.8f}.")
    return "\n".join(lines) + "\n"


def export(args) -> dict:
    import onnx
    import torch
    import transformers
    import edgeclip_text as et
    from importlib.metadata import version

    torch.set_num_threads(max(1, args.threads))
    model, tokenizer, image_processor, family, origin = load_checkpoint(args.checkpoint)
    spec = ex.preprocess_spec(image_processor)
    ctx = context_length(tokenizer, model, family)
    scale, bias = ex.logit_params(model, family)

    tj_text = ex.tokenizer_json_text(tokenizer, family)
    hard = et.hard_texts()
    diffs = ex.verify_tokenizer_json(tj_text, tokenizer, family, ctx, hard)
    log(f"[export_optimum] tokenizer.json vs reference tokenizer: {len(hard) - len(diffs)}/{len(hard)} hard texts identical")
    for d in diffs:
        log(f"[export_optimum]   differs: {d['text'][:70]!r}")

    base = Path(args.checkpoint.rstrip("/")).name
    name = args.name or f"{base}-optimum" + ("-fixed" if args.batch == "fixed" else "")
    out = args.out or (ec.CACHE_DIR / name)

    with ec.atomic_directory(out, force=args.force) as tmp:
        t0 = time.time()
        with tempfile.TemporaryDirectory(prefix="edgeclip-optimum-") as work:
            work = Path(work)
            log(f"[export_optimum] optimum main_export (task {args.task}, batch {args.batch}) ...")
            run_optimum(args.checkpoint, work, task=args.task, opset=args.opset, batch=args.batch, ctx=ctx,
                        image_hw=tuple(spec["size"]), validate=not args.no_verify)
            log(f"[export_optimum] optimum done in {time.time() - t0:.1f}s")
            inputs, outputs, shapes = graph_io(work / ONNX_NAME)
            opset = next((o.version for o in onnx.load(str(work / ONNX_NAME), load_external_data=False).opset_import
                          if o.domain in ("", "ai.onnx")), None)
            # model.onnx plus any external-data files it references
            shutil.copy(work / ONNX_NAME, tmp / ONNX_NAME)
            for loc in external_data_files(work / ONNX_NAME):
                if not (work / loc).is_file():
                    raise UserError(f"{ONNX_NAME} references external data {loc!r} that optimum did not write")
                shutil.copy(work / loc, tmp / loc)
            if (work / "config.json").is_file():
                shutil.copy(work / "config.json", tmp / "config.json")
        log(f"[export_optimum] graph inputs (position order): {[i['name'] for i in inputs]}; shapes {shapes}")
        if "pixel_values" not in shapes or "input_ids" not in shapes:
            raise UserError(f"{ONNX_NAME} lacks pixel_values or input_ids (inputs: {list(shapes)}); "
                            "export with task feature-extraction or zero-shot-image-classification")

        results = {}
        if not args.no_verify:
            results = verify(tmp / ONNX_NAME, model, tokenizer, family, spec, ctx, args.batch)

        with torch.no_grad():
            one = ex.synthetic_pixels(1, spec, torch.Generator().manual_seed(0))
            embed_dim = int(model.get_image_features(pixel_values=one).shape[-1])
        manifest = {
            "format": ec.MANIFEST_FORMAT,
            "version": ec.MANIFEST_VERSION,
            "name": name,
            "family": family,
            "precision": "f32",
            "embed_dim": embed_dim,
            "logit_scale": scale,
            "logit_bias": bias,
            "source": {
                "checkpoint": args.checkpoint, "arch": None, "random_init": False, "seed": None,
                "exporter": "optimum", "task": args.task, "opset": opset, "batch": args.batch,
                "tool": "models/export_optimum.py", "torch": torch.__version__.split("+")[0],
                "transformers": transformers.__version__, "optimum": version("optimum"),
                "optimum_onnx": version("optimum-onnx"),
            },
            "image": {
                "onnx": ONNX_NAME,
                "inputs": inputs,
                "output": "image_embeds",
                "preprocess": spec,
            },
            "text": {
                "onnx": ONNX_NAME,
                "inputs": inputs,
                "output": "text_embeds",
                "tokenizer": "tokenizer.json.gz" if args.gzip_tokenizer else "tokenizer.json",
                "tokenizer_kind": ex.TOKENIZER_KIND[family],
                "tokenizer_origin": origin,
                "context_length": ctx,
                "padding": "max_length",
                "pad_id": int(tokenizer.pad_token_id),
                "pooling": ex.POOLING[family],
            },
        }

        if args.gzip_tokenizer:
            (tmp / "tokenizer.json.gz").write_bytes(ec.gzip_bytes(tj_text.encode("utf-8")))
        else:
            (tmp / "tokenizer.json").write_text(tj_text, encoding="utf-8")
        with tempfile.TemporaryDirectory() as td:
            tokenizer.save_pretrained(td, legacy_format=False) if family != "siglip" else tokenizer.save_pretrained(td)
            for fn in ec.REFERENCE_TOKENIZER_FILES:
                if (Path(td) / fn).is_file():
                    shutil.copy(Path(td) / fn, tmp / fn)
        image_processor.save_pretrained(str(tmp))
        ex._tidy_json(tmp / "tokenizer_config.json")
        (tmp / "model.json").write_text(ec.dump_json(manifest), encoding="utf-8")
        (tmp / "model_card.md").write_text(
            model_card(manifest, results, diffs, {"inputs": [i["name"] for i in inputs], "outputs": outputs}),
            encoding="utf-8",
        )
    log(f"[export_optimum] wrote {out}")
    return {"manifest": manifest, "tokenizer_diffs": diffs, **results}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="export_optimum.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, metavar="DIR_OR_NAME",
                    help="Hugging Face CLIP or SigLIP checkpoint (local save_pretrained folder or hub id; "
                    "HF_HUB_OFFLINE defaults to 1, set HF_HUB_OFFLINE=0 to let a hub id download)")
    ap.add_argument("--out", type=Path, help="output directory (default models/cache/NAME)")
    ap.add_argument("--name", help="manifest name (default: the checkpoint's last path component + -optimum[-fixed])")
    ap.add_argument("--batch", choices=["dynamic", "fixed"], default="dynamic",
                    help="dynamic batch/sequence axes, or fixed shapes (batch 1, the context length, the image "
                    "size) via optimum's no_dynamic_axes (default dynamic)")
    ap.add_argument("--task", choices=["feature-extraction", "zero-shot-image-classification"],
                    default="feature-extraction", help="optimum task; both give the same combined graph "
                    "(default feature-extraction)")
    ap.add_argument("--opset", type=int, help="ONNX opset (default: optimum's default for the architecture)")
    ap.add_argument("--gzip-tokenizer", action="store_true", help="write tokenizer.json.gz instead of tokenizer.json")
    ap.add_argument("--force", action="store_true", help="replace --out if it exists")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip optimum's own validation and the onnxruntime-vs-PyTorch check")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    return ap.parse_args(argv)


def main(argv=None):
    export(parse_args(argv))
    return 0


if __name__ == "__main__":
    ec.run_main(main)

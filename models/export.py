#!/usr/bin/env python3
"""Export a CLIP / SigLIP / ALIGN model to an edgeclip model directory.

An edgeclip model directory holds:

  model.json               the manifest read by the Rust runtime (format "edgeclip-model", version 1)
  image.onnx               pixel_values [batch,3,H,W] f32 -> image_embeds (projected, not normalised)
  text.onnx                int64 [batch,context] token inputs -> text_embeds (projected, not normalised)
  *.onnx.data              external weights (only with --exporter dynamo)
  tokenizer.json[.gz]      Hugging Face tokenizers file reproducing the reference tokenizer
  preprocessor_config.json the transformers image processor config (reference pipeline)
  tokenizer_config.json, special_tokens_map.json (and spiece.model for SigLIP):
                           what the Python reference tokenizer is rebuilt from
  model_card.md            how the directory was made

Two ways to get the model object; everything after that is the same code path:

  --checkpoint NAME_OR_DIR   a Hugging Face CLIP/SigLIP/ALIGN checkpoint (the family comes
                             from config.json's model_type; needs the hub or a local copy)
  --random-init --arch ARCH  the real architecture built from its config with random
                             weights and a tokenizer built offline (see --help of --arch)

Examples:
  python models/export.py --random-init --arch clip-vit-b32
  python models/export.py --random-init --arch siglip-tiny --out /tmp/siglip-tiny --gzip-tokenizer
  python models/export.py --checkpoint openai/clip-vit-base-patch32 --exporter dynamo
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edgeclip_common as ec  # noqa: E402  (sets HF_HUB_OFFLINE)
from edgeclip_common import UserError  # noqa: E402

ARCHS = {
    # name: (family, description)
    "clip-vit-b32": ("clip", "CLIPConfig() defaults = openai/clip-vit-base-patch32 shapes; real 49408-token CLIP BPE"),
    "siglip-b16": ("siglip", "SiglipConfig() defaults = google/siglip-base-patch16-224 shapes; generated unigram "
                   "SentencePiece (32000 asked, the offline corpus yields 19142; text vocab_size set to match)"),
    "align-base": ("align", "AlignConfig() with kakaobrain/align-base's vision image_size 289 / hidden_dim 640; generated WordPiece"),
    "clip-tiny": ("clip", "2-layer ViT-B/32-style towers, text width 8, real 49408-token CLIP BPE"),
    "siglip-tiny": ("siglip", "2-layer SigLIP towers (patch 16, 224px), generated 4000-piece unigram SentencePiece"),
    "align-tiny": ("align", "narrow EfficientNet (width 0.1) at 289px + 2-layer BERT, generated WordPiece"),
}

CONTEXT = {"clip": 77, "siglip": 64, "align": 64}
SIGLIP_VOCAB = {"siglip-b16": 32000, "siglip-tiny": 4000}
BERT_VOCAB = {"align-base": 30522, "align-tiny": 3000}

POOLING = {
    "clip": "hidden state at the first end-of-text token (argmax of input_ids), then text_projection",
    "siglip": "hidden state at the last position (index context_length-1), then the text head (linear)",
    "align": "hidden state at the first position ([CLS]), then text_projection",
}
TOKENIZER_KIND = {"clip": "clip-bpe", "siglip": "sentencepiece-unigram", "align": "wordpiece"}
TEXT_INPUTS = {
    "clip": ["input_ids", "attention_mask"],
    "siglip": ["input_ids"],
    "align": ["input_ids", "attention_mask", "token_type_ids"],
}


# --------------------------------------------------------------------------
# model objects
# --------------------------------------------------------------------------


def random_config(arch: str, text_vocab: int | None):
    from transformers import AlignConfig, CLIPConfig, SiglipConfig

    if arch == "clip-vit-b32":
        return CLIPConfig()
    if arch == "clip-tiny":
        return CLIPConfig(
            text_config=dict(vocab_size=49408, hidden_size=8, intermediate_size=32, num_hidden_layers=2,
                             num_attention_heads=2, max_position_embeddings=77),
            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                               patch_size=32, image_size=224),
            projection_dim=16,
        )
    if arch == "siglip-b16":
        return SiglipConfig(text_config=dict(vocab_size=text_vocab))
    if arch == "siglip-tiny":
        return SiglipConfig(
            text_config=dict(vocab_size=text_vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=2, max_position_embeddings=64, projection_size=32),
            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                               patch_size=16, image_size=224),
        )
    if arch == "align-base":
        # kakaobrain/align-base: EfficientNet-B7 vision tower at 289px whose pooling kernel
        # (hidden_dim) is 640; AlignConfig() alone says image_size 600 / hidden_dim 2560.
        return AlignConfig(text_config=dict(vocab_size=text_vocab), vision_config=dict(image_size=289, hidden_dim=640),
                           projection_dim=640)
    if arch == "align-tiny":
        return AlignConfig(
            text_config=dict(vocab_size=text_vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=2),
            vision_config=dict(image_size=289, width_coefficient=0.1, depth_coefficient=0.5, hidden_dim=640),
            projection_dim=32,  # = round_filters(320 * 0.1): the image embedding width
        )
    raise UserError(f"unknown arch {arch!r}")


def set_logit_parameters(model, family: str) -> None:
    """Give random models trained-like logit parameters so zero-shot outputs are not flat."""
    import torch

    with torch.no_grad():
        if family == "clip":
            model.logit_scale.fill_(math.log(100.0))
        elif family == "siglip":
            model.logit_scale.fill_(math.log(10.0))  # SigLIP paper initialisation
            model.logit_bias.fill_(-10.0)
        elif family == "align":
            model.temperature.fill_(0.02)


def randomize_weights(model, seed: int) -> None:
    """Re-draw all weights with variance-preserving scales.

    transformers' initialisation (N(0, 0.02) linears, unit norms, zero biases) makes a
    random network nearly input-independent: attention is uniform, the pooled output
    is a global average and small preprocessing errors barely move the embedding.
    Here linears get N(0, 1/fan_in), convolutions N(0, 2/fan_in), embeddings N(0, 0.5),
    LayerNorm weights 1 + N(0, 0.1), BatchNorm weights 0.06 (1 + N(0, 0.1)) and all biases
    N(0, 0.02), so outputs depend on the input as in a trained network without being
    chaotic. Deterministic for a given seed.
    """
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(seed + 1)

    def normal_(t, std):
        with torch.no_grad():
            t.copy_(torch.randn(t.shape, generator=g) * std)

    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            normal_(mod.weight, mod.in_features ** -0.5)
        elif isinstance(mod, nn.Conv2d):
            fan_in = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            normal_(mod.weight, (2.0 / fan_in) ** 0.5)
        elif isinstance(mod, nn.Embedding):
            normal_(mod.weight, 0.5)
        elif isinstance(mod, nn.LayerNorm):
            if mod.weight is not None:
                normal_(mod.weight, 0.1)
                with torch.no_grad():
                    mod.weight.add_(1.0)
        elif isinstance(mod, nn.BatchNorm2d):
            # scale 0.06 x (1 + N(0, 0.1)): with unit scales the random EfficientNet is
            # chaotic (+-1 grey level of noise moved align-tiny's embedding to cos 0.98,
            # a 1-pixel shift to 0.54); at 0.06 it is at cos 0.99999 / 0.9997 while a
            # BGR swap still gives ~0.94 and different images 0.5-0.95.
            normal_(mod.weight, 0.1)
            with torch.no_grad():
                mod.weight.add_(1.0).mul_(0.06)
        else:
            continue
        if getattr(mod, "bias", None) is not None:
            normal_(mod.bias, 0.02)
    # Depth-dependent gains, L = layers of the tower: query/key projections x 4 sqrt(2/L)
    # make attention selective (a position attends to a few others instead of averaging
    # everything; SigLIP's text tower pools the last, usually padding, position and is
    # otherwise blind to content); residual-branch output projections x sqrt(2/L) keep
    # deep towers out of the chaotic regime (with x4 and unit branches a 12-layer ViT
    # moved to cos 0.87 under +-1 grey level of noise; now 0.99996, while a BGR swap or
    # another image still land far away). L = 2 (the tiny fixtures) gives x4 and x1.
    cfg = model.config
    layers = {"text_model": cfg.text_config.num_hidden_layers, "vision_model": cfg.vision_config.num_hidden_layers}
    with torch.no_grad():
        for name, p in model.named_parameters():
            tower = name.split(".", 1)[0]
            if tower not in layers or not (".layers." in name or ".layer." in name):
                continue
            depth = max(int(layers[tower]), 1)
            if name.endswith(("q_proj.weight", "k_proj.weight", "query.weight", "key.weight")):
                p.mul_(4.0 * (2.0 / depth) ** 0.5)
            elif name.endswith(("self_attn.out_proj.weight", "mlp.fc2.weight", "attention.output.dense.weight")) or (
                name.endswith("output.dense.weight") and ".attention." not in name
            ):
                p.mul_(min(1.0, (2.0 / depth) ** 0.5))
    # loose parameters (CLIP class_embedding, SigLIP probe, ...)
    for name, p in model.named_parameters():
        if "." in name and name.rsplit(".", 1)[1] in ("class_embedding", "probe"):
            normal_(p, 0.5)


def synthetic_images(n: int, h: int, w: int, generator) -> "torch.Tensor":
    """n RGB images in [0, 1] with a natural-image-like spectrum (sum of upsampled noise
    at several scales), shape [n, 3, h, w]."""
    import torch
    import torch.nn.functional as F

    out = torch.zeros(n, 3, h, w)
    for cells, amp in ((2, 0.5), (6, 0.3), (24, 0.15), (96, 0.08)):
        low = torch.rand(n, 3, cells, cells, generator=generator) - 0.5
        out += amp * F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    out += 0.02 * torch.randn(n, 3, h, w, generator=generator)
    return (out + 0.5).clamp(0, 1)


def synthetic_pixels(n: int, spec: dict, generator) -> "torch.Tensor":
    """synthetic_images normalised the way the manifest's preprocess block says."""
    import torch

    h, w = spec["size"]
    x = synthetic_images(n, h, w, generator)
    x = (x * 255).round() * spec["rescale_factor"]
    mean = torch.tensor(spec["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(spec["std"]).view(1, 3, 1, 1)
    return ((x - mean) / std).float()


def calibrate_batchnorm(model, spec: dict, seed: int, n_batches: int = 8, batch: int = 2) -> None:
    """Set BatchNorm running statistics from forward passes, as a trained network has them.

    With random weights the default statistics (mean 0, var 1) make activations vanish or
    explode through EfficientNet's many blocks. Inputs: synthetic_pixels (natural-image-like
    spectra), so real photos stay in the range the statistics were measured on.
    """
    import torch
    from torch import nn

    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    g = torch.Generator().manual_seed(seed + 2)
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
        bn.train()
    with torch.no_grad():
        for _ in range(n_batches):
            model.get_image_features(pixel_values=synthetic_pixels(batch, spec, g))
    for bn in bns:
        bn.eval()


def build_random(arch: str, seed: int, workdir: Path, attn: str):
    import torch

    family = ARCHS[arch][0]
    ctx = CONTEXT[family]
    if family == "clip":
        from transformers import CLIPImageProcessor, CLIPModel
        import edgeclip_text as et

        tokenizer, _slow = et.build_clip_tokenizer(workdir / "clip-tok", ctx)
        config = random_config(arch, None)
        model_cls = CLIPModel
        image_processor = CLIPImageProcessor()
        origin = "open_clip_bpe_vocab"
    elif family == "siglip":
        from transformers import SiglipImageProcessor, SiglipModel
        import edgeclip_text as et

        tokenizer = et.build_siglip_tokenizer(workdir / "siglip-tok", SIGLIP_VOCAB[arch], seed=seed, context_length=ctx)
        config = random_config(arch, tokenizer.vocab_size)
        model_cls = SiglipModel
        image_processor = SiglipImageProcessor()
        origin = "generated"
    else:
        from PIL import Image
        from transformers import AlignModel, EfficientNetImageProcessor
        import edgeclip_text as et

        tokenizer, _slow = et.build_bert_tokenizer(workdir / "bert-tok", BERT_VOCAB[arch], seed=seed, context_length=ctx)
        config = random_config(arch, len(tokenizer))
        model_cls = AlignModel
        # The processor kakaobrain/align-base was converted with (transformers'
        # convert_align_tf_to_hf.get_processor): default size 346x346, centre crop
        # 289x289, bilinear, x/127.5 - 1, no normalisation, include_top=False.
        image_processor = EfficientNetImageProcessor(
            do_center_crop=True, rescale_factor=1 / 127.5, rescale_offset=True, do_normalize=False,
            include_top=False, resample=Image.BILINEAR,
        )
        origin = "generated"
    torch.manual_seed(seed)
    if attn != "auto":
        config._attn_implementation = attn
    model = model_cls(config)
    model.eval()
    randomize_weights(model, seed)
    set_logit_parameters(model, family)
    if family == "align":
        damp_residual_blocks(model)
        calibrate_batchnorm(model, preprocess_spec(image_processor), seed)
    return model, tokenizer, image_processor, family, origin


def damp_residual_blocks(model, factor: float = 0.5) -> None:
    """Halve the output BatchNorm scale of every residual EfficientNet block.

    With variance-preserving weights alone, activations of the 55-block B7 tower grow
    1.3-2x per residual block for some inputs (1e6 RMS at the last block on a grey
    image), so float32 runtimes disagree with float64 (and with themselves under 1e-6
    input noise). Damping the residual branch, as sqrt(2/L) does for the ViTs, keeps
    block outputs at 0.03-0.2 RMS and float32 within cosine 0.9999999 of float64.
    """
    import torch
    with torch.no_grad():
        for module in model.modules():
            if type(module).__name__ == "AlignVisionFinalBlockLayer" and getattr(module, "apply_dropout", False):
                module.project_bn.weight.mul_(factor)


def build_from_checkpoint(checkpoint: str, attn: str):
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(checkpoint)
    except Exception as e:  # noqa: BLE001 - surface hub/offline problems as one line
        hint = " (downloads are off: set HF_HUB_OFFLINE=0 to allow them)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
        raise UserError(f"cannot load the config of {checkpoint!r}{hint}: {e}") from None
    family = {"clip": "clip", "siglip": "siglip", "align": "align"}.get(config.model_type)
    if family is None:
        raise UserError(f"{checkpoint!r} has model_type {config.model_type!r}; supported: clip, siglip, align")
    if family == "clip":
        from transformers import CLIPModel as M
    elif family == "siglip":
        from transformers import SiglipModel as M
    else:
        from transformers import AlignModel as M
    kw = {} if attn == "auto" else {"attn_implementation": attn}
    model = M.from_pretrained(checkpoint, **kw)
    model.eval()
    image_processor = ec.image_processor_class(family).from_pretrained(checkpoint)
    tokenizer = ec.tokenizer_class(family).from_pretrained(checkpoint)
    return model, tokenizer, image_processor, family, "pretrained"


# --------------------------------------------------------------------------
# ONNX wrappers
# --------------------------------------------------------------------------


def wrappers(model, family: str):
    import torch

    class Image(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m.get_image_features(pixel_values=pixel_values)

    if family == "clip":
        class Text(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask):
                return self.m.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
    elif family == "siglip":
        class Text(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids):
                return self.m.get_text_features(input_ids=input_ids)
    else:
        class Text(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m.get_text_features(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                )

    return Image(model).eval(), Text(model).eval()


def _patch_dynamo_version_conversion() -> None:
    """Work around onnxscript 0.5.4 + onnx_ir 1.1 in torch's dynamo exporter.

    torch.onnx.export(dynamo=True) always runs onnxscript's version converter. That runs
    onnx_ir's InlinePass, which in onnx_ir 1.1 inlines the calls but leaves the function
    definitions in the model, and the converter then refuses "a model with functions".
    Removing the unused functions between the two steps gives the intended behaviour.
    """
    from torch.onnx._internal._lazy_import import onnxscript_apis

    if getattr(onnxscript_apis, "_edgeclip_patched", False):
        return
    import onnx_ir.passes.common as common_passes

    original = onnxscript_apis.convert_version

    def convert_version(model, target_version):
        common_passes.InlinePass()(model)
        common_passes.RemoveUnusedFunctionsPass()(model)
        return original(model, target_version)

    onnxscript_apis.convert_version = convert_version
    onnxscript_apis._edgeclip_patched = True


def export_onnx(module, args: tuple, input_names, output_name: str, path: Path, exporter: str, opset: int,
                dynamic_batch: bool) -> None:
    import torch

    if exporter == "torchscript":
        dyn = None
        if dynamic_batch:
            dyn = {n: {0: "batch"} for n in input_names}
            dyn[output_name] = {0: "batch"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, args, str(path), input_names=list(input_names), output_names=[output_name],
                dynamic_axes=dyn, opset_version=opset, do_constant_folding=True, dynamo=False,
            )
    else:
        _patch_dynamo_version_conversion()
        dynamic_shapes = None
        if dynamic_batch:
            batch = torch.export.Dim("batch", min=1, max=1024)
            dynamic_shapes = {n: {0: batch} for n in input_names}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prog = torch.onnx.export(
                module, args, input_names=list(input_names), output_names=[output_name], opset_version=opset,
                dynamo=True, dynamic_shapes=dynamic_shapes, external_data=True, optimize=True, verbose=False,
            )
        prog.save(str(path), external_data=True)


# --------------------------------------------------------------------------
# manifest pieces
# --------------------------------------------------------------------------

_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}


def preprocess_spec(ip) -> dict:
    """Express a transformers image processor as the manifest's ``preprocess`` block.

    Value mapping: transformers computes ((x*r + offset) - M) / S (then / std again if
    EfficientNet's include_top). With q = x/255 that is (q - mean') / std' where
    mean' = (M - offset)/(255 r) and std' = S/(255 r); the manifest stores 1/255, mean', std'.
    """
    if not getattr(ip, "do_resize", True):
        raise UserError("image processors without resizing are not supported")
    resample = _RESAMPLE.get(int(ip.resample))
    if resample is None:
        raise UserError(f"unsupported resample filter {ip.resample!r} (nearest, bilinear, bicubic are supported)")
    size = dict(ip.size)
    crop = dict(ip.crop_size) if getattr(ip, "do_center_crop", False) else None
    spec: dict = {}
    if "shortest_edge" in size:
        if crop is None:
            raise UserError("a shortest_edge resize without a centre crop gives variable image sizes; unsupported")
        spec.update(resize="shortest_edge", shortest_edge=int(size["shortest_edge"]),
                    size=[int(crop["height"]), int(crop["width"])])
    elif "height" in size and "width" in size:
        hw = [int(size["height"]), int(size["width"])]
        if crop is None or [int(crop["height"]), int(crop["width"])] == hw:
            spec.update(resize="exact", size=hw)
        else:
            spec.update(resize="exact_center_crop", resize_size=hw, size=[int(crop["height"]), int(crop["width"])])
    else:
        raise UserError(f"unsupported image processor size {size!r}")
    spec["resample"] = resample

    r = float(ip.rescale_factor) if getattr(ip, "do_rescale", True) else 1.0
    offset = -1.0 if getattr(ip, "rescale_offset", False) and getattr(ip, "do_rescale", True) else 0.0
    if getattr(ip, "do_normalize", True):
        m = [float(v) for v in (ip.image_mean if isinstance(ip.image_mean, (list, tuple)) else [ip.image_mean] * 3)]
        s = [float(v) for v in (ip.image_std if isinstance(ip.image_std, (list, tuple)) else [ip.image_std] * 3)]
    else:
        m, s = [0.0] * 3, [1.0] * 3
    if getattr(ip, "include_top", False):
        top = ip.image_std if isinstance(ip.image_std, (list, tuple)) else [ip.image_std] * 3
        s = [a * float(b) for a, b in zip(s, top)]
    k = 255.0 * r
    if offset == 0.0 and abs(k - 1.0) < 1e-12:
        spec["rescale_factor"] = r
        spec["mean"], spec["std"] = m, s
    else:
        spec["rescale_factor"] = 1 / 255
        spec["mean"] = [(a - offset) / k for a in m]
        spec["std"] = [b / k for b in s]
    return spec


def logit_params(model, family: str) -> tuple[float, float | None]:
    if family == "align":
        return 1.0 / float(model.temperature.detach().float()), None
    scale = float(model.logit_scale.detach().float().exp())
    bias = float(model.logit_bias.detach().float()) if family == "siglip" else None
    return scale, bias


def tokenizer_json_text(tokenizer, family: str) -> str:
    from tokenizers import Tokenizer

    if family == "siglip":
        import edgeclip_text as et

        text = et.siglip_tokenizer_json(tokenizer)
    else:
        text = tokenizer.backend_tokenizer.to_str()
    tok = Tokenizer.from_str(text)
    tok.no_padding()
    tok.no_truncation()
    return tok.to_str(pretty=False)


def verify_tokenizer_json(tj_text: str, tokenizer, family: str, ctx: int, texts: list[str]) -> list[dict]:
    """Texts where tokenizer.json (with the manifest's padding rules) differs from the reference."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tj_text)
    tok.enable_truncation(ctx)
    tok.enable_padding(length=ctx, pad_id=tokenizer.pad_token_id, pad_token=tokenizer.pad_token)
    diffs = []
    for t in texts:
        ref = tokenizer(t, padding="max_length", max_length=ctx, truncation=True)
        enc = tok.encode(t)
        mismatch = list(ref["input_ids"]) != enc.ids
        if "attention_mask" in ref and list(ref["attention_mask"]) != enc.attention_mask:
            mismatch = True
        if "token_type_ids" in ref and list(ref["token_type_ids"]) != enc.type_ids:
            mismatch = True
        if mismatch:
            diffs.append({"text": t, "reference": list(ref["input_ids"]), "tokenizer_json": enc.ids})
    return diffs


# --------------------------------------------------------------------------
# the common path: model object -> directory
# --------------------------------------------------------------------------


def write_model_dir(model, tokenizer, image_processor, family: str, out: Path, *, name: str, origin: str,
                    source: dict, exporter: str, opset: int, batch: str, gzip_tokenizer: bool, force: bool,
                    verify: bool = True, quiet: bool = False) -> dict:
    import torch
    import edgeclip_text as et

    log = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    ctx = CONTEXT[family]
    if getattr(tokenizer, "model_max_length", ctx) not in (ctx,) and tokenizer.model_max_length < 10**6:
        ctx = int(tokenizer.model_max_length)
    tcfg = model.config.text_config
    if family != "align" and tcfg.max_position_embeddings < ctx:
        raise UserError(f"text model has {tcfg.max_position_embeddings} positions < context length {ctx}")

    image_size = preprocess_spec(image_processor)
    h, w = image_size["size"]
    dynamic = batch == "dynamic"
    ex_b = 2 if dynamic else 1
    g = torch.Generator().manual_seed(1234)
    pix = synthetic_pixels(ex_b, image_size, g)
    sample_texts = ["a photo of a cat", "a diagram of a small red car parked next to a tree"][:ex_b]
    enc = tokenizer(sample_texts, padding="max_length", max_length=ctx, truncation=True, return_tensors="pt")
    text_names = TEXT_INPUTS[family]
    text_args = tuple(enc[n].to(torch.int64) for n in text_names)

    img_mod, txt_mod = wrappers(model, family)
    with torch.no_grad():
        ref_img = img_mod(pix).numpy()
        ref_txt = txt_mod(*text_args).numpy()
    embed_dim = int(ref_img.shape[-1])
    if ref_txt.shape[-1] != embed_dim:
        raise UserError(f"image ({embed_dim}) and text ({ref_txt.shape[-1]}) embedding sizes differ")

    tj_text = tokenizer_json_text(tokenizer, family)
    texts = et.hard_texts()
    diffs = verify_tokenizer_json(tj_text, tokenizer, family, ctx, texts)
    log(f"[export] tokenizer.json vs reference tokenizer: {len(texts) - len(diffs)}/{len(texts)} hard texts identical")
    for d in diffs:
        log(f"[export]   differs: {d['text'][:70]!r}")

    scale, bias = logit_params(model, family)
    import transformers

    manifest = {
        "format": ec.MANIFEST_FORMAT,
        "version": ec.MANIFEST_VERSION,
        "name": name,
        "family": family,
        "precision": "f32",
        "embed_dim": embed_dim,
        "logit_scale": scale,
        "logit_bias": bias,
        "source": dict(source, exporter=exporter, opset=opset, batch=batch, tool="models/export.py",
                       torch=torch.__version__.split("+")[0], transformers=transformers.__version__),
        "image": {
            "onnx": "image.onnx",
            "inputs": [{"name": "pixel_values", "role": "pixel_values"}],
            "output": "image_embeds",
            "preprocess": image_size,
        },
        "text": {
            "onnx": "text.onnx",
            "inputs": [{"name": n, "role": n} for n in text_names],
            "output": "text_embeds",
            "tokenizer": "tokenizer.json.gz" if gzip_tokenizer else "tokenizer.json",
            "tokenizer_kind": TOKENIZER_KIND[family],
            "tokenizer_origin": origin,
            "context_length": ctx,
            "padding": "max_length",
            "pad_id": int(tokenizer.pad_token_id),
            "pooling": POOLING[family],
        },
    }

    with ec.atomic_directory(out, force=force) as tmp:
        t0 = time.time()
        log(f"[export] image tower -> image.onnx ({exporter}, opset {opset}, batch {batch})")
        export_onnx(img_mod, (pix,), ["pixel_values"], "image_embeds", tmp / "image.onnx", exporter, opset, dynamic)
        log(f"[export] text tower -> text.onnx ({time.time() - t0:.1f}s so far)")
        export_onnx(txt_mod, text_args, text_names, "text_embeds", tmp / "text.onnx", exporter, opset, dynamic)
        log(f"[export] ONNX done in {time.time() - t0:.1f}s")

        # tokenizer + reference files
        if gzip_tokenizer:
            (tmp / "tokenizer.json.gz").write_bytes(ec.gzip_bytes(tj_text.encode("utf-8")))
        else:
            (tmp / "tokenizer.json").write_text(tj_text, encoding="utf-8")
        with tempfile.TemporaryDirectory() as td:
            tokenizer.save_pretrained(td, legacy_format=False) if family != "siglip" else tokenizer.save_pretrained(td)
            for fn in ec.REFERENCE_TOKENIZER_FILES:
                if (Path(td) / fn).is_file():
                    shutil.copy(Path(td) / fn, tmp / fn)
        image_processor.save_pretrained(str(tmp))
        _tidy_json(tmp / "tokenizer_config.json")

        results = {"tokenizer_diffs": diffs}
        if verify:
            results.update(_verify_onnx(tmp, manifest, pix.numpy(), [a.numpy() for a in text_args], ref_img, ref_txt, log))
        (tmp / "model.json").write_text(ec.dump_json(manifest), encoding="utf-8")
        (tmp / "model_card.md").write_text(
            model_card(manifest, model, diffs, results, image_processor), encoding="utf-8"
        )
    log(f"[export] wrote {out}")
    return {"manifest": manifest, **results}


def _tidy_json(path: Path) -> None:
    """Drop absolute temp paths transformers writes into tokenizer_config.json."""
    if not path.is_file():
        return
    cfg = json.loads(path.read_text(encoding="utf-8"))
    for k in ("name_or_path", "vocab_file", "merges_file", "tokenizer_file"):
        cfg.pop(k, None)
    path.write_text(ec.dump_json(cfg), encoding="utf-8")


def _verify_onnx(d: Path, manifest: dict, pix, text_arrays, ref_img, ref_txt, log) -> dict:
    import numpy as np
    import onnx
    import onnxruntime as ort

    for fn in ("image.onnx", "text.onnx"):
        onnx.checker.check_model(str(d / fn))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    si = ort.InferenceSession(str(d / "image.onnx"), so, providers=["CPUExecutionProvider"])
    st = ort.InferenceSession(str(d / "text.onnx"), so, providers=["CPUExecutionProvider"])
    got_names = [i.name for i in st.get_inputs()]
    want = [i["name"] for i in manifest["text"]["inputs"]]
    if got_names != want:
        raise UserError(f"text.onnx inputs are {got_names}, expected {want}")
    oi = si.run(["image_embeds"], {"pixel_values": pix})[0]
    ot = st.run(["text_embeds"], dict(zip(want, text_arrays)))[0]
    if len(pix) > 1:  # dynamic batch: batch 1 must give the same rows
        oi1 = si.run(["image_embeds"], {"pixel_values": pix[1:]})[0]
        ot1 = st.run(["text_embeds"], dict(zip(want, [a[1:] for a in text_arrays])))[0]
        oi = np.concatenate([oi[:1], oi1]) if ec.cosine(oi1[0], oi[1]) > 0.99999 else oi1[:0]
        ot = np.concatenate([ot[:1], ot1]) if ec.cosine(ot1[0], ot[1]) > 0.99999 else ot1[:0]
        if len(oi) != len(pix) or len(ot) != len(pix):
            raise UserError("the ONNX graphs give different results at batch 1 and batch 2")
    res = {
        "image_max_abs_diff": float(np.abs(oi - ref_img).max()),
        "text_max_abs_diff": float(np.abs(ot - ref_txt).max()),
        "image_min_cosine": min(ec.cosine(a, b) for a, b in zip(oi, ref_img)),
        "text_min_cosine": min(ec.cosine(a, b) for a, b in zip(ot, ref_txt)),
    }
    log("[export] onnxruntime vs PyTorch: image max|diff| {image_max_abs_diff:.2e} min cos {image_min_cosine:.8f}; "
        "text max|diff| {text_max_abs_diff:.2e} min cos {text_min_cosine:.8f}".format(**res))
    if res["image_min_cosine"] < 0.9999 or res["text_min_cosine"] < 0.9999:
        raise UserError("onnxruntime output does not match PyTorch (cosine < 0.9999)")
    return res


def model_card(m: dict, model, diffs, results, image_processor) -> str:
    src = m["source"]
    fam = m["family"]
    p = m["image"]["preprocess"]
    n_params = sum(t.numel() for t in model.parameters())
    lines = [f"# {m['name']}", ""]
    if src.get("random_init"):
        lines += [
            "**Random weights. This model is not trained and its embeddings mean nothing.** It exists to test",
            "the edgeclip runtime against a reference on the real architecture, preprocessing and tokenizer.",
            "",
            f"* Made by `models/export.py --random-init --arch {src['arch']} --seed {src['seed']}`",
            f"  ({ARCHS[src['arch']][1]}).",
            "* Weights: re-drawn with variance-preserving scales (linears N(0, 1/fan_in), convolutions",
            "  N(0, 2/fan_in), embeddings N(0, 0.5), LayerNorm weights 1 + N(0, 0.1), BatchNorm weights",
            "  0.06 (1 + N(0, 0.1)), biases N(0, 0.02); then, with L layers per tower, attention query/key",
            "  projections x 4 sqrt(2/L) so attention is selective and residual-branch outputs x sqrt(2/L)",
            "  so deep towers stay out of the chaotic regime) from a",
            "  generator seeded with seed + 1, so that outputs depend on the input as in a trained network"
            + (";" if fam == "align" else "."),
        ] + ([
            "  BatchNorm running statistics then measured on 16 synthetic images with natural-image-like",
            "  spectra (seed + 2).",
        ] if fam == "align" else []) + [
            f"* Logit parameters set by hand: logit_scale {m['logit_scale']:.6g}"
            + (f", logit_bias {m['logit_bias']:.6g}" if m["logit_bias"] is not None else "")
            + (" (temperature 0.02)" if fam == "align" else "") + ".",
        ]
    else:
        lines += [f"Exported from the checkpoint `{src.get('checkpoint')}` with `models/export.py`."]
    lines += [
        f"* Parameters: {n_params:,}; embedding size {m['embed_dim']}; text vocabulary "
        f"{model.config.text_config.vocab_size} tokens, context {m['text']['context_length']}.",
        f"* Exporter: torch.onnx ({src['exporter']}), opset {src['opset']}, batch axis {src['batch']};"
        f" torch {src['torch']}, transformers {src['transformers']}.",
        "",
        "## Tokenizer",
        "",
    ]
    origin = m["text"]["tokenizer_origin"]
    if fam == "clip":
        lines += [
            "Byte-level BPE with the real CLIP vocabulary (49408 tokens): `bpe_simple_vocab_16e6.txt.gz` from the",
            "open_clip_torch package, laid out as CLIP does (256 byte symbols, their `</w>` forms, the first 48894",
            "merges, `<|startoftext|>` 49406, `<|endoftext|>` 49407). `tokenizer.json` is transformers'",
            "`CLIPTokenizerFast` conversion; the reference is that fast tokenizer. (The slow `CLIPTokenizer` runs",
            "ftfy first and so differs on curly quotes, HTML entities, full-width forms, ligatures, control",
            "characters and final sigma.)",
        ] if origin != "pretrained" else ["The checkpoint's own tokenizer (`CLIPTokenizerFast`)."]
    elif fam == "siglip":
        lines += [
            ("A unigram SentencePiece model trained offline on a deterministic generated corpus (ImageNet class "
             "names and prompt templates, words from the CLIP BPE vocabulary, seeded random captions), laid out "
             "like SigLIP's: 0 `<pad>`, 1 `</s>`, 2 `<unk>`, nmt_nfkc normalisation. " if origin == "generated"
             else "The checkpoint's SentencePiece model. ")
            + "The reference is transformers' slow `SiglipTokenizer` (`spiece.model` is kept for it): it",
            "lower-cases, removes ASCII punctuation (`string.punctuation`), collapses Python-`\\s` whitespace runs,",
            "strips, and appends `</s>`; padding uses `</s>` (id 1). `tokenizer.json` reproduces this with",
            "normalizers (Replace ▁→space, Lowercase, Replace punctuation, Replace whitespace, Strip, NFC,",
            "Precompiled nmt_nfkc, Replace/Strip, Prepend ▁), a Metaspace pre-tokenizer and `$A </s>`.",
        ]
    else:
        lines += [
            ("An uncased WordPiece vocabulary trained offline on a deterministic generated corpus with "
             "bert-base-uncased's layout ([PAD] 0, [unused*], [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103). "
             if origin == "generated" else "The checkpoint's WordPiece vocabulary. ")
            + "Reference: `BertTokenizerFast`; `tokenizer.json` is its own serialisation.",
        ]
    lines += ["", f"tokenizer.json vs the reference on the {len(__import__('edgeclip_text').hard_texts())} hard texts "
              f"of tests/fixtures/texts.json: {len(diffs)} differ."]
    for d in diffs:
        lines.append(f"* `{json.dumps(d['text'], ensure_ascii=False)[:100]}`")
    lines += ["", "## Image preprocessing", ""]
    lines.append(f"transformers `{type(image_processor).__name__}` (slow, PIL): "
                 + json.dumps({k: v for k, v in image_processor.to_dict().items()
                               if k in ("size", "crop_size", "do_center_crop", "resample", "rescale_factor",
                                        "rescale_offset", "do_normalize", "image_mean", "image_std", "include_top")}))
    if p["resize"] == "shortest_edge":
        lines.append(f"= resize the shortest side to {p['shortest_edge']} (long side int(size*long/short)), "
                     f"{p['resample']}, centre crop {p['size']} (top = (H-h)//2, left = (W-w)//2).")
    elif p["resize"] == "exact":
        lines.append(f"= resize straight to {p['size']} (aspect ratio not kept), {p['resample']}.")
    else:
        lines.append(f"= resize straight to {p['resize_size']} (aspect not kept), {p['resample']}, then centre crop "
                     f"{p['size']} (offset (H-h)//2, (W-w)//2). The manifest calls this `exact_center_crop`.")
    lines.append(f"Values: x * {p['rescale_factor']:.17g}, then (x - mean) / std with mean {p['mean']} and std {p['std']}.")
    if fam == "align":
        lines.append("ALIGN rescales with an offset (x / 127.5 - 1) and does not normalise; that equals x/255 with "
                     "mean = std = 0.5, which is how the manifest states it.")
    if fam == "align":
        lines += ["", "Pooling note: ALIGN's vision pooler is `nn.AvgPool2d(hidden_dim, ceil_mode=True)` with"
                  f" hidden_dim={model.config.vision_config.hidden_dim}, far larger than the final feature map"
                  " (9x9 at 289 px). It exports as ONNX AveragePool(kernel = stride = hidden_dim, ceil_mode=1,"
                  " count_include_pad=1). PyTorch divides each window by the positions inside the input (81),"
                  " onnxruntime by the whole kernel area, so raw `image_embeds` from the ONNX file are PyTorch's"
                  " times 81/hidden_dim^2; directions, which is all edgeclip uses, are identical."]
    if "image_min_cosine" in results:
        lines += ["", "## Export check", "",
                  f"onnxruntime vs PyTorch on random inputs: image max |diff| {results['image_max_abs_diff']:.2e}, "
                  f"text max |diff| {results['text_max_abs_diff']:.2e}."]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        prog="export.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", metavar="NAME_OR_DIR",
                     help="Hugging Face CLIP/SigLIP/ALIGN checkpoint (hub id or local directory). The scripts default "
                     "to HF_HUB_OFFLINE=1: run with HF_HUB_OFFLINE=0 to let transformers download a hub id")
    src.add_argument("--random-init", action="store_true", help="build --arch with random weights (no download)")
    ap.add_argument("--arch", choices=sorted(ARCHS), help="architecture for --random-init: "
                    + "; ".join(f"{k}: {v[1]}" for k, v in ARCHS.items()))
    ap.add_argument("--seed", type=int, default=0, help="seed for weights and generated tokenizers (default 0)")
    ap.add_argument("--out", type=Path, help="output directory (default models/cache/NAME)")
    ap.add_argument("--name", help="manifest name (default ARCH-random, or the checkpoint's last path component; "
                    "-dynamo/-fixed are appended for non-default exports)")
    ap.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript",
                    help="torch.onnx.export(dynamo=False) or dynamo=True; dynamo writes weights to *.onnx.data (default torchscript)")
    ap.add_argument("--batch", choices=["dynamic", "fixed"], default="dynamic", help="dynamic batch axis or fixed batch 1 (default dynamic)")
    ap.add_argument("--opset", type=int, help="ONNX opset (default 17 for torchscript, 18 for dynamo)")
    ap.add_argument("--attn-implementation", choices=["auto", "sdpa", "eager"], default="auto",
                    help="transformers attention implementation traced into the graph; auto = transformers' "
                    "default (sdpa where the model supports it: CLIP, SigLIP; eager for ALIGN)")
    ap.add_argument("--gzip-tokenizer", action="store_true", help="write tokenizer.json.gz instead of tokenizer.json")
    ap.add_argument("--force", action="store_true", help="replace --out if it exists")
    ap.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-PyTorch check")
    ap.add_argument("--threads", type=int, default=1, help="torch threads used for the export (default 1)")
    args = ap.parse_args(argv)
    if args.random_init and not args.arch:
        ap.error("--random-init needs --arch")
    if args.checkpoint and args.arch:
        ap.error("--arch is only for --random-init")
    if args.opset is None:
        args.opset = 18 if args.exporter == "dynamo" else 17
    return args


def export(args) -> dict:
    import torch

    torch.set_num_threads(max(1, args.threads))
    with tempfile.TemporaryDirectory(prefix="edgeclip-export-") as work:
        if args.random_init:
            model, tok, ip, family, origin = build_random(args.arch, args.seed, Path(work), args.attn_implementation)
            base = f"{args.arch}-random"
            source = {"checkpoint": None, "arch": args.arch, "random_init": True, "seed": args.seed}
        else:
            model, tok, ip, family, origin = build_from_checkpoint(args.checkpoint, args.attn_implementation)
            base = Path(args.checkpoint.rstrip("/")).name
            source = {"checkpoint": args.checkpoint, "arch": None, "random_init": False, "seed": None}
        name = args.name or base + ("-dynamo" if args.exporter == "dynamo" else "") + ("-fixed" if args.batch == "fixed" else "")
        out = args.out or (ec.CACHE_DIR / name)
        return write_model_dir(
            model, tok, ip, family, out, name=name, origin=origin, source=source, exporter=args.exporter,
            opset=args.opset, batch=args.batch, gzip_tokenizer=args.gzip_tokenizer, force=args.force,
            verify=not args.no_verify,
        )


def main(argv=None):
    args = parse_args(argv)
    export(args)
    return 0


if __name__ == "__main__":
    ec.run_main(main)

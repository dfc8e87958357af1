#!/usr/bin/env python3
"""Side-by-side latency of an f32 image encoder and its int8 versions: edgeclip's
(written by `edgeclip quantize`) and onnxruntime's own dynamic-int8 model of the same
network (`onnxruntime.quantization.quantize_dynamic`, made once and cached).

Every round runs, on the same machine and thread count: onnxruntime f32, onnxruntime
dynamic int8, and `EDGECLIP bench --model F32 --model INT8 --image-only --json`. The
table gives medians over the rounds, file sizes, and the ratios the int8 goals are about
(edgeclip int8 / edgeclip f32, edgeclip int8 / onnxruntime int8).

Example:
  models/.venv/bin/python models/compare_int8.py --edgeclip target/release/edgeclip \\
      --f32 models/cache/clip-vit-b32-random --int8 models/cache/clip-vit-b32-random-int8 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_ort as co  # noqa: E402
import edgeclip_common as ec  # noqa: E402
from edgeclip_common import UserError  # noqa: E402


def ort_dynamic_int8(f32_onnx: Path, out: Path) -> Path:
    if out.is_file():
        return out
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    # The linear layers only, like edgeclip quantize (onnxruntime has no CPU ConvInteger for
    # int8 weights, so its default, which also converts the patch convolution, cannot run).
    quantize_dynamic(str(f32_onnx), str(tmp), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    tmp.replace(out)
    return out


def edgeclip_image_ms(cmd, dirs, threads, args) -> list[float]:
    argv = cmd + ["bench", "--image-only", "--threads", str(threads), "--runs", str(args.runs), "--warmup",
                  str(args.warmup), "--json"]
    for d in dirs:
        argv += ["--model", str(d)]
    out = co.run_json(argv, args.timeout, "edgeclip bench")
    try:
        return [r["image"]["latency"]["median_ms"] for r in out["results"]]
    except (KeyError, TypeError):
        raise UserError("edgeclip bench JSON is not an edgeclip-bench/1 report")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--edgeclip", required=True, help="the edgeclip binary")
    p.add_argument("--f32", required=True, type=Path, help="f32 model directory")
    p.add_argument("--int8", required=True, type=Path, help="its `edgeclip quantize` output")
    p.add_argument("--ort-int8", type=Path, help="onnxruntime dynamic-int8 image encoder "
                   "(default: models/cache/<f32 name>-ort-dynamic-int8/image.onnx, made if missing)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timeout", type=float, default=1800.0)
    args = p.parse_args(argv)
    try:
        cmd = co.edgeclip_cmd(args.edgeclip)
        m = ec.load_manifest(args.f32)
        f32_onnx = args.f32 / m["image"]["onnx"]
        ort_q = args.ort_int8 or Path(__file__).resolve().parent / "cache" / f"{args.f32.name}-ort-dynamic-int8" / "image.onnx"
        ort_q = ort_dynamic_int8(f32_onnx, ort_q)
        q8_onnx = args.int8 / ec.load_manifest(args.int8)["image"]["onnx"]
        s32, s8 = co.ort_session(f32_onnx, args.threads), co.ort_session(ort_q, args.threads)
        feed, _ = co.bench_inputs(args.f32, m)
        out = m["image"]["output"]
        t = {"ort f32": [], "ort int8": [], "edgeclip f32": [], "edgeclip int8": []}
        for r in range(args.rounds):
            warm = args.warmup if r == 0 else 1
            t["ort f32"].append(statistics.median(co.time_runs(s32, out, feed, warm, args.runs)))
            t["ort int8"].append(statistics.median(co.time_runs(s8, out, feed, warm, args.runs)))
            a, b = edgeclip_image_ms(cmd, [args.f32, args.int8], args.threads, args)
            t["edgeclip f32"].append(a)
            t["edgeclip int8"].append(b)
            print(f"[int8] round {r + 1}/{args.rounds} done", file=sys.stderr)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    med = {k: statistics.median(v) for k, v in t.items()}
    size = {"ort f32": f32_onnx.stat().st_size, "ort int8": ort_q.stat().st_size,
            "edgeclip f32": f32_onnx.stat().st_size, "edgeclip int8": q8_onnx.stat().st_size}
    print(f"image encoder of {args.f32.name}, batch 1, {args.threads} thread(s), median of {args.rounds} rounds "
          f"x {args.runs} runs")
    print(f"{'runtime / model':16s} {'ms':>8s} {'file MB':>8s}")
    for k in t:
        print(f"{k:16s} {med[k]:8.2f} {size[k] / 1e6:8.1f}")
    print(f"edgeclip int8 / edgeclip f32     {med['edgeclip int8'] / med['edgeclip f32']:.3f}")
    print(f"edgeclip int8 / onnxruntime int8 {med['edgeclip int8'] / med['ort int8']:.3f}")
    print(f"int8 file / f32 file (edgeclip)  {size['edgeclip int8'] / size['edgeclip f32']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

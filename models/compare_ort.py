#!/usr/bin/env python3
"""Compare the edgeclip binary with the onnxruntime reference, or benchmark both.

Compare mode (default): for every --model directory run

    EDGECLIP embed --model DIR --image P ... --text=S ... --json

and the reference pipeline of models/ort_embed.py on the same inputs, print the cosine
similarity of every image and text embedding and the minimum, and exit 1 if any is below
--min-cosine (default 0.9999). Without --image/--text it uses the valid images in
tests/fixtures/images and the texts in tests/fixtures/texts.json.

Bench mode (--bench): latency at batch 1 of the image and text encoders with onnxruntime
(intra_op_num_threads=T, inter_op_num_threads=1, ORT_SEQUENTIAL, ORT_ENABLE_ALL) for each T
in --threads (default 1), warm-up then --runs timed runs, median and mean. With --edgeclip it
also runs `EDGECLIP bench --model DIR --threads T --runs N --json` (schema edgeclip-bench/1)
alternating with onnxruntime for --rounds rounds, and prints the ratio edgeclip/onnxruntime.

EDGECLIP is split like a shell command line, so the reference itself can stand in for the
binary (compare mode only):  --edgeclip "models/.venv/bin/python models/ort_embed.py"

Examples:
  models/.venv/bin/python models/compare_ort.py --edgeclip target/release/edgeclip \\
      --model tests/fixtures/models/clip-tiny --model tests/fixtures/models/siglip-tiny
  models/.venv/bin/python models/compare_ort.py --bench --model models/cache/clip-vit-b32-random \\
      --edgeclip target/release/edgeclip --runs 20 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edgeclip_common as ec  # noqa: E402
from edgeclip_common import UserError  # noqa: E402

DEFAULT_IMAGES = ["landscape.jpg", "portrait.png", "small.png", "square224.png", "exif_rotated.jpg", "gray.png",
                  "rgba.png", "palette.png"]


def edgeclip_cmd(spec: str) -> list[str]:
    parts = shlex.split(spec)
    if not parts:
        raise UserError("--edgeclip is empty")
    exe = Path(parts[0])
    if len(parts) == 1 and not exe.exists() and not any(Path(d, parts[0]).exists() for d in
                                                       __import__("os").environ.get("PATH", "").split(":")):
        raise UserError(f"edgeclip binary not found: {parts[0]} (build it with `cargo build --release`)")
    return parts


def run_json(cmd: list[str], timeout: float, what: str) -> dict:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise UserError(f"cannot run {cmd[0]!r}: not found") from None
    except PermissionError:
        raise UserError(f"cannot run {cmd[0]!r}: not executable") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"{what} timed out after {timeout:.0f}s") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise UserError(f"{what} failed (exit {proc.returncode}): {err[-2000:] or '(no stderr)'}")
    try:
        return json.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        out = proc.stdout.decode("utf-8", "replace")
        raise UserError(f"{what} did not print JSON ({e}): {out[:300]!r}") from None


# --------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------


def default_inputs(images, texts, texts_json):
    if not images and not texts:
        images = [str(ec.FIXTURES_DIR / "images" / n) for n in DEFAULT_IMAGES]
        texts_json = texts_json or ec.FIXTURES_DIR / "texts.json"
    if texts_json:
        data = json.loads(Path(texts_json).read_text(encoding="utf-8"))
        items = data["texts"] if isinstance(data, dict) else data
        texts = list(texts) + [it["text"] if isinstance(it, dict) else it for it in items]
    return list(images), list(texts)


def compare_model(cmd, model_dir, images, texts, timeout):
    import ort_embed

    argv = cmd + ["embed", "--model", str(model_dir)]
    for p in images:
        argv += ["--image", p]
    for t in texts:
        argv.append(f"--text={t}")
    argv.append("--json")
    got = run_json(argv, timeout, f"edgeclip embed on {model_dir}")
    ref = ort_embed.embed(str(model_dir), images, texts)
    rows = []
    gi, gt = got.get("images", []), got.get("texts", [])
    if len(gi) != len(images) or len(gt) != len(texts):
        raise UserError(f"edgeclip returned {len(gi)} images / {len(gt)} texts, expected {len(images)} / {len(texts)}")
    if int(got.get("embed_dim", -1)) != ref["embed_dim"]:
        raise UserError(f"edgeclip embed_dim {got.get('embed_dim')} != {ref['embed_dim']}")
    for a, b in zip(gi, ref["images"]):
        rows.append(("image", b["path"], ec.cosine(a["embedding"], b["embedding"]), a.get("path") == b["path"]))
    for a, b in zip(gt, ref["texts"]):
        rows.append(("text", b["text"], ec.cosine(a["embedding"], b["embedding"]), a.get("text") == b["text"]))
    return rows


def cmd_compare(args) -> int:
    cmd = edgeclip_cmd(args.edgeclip)
    images, texts = default_inputs(args.image, args.text, args.texts_json)
    worst = 1.0
    failed = False
    for model in args.model:
        rows = compare_model(cmd, model, images, texts, args.timeout)
        print(f"== {model}")
        for kind, label, cos, same in rows:
            flag = "" if cos >= args.min_cosine else "  <-- below --min-cosine"
            if not same:
                flag += "  (edgeclip echoed a different path/text)"
            shown = label if kind == "image" else json.dumps(label, ensure_ascii=False)
            if len(shown) > 70:
                shown = shown[:67] + "..."
            if args.verbose or flag:
                print(f"  {kind:5s} {cos:.8f}  {shown}{flag}")
        m = min(r[2] for r in rows) if rows else 1.0
        print(f"  {len(rows)} items, min cosine {m:.8f}")
        worst = min(worst, m)
        failed |= m < args.min_cosine
    print(f"overall min cosine {worst:.8f} (threshold {args.min_cosine})")
    return 1 if failed else 0


# --------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------


def ort_session(path: Path, threads: int):
    """An onnxruntime CPU session with `threads` intra-op threads, sequential, all optimisations."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_sessions(model_dir: Path, threads: int):
    m = ec.load_manifest(model_dir)
    return m, ort_session(model_dir / m["image"]["onnx"], threads), ort_session(model_dir / m["text"]["onnx"], threads)


def bench_inputs(model_dir: Path, m: dict):
    ref = ec.Reference(model_dir)
    pix = ref.pixels(ec.FIXTURES_DIR / "images" / "landscape.jpg") if (ec.FIXTURES_DIR / "images" / "landscape.jpg").is_file() \
        else None
    if pix is None:
        import numpy as np

        h, w = m["image"]["preprocess"]["size"]
        pix = np.random.default_rng(0).standard_normal((1, 3, h, w)).astype("float32")
    img_feed = {m["image"]["inputs"][0]["name"]: pix}
    txt_feed = ref.text_feed([ref.encode("a photo of a cat sitting on a red sofa")])
    return img_feed, txt_feed


def time_runs(sess, out_name, feed, warmup, runs) -> list[float]:
    for _ in range(warmup):
        sess.run([out_name], feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run([out_name], feed)
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def edgeclip_bench(cmd, model: Path, threads: int, args) -> dict:
    """One `edgeclip bench --json` run: {"image_encoder": latency, "text_encoder": latency}."""
    out = run_json(cmd + ["bench", "--model", str(model), "--threads", str(threads), "--runs", str(args.runs),
                          "--warmup", str(args.warmup), "--json"], args.timeout, f"edgeclip bench on {model}")
    try:
        r = out["results"][0]
        return {"image_encoder": r["image"]["latency"], "text_encoder": r["text"]["latency"]}
    except (KeyError, IndexError, TypeError):
        raise UserError(f"edgeclip bench JSON is not an edgeclip-bench/1 report: {json.dumps(out)[:300]}")


def cmd_bench(args) -> int:
    cmd = edgeclip_cmd(args.edgeclip) if args.edgeclip else None
    results = []
    edgeclip_error = None
    for model in args.model:
        model = Path(model)
        for threads in args.threads:
            m, si, st = ort_sessions(model, threads)
            img_feed, txt_feed = bench_inputs(model, m)
            ort_t = {"image_encoder": [], "text_encoder": []}
            ec_t = {"image_encoder": [], "text_encoder": []}
            for r in range(args.rounds):
                warm = args.warmup if r == 0 else 1
                ort_t["image_encoder"] += time_runs(si, m["image"]["output"], img_feed, warm, args.runs)
                ort_t["text_encoder"] += time_runs(st, m["text"]["output"], txt_feed, warm, args.runs)
                if cmd and edgeclip_error is None:
                    try:
                        out = edgeclip_bench(cmd, model, threads, args)
                        for k in ec_t:
                            ec_t[k].append(out[k])
                    except UserError as e:
                        edgeclip_error = str(e)
                print(f"[bench] {model.name} threads {threads}: round {r + 1}/{args.rounds} done", file=sys.stderr)
            row = {"model": str(model), "threads": threads, "ort": {}, "edgeclip": {}}
            for k in ort_t:
                row["ort"][k] = {"median_ms": statistics.median(ort_t[k]), "mean_ms": statistics.fmean(ort_t[k]),
                                 "runs": len(ort_t[k])}
                if ec_t[k]:
                    meds = [x["median_ms"] for x in ec_t[k]]
                    means = [x.get("mean_ms", x["median_ms"]) for x in ec_t[k]]
                    row["edgeclip"][k] = {"median_ms": statistics.median(meds), "mean_ms": statistics.fmean(means),
                                          "runs": sum(int(x.get("runs", args.runs)) for x in ec_t[k])}
            results.append(row)
            del si, st

    if args.json:
        print(json.dumps({"results": results, "edgeclip_error": edgeclip_error}, indent=2))
    else:
        hdr = (f"{'model':32s} {'thr':>3s} {'encoder':6s} {'ort med':>9s} {'ort mean':>9s} {'edge med':>9s} "
               f"{'edge mean':>9s} {'ratio':>6s}")
        print(hdr)
        print("-" * len(hdr))
        for row in results:
            for k, label in (("image_encoder", "image"), ("text_encoder", "text")):
                o = row["ort"][k]
                e = row["edgeclip"].get(k)
                es = f"{e['median_ms']:9.2f} {e['mean_ms']:9.2f} {e['median_ms'] / o['median_ms']:6.2f}" if e else \
                    f"{'-':>9s} {'-':>9s} {'-':>6s}"
                print(f"{Path(row['model']).name[:32]:32s} {row['threads']:3d} {label:6s} {o['median_ms']:9.2f} "
                      f"{o['mean_ms']:9.2f} {es}")
        print("times in ms, batch 1; ratio = edgeclip median / onnxruntime median")
    if edgeclip_error:
        print(f"error: edgeclip bench unusable, onnxruntime numbers only: {edgeclip_error}", file=sys.stderr)
        return 3
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="compare_ort.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edgeclip", metavar="CMD", help="edgeclip binary (required for compare mode)")
    ap.add_argument("--model", action="append", required=True, metavar="DIR", help="model directory (repeatable)")
    ap.add_argument("--image", "--images", dest="image", nargs="+", action="extend", default=[], metavar="PATH",
                    help="images to compare (default: the valid fixture images)")
    ap.add_argument("--text", "--texts", dest="text", nargs="+", action="extend", default=[], metavar="TEXT",
                    help="texts to compare (default: tests/fixtures/texts.json)")
    ap.add_argument("--texts-json", type=Path, help="a texts.json file to add to the texts")
    ap.add_argument("--min-cosine", type=float, default=0.9999, help="failure threshold (default 0.9999)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per edgeclip run (default 600)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every item, not only failures")
    ap.add_argument("--bench", action="store_true", help="benchmark instead of comparing")
    ap.add_argument("--runs", type=int, default=20, help="bench: timed runs per round (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="bench: warm-up runs (default 3)")
    ap.add_argument("--rounds", type=int, default=3, help="bench: alternating onnxruntime/edgeclip rounds (default 3)")
    ap.add_argument("--json", action="store_true", help="bench: print results as JSON")
    ap.add_argument("--threads", type=lambda v: [int(x) for x in v.split(",")], default=[1], metavar="T[,T...]",
                    help="bench: thread counts for both runtimes (default 1)")
    args = ap.parse_args(argv)
    for mdir in args.model:
        ec.load_manifest(Path(mdir))
    if args.bench:
        return cmd_bench(args)
    if not args.edgeclip:
        ap.error("compare mode needs --edgeclip (or use --bench)")
    return cmd_compare(args)


if __name__ == "__main__":
    ec.run_main(main)

#!/usr/bin/env python3
"""Side-by-side timing of the reference corruptions (imagecorruptions 1.1.2) and edgeclip's
engine on the same pixels, one thread each, alternating the two sides in rounds.

    models/.venv/bin/python benches/compare_imagecorruptions.py --edgeclip target/release/edgeclip \\
        [--image PATH] [--size 224] [--repeats 5] [--severities 1,3,5] [--rounds 2] \\
        [--corruptions fog,frost] [--markdown] [--json OUT] [--python-only]

The test image is --image (default tests/fixtures/images/landscape.jpg) centre-cropped to a square
and resized to --size x --size (PIL LANCZOS), written to a temporary PNG that both sides read.

Reference side: for each of the 19 corruptions and each severity, the median wall time over
--repeats calls (after one warm-up call) of imagecorruptions.corrupt(img, corruption_name=...,
severity=s), uint8 HxWx3 in and out, OMP/OpenBLAS/MKL and OpenCV limited to one thread.
edgeclip side: `<edgeclip> corrupt <image.png> --profile imagenet-c --bench --threads 1 --json`,
which prints a JSON array of {"corruption": name, "severity": s, "median_ms": t}.

Rounds run python, edgeclip, python, edgeclip, ...; a cell (corruption, severity) is the median over
rounds of that round's median. A corruption's time is the median of its cells over --severities;
the total is the sum over the corruptions, the speedup reference / edgeclip.

Install the reference first (see models/corruption_reference.py):
    models/.venv/bin/pip install -r models/requirements.txt
    models/.venv/bin/pip install --no-deps imagecorruptions==1.1.2
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "models"))
import corruption_reference as cr  # noqa: E402  (before numpy / cv2)

DEFAULT_IMAGE = REPO / "tests" / "fixtures" / "images" / "landscape.jpg"
DEFAULT_EDGECLIP = REPO / "target" / "release" / "edgeclip"


class EdgeclipFailed(Exception):
    pass


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def make_image(src: Path, size: int, png_path: Path):
    """Centre-crop src to a square, resize to size x size (LANCZOS), save as PNG; return the
    uint8 array decoded from that PNG (exactly what edgeclip will read)."""
    import numpy as np
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s)).resize((size, size), Image.LANCZOS)
        im.save(png_path, format="PNG")
    with Image.open(png_path) as im:
        return np.asarray(im.convert("RGB")).copy()


def time_python(img, names, severities, repeats) -> tuple[dict, dict]:
    """Returns ({name: {sev: median_ms}}, {name: {sev: [samples_ms]}})."""
    import numpy as np

    med, raw = {}, {}
    for name in names:
        med[name], raw[name] = {}, {}
        for s in severities:
            np.random.seed(0)
            cr.corrupt(img, name, s)  # warm-up (imports, caches, frost texture file read)
            samples = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                cr.corrupt(img, name, s)
                samples.append((time.perf_counter() - t0) * 1e3)
            med[name][s] = statistics.median(samples)
            raw[name][s] = samples
    return med, raw


def edgeclip_command(edgeclip: Path, png: Path, extra: list[str]) -> list[str]:
    return [str(edgeclip), "corrupt", str(png), "--profile", "imagenet-c", "--bench", "--threads", "1", "--json",
            *extra]


def _parse_rows(stdout: str):
    text = stdout.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    for line in reversed(text.splitlines()):  # tolerate log lines before the array
        line = line.strip()
        if line.startswith("["):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    start = text.find("[")
    if start >= 0:
        try:
            return json.loads(text[start:])
        except json.JSONDecodeError:
            pass
    raise EdgeclipFailed("its stdout is not a JSON array: " + (text[:300] or "<empty>"))


def time_edgeclip(cmd: list[str], timeout: float) -> dict:
    """Returns {name: {sev: median_ms}} from one run of the edgeclip bench command."""
    exe = Path(cmd[0])
    if not exe.exists():
        raise EdgeclipFailed(f"{exe} does not exist (build it with `cargo build --release`)")
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise EdgeclipFailed(f"timed out after {timeout:.0f} s") from None
    except OSError as e:
        raise EdgeclipFailed(f"cannot run it: {e}") from None
    if p.returncode != 0:
        err = (p.stderr.strip() or p.stdout.strip())[-600:] or "(no output)"
        raise EdgeclipFailed(f"exit code {p.returncode}: {err}")
    rows = _parse_rows(p.stdout)
    if not isinstance(rows, list):
        raise EdgeclipFailed("expected a JSON array")
    out: dict = {}
    for r in rows:
        try:
            name, sev, ms = str(r["corruption"]), int(r["severity"]), float(r["median_ms"])
        except (KeyError, TypeError, ValueError):
            raise EdgeclipFailed(f"unexpected row {r!r}; want {{corruption, severity, median_ms}}") from None
        out.setdefault(name, {})[sev] = ms
    if not out:
        raise EdgeclipFailed("it reported no timings")
    return out


def combine(rounds: list[dict], names, severities) -> dict:
    """{name: {sev: median over rounds}} for the cells present in at least one round."""
    cells = {}
    for name in names:
        for s in severities:
            vals = [r[name][s] for r in rounds if name in r and s in r[name]]
            if vals:
                cells.setdefault(name, {})[s] = statistics.median(vals)
    return cells


def per_corruption(cells: dict, name: str, severities) -> float | None:
    vals = [cells[name][s] for s in severities if name in cells and s in cells[name]]
    if len(vals) != len(severities):
        return None
    return statistics.median(vals)


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def fmt_x(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    r = a / b
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def render(rows: list[tuple[str, str, str, str]], markdown: bool) -> str:
    head = ("corruption", "imagecorruptions ms", "edgeclip ms", "speedup")
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "| --- | ---: | ---: | ---: |"]
        for r in rows:
            lines.append("| " + " | ".join(f"**{c}**" if r[0] == "total" else c for c in r) + " |")
        return "\n".join(lines)
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(4)]

    def line(r):
        return "  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])])

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep] + [line(r) for r in rows[:-1]] + [sep, line(rows[-1])])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="compare_imagecorruptions.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edgeclip", type=Path, default=DEFAULT_EDGECLIP,
                    help=f"edgeclip binary (default {DEFAULT_EDGECLIP.relative_to(REPO)})")
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="source image (default landscape.jpg)")
    ap.add_argument("--size", type=int, default=224, help="square side after centre crop + resize (default 224)")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per cell per python round (default 5)")
    ap.add_argument("--severities", default="1,3,5", help="comma-separated severities (default 1,3,5)")
    ap.add_argument("--rounds", type=int, default=2, help="python/edgeclip alternations (default 2)")
    ap.add_argument("--corruptions", default=None, help="comma-separated subset (default: all 19)")
    ap.add_argument("--python-only", action="store_true", help="time only the reference")
    ap.add_argument("--edgeclip-arg", action="append", default=[], metavar="ARG",
                    help="extra argument appended to the edgeclip command (repeatable)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per edgeclip run (default 1800)")
    ap.add_argument("--markdown", action="store_true", help="print the table as GitHub markdown")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT", help="write all raw numbers here")
    args = ap.parse_args(argv)

    try:
        severities = sorted({int(s) for s in args.severities.split(",") if s.strip()})
    except ValueError:
        ap.error("--severities: comma-separated integers 1..5")
    if not severities or any(s not in cr.SEVERITIES for s in severities):
        ap.error("--severities: comma-separated integers 1..5")
    names = cr.CORRUPTIONS
    if args.corruptions:
        names = [n.strip() for n in args.corruptions.split(",") if n.strip()]
        bad = [n for n in names if n not in cr.CORRUPTIONS]
        if bad:
            ap.error(f"unknown corruption(s) {bad}; known: {', '.join(cr.CORRUPTIONS)}")
    if args.repeats < 1 or args.rounds < 1 or args.size < 32:
        ap.error("--repeats and --rounds must be >= 1, --size >= 32")
    if not args.image.is_file():
        ap.error(f"--image {args.image} not found")
    try:
        cr.load()
    except cr.ReferenceMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    py_rounds, py_raw, rs_rounds = [], [], []
    rs_error = None
    run_rust = not args.python_only
    with tempfile.TemporaryDirectory(prefix="edgeclip-corrupt-bench-") as tmp:
        png = Path(tmp) / f"bench_{args.size}.png"
        img = make_image(args.image, args.size, png)
        cmd = edgeclip_command(args.edgeclip, png, args.edgeclip_arg)
        log(f"image {args.image.name} -> {args.size}x{args.size}; severities {severities}; "
            f"{args.repeats} repeats; {args.rounds} round(s)")
        for rnd in range(args.rounds):
            t0 = time.perf_counter()
            med, raw = time_python(img, names, severities, args.repeats)
            py_rounds.append(med)
            py_raw.append(raw)
            log(f"round {rnd + 1}: imagecorruptions {time.perf_counter() - t0:.1f} s")
            if run_rust:
                t0 = time.perf_counter()
                try:
                    rs_rounds.append(time_edgeclip(cmd, args.timeout))
                    log(f"round {rnd + 1}: edgeclip {time.perf_counter() - t0:.1f} s")
                except EdgeclipFailed as e:
                    rs_error = f"edgeclip side failed: `{' '.join(cmd)}`: {e}"
                    log(rs_error + "; continuing with the reference only")
                    run_rust = False

    py_cells = combine(py_rounds, names, severities)
    rs_cells = combine(rs_rounds, names, severities)
    rows, table = [], []
    py_total = rs_total = 0.0
    rs_count = 0
    for name in names:
        a, b = per_corruption(py_cells, name, severities), per_corruption(rs_cells, name, severities)
        py_total += a
        if b is not None:
            rs_total += b
            rs_count += 1
        rows.append((name, fmt_ms(a), fmt_ms(b), fmt_x(a, b)))
        table.append({"corruption": name, "reference_ms": a, "edgeclip_ms": b,
                      "speedup": (a / b) if b else None})
    complete = rs_count == len(names)
    total_label = "total" if complete or rs_count == 0 else f"total ({rs_count}/{len(names)} on edgeclip)"
    rows.append((total_label, fmt_ms(py_total), fmt_ms(rs_total if rs_count else None),
                 fmt_x(py_total, rs_total) if complete else "-"))
    print(render(rows, args.markdown))
    extra = sorted({n for r in rs_rounds for n in r} - set(cr.CORRUPTIONS))
    if extra:
        log(f"edgeclip also reported {extra} (not an imagecorruptions name; not in the table)")
    if rs_error:
        print(f"\nnote: {rs_error}", file=sys.stderr)
    elif args.python_only:
        print("\nnote: --python-only: edgeclip was not run", file=sys.stderr)

    if args.json:
        out = {
            "image": {"source": str(args.image), "size": args.size},
            "severities": severities,
            "repeats": args.repeats,
            "rounds": args.rounds,
            "threads": 1,
            "reference": cr.versions(),
            "edgeclip": {"command": None if args.python_only else edgeclip_command(args.edgeclip, Path("<image.png>"),
                                                                                    args.edgeclip_arg),
                         "error": rs_error},
            "cells_ms": {"reference": {n: {str(s): v for s, v in c.items()} for n, c in py_cells.items()},
                         "edgeclip": {n: {str(s): v for s, v in c.items()} for n, c in rs_cells.items()}},
            "rounds_ms": {
                "reference": [{n: {str(s): v for s, v in c.items()} for n, c in r.items()} for r in py_rounds],
                "edgeclip": [{n: {str(s): v for s, v in c.items()} for n, c in r.items()} for r in rs_rounds],
            },
            "reference_samples_ms": [{n: {str(s): v for s, v in c.items()} for n, c in r.items()} for r in py_raw],
            "table": table,
            "total": {"reference_ms": py_total, "edgeclip_ms": rs_total if complete else None,
                      "speedup": (py_total / rs_total) if complete and rs_total else None},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        log(f"wrote {args.json}")
    return 1 if rs_error else 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared helpers for the edgeclip Python tooling.

* atomic file and directory writes,
* reading an edgeclip model directory (``model.json``),
* the *reference pipeline* used for goldens and comparisons:
  ``transformers.image_utils.load_image`` (EXIF transpose + RGB) -> the family's
  (slow, PIL based) transformers image processor; the transformers tokenizer with
  ``padding="max_length", max_length=context_length, truncation=True``; then
  onnxruntime (CPUExecutionProvider) on the directory's ONNX files.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "models"
CACHE_DIR = MODELS_DIR / "cache"
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures"

MANIFEST_FORMAT = "edgeclip-model"
MANIFEST_VERSION = 1
FAMILIES = ("clip", "siglip", "align")


class UserError(Exception):
    """An error caused by bad input; printed without a traceback."""


def die(msg: str, code: int = 2):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)


def run_main(main):
    """Run ``main()`` turning UserError into a one-line message and exit code 2."""
    try:
        rc = main()
    except UserError as e:
        die(str(e))
    except KeyboardInterrupt:
        die("interrupted", 130)
    sys.exit(rc or 0)


# --------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dump_json(obj, indent: int | None = 2) -> str:
    if indent is None:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(obj, ensure_ascii=False, indent=indent) + "\n"


def atomic_write_json(path: Path, obj, indent: int | None = 2) -> None:
    atomic_write_text(path, dump_json(obj, indent))


def gzip_bytes(data: bytes) -> bytes:
    # mtime=0 and no file name: byte-identical output for identical input
    return gzip.compress(data, compresslevel=9, mtime=0)


@contextlib.contextmanager
def atomic_directory(dest: Path, force: bool = False):
    """Yield a fresh temporary directory next to ``dest``; on success it replaces ``dest``.

    If ``dest`` exists and is not empty, ``force`` is required. The old directory is
    moved aside first and deleted only after the new one is in place.
    """
    dest = Path(dest).resolve()
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise UserError(f"{dest} already exists and is not empty (use --force to replace it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        old = None
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
            os.rmdir(old)
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------
# model directory
# --------------------------------------------------------------------------


def load_manifest(model_dir: Path) -> dict:
    model_dir = Path(model_dir)
    path = model_dir / "model.json"
    if not path.is_file():
        raise UserError(f"{model_dir} is not an edgeclip model directory (no model.json)")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: invalid JSON: {e}") from None
    if m.get("format") != MANIFEST_FORMAT or m.get("version") != MANIFEST_VERSION:
        raise UserError(f"{path}: not an edgeclip-model version {MANIFEST_VERSION} manifest")
    if m.get("family") not in FAMILIES:
        raise UserError(f"{path}: unknown family {m.get('family')!r}")
    return m


def image_processor_class(family: str):
    # The slow (PIL based) processors are the reference; the *Fast ones use torchvision.
    if family == "clip":
        from transformers import CLIPImageProcessor as C
    elif family == "siglip":
        from transformers import SiglipImageProcessor as C
    elif family == "align":
        from transformers import EfficientNetImageProcessor as C
    else:
        raise UserError(f"unknown family {family!r}")
    return C


def tokenizer_class(family: str):
    if family == "clip":
        from transformers import CLIPTokenizerFast as C
    elif family == "siglip":
        from transformers import SiglipTokenizer as C  # transformers has no fast SigLIP tokenizer
    elif family == "align":
        from transformers import BertTokenizerFast as C
    else:
        raise UserError(f"unknown family {family!r}")
    return C


REFERENCE_TOKENIZER_FILES = ("tokenizer_config.json", "special_tokens_map.json", "spiece.model")


def load_reference_image_processor(model_dir: Path, manifest: dict):
    model_dir = Path(model_dir)
    if not (model_dir / "preprocessor_config.json").is_file():
        raise UserError(f"{model_dir}: preprocessor_config.json missing (needed for the reference pipeline)")
    return image_processor_class(manifest["family"]).from_pretrained(str(model_dir))


def load_reference_tokenizer(model_dir: Path, manifest: dict):
    """The transformers tokenizer the export was made from (slow SiglipTokenizer for SigLIP)."""
    model_dir = Path(model_dir)
    family = manifest["family"]
    with tempfile.TemporaryDirectory(prefix="edgeclip-tok-") as tmp:
        tmp = Path(tmp)
        for name in REFERENCE_TOKENIZER_FILES:
            if (model_dir / name).is_file():
                shutil.copy(model_dir / name, tmp / name)
        tj = manifest["text"]["tokenizer"]
        src = model_dir / tj
        if not src.is_file():
            raise UserError(f"{model_dir}: tokenizer file {tj} missing")
        if family != "siglip":
            data = src.read_bytes()
            if tj.endswith(".gz"):
                data = gzip.decompress(data)
            (tmp / "tokenizer.json").write_bytes(data)
        elif not (tmp / "spiece.model").is_file():
            raise UserError(f"{model_dir}: spiece.model missing (the SigLIP reference tokenizer needs it)")
        tok = tokenizer_class(family).from_pretrained(str(tmp))
        if family == "siglip":
            tok.sp_model  # loaded eagerly; the temp dir may go away
    return tok


class Reference:
    """The reference pipeline for one model directory."""

    def __init__(self, model_dir: Path, threads: int = 1):
        import onnxruntime as ort

        self.dir = Path(model_dir)
        self.manifest = load_manifest(self.dir)
        self.family = self.manifest["family"]
        self.context_length = int(self.manifest["text"]["context_length"])
        self.image_processor = load_reference_image_processor(self.dir, self.manifest)
        self.tokenizer = load_reference_tokenizer(self.dir, self.manifest)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.image_session = ort.InferenceSession(
            str(self.dir / self.manifest["image"]["onnx"]), so, providers=["CPUExecutionProvider"]
        )
        self.text_session = ort.InferenceSession(
            str(self.dir / self.manifest["text"]["onnx"]), so, providers=["CPUExecutionProvider"]
        )
        self.fixed_batch = self.manifest.get("source", {}).get("batch") == "fixed"

    # images -------------------------------------------------------------
    def pixels(self, path) -> "np.ndarray":
        import numpy as np
        from transformers.image_utils import load_image

        p = Path(path)
        if not p.is_file():
            raise UserError(f"image not found: {p}")
        img = load_image(str(p))
        out = self.image_processor(images=img, return_tensors="np")["pixel_values"]
        return np.ascontiguousarray(out, dtype=np.float32)

    def embed_pixels(self, pixel_values) -> "np.ndarray":
        import numpy as np

        outs = []
        step = 1 if self.fixed_batch else len(pixel_values)
        for i in range(0, len(pixel_values), max(step, 1)):
            feed = {self.manifest["image"]["inputs"][0]["name"]: pixel_values[i : i + step]}
            outs.append(self.image_session.run([self.manifest["image"]["output"]], feed)[0])
        return np.concatenate(outs, 0).astype(np.float32)

    # texts --------------------------------------------------------------
    def encode(self, text: str) -> dict:
        enc = self.tokenizer(text, padding="max_length", max_length=self.context_length, truncation=True)
        return {k: [int(x) for x in v] for k, v in enc.items()}

    def text_feed(self, encodings: list[dict]) -> dict:
        import numpy as np

        feed = {}
        for inp in self.manifest["text"]["inputs"]:
            role = inp["role"]
            if role == "position_ids":
                arr = np.tile(np.arange(self.context_length, dtype=np.int64), (len(encodings), 1))
            else:
                arr = np.array([e[role] for e in encodings], dtype=np.int64)
            feed[inp["name"]] = arr
        return feed

    def embed_encodings(self, encodings: list[dict]) -> "np.ndarray":
        import numpy as np

        outs = []
        step = 1 if self.fixed_batch else max(len(encodings), 1)
        for i in range(0, len(encodings), step):
            feed = self.text_feed(encodings[i : i + step])
            outs.append(self.text_session.run([self.manifest["text"]["output"]], feed)[0])
        return np.concatenate(outs, 0).astype(np.float32)

    def embed_texts(self, texts: list[str]) -> "np.ndarray":
        return self.embed_encodings([self.encode(t) for t in texts])

    def embed_images(self, paths) -> "np.ndarray":
        import numpy as np

        if not paths:
            return np.zeros((0, self.manifest["embed_dim"]), np.float32)
        return self.embed_pixels(np.concatenate([self.pixels(p) for p in paths], 0))


def l2_normalize(x):
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def cosine(a, b) -> float:
    import numpy as np

    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(a @ b / (na * nb))

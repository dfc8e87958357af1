"""The reference for edgeclip's image corruption engine: ``imagecorruptions`` 1.1.2 (the
ImageNet-C corruptions, Hendrycks & Dietterich 2019), made to run on today's NumPy / SciPy /
scikit-image without editing the installed package.

Install (into the project venv; ``--no-deps`` keeps pip from pulling ``opencv-python``, which
needs libGL, next to the pinned ``opencv-python-headless``):

    models/.venv/bin/pip install -r models/requirements.txt
    models/.venv/bin/pip install --no-deps imagecorruptions==1.1.2

Fixes applied at import time by :func:`load` (the package's files stay as shipped):

* ``np.float_`` (removed in NumPy 2) is set to ``np.float64`` (used by ``plasma_fractal``);
* ``scipy.ndimage.interpolation`` gets a shim module if this SciPy no longer has it;
* ``pkg_resources`` (setuptools < 81) gets a shim providing ``resource_filename`` if it is
  missing; its deprecation warning is silenced;
* ``imagecorruptions.corruptions.gaussian`` is wrapped so ``multichannel=True`` (removed in
  scikit-image 0.19+) becomes ``channel_axis=-1``;
* ``skimage.util.random_noise`` (used by ``impulse_noise``) is called with an explicit
  ``rng`` drawn from NumPy's legacy global state: since scikit-image 0.19 it uses a fresh
  ``np.random.default_rng()`` and would ignore ``np.random.seed``. The noise has the same
  distribution; it is only made reproducible.

Helpers for goldens: :func:`fixed_uniform` (motion_blur's angle), :func:`record_plasma`
(fog's random field) and :func:`record_elastic` (elastic_transform's two raw uniform fields).
The recording wrappers hand the float32-rounded values back to the reference, so a golden is
exactly ``reference(field as stored)``; :func:`inject_plasma` and :func:`inject_uniform` replay
stored fields (make_corruption_goldens.py checks that the replay gives the golden).

Import this module before NumPy/OpenCV in a script that times things: it sets
OMP/OpenBLAS/MKL thread counts to 1 unless already set, and :func:`load` sets
``cv2.setNumThreads(1)``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
import warnings

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

IMAGECORRUPTIONS_VERSION = "1.1.2"
INSTALL_HINT = (
    "models/.venv/bin/pip install -r models/requirements.txt && "
    f"models/.venv/bin/pip install --no-deps imagecorruptions=={IMAGECORRUPTIONS_VERSION}"
)

# imagecorruptions.corruption_tuple order: 15 common corruptions, then 4 validation ones.
CORRUPTIONS = [
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
    "speckle_noise", "gaussian_blur", "spatter", "saturate",
]
SEVERITIES = [1, 2, 3, 4, 5]

_ic = None


class ReferenceMissing(Exception):
    pass


def _shim_modules():
    import numpy as np

    if not hasattr(np, "float_") or np.float_ is not np.float64:
        np.float_ = np.float64
    try:
        import scipy.ndimage.interpolation  # noqa: F401
    except ImportError:
        import scipy.ndimage as ndi

        shim = types.ModuleType("scipy.ndimage.interpolation")
        shim.map_coordinates = ndi.map_coordinates
        shim.zoom = ndi.zoom
        sys.modules["scipy.ndimage.interpolation"] = shim
        ndi.interpolation = shim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            shim = types.ModuleType("pkg_resources")

            def resource_filename(package, resource):
                mod = sys.modules[package]
                return os.path.join(os.path.dirname(mod.__file__), resource)

            shim.resource_filename = resource_filename
            sys.modules["pkg_resources"] = shim


def _patched_gaussian(orig):
    def gaussian(image, *args, multichannel=None, **kw):
        if multichannel:
            kw.setdefault("channel_axis", -1)
        return orig(image, *args, **kw)

    gaussian.__wrapped__ = orig
    return gaussian


def _patched_random_noise(orig):
    import numpy as np

    def random_noise(image, mode="gaussian", rng=None, clip=True, **kw):
        if rng is None:
            rng = int(np.random.randint(0, 2**31 - 1))
        return orig(image, mode=mode, rng=rng, clip=clip, **kw)

    random_noise.__wrapped__ = orig
    return random_noise


def load():
    """Import imagecorruptions with the compatibility fixes; idempotent. Returns the package."""
    global _ic
    if _ic is not None:
        return _ic
    _shim_modules()
    try:
        import cv2
    except ImportError as e:
        raise ReferenceMissing(f"OpenCV is missing ({e}); install with: {INSTALL_HINT}") from None
    cv2.setNumThreads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import imagecorruptions
            import imagecorruptions.corruptions as icc
        except ImportError as e:
            raise ReferenceMissing(f"imagecorruptions is not importable ({e}); install with: {INSTALL_HINT}") from None
    if not hasattr(icc.gaussian, "__wrapped__"):
        icc.gaussian = _patched_gaussian(icc.gaussian)
    import skimage.util

    if not hasattr(skimage.util.random_noise, "__wrapped__"):
        # corruptions.py calls it as sk.util.random_noise
        skimage.util.random_noise = _patched_random_noise(skimage.util.random_noise)
    _ic = imagecorruptions
    return _ic


def corrupt(img, name: str, severity: int):
    """imagecorruptions.corrupt(img, corruption_name=name, severity=severity) -> uint8 HxWx3."""
    return load().corrupt(img, corruption_name=name, severity=severity)


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist, key in [("imagecorruptions", "imagecorruptions"), ("numpy", "numpy"), ("scipy", "scipy"),
                      ("scikit-image", "scikit-image"), ("opencv-python-headless", "opencv"),
                      ("pillow", "pillow")]:
        try:
            out[key] = version(dist)
        except PackageNotFoundError:
            out[key] = None
    if out["opencv"] is None:
        import cv2

        out["opencv"] = cv2.__version__
    return out


def frost_files() -> list[str]:
    """The six frost images shipped in the package (frost() picks only the first five:
    ``np.random.randint(5)``)."""
    pkg = os.path.dirname(load().__file__)
    names = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg"]
    return [os.path.join(pkg, "frost", n) for n in names]


# --------------------------------------------------------------------------
# capturing / fixing the random inputs
# --------------------------------------------------------------------------


@contextlib.contextmanager
def _patch_uniform(fn):
    import numpy as np

    orig = np.random.uniform
    np.random.uniform = fn(orig)
    try:
        yield
    finally:
        np.random.uniform = orig


@contextlib.contextmanager
def fixed_uniform(value: float):
    """Every scalar ``np.random.uniform(low, high)`` returns ``value`` (motion_blur's angle).
    Calls with a ``size`` are passed through."""
    calls = []

    def make(orig):
        def uniform(low=0.0, high=1.0, size=None):
            if size is None:
                calls.append((low, high))
                return float(value)
            return orig(low, high, size)

        return uniform

    with _patch_uniform(make):
        yield calls


@contextlib.contextmanager
def record_elastic(store: list):
    """Record each array-valued ``np.random.uniform(low, high, size)`` (elastic_transform draws dx
    then dy) as float32 into ``store`` and return the float32-rounded values as float64."""
    import numpy as np

    def make(orig):
        def uniform(low=0.0, high=1.0, size=None):
            out = orig(low, high, size)
            if size is None:
                return out
            f = np.ascontiguousarray(out, dtype="<f4")
            store.append(f)
            return f.astype(np.float64)

        return uniform

    with _patch_uniform(make):
        yield store


@contextlib.contextmanager
def record_plasma(store: list, h: int, w: int):
    """Wrap corruptions.plasma_fractal: store its map cropped to [:h, :w] as float32 and hand the
    float32-rounded full map back to fog()."""
    import numpy as np

    icc = load().corruptions
    orig = icc.plasma_fractal

    def plasma_fractal(mapsize=256, wibbledecay=3):
        m = orig(mapsize=mapsize, wibbledecay=wibbledecay)
        m32 = m.astype("<f4")
        store.append(np.ascontiguousarray(m32[:h, :w]))
        return m32.astype(np.float64)

    icc.plasma_fractal = plasma_fractal
    try:
        yield store
    finally:
        icc.plasma_fractal = orig


@contextlib.contextmanager
def inject_plasma(field):
    """fog() gets ``field`` (H x W, e.g. a stored golden field) as its plasma map: the returned
    mapsize x mapsize map holds it in [:H, :W] (fog() uses only that part)."""
    import numpy as np

    icc = load().corruptions
    orig = icc.plasma_fractal
    field = np.asarray(field, dtype=np.float64)

    def plasma_fractal(mapsize=256, wibbledecay=3):
        m = np.zeros((mapsize, mapsize))
        m[:field.shape[0], :field.shape[1]] = field
        return m

    icc.plasma_fractal = plasma_fractal
    try:
        yield
    finally:
        icc.plasma_fractal = orig


@contextlib.contextmanager
def inject_uniform(arrays):
    """Array-valued ``np.random.uniform(low, high, size)`` calls return ``arrays`` in order
    (elastic_transform: dx, then dy); scalar calls pass through."""
    import numpy as np

    queue = [np.asarray(a, dtype=np.float64) for a in arrays]

    def make(orig):
        def uniform(low=0.0, high=1.0, size=None):
            if size is None:
                return orig(low, high, size)
            a = queue.pop(0)
            assert a.shape == tuple(np.atleast_1d(size)), (a.shape, size)
            return a

        return uniform

    with _patch_uniform(make):
        yield queue

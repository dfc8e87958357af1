"""A synthetic, seeded world of road scenes for edgeclip's built-in default model.

Every image shows one road sign (or traffic light) -- the label -- somewhere in a
procedurally drawn scene seen from a vehicle: sky, road, countryside, city facades or a
wall, under varied light, with clutter (cars, trees, lamp posts, *non-class* information
boards) and sometimes partial occlusion or truncation at the frame edge. Signs vary in
scale, position, in-plane rotation, viewing angle (horizontal squash), fading, and
between national styles (e.g. a pedestrian crossing sign is either a blue square or a
yellow diamond), so the task is learnable but not trivial.

This module is the single source of truth for the class list and the caption templates;
``train_default.py`` (training captions and held-out evaluation) and the committed
sample set both use it.

Determinism: image ``index`` of split ``split`` is drawn from a numpy ``Generator`` seeded
with ``(WORLD_SEED, SPLIT_CODES[split], index)`` only, so any image can be regenerated
alone, in any order, in any process. The class of an item is ``index % len(CLASSES)``
(balanced). The training split is never used for evaluation; ``test`` and ``samples``
are held out by seed.

Command line (writes folder-per-class PNG sets; folder names are the class names, i.e.
the zero-shot labels, spaces kept, plus ``labels.txt`` with one class per line)::

    python models/world.py --split test --per-class 100 --out models/cache/heldout
    python models/world.py --split samples --per-class 20 --out models/samples
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# --------------------------------------------------------------------------
# Classes, captions (the one place both training and the sample set use)
# --------------------------------------------------------------------------

#: Zero-shot labels, in label-index order. Each is used verbatim in prompts.
CLASSES: list[str] = [
    "stop sign",
    "yield sign",
    "speed limit sign",
    "no entry sign",
    "pedestrian crossing sign",
    "traffic light",
    "one way sign",
    "railroad crossing sign",
    "roundabout sign",
    "no parking sign",
    "parking sign",
    "road work sign",
]

#: The zero-shot evaluation prompt (the same single template edgeclip's runtime uses).
ZERO_SHOT_TEMPLATE = "a photo of a {}."

WORLD_SEED = 20240611
SPLIT_CODES = {"train": 0, "test": 1, "samples": 2, "val": 3}

#: Side of the square images the world renders (pixels). The model's input is smaller,
#: so the processor's shortest-edge resize + centre crop is exercised.
IMAGE_SIZE = 80

# Caption templates. Slots: {c} class, {a} article for the next word, {size}, {colour},
# {pos}, {scene}, {light}, {view}. Templates are chosen at random per caption; the
# zero-shot form "a photo of a {c}." is the most frequent single template.
CAPTION_TEMPLATES: list[tuple[float, str]] = [
    (5.0, "a photo of a {c}."),
    (1.5, "a picture of a {c}."),
    (1.0, "a {c}."),
    (1.0, "{c}"),
    (1.0, "a photo of the {c}."),
    (1.5, "a photo of a {size} {c} {pos}."),
    (1.5, "{a_colour} {colour} {c} {scene}."),
    (1.5, "a {c} {scene} {light}."),
    (1.0, "there is a {c} {pos}."),
    (1.0, "the {c} is {pos}."),
    (1.0, "a road scene with a {c} {pos}."),
    (1.0, "a dashcam photo of a {c} {scene}."),
    (1.0, "{a_size} {size} {colour} {c} {pos}, {light}."),
    (1.0, "a photo of a {c} {scene}, {light}."),
    (0.8, "a {view} photo of a {c}."),
    (0.8, "a camera view of a {c} {pos} {scene}."),
    (0.6, "a {c} seen {light}."),
    (0.6, "{colour} {c}"),
]

POSITION_WORDS = {
    "left": ["on the left", "on the left side"],
    "right": ["on the right", "on the right side"],
    "center": ["in the center", "in the middle"],
    "top": ["at the top", "high up"],
    "bottom": ["at the bottom", "low in the frame"],
}
SIZE_WORDS = {"small": ["small", "distant", "far away"], "medium": ["medium sized", "clear"], "large": ["large", "big", "nearby"]}
SCENE_WORDS = {
    "road": ["on a road", "by the road", "next to the road"],
    "city": ["in the city", "on a city street", "in town"],
    "countryside": ["in the countryside", "on a country road", "near a field"],
    "wall": ["on a wall", "in front of a wall", "on a brick wall"],
}
LIGHT_WORDS = {
    "sunny": ["on a sunny day", "in bright sunlight", "in daylight"],
    "cloudy": ["on a cloudy day", "under an overcast sky", "on a grey day"],
    "dusk": ["at dusk", "in the evening", "at sunset"],
}
VIEW_WORDS = {"plain": ["clear", "simple"], "tilted": ["tilted", "slanted"], "occluded": ["partly hidden", "partly blocked"], "cut": ["cropped", "partial"]}


def article(word: str) -> str:
    """'a' or 'an' for the word that follows."""
    w = word.lower()
    if w.startswith(("one", "uni", "use", "eu")):
        return "a"
    return "an" if w[:1] in "aeiou" else "a"


def caption(meta: dict, rng: np.random.Generator) -> str:
    """A natural-language caption for an image's metadata (class, colour, position, ...)."""
    weights = np.array([w for w, _ in CAPTION_TEMPLATES], dtype=np.float64)
    t = CAPTION_TEMPLATES[int(rng.choice(len(weights), p=weights / weights.sum()))][1]

    def pick(options):
        return options[int(rng.integers(len(options)))]

    colour = pick(meta["colours"])
    size = pick(SIZE_WORDS[meta["size"]])
    view = "plain"
    if meta["occluded"]:
        view = "occluded"
    elif meta["truncated"]:
        view = "cut"
    elif abs(meta["angle"]) > 12:
        view = "tilted"
    text = t.format(
        c=meta["label"],
        size=size,
        a_size=article(size),
        colour=colour,
        a_colour=article(colour),
        pos=pick(POSITION_WORDS[meta["position"]]),
        scene=pick(SCENE_WORDS[meta["scene"]]),
        light=pick(LIGHT_WORDS[meta["light"]]),
        view=pick(VIEW_WORDS[view]),
    )
    if rng.random() < 0.15:
        text = text[:1].upper() + text[1:]
    return text


def zero_shot_prompts(classes: list[str] | None = None) -> list[str]:
    return [ZERO_SHOT_TEMPLATE.format(c) for c in (classes or CLASSES)]


# --------------------------------------------------------------------------
# Small drawing helpers
# --------------------------------------------------------------------------

# Stroke glyphs in a unit box (x right, y down) for sign lettering.
_SEG = {
    "a": ((0, 0), (1, 0)),
    "b": ((1, 0), (1, 0.5)),
    "c": ((1, 0.5), (1, 1)),
    "d": ((0, 1), (1, 1)),
    "e": ((0, 0.5), (0, 1)),
    "f": ((0, 0), (0, 0.5)),
    "g": ((0, 0.5), (1, 0.5)),
}
_DIGITS = {
    "0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc",
    "5": "afgcd", "6": "afgedc", "7": "abc", "8": "abcdefg", "9": "abcdfg",
}
_GLYPHS: dict[str, list[tuple[tuple[float, float], ...]]] = {k: [_SEG[s] for s in v] for k, v in _DIGITS.items()}
_GLYPHS["S"] = _GLYPHS["5"]
_GLYPHS["O"] = _GLYPHS["0"]
_GLYPHS["T"] = [((0, 0), (1, 0)), ((0.5, 0), (0.5, 1))]
_GLYPHS["P"] = [_SEG[s] for s in "abgfe"]
_GLYPHS["R"] = [_SEG[s] for s in "abgfe"] + [((0.4, 0.5), (1, 1))]
_GLYPHS["X"] = [((0, 0), (1, 1)), ((1, 0), (0, 1))]


def _text(d: ImageDraw.ImageDraw, s: str, cx: float, cy: float, h: float, fill, width: int, aspect: float = 0.55):
    """Draws stroke text centred at (cx, cy) with glyph height h."""
    gw = h * aspect
    gap = gw * 0.45
    total = len(s) * gw + (len(s) - 1) * gap
    x0 = cx - total / 2
    y0 = cy - h / 2
    for i, ch in enumerate(s):
        ox = x0 + i * (gw + gap)
        for (ax, ay), (bx, by) in _GLYPHS[ch]:
            d.line([(ox + ax * gw, y0 + ay * h), (ox + bx * gw, y0 + by * h)], fill=fill, width=width, joint="curve")


def _jit(rng, rgb, amount=18):
    d = rng.integers(-amount, amount + 1, 3)
    return tuple(min(255, max(0, int(v) + int(e))) for v, e in zip(rgb, d))


def _regular_polygon(cx, cy, r, n, rot):
    return [(cx + r * math.cos(rot + 2 * math.pi * k / n), cy + r * math.sin(rot + 2 * math.pi * k / n)) for k in range(n)]


def _smooth_noise(rng, h, w, cells):
    """Low-frequency noise in [0, 1], shape (h, w)."""
    g = (rng.random((cells, cells)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(g).resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0


# --------------------------------------------------------------------------
# Signs (drawn on a local RGBA canvas of side L, then rotated/scaled into the scene)
# --------------------------------------------------------------------------

L = 128  # local canvas side for sign drawing

RED = (200, 25, 30)
WHITE = (242, 242, 238)
BLACK = (25, 25, 28)
BLUE = (20, 75, 170)
YELLOW = (245, 200, 20)
ORANGE = (240, 130, 20)


def _sign_stop(d, rng):
    red, white = _jit(rng, RED), _jit(rng, WHITE, 10)
    d.polygon(_regular_polygon(64, 64, 62, 8, math.pi / 8), fill=white)
    d.polygon(_regular_polygon(64, 64, 56, 8, math.pi / 8), fill=red)
    _text(d, "STOP", 64, 64, 30, white, 7)
    return ["red"], (1.0, 1.0)


def _sign_yield(d, rng):
    red, white = _jit(rng, RED), _jit(rng, WHITE, 10)
    pts = [(4, 12), (124, 12), (64, 118)]
    d.polygon(pts, fill=red)
    d.polygon([(26, 25), (102, 25), (64, 92)], fill=white)
    if rng.random() < 0.3:  # US style writes YIELD, drawn as bars
        d.line([(44, 38), (84, 38)], fill=red, width=5)
    return ["red", "red and white", "white"], (1.0, 1.0)


def _sign_speed(d, rng):
    num = str(int(rng.choice([20, 30, 40, 50, 60, 70, 80, 90, 100, 120])))
    if rng.random() < 0.72:  # European: white disc, red ring, black number
        d.ellipse([2, 2, 126, 126], fill=_jit(rng, RED))
        d.ellipse([17, 17, 111, 111], fill=_jit(rng, WHITE, 10))
        _text(d, num, 64, 64, 40, _jit(rng, BLACK, 10), 7, aspect=0.5 if len(num) == 3 else 0.55)
        return ["red and white", "white", "round"], (1.0, 1.0)
    # US: white portrait rectangle, black border, two text bars, big number
    d.rectangle([18, 2, 110, 126], fill=_jit(rng, BLACK, 10))
    d.rectangle([23, 7, 105, 121], fill=_jit(rng, WHITE, 10))
    blk = _jit(rng, BLACK, 10)
    d.line([(36, 22), (92, 22)], fill=blk, width=6)
    d.line([(40, 36), (88, 36)], fill=blk, width=6)
    _text(d, num, 64, 83, 44, blk, 8, aspect=0.45 if len(num) == 3 else 0.55)
    return ["white", "black and white"], (0.75, 1.0)


def _sign_no_entry(d, rng):
    d.ellipse([2, 2, 126, 126], fill=_jit(rng, RED))
    d.rectangle([22, 52, 106, 76], fill=_jit(rng, WHITE, 10))
    return ["red", "round red"], (1.0, 1.0)


def _figure(d, x0, y0, s, fill, w, walking=True):
    """A walking person in the box (x0, y0, s x s)."""
    P = lambda x, y: (x0 + x * s, y0 + y * s)  # noqa: E731
    hx, hy = P(0.5, 0.12)
    r = 0.1 * s
    d.ellipse([hx - r, hy - r, hx + r, hy + r], fill=fill)
    d.line([P(0.5, 0.25), P(0.45, 0.6)], fill=fill, width=w)
    d.line([P(0.45, 0.6), P(0.25, 0.95)], fill=fill, width=w)
    d.line([P(0.45, 0.6), P(0.7, 0.95)], fill=fill, width=w)
    d.line([P(0.5, 0.32), P(0.25, 0.5)], fill=fill, width=w)
    d.line([P(0.5, 0.32), P(0.76, 0.46)], fill=fill, width=w)


def _sign_pedestrian(d, rng):
    if rng.random() < 0.6:  # European: blue square, white triangle, black walker
        d.rectangle([4, 4, 124, 124], fill=_jit(rng, BLUE))
        d.polygon([(64, 14), (116, 110), (12, 110)], fill=_jit(rng, WHITE, 10))
        blk = _jit(rng, BLACK, 10)
        for k in range(4):
            d.rectangle([36 + k * 15, 100, 43 + k * 15, 106], fill=blk)
        _figure(d, 42, 44, 52, blk, 6)
        return ["blue", "blue and white", "square"], (1.0, 1.0)
    # US: yellow diamond, black border, black walker
    d.polygon([(64, 1), (127, 64), (64, 127), (1, 64)], fill=_jit(rng, BLACK, 10))
    d.polygon([(64, 7), (121, 64), (64, 121), (7, 64)], fill=_jit(rng, YELLOW))
    _figure(d, 36, 30, 62, _jit(rng, BLACK, 10), 7)
    return ["yellow", "yellow and black"], (1.0, 1.0)


def _sign_traffic_light(d, rng):
    housing = _jit(rng, (30, 32, 34), 12) if rng.random() < 0.8 else _jit(rng, (210, 170, 30))
    d.rounded_rectangle([38, 2, 90, 126], radius=10, fill=housing)
    lit = int(rng.integers(3))
    on = [(255, 40, 30), (255, 190, 20), (40, 230, 110)]
    off = [(80, 25, 22), (85, 70, 20), (20, 70, 40)]
    for k in range(3):
        cy = 24 + k * 40
        col = on[k] if k == lit else off[k]
        if k == lit:
            d.ellipse([49, cy - 16, 79, cy + 16], fill=tuple(min(255, int(c * 0.7 + 90)) for c in col))
        d.ellipse([52, cy - 13, 76, cy + 13], fill=col)
    return [["red", "black"], ["yellow", "amber"], ["green", "black"]][lit], (0.42, 1.0)


def _arrow(d, x0, y0, x1, y1, fill, shaft):
    """Horizontal arrow from x0 to x1 (x1 > x0 points right) with centre line y0..y1."""
    cy = (y0 + y1) / 2
    hw = (y1 - y0) / 2
    direction = 1 if x1 > x0 else -1
    head = abs(x1 - x0) * 0.32
    hx = x1 - direction * head
    d.rectangle([min(x0, hx), cy - shaft / 2, max(x0, hx), cy + shaft / 2], fill=fill)
    d.polygon([(hx, cy - hw), (x1, cy), (hx, cy + hw)], fill=fill)


def _sign_one_way(d, rng):
    right = rng.random() < 0.5
    if rng.random() < 0.55:  # US: black board, white arrow
        d.rectangle([2, 38, 126, 90], fill=_jit(rng, BLACK, 10))
        d.rectangle([7, 43, 121, 85], fill=_jit(rng, WHITE, 10))
        d.rectangle([10, 46, 118, 82], fill=_jit(rng, BLACK, 10))
        a, b = (18, 110) if right else (110, 18)
        _arrow(d, a, 50, b, 78, _jit(rng, WHITE, 10), 12)
        return ["black and white", "black"], (1.0, 0.42)
    # European: blue board, white arrow
    d.rectangle([2, 34, 126, 94], fill=_jit(rng, BLUE))
    a, b = (16, 112) if right else (112, 16)
    _arrow(d, a, 46, b, 82, _jit(rng, WHITE, 10), 14)
    return ["blue", "blue and white"], (1.0, 0.48)


def _sign_railroad(d, rng):
    if rng.random() < 0.6:  # crossbuck
        edge = _jit(rng, RED) if rng.random() < 0.6 else _jit(rng, BLACK, 10)
        white = _jit(rng, WHITE, 10)
        for ang in (math.pi / 4, -math.pi / 4):
            c, s = math.cos(ang), math.sin(ang)
            for half, col in ((15, edge), (10, white)):
                ln = 66 if col == edge else 62
                pts = [(-ln, -half), (ln, -half), (ln, half), (-ln, half)]
                d.polygon([(64 + x * c - y * s, 64 + x * s + y * c) for x, y in pts], fill=col)
        return ["white", "red and white" if edge[0] > 120 else "black and white"], (1.0, 1.0)
    # US advance warning: yellow disc, black X and R R
    blk = _jit(rng, BLACK, 10)
    d.ellipse([2, 2, 126, 126], fill=blk)
    d.ellipse([7, 7, 121, 121], fill=_jit(rng, YELLOW))
    d.line([(28, 28), (100, 100)], fill=blk, width=8)
    d.line([(100, 28), (28, 100)], fill=blk, width=8)
    _text(d, "R", 34, 64, 24, blk, 5)
    _text(d, "R", 94, 64, 24, blk, 5)
    return ["yellow", "round yellow"], (1.0, 1.0)


def _sign_roundabout(d, rng):
    d.ellipse([2, 2, 126, 126], fill=_jit(rng, BLUE))
    white = _jit(rng, WHITE, 10)
    r = 34
    for k in range(3):
        start = k * 120 + 10
        d.arc([64 - r, 64 - r, 64 + r, 64 + r], start=start, end=start + 78, fill=white, width=11)
        end = math.radians(start + 78)
        ex, ey = 64 + r * math.cos(end), 64 + r * math.sin(end)
        tx, ty = -math.sin(end), math.cos(end)  # tangent (direction of travel)
        nx, ny = math.cos(end), math.sin(end)
        d.polygon([(ex + nx * 13, ey + ny * 13), (ex - nx * 13, ey - ny * 13), (ex + tx * 17, ey + ty * 17)], fill=white)
    return ["blue", "round blue", "blue and white"], (1.0, 1.0)


def _sign_no_parking(d, rng):
    red = _jit(rng, RED)
    d.ellipse([2, 2, 126, 126], fill=red)
    d.ellipse([16, 16, 112, 112], fill=_jit(rng, BLUE))
    c = math.cos(math.pi / 4)
    d.line([(64 - 50 * c, 64 - 50 * c), (64 + 50 * c, 64 + 50 * c)], fill=red, width=14)
    if rng.random() < 0.5:  # no stopping variant adds the second bar
        d.line([(64 + 50 * c, 64 - 50 * c), (64 - 50 * c, 64 + 50 * c)], fill=red, width=14)
    return ["blue and red", "round blue", "red"], (1.0, 1.0)


def _sign_parking(d, rng):
    d.rounded_rectangle([4, 4, 124, 124], radius=10, fill=_jit(rng, WHITE, 10))
    d.rounded_rectangle([9, 9, 119, 119], radius=8, fill=_jit(rng, BLUE))
    _text(d, "P", 64, 64, 72, _jit(rng, WHITE, 10), 14, aspect=0.62)
    return ["blue", "blue and white", "square"], (1.0, 1.0)


def _sign_road_work(d, rng):
    blk = _jit(rng, BLACK, 10)
    if rng.random() < 0.6:  # European: upright red triangle, white inside
        d.polygon([(64, 4), (126, 116), (2, 116)], fill=_jit(rng, RED))
        d.polygon([(64, 28), (104, 102), (24, 102)], fill=_jit(rng, WHITE, 10))
        ox, oy, s = 44, 54, 44
        colours = ["red and white", "white", "triangular"]
    else:  # US: orange diamond
        d.polygon([(64, 1), (127, 64), (64, 127), (1, 64)], fill=blk)
        d.polygon([(64, 7), (121, 64), (64, 121), (7, 64)], fill=_jit(rng, ORANGE))
        ox, oy, s = 34, 30, 62
        colours = ["orange", "orange and black"]
    P = lambda x, y: (ox + x * s, oy + y * s)  # noqa: E731
    w = max(4, s // 10)
    hx, hy = P(0.38, 0.12)
    r = 0.1 * s
    d.ellipse([hx - r, hy - r, hx + r, hy + r], fill=blk)
    d.line([P(0.4, 0.25), P(0.3, 0.6)], fill=blk, width=w)
    d.line([P(0.3, 0.6), P(0.12, 0.95)], fill=blk, width=w)
    d.line([P(0.3, 0.6), P(0.45, 0.95)], fill=blk, width=w)
    d.line([P(0.38, 0.32), P(0.62, 0.55)], fill=blk, width=w)
    d.line([P(0.55, 0.35), P(0.85, 0.88)], fill=blk, width=max(3, w - 1))
    d.polygon([P(0.62, 1.0), P(0.85, 0.72), P(1.05, 1.0)], fill=blk)
    return colours, (1.0, 1.0)


_DRAW = {
    "stop sign": _sign_stop,
    "yield sign": _sign_yield,
    "speed limit sign": _sign_speed,
    "no entry sign": _sign_no_entry,
    "pedestrian crossing sign": _sign_pedestrian,
    "traffic light": _sign_traffic_light,
    "one way sign": _sign_one_way,
    "railroad crossing sign": _sign_railroad,
    "roundabout sign": _sign_roundabout,
    "no parking sign": _sign_no_parking,
    "parking sign": _sign_parking,
    "road work sign": _sign_road_work,
}
assert list(_DRAW) == CLASSES


def draw_sign(label: str, rng: np.random.Generator) -> tuple[Image.Image, list[str], tuple[float, float]]:
    """The sign of class ``label`` on a transparent L x L canvas, its colour words and
    the (width, height) fraction of the canvas it occupies."""
    im = Image.new("RGBA", (L, L), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    colours, extent = _DRAW[label](d, rng)
    return im, colours, extent


# --------------------------------------------------------------------------
# Distractors (never a class)
# --------------------------------------------------------------------------


def _info_board(d, rng, x, y, w, h):
    bg = [(20, 110, 60), (20, 75, 170), (235, 235, 230), (120, 70, 30)][int(rng.integers(4))]
    fg = (25, 25, 28) if bg[0] > 200 else (240, 240, 235)
    d.rectangle([x, y, x + w, y + h], fill=_jit(rng, bg))
    n = int(rng.integers(1, 4))
    for k in range(n):
        ly = y + h * (k + 1) / (n + 1)
        lx1 = x + w * (0.15 + 0.6 * rng.random())
        d.line([(x + w * 0.1, ly), (max(lx1, x + w * 0.3), ly)], fill=fg, width=max(2, int(h / (3 * (n + 1)))))


def _car(d, rng, x, y, w):
    h = w * 0.45
    col = _jit(rng, [(180, 30, 30), (30, 60, 150), (200, 200, 205), (40, 40, 45), (230, 230, 225), (60, 120, 60)][int(rng.integers(6))], 25)
    d.rounded_rectangle([x, y - h * 0.6, x + w, y], radius=int(w * 0.08), fill=col)
    d.polygon([(x + w * 0.2, y - h * 0.6), (x + w * 0.3, y - h), (x + w * 0.72, y - h), (x + w * 0.82, y - h * 0.6)], fill=col)
    d.polygon([(x + w * 0.26, y - h * 0.62), (x + w * 0.33, y - h * 0.92), (x + w * 0.69, y - h * 0.92), (x + w * 0.76, y - h * 0.62)], fill=(90, 110, 130))
    r = w * 0.1
    for cx in (x + w * 0.22, x + w * 0.78):
        d.ellipse([cx - r, y - r, cx + r, y + r], fill=(15, 15, 15))


def _tree(d, rng, x, y, s):
    d.rectangle([x - s * 0.06, y - s * 0.5, x + s * 0.06, y], fill=_jit(rng, (90, 60, 35)))
    g = _jit(rng, (45, 110, 45), 25)
    for _ in range(4):
        ox, oy = rng.normal(0, s * 0.15), rng.normal(-s * 0.7, s * 0.12)
        r = s * (0.2 + 0.15 * rng.random())
        d.ellipse([x + ox - r, y + oy - r, x + ox + r, y + oy + r], fill=_jit(rng, g, 12))


def _lamp(d, rng, x, y, s):
    col = _jit(rng, (110, 110, 115), 15)
    d.line([(x, y), (x, y - s)], fill=col, width=max(2, int(s * 0.04)))
    d.line([(x, y - s), (x + s * 0.25, y - s)], fill=col, width=max(2, int(s * 0.04)))
    d.ellipse([x + s * 0.2, y - s - 3, x + s * 0.32, y - s + 4], fill=(230, 230, 200))


def _blob(d, rng, x, y, s):
    col = tuple(int(v) for v in rng.integers(30, 230, 3))
    n = int(rng.integers(3, 7))
    d.polygon(_regular_polygon(x, y, s, n, rng.random() * 6.3), fill=col)


# --------------------------------------------------------------------------
# Scenes
# --------------------------------------------------------------------------

SCENES = ["road", "city", "countryside", "wall"]
LIGHTS = ["sunny", "cloudy", "dusk"]


def _background(rng, scene, light, W, H):
    """Background as float32 (H, W, 3) in [0, 1] plus the ground line (y of horizon)."""
    yy = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    horizon = int(H * rng.uniform(0.3, 0.6))
    if light == "sunny":
        top, bot = np.array([60, 120, 215]), np.array([170, 205, 240])
    elif light == "cloudy":
        top, bot = np.array([140, 145, 155]), np.array([205, 205, 210])
    else:
        top, bot = np.array([50, 55, 110]), np.array([245, 150, 85])
    top = (top + rng.integers(-15, 16, 3)) / 255.0
    bot = (bot + rng.integers(-15, 16, 3)) / 255.0
    sky = top + (bot - top) * np.clip(yy / max(horizon / H, 0.05), 0, 1)
    sky = np.broadcast_to(sky, (H, W, 3)).copy()
    clouds = _smooth_noise(rng, H, W, 5)
    amt = {"sunny": 0.25, "cloudy": 0.45, "dusk": 0.2}[light]
    sky += (np.clip(clouds - 0.5, 0, 1) * amt)[:, :, None]
    img = sky

    if scene == "wall":
        base = np.array([[150, 70, 55], [190, 175, 150], [130, 130, 135], [200, 200, 190]][int(rng.integers(4))])
        base = (base + rng.integers(-20, 21, 3)) / 255.0
        img = np.broadcast_to(base, (H, W, 3)).copy()
        img *= (0.85 + 0.3 * _smooth_noise(rng, H, W, 6))[:, :, None]
        if rng.random() < 0.7:  # brick / panel courses
            step = int(rng.integers(5, 11))
            img[::step] *= 0.78
            off = int(rng.integers(6, 16))
            for row in range(0, H, step):
                shift = (row // step % 2) * off // 2
                img[row : row + step, shift::off] *= 0.82
        horizon = H
        return img, horizon

    ground_rows = slice(horizon, H)
    gy = np.linspace(0, 1, H - horizon, dtype=np.float32)[:, None, None]
    if scene == "countryside":
        g0 = (np.array([90, 140, 60]) + rng.integers(-25, 26, 3)) / 255.0
        g1 = (np.array([60, 110, 40]) + rng.integers(-20, 21, 3)) / 255.0
        ground = g0 + (g1 - g0) * gy
        ground = ground * (0.8 + 0.4 * _smooth_noise(rng, H - horizon, W, 8))[:, :, None]
    else:
        a0 = (np.array([120, 120, 125]) + rng.integers(-20, 21, 3)) / 255.0
        ground = np.broadcast_to(a0 * (0.9 + 0.15 * gy), (H - horizon, W, 3)).copy()
        ground *= (0.9 + 0.2 * _smooth_noise(rng, H - horizon, W, 12))[:, :, None]
    img[ground_rows] = ground

    if scene == "city":  # facades above the horizon
        x = -int(rng.integers(0, 20))
        while x < W:
            bw = int(rng.integers(W // 5, W // 2))
            top_y = int(rng.integers(0, max(1, horizon - 10)))
            col = (np.array([[160, 90, 70], [200, 190, 170], [120, 125, 135], [170, 160, 120]][int(rng.integers(4))]) + rng.integers(-20, 21, 3)) / 255.0
            xs = slice(max(0, x), min(W, x + bw))
            img[top_y:horizon, xs] = col
            wy = top_y + 4
            win = np.array([70, 90, 110]) / 255.0 * rng.uniform(0.6, 1.4)
            while wy + 5 < horizon:
                for wx in range(max(0, x) + 3, min(W, x + bw) - 4, 9):
                    img[wy : wy + 5, wx : wx + 4] = win
                wy += 10
            x += bw
    return img, horizon


def _place_words(cx, cy, W, H):
    fx, fy = cx / W, cy / H
    if fx < 0.36:
        return "left"
    if fx > 0.64:
        return "right"
    if fy < 0.36:
        return "top"
    if fy > 0.64:
        return "bottom"
    return "center"


def render(split: str, index: int, size: int = IMAGE_SIZE) -> tuple[Image.Image, dict]:
    """Image ``index`` of ``split``: an RGB PIL image of ``size`` x ``size`` and its metadata."""
    rng = np.random.default_rng([WORLD_SEED, SPLIT_CODES[split], index])
    label = CLASSES[index % len(CLASSES)]
    S = 2 * size  # draw at 2x, downsample at the end (antialiasing)
    W = H = S
    scene = SCENES[int(rng.choice(4, p=[0.4, 0.25, 0.25, 0.1]))]
    light = LIGHTS[int(rng.choice(3, p=[0.45, 0.35, 0.2]))]
    bg, horizon = _background(rng, scene, light, W, H)
    canvas = Image.fromarray((np.clip(bg, 0, 1) * 255).astype(np.uint8))
    d = ImageDraw.Draw(canvas)

    if scene == "road" or (scene == "city" and rng.random() < 0.5):  # perspective road
        vx = W * rng.uniform(0.3, 0.7)
        road_col = _jit(rng, (85, 85, 90), 15)
        left, right = vx - W * rng.uniform(0.6, 1.0), vx + W * rng.uniform(0.6, 1.0)
        d.polygon([(vx - 3, horizon), (vx + 3, horizon), (right, H), (left, H)], fill=road_col)
        if rng.random() < 0.8:
            for k in range(6):
                t0, t1 = (k + 0.2) / 6, (k + 0.55) / 6
                y0, y1 = horizon + (H - horizon) * t0 ** 1.6, horizon + (H - horizon) * t1 ** 1.6
                mx = (vx + (left + right) / 2) / 2
                x0, x1 = vx + (mx - vx) * t0 ** 1.6, vx + (mx - vx) * t1 ** 1.6
                d.line([(x0, y0), (x1, y1)], fill=(230, 230, 220), width=max(1, int(1 + 4 * t1)))

    # background clutter (behind the sign)
    for _ in range(int(rng.integers(0, 4))):
        kind = rng.random()
        x = rng.uniform(0, W)
        gy = horizon + rng.uniform(0, 0.3) * (H - horizon) if horizon < H else rng.uniform(0.5, 1.0) * H
        if kind < 0.3 and scene != "wall":
            _tree(d, rng, x, gy, rng.uniform(0.2, 0.5) * H)
        elif kind < 0.5 and scene != "wall":
            _car(d, rng, x - W * 0.15, gy + rng.uniform(0, 0.2) * H, rng.uniform(0.2, 0.45) * W)
        elif kind < 0.65 and scene != "wall":
            _lamp(d, rng, x, gy, rng.uniform(0.3, 0.6) * H)
        elif kind < 0.85:
            w = rng.uniform(0.12, 0.3) * W
            _info_board(d, rng, x - w / 2, rng.uniform(0.05, 0.7) * H, w, w * rng.uniform(0.35, 0.8))
        else:
            _blob(d, rng, x, rng.uniform(0.1, 0.9) * H, rng.uniform(0.03, 0.08) * W)

    # the sign
    sign, colours, (ex, ey) = draw_sign(label, rng)
    r = rng.random()
    size_word = "small" if r < 0.3 else ("medium" if r < 0.7 else "large")
    frac = {"small": (0.3, 0.4), "medium": (0.4, 0.54), "large": (0.54, 0.74)}[size_word]
    side = rng.uniform(*frac) * W  # size of the L x L canvas in the scene
    squash = rng.uniform(0.72, 1.0) if rng.random() < 0.5 else 1.0
    angle = float(rng.normal(0, 8)) if rng.random() < 0.85 else float(rng.uniform(-25, 25))
    k = side / L
    sign = sign.resize((max(4, int(L * k * squash)), max(4, int(L * k))), Image.LANCZOS)
    sign = sign.rotate(angle, resample=Image.BICUBIC, expand=True)
    sw, sh = sign.size
    truncated = rng.random() < 0.1
    margin = 0.0 if truncated else 0.5
    half_w, half_h = side * ex * squash * margin, side * ey * margin
    if truncated:
        cx = rng.choice([rng.uniform(-0.05, 0.1) * W, rng.uniform(0.9, 1.05) * W])
        cy = rng.uniform(0.25, 0.75) * H
    else:
        cx = rng.uniform(half_w + 2, W - half_w - 2)
        cy = rng.uniform(half_h + 2, min(H - half_h - 2, H * 0.8))
    if rng.random() < 0.8 and scene != "wall":  # pole
        pw = max(2, int(side * 0.07))
        d.rectangle([cx - pw / 2, cy, cx + pw / 2, H], fill=_jit(rng, (120, 122, 128), 20))
    fade = rng.uniform(0.72, 1.05)
    if abs(fade - 1) > 0.03:
        arr = np.asarray(sign, dtype=np.float32)
        arr[..., :3] = np.clip(arr[..., :3] * fade + (1 - fade) * 90, 0, 255)
        sign = Image.fromarray(arr.astype(np.uint8))
    canvas.paste(sign, (int(cx - sw / 2), int(cy - sh / 2)), sign)

    # occluder in front of part of the sign
    occluded = rng.random() < 0.2
    if occluded:
        ow = side * rng.uniform(0.25, 0.45)
        side_x = rng.choice([-1, 1])
        ox = cx + side_x * side * ex * squash * 0.5
        oy = cy + rng.uniform(-0.3, 0.3) * side
        if rng.random() < 0.5:  # foliage
            g = _jit(rng, (45, 105, 45), 25)
            for _ in range(5):
                rr = ow * rng.uniform(0.3, 0.6)
                px, py = ox + rng.normal(0, ow * 0.3), oy + rng.normal(0, ow * 0.4)
                d.ellipse([px - rr, py - rr, px + rr, py + rr], fill=_jit(rng, g, 15))
        else:
            _blob(d, rng, ox, oy, ow * 0.8)

    # foreground clutter (small, never over the sign centre)
    for _ in range(int(rng.integers(0, 3))):
        x, y = rng.uniform(0, W), rng.uniform(0.6, 1.0) * H
        car = rng.random() < 0.5 and scene != "wall"
        w = rng.uniform(0.2, 0.4) * W if car else rng.uniform(0.03, 0.07) * W
        box = (x, y - 0.45 * w, x + w, y) if car else (x - w, y - w, x + w, y + w)
        sx0, sy0 = cx - side * ex * squash * 0.5, cy - side * ey * 0.5
        sx1, sy1 = cx + side * ex * squash * 0.5, cy + side * ey * 0.5
        if box[0] < sx1 and box[2] > sx0 and box[1] < sy1 and box[3] > sy0:
            continue  # never in front of the sign
        if car:
            _car(d, rng, x, y, w)
        else:
            _blob(d, rng, x, y, w)

    # lighting: exposure, contrast, colour cast
    arr = np.asarray(canvas, dtype=np.float32) / 255.0
    gain = {"sunny": rng.uniform(0.95, 1.15), "cloudy": rng.uniform(0.8, 1.0), "dusk": rng.uniform(0.6, 0.85)}[light]
    contrast = rng.uniform(0.8, 1.1)
    cast = 1 + rng.normal(0, 0.04, 3)
    if light == "dusk":
        cast *= np.array([1.1, 0.95, 0.85])
    mean = arr.mean()
    arr = ((arr - mean) * contrast + mean) * gain * cast
    if light == "sunny" and rng.random() < 0.3:  # soft vignette / sun glare
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        gx, gy_ = rng.uniform(0, W), rng.uniform(0, H * 0.4)
        arr += (0.25 * np.exp(-((xx - gx) ** 2 + (yy - gy_) ** 2) / (2 * (0.25 * W) ** 2)))[:, :, None]
    out = Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((size, size), Image.LANCZOS)

    meta = {
        "split": split,
        "index": index,
        "label": label,
        "label_id": CLASSES.index(label),
        "scene": scene,
        "light": light,
        "size": size_word,
        "position": _place_words(cx, cy, W, H),
        "angle": angle,
        "occluded": bool(occluded),
        "truncated": bool(truncated),
        "colours": colours,
    }
    return out, meta


def class_index_items(split: str, per_class: int) -> list[tuple[str, int, int]]:
    """(class, j, world index) for the first ``per_class`` items of each class in ``split``."""
    K = len(CLASSES)
    return [(c, j, j * K + k) for k, c in enumerate(CLASSES) for j in range(per_class)]


def write_set(split: str, per_class: int, out: Path, size: int = IMAGE_SIZE) -> int:
    """Writes ``out/<class name>/NNN.png`` (folder = zero-shot label) and ``out/labels.txt``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "labels.txt").write_text("".join(c + "\n" for c in CLASSES), encoding="utf-8")
    n = 0
    for c, j, idx in class_index_items(split, per_class):
        img, _ = render(split, idx, size)
        d = out / c
        d.mkdir(exist_ok=True)
        img.save(d / f"{j:03d}.png", optimize=True)
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="test", choices=sorted(SPLIT_CODES))
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--size", type=int, default=IMAGE_SIZE)
    args = ap.parse_args()
    if args.split == "train":
        ap.error("the training split is not written to disk; use a held-out split (test, samples, val)")
    n = write_set(args.split, args.per_class, args.out, args.size)
    print(f"wrote {n} images ({args.per_class} per class, split {args.split!r}) to {args.out}")


if __name__ == "__main__":
    main()

"""The drawn objects every synthetic scenario shares: outlines in a unit box, drawn filled or as strokes.

Each category is a list of *parts*; a part is a polyline in the unit square (x right, y down), closed or
open. Filled drawing (ROD, VSOD props, ImageNet-C, ChangeIt, COCO, MVP-N icons) fills closed parts with the
category's colours; sketch drawing (QuickDraw) draws every part as one or more pen strokes. Only PIL's
integer drawing primitives are used, so the pixels depend on nothing but the inputs.

Categories come in *families* of similar objects; a distractor is drawn from the answer's own family, so
the four choices are plausible for the same shape of scene (a cup among vases, not a cup among bananas).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import ImageDraw

Point = tuple[float, float]
# (points, closed, colour index into the category palette, line width factor)
Part = tuple[list[Point], bool, int, float]


def arc(
    cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = 360.0, n: int = 20
) -> list[Point]:
    """Points on an ellipse arc from angle a0 to a1 (degrees, 0 = right, 90 = down)."""
    out = []
    for i in range(n + 1):
        a = math.radians(a0 + (a1 - a0) * i / n)
        out.append((cx + rx * math.cos(a), cy + ry * math.sin(a)))
    return out


def rect(x0: float, y0: float, x1: float, y1: float) -> list[Point]:
    """The four corners of an axis-aligned rectangle, clockwise from top-left."""
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _c(points: list[Point], colour: int = 0, width: float = 1.0) -> Part:
    return (points, True, colour, width)


def _o(points: list[Point], colour: int = 1, width: float = 1.0) -> Part:
    return (points, False, colour, width)


# name -> (palette of RGB colours, parts). Colour 0 is the main body.
OBJECTS: dict[str, tuple[list[tuple[int, int, int]], list[Part]]] = {
    # tableware
    "Cup": (
        [(200, 60, 60), (120, 30, 30)],
        [_c(rect(0.28, 0.35, 0.68, 0.85)), _o(arc(0.68, 0.6, 0.14, 0.14, -80, 80), 1, 2.0)],
    ),
    "Vase": (
        [(60, 110, 200), (30, 50, 120)],
        [
            _c(
                [
                    (0.42, 0.1),
                    (0.58, 0.1),
                    (0.56, 0.28),
                    (0.76, 0.52),
                    (0.66, 0.88),
                    (0.34, 0.88),
                    (0.24, 0.52),
                    (0.44, 0.28),
                ]
            ),
            _o([(0.3, 0.55), (0.7, 0.55)], 1, 1.5),
        ],
    ),
    "Bottle": (
        [(60, 160, 80), (230, 230, 220)],
        [
            _c(
                [
                    (0.45, 0.06),
                    (0.55, 0.06),
                    (0.55, 0.3),
                    (0.66, 0.42),
                    (0.66, 0.92),
                    (0.34, 0.92),
                    (0.34, 0.42),
                    (0.45, 0.3),
                ]
            ),
            _c(rect(0.36, 0.55, 0.64, 0.75), 1),
        ],
    ),
    "Bowl": (
        [(220, 170, 60), (150, 100, 30)],
        [_c(arc(0.5, 0.42, 0.4, 0.36, 0, 180)), _c(rect(0.38, 0.77, 0.62, 0.84), 1)],
    ),
    "Teapot": (
        [(150, 90, 170), (80, 40, 100)],
        [
            _c(arc(0.5, 0.6, 0.28, 0.24)),
            _o([(0.24, 0.58), (0.1, 0.4), (0.06, 0.36)], 1, 2.0),
            _o(arc(0.78, 0.6, 0.1, 0.12, -90, 90), 1, 2.0),
            _c(arc(0.5, 0.36, 0.12, 0.06, 180, 360), 1),
        ],
    ),
    # fruit
    "Apple": (
        [(210, 40, 40), (90, 60, 20), (60, 160, 60)],
        [
            _c([*arc(0.5, 0.58, 0.3, 0.3, -70, 250)]),
            _o([(0.5, 0.32), (0.53, 0.14)], 1, 2.0),
            _c(arc(0.62, 0.2, 0.09, 0.04), 2),
        ],
    ),
    "Pear": (
        [(170, 200, 60), (90, 60, 20)],
        [
            _c([*arc(0.5, 0.66, 0.26, 0.24, -30, 210), *arc(0.5, 0.36, 0.14, 0.16, 200, 340)]),
            _o([(0.5, 0.2), (0.52, 0.08)], 1, 2.0),
        ],
    ),
    "Lemon": (
        [(240, 220, 50), (200, 170, 20)],
        [
            _c(
                [
                    (0.12, 0.5),
                    *arc(0.5, 0.5, 0.32, 0.22, 190, 350),
                    (0.88, 0.5),
                    *arc(0.5, 0.5, 0.32, 0.22, 10, 170),
                ]
            ),
            _o([(0.35, 0.5), (0.65, 0.5)], 1, 1.0),
        ],
    ),
    "Banana": (
        [(245, 215, 60), (110, 80, 20)],
        [
            _c([*arc(0.5, 0.3, 0.4, 0.5, 20, 160), *arc(0.5, 0.3, 0.34, 0.32, 150, 30)]),
            _o([(0.86, 0.46), (0.92, 0.4)], 1, 2.0),
        ],
    ),
    "Cherry": (
        [(170, 20, 40), (60, 120, 40)],
        [
            _c(arc(0.32, 0.72, 0.15, 0.15)),
            _c(arc(0.68, 0.72, 0.15, 0.15)),
            _o([(0.32, 0.57), (0.5, 0.15), (0.68, 0.57)], 1, 1.5),
        ],
    ),
    # tools
    "Hammer": (
        [(140, 90, 40), (110, 110, 120)],
        [_c(rect(0.45, 0.3, 0.55, 0.92)), _c(rect(0.2, 0.12, 0.8, 0.3), 1)],
    ),
    "Key": (
        [(200, 170, 60), (120, 100, 30)],
        [
            _c(arc(0.5, 0.22, 0.14, 0.14)),
            _c(rect(0.46, 0.36, 0.54, 0.92)),
            _o([(0.54, 0.8), (0.66, 0.8)], 1, 2.0),
            _o([(0.54, 0.68), (0.63, 0.68)], 1, 2.0),
        ],
    ),
    "Spoon": (
        [(170, 170, 180), (100, 100, 110)],
        [_c(arc(0.5, 0.24, 0.14, 0.18)), _c(rect(0.47, 0.42, 0.53, 0.94))],
    ),
    "Scissors": (
        [(60, 60, 200), (160, 160, 170)],
        [
            _o(arc(0.35, 0.78, 0.1, 0.1), 0, 2.0),
            _o(arc(0.65, 0.78, 0.1, 0.1), 0, 2.0),
            _c([(0.4, 0.7), (0.68, 0.08), (0.7, 0.1), (0.45, 0.72)], 1),
            _c([(0.6, 0.7), (0.32, 0.08), (0.3, 0.1), (0.55, 0.72)], 1),
        ],
    ),
    "Fork": (
        [(170, 170, 180), (100, 100, 110)],
        [
            _c(rect(0.47, 0.42, 0.53, 0.94)),
            _c(rect(0.36, 0.34, 0.64, 0.42)),
            *[_o([(x, 0.34), (x, 0.08)], 0, 2.0) for x in (0.38, 0.46, 0.54, 0.62)],
        ],
    ),
    # home
    "Clock": (
        [(235, 235, 225), (30, 30, 30)],
        [
            _c(arc(0.5, 0.5, 0.38, 0.38)),
            _o([(0.5, 0.5), (0.5, 0.22)], 1, 2.0),
            _o([(0.5, 0.5), (0.7, 0.58)], 1, 2.0),
        ],
    ),
    "Lamp": (
        [(240, 200, 120), (80, 80, 80)],
        [
            _c([(0.35, 0.1), (0.65, 0.1), (0.78, 0.4), (0.22, 0.4)]),
            _c(rect(0.47, 0.4, 0.53, 0.82), 1),
            _c(rect(0.3, 0.82, 0.7, 0.9), 1),
        ],
    ),
    "Umbrella": (
        [(200, 40, 120), (60, 40, 30)],
        [
            _c(arc(0.5, 0.45, 0.42, 0.33, 180, 360)),
            _o([(0.5, 0.45), (0.5, 0.82), *arc(0.58, 0.82, 0.08, 0.08, 180, 0, 6)], 1, 2.0),
        ],
    ),
    "Book": (
        [(50, 120, 120), (240, 235, 215)],
        [
            _c(rect(0.2, 0.2, 0.8, 0.85)),
            _c(rect(0.72, 0.24, 0.78, 0.81), 1),
            _o([(0.3, 0.35), (0.62, 0.35)], 1, 1.0),
        ],
    ),
    "Chair": (
        [(130, 80, 40), (90, 50, 20)],
        [
            _c(rect(0.25, 0.5, 0.75, 0.58)),
            _c(rect(0.25, 0.1, 0.33, 0.5), 1),
            _o([(0.28, 0.58), (0.28, 0.92)], 1, 2.0),
            _o([(0.72, 0.58), (0.72, 0.92)], 1, 2.0),
        ],
    ),
}

FAMILIES: dict[str, list[str]] = {
    "tableware": ["Cup", "Vase", "Bottle", "Bowl", "Teapot"],
    "fruit": ["Apple", "Pear", "Lemon", "Banana", "Cherry"],
    "tools": ["Hammer", "Key", "Spoon", "Scissors", "Fork"],
    "home": ["Clock", "Lamp", "Umbrella", "Book", "Chair"],
}
CATEGORIES: list[str] = [name for family in FAMILIES.values() for name in family]
FAMILY_OF: dict[str, str] = {name: fam for fam, names in FAMILIES.items() for name in names}


def pick_categories(rng: np.random.Generator, pool: Sequence[str] | None = None) -> tuple[str, list[str]]:
    """Pick an answer and 3 distractors from the answer's family; return (answer, the 4 names shuffled)."""
    pool = list(pool) if pool is not None else CATEGORIES
    answer = pool[int(rng.integers(len(pool)))]
    family = [n for n in FAMILIES[FAMILY_OF[answer]] if n != answer]
    distractors = [family[i] for i in rng.permutation(len(family))[:3]]
    names = [answer, *distractors]
    return answer, [names[i] for i in rng.permutation(4)]


def jitter_colour(rng: np.random.Generator, colour: Sequence[int], amount: int = 25) -> tuple[int, int, int]:
    """The colour with each channel moved by up to ``amount``, clipped to 0..255."""
    c = np.clip(np.asarray(colour) + rng.integers(-amount, amount + 1, size=3), 0, 255)
    return (int(c[0]), int(c[1]), int(c[2]))


def _place(points: Sequence[Point], box: Sequence[float]) -> list[tuple[int, int]]:
    x0, y0, x1, y1 = box
    return [(round(x0 + px * (x1 - x0)), round(y0 + py * (y1 - y0))) for px, py in points]


def draw_object(
    draw: ImageDraw.ImageDraw,
    name: str,
    box: Sequence[float],
    rng: np.random.Generator | None = None,
    palette: Sequence[tuple[int, int, int]] | None = None,
) -> None:
    """Draw category ``name`` filled inside ``box`` (x0, y0, x1, y1); colours jittered with ``rng``."""
    base, parts = OBJECTS[name]
    colours = list(palette) if palette is not None else list(base)
    if rng is not None:
        colours = [jitter_colour(rng, c) for c in colours]
    size = max(2.0, (box[2] - box[0]) / 24)
    for points, closed, ci, width in parts:
        colour = colours[ci % len(colours)]
        xy = _place(points, box)
        outline = tuple(max(0, v - 80) for v in colour)
        if closed:
            draw.polygon(xy, fill=colour, outline=outline)
        else:
            draw.line(xy, fill=colour, width=max(1, round(size * width)))


def sketch_strokes(name: str, first_pieces: int = 6, pieces: int = 2) -> list[list[Point]]:
    """The category as pen strokes in drawing order. The first closed outline is drawn in
    ``first_pieces`` strokes and every later one in ``pieces``, each starting from its lowest point, so
    the first stroke alone (a bit of the base) rarely tells a family's members apart."""
    strokes: list[list[Point]] = []
    first = True
    for points, closed, _, _ in OBJECTS[name][1]:
        if not closed:  # a long open line (a handle, a ring) is drawn in two strokes
            half = len(points) // 2
            strokes.extend(
                [list(points[: half + 1]), list(points[half:])] if len(points) > 6 else [list(points)]
            )
            continue
        n, first = (first_pieces if first else pieces), False
        start = max(range(len(points)), key=lambda i: (points[i][1], -points[i][0]))
        loop = [*points[start:], *points[:start], points[start]]
        while len(loop) < 2 * n:  # few corners: add midpoints so each piece is a real line
            loop = [
                q
                for a, b in zip(loop, loop[1:], strict=False)
                for q in (a, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
            ] + [loop[-1]]
        cuts = [round(i * (len(loop) - 1) / n) for i in range(n + 1)]
        strokes.extend(loop[cuts[i] : cuts[i + 1] + 1] for i in range(n))
    return strokes


def draw_strokes(
    draw: ImageDraw.ImageDraw, strokes: Sequence[Sequence[Point]], box: Sequence[float], width: int = 3
) -> None:
    """Draw strokes (unit-box polylines) in black inside ``box``."""
    for stroke in strokes:
        xy = _place(stroke, box)
        if len(xy) == 1:
            xy = xy * 2
        draw.line(xy, fill=(0, 0, 0), width=width, joint="curve")


def backdrop(rng: np.random.Generator, width: int, height: int, clutter: int = 3):
    """A room-like background: a wall, a floor from a random height, and a few plain boxes (no category
    objects), as a PIL image."""
    from PIL import Image

    wall = jitter_colour(rng, (205, 205, 195), 35)
    floor = jitter_colour(rng, (140, 120, 95), 30)
    img = Image.new("RGB", (width, height), wall)
    draw = ImageDraw.Draw(img)
    horizon = int(height * rng.uniform(0.55, 0.7))
    draw.rectangle((0, horizon, width, height), fill=floor)
    for _ in range(clutter):
        w, h = int(rng.integers(width // 12, width // 5)), int(rng.integers(height // 12, height // 5))
        x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        colour = jitter_colour(rng, (150, 150, 150), 70)
        draw.rectangle((x, y, x + w, y + h), fill=colour)
    return img


# Coat patterns on one animal silhouette: within a family the colours are the same and only the pattern
# (a fine detail that the worst image corruptions wipe out) tells the animals apart.
ANIMAL_FAMILIES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], dict[str, str]]] = {
    "black and white": (
        (235, 235, 230),
        (25, 25, 25),
        {"Zebra": "stripes", "Dalmatian": "dots", "Cow": "patches", "Snow leopard": "rosettes"},
    ),
    "tawny": (
        (225, 160, 60),
        (45, 30, 15),
        {"Tiger": "stripes", "Cheetah": "dots", "Giraffe": "patches", "Leopard": "rosettes"},
    ),
}
ANIMALS: dict[str, tuple[str, str]] = {
    name: (fam, pattern)
    for fam, (_, _, members) in ANIMAL_FAMILIES.items()
    for name, pattern in members.items()
}
ANIMAL_SILHOUETTE: list[list[Point]] = [
    rect(0.22, 0.35, 0.78, 0.62),  # body
    [(0.7, 0.4), (0.8, 0.15), (0.9, 0.15), (0.84, 0.42)],  # neck
    arc(0.88, 0.16, 0.08, 0.06),  # head
    *[rect(x, 0.6, x + 0.06, 0.9) for x in (0.24, 0.34, 0.62, 0.72)],  # legs
    [(0.22, 0.38), (0.12, 0.62), (0.14, 0.63), (0.23, 0.42)],  # tail
]


def coat_mask(pattern: str, width: int, height: int, period: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean (height, width) mask of the dark marks of a coat pattern. Every pattern repeats every
    ``period`` pixels and darkens about the same fraction of the coat (~30%), so once the detail is
    blurred away the coats look alike."""
    yy, xx = np.mgrid[0:height, 0:width].astype(float)
    if pattern == "stripes":
        wave = np.sin(yy / period * 0.8 + rng.uniform(0, 6)) * period * 0.25
        return np.sin((xx + wave) / period * 2 * np.pi + rng.uniform(0, 2 * np.pi)) > 0.59
    ox, oy = rng.uniform(0, period, size=2)
    # distance to the nearest centre of a jittered grid of marks
    gx, gy = np.floor((xx - ox) / period), np.floor((yy - oy) / period)
    jitter = rng.uniform(-0.12, 0.12, size=(2, int(height / period) + 3, int(width / period) + 3)) * period
    iy, ix = (gy + 1).astype(int), (gx + 1).astype(int)
    cx = ox + (gx + 0.5) * period + jitter[0][iy, ix]
    cy = oy + (gy + 0.5) * period + jitter[1][iy, ix]
    d = np.hypot(xx - cx, yy - cy) / period
    if pattern == "dots":
        return d < 0.31
    if pattern == "rosettes":
        return (d < 0.4) & (d > 0.254)
    # patches: square-ish blobs
    return (np.abs(xx - cx) < 0.274 * period) & (np.abs(yy - cy) < 0.274 * period)


def draw_animal(
    image: np.ndarray,
    name: str,
    box: Sequence[int],
    rng: np.random.Generator,
    period: float,
    contrast: float = 1.0,
) -> None:
    """Paint animal ``name`` (a key of ANIMALS) into the HxWx3 uint8 ``image`` in place, inside ``box``;
    the marks are mixed towards the coat colour when ``contrast`` < 1."""
    from PIL import Image

    family, pattern = ANIMALS[name]
    base, mark, _ = ANIMAL_FAMILIES[family]
    h, w = image.shape[:2]
    sil = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(sil)
    for part in ANIMAL_SILHOUETTE:
        d.polygon(_place(part, box), fill=255)
    inside = np.asarray(sil) > 0
    marks = coat_mask(pattern, w, h, period, rng) & inside
    image[inside] = jitter_colour(rng, base, 12)
    mixed = [int(m * contrast + b * (1 - contrast)) for m, b in zip(mark, base, strict=False)]
    image[marks] = jitter_colour(rng, mixed, 12)

"""Synthetic QuickDraw: a category sketch as a sequence of pen strokes, shown after 1, 2, ... strokes.

Frame k (0-based, ``{image}`` zero-padded) is the drawing after its first k + 1 strokes, so frame 0 is the
first stroke and the last frame, ``num_images`` - 1, the whole sketch (the reference). Each sketch is the
category's stroke list under a random hand-drawn wobble: scale, shift, slant and per-point noise.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from proactive_gym.data.synthetic.common import (
    ABSTAIN_TEXTS,
    DETAILS_TEXTS,
    Context,
    choose,
    shuffled,
    with_period,
)
from proactive_gym.data.synthetic.shapes import draw_strokes, pick_categories, sketch_strokes

PREFIX = "QuickDraw"
SIZE = 128
PROMPT = "What is the subject of this drawing?"


def wobble(
    rng: np.random.Generator, strokes: list[list[tuple[float, float]]]
) -> list[list[tuple[float, float]]]:
    """The strokes under one random affine map plus small per-point noise (a hand-drawn look)."""
    scale = rng.uniform(0.65, 1.0)
    shear = rng.uniform(-0.12, 0.12)
    dx, dy = rng.uniform(-0.15, 0.15, size=2)
    out = []
    for stroke in strokes:
        pts = np.asarray(stroke, dtype=float) - 0.5
        pts = np.stack([pts[:, 0] + shear * pts[:, 1], pts[:, 1]], axis=1) * scale + 0.5 + (dx, dy)
        pts += rng.normal(0, 0.008, size=pts.shape)
        out.append([(float(x), float(y)) for x, y in pts])
    return out


def render(strokes: list[list[tuple[float, float]]], size: int = SIZE) -> np.ndarray:
    """Black strokes on a white square canvas."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw_strokes(ImageDraw.Draw(img), strokes, (4, 4, size - 4, size - 4), width=max(2, size // 48))
    return np.asarray(img)


def make_episode(ctx: Context) -> dict:
    """Draw every stroke prefix of one sketch and return its released-format record."""
    rng = ctx.rng
    answer, cats = pick_categories(rng)
    strokes = wobble(rng, sketch_strokes(answer))
    for k in range(len(strokes)):
        ctx.save(f"{k:04d}.png", render(strokes[: k + 1]))
    return {
        "id": ctx.record_id,
        "prompt": PROMPT,
        "options": shuffled(rng, [choose(rng, DETAILS_TEXTS), choose(rng, ABSTAIN_TEXTS)]),
        "categories": with_period(cats),
        "answer": answer + ".",
        "image_template": f"{ctx.rel_dir}/{{image}}.png",
        "first_image": 0,
        "num_images": len(strokes),
        "reference_image": len(strokes) - 1,
    }

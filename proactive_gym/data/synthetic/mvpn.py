"""Synthetic MVP-N: a retail product turned on a turntable; only its front face shows what it is.

Products of one kind (juice cartons, soda cans, cereal boxes, yogurt cups) share their shape; the flavour
is printed only on the front face as a fruit icon. Every view but the last shows a side or the back
(barcode, stripes), identical in meaning for all flavours; the last view (``{informative}`` = 1) shows the
front.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from proactive_gym.data.synthetic.common import ABSTAIN_TEXTS, ROTATE_TEXTS, Context, choose, shuffled
from proactive_gym.data.synthetic.shapes import FAMILIES, draw_object, jitter_colour

PREFIX = "MVP-N"
SIZE = 128
N_VIEWS = 12
KINDS = {
    "juice": (0.36, 0.14, 0.64, 0.9),
    "soda": (0.38, 0.25, 0.62, 0.85),
    "cereal": (0.28, 0.12, 0.72, 0.9),
    "yogurt": (0.32, 0.4, 0.68, 0.85),
}
FLAVOURS = FAMILIES["fruit"]
PROMPT = "Which product is this?"


def _draw_view(kind: str, flavour: str, view: int, informative: bool, colour, rng) -> np.ndarray:
    img = Image.new("RGB", (SIZE, SIZE), (235, 235, 235))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 100, SIZE, SIZE), fill=(180, 180, 175))  # turntable
    x0, y0, x1, y1 = (round(v * SIZE) for v in KINDS[kind])
    if not informative:  # a side seen at an angle is narrower
        squeeze = round((x1 - x0) * 0.15 * (1 + view % 3))
        x0, x1 = x0 + squeeze // 2, x1 - squeeze // 2
    if kind == "soda":
        d.rounded_rectangle((x0, y0, x1, y1), radius=6, fill=colour, outline=(30, 30, 30))
    elif kind == "juice":
        d.polygon(
            [(x0, y0 + 10), ((x0 + x1) // 2, y0), (x1, y0 + 10), (x1, y1), (x0, y1)],
            fill=colour,
            outline=(30, 30, 30),
        )
    else:
        d.rectangle((x0, y0, x1, y1), fill=colour, outline=(30, 30, 30))
    if informative:
        band = (x0 + 3, (y0 + y1) // 2 - 22, x1 - 3, (y0 + y1) // 2 + 22)
        d.rectangle(band, fill=(250, 250, 245))
        s = min(band[2] - band[0], band[3] - band[1]) - 4
        cx, cy = (band[0] + band[2]) // 2, (band[1] + band[3]) // 2
        draw_object(d, flavour, (cx - s // 2, cy - s // 2, cx + s // 2, cy + s // 2), rng)
    else:  # back or side: barcode or stripes, placed by the view
        if view % 2 == 0:
            bx = x0 + 4 + (view * 3) % max(1, (x1 - x0) - 24)
            for i in range(8):
                d.line((bx + 2 * i, y1 - 26, bx + 2 * i, y1 - 8), fill=(0, 0, 0), width=1 + (i * view) % 2)
        else:
            for i in range(3):
                y = y0 + 12 + i * 10 + view % 5
                d.line((x0 + 2, y, x1 - 2, y), fill=(250, 250, 250), width=3)
    return np.asarray(img)


def make_episode(ctx: Context) -> dict:
    """Draw the views of one product and return its released-format record."""
    rng = ctx.rng
    kind = choose(rng, list(KINDS))
    flavour = choose(rng, FLAVOURS)
    others = [f for f in FLAVOURS if f != flavour]
    cats = shuffled(rng, [f"{f} {kind}." for f in [flavour, *shuffled(rng, others)[:3]]])
    colour = jitter_colour(
        rng, choose(rng, [(220, 80, 60), (60, 120, 200), (240, 200, 60), (80, 170, 90)]), 25
    )
    n = int(rng.integers(3, 6))
    views = [int(v) for v in rng.permutation(N_VIEWS)[:n]]
    for i, v in enumerate(views):
        informative = i == n - 1
        ctx.save(f"{int(informative)}_{v:04d}.png", _draw_view(kind, flavour, v, informative, colour, rng))
    return {
        "id": ctx.record_id,
        "prompt": PROMPT,
        "options": shuffled(rng, [choose(rng, ROTATE_TEXTS), choose(rng, ABSTAIN_TEXTS)]),
        "categories": cats,
        "answer": f"{flavour} {kind}.",
        "image_template": f"{ctx.rel_dir}/{{informative}}_{{image}}.png",
        "first_image": views[0],
        "num_images": n,
        "reference_image": views[-1],
        "valid_images": views,
    }

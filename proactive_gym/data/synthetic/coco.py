"""Synthetic COCO: a room scene with one object, shown through a badly framed crop that grows.

Directions follow SPEC section 3: for one or two directions the crop's far edges stay put and the edge
towards the object moves by ``horizontal_step`` / ``vertical_step`` per move, ``granularity`` moves at
most; the object lies (almost) outside the first crop and inside the last. For ``zoom`` the first crop is
a close-up inside the object and the last one is the whole image. Crop arithmetic (the release's
convention): for a direction, ``crop.width``/``crop.height`` hold the right/bottom *edges*; for zoom they
hold the *size* of the central box.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import ImageDraw

from proactive_gym.data.synthetic.common import ABSTAIN_TEXTS, Context, choose, shuffled, with_period
from proactive_gym.data.synthetic.shapes import backdrop, draw_object, pick_categories

PREFIX = "coco2014"
W, H = 224, 168
DIRECTIONS = ("zoom", "left", "right", "up", "down", "up_left", "up_right", "down_left", "down_right")
OPTION_FOR = {
    "left": "Move the camera to the left.",
    "right": "Move the camera to the right.",
    "up": "Move the camera up.",
    "down": "Move the camera down.",
    "zoom": "Move farther from the object.",
}
PROMPT = "What is the object in the image?"


def _moving_axis(
    rng: np.random.Generator, size: int, obj: int, g: int, towards_low: bool
) -> tuple[int, int, int, int]:
    """One axis where the crop grows towards the object: returns (object start, fixed edge, moving-edge
    value stored in the entry, step). The object spans [o0, o0 + obj); the first crop overlaps it by at
    most ~15% of its size, the crop after g - 1 moves contains it with a margin."""
    overlap, margin = obj // 7, 4
    step = math.ceil((obj - overlap + margin) / (g - 1))
    reach = (g - 1) * step  # how far the moving edge travels
    first_len = int(rng.integers(64, 90)) if size > 200 else int(rng.integers(56, 76))
    # low side: final edge f = o0 - margin >= 0; first edge f + reach; fixed edge first edge + first_len
    lo_max = size - first_len - reach - margin
    o0 = int(rng.integers(margin, max(margin + 1, lo_max + 1)))
    final_edge = o0 - margin
    first_edge = final_edge + reach
    fixed = min(size, first_edge + first_len)
    if towards_low:  # stored left/top = first edge + step (the env subtracts h0 from the start)
        return o0, fixed, first_edge + step, step
    # mirror everything for the high side
    return size - o0 - obj, size - fixed, size - first_edge - step, step


def make_episode(ctx: Context) -> dict:
    """Draw one scene and return its released-format record with a crop for one direction."""
    rng = ctx.rng
    answer, cats = pick_categories(rng)
    direction = choose(rng, DIRECTIONS)
    g = int(rng.integers(3, 6))
    img = backdrop(rng, W, H, clutter=2)
    if direction == "zoom":
        # the last crop (after g moves) is the whole image; the central box is 12 x 12 before the first step
        ow, oh = int(rng.integers(170, 200)), int(rng.integers(140, 160))
        h0, v0 = (W - 12) // (2 * (g + 1)), (H - 12) // (2 * (g + 1))
        left, top = (g + 1) * h0, (g + 1) * v0
        crop = {"left": left, "top": top, "width": W - 2 * left, "height": H - 2 * top}
        ox, oy = (W - ow) // 2 + int(rng.integers(-6, 7)), (H - oh) // 2 + int(rng.integers(-6, 7))
    else:
        ow = oh = int(rng.integers(76, 92))
        h0 = v0 = 0
        box = {"left": 0, "top": 0, "width": W, "height": H}  # width/height hold right/bottom edges here
        if "left" in direction or "right" in direction:
            ox, fixed, moving, h0 = _moving_axis(rng, W, ow, g, "left" in direction)
            box["width" if "left" in direction else "left"] = fixed
            box["left" if "left" in direction else "width"] = moving
        else:
            ox = int(rng.integers(40, W - 40 - ow))
            box["left"], box["width"] = ox - int(rng.integers(20, 40)), ox + ow + int(rng.integers(20, 40))
        if "up" in direction or "down" in direction:
            oy, fixed, moving, v0 = _moving_axis(rng, H, oh, g, "up" in direction)
            box["height" if "up" in direction else "top"] = fixed
            box["top" if "up" in direction else "height"] = moving
        else:
            oy = int(rng.integers(30, H - 30 - oh))
            box["top"], box["height"] = oy - int(rng.integers(16, 30)), oy + oh + int(rng.integers(16, 30))
        crop = box
    draw_object(ImageDraw.Draw(img), answer, (ox, oy, ox + ow, oy + oh), rng)
    ctx.save("image.png", np.asarray(img))
    moves = ["zoom"] if direction == "zoom" else direction.split("_")
    return {
        "id": ctx.record_id,
        "prompt": PROMPT,
        "options": shuffled(rng, [*(OPTION_FOR[m] for m in moves), choose(rng, ABSTAIN_TEXTS)]),
        "categories": with_period(cats),
        "answer": answer + ".",
        "image_template": f"{ctx.rel_dir}/image.png",
        "first_image": 0,
        "num_images": 1,
        "reference_image": 0,
        "direction": direction,
        "granularity": g,
        "horizontal_step": int(h0),
        "vertical_step": int(v0),
        "crop": {
            "top": int(crop["top"]),
            "left": int(crop["left"]),
            "height": int(crop["height"]),
            "width": int(crop["width"]),
        },
        "bbox": [int(ox), int(oy), int(ow), int(oh)],
    }

"""Synthetic ROD: an object on a table behind two coloured blocks that slide on a 14-frame circular track.

Frame 7 (the middle) hides the object completely; each frame moves the blocks by a fixed step, so the
object shows again only several moves to the left or to the right. The reference frame is the first fully
revealed frame on one side (chosen at random).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from proactive_gym.data.synthetic.common import ABSTAIN_TEXTS, Context, choose, shuffled, with_period
from proactive_gym.data.synthetic.shapes import draw_object, jitter_colour, pick_categories

PREFIX = "Realistic-Occlusion-Dataset"
SIZE = 160
FRAMES = 14
MIDDLE = 7
BLOCK_COLOURS = [(40, 80, 200), (40, 160, 70), (210, 50, 40), (230, 190, 40), (140, 60, 170)]
PROMPT = "What is the object behind the blocks?"
OPTIONS = ("Move the block to the left.", "Move the block to the right.")


def make_episode(ctx: Context) -> dict:
    """Draw the 14 frames of one episode and return its released-format record."""
    rng = ctx.rng
    answer, cats = pick_categories(rng)
    wall, table = jitter_colour(rng, (225, 220, 205), 20), jitter_colour(rng, (150, 110, 70), 20)
    size = int(rng.integers(60, 72))
    cx, cy = SIZE // 2 + int(rng.integers(-4, 5)), 88
    obj_box = (cx - size // 2, cy - size // 2, cx + size // 2, cy + size // 2)
    colours = [BLOCK_COLOURS[i] for i in rng.permutation(len(BLOCK_COLOURS))[:2]]
    block_w = size // 2 + 10
    step = int(rng.integers(16, 21))
    # the object is fully clear once the blocks have moved past its half-width plus their own width
    reveal = next(k for k in range(1, 8) if k * step >= block_w + size // 2 + 2)
    base = Image.new("RGB", (SIZE, SIZE), wall)
    draw = ImageDraw.Draw(base)
    draw.rectangle((0, 110, SIZE, SIZE), fill=table)
    draw_object(draw, answer, obj_box, rng)
    for k in range(FRAMES):
        img = base.copy()
        d = ImageDraw.Draw(img)
        offset = (k - MIDDLE) * step
        for j, colour in enumerate(colours):
            x0 = cx - block_w + j * block_w + offset
            d.rectangle(
                (x0, obj_box[1] - 6, x0 + block_w - 1, obj_box[3] + 8), fill=colour, outline=(20, 20, 20)
            )
        ctx.save(f"{k}.png", np.asarray(img))
    reference = MIDDLE - reveal if rng.random() < 0.5 else MIDDLE + reveal
    return {
        "id": ctx.record_id,
        "prompt": PROMPT,
        "options": shuffled(rng, [*OPTIONS, choose(rng, ABSTAIN_TEXTS)]),
        "categories": with_period(cats),
        "answer": answer + ".",
        "image_template": f"{ctx.rel_dir}/{{image}}.png",
        "first_image": MIDDLE,
        "num_images": FRAMES,
        "reference_image": reference,
    }

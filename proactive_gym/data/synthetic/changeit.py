"""Synthetic ChangeIt: a short tutorial video on a kitchen table where the object (or the action) is on
screen only in a window of frames. The first frame lies before the window (wait) or after it (rewind),
a whole number of ``step_size`` jumps away from the reference frame inside it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from proactive_gym.data.synthetic.common import ABSTAIN_TEXTS, REWIND, Context, choose, shuffled, with_period
from proactive_gym.data.synthetic.shapes import FAMILIES, draw_object, jitter_colour, pick_categories

PREFIX = "ChangeIt"
W, H = 160, 120
N_FRAMES = 12
ACTIONS = ["Pouring", "Stirring", "Hammering", "Cutting"]


def _draw_action(d: ImageDraw.ImageDraw, action: str, rng: np.random.Generator) -> None:
    if action == "Pouring":
        draw_object(d, "Bottle", (70, 10, 100, 60), rng)
        d.line((85, 60, 85, 78), fill=(90, 140, 230), width=4)
        draw_object(d, "Cup", (66, 70, 104, 104), rng)
    elif action == "Stirring":
        draw_object(d, "Bowl", (50, 62, 110, 104), rng)
        draw_object(d, "Spoon", (70, 22, 96, 78), rng)
        d.arc((60, 62, 100, 78), 200, 340, fill=(60, 60, 60), width=2)
    elif action == "Hammering":
        d.rectangle((50, 92, 110, 102), fill=(170, 130, 80), outline=(60, 40, 20))
        d.line((80, 80, 80, 92), fill=(80, 80, 90), width=3)
        draw_object(d, "Hammer", (62, 20, 98, 78), rng)
    else:
        d.rectangle((52, 70, 108, 100), fill=(250, 250, 240), outline=(120, 120, 120))
        d.line((80, 70, 80, 100), fill=(120, 120, 120), width=1)
        draw_object(d, "Scissors", (64, 18, 96, 72), rng)


def make_episode(ctx: Context) -> dict:
    """Draw the frames of one video and return its released-format record."""
    rng = ctx.rng
    about = choose(rng, ["object", "action"])
    if about == "object":
        answer, cats = pick_categories(rng, FAMILIES["fruit"] + FAMILIES["tableware"])
        prompt, wait = "What is the main object in this video?", "Wait for the object to appear."
    else:
        answer, cats = choose(rng, ACTIONS), shuffled(rng, ACTIONS)
        prompt, wait = "What action is being performed in this video?", "Wait for the action to appear."
    step = int(rng.integers(1, 4))
    moves = int(rng.integers(1, 4))
    later = rng.random() < 0.5
    span = moves * step
    if later:  # the first frame comes before the window; the reference is the first reachable frame in it
        first = int(rng.integers(0, N_FRAMES - span))
        reference = first + span
        window = (first + span - step + 1, min(N_FRAMES, reference + int(rng.integers(1, 4))))
    else:
        first = int(rng.integers(span, N_FRAMES))
        reference = first - span
        window = (max(0, reference - int(rng.integers(0, 3))), first - span + step)
    table, wall = jitter_colour(rng, (170, 120, 80), 20), jitter_colour(rng, (215, 210, 195), 20)
    hands = jitter_colour(rng, (225, 180, 150), 20)
    for t in range(N_FRAMES):
        img = Image.new("RGB", (W, H), wall)
        d = ImageDraw.Draw(img)
        d.rectangle((0, 96, W, H), fill=table)
        d.ellipse((8 + t % 3, 86, 30, 100), fill=hands)  # the cook's hands rest at the sides
        d.ellipse((130, 86, 152 - t % 3, 100), fill=hands)
        if window[0] <= t < window[1]:
            if about == "object":
                draw_object(d, answer, (50, 36, 110, 96), rng)
            else:
                _draw_action(d, answer, rng)
        ctx.save(f"{t}.png", np.asarray(img))
    extra = int(rng.integers(0, 3))
    return {
        "id": ctx.record_id,
        "prompt": prompt,
        "options": shuffled(rng, [REWIND, wait, choose(rng, ABSTAIN_TEXTS)]),
        "categories": with_period(cats),
        "answer": answer + ".",
        "image_template": f"{ctx.rel_dir}/{{image}}.png",
        "first_image": first,
        "num_images": N_FRAMES,
        "reference_image": reference,
        "step_size": step,
        "max_steps": moves + 1 + extra,
    }

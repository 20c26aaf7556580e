"""Synthetic ImageNet-C: an animal on a plain background, corrupted at severities 1..5 with the real
ImageNet-C functions (the ``imagecorruptions`` package). The useful fix matches the corruption's family;
three fixes for other families are offered beside it.

The four candidate animals of an episode share one silhouette and one colour scheme (zebra, dalmatian,
cow, snow leopard; or tiger, cheetah, giraffe, leopard): only the coat pattern, a fine detail, tells them
apart, which is what a severe corruption destroys and a mild one keeps.
"""

from __future__ import annotations

import numpy as np

from proactive_gym.data.synthetic.common import ABSTAIN_TEXTS, Context, choose, shuffled, with_period
from proactive_gym.data.synthetic.corruptions import ALL_FIXES, FIX_FOR, corrupt
from proactive_gym.data.synthetic.shapes import ANIMAL_FAMILIES, backdrop, draw_animal

PREFIX = "ImageNet-C"
SIZE = 128
PERIOD = 6.0  # coat pattern period in pixels
MARK_CONTRAST = 0.6
# The corruptions whose severity 5 wipes out a coat pattern of this period while severity 1 keeps it
# (measured: benchmarks/bench_synthetic.py and docs/synthetic.md). The others (brightness, contrast, fog,
# frost, snow, jpeg, motion and zoom blur, shot noise, elastic) leave the pattern readable at severity 5,
# so their first frame would not be ambiguous.
USED = ("defocus_blur", "gaussian_blur", "pixelate", "speckle_noise", "spatter")
PROMPT = "What animal is in the image?"


def make_episode(ctx: Context) -> dict:
    """Write severities 1..5 of one corrupted photo and return its released-format record."""
    rng = ctx.rng
    family = choose(rng, list(ANIMAL_FAMILIES))
    names = list(ANIMAL_FAMILIES[family][2])
    answer, cats = choose(rng, names), shuffled(rng, names)
    clean = np.array(backdrop(rng, SIZE, SIZE, clutter=1))
    s = int(rng.integers(int(SIZE * 0.7), int(SIZE * 0.85)))
    x0, y0 = (SIZE - s) // 2 + int(rng.integers(-5, 6)), (SIZE - s) // 2 + int(rng.integers(-5, 6))
    draw_animal(clean, answer, (x0, y0, x0 + s, y0 + s), rng, period=PERIOD, contrast=MARK_CONTRAST)
    name = choose(rng, USED)
    fix = FIX_FOR[name]
    for level in range(1, 6):
        seed = int(rng.integers(2**31))
        ctx.save(f"{level}.png", corrupt(clean, name, level, seed))
    distractors = shuffled(rng, [f for f in ALL_FIXES if f != fix])[:3]
    return {
        "id": ctx.record_id,
        "prompt": PROMPT,
        "options": shuffled(rng, [fix, *distractors, choose(rng, ABSTAIN_TEXTS)]),
        "categories": with_period(cats),
        "answer": answer + ".",
        "image_template": f"{ctx.rel_dir}/{{level}}.png",
        "first_image": 5,
        "num_images": 5,
        "reference_image": 1,
        "quality_answer": fix,
        "corruption": name,
    }

"""Synthetic VSOD: a short street video of person-like figures; a tram passes in front of the group.

On the first frame the tram covers every figure that matters; rewinding or waiting moves it away. The
question asks how many people there are, who is talking (the figure with the speech bubble, named by shirt
colour), or which event is taking place (the prop on the table among them).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from proactive_gym.data.synthetic.common import ABSTAIN_TEXTS, Context, choose, shuffled
from proactive_gym.data.synthetic.shapes import jitter_colour

PREFIX = "OcclusionDataSet-MM20"
W, H = 160, 120
SHIRTS = {
    "red": (200, 40, 40),
    "blue": (40, 70, 200),
    "green": (40, 150, 60),
    "yellow": (230, 200, 40),
    "purple": (130, 50, 160),
}
COUNTS = ["One person.", "Two people.", "Three people.", "Four people."]
EVENTS = ["A birthday party.", "A football match.", "A concert.", "A picnic."]
WAIT = "Wait for the occlusion to disappear."
REWIND = "Rewind the video."


def _person(d: ImageDraw.ImageDraw, x: int, shirt: tuple[int, int, int], skin: tuple[int, int, int]) -> None:
    d.ellipse((x - 6, 38, x + 6, 50), fill=skin, outline=(40, 30, 20))
    d.rectangle((x - 8, 51, x + 8, 78), fill=shirt, outline=(20, 20, 20))
    d.rectangle((x - 7, 79, x - 2, 100), fill=(50, 50, 70))
    d.rectangle((x + 2, 79, x + 7, 100), fill=(50, 50, 70))


def _prop(d: ImageDraw.ImageDraw, event: str, x: int) -> None:
    d.rectangle((x - 14, 88, x + 14, 92), fill=(110, 80, 50))  # small table
    if event == EVENTS[0]:  # cake with candles
        d.rectangle((x - 10, 76, x + 10, 88), fill=(240, 220, 230), outline=(150, 60, 90))
        for cx in (x - 5, x, x + 5):
            d.line((cx, 70, cx, 76), fill=(220, 60, 60), width=2)
    elif event == EVENTS[1]:  # ball
        d.ellipse((x - 9, 70, x + 9, 88), fill=(250, 250, 250), outline=(0, 0, 0))
        d.polygon([(x, 75), (x + 4, 79), (x + 2, 84), (x - 2, 84), (x - 4, 79)], fill=(0, 0, 0))
    elif event == EVENTS[2]:  # guitar
        d.ellipse((x - 8, 76, x + 8, 88), fill=(180, 100, 40), outline=(60, 30, 10))
        d.line((x + 4, 78, x + 14, 62), fill=(60, 30, 10), width=3)
    else:  # picnic basket
        d.chord((x - 12, 72, x + 12, 96), 180, 360, fill=(170, 120, 60), outline=(90, 60, 20))
        d.arc((x - 8, 66, x + 8, 86), 180, 360, fill=(90, 60, 20), width=2)


def make_episode(ctx: Context) -> dict:
    """Draw the frames of one video and return its released-format record."""
    rng = ctx.rng
    kind = choose(rng, ["count", "who", "event"])
    n_frames = int(rng.integers(10, 14))
    colour_names = shuffled(rng, list(SHIRTS))
    if kind == "count":
        n_people = int(rng.integers(1, 5))
        prompt, answer, cats = (
            "How many people are in the video?",
            COUNTS[n_people - 1],
            shuffled(rng, COUNTS),
        )
    elif kind == "who":
        n_people = int(rng.integers(1, 4))
        speaker = colour_names[0]
        prompt, answer = "Who is talking?", f"The person in {speaker}."
        cats = shuffled(rng, [f"The person in {c}." for c in colour_names[:4]])
    else:
        n_people = int(rng.integers(1, 3))
        event = choose(rng, EVENTS)
        prompt, answer, cats = "Which event is taking place?", event, shuffled(rng, EVENTS)
    # the group stands around the middle; the speaker (or the prop) in the centre
    xs = [80 + dx for dx in (0, -18, 18, -36, 36)[:n_people]] if kind != "event" else [60, 100][:n_people]
    skin = jitter_colour(rng, (225, 180, 150), 25)
    scene = Image.new("RGB", (W, H), jitter_colour(rng, (170, 200, 230), 20))
    d = ImageDraw.Draw(scene)
    d.rectangle((0, 95, W, H), fill=jitter_colour(rng, (120, 120, 120), 20))
    for i, x in enumerate(xs):
        _person(d, x, jitter_colour(rng, SHIRTS[colour_names[i]], 15), skin)
    if kind == "who":
        d.ellipse((xs[0] + 6, 18, xs[0] + 30, 34), fill=(255, 255, 255), outline=(0, 0, 0))
        d.polygon([(xs[0] + 8, 30), (xs[0] + 4, 38), (xs[0] + 14, 32)], fill=(255, 255, 255))
    if kind == "event":
        _prop(d, event, 80)
    lo, hi = min(xs) - 12, max(xs) + 12  # what the tram must hide
    if kind == "who":
        lo, hi = min(lo, xs[0] - 12), max(hi, xs[0] + 32)
    tram_w = max(hi - lo + 16, 110)
    speed = int(rng.integers(22, 30)) * (1 if rng.random() < 0.5 else -1)
    first = int(rng.integers(2, n_frames - 2))
    x_first = (lo + hi) // 2 - tram_w // 2
    tram_colour = jitter_colour(rng, (230, 120, 30), 30)
    clear = []
    for t in range(n_frames):
        x0 = x_first + (t - first) * speed
        img = scene.copy()
        dd = ImageDraw.Draw(img)
        dd.rectangle((x0, 12, x0 + tram_w, 104), fill=tram_colour, outline=(30, 30, 30))
        for wx in range(x0 + 8, x0 + tram_w - 16, 24):
            dd.rectangle((wx, 22, wx + 16, 44), fill=(190, 220, 240), outline=(30, 30, 30))
        dd.ellipse((x0 + 10, 98, x0 + 26, 114), fill=(20, 20, 20))
        dd.ellipse((x0 + tram_w - 26, 98, x0 + tram_w - 10, 114), fill=(20, 20, 20))
        if x0 > hi or x0 + tram_w < lo:
            clear.append(t)
        ctx.save(f"{t:04d}.png", np.asarray(img))
    if not clear:
        raise RuntimeError(f"VSOD generator: no clear frame in episode {ctx.record_id}; report this bug")
    # the reference: the clear frame nearest to the first one on the circular track
    reference = min(clear, key=lambda t: (min((t - first) % n_frames, (first - t) % n_frames), t))
    return {
        "id": ctx.record_id,
        "prompt": prompt,
        "options": shuffled(rng, [REWIND, WAIT, choose(rng, ABSTAIN_TEXTS)]),
        "categories": cats,
        "answer": answer,
        "image_template": f"{ctx.rel_dir}/{{image}}.png",
        "first_image": first,
        "num_images": n_frames,
        "reference_image": reference,
        "strong_occlusions": True,
    }

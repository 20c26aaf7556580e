"""The random-invalid-options setting: each proactive option replaced with one from another scenario.

It tests whether a model understands the action it asks for or only avoids abstaining. As in the
authors' code, any such option then counts as a suggestion and triggers a random action of the scenario.
"""

from __future__ import annotations

import numpy as np

from proactive_gym.protocol import is_abstain
from proactive_gym.scenarios.base import Entry, Scenario

# The proactive options of each scenario (the texts of the release), by short name.
POOL: dict[str, tuple[str, ...]] = {
    "ROD": ("Move the block to the left.", "Move the block to the right."),
    "VSOD": ("Rewind the video.", "Wait for the occlusion to disappear."),
    "MVP-N": ("Rotate the object.", "Change the camera angle."),
    "ImageNet-C": (
        "Increase the brightness.",
        "Increase the contrast.",
        "Increase the saturation.",
        "Deblur the image.",
        "Denoise the image.",
        "Remove JPEG compression.",
        "Increase the resolution.",
        "Remove the artifacts.",
    ),
    "QuickDraw": ("Add more details.", "Add more strokes to the sketch."),
    "ChangeIt": ("Wait for the object to appear.", "Rewind the video."),
    "COCO": (
        "Move the camera to the left.",
        "Move the camera to the right.",
        "Move the camera up.",
        "Move the camera down.",
        "Move farther from the object.",
    ),
}
_SALT = 20_260_319


def randomize_options(scenario: Scenario, entry: Entry) -> Entry:
    """A copy of ``entry`` whose proactive options come from other scenarios (deterministic per sample).

    The abstain option keeps its place; ImageNet-C's ``quality_answer`` no longer appears.
    """
    own = set(entry["options"])
    pool = sorted({o for name, opts in POOL.items() if name != scenario.name for o in opts} - own)
    rng = np.random.default_rng([_SALT, list(POOL).index(scenario.name), int(entry["id"])])
    picks = iter(rng.choice(pool, size=len(entry["options"]), replace=False).tolist())
    options = [o if is_abstain(o) else next(picks) for o in entry["options"]]
    return {**entry, "options": options}


def random_action(scenario: Scenario, entry: Entry, turn: int) -> str:
    """The random action an invalid option triggers at ``turn`` (deterministic per sample and turn)."""
    actions = scenario.random_actions(entry)
    rng = np.random.default_rng([_SALT, int(entry["id"]), turn])
    return actions[int(rng.integers(len(actions)))]

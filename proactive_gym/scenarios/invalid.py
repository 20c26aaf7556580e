"""The random-invalid-options setting: each proactive option replaced with one from another scenario.

It tests whether a model understands the action it asks for or only avoids abstaining. As in the
authors' code, any such option then counts as a suggestion and triggers a random action of the scenario.

A replacement must be an action that does *not* help in the scenario at hand, or the setting would
reward a sensible request. Every candidate text has a kind (:data:`KINDS`), and each scenario names the
kinds that help it (:data:`HELPS`): its own actions plus those its open-ended answer list accepts (ROD and
VSOD accept "Move the camera", MVP-N "Move the camera" besides rotating, and so on). The pool of a
scenario is every candidate whose kind does not help it (:func:`pool`):

>>> [len(pool(name)) for name in HELPS]
[14, 13, 15, 14, 20, 19, 16]
>>> sorted({KINDS[text] for text in pool("ROD")})
['details', 'quality', 'rewind', 'rotate', 'wait']

So ROD never gets a camera move, VSOD and ChangeIt never a rewind or a wait, MVP-N and COCO never a
camera move (MVP-N's "Change the camera angle." is one), ImageNet-C never a quality fix and QuickDraw
never a request for details. The draws are deterministic per sample (:func:`randomize_options`).
"""

from __future__ import annotations

import numpy as np

from proactive_gym.protocol import is_abstain
from proactive_gym.scenarios.base import Entry, Scenario

# The proactive option texts of the release, by the kind of intervention they ask for.
KINDS: dict[str, str] = {
    "Move the block to the left.": "blocks",
    "Move the block to the right.": "blocks",
    "Rewind the video.": "rewind",
    "Wait for the occlusion to disappear.": "wait",
    "Wait for the object to appear.": "wait",
    "Rotate the object.": "rotate",
    "Change the camera angle.": "camera",
    "Increase the brightness.": "quality",
    "Increase the contrast.": "quality",
    "Increase the saturation.": "quality",
    "Deblur the image.": "quality",
    "Denoise the image.": "quality",
    "Remove JPEG compression.": "quality",
    "Increase the resolution.": "quality",
    "Remove the artifacts.": "quality",
    "Add more details.": "details",
    "Add more strokes to the sketch.": "details",
    "Move the camera to the left.": "camera",
    "Move the camera to the right.": "camera",
    "Move the camera up.": "camera",
    "Move the camera down.": "camera",
    "Move farther from the object.": "camera",
}

# The kinds of intervention that help in each scenario (its own actions and its open-ended answers).
HELPS: dict[str, frozenset[str]] = {
    "ROD": frozenset({"blocks", "camera"}),
    "VSOD": frozenset({"rewind", "wait", "camera"}),
    "MVP-N": frozenset({"rotate", "camera"}),
    "ImageNet-C": frozenset({"quality"}),
    "QuickDraw": frozenset({"details"}),
    "ChangeIt": frozenset({"rewind", "wait"}),
    "COCO": frozenset({"camera"}),
}
_SALT = 20_260_319


def pool(scenario: str) -> tuple[str, ...]:
    """The candidate replacements of a scenario: every text whose kind does not help there, sorted."""
    helps = HELPS[scenario]
    return tuple(sorted(text for text, kind in KINDS.items() if kind not in helps))


def randomize_options(scenario: Scenario, entry: Entry) -> Entry:
    """A copy of ``entry`` whose proactive options are drawn from :func:`pool` (deterministic per sample).

    The abstain option keeps its place; ImageNet-C's ``quality_answer`` no longer appears.
    """
    candidates = [text for text in pool(scenario.name) if text not in entry["options"]]
    rng = np.random.default_rng([_SALT, list(HELPS).index(scenario.name), int(entry["id"])])
    picks = iter(rng.choice(candidates, size=len(entry["options"]), replace=False).tolist())
    options = [o if is_abstain(o) else next(picks) for o in entry["options"]]
    return {**entry, "options": options}


def random_action(scenario: Scenario, entry: Entry, turn: int) -> str:
    """The random action an invalid option triggers at ``turn`` (deterministic per sample and turn)."""
    actions = scenario.random_actions(entry)
    rng = np.random.default_rng([_SALT, int(entry["id"]), turn])
    return actions[int(rng.integers(len(actions)))]

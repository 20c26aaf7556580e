"""ROD: name the object hidden behind sliding blocks (Realistic Occlusion Dataset)."""

from __future__ import annotations

from typing import Any

from proactive_gym.scenarios.base import Entry, Scenario, State, circular_move, circular_oracle

# The release has one corrupted frame; the paper shows the neighbour in the direction of the last move.
CORRUPTED_FRAME = "natural_bluebl_greenr-banana-s6"


class ROD(Scenario):
    """14 frames on a circular track; the episode starts on the fully occluded middle frame.

    Left = frame - 1, right = frame + 1 (modulo the frame count). At turn 0 even the right category counts
    as wrong: nothing has moved, the object cannot be seen. Max turns = ``num_images``.
    """

    name = "ROD"
    prefix = "Realistic-Occlusion-Dataset"
    hint = "Hint: moving the occluding object might reveal what is behind it."
    reference_prompt = "What type of object is in the image?"
    action_keywords = (("to the left", "left"), ("to the right", "right"))
    open_suggestions = 2
    icl_short_edge = 512

    def category_allowed(self, entry: Entry, state: State) -> bool:
        return state["last_action"] is not None

    def transition(self, entry: Entry, state: State, action: str) -> None:
        step = -1 if action == "left" else 1
        state["frame"] = circular_move(state["frame"], step, int(entry["num_images"]))

    def image_key(self, entry: Entry, state: State, reference: bool = False) -> str:
        key = super().image_key(entry, state, reference)
        if CORRUPTED_FRAME in key:
            key = key.replace("s6", "s5" if state["last_action"] == "left" else "s7")
        return key

    def oracle_move(self, entry: Entry, state: State) -> str | None:
        return circular_oracle(self, entry, state, back="left", forward="right")

    def demo_move(self, entry: Entry, state: State, rng: Any) -> str | None:
        """The authors' ROD demonstration: one move picked at random (left or right) on the first frame,
        then the category, answered on the frame that single move reaches (often still occluded)."""
        if state["turn"] > 0:
            return None
        useful = self.useful_options(entry, state)
        return useful[int(rng.integers(len(useful)))]

    def open_answer_string(self, entry: Entry) -> str:
        return "Move the blocks, Move the camera."

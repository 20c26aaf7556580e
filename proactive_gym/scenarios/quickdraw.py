"""QuickDraw: name a sketch shown after its first stroke(s)."""

from __future__ import annotations

from proactive_gym.scenarios.base import Entry, Scenario, State


class QuickDraw(Scenario):
    """Frame k is the drawing after k strokes; asking for details adds a stroke; on the last frame only
    the category is right. Max turns = ``num_images``.
    """

    name = "QuickDraw"
    prefix = "QuickDraw"
    hint = "Hint: Adding more details to the quickdraw could help with classification."
    action_keywords = tuple((key, "details") for key in ("details", "quickdraw", "drawing", "sketch"))
    last_turn_category_only = True
    open_suggestions = 1

    def transition(self, entry: Entry, state: State, action: str) -> None:
        state["frame"] += 1

    def image_key(self, entry: Entry, state: State, reference: bool = False) -> str:
        frame = entry["reference_image"] if reference else state["frame"]
        return str(entry["image_template"]).format(image=str(frame).zfill(4))

    def at_reference(self, entry: Entry, state: State) -> bool:
        return state["frame"] >= entry["reference_image"]

    def open_answer_string(self, entry: Entry) -> str:
        return "Add more details to the drawing, " + entry["answer"].replace(".", "") + "."

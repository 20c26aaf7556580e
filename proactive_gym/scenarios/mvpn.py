"""MVP-N: name a retail product seen from an uninformative view."""

from __future__ import annotations

from proactive_gym.scenarios.base import Entry, Scenario, State


class MVPN(Scenario):
    """After the k-th reply the frame is ``valid_images[k]``; only the view shown on the last allowed turn
    is informative (``{informative}`` = 1), and on that turn only the category is right.
    Max turns = ``num_images``.
    """

    name = "MVP-N"
    prefix = "MVP-N"
    hint = "Hint: rotating the object could provide a more informative view."
    extra_fields = ("valid_images",)
    action_keywords = tuple(
        (key, "rotate") for key in ("rotate", "view", "angle", "orientation", "different")
    )
    last_turn_category_only = True
    open_suggestions = 2
    icl_short_edge = 112

    def transition(self, entry: Entry, state: State, action: str) -> None:
        state["frame"] = entry["valid_images"][state["turn"]]

    def image_key(self, entry: Entry, state: State, reference: bool = False) -> str:
        frame = entry["reference_image"] if reference else state["frame"]
        informative = int(reference or state["turn"] + 1 == int(entry["num_images"]))
        return str(entry["image_template"]).format(informative=informative, image=str(frame).zfill(4))

    def at_reference(self, entry: Entry, state: State) -> bool:
        return self.last_turn(entry, state)

    def open_answer_string(self, entry: Entry) -> str:
        return "Rotate the object, Move the camera."

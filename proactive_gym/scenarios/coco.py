"""COCO: name the object in a badly framed crop of an MS-COCO 2014 image."""

from __future__ import annotations

from proactive_gym.scenarios.base import Entry, Scenario, State

LEFT, RIGHT = "Move the camera to the left.", "Move the camera to the right."
UP, DOWN = "Move the camera up.", "Move the camera down."
ZOOM = "Move farther from the object."


class COCO(Scenario):
    """One image shown as a crop that grows (SPEC section 3, COCO).

    With h, v the current horizontal and vertical steps (start: the entry's ``horizontal_step`` and
    ``vertical_step``), each horizontal move (or zoom) makes h = h0 * (k + 1) after k such moves, vertical
    likewise. A direction's options disappear once its step reaches h0 * granularity (v0 * granularity);
    zoom's at h0 * (granularity + 1). Max turns: granularity for one direction, 2 * granularity for two,
    granularity + 1 for zoom. The category may be answered at any turn.
    """

    name = "COCO"
    prefix = "coco2014"
    hint = "Hint: moving the camera could help with classification."
    zoom_hint = "Hint: zooming out could help with classification."
    extra_fields = ("direction", "granularity", "horizontal_step", "vertical_step", "crop")
    action_keywords = (
        ("to the left", "left"),
        ("to the right", "right"),
        ("up", "up"),
        ("down", "down"),
        ("farther", "zoom"),
    )
    open_suggestions = 2

    def hint_for(self, entry: Entry) -> str:
        return self.zoom_hint if "zoom" in entry["direction"] else self.hint

    def initial_state(self, entry: Entry) -> State:
        state = super().initial_state(entry)
        state.update(h=entry["horizontal_step"], v=entry["vertical_step"], nh=0, nv=0)
        return state

    def random_actions(self, entry: Entry) -> tuple[str, ...]:
        d = entry["direction"]
        return ("zoom",) if "zoom" in d else tuple(a for a in ("left", "right", "up", "down") if a in d)

    def max_turns(self, entry: Entry) -> int:
        g = int(entry["granularity"])
        if "zoom" in entry["direction"]:
            return g + 1
        return 2 * g if "_" in entry["direction"] else g

    def _limits(self, entry: Entry) -> tuple[float, float]:
        """The steps at which the horizontal and vertical options disappear (0 when not in the direction)."""
        g, d = int(entry["granularity"]), entry["direction"]
        if "zoom" in d:
            return entry["horizontal_step"] * (g + 1), entry["vertical_step"] * (g + 1)
        horizontal = entry["horizontal_step"] * g if ("left" in d or "right" in d) else 0
        vertical = entry["vertical_step"] * g if ("up" in d or "down" in d) else 0
        return horizontal, vertical

    def valid_options(self, entry: Entry, state: State) -> list[str]:
        options = list(entry["options"])
        max_h, max_v = self._limits(entry)
        if entry["direction"] == "zoom":
            gone = {ZOOM} if state["h"] == max_h else set()
        else:
            gone = set()
            if state["h"] >= max_h:
                gone |= {LEFT, RIGHT}
            if state["v"] >= max_v:
                gone |= {UP, DOWN}
        return [o for o in options if o not in gone]

    def transition(self, entry: Entry, state: State, action: str) -> None:
        # The same floating-point steps as the authors' code, so that the equality test on zoom matches.
        if action in ("left", "right", "zoom"):
            state["nh"] += 1
            state["h"] = state["h"] / state["nh"] * (state["nh"] + 1)
        if action in ("up", "down", "zoom"):
            state["nv"] += 1
            state["v"] = state["v"] / state["nv"] * (state["nv"] + 1)

    def crop_box(self, entry: Entry, state: State) -> tuple[float, float, float, float]:
        d, c, h, v = entry["direction"], entry["crop"], state["h"], state["v"]
        zoom = "zoom" in d
        left = c["left"] - h if ("left" in d or zoom) else c["left"]
        top = c["top"] - v if ("up" in d or zoom) else c["top"]
        right = c["width"] + h if ("right" in d or zoom) else c["width"]
        bottom = c["height"] + v if ("down" in d or zoom) else c["height"]
        if d == "zoom":
            right += c["left"]
            bottom += c["top"]
        return (left, top, right, bottom)

    def frame_info(self, entry: Entry, state: State) -> list[float]:
        return [float(x) for x in self.crop_box(entry, state)]

    def image_key(self, entry: Entry, state: State, reference: bool = False) -> str:
        return str(entry["image_template"])

    def at_reference(self, entry: Entry, state: State) -> bool:
        return not self.useful_options(entry, state)

    def open_answer_string(self, entry: Entry) -> str:
        return "Move the camera, Move farther from the object, " + entry["answer"].replace(".", "") + "."

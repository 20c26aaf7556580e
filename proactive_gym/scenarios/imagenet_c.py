"""ImageNet-C: classify a corrupted image; exactly one of the four offered quality fixes helps."""

from __future__ import annotations

from proactive_gym.scenarios.base import Entry, Scenario, State

FIX_KEYWORDS = (
    "brightness",
    "contrast",
    "saturation",
    "deblur",
    "denoise",
    "compression",
    "resolution",
    "artifacts",
)


class ImageNetC(Scenario):
    """Start at severity ``first_image`` (5); the useful fix (``quality_answer``) lowers it by one; on the
    last allowed turn only the category is right. Max turns = ``num_images``.
    """

    name = "ImageNet-C"
    prefix = "ImageNet-C"
    hint = "Hint: enhancing the image quality could help with classification."
    extra_fields = ("quality_answer",)
    action_keywords = tuple((key, key) for key in FIX_KEYWORDS)
    last_turn_category_only = True
    open_suggestions = 1

    def useful_options(self, entry: Entry, state: State) -> list[str]:
        if self.last_turn(entry, state):
            return []
        return [o for o in self.valid_options(entry, state) if o == entry["quality_answer"]]

    def transition(self, entry: Entry, state: State, action: str) -> None:
        state["frame"] -= 1

    def image_key(self, entry: Entry, state: State, reference: bool = False) -> str:
        frame = entry["reference_image"] if reference else state["frame"]
        return str(entry["image_template"]).format(level=frame)

    def at_reference(self, entry: Entry, state: State) -> bool:
        return state["frame"] <= entry["reference_image"]

    def open_answer_string(self, entry: Entry) -> str:
        return ", ".join(a.replace(".", "") for a in (entry["quality_answer"], entry["answer"])) + "."

"""VSOD: who talks / how many people / which event, in a video frame where a person is occluded."""

from __future__ import annotations

from proactive_gym.scenarios.base import Entry, Scenario, State, circular_move, circular_oracle


class VSOD(Scenario):
    """Rewind = frame - 1, wait = frame + 1, on a circular track; the category may be answered at any turn.

    Only samples with ``strong_occlusions`` true belong to the benchmark. Max turns = ``num_images``.
    """

    name = "VSOD"
    prefix = "OcclusionDataSet-MM20"
    hint = (
        "Hint: If there is an occlusion, waiting for it to disappear or rewinding the video might reveal "
        "what's behind it."
    )
    pre_prompt = "This is a frame extracted from a video. Answer the following question."
    extra_fields = ("strong_occlusions",)
    action_keywords = (("rewind the video.", "rewind"), ("wait for the", "wait"))
    open_suggestions = 3

    def transition(self, entry: Entry, state: State, action: str) -> None:
        step = -1 if action == "rewind" else 1
        state["frame"] = circular_move(state["frame"], step, int(entry["num_images"]))

    def image_key(self, entry: Entry, state: State, reference: bool = False) -> str:
        frame = entry["reference_image"] if reference else state["frame"]
        return str(entry["image_template"]).format(image=str(frame).zfill(4))

    def oracle_move(self, entry: Entry, state: State) -> str | None:
        return circular_oracle(self, entry, state, back="rewind", forward="wait")

    def open_answer_string(self, entry: Entry) -> str:
        category = entry["answer"].replace(".", "")
        return f"Wait for the occlusion to disappear, Rewind the video, Move the camera, {category}."

"""ChangeIt: name the object or action of a tutorial video from one frame."""

from __future__ import annotations

from proactive_gym.scenarios.base import Entry, Scenario, State

REWIND = "Rewind the video."


class ChangeIt(Scenario):
    """Rewind = frame - ``step_size``, wait = frame + ``step_size``. Rewind is neither shown nor valid when
    frame - step_size < 0, wait likewise when frame + step_size >= ``num_images``; when both hold, only
    rewind is removed (as the authors' code does). Letters shift when an option disappears.
    Max turns = ``max_steps``.
    """

    name = "ChangeIt"
    prefix = "ChangeIt"
    hint = (
        "Hint: If you cannot answer the question, waiting for it to appear or rewinding the video could "
        "help with classification."
    )
    pre_prompt = "This is a frame extracted from a video. Answer the following question."
    extra_fields = ("step_size", "max_steps")
    action_keywords = (("rewind the video.", "rewind"), ("wait for the", "wait"))
    open_suggestions = 2

    def max_turns(self, entry: Entry) -> int:
        return int(entry["max_steps"])

    def valid_options(self, entry: Entry, state: State) -> list[str]:
        options = list(entry["options"])
        step = int(entry["step_size"])
        if state["frame"] - step < 0:
            if REWIND in options:
                options.remove(REWIND)
        elif state["frame"] + step >= int(entry["num_images"]):
            for option in options:
                if "Wait for the" in option:
                    options.remove(option)
                    break
        return options

    def transition(self, entry: Entry, state: State, action: str) -> None:
        step = int(entry["step_size"])
        state["frame"] += -step if action == "rewind" else step

    def frame_valid(self, entry: Entry, state: State) -> bool:
        return 0 <= state["frame"] < int(entry["num_images"])

    def at_reference(self, entry: Entry, state: State) -> bool:
        return abs(state["frame"] - entry["reference_image"]) < int(entry["step_size"]) or (
            state["frame"] == entry["reference_image"]
        )

    def oracle_move(self, entry: Entry, state: State) -> str | None:
        if self.at_reference(entry, state):
            return None
        want = "wait" if entry["reference_image"] > state["frame"] else "rewind"
        for option in self.useful_options(entry, state):
            if self.action_of(option) == want:
                return option
        return None

    def open_answer_string(self, entry: Entry) -> str:
        first = self.useful_options(entry, self.initial_state(entry))
        answers = [*first, REWIND, entry["answer"]]
        return ",".join(a.replace(".", "") for a in answers) + "."

    def judge_answer_count(self, answers: list[str]) -> int:
        """The authors' quirk: their ChangeIt answer list appends "Rewind the video." to the sample's own
        option list, in place, when both options are valid on the first frame; they call it twice per
        sample, once for the judge's prompt and once for the parser, so the parser expects one flag more
        than the judge was shown (a verdict of the shown length then scores all zeros). Both options
        valid on the first frame is the case where the shown list holds two options, the appended rewind
        and the category."""
        n = super().judge_answer_count(answers)
        return n + 1 if n == 4 else n

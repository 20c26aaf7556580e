"""What every scenario shares: the episode state, the hooks a scenario overrides, and the oracle.

A scenario is a stateless object; the state of one episode is a small JSON-serialisable ``dict`` owned by
the env (``frame``, ``turn``, ``last_action`` plus per-scenario extras such as COCO's steps). The hooks are
pure functions of ``(entry, state)``, so the env, the oracle and the trainer all run the same rules.
"""

from __future__ import annotations

from typing import Any

from proactive_gym.protocol import is_abstain, letter

Entry = dict[str, Any]
State = dict[str, Any]

COMMON_FIELDS = (
    "id",
    "prompt",
    "options",
    "categories",
    "answer",
    "image_template",
    "first_image",
    "num_images",
    "reference_image",
)


class Scenario:
    """Base class: one subclass per scenario overrides the hooks below that differ from the default."""

    name: str = ""  # short name, e.g. "ROD"
    prefix: str = ""  # released file prefix, e.g. "Realistic-Occlusion-Dataset"
    hint: str = ""
    pre_prompt: str = ""
    reference_prompt: str | None = None
    extra_fields: tuple[str, ...] = ()
    # substring of the lower-cased option text -> action name, tried in order
    action_keywords: tuple[tuple[str, str], ...] = ()
    # open-ended mode: number of leading acceptable answers that are suggestions
    open_suggestions: int = 0
    # MVP-N, ImageNet-C, QuickDraw: on the last allowed turn only the category is right
    last_turn_category_only: bool = False
    # in-context examples (ROD and MVP-N only): short edge of the demonstration images, as the paper
    icl_short_edge: int | None = None

    @property
    def env_id(self) -> str:
        return f"ProactiveBench/{self.name}-v0"

    @property
    def required_fields(self) -> tuple[str, ...]:
        return COMMON_FIELDS + self.extra_fields

    # ----- hooks ---------------------------------------------------------------------------------------
    def hint_for(self, entry: Entry) -> str:
        """The hint appended to the question when hints are on."""
        return self.hint

    def initial_state(self, entry: Entry) -> State:
        return {"frame": entry["first_image"], "turn": 0, "last_action": None}

    def max_turns(self, entry: Entry) -> int:
        return int(entry["num_images"])

    def last_turn(self, entry: Entry, state: State) -> bool:
        """True on the last allowed turn of a scenario where only the category is right then."""
        return self.last_turn_category_only and state["turn"] + 1 >= int(entry["num_images"])

    def random_actions(self, entry: Entry) -> tuple[str, ...]:
        """The actions a random invalid option may trigger (the random-options setting)."""
        return tuple(dict.fromkeys(action for _, action in self.action_keywords))

    def valid_options(self, entry: Entry, state: State) -> list[str]:
        """The proactive and abstain options shown now, in data order."""
        return list(entry["options"])

    def useful_options(self, entry: Entry, state: State) -> list[str]:
        """The shown options that count as a useful suggestion now."""
        if self.last_turn(entry, state):
            return []
        return [o for o in self.valid_options(entry, state) if not is_abstain(o)]

    def category_allowed(self, entry: Entry, state: State) -> bool:
        """Whether answering the right category counts as correct now."""
        return True

    def action_of(self, option: str) -> str:
        """The action a useful option asks for, from its text."""
        low = option.lower()
        for key, action in self.action_keywords:
            if key in low:
                return action
        raise ValueError(f"{self.name}: option {option!r} names no known action")

    def transition(self, entry: Entry, state: State, action: str) -> None:
        """Apply a useful suggestion to ``state`` in place (``turn`` is already incremented)."""
        raise NotImplementedError

    def apply_suggestion(self, entry: Entry, state: State, action: str) -> State:
        """The state after a useful suggestion that asks for ``action``: one turn more, ``last_action`` set,
        the scene moved (:meth:`transition`). A new dict: ``state`` (scalars only) is left as it was."""
        after = dict(state)
        after["turn"] += 1
        after["last_action"] = action
        self.transition(entry, after, action)
        return after

    def image_key(self, entry: Entry, state: State, reference: bool = False) -> str:
        """The image path relative to the data root for the current state (or the reference frame)."""
        frame = entry["reference_image"] if reference else state["frame"]
        return str(entry["image_template"]).format(image=frame)

    def crop_box(self, entry: Entry, state: State) -> tuple[float, float, float, float] | None:
        """A (left, top, right, bottom) box to crop the image to, or None for the whole image."""
        return None

    def frame_valid(self, entry: Entry, state: State) -> bool:
        """Whether the current frame exists (only a random action can leave the video: ChangeIt)."""
        return True

    def frame_info(self, entry: Entry, state: State) -> Any:
        """What ``info["frame"]`` reports."""
        return state["frame"]

    def at_reference(self, entry: Entry, state: State) -> bool:
        """Whether the oracle would answer now (the object is visible)."""
        return bool(state["frame"] == entry["reference_image"])

    def oracle_move(self, entry: Entry, state: State) -> str | None:
        """The useful option the oracle picks now, or None when it should answer."""
        useful = self.useful_options(entry, state)
        if not useful or (self.at_reference(entry, state) and self.category_allowed(entry, state)):
            return None
        return useful[0]

    def demo_move(self, entry: Entry, state: State, rng: Any) -> str | None:
        """The suggestion a demonstration episode makes now, or None when it answers (in-context examples).

        Default: the oracle's move (the authors' MVP-N demonstration: the first useful option on every turn
        but the last, then the category). ``rng`` is a ``numpy.random.Generator`` for scenarios that pick.
        """
        return self.oracle_move(entry, state)

    def open_answer_string(self, entry: Entry) -> str:
        """The comma-separated acceptable answers of open-ended mode, as the authors' code writes them."""
        raise NotImplementedError

    def judge_answer_count(self, answers: list[str]) -> int:
        """How many 0/1 flags the authors' open-ended parser expects for this acceptable-answer list (the
        non-empty answers; ChangeIt differs)."""
        return len([a for a in answers if a.strip()])

    # ----- derived -------------------------------------------------------------------------------------
    def shown_options(self, entry: Entry, state: State) -> list[str]:
        return self.valid_options(entry, state) + list(entry["categories"])

    def oracle_reply(self, entry: Entry, state: State) -> str:
        """The optimal reply now, as ``"<letter>. <text>"``."""
        shown = self.shown_options(entry, state)
        move = self.oracle_move(entry, state)
        target = move if move is not None else entry["answer"]
        return f"{letter(shown.index(target))}. {target}"

    def open_answers(self, entry: Entry) -> list[str]:
        """Acceptable answers of open-ended mode (suggestions first), split as the authors' judge does."""
        return [a.strip().replace(".", "") for a in self.open_answer_string(entry).split(",")]

    def min_turns(self, entry: Entry) -> int:
        """Turns the oracle needs to solve this episode (0 if it cannot within the turn limit)."""
        state = self.initial_state(entry)
        limit = self.max_turns(entry)
        for turn in range(1, limit + 1):
            move = self.oracle_move(entry, state)
            if move is None:
                return turn if self.category_allowed(entry, state) else 0
            state = self.apply_suggestion(entry, state, self.action_of(move))
        return 0


def circular_move(frame: int, step: int, count: int) -> int:
    """Move ``step`` frames on a circular track of ``count`` frames."""
    return (frame + step) % count


def circular_oracle(scenario: Scenario, entry: Entry, state: State, back: str, forward: str) -> str | None:
    """Oracle on a circular track: take the shorter way to the reference frame (ties go forward)."""
    if scenario.at_reference(entry, state) and scenario.category_allowed(entry, state):
        return None
    n = int(entry["num_images"])
    ahead = (entry["reference_image"] - state["frame"]) % n
    behind = (state["frame"] - entry["reference_image"]) % n
    want = forward if ahead <= behind and ahead != 0 else back
    if ahead == 0:  # at the reference but not allowed to answer yet (ROD turn 0): step and come back
        want = forward
    for option in scenario.useful_options(entry, state):
        if scenario.action_of(option) == want:
            return option
    return None

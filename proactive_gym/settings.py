"""The paper's settings (SPEC section 3), each one object that :class:`proactive_gym.env.ProactiveEnv`
consults at a few named points.

How a turn is asked and judged is a :class:`Protocol`; one per episode kind, picked from the config by
:func:`protocol_for` (open-ended, else reference, else random options, else the plain multiple choice):

- :class:`MultipleChoice`: the paper's main setting;
- :class:`RandomOptions` (``random_options=True``): the proactive options replaced with other scenarios'
  ones (:mod:`proactive_gym.scenarios.invalid`); any of them triggers a random action of the scenario;
- :class:`Reference` (``reference=True``): one turn on the reference frame with only the categories;
- :class:`OpenEnded` (``mode="open"``): one turn, no options, the reply judged later.

The env asks a protocol, at these points: ``entry`` (the sample as played), ``order`` (which samples,
in which order), ``question``/``options``/``image`` (what a turn shows), ``judge`` (a reply's outcome),
``action`` (what a useful suggestion does), ``max_turns``/``min_turns``/``frame``/``extra_info``/``oracle``
(what ``info`` reports).

What the model sees besides the current turn is a context setting: :class:`History` (``history=True``:
the earlier turns, images resized to a 224-pixel short edge) and :class:`InContext` (``icl_examples``:
solved demonstration episodes before the query). Hints (``hint=True``) are part of the question.
:func:`flags` lists every setting of a config, for the run summary.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any, NamedTuple

import numpy as np

from proactive_gym.config import EnvConfig
from proactive_gym.protocol import build_question, evaluate_reply, is_abstain, letter, render_prompt
from proactive_gym.scenarios.base import Entry, Scenario, State
from proactive_gym.scenarios.invalid import random_action, randomize_options

OPEN_HINT = "If you cannot answer this question, please tell me what I should do to help you."
HISTORY_SHORT_EDGE = 224

ImageKey = tuple[str, tuple[float, ...] | None]  # image path relative to the data root, crop box or None


class Verdict(NamedTuple):
    """A reply's outcome (one of ``config.OUTCOMES`` or ``"unjudged"``), the option it matched, and
    whether the episode is truncated (a useful suggestion on the last allowed turn)."""

    outcome: str
    chosen: str | None = None
    truncated: bool = False


# ----- how a turn is asked and judged -------------------------------------------------------------------


class Protocol:
    """The plain multiple-choice protocol (SPEC section 3); the other protocols override what differs."""

    name = "mcqa"

    def entry(self, sc: Scenario, entry: Entry) -> Entry:
        """The sample as the episodes play it."""
        return entry

    def order(self, sample_ids: list[int], config: EnvConfig) -> list[int]:
        """The episodes' sample ids, in order."""
        return sample_ids

    def question(self, sc: Scenario, entry: Entry, hint: bool) -> str:
        """The question of a turn: pre-prompt, prompt, and the scenario's hint when hints are on."""
        return build_question(entry["prompt"], sc.pre_prompt, sc.hint_for(entry) if hint else None)

    def valid_options(self, sc: Scenario, entry: Entry, state: State) -> list[str]:
        """The proactive and abstain options shown now."""
        return sc.valid_options(entry, state)

    def useful_options(self, sc: Scenario, entry: Entry, state: State) -> list[str]:
        """The shown options that count as a useful suggestion now."""
        return sc.useful_options(entry, state)

    def options(self, sc: Scenario, entry: Entry, state: State) -> list[str]:
        """Every option shown now, in letter order."""
        return self.valid_options(sc, entry, state) + list(entry["categories"])

    def dialogue(self, sc: Scenario, entry: Entry, state: State, hint: bool) -> str:
        """The user text of a turn."""
        return render_prompt(self.question(sc, entry, hint), self.options(sc, entry, state))

    def image(self, sc: Scenario, entry: Entry, state: State) -> ImageKey:
        """The image a turn shows."""
        return sc.image_key(entry, state), sc.crop_box(entry, state)

    def judge(self, sc: Scenario, entry: Entry, state: State, reply: str | None) -> Verdict:
        """The outcome of a reply (``None``: not text); the env applies it."""
        if reply is None:
            return Verdict("unparsable")
        valid = self.valid_options(sc, entry, state)
        useful = self.useful_options(sc, entry, state)
        right = [entry["answer"]] if sc.category_allowed(entry, state) else []
        act_verdict, act_chosen = evaluate_reply(reply, useful, valid, 0)
        cat_verdict, cat_chosen = evaluate_reply(reply, right, entry["categories"], len(valid))
        if cat_verdict == "correct":
            return Verdict("correct", cat_chosen)
        if act_verdict == "correct":
            if state["turn"] + 1 >= sc.max_turns(entry):
                return Verdict("out_of_turns", act_chosen, truncated=True)
            return Verdict("useful_suggestion", act_chosen)
        if act_verdict == "wrong":
            return Verdict("abstain" if is_abstain(act_chosen or "") else "useless_suggestion", act_chosen)
        if cat_verdict == "wrong":
            return Verdict("wrong_answer", cat_chosen)
        return Verdict("unparsable")

    def action(self, sc: Scenario, entry: Entry, state: State, chosen: str) -> str:
        """The action a useful suggestion (the option ``chosen``) triggers."""
        return sc.action_of(chosen)

    def max_turns(self, sc: Scenario, entry: Entry) -> int:
        return sc.max_turns(entry)

    def min_turns(self, sc: Scenario, entry: Entry) -> int:
        """Turns the oracle needs (``entry``: the sample as released)."""
        return sc.min_turns(entry)

    def frame(self, sc: Scenario, entry: Entry, state: State) -> Any:
        """What ``info["frame"]`` reports."""
        return sc.frame_info(entry, state)

    def extra_info(self, sc: Scenario, entry: Entry) -> dict[str, Any]:
        """Protocol-specific ``info`` fields."""
        return {}

    def oracle(self, sc: Scenario, entry: Entry, state: State) -> str:
        """The optimal reply now (privileged)."""
        return sc.oracle_reply(entry, state)


MultipleChoice = Protocol


class RandomOptions(Protocol):
    """``random_options=True``: each proactive option replaced with another scenario's one that does not
    help here; no option ever disappears, and any of them (but on a last category-only turn) counts as a
    suggestion that triggers a random action of the scenario, as in the authors' code."""

    name = "random_options"

    def entry(self, sc: Scenario, entry: Entry) -> Entry:
        return randomize_options(sc, entry)

    def valid_options(self, sc: Scenario, entry: Entry, state: State) -> list[str]:
        return list(entry["options"])

    def useful_options(self, sc: Scenario, entry: Entry, state: State) -> list[str]:
        if sc.last_turn(entry, state):
            return []
        return [o for o in entry["options"] if not is_abstain(o)]

    def action(self, sc: Scenario, entry: Entry, state: State, chosen: str) -> str:
        return random_action(sc, entry, state["turn"] + 1)

    def oracle(self, sc: Scenario, entry: Entry, state: State) -> str:
        """The actions are random: answer when the object is visible, else ask for the first option."""
        shown = self.options(sc, entry, state)
        ready = sc.at_reference(entry, state) and sc.category_allowed(entry, state)
        movable = [o for o in shown[: len(entry["options"])] if not is_abstain(o)] and not sc.last_turn(
            entry, state
        )
        target = entry["answer"] if ready or not movable else next(o for o in shown if not is_abstain(o))
        return f"{letter(shown.index(target))}. {target}"


class Reference(Protocol):
    """``reference=True``: one turn on the reference frame (COCO: the whole image) with only the four
    categories as options (ROD asks its reference question); the upper bound."""

    name = "reference"

    def question(self, sc: Scenario, entry: Entry, hint: bool) -> str:
        prompt = sc.reference_prompt if sc.reference_prompt is not None else entry["prompt"]
        return build_question(prompt, sc.pre_prompt, sc.hint_for(entry) if hint else None)

    def options(self, sc: Scenario, entry: Entry, state: State) -> list[str]:
        return list(entry["categories"])

    def image(self, sc: Scenario, entry: Entry, state: State) -> ImageKey:
        return sc.image_key(entry, state, reference=True), None

    def judge(self, sc: Scenario, entry: Entry, state: State, reply: str | None) -> Verdict:
        if reply is None:
            return Verdict("unparsable")
        verdict, chosen = evaluate_reply(reply, [entry["answer"]], entry["categories"], 0)
        return Verdict({"correct": "correct", "wrong": "wrong_answer"}.get(verdict, "unparsable"), chosen)

    def max_turns(self, sc: Scenario, entry: Entry) -> int:
        return 1

    def min_turns(self, sc: Scenario, entry: Entry) -> int:
        return 1

    def frame(self, sc: Scenario, entry: Entry, state: State) -> Any:
        return entry["reference_image"]

    def oracle(self, sc: Scenario, entry: Entry, state: State) -> str:
        cats = list(entry["categories"])
        return f"{letter(cats.index(entry['answer']))}. {entry['answer']}"


class OpenEnded(Protocol):
    """``mode="open"``: one turn, no options, the question (with the open-ended hint when hints are on);
    the reply is ``"unjudged"`` here and scored by a judge afterwards (SPEC section 4). The samples: the
    paper's seeded shuffle (seed 0) of the episodes, the first ``open_samples``."""

    name = "open"

    def order(self, sample_ids: list[int], config: EnvConfig) -> list[int]:
        ids = list(sample_ids)
        random.Random(0).shuffle(ids)
        return ids if config.open_samples is None else ids[: config.open_samples]

    def question(self, sc: Scenario, entry: Entry, hint: bool) -> str:
        return build_question(entry["prompt"], sc.pre_prompt, OPEN_HINT if hint else None)

    def options(self, sc: Scenario, entry: Entry, state: State) -> list[str]:
        return []

    def dialogue(self, sc: Scenario, entry: Entry, state: State, hint: bool) -> str:
        return self.question(sc, entry, hint)

    def judge(self, sc: Scenario, entry: Entry, state: State, reply: str | None) -> Verdict:
        return Verdict("unjudged")

    def max_turns(self, sc: Scenario, entry: Entry) -> int:
        return 1

    def extra_info(self, sc: Scenario, entry: Entry) -> dict[str, Any]:
        return {"acceptable_answers": sc.open_answers(entry), "n_suggestion_answers": sc.open_suggestions}

    def oracle(self, sc: Scenario, entry: Entry, state: State) -> str:
        return sc.open_answers(entry)[0]


def protocol_for(config: EnvConfig) -> Protocol:
    """The protocol of a config: open-ended, else reference, else random options, else multiple choice."""
    if config.mode == "open":
        return OpenEnded()
    if config.reference:
        return Reference()
    if config.random_options:
        return RandomOptions()
    return MultipleChoice()


# ----- what the model sees besides the current turn ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class History:
    """``history=True``: each turn that led to a useful suggestion stays in ``obs["history"]`` (image,
    user text, reply), and every image of the episode is resized to a 224-pixel short edge (COCO's never:
    the authors' COCO env refuses to resize)."""

    enabled: bool = False

    def shown(self, key: ImageKey, dialogue: str, reply: str | None) -> dict[str, Any] | None:
        """What a turn showed, to keep if its reply turns out to be a useful suggestion (None when off)."""
        return {"key": key, "dialogue": dialogue, "reply": reply} if self.enabled else None


@dataclasses.dataclass(frozen=True)
class InContext:
    """``icl_examples=n`` (ROD and MVP-N, as the paper): ``n`` solved demonstration episodes of other
    samples before the query, as the authors' ``get_icl_example``: the replies are the bare option or
    category texts; ROD shows the first frame, one move picked at random, then the category on the frame
    that move reaches; MVP-N asks for the first useful option on every turn but the last, then answers.
    By default (``full=False``, the authors' ``resize=True, reduce_icl_steps=True``) the images are
    resized (ROD 512, MVP-N 112 pixels on the short edge) and a demonstration longer than two turns keeps
    its first and last; ``full=True`` keeps every turn at the query's own image size. The samples and the
    random moves are drawn deterministically from the query's sample id."""

    n: int = 0
    full: bool = False

    def check(self, sc: Scenario) -> None:
        """Refuse a scenario the paper has no demonstrations for."""
        if self.n and sc.icl_short_edge is None:
            raise ValueError(
                f"in-context examples exist for ROD and MVP-N only (as in the paper), not {sc.name}"
            )

    def image_size(self, sc: Scenario, history: History) -> tuple[bool, int]:
        """(resize?, short edge) of the demonstrations' images."""
        if self.full:
            return history.enabled, HISTORY_SHORT_EDGE
        return True, sc.icl_short_edge or HISTORY_SHORT_EDGE

    def demos(
        self,
        sc: Scenario,
        protocol: Protocol,
        entries: dict[int, Entry],
        sample_ids: list[int],
        sample_id: int,
        hint: bool,
    ) -> list[dict[str, Any]]:
        """The demonstration turns for the query ``sample_id`` (``{"entry", "key", "dialogue", "reply"}``
        each; ``entries``: the samples as released)."""
        if not self.n:
            return []
        try:  # the other samples are sample_ids without this one (no list of them built at each reset)
            skip: int | None = sample_ids.index(sample_id)
        except ValueError:
            skip = None
        n_others = len(sample_ids) - (skip is not None)
        if n_others < self.n:
            raise ValueError(f"{self.n} in-context examples need more than {n_others} other samples")
        rng = np.random.default_rng([7, int(sample_id)])
        demos: list[dict[str, Any]] = []
        for i in rng.choice(n_others, size=self.n, replace=False):
            entry = entries[sample_ids[int(i) + (skip is not None and int(i) >= skip)]]
            state = sc.initial_state(entry)
            steps = []
            while True:
                move = sc.demo_move(entry, state, rng)
                steps.append(
                    {
                        "entry": entry,
                        "key": (sc.image_key(entry, state), sc.crop_box(entry, state)),
                        "dialogue": render_prompt(
                            protocol.question(sc, entry, hint), sc.shown_options(entry, state)
                        ),
                        "reply": move if move is not None else entry["answer"],
                    }
                )
                if move is None or state["turn"] + 1 >= sc.max_turns(entry):
                    break
                state = sc.apply_suggestion(entry, state, sc.action_of(move))
            demos.extend(steps if len(steps) <= 2 or self.full else [steps[0], steps[-1]])
        return demos


def flags(config: EnvConfig | dict[str, Any]) -> dict[str, Any]:
    """Every setting of the paper's protocol in a config (the fields marked ``setting`` in
    :class:`~proactive_gym.config.EnvConfig`), or in the env keyword arguments of a run, defaults filled
    in; for the run summary."""
    if isinstance(config, dict):
        defaults = EnvConfig()
        return {k: config.get(k, getattr(defaults, k)) for k in EnvConfig.setting_names()}
    return {k: getattr(config, k) for k in EnvConfig.setting_names()}

"""The CPU demo's frozen recognizer: what a pretrained VLM knows about an image, written as one prompt line.

A random-weight tiny VLM cannot recognise the objects, so it cannot learn "ask when unsure". The
recognizer stands in for that knowledge: the perception baseline's category classifiers
(:mod:`proactive_gym.baselines.perception`), each fit on the *clear* frames of one scenario's train split
only (the reference frame; COCO: also the last crop), never on an unclear frame, never on an evaluation
split. Their clarity gates and the ImageNet-C fix classifier, which learn from unclear frames, are never
read. Each prompt then ends with the line

    Recognizer: E (8). Suggestion: A.

naming the letter of the offered category the recognizer finds most likely, its confidence as one digit
(``floor(10 p)``, at most 9, where ``p`` is its probability among the four offered categories) and the
letter of the first shown suggestion that is not the abstain option (``none`` when there is none). The
policy (what GRPO trains) decides from that line when to answer and when to ask; the env, its options,
its rules and its reward are unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from proactive_gym.agents.base import Agent
from proactive_gym.protocol import N_CATEGORIES, is_abstain, letter

#: The prompt line's prefix (tests and the row builder find the line by it).
PREFIX = "Recognizer:"


def confidence_digit(p: float) -> int:
    """The confidence the line shows: ``floor(10 p)`` capped at 9 (p = 1.0 shows 9)."""
    return min(9, max(0, math.floor(10 * float(p))))


def first_suggestion(options: Sequence[str]) -> int | None:
    """Index of the first shown option that is neither a category (the last four) nor the abstain option."""
    for i, option in enumerate(options[: len(options) - N_CATEGORIES]):
        if not is_abstain(option):
            return i
    return None


def hint_line(answer: int | None, p: float, suggestion: int | None) -> str:
    """``"Recognizer: E (8). Suggestion: A."`` for option indices ``answer`` and ``suggestion``."""
    named = letter(answer) if answer is not None else "none"
    asked = letter(suggestion) if suggestion is not None else "none"
    return f"{PREFIX} {named} ({confidence_digit(p)}). Suggestion: {asked}."


class Recognizer:
    """One clear-frame category classifier per scenario (``categories``: scenario name -> ``Classifier``)."""

    def __init__(self, categories: dict[str, Any]):
        self.categories = dict(categories)

    @classmethod
    def for_train_root(cls, root: str | Path) -> Recognizer:
        """The category classifiers of the perception model trained on ``root`` (cached; see
        :func:`proactive_gym.baselines.perception.cached_model`). Only ``categories`` is kept."""
        from proactive_gym.baselines.perception import cached_model

        return cls(cached_model(root).categories)

    def read(self, image: np.ndarray, options: Sequence[str], scenario: str) -> dict[str, Any]:
        """What the line says about ``image`` with these ``options``: ``answer`` and ``suggestion`` (option
        indices or None), ``p`` (the answer's probability) and ``confidence`` (its digit)."""
        categories = list(options[len(options) - N_CATEGORIES :])
        clf = self.categories.get(scenario)
        best, p = clf.best(image, categories) if clf is not None else (None, 0.0)
        answer = None if best is None else len(options) - N_CATEGORIES + categories.index(best)
        return {
            "answer": answer,
            "p": float(p),
            "confidence": confidence_digit(p),
            "suggestion": first_suggestion(options),
        }

    def line(self, image: np.ndarray, options: Sequence[str], scenario: str) -> str:
        """The prompt line for ``image`` (see :func:`hint_line`)."""
        seen = self.read(image, options, scenario)
        return hint_line(seen["answer"], seen["p"], seen["suggestion"])


def with_line(obs: dict[str, Any], line: str) -> dict[str, Any]:
    """A copy of observation ``obs`` whose current dialogue ends with ``line`` on its own line."""
    return {**obs, "dialogue": f"{obs['dialogue']}\n{line}"}


def train_root(args: Any) -> Path:
    """The data root the recognizer learns from: the run's train split (synthetic: the built-in train
    split; released: the folder the env reads that split from, ``<data-root>/<train-split>``)."""
    if args.data_root:
        from proactive_gym.data.released import split_root

        return split_root(Path(args.data_root), args.train_split)
    from proactive_gym.data.synthetic import ensure_synthetic

    return ensure_synthetic(args.train_split)


class HintedAgent(Agent):
    """Wraps an agent: every observation it sees ends with the recognizer's line (as the training rows do)."""

    def __init__(self, inner: Agent, recognizer: Recognizer):
        self.inner = inner
        self.recognizer = recognizer
        self.name = f"{inner.name}+recognizer"

    def act(self, observations: list[dict[str, Any]], infos: list[dict[str, Any]]) -> list[str]:
        """The inner agent's replies to the observations with the line added."""
        hinted = [
            with_line(obs, self.recognizer.line(obs["image"], info["options"], info["scenario"]))
            for obs, info in zip(observations, infos, strict=True)
        ]
        return self.inner.act(hinted, infos)

    def close(self) -> None:
        """Close the inner agent."""
        self.inner.close()

    def describe(self) -> dict[str, Any]:
        """The inner agent's settings, marked as hinted."""
        return {**self.inner.describe(), "name": self.name, "prompt_line": "recognizer"}


class RecognizerPolicy(Agent):
    """The scripted policy on the line: answer the recognizer's letter when its confidence digit is at
    least ``threshold`` (9: p >= 0.9) or no suggestion is shown, otherwise make the shown suggestion. The
    ceiling the CPU demo's GRPO reaches for."""

    name = "recognizer-policy"

    def __init__(self, recognizer: Recognizer, threshold: int = 9):
        self.recognizer = recognizer
        self.threshold = int(threshold)

    def act(self, observations: list[dict[str, Any]], infos: list[dict[str, Any]]) -> list[str]:
        """One letter reply per observation."""
        replies = []
        for obs, info in zip(observations, infos, strict=True):
            seen = self.recognizer.read(obs["image"], info["options"], info["scenario"])
            answer = seen["answer"] if seen["answer"] is not None else len(info["options"]) - N_CATEGORIES
            ask = seen["suggestion"] is not None and seen["confidence"] < self.threshold
            replies.append(f"{letter(seen['suggestion'] if ask else answer)}.")
        return replies

    def describe(self) -> dict[str, Any]:
        """Settings recorded in a run summary."""
        return {**super().describe(), "threshold": self.threshold}

"""Scripted baseline agents: oracle, random, abstain, suggest, first-guess.

They need no model and run at the speed of the env, so they are the harness's test doubles and the
reference points of every table: the oracle bounds what is reachable (100% acc), always-abstain and
first-guess show what a purely reactive policy scores, always-suggest what blind asking scores.

Each reply names an option the way a model is told to, ``"<letter>. <option text>"``, so it goes through
the same strict parser as any model reply. In open mode (no options shown) the agents other than the
oracle reply with a fixed sentence of their kind.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from proactive_gym.agents.base import Agent
from proactive_gym.protocol import is_abstain, letter

N_CATEGORIES = 4
ABSTAIN_TEXT = "I cannot tell."
SUGGEST_TEXT = "Please change the view so that I can see the object clearly."


def _categories(info: dict[str, Any]) -> list[str]:
    options = list(info.get("options") or [])
    return options[-N_CATEGORIES:] if len(options) >= N_CATEGORIES else []


def _proactive(info: dict[str, Any]) -> list[str]:
    options = list(info.get("options") or [])
    return options[:-N_CATEGORIES] if len(options) >= N_CATEGORIES else []


def _pick(info: dict[str, Any], option: str) -> str:
    """The reply naming ``option``: its letter and text, e.g. ``"C. Vase."``."""
    return f"{letter(list(info['options']).index(option))}. {option}"


class ScriptedAgent(Agent):
    """An agent whose reply depends on one episode's observation and info only (no batching effects)."""

    def act(self, observations: list[dict[str, Any]], infos: list[dict[str, Any]]) -> list[str]:
        """One reply per item, from :meth:`reply`."""
        return [self.reply(obs, info) for obs, info in zip(observations, infos, strict=True)]

    def reply(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The reply for one episode."""
        raise NotImplementedError


class OracleAgent(ScriptedAgent):
    """Always plays the optimal move: the env's privileged ``info["oracle"]`` (acc 100 by construction)."""

    name = "oracle"

    def reply(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The env's optimal reply for the current state."""
        return str(info["oracle"])


class RandomAgent(ScriptedAgent):
    """Picks a uniformly random option letter among the shown options.

    The draw for a turn comes from a numpy Generator seeded with ``(seed, scenario, sample_id, turn)``, so
    an episode's replies do not depend on batch size, episode order or on a run being resumed.
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"random agent: seed must be a non-negative int, got {seed!r}")
        self.seed = seed

    def _rng(self, info: dict[str, Any]) -> np.random.Generator:
        scenario = zlib.crc32(str(info.get("scenario", "")).encode())
        return np.random.default_rng(
            [self.seed, scenario, int(info.get("sample_id", 0)), int(info.get("turn", 0))]
        )

    def reply(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """A random shown option's letter, as ``"C."``."""
        options = list(info.get("options") or [])
        rng = self._rng(info)
        if not options:
            answers = list(info.get("acceptable_answers") or [ABSTAIN_TEXT])
            return str(answers[int(rng.integers(len(answers)))])
        return f"{letter(int(rng.integers(len(options))))}."

    def describe(self) -> dict[str, Any]:
        """Name, class and seed."""
        return {**super().describe(), "seed": self.seed}


class AbstainAgent(ScriptedAgent):
    """Always picks the abstain option (the one containing "cannot" or "do not")."""

    name = "abstain"

    def reply(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The shown abstain option, or the text "I cannot tell." when none is shown."""
        for option in info.get("options") or []:
            if is_abstain(option):
                return _pick(info, option)
        return ABSTAIN_TEXT


class SuggestAgent(ScriptedAgent):
    """Always asks for an intervention: the first shown proactive option that is not the abstain option.

    When no such option is shown (a last turn, reference mode) it answers the first category.
    """

    name = "suggest"

    def reply(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The first non-abstain proactive option, else the first category."""
        for option in _proactive(info):
            if not is_abstain(option):
                return _pick(info, option)
        categories = _categories(info)
        return _pick(info, categories[0]) if categories else SUGGEST_TEXT


class FirstGuessAgent(ScriptedAgent):
    """Answers the first shown category at every turn (a purely reactive guesser: psr 0)."""

    name = "first-guess"

    def reply(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The first of the four categories."""
        categories = _categories(info)
        return _pick(info, categories[0]) if categories else ABSTAIN_TEXT


SCRIPTED_AGENTS: dict[str, type[ScriptedAgent]] = {
    "oracle": OracleAgent,
    "random": RandomAgent,
    "abstain": AbstainAgent,
    "suggest": SuggestAgent,
    "first-guess": FirstGuessAgent,
}

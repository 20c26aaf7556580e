"""The agent interface every policy implements: scripted baselines, local models, API models.

An agent turns a *batch* of observations into one reply per observation. The harness keeps many episodes
in flight and hands the agent the ready ones as one batch per turn, so a model agent can run a single
batched forward pass; a scripted agent simply loops. Episodes in a batch may come from different scenarios
and be at different turns: an agent must treat each item on its own (``infos[i]`` says which episode and
turn it is).

An agent whose replies come from a server (the ``openai:`` agent) also implements :meth:`Agent.submit`
(one observation -> a future reply) and sets ``in_flight`` to the number of requests it serves at once;
the harness then lets every episode advance as soon as its own reply arrives instead of waiting for the
slowest reply of a batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

# A header-like "Authorization: Bearer xyz" / "api-key=xyz" / '"x-api-key": "xyz"' in some text.
_SECRET_FIELD = re.compile(
    r"""((?:proxy-)?authorization|(?:x-)?api[-_]?key)(["']?\s*[:=]\s*["']?)((?:bearer|basic|token)\s+)?[^\s"',;}]+""",
    re.IGNORECASE,
)
REDACTED = "***"


def redact_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secrets and without the value of any Authorization / api-key header in
    it (a server that echoes request headers in an error body must not put the key into a log or a
    record)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{REDACTED}", text)


class Agent:
    """Base class of all agents.

    Subclasses override :meth:`act` and, when they hold resources (a model, an HTTP client), :meth:`close`.
    :meth:`describe` returns the JSON-serialisable settings written into a run's ``summary.json`` so that a
    number can be reproduced; extend it with the model id, dtype, adapter, sampling settings and so on.

    ``name`` is the spec string the agent was made from (``"oracle"``, ``"hf:Qwen/Qwen2.5-VL-3B-Instruct"``).
    """

    name: str = "agent"
    #: Requests :meth:`submit` serves at the same time; 0 (the default): the agent has no ``submit`` and
    #: the harness calls :meth:`act` on batches.
    in_flight: int = 0

    def act(self, observations: list[dict[str, Any]], infos: list[dict[str, Any]]) -> list[str]:
        """Return one reply (any text) per observation; ``infos[i]`` belongs to ``observations[i]``.

        May raise for the whole batch; the harness then retries the items one by one and records the ones
        that still raise as per-episode errors.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement act(observations, infos)")

    def submit(self, observation: dict[str, Any], info: dict[str, Any]) -> Future[str]:
        """Start answering one observation; the future holds the reply or the exception.

        Only agents with ``in_flight > 0`` implement it; the harness keeps that many calls outstanding.
        """
        raise NotImplementedError(f"{type(self).__name__} answers through act(); it has no submit()")

    def check(self, role: str = "agent") -> None:
        """Check, before the first episode, that the agent can work (a model server is up and serves the
        model); raise ValueError with one line naming the command-line flag to fix. ``role`` is
        ``"agent"`` or ``"judge"`` (which flags to name). The default checks nothing."""

    def close(self) -> None:
        """Release resources (models, clients, threads). Safe to call more than once."""

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable settings of this agent, recorded in the run summary."""
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}"}

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

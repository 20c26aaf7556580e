"""The agent interface every policy implements: scripted baselines, local models, API models.

An agent turns a *batch* of observations into one reply per observation. The harness keeps many episodes
in flight and hands the agent one batch per step, so a model agent can run a single batched forward pass;
a scripted agent simply loops. Episodes in a batch may come from different scenarios and be at different
turns: an agent must treat each item on its own (``infos[i]`` says which episode and turn it is).
"""

from __future__ import annotations

from typing import Any


class Agent:
    """Base class of all agents.

    Subclasses override :meth:`act` and, when they hold resources (a model, an HTTP client), :meth:`close`.
    :meth:`describe` returns the JSON-serialisable settings written into a run's ``summary.json`` so that a
    number can be reproduced; extend it with the model id, dtype, adapter, sampling settings and so on.

    ``name`` is the spec string the agent was made from (``"oracle"``, ``"hf:Qwen/Qwen2.5-VL-3B-Instruct"``).
    """

    name: str = "agent"

    def act(self, observations: list[dict[str, Any]], infos: list[dict[str, Any]]) -> list[str]:
        """Return one reply (any text) per observation; ``infos[i]`` belongs to ``observations[i]``.

        May raise for the whole batch; the harness then retries the items one by one and records the ones
        that still raise as per-episode errors.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement act(observations, infos)")

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

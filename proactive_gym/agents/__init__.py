"""Agents: a policy that maps observations to reply text, picked with a spec string.

>>> agent = make_agent("oracle")
>>> agent.name
'oracle'

Specs: ``oracle``, ``random``, ``abstain``, ``suggest``, ``first-guess`` (scripted, no dependencies),
``perception`` (the synthetic-data perception baseline), ``hf:<model id or path>`` (transformers, extra
``[hf]``) and ``openai:<model>`` (any OpenAI-compatible server, extra ``[openai]``). Model agents are
imported only when asked for, so ``import proactive_gym`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from proactive_gym.agents.base import Agent
from proactive_gym.agents.scripted import SCRIPTED_AGENTS

__all__ = ["Agent", "make_agent", "AGENT_SPECS", "valid_specs"]

# prefix -> (module, class, install hint)
_MODEL_PREFIXES: dict[str, tuple[str, str, str]] = {
    "hf": ("proactive_gym.agents.hf", "HFAgent", "pip install 'proactive_gym[hf]'"),
    "openai": ("proactive_gym.agents.openai_agent", "OpenAIAgent", "pip install 'proactive_gym[openai]'"),
}
_NAMED: dict[str, tuple[str, str, str]] = {
    "perception": (
        "proactive_gym.baselines.perception",
        "PerceptionAgent",
        "pip install 'proactive_gym[synthetic]'",
    ),
}

AGENT_SPECS: tuple[str, ...] = (
    *SCRIPTED_AGENTS,
    *_NAMED,
    "hf:<model id or path>",
    "openai:<model>",
)


def valid_specs() -> str:
    """The valid agent specs as one comma-separated line (for error messages and ``proactive-gym list``)."""
    return ", ".join(AGENT_SPECS)


def _load(module: str, cls: str, hint: str, spec: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name == module:
            raise ValueError(f"agent {spec!r}: {module} is not part of this installation") from err
        raise ImportError(f"agent {spec!r} needs the package {err.name!r}; install it with: {hint}") from err
    return getattr(mod, cls)


def make_agent(spec: str, **options: Any) -> Agent:
    """Build the agent named by ``spec`` (see the module docstring); ``options`` go to its constructor.

    Raises ValueError naming the valid specs when ``spec`` is unknown, and ValueError when a scripted
    agent gets options it does not take.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"agent spec must be a non-empty string; valid specs: {valid_specs()}")
    spec = spec.strip()
    agent: Agent
    if spec in SCRIPTED_AGENTS:
        cls = SCRIPTED_AGENTS[spec]
        try:
            agent = cls(**options)
        except TypeError as err:
            raise ValueError(f"agent {spec!r} does not take the options {sorted(options)}: {err}") from err
    elif spec in _NAMED:
        agent = _load(*_NAMED[spec], spec)(**options)
    else:
        prefix, sep, model = spec.partition(":")
        if not sep or prefix not in _MODEL_PREFIXES:
            raise ValueError(f"unknown agent spec {spec!r}; valid specs: {valid_specs()}")
        if not model:
            raise ValueError(f"agent spec {spec!r} names no model; write {prefix}:<model>")
        agent = _load(*_MODEL_PREFIXES[prefix], spec)(model, **options)
    agent.name = spec
    return agent

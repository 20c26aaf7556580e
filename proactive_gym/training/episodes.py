"""Multi-turn recipe: one env episode driven by tool calls (TRL's ``environment_factory``)."""

from __future__ import annotations

import json
from typing import Any

from proactive_gym.training.rows import EnvCache


class ToolEpisode:
    """Adapter that lets TRL's ``environment_factory`` play a ProactiveBench episode through tools.

    ``reset(**row)`` puts the env in the row's state (the prompt and its image are already in the row).
    The tools are the env's actions: ``intervene`` (any intervention listed among the options: move,
    rotate, rewind, wait, add details, a quality fix...), ``answer`` (a category) and ``abstain``. Each is
    replayed through ``env.step`` with the given text, so the env decides what it was, exactly as in
    evaluation. An intervention that keeps the episode going returns the new image and the new user text
    as content blocks: TRL passes them to the next generation and to the training forward pass.
    ``revealed`` keeps those images (tests check they reach the model). The episode's reward is the env's
    reward of its last step (see :class:`MultiTurnReward`).
    """

    def __init__(self, env_kwargs: dict[str, Any]):
        self._envs = EnvCache(env_kwargs)
        self.env: Any = None
        self.info: dict[str, Any] = {}
        self.done = False
        self.reward = 0.0
        self.revealed: list[Any] = []

    def reset(self, scenario: str, sample_id: int, replies: str, **_: Any) -> None:
        """Put the episode in the state of a training row (scenario, sample_id, replies prefix)."""
        self.env = self._envs(scenario)
        _, self.info = self.env.reset(options={"sample_id": int(sample_id), "replies": json.loads(replies)})
        self.done, self.reward, self.revealed = False, 0.0, []
        return None

    def intervene(self, action: str) -> list[dict[str, Any]] | str:
        """Ask the user to perform one of the interventions listed among the options; you then see the new image.

        Args:
            action: The intervention, written exactly as in the list of options.

        Returns:
            The new image and question, or a note that the episode is over.
        """
        return self._act(action)

    def answer(self, category: str) -> str:
        """Give your final answer. This ends the episode.

        Args:
            category: The answer, written exactly as in the list of options.

        Returns:
            A note that the episode is over.
        """
        result = self._act(category)
        return result if isinstance(result, str) else "The episode goes on."

    def abstain(self) -> str:
        """Say that you cannot tell. This ends the episode.

        Returns:
            A note that the episode is over.
        """
        from proactive_gym.protocol import is_abstain

        text = next((o for o in self.info.get("options", []) if is_abstain(o)), "I cannot tell.")
        result = self._act(text)
        return result if isinstance(result, str) else "The episode goes on."

    def _finish(self, text: str) -> None:
        """Step the model's final plain-text reply (if the episode is still open and there is text)."""
        if not self.done and text.strip():
            self._act(text)

    def _act(self, text: str) -> list[dict[str, Any]] | str:
        if self.done:
            raise ValueError("the episode is over; no more actions")
        from PIL import Image

        obs, reward, terminated, truncated, self.info = self.env.step(text)
        self.reward = float(reward)
        self.done = bool(terminated or truncated)
        if self.done:
            return "The episode is over."
        image = Image.fromarray(obs["image"])
        self.revealed.append(image)
        return [{"type": "image", "image": image}, {"type": "text", "text": obs["dialogue"]}]


class EpisodeFactory:
    """No-argument factory of :class:`ToolEpisode` bound to the run's env arguments (picklable)."""

    def __init__(self, kwargs: dict[str, Any]):
        self.kwargs = kwargs

    def __call__(self) -> ToolEpisode:
        return ToolEpisode(self.kwargs)

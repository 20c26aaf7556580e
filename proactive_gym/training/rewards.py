"""Rewards: the env's own scorer (single-turn), the parquet rows' ground truth, the tool episode's end."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from proactive_gym.training import parquet
from proactive_gym.training.rows import EnvCache

if TYPE_CHECKING:
    from proactive_gym.training.episodes import ToolEpisode


def completion_text(completion: Any) -> str:
    """The text of a completion as TRL hands it to reward functions (a string or chat messages)."""
    if isinstance(completion, str):
        return completion
    message = completion[-1] if completion else {}
    content = message.get("content") or ""
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if part.get("type") == "text")
    return str(content)


class EnvReward:
    """Reward function for the single-turn recipe: replays each reply through the env of its row.

    Called by TRL as ``reward(prompts=..., completions=..., scenario=[...], sample_id=[...], replies=[...],
    ...)``: for each completion it replays the row's state and the completion's text through the env
    (``ProactiveEnv.score``: what ``env.reset(options={"sample_id": id, "replies": prefix})`` then
    ``env.step(text)`` give, without decoding the frames) and returns the env's reward. Envs are
    created lazily and cached per scenario in each process (each accelerate worker has its own).
    The share of each outcome (correct, useful_suggestion, abstain, ...) is logged as ``outcome/<name>``.
    """

    __name__ = "env_reward"

    def __init__(self, env_kwargs: dict[str, Any]):
        self.env = EnvCache(env_kwargs)

    def score(self, scenario: str, sample_id: int, replies: list[str], reply: str) -> tuple[float, str]:
        """The env's reward and outcome for ``reply`` in the state reached by ``replies``."""
        reward, info, _ = self.env(scenario).unwrapped.score(int(sample_id), replies, reply)
        return float(reward), info["outcome"]

    def __call__(
        self,
        completions: list[Any],
        scenario: list[str],
        sample_id: list[int],
        replies: list[str],
        log_metric: Any = None,
        **_: Any,
    ) -> list[float]:
        rewards, outcomes = [], []
        for completion, scen, sid, prefix in zip(completions, scenario, sample_id, replies, strict=True):
            reward, outcome = self.score(scen, sid, json.loads(prefix), completion_text(completion))
            rewards.append(reward)
            outcomes.append(outcome)
        log_outcomes(log_metric, outcomes)
        return rewards


def log_outcomes(log_metric: Any, outcomes: list[str]) -> None:
    """Log the share of every outcome name (``proactive_gym.config.OUTCOMES``) as ``outcome/<name>``."""
    from proactive_gym.config import OUTCOMES

    if log_metric is not None and outcomes:
        for name in OUTCOMES:
            log_metric(f"outcome/{name}", outcomes.count(name) / len(outcomes))


class ParquetReward:
    """Reward function for rows of the authors' train parquet (``--data parquet``): no env to replay.

    Called by TRL like :class:`EnvReward`, with the row columns ``options``, ``ground_truth`` and
    ``proactive_actions`` (JSON lists, see :mod:`proactive_gym.training.parquet`): each completion is read by the
    env's strict parser against the row's options and scored 1 (``--reward-correct``) for the ground truth,
    r_p for one of the proactive actions, 0 otherwise (:func:`~proactive_gym.training.parquet.score_reply`). Logs
    ``outcome/<name>`` shares like :class:`EnvReward`.
    """

    __name__ = "parquet_reward"

    def __init__(self, reward_correct: float, reward_suggestion: float):
        self.reward_correct = reward_correct
        self.reward_suggestion = reward_suggestion

    def __call__(
        self,
        completions: list[Any],
        options: list[str],
        ground_truth: list[str],
        proactive_actions: list[str],
        log_metric: Any = None,
        **_: Any,
    ) -> list[float]:
        score = parquet.score_reply
        rewards, outcomes = [], []
        for completion, shown, truth, actions in zip(
            completions, options, ground_truth, proactive_actions, strict=True
        ):
            reward, outcome = score(
                completion_text(completion),
                json.loads(shown),
                truth,
                json.loads(actions),
                self.reward_correct,
                self.reward_suggestion,
            )
            rewards.append(reward)
            outcomes.append(outcome)
        log_outcomes(log_metric, outcomes)
        return rewards


class MultiTurnReward:
    """Reward of a multi-turn rollout: the env's reward of the episode's last step.

    A final plain-text reply (no tool call) is stepped through the env like any reply, so a model may also
    answer in text. Correct category: 1; episode left open right after a useful suggestion: r_p; anything
    else: 0 (the single-turn reward of the state the model stopped in).
    """

    __name__ = "env_reward"

    def __call__(
        self, completions: list[Any], environments: list[ToolEpisode], log_metric: Any = None, **_: Any
    ) -> list[float]:
        rewards = []
        for completion, episode in zip(completions, environments, strict=True):
            last = completion[-1] if completion else {}
            if last.get("role") == "assistant" and not last.get("tool_calls"):
                episode._finish(completion_text([last]))
            rewards.append(episode.reward)
        if log_metric is not None:
            solved = [bool(e.info.get("solved")) for e in environments]
            log_metric("episode/solved", sum(solved) / len(solved))
            log_metric(
                "episode/interventions", sum(len(e.revealed) for e in environments) / len(environments)
            )
        return rewards

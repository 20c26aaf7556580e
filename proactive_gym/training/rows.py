"""Environments and training rows: env states along each sampled episode's useful-suggestion path."""

from __future__ import annotations

import json
from typing import Any

from proactive_gym.protocol import is_abstain, letter, split_options, to_messages
from proactive_gym.training.args import SCENARIO_ORDER, Args
from proactive_gym.training.recognizer import hint_line, with_line


def env_kwargs(args: Args, split: str) -> dict[str, Any]:
    """Keyword arguments of ``gym.make`` for every env of the run (JSON-serialisable)."""
    data = args.data
    if data == "parquet":  # the parquet holds training rows only; the envs (evaluation) read these
        data = "released" if args.data_root else "synthetic"
    kwargs: dict[str, Any] = {
        "split": split,
        "data": data,
        "reward": {"correct": args.reward_correct, "useful_suggestion": args.reward_suggestion},
    }
    if args.data_root:
        kwargs["data_root"] = args.data_root
    return kwargs


def make_env(scenario: str, kwargs: dict[str, Any]) -> Any:
    """One ProactiveBench env for ``scenario`` (short name) built with ``kwargs``."""
    import gymnasium as gym

    import proactive_gym
    from proactive_gym.scenarios import get_scenario

    kwargs = dict(kwargs)
    if isinstance(kwargs.get("reward"), dict):
        kwargs["reward"] = proactive_gym.RewardConfig(**kwargs["reward"])
    return gym.make(get_scenario(scenario).env_id, **kwargs)


def _next_suggestion(env: Any, sample_id: int, replies: list[str], info: dict[str, Any]) -> str | None:
    """A reply that is a useful suggestion in the current state and keeps the episode going, or None."""

    actions, categories = split_options(info["options"])
    proactive = [o for o in actions if not is_abstain(o)]
    oracle = info.get("oracle")
    candidates = ([oracle] if oracle and oracle not in categories else []) + proactive
    for reply in candidates:
        _, after, ended = env.unwrapped.score(sample_id, replies, reply)  # no image decoded
        if after["outcome"] == "useful_suggestion" and not ended:
            return reply
    return None


class EnvCache:
    """One env per scenario, all made with the same ``gym.make`` arguments on first use (each process
    holds its own): the rewards, the tool episodes and the warm-up's oracle replies replay through it."""

    def __init__(self, kwargs: dict[str, Any]):
        self.kwargs = kwargs
        self._envs: dict[str, Any] = {}

    def __call__(self, scenario: str) -> Any:
        """The env of ``scenario``."""
        if scenario not in self._envs:
            self._envs[scenario] = make_env(scenario, self.kwargs)
        return self._envs[scenario]


def suggestion_path(env: Any, sample_id: int) -> list[str]:
    """Replies that walk episode ``sample_id`` from its first state to its clearest one.

    Each reply is a useful suggestion (the oracle's when it suggests, else the first useful shown option);
    the path stops at the state where no suggestion can keep the episode going (the last frame).
    """
    replies: list[str] = []
    _, info = env.reset(options={"sample_id": sample_id})
    while (reply := _next_suggestion(env, sample_id, replies, info)) is not None:
        replies.append(reply)
        _, info = env.reset(options={"sample_id": sample_id, "replies": replies})
    return replies


def pick_states(path_length: int, n: int) -> list[int]:
    """``n`` state indices among ``0..path_length``: first and last always, the rest evenly spaced."""
    if n >= path_length + 1:
        return list(range(path_length + 1))
    if n == 1:
        return [0]
    return sorted({round(i * path_length / (n - 1)) for i in range(n)})


def prompt_and_images(obs: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The env's chat messages with image parts turned into TRL placeholders, and the images in order."""

    messages, images = [], []
    for message in to_messages(obs):
        content = []
        for part in message["content"]:
            if part["type"] == "image":
                images.append(part["image"])
                content.append({"type": "image", "text": None})
            else:
                content.append({"type": "text", "text": part["text"]})
        messages.append({"role": message["role"], "content": content})
    return messages, images


def build_rows(
    scenarios: list[str],
    kwargs: dict[str, Any],
    max_samples: int | None,
    states_per_sample: int,
    seed: int,
    recognizer: Any = None,
) -> list[dict[str, Any]]:
    """Training rows: env states of ``scenarios`` along each sampled episode's useful-suggestion path.

    Deterministic: the same arguments give the same rows (episodes drawn with ``numpy`` seeded by ``seed``,
    states chosen by :func:`pick_states`). Columns: ``prompt`` (chat messages with image placeholders),
    ``images``, ``scenario``, ``sample_id``, ``replies`` (JSON list: the replies that led to this state),
    ``state`` (its index on the path), ``path_length``, ``options`` (JSON list of the shown options) and
    ``seed``.

    With a ``recognizer`` (:class:`~proactive_gym.training.recognizer.Recognizer`) every prompt ends with
    its line (the same line :class:`~proactive_gym.training.recognizer.HintedAgent` adds in evaluation),
    the row gets a ``hint`` column (JSON: ``answer`` and ``suggestion`` letters, ``confidence``), and
    states that show no suggestion are left out: in the reference rules only COCO's last (clear) crop
    shows none, so "Suggestion: none." would tell clear from unclear states in training and nowhere else.
    """
    import numpy as np

    rows = []
    for scenario in scenarios:
        env = make_env(scenario, kwargs)
        ids = list(env.unwrapped.sample_ids)
        if max_samples is not None and max_samples < len(ids):
            rng = np.random.default_rng([seed, SCENARIO_ORDER.index(scenario)])
            ids = sorted(rng.choice(ids, size=max_samples, replace=False).tolist())
        for sample_id in ids:
            path = suggestion_path(env, sample_id)
            for k in pick_states(len(path), states_per_sample):
                obs, info = env.reset(options={"sample_id": sample_id, "replies": path[:k]})
                extra = {}
                if recognizer is not None:
                    seen = recognizer.read(obs["image"], info["options"], scenario)
                    if seen["suggestion"] is None:
                        continue
                    obs = with_line(obs, hint_line(seen["answer"], seen["p"], seen["suggestion"]))
                    extra["hint"] = json.dumps(
                        {
                            "answer": None if seen["answer"] is None else letter(seen["answer"]),
                            "confidence": seen["confidence"],
                            "suggestion": letter(seen["suggestion"]),
                        }
                    )
                prompt, images = prompt_and_images(obs)
                rows.append(
                    {
                        "prompt": prompt,
                        "images": images,
                        "scenario": scenario,
                        "sample_id": int(sample_id),
                        "replies": json.dumps(path[:k]),
                        "state": k,
                        "path_length": len(path),
                        "options": json.dumps(list(info["options"])),
                        "seed": seed,
                        **extra,
                    }
                )
        env.close()
    return rows


def rows_to_dataset(rows: list[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` of the rows (images stored as image features)."""
    from datasets import Dataset

    return Dataset.from_list(rows)

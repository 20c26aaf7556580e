#!/usr/bin/env python
"""What a model replies, greedily, in three states of every scenario: the figures behind the CPU demo's
diagnosis in training/README.md.

    python benchmarks/probe_policy.py runs/cpu-demo/warmup-model                      # the model GRPO starts from
    python benchmarks/probe_policy.py runs/cpu-demo/warmup-model runs/cpu-demo/adapter --out probe.json

For the first ``--episodes`` episodes of each scenario's test split (synthetic data unless ``--data-root``),
the model (plus an optional LoRA adapter) answers once in each of three states, and the env scores that one
reply:

- ``first``: the episode's first, ambiguous frame;
- ``clear``: the frame the oracle answers on (the env's oracle suggestions replayed up to that point);
- ``reference``: the reference setting (clear reference frame, only the four categories shown), whose acc
  is the model's recognition of the category with nothing else to do.

It also counts, per scenario, how many suggestions the ``clear`` state still shows (a policy that asks
whenever a suggestion is shown keeps asking there).

It prints, per scenario and state, the count of each outcome and the share of episodes whose reply is the
same in the ``first`` and ``clear`` states (a policy that ignores the image replies the same in both).
Uses the ``hf:`` agent of the harness; runs on a CPU in well under a minute for the tiny model.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path
from typing import Any

from proactive_gym.training.args import SCENARIO_ORDER
from proactive_gym.training.rows import make_env

STATES = ("first", "clear", "reference")


def oracle_path(env: Any, sample_id: int) -> list[str]:
    """The oracle's replies from the first state up to the state where the oracle answers the category."""
    replies: list[str] = []
    _, info = env.reset(options={"sample_id": sample_id})
    while info["oracle"].split(". ", 1)[1] not in info["options"][-4:]:
        replies.append(info["oracle"])
        _, info = env.reset(options={"sample_id": sample_id, "replies": replies})
    return replies


def suggestions_shown(options: list[str]) -> int:
    """How many of the shown options are suggestions: all but the four categories (last) and abstain."""
    from proactive_gym.protocol import is_abstain

    return sum(not is_abstain(o) for o in options[:-4])


def probe(model: str, adapter: str | None, episodes: int, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Outcome counts per scenario and state, the replies, and the first/clear agreement."""
    from proactive_gym.agents.hf import HFAgent

    options: dict[str, Any] = {"max_new_tokens": 16, "batch_size": 40}
    if adapter:
        options["adapter"] = adapter
    agent = HFAgent(model, **options)
    result: dict[str, Any] = {}
    for scenario in SCENARIO_ORDER:
        envs = {
            "first": make_env(scenario, env_kwargs),
            "reference": make_env(scenario, {**env_kwargs, "reference": True}),
        }
        envs["clear"] = envs["first"]
        ids = list(envs["first"].unwrapped.sample_ids)[:episodes]
        replies: dict[str, list[str]] = {}
        counts: dict[str, dict[str, int]] = {}
        for state in STATES:
            env = envs[state]
            prefixes = [oracle_path(env, i) if state == "clear" else [] for i in ids]
            pairs = [
                env.reset(options={"sample_id": i, "replies": p}) for i, p in zip(ids, prefixes, strict=True)
            ]
            if state == "clear":
                shown = collections.Counter(suggestions_shown(info["options"]) for _, info in pairs)
            replies[state] = agent.act([o for o, _ in pairs], [info for _, info in pairs])
            outcomes = collections.Counter()
            for i, prefix, reply in zip(ids, prefixes, replies[state], strict=True):
                env.reset(options={"sample_id": i, "replies": prefix})
                outcomes[env.step(reply)[4]["outcome"]] += 1
            counts[state] = dict(outcomes)
        same = sum(a == b for a, b in zip(replies["first"], replies["clear"], strict=True)) / len(ids)
        result[scenario] = {
            "episodes": len(ids),
            "outcomes": counts,
            "same_first_clear": same,
            "suggestions_shown_clear": dict(sorted(shown.items())),
            "replies": replies,
        }
    agent.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model directory or id (hf: agent)")
    parser.add_argument("adapter", nargs="?", help="optional LoRA adapter directory")
    parser.add_argument("--episodes", type=int, default=40, help="episodes per scenario (test split)")
    parser.add_argument("--data-root", help="released-format data root (default: built-in synthetic data)")
    parser.add_argument("--out", help="write the full result (replies included) as JSON here")
    args = parser.parse_args(argv)
    kwargs: dict[str, Any] = {"split": "test", "data": "released" if args.data_root else "synthetic"}
    if args.data_root:
        kwargs["data_root"] = args.data_root
    result = probe(args.model, args.adapter, args.episodes, kwargs)
    print(f"{'scenario':<11} {'state':<9} {'acc':>5}  outcomes")
    for scenario, r in result.items():
        for state in STATES:
            c = r["outcomes"][state]
            acc = 100 * c.get("correct", 0) / r["episodes"]
            print(f"{scenario:<11} {state:<9} {acc:5.1f}  {json.dumps(c, sort_keys=True)}")
        print(f"{scenario:<11} same reply in first and clear state: {100 * r['same_first_clear']:.0f}%")
        shown = ", ".join(f"{k}: {n}" for k, n in r["suggestions_shown_clear"].items())
        print(f"{scenario:<11} suggestions shown in the clear state (count: episodes): {shown}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Evaluate the scripted baselines with the Python API and print the paper's Table 1 for all of them.

    python examples/evaluate_scripted.py                 # synthetic data, all seven scenarios
    python examples/evaluate_scripted.py --max-episodes 5

Each run writes its results (config.json, episodes.jsonl, summary.json) under runs/examples/<agent>.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from proactive_gym.evaluation import evaluate
from proactive_gym.evaluation.table import rich_table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-episodes", type=int, default=None, help="episodes per scenario")
    parser.add_argument("--out", default="runs/examples", help="parent folder of the run directories")
    args = parser.parse_args()

    summaries = []
    for spec in ("oracle", "random", "abstain", "suggest", "first-guess"):
        summary = evaluate(
            spec,
            envs="all",
            env_kwargs={"data": "synthetic"},
            out=Path(args.out) / spec,
            max_episodes=args.max_episodes,
            force=True,  # overwrite the previous run of this example
        )
        summaries.append(summary.data)
        print(f"{spec:12s} avg acc {summary.acc['avg']:5.1f}  avg psr {summary.psr['avg']:.2f}")
    Console().print(rich_table(summaries))


if __name__ == "__main__":
    main()

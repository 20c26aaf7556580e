"""Evaluate two agents and build one report comparing them side by side (Markdown, plots, HTML).

    python examples/compare_runs_report.py
    # then open runs/compare/report/report.html in a browser

The same as: proactive-gym eval --agent oracle --out runs/compare/oracle; ... ;
proactive-gym report runs/compare/oracle runs/compare/random --out runs/compare/report
"""

from __future__ import annotations

import argparse
from pathlib import Path

from proactive_gym.evaluation import evaluate
from proactive_gym.evaluation.report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="runs/compare", help="folder for the two runs and the report")
    parser.add_argument("--max-episodes", type=int, default=10, help="episodes per scenario")
    args = parser.parse_args()
    out = Path(args.out)

    for spec in ("oracle", "random"):
        evaluate(spec, envs="all", env_kwargs={"data": "synthetic"}, out=out / spec,
                 max_episodes=args.max_episodes, force=True)  # fmt: skip
    files = write_report([out / "oracle", out / "random"], out=out / "report")
    for kind, path in files.items():
        print(f"{kind:>18}: {path}")


if __name__ == "__main__":
    main()

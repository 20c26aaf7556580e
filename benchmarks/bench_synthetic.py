"""Benchmark the synthetic scenarios: generation time, and the perception baseline's figures.

    python benchmarks/bench_synthetic.py            # everything (about a minute on a 2-core CPU)
    python benchmarks/bench_synthetic.py --only gen # generation timing only
    python benchmarks/bench_synthetic.py --only baseline --test-size 300   # tighter baseline figures

1. Generation: wall time to write the test split (default size, 100 episodes per scenario) of each of the
   seven scenarios into a fresh folder, then the train split (400 per scenario), single process.
2. Perception baseline: trained on the clear frames of the train split; accuracy of picking the answer
   among the 4 categories on each test episode's reference frame and first frame.
3. Episodes: acc / psr of the perception agent, the scripted oracle and always-abstain on synthetic test,
   through the real env and harness.
The figures quoted in docs/synthetic.md come from this script (machine and date printed with them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bench_generation(tmp: Path, test_size: int | None) -> dict:
    from proactive_gym.data.synthetic import SCENARIO_MODULES, generate

    out = {}
    for split in ("test", "train"):
        per = {}
        for name in SCENARIO_MODULES:
            t0 = time.perf_counter()
            size = test_size if split == "test" else None
            generate(tmp / split / name, split=split, seed=0, size=size, scenarios=[name])
            per[name] = round(time.perf_counter() - t0, 2)
        per["total"] = round(sum(per.values()), 2)
        out[split] = per
    return out


def bench_baseline(train: Path, test: Path) -> dict:
    from proactive_gym.baselines.perception import PerceptionModel, accuracy_table

    t0 = time.perf_counter()
    model = PerceptionModel.train(train)
    train_s = round(time.perf_counter() - t0, 2)
    return {"train_seconds": train_s, "accuracy": accuracy_table(model, test)}


def bench_episodes(cache: Path) -> dict:
    from proactive_gym.evaluation import evaluate

    os.environ["PROACTIVE_GYM_CACHE"] = str(cache)
    out = {}
    for spec in ("perception", "oracle", "abstain"):
        summary = evaluate(spec, envs="all", env_kwargs={"data": "synthetic"}, batch_size=16)
        out[spec] = {"acc": summary.acc, "psr": summary.psr}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("gen", "baseline", "episodes"), default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--test-size", type=int, default=None, help="test episodes per scenario (default 100)"
    )
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    result = {
        "machine": f"2-core CPU sandbox ({platform.machine()}, Python {platform.python_version()})",
        "date": time.strftime("%Y-%m-%d"),
    }
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.only in (None, "gen", "baseline"):
            result["generation_seconds"] = bench_generation(tmp, args.test_size)
            print(json.dumps(result["generation_seconds"], indent=1))
        if args.only in (None, "baseline"):
            # the per-scenario folders of each split hold one scenario each: merge them by linking
            for split in ("test", "train"):
                merged = tmp / f"{split}-all"
                merged.mkdir()
                for sub in (tmp / split).iterdir():
                    for item in sub.iterdir():
                        if item.name != "synthetic_manifest.json":
                            (merged / item.name).symlink_to(item)
            result["baseline"] = bench_baseline(tmp / "train-all", tmp / "test-all")
            print(json.dumps(result["baseline"], indent=1))
        if args.only in (None, "episodes"):
            result["episodes"] = bench_episodes(tmp / "cache")
            print(json.dumps(result["episodes"], indent=1))
    print(f"machine: {result['machine']}; date: {result['date']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Time of one GRPO reward call: the env replay with pixels (``reset`` + ``step``) against ``ProactiveEnv.score``.

The single-turn reward rebuilds each row's state and steps the sampled reply (``EnvReward``). With
``reset(options={"sample_id", "replies"})`` + ``step`` every call decodes the frame(s) of the state; the
reward reads none of them. ``score`` gives the same reward, info and end flag without decoding. This script
builds training rows of the CPU demo's scenarios (synthetic QuickDraw + COCO, train split), replays every
shown option and a junk reply in each row both ways, checks that the results are identical and prints the
time per call (best of ``--repeats`` passes).

    python benchmarks/bench_reward.py            # about a minute on a 2-core CPU (data cached)
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from typing import Any

from proactive_gym.training.args import Args
from proactive_gym.training.rows import build_rows, env_kwargs, make_env


def calls(rows: list[dict[str, Any]]) -> list[tuple[str, int, list[str], str]]:
    """(scenario, sample_id, replies so far, reply) for every shown option and a junk reply of every row."""
    out = []
    for row in rows:
        for reply in [*json.loads(row["options"]), "zzz"]:
            out.append((row["scenario"], row["sample_id"], json.loads(row["replies"]), reply))
    return out


def with_pixels(envs: dict[str, Any], call: tuple[str, int, list[str], str]) -> tuple[float, str, bool]:
    scenario, sample_id, replies, reply = call
    env = envs[scenario]
    env.reset(options={"sample_id": sample_id, "replies": replies})
    _, reward, terminated, truncated, info = env.step(reply)
    return float(reward), info["outcome"], bool(terminated or truncated)


def without_pixels(envs: dict[str, Any], call: tuple[str, int, list[str], str]) -> tuple[float, str, bool]:
    scenario, sample_id, replies, reply = call
    reward, info, ended = envs[scenario].unwrapped.score(sample_id, replies, reply)
    return float(reward), info["outcome"], ended


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=32, help="episodes per scenario")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per way (the best is kept)")
    parser.add_argument(
        "--data-root", help="a released-format data root (its train split) instead of synthetic data"
    )
    parser.add_argument("--split", default="train", help="the split the rows come from")
    flags = parser.parse_args()
    data = {"data": "released", "data_root": flags.data_root} if flags.data_root else {}
    args = Args(model="tiny", train_envs="QuickDraw,COCO", **data)
    kwargs = env_kwargs(args, flags.split)
    rows = build_rows(args.train_scenarios(), kwargs, flags.samples, 3, seed=0)
    todo = calls(rows)
    envs = {s: make_env(s, kwargs) for s in args.train_scenarios()}
    results, best = {}, {}
    for name, way in (("reset+step", with_pixels), ("score", without_pixels)):
        times = []
        for _ in range(flags.repeats):
            start = time.perf_counter()
            results[name] = [way(envs, call) for call in todo]
            times.append(time.perf_counter() - start)
        best[name] = min(times) / len(todo)
    assert results["reset+step"] == results["score"], "score() disagrees with reset()+step()"
    source = flags.data_root or "synthetic"
    print(
        f"{len(todo)} reward calls ({len(rows)} rows of QuickDraw + COCO, {source} {flags.split} split): identical"
    )
    for name, seconds in best.items():
        print(f"  {name:10s} {seconds * 1e3:.3f} ms per call")
    print(f"  speed-up   {best['reset+step'] / best['score']:.1f}x")
    print(f"  machine: {platform.machine()} {platform.processor() or ''} CPU, {datetime.date.today()}")


if __name__ == "__main__":
    main()

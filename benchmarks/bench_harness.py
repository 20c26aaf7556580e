"""Harness overhead: turns/s of ``evaluate`` with the scripted oracle vs a bare ``reset``/``step`` loop.

    python benchmarks/bench_harness.py            # all seven synthetic scenarios, pinned to one core
    python benchmarks/bench_harness.py --repeats 5 --profile

Both loops play the same episodes (every synthetic sample of the seven scenarios) with the oracle's
replies, on the same pre-built envs, and are timed in CPU seconds (the machine is shared; wall time is
noisy). The bare loop is the least any evaluation must do: ``env.reset(options={"sample_id": i})`` then
``env.step(info["oracle"])`` until the episode ends. The harness loop is the runner behind ``evaluate``:
``run_episodes`` with the oracle agent, building every per-turn record and appending + flushing each
episode to ``episodes.jsonl``, at batch sizes 1 and 8. The overhead is ``harness / bare - 1`` (target:
under 20%). The whole ``evaluate()`` call (env construction, planning, summary) is reported in wall
seconds below that. Best of ``--repeats``.

On a shared machine the two loops' difference is within the noise, so the harness's own cost is also
measured alone: ``run_episodes`` on a null env (no image, no parsing) with the same records and JSONL
writing, in microseconds per turn, compared with the bare env's cost per turn.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import logging
import os
import pstats
import tempfile
import time
from typing import Any


def build_envs(names: list[str]) -> dict[str, Any]:
    """One env per scenario (synthetic data)."""
    import gymnasium as gym

    import proactive_gym  # noqa: F401
    from proactive_gym.scenarios import SCENARIOS

    return {n: gym.make(SCENARIOS[n].env_id, disable_env_checker=True) for n in names}


def bare_loop(names: list[str]) -> tuple[float, int]:
    """CPU seconds of the bare reset/step loop over every sample of ``names`` (envs pre-built), and turns."""
    envs = build_envs(names)
    turns = 0
    t0 = time.process_time()
    for env in envs.values():
        for sid in env.unwrapped.sample_ids:
            _, info = env.reset(options={"sample_id": sid})
            done = False
            while not done:
                _, _, terminated, truncated, info = env.step(info["oracle"])
                turns += 1
                done = terminated or truncated
    return time.process_time() - t0, turns


def harness_loop(names: list[str], batch_size: int) -> tuple[float, int]:
    """CPU seconds of the harness's episode loop (``run_episodes`` with the oracle agent, per-episode
    records appended and flushed to ``episodes.jsonl``), envs pre-built as in the bare loop."""
    from proactive_gym.agents import make_agent
    from proactive_gym.evaluation.results import RunDir
    from proactive_gym.evaluation.rollout import Task, run_episodes
    from proactive_gym.evaluation.runner import episode_seed, make_env_factory

    envs = build_envs(names)
    tasks = [
        Task(n, sid, i, episode_seed(0, n, sid))
        for n in names
        for i, sid in enumerate(envs[n].unwrapped.sample_ids)
    ]
    turns = 0
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(tmp)
        run.prepare({"bench": True})

        def on_finish(record: dict[str, Any]) -> None:
            nonlocal turns
            turns += record["turns"]
            run.append(record)

        t0 = time.process_time()
        run_episodes(
            tasks,
            make_env_factory({}),
            make_agent("oracle"),
            batch_size,
            on_finish,
            {n: [e] for n, e in envs.items()},
        )
        elapsed = time.process_time() - t0
        run.close()
    return elapsed, turns


class NullEnv:
    """An env that costs nothing: 5 turns per episode, info and dialogue shaped like the real ones."""

    def __init__(self) -> None:
        self.turn = 0
        self.info = {
            "turn": 0, "frame": 7, "image_path": "ROD/vase/s7.png", "oracle": "A. Move the block to the left.",
            "options": ["Move the block to the left.", "I cannot tell.", "Move the block to the right.",
                        "Cup.", "Vase.", "Lamp.", "Shoe."],
            "min_turns": 5, "max_turns": 14, "data_source": "synthetic", "subset": "all", "mode": "mcqa",
            "outcome": "useful_suggestion", "chosen": "Move the block to the left.",
        }  # fmt: skip
        self.obs = {"image": None, "dialogue": "What is the object behind the blocks? " + "x" * 300}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.turn = 0
        return self.obs, {**self.info, "turn": 0}

    def step(self, reply: str) -> tuple[dict, float, bool, bool, dict]:
        self.turn += 1
        return self.obs, 0.5, self.turn >= 5, False, {**self.info, "turn": self.turn}

    def close(self) -> None:
        pass


def null_env_loop(batch_size: int, episodes: int = 4000) -> float:
    """CPU microseconds per turn of the harness alone (runner, records, JSONL writing) on a null env."""
    from proactive_gym.agents import make_agent
    from proactive_gym.evaluation.results import RunDir
    from proactive_gym.evaluation.rollout import Task, run_episodes

    tasks = [Task("ROD", i, i, 1234) for i in range(episodes)]
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(tmp)
        run.prepare({"bench": True})
        t0 = time.process_time()
        run_episodes(
            tasks, lambda _: NullEnv(), make_agent("oracle"), batch_size, run.append, {"ROD": [NullEnv()]}
        )
        elapsed = time.process_time() - t0
        run.close()
    return elapsed / (5 * episodes) * 1e6


def evaluate_total(names: list[str], batch_size: int) -> tuple[float, int]:
    """Wall seconds of the whole ``evaluate("oracle", ...)`` call (planning, env construction, results
    files, summary with bootstrap CIs), and turns."""
    from proactive_gym.evaluation import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = evaluate("oracle", envs=names, out=tmp, batch_size=batch_size)
        elapsed = time.perf_counter() - t0
    return elapsed, int(summary.data["run"]["turns_this_session"])


def main() -> None:
    """Run the benchmark and print a small table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the harness")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from proactive_gym.data.synthetic import ensure_synthetic
    from proactive_gym.scenarios import SCENARIOS

    root = ensure_synthetic()
    names = list(SCENARIOS)
    bare_loop(names)  # warm the file cache and imports
    runs: dict[str, list[tuple[float, int]]] = {"bare": [], "1": [], "8": []}
    for _ in range(args.repeats):  # interleaved, so that drifting machine load hits every loop alike
        gc.collect()
        runs["bare"].append(bare_loop(names))
        for batch_size in (1, 8):
            gc.collect()
            runs[str(batch_size)].append(harness_loop(names, batch_size))
    bare = min(runs["bare"], key=lambda r: r[0])
    print(f"synthetic data: {root}; one core; CPU seconds, best of {args.repeats}")
    print(f"{'loop':<26}{'turns':>8}{'seconds':>10}{'turns/s':>10}{'overhead':>10}")
    print(f"{'bare reset/step':<26}{bare[1]:>8}{bare[0]:>10.3f}{bare[1] / bare[0]:>10.0f}{'':>10}")
    for batch_size in (1, 8):
        best = min(runs[str(batch_size)], key=lambda r: r[0])
        if best[1] != bare[1]:
            raise RuntimeError(f"harness played {best[1]} turns, bare loop {bare[1]}")
        overhead = best[0] / bare[0] - 1
        label = f"harness loop (batch {batch_size})"
        print(f"{label:<26}{best[1]:>8}{best[0]:>10.3f}{best[1] / best[0]:>10.0f}{overhead:>10.1%}")
    step_us = bare[0] / bare[1] * 1e6
    for batch_size in (1, 8):
        null = min(null_env_loop(batch_size) for _ in range(args.repeats))
        print(
            f"harness alone, null env (batch {batch_size}): {null:.1f} us/turn = {null / step_us:.1%} of a bare "
            f"env turn ({step_us:.0f} us)"
        )
    for batch_size in (1, 8):
        best = min((evaluate_total(names, batch_size) for _ in range(args.repeats)), key=lambda r: r[0])
        label = f"evaluate() (batch {batch_size})"
        print(f"{label:<26}{best[1]:>8}{best[0]:>10.3f}{best[1] / best[0]:>10.0f}{'(wall)':>10}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(evaluate_total, names, 8)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""The CPU demo over several seeds: the figures behind training/README.md's seed table.

    python benchmarks/cpu_demo_seeds.py --seeds 0,1,2,3 --jobs 2 --out runs/cpu-demo-seeds
    python benchmarks/cpu_demo_seeds.py --seeds 0,1 --out runs/rp075 -- --reward-suggestion 0.75

Runs ``training/grpo.py --preset cpu-demo --seed N --out OUT/seedN`` (plus any flags after ``--``) for each
seed, ``--jobs`` at a time, each with one CPU thread (the preset's ``torch_threads``), logging to
``OUT/seedN.log``. A seed whose ``summary.json`` already exists with the same flags is not run again, so an
interrupted sweep resumes; any other seed folder is run (again), so never point two sweeps, or a sweep and
a separate run, at the same ``--out`` at once. Then, per seed, from ``summary.json`` and the harness's ``episodes.jsonl``
before and after GRPO:

- the mean training reward over the first and last tenth of the steps, and target (a): a gain >= 0.2;
- in-domain and held-out acc before -> after, with the episodes gained and lost, and target (b): held-out
  acc (the mean over the held-out scenarios) up by at least +10 points;
- held-out psr before -> after;
- how the held-out correct episodes were reached: at the first turn, or after at least one suggestion
  (``asked``), and the held-out episodes that ran out of turns (a model that keeps asking);
- the held-out episodes whose last reply could not be parsed;
- with ``--recognizer`` runs (the cpu-demo preset), the scripted ceiling: held-out acc of "answer when the
  recognizer's confidence is 9 (p >= 0.9), else make the shown suggestion" on the same episodes;
- in ``seeds.json`` only: after GRPO, the held-out episodes out of turns per scenario (their sum over the
  seeds is printed under the table) and the most common unparsable replies.

Prints a Markdown table and writes it to ``OUT/seeds.md``, with everything in ``OUT/seeds.json`` together
with the machine, the date and the versions of the libraries that decide the numbers (the demo is
deterministic for one set of versions; another torch or transformers gives other figures).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from proactive_gym.training.compare import changed_episodes, read_episodes, split_mean
from proactive_gym.training.run import library_versions

ROOT = Path(__file__).resolve().parent.parent


def episode_counts(records: list[dict[str, Any]], scenarios: list[str]) -> Counter:
    """Counts of (outcome, ``first`` | ``asked``) over the episode records of ``scenarios``; ``asked`` means
    the episode took more than one turn, i.e. the model made at least one suggestion first."""
    return Counter(
        (r["outcome"], "asked" if r["turns"] > 1 else "first") for r in records if r["scenario"] in scenarios
    )


def held_out_details(records: list[dict[str, Any]], scenarios: list[str], top: int = 5) -> dict[str, Any]:
    """Where the episodes of ``scenarios`` ran out of turns (count per scenario), and the ``top`` most
    common replies that ended an episode unparsable, as ``[scenario, reply, count]``."""
    out_of_turns = Counter(
        r["scenario"] for r in records if r["scenario"] in scenarios and r["outcome"] == "out_of_turns"
    )
    unparsable = Counter(
        (r["scenario"], r["steps"][-1]["reply"])
        for r in records
        if r["scenario"] in scenarios and r["outcome"] == "unparsable"
    )
    return {
        "out_of_turns_by_scenario": dict(sorted(out_of_turns.items())),
        "unparsable_replies": [[s, reply, n] for (s, reply), n in unparsable.most_common(top)],
    }


def seed_row(summary: dict[str, Any], before: Counter, after: Counter) -> dict[str, Any]:
    """One seed's figures from its ``summary.json`` and the held-out episode counts before and after."""

    def outcome(counts: Counter, name: str, how: str | None = None) -> int:
        return sum(n for (o, h), n in counts.items() if o == name and how in (None, h))

    held, dom = summary["held_out"], summary["in_domain"]

    def changed(names: list[str], key: str) -> int:
        return changed_episodes(summary["episodes_changed"], names, key)

    def means(names: list[str], key: str) -> list[float]:
        return [split_mean(summary[when], names, key) for when in ("before", "after")]

    reward = summary["reward"]
    row = {
        "seed": summary["config"]["seed"],
        "reward_first": reward["first_tenth"],
        "reward_last": reward["last_tenth"],
        "reward_gain": reward["gain"],
        "in_domain_acc": means(dom, "acc"),
        "in_domain_gained_lost": [changed(dom, "gained"), changed(dom, "lost")],
        "held_out_acc": means(held, "acc"),
        "held_out_gained_lost": [changed(held, "gained"), changed(held, "lost")],
        "held_out_psr": means(held, "psr"),
        "held_out_correct_first": [outcome(before, "correct", "first"), outcome(after, "correct", "first")],
        "held_out_correct_asked": [outcome(before, "correct", "asked"), outcome(after, "correct", "asked")],
        "held_out_out_of_turns": [outcome(before, "out_of_turns"), outcome(after, "out_of_turns")],
        "held_out_unparsable": [outcome(before, "unparsable"), outcome(after, "unparsable")],
        "held_out_episodes": sum(before.values()),
    }
    row["target_a"] = row["reward_gain"] >= 0.2
    row["target_b"] = row["held_out_acc"][1] - row["held_out_acc"][0] >= HELD_OUT_TARGET
    return row


#: Target (b) of the demo: held-out acc (mean over the held-out scenarios) rises by at least this many points.
HELD_OUT_TARGET = 10.0


def ceiling(summary: dict[str, Any], out_dir: Path) -> float:
    """Held-out acc of the scripted policy on the recognizer's line (answer when its confidence digit is
    9, i.e. p >= 0.9, else make the shown suggestion) on the same episodes and seed as the run's
    evaluation: the ceiling the demo's GRPO reaches for."""
    from proactive_gym.evaluation import evaluate
    from proactive_gym.training.args import Args
    from proactive_gym.training.recognizer import Recognizer, RecognizerPolicy, train_root
    from proactive_gym.training.rows import env_kwargs

    args = Args(**summary["config"])
    held = summary["held_out"]
    result = evaluate(
        RecognizerPolicy(Recognizer.for_train_root(train_root(args))),
        envs=held,
        out=str(out_dir),
        env_kwargs=env_kwargs(args, args.eval_split),
        seed=args.seed,
        max_episodes=args.eval_max_episodes,
        force=True,
    )
    return sum(float(result.acc[s]) for s in held) / len(held)


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of :func:`seed_row` rows."""
    lines = [
        "| seed | reward first -> last tenth (gain) | (a) | in-domain acc (gained / lost) "
        "| held-out acc (gained / lost) | (b) | held-out psr | held-out correct at the first turn "
        "| held-out correct after asking | held-out out of turns | held-out unparsable | scripted ceiling |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def arrow(pair: list[float], fmt: str) -> str:
        return f"{pair[0]:{fmt}} -> {pair[1]:{fmt}}"

    for r in rows:
        ceiling_text = f"{r['ceiling_held_out_acc']:.1f}" if "ceiling_held_out_acc" in r else "-"
        lines.append(
            f"| {r['seed']} | {r['reward_first']:.3f} -> {r['reward_last']:.3f} ({r['reward_gain']:+.3f}) "
            f"| {'yes' if r['target_a'] else 'no'} "
            f"| {arrow(r['in_domain_acc'], '.1f')} ({r['in_domain_gained_lost'][0]} / "
            f"{r['in_domain_gained_lost'][1]}) "
            f"| {arrow(r['held_out_acc'], '.1f')} ({r['held_out_gained_lost'][0]} / "
            f"{r['held_out_gained_lost'][1]}) "
            f"| {'yes' if r['target_b'] else 'no'} "
            f"| {arrow(r['held_out_psr'], '.2f')} "
            f"| {arrow(r['held_out_correct_first'], 'd')} | {arrow(r['held_out_correct_asked'], 'd')} "
            f"| {arrow(r['held_out_out_of_turns'], 'd')} | {arrow(r['held_out_unparsable'], 'd')} "
            f"| {ceiling_text} |"
        )
    return "\n".join(lines) + "\n"


def run_seed(seed: int, out: Path, extra: list[str], preset: str = "cpu-demo") -> Path:
    """Run the preset for ``seed`` unless a finished run with the same flags is already in ``out``."""
    run_dir = out / f"seed{seed}"
    summary = run_dir / "summary.json"
    flags_file = run_dir / "sweep_flags.json"
    if summary.is_file() and flags_file.is_file() and json.loads(flags_file.read_text()) == extra:
        return run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    flags_file.write_text(json.dumps(extra))
    summary.unlink(missing_ok=True)
    command = [sys.executable, str(ROOT / "training" / "grpo.py"), "--preset", preset]
    command += ["--seed", str(seed), "--out", str(run_dir), *extra]
    with open(out / f"seed{seed}.log", "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode != 0 or not summary.is_file():
        raise RuntimeError(f"seed {seed} failed (exit {done.returncode}); see {out / f'seed{seed}.log'}")
    return run_dir


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated seeds (default 0,1,2,3)")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once, one CPU thread each")
    parser.add_argument("--out", default="runs/cpu-demo-seeds", help="one folder per seed under this one")
    parser.add_argument("--preset", default="cpu-demo", help="training/grpo.py preset (default cpu-demo)")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, e.g. 0,1,2,3; got {args.seeds!r}")
    if not seeds or args.jobs < 1:
        parser.error("give at least one seed and --jobs >= 1")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        run_dirs = list(pool.map(lambda s: run_seed(s, out, extra, args.preset), seeds))
    rows = []
    for run_dir in run_dirs:
        summary = json.loads((run_dir / "summary.json").read_text())
        held = summary["held_out"]
        records = read_episodes(run_dir / "eval-after")
        before = episode_counts(read_episodes(run_dir / "eval-before"), held)
        row = {**seed_row(summary, before, episode_counts(records, held)), **held_out_details(records, held)}
        if summary["config"].get("recognizer"):
            row["ceiling_held_out_acc"] = ceiling(summary, run_dir / "eval-ceiling")
        rows.append(row)
    text = table(rows)
    met = sum(r["target_a"] and r["target_b"] for r in rows)
    text += f"\nSeeds meeting both targets (reward gain >= 0.2, held-out gain >= +{HELD_OUT_TARGET:g}): {met} of {len(rows)}\n"
    out_of_turns = Counter()
    for row in rows:
        out_of_turns.update(row["out_of_turns_by_scenario"])
    text += (
        "\nHeld-out episodes out of turns after GRPO, all seeds: "
        + (", ".join(f"{s} {n}" for s, n in out_of_turns.most_common()) or "none")
        + "\n"
    )
    print(text, end="")
    (out / "seeds.md").write_text(text)
    record = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs".strip(),
        "python": platform.python_version(),
        "versions": library_versions(),
        "extra_flags": extra,
        "seeds": rows,
    }
    (out / "seeds.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The benchmark's filtering step: keep the samples that few probe models answer on the first turn.

The paper's 7,557-sample benchmark is what is left of 17,909 samples after dropping every sample that at
least 25% of the probe models answered correctly on the first turn (first-turn accuracy 32.5% -> 6.4%).
:func:`filter_runs` does the same with your own probe models: it reads several finished multiple-choice
runs (one per model) of the same samples, and :func:`write_subset` writes the kept ids as the JSON file that
``subset_file=`` (``--subset-file``) accepts. ``proactive-gym filter RUN_DIR... --out ids.json`` runs both
and prints the first-turn accuracy per scenario before and after.

A model's vote on a sample is whether its first reply was the correct category (the episode's first step
has outcome ``correct``; on ROD a category at turn 0 is never correct). An episode that ended in an error
casts no vote; a sample with no vote at all is dropped and counted in ``unscored``.

>>> runs = {"a": {("ROD", 1): True, ("ROD", 2): False}, "b": {("ROD", 1): False, ("ROD", 2): False}}
>>> result = filter_votes(runs, threshold=0.5)
>>> result.kept, result.stats["ROD"]["before_acc"], result.stats["ROD"]["after_acc"]
({'ROD': [2]}, 25.0, 0.0)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from proactive_gym.evaluation.results import RunDir, RunDirError, dump_json

#: The paper's threshold: drop a sample when at least this share of the probe models solved it at once.
PAPER_THRESHOLD = 0.25

Votes = Mapping[tuple[str, int], bool | None]  # (scenario, sample id) -> first reply correct (None: error)


@dataclasses.dataclass
class FilterResult:
    """The kept ids per scenario (sorted) and, per scenario plus ``"all"``, the counts and first-turn
    accuracies (percent over every vote) before and after: ``before``, ``after``, ``before_acc``,
    ``after_acc``, ``unscored``."""

    kept: dict[str, list[int]]
    stats: dict[str, dict[str, Any]]
    runs: list[str]
    threshold: float


def first_turn_votes(records: Sequence[dict[str, Any]]) -> dict[tuple[str, int], bool | None]:
    """Each episode's vote: its first reply was the correct category (None for an episode with an error)."""
    votes: dict[tuple[str, int], bool | None] = {}
    for r in records:
        key = (str(r["scenario"]), int(r["sample_id"]))
        steps = r.get("steps") or []
        votes[key] = None if r.get("error") or not steps else steps[0].get("outcome") == "correct"
    return votes


def _pct(hits: int, total: int) -> float | None:
    return 100.0 * hits / total if total else None


def filter_votes(runs: Mapping[str, Votes], threshold: float = PAPER_THRESHOLD) -> FilterResult:
    """Keep a sample when fewer than ``threshold`` of the models that scored it solved it on the first turn.

    ``runs`` maps a run name to its votes; every run must hold the same samples.
    """
    if not runs:
        raise ValueError("filter needs at least one run")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1] (the paper: {PAPER_THRESHOLD}), got {threshold}")
    names = list(runs)
    keys = set(runs[names[0]])
    for name in names[1:]:
        other = set(runs[name])
        if other != keys:
            missing, extra = sorted(keys - other), sorted(other - keys)
            parts = [f"lacks {len(missing)} (e.g. {missing[:3]})"] if missing else []
            parts += [f"has {len(extra)} more (e.g. {extra[:3]})"] if extra else []
            raise ValueError(
                f"run {name} does not hold the same episodes as run {names[0]}: it {' and '.join(parts)}; "
                "filter needs runs of every probe model on the same data (same envs, data root, split, "
                "subset and --max-episodes)"
            )
    from proactive_gym.scenarios import SCENARIOS

    order = list(SCENARIOS)
    scenarios = sorted({s for s, _ in keys}, key=lambda s: (order.index(s) if s in order else len(order), s))
    kept: dict[str, list[int]] = {s: [] for s in scenarios}
    tallies = {
        s: {"before": 0, "after": 0, "unscored": 0, "hb": 0, "nb": 0, "ha": 0, "na": 0} for s in scenarios
    }
    for scenario, sample_id in sorted(keys):
        votes = [v for v in (runs[n][(scenario, sample_id)] for n in names) if v is not None]
        t = tallies[scenario]
        t["before"] += 1
        if not votes:
            t["unscored"] += 1
            continue
        t["hb"] += sum(votes)
        t["nb"] += len(votes)
        if sum(votes) / len(votes) < threshold:
            kept[scenario].append(sample_id)
            t["after"] += 1
            t["ha"] += sum(votes)
            t["na"] += len(votes)
    stats: dict[str, dict[str, Any]] = {}
    total = {k: 0 for k in ("before", "after", "unscored", "hb", "nb", "ha", "na")}
    for scenario in [*scenarios, "all"]:
        t = tallies[scenario] if scenario != "all" else total
        if scenario != "all":
            for k in total:
                total[k] += t[k]
        stats[scenario] = {
            "before": t["before"],
            "after": t["after"],
            "unscored": t["unscored"],
            "before_acc": _pct(t["hb"], t["nb"]),
            "after_acc": _pct(t["ha"], t["na"]),
        }
    return FilterResult(kept=kept, stats=stats, runs=names, threshold=threshold)


def read_run_votes(path: str | os.PathLike[str]) -> dict[tuple[str, int], bool | None]:
    """The first-turn votes of one run directory; refuses runs whose first turn is not the benchmark's
    multiple-choice turn (open-ended or reference runs)."""
    run = RunDir(path)
    config = run.read_config()
    if config is None:
        raise RunDirError(f"{path} has no config.json: is it a proactive-gym run directory?")
    env_kwargs = config.get("env_kwargs") or {}
    if config.get("mode", "mcqa") != "mcqa" or env_kwargs.get("reference"):
        setting = "open-ended" if config.get("mode") == "open" else "reference"
        raise ValueError(
            f"{path} is a {setting} run; filter needs multiple-choice runs (the first turn of the benchmark)"
        )
    records = run.records()
    if not records:
        raise RunDirError(f"{path} holds no finished episodes")
    return first_turn_votes(records)


def filter_runs(paths: Sequence[str | os.PathLike[str]], threshold: float = PAPER_THRESHOLD) -> FilterResult:
    """:func:`filter_votes` over run directories (one per probe model), named by their paths."""
    resolved = [str(Path(p).resolve()) for p in paths]
    if len(set(resolved)) != len(resolved):
        raise ValueError("the same run directory is given twice; give one run per probe model")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1] (the paper: {PAPER_THRESHOLD}), got {threshold}")
    return filter_votes({str(p): read_run_votes(p) for p in paths}, threshold)


def write_subset(result: FilterResult, out: str | os.PathLike[str]) -> Path:
    """Write the kept ids as a ``subset_file``: ``{"ROD": [ids...], ...}`` (atomically)."""
    path = Path(out)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    dump_json(path, result.kept)
    return path


def stats_rows(result: FilterResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the before/after table (per scenario, then ``all``)."""
    from proactive_gym.evaluation.metrics import fmt

    header = ["scenario", "samples", "kept", "first-turn acc %", "after %", "unscored"]
    rows = [
        [
            name,
            str(s["before"]),
            str(s["after"]),
            fmt(s["before_acc"]),
            fmt(s["after_acc"]),
            str(s["unscored"]),
        ]
        for name, s in result.stats.items()
    ]
    return header, rows

"""Metrics as pure functions over per-episode records (the dicts written to ``episodes.jsonl``).

The paper's two numbers (SPEC section 5):

- ``acc``: percent of episodes that end with the correct category;
- ``psr``: proactive suggestion rate, the mean number of interventions asked per episode, ``turns - 1``
  (``turns`` counts the replies of the episode), exactly as the authors' evaluation loop computes it.

the paper's "proactive until max steps" statistic, ``max_steps_rate``: percent of episodes that used
every allowed turn (``turns == max_turns``, the authors' ``num_turns == max_steps``) without the correct
answer. It differs from ``out_of_turns_rate``: on MVP-N, ImageNet-C and QuickDraw a suggestion on the last
turn is no longer useful, so such an episode ends as ``useless_suggestion`` on its last turn, and counts
here. One-turn settings (reference, open-ended) report None;

and beyond the paper: final-outcome rates (abstain, unparsable, useless suggestion, wrong answer, out of
turns), mean turns, turns taken against the minimum the oracle needs, and a 95% bootstrap confidence
interval on acc. ``avg`` is the unweighted mean over scenarios, as in the paper's Table 1.

Episodes that raised an error (``record["error"]`` set) are left out of every rate and counted in
``errors``: a crashed request is not a model answer. Open-mode records carry a judge score and give
``ps``, ``cc`` and ``agg`` (percent) instead.

>>> recs = [{"scenario": "ROD", "outcome": "correct", "turns": 2, "min_turns": 2, "steps": []},
...         {"scenario": "ROD", "outcome": "abstain", "turns": 1, "min_turns": 2, "steps": []}]
>>> m = scenario_metrics(recs)
>>> m["acc"], m["psr"], m["abstain_rate"]
(50.0, 0.5, 50.0)
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

N_BOOT = 1000
BOOT_BLOCK = 1 << 20  # values resampled at once by bootstrap_means (8 MB of indices)
CI_LEVEL = 0.95

# Metrics averaged into "avg" (unweighted mean over scenarios that have scored episodes).
MCQA_KEYS: tuple[str, ...] = (
    "acc",
    "psr",
    "abstain_rate",
    "unparsable_rate",
    "useless_suggestion_rate",
    "wrong_answer_rate",
    "out_of_turns_rate",
    "max_steps_rate",
    "mean_turns",
    "mean_min_turns",
    "excess_turns",
    "optimal_rate",
    "mean_return",
)
OPEN_KEYS: tuple[str, ...] = ("ps", "cc", "agg")


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def _pct(flags: Sequence[bool]) -> float | None:
    return 100.0 * sum(flags) / len(flags) if flags else None


def scenario_seed(seed: int, scenario: str) -> list[int]:
    """The seed material of a scenario's bootstrap: independent of which other scenarios ran."""
    return [seed, zlib.crc32(scenario.encode())]


def bootstrap_means(
    values: Sequence[float], n_boot: int = N_BOOT, seed: Sequence[int] | int = 0
) -> np.ndarray:
    """``n_boot`` means of resamples (with replacement) of ``values``; Generator seeded by ``seed``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return np.full(n_boot, np.nan)
    rng = np.random.default_rng(seed)
    # Resample in blocks of rows so that memory stays at about BOOT_BLOCK values whatever the number of
    # episodes; the generator yields the same numbers as one (n_boot, n) draw, so the means are identical.
    rows = max(1, BOOT_BLOCK // arr.size)
    means = np.empty(n_boot)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        means[start:stop] = arr[rng.integers(0, arr.size, size=(stop - start, arr.size))].mean(axis=1)
    return means


def percentile_ci(draws: np.ndarray, level: float = CI_LEVEL) -> list[float] | None:
    """The central ``level`` interval of bootstrap draws, or None when there are none."""
    if draws.size == 0 or np.isnan(draws).all():
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(draws, [tail, 100.0 - tail])
    return [float(lo), float(hi)]


def is_scored(record: dict[str, Any]) -> bool:
    """True for an episode that finished without an error."""
    return not record.get("error")


def is_correct(record: dict[str, Any]) -> bool:
    """True when the episode ended with the correct category."""
    return record.get("outcome") == "correct"


def used_every_turn(record: dict[str, Any]) -> bool:
    """The authors' max-steps flag: all allowed turns used (``turns == max_turns``) and not solved."""
    return (
        record.get("max_turns") is not None
        and int(record["turns"]) == int(record["max_turns"])
        and (not is_correct(record))
    )


def max_steps_rate(records: Sequence[dict[str, Any]]) -> float | None:
    """Percent of ``records`` flagged by :func:`used_every_turn`; None when every episode had one turn
    at most (reference and open-ended settings) or none records ``max_turns``."""
    limits = [r.get("max_turns") for r in records]
    if not any(m is not None and int(m) > 1 for m in limits):
        return None
    return _pct([used_every_turn(r) for r in records])


def scenario_metrics(
    records: Iterable[dict[str, Any]], n_boot: int = N_BOOT, seed: Sequence[int] | int = 0
) -> dict[str, Any]:
    """All metrics of one scenario's episode records (see the module docstring)."""
    records = list(records)
    scored = [r for r in records if is_scored(r)]
    out: dict[str, Any] = {"n": len(scored), "errors": len(records) - len(scored)}
    correct = [is_correct(r) for r in scored]
    turns = [int(r["turns"]) for r in scored]
    out["acc"] = _pct(correct)
    out["acc_ci"] = (
        percentile_ci(bootstrap_means([100.0 * c for c in correct], n_boot, seed)) if scored else None
    )
    out["psr"] = _mean([t - 1 for t in turns])
    for outcome in ("abstain", "unparsable", "useless_suggestion", "wrong_answer", "out_of_turns"):
        out[f"{outcome}_rate"] = _pct([r.get("outcome") == outcome for r in scored])
    out["max_steps_rate"] = max_steps_rate(scored)
    out["mean_turns"] = _mean(turns)
    with_min = [r for r in scored if r.get("min_turns") is not None]
    out["mean_min_turns"] = _mean([int(r["min_turns"]) for r in with_min])
    solved = [r for r in with_min if is_correct(r)]
    out["excess_turns"] = _mean([int(r["turns"]) - int(r["min_turns"]) for r in solved])
    out["optimal_rate"] = _pct([is_correct(r) and int(r["turns"]) == int(r["min_turns"]) for r in with_min])
    out["mean_return"] = _mean([float(r.get("return", 0.0)) for r in scored])
    counts = Counter(str(r.get("outcome")) for r in scored)
    out["outcomes"] = {k: counts[k] for k in sorted(counts)}
    judged = [r["judge"] for r in scored if isinstance(r.get("judge"), dict)]
    if judged:
        for key in OPEN_KEYS:
            out[key] = _pct([bool(j.get(key)) for j in judged])
    if scored and all(r.get("outcome") == "unjudged" for r in scored):
        # open mode: the env does not decide correctness, the judge does (ps / cc / agg)
        for key in ("acc", "acc_ci", "excess_turns", "optimal_rate"):
            out[key] = None
    return out


def average(per_scenario: dict[str, dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """Unweighted mean of each metric in ``keys`` over the scenarios where it is defined."""
    avg: dict[str, Any] = {
        "n": sum(m["n"] for m in per_scenario.values()),
        "errors": sum(m["errors"] for m in per_scenario.values()),
    }
    for key in keys:
        values = [m[key] for m in per_scenario.values() if m.get(key) is not None]
        avg[key] = _mean(values)
    return avg


def outcomes_per_turn(records: Iterable[dict[str, Any]]) -> dict[int, dict[str, int]]:
    """Counts of each step outcome at each turn index (0 = first reply), over scored episodes."""
    table: dict[int, Counter[str]] = {}
    for record in records:
        if not is_scored(record):
            continue
        for step in record.get("steps", []):
            table.setdefault(int(step["turn"]), Counter())[str(step.get("outcome"))] += 1
    return {turn: dict(sorted(table[turn].items())) for turn in sorted(table)}


def summarize(
    records: Iterable[dict[str, Any]],
    scenarios: Sequence[str] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-scenario metrics (in ``scenarios`` order, default: order of first appearance) and their ``avg``.

    The avg's confidence interval comes from averaging the scenarios' bootstrap draws, so it reflects the
    unweighted mean the table reports.
    """
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_scenario.setdefault(record["scenario"], []).append(record)
    order = list(scenarios) if scenarios is not None else list(by_scenario)
    per: dict[str, dict[str, Any]] = {}
    draws = []
    for name in order:
        recs = sorted(by_scenario.get(name, []), key=lambda r: (r.get("index", 0), r.get("sample_id", 0)))
        per[name] = scenario_metrics(recs, n_boot, scenario_seed(seed, name))
        correct = [100.0 * is_correct(r) for r in recs if is_scored(r)]
        if correct and per[name]["acc"] is not None:
            draws.append(bootstrap_means(correct, n_boot, scenario_seed(seed, name)))
    keys = MCQA_KEYS + tuple(k for k in OPEN_KEYS if any(k in m for m in per.values()))
    avg = average(per, keys)
    avg["acc_ci"] = percentile_ci(np.mean(draws, axis=0)) if draws else None
    return {"scenarios": per, "avg": avg}


def fmt(value: float | None, digits: int = 1) -> str:
    """A metric for display: fixed decimals, or "-" when undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"

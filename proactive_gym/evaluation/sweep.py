"""Several agents and repeated epochs in one command: sibling run folders, one side-by-side report, the
spread over epochs.

>>> from proactive_gym.evaluation.sweep import sweep
>>> result = sweep(["oracle", "random"], out="runs/cmp", epochs=3, envs="ROD,COCO")  # doctest: +SKIP
>>> result.spread["random"]["avg"]["acc_sd"]                                           # doctest: +SKIP

Each (agent, epoch) is one ordinary :func:`~proactive_gym.evaluation.evaluate` run in its own folder under
``out`` (``<agent>`` with one epoch, ``<agent>-epoch<k>`` with several), so each is resumable and
reportable on its own. Epoch ``k`` uses run seed ``seed + k``: other episode reset seeds and, for agents
that sample (a ``temperature`` above 0, the ``random`` agent), other replies. ``sweep.json`` in ``out``
lists the runs and the spread over epochs per agent (mean, sample standard deviation, min and max of acc
and psr, or of ps/cc/agg in open mode, per scenario and for the average); ``report/`` holds one
side-by-side report of every run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from proactive_gym.evaluation.results import dump_json
from proactive_gym.evaluation.runner import Progress, Summary, evaluate

SWEEP_FILE = "sweep.json"


def run_name(agent: str, epoch: int, epochs: int) -> str:
    """The folder name of one run: the agent spec made filesystem-safe, ``-epoch<k>`` with several epochs.

    >>> run_name("hf:Qwen/Qwen2.5-VL-3B-Instruct", 1, 3)
    'hf_Qwen_Qwen2.5-VL-3B-Instruct-epoch1'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", agent).strip("_") or "agent"
    return safe if epochs == 1 else f"{safe}-epoch{epoch}"


def spread(summaries: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per scenario and ``avg``: mean, sample sd (0 for one epoch), min and max over the epochs' summaries.

    Metrics: acc and psr (open mode: ps, cc and agg), as ``<metric>_mean``, ``_sd``, ``_min``, ``_max``.
    """
    if not summaries:
        return {}
    keys = ("ps", "cc", "agg") if summaries[0]["mode"] == "open" else ("acc", "psr")
    columns = [*summaries[0]["metrics"]["scenarios"], "avg"]
    out: dict[str, dict[str, float | None]] = {}
    for column in columns:
        row: dict[str, float | None] = {}
        for key in keys:
            values = []
            for s in summaries:
                m = s["metrics"]["avg"] if column == "avg" else s["metrics"]["scenarios"].get(column, {})
                if m.get(key) is not None:
                    values.append(float(m[key]))
            if not values:
                row.update({f"{key}_{stat}": None for stat in ("mean", "sd", "min", "max")})
                continue
            row[f"{key}_mean"] = statistics.fmean(values)
            row[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
            row[f"{key}_min"], row[f"{key}_max"] = min(values), max(values)
        out[column] = row
    return out


@dataclasses.dataclass
class SweepRun:
    """One finished run of a sweep."""

    agent: str
    epoch: int
    seed: int
    path: Path
    summary: Summary


@dataclasses.dataclass
class SweepResult:
    """What :func:`sweep` ran: the runs in order, the spread per agent, the report files."""

    runs: list[SweepRun]
    spread: dict[str, dict[str, dict[str, float | None]]]
    report: dict[str, Path]


def sweep(
    agents: Sequence[str],
    out: str | os.PathLike[str],
    epochs: int = 1,
    seed: int = 0,
    agent_options: dict[str, Any] | Callable[[str, int], dict[str, Any]] | None = None,
    progress: Callable[[], Progress | None] | None = None,
    on_run: Callable[[SweepRun], None] | None = None,
    report: bool = True,
    report_options: dict[str, Any] | None = None,
    **evaluate_kwargs: Any,
) -> SweepResult:
    """Evaluate every agent spec ``epochs`` times, one run after another, then report them side by side.

    ``agent_options`` is a dict for every run or a function ``(agent spec, run seed) -> options``.
    ``progress`` makes a fresh :class:`Progress` per run (its ``stop()``, if any, is called when the run
    ends); ``on_run`` is called after each run finishes.
    ``evaluate_kwargs`` go to every :func:`evaluate` call (``envs``, ``env_kwargs``, ``max_episodes``,
    ``batch_size``, ``resume``, ``force``, ``judge``...). ``report_options`` go to
    :func:`~proactive_gym.evaluation.report.write_report` (``images_per_scenario``, ``max_images``, ``plots``).
    """
    if not agents:
        raise ValueError("sweep needs at least one agent spec")
    if len(set(agents)) != len(agents):
        raise ValueError(f"an agent spec is listed twice: {list(agents)}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    base = Path(out)
    runs: list[SweepRun] = []
    for agent in agents:
        for epoch in range(epochs):
            run_seed = seed + epoch
            options = agent_options(agent, run_seed) if callable(agent_options) else dict(agent_options or {})
            path = base / run_name(agent, epoch, epochs)
            bar = progress() if progress is not None else None
            try:
                summary = evaluate(
                    agent, out=path, seed=run_seed, agent_options=options, progress=bar, **evaluate_kwargs
                )
            finally:
                stop = getattr(bar, "stop", None)
                if callable(stop):
                    stop()
            runs.append(SweepRun(agent, epoch, run_seed, path, summary))
            if on_run is not None:
                on_run(runs[-1])
    spreads = {a: spread([r.summary.data for r in runs if r.agent == a]) for a in agents}
    dump_json(
        base / SWEEP_FILE,
        {
            "agents": list(agents),
            "epochs": epochs,
            "seeds": [seed + e for e in range(epochs)],
            "runs": [{"agent": r.agent, "epoch": r.epoch, "seed": r.seed, "path": r.path.name} for r in runs],
            "spread": spreads,
        },
    )
    files: dict[str, Path] = {}
    if report:
        from proactive_gym.evaluation.report import write_report

        files = write_report([r.path for r in runs], out=base / "report", **(report_options or {}))
    return SweepResult(runs, spreads, files)

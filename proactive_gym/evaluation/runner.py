"""``evaluate``: run an agent over scenarios, write resumable results, return the summary.

The episode plan is fixed before anything runs: for each scenario (in the order given) the env's
``sample_ids`` (capped at ``max_episodes`` per scenario), each with a reset seed derived from
``(seed, scenario, sample_id)``. Neither depends on what already finished, so a resumed run plays exactly
the episodes that are missing, with the same seeds, and ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from proactive_gym.agents import make_agent
from proactive_gym.agents.base import Agent
from proactive_gym.evaluation.metrics import scenario_seed, summarize
from proactive_gym.evaluation.results import FORMAT_VERSION, RunDir
from proactive_gym.evaluation.rollout import Task, error_text, run_episodes
from proactive_gym.settings import flags as settings_flags

log = logging.getLogger(__name__)


class Progress:
    """Receives progress events from :func:`evaluate` (the CLI shows progress bars, or a plain line every
    30 s when its output is not a terminal)."""

    def start(self, planned: dict[str, int], done: dict[str, int]) -> None:
        """Called once with the planned and the already finished episode counts per scenario."""

    def update(self, record: dict[str, Any]) -> None:
        """Called after each finished episode (already written)."""

    def step(self) -> None:
        """Called after each turn of any episode (for the live turns/s)."""


def resolve_envs(envs: str | Sequence[str]) -> list[str]:
    """Scenario short names from ``"all"``, a comma list or a list (short names, prefixes or env ids).

    Raises ValueError listing the valid names for an unknown one.
    """
    from proactive_gym.scenarios import SCENARIOS, get_scenario

    if isinstance(envs, str):
        envs = [e for e in (p.strip() for p in envs.split(",")) if e]
    if not envs:
        raise ValueError(f"no envs given; valid: all, {', '.join(SCENARIOS)}")
    if [e.lower() for e in envs] == ["all"]:
        return list(SCENARIOS)
    names: list[str] = []
    for env in envs:
        name = get_scenario(env).name
        if name in names:
            raise ValueError(f"env {env!r} is listed twice")
        names.append(name)
    return names


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def episode_seed(seed: int, scenario: str, sample_id: int) -> int:
    """The reset seed of one episode: a function of the run seed, the scenario and the sample only."""
    seq = np.random.SeedSequence([*scenario_seed(seed, scenario), int(sample_id)])
    return int(seq.generate_state(1)[0])


def plan_sha1(sample_ids: Sequence[int | None]) -> str:
    """A short fingerprint of a scenario's planned sample ids (which episodes, in which order)."""
    return hashlib.sha1(",".join(str(i) for i in sample_ids).encode()).hexdigest()[:16]


def git_commit() -> dict[str, Any] | None:
    """The commit (and whether the tree is dirty) of the checkout this package runs from, if any."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def package_version() -> str:
    """The installed proactive_gym version."""
    try:
        from importlib.metadata import version

        return version("proactive_gym")
    except Exception:  # noqa: BLE001 - not installed (running from a checkout)
        import proactive_gym

        return str(getattr(proactive_gym, "__version__", "unknown"))


def make_env_factory(env_kwargs: dict[str, Any]) -> Callable[[str], Any]:
    """A function scenario short name -> a fresh env built with ``env_kwargs``."""
    import gymnasium as gym

    import proactive_gym  # noqa: F401 - registers the env ids
    from proactive_gym.scenarios import SCENARIOS

    def make(scenario: str) -> Any:
        return gym.make(SCENARIOS[scenario].env_id, disable_env_checker=True, **env_kwargs)

    return make


def plan_episodes(
    envs: Sequence[str],
    make_env: Callable[[str], Any],
    seed: int,
    max_episodes: int | None,
    keep: dict[str, list[Any]] | None = None,
) -> list[Task]:
    """The full, fixed episode plan (see the module docstring).

    The env built to read a scenario's ``sample_ids`` is closed, or added to ``keep[scenario]`` for reuse.
    """
    tasks: list[Task] = []
    for scenario in envs:
        env = make_env(scenario)
        try:
            ids = [int(i) for i in env.unwrapped.sample_ids]
        except BaseException:
            env.close()
            raise
        if keep is not None:
            keep.setdefault(scenario, []).append(env)
        else:
            env.close()
        if max_episodes is not None:
            ids = ids[:max_episodes]
        tasks.extend(Task(scenario, sid, i, episode_seed(seed, scenario, sid)) for i, sid in enumerate(ids))
    return tasks


@dataclasses.dataclass
class Summary:
    """The result of a run: ``data`` is exactly what ``summary.json`` holds.

    ``summary.acc["ROD"]``, ``summary.psr["avg"]``, ``summary.scenarios["COCO"]["acc_ci"]``,
    ``summary.avg["acc"]``.
    """

    data: dict[str, Any]

    @property
    def scenarios(self) -> dict[str, dict[str, Any]]:
        """Per-scenario metrics, in run order."""
        return self.data["metrics"]["scenarios"]

    @property
    def avg(self) -> dict[str, Any]:
        """The unweighted mean over scenarios of every metric."""
        return self.data["metrics"]["avg"]

    def metric(self, key: str) -> dict[str, Any]:
        """One metric per scenario plus ``"avg"``."""
        return {**{s: m.get(key) for s, m in self.scenarios.items()}, "avg": self.avg.get(key)}

    @property
    def acc(self) -> dict[str, Any]:
        """acc (percent) per scenario and ``"avg"``."""
        return self.metric("acc")

    @property
    def psr(self) -> dict[str, Any]:
        """psr per scenario and ``"avg"``."""
        return self.metric("psr")

    @property
    def errors(self) -> int:
        """Episodes that ended in an error (not counted in the metrics)."""
        return int(self.avg["errors"])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Summary:
        """Read ``summary.json`` from a run directory (or the file itself)."""
        p = Path(path)
        p = p / "summary.json" if p.is_dir() else p
        with open(p, encoding="utf-8") as f:
            return cls(json.load(f))


def _make_judge(judge: Any, judge_options: dict[str, Any]) -> Any:
    if judge is None or isinstance(judge, str):
        try:
            from proactive_gym.agents.judge import make_judge
        except ModuleNotFoundError as err:
            raise ValueError(
                "open mode needs a judge, but proactive_gym.agents.judge is not available"
            ) from err
        return make_judge(judge or "keyword", **judge_options)
    return judge


def _judge_batch(judge: Any, records: list[dict[str, Any]]) -> None:
    """Score open-mode records in place (``record["judge"]``); failures become per-episode errors."""
    items = []
    for r in records:
        step = r["steps"][0]
        items.append(
            {
                "prompt": step["prompt"],
                "acceptable_answers": r.get("acceptable_answers", []),
                "n_suggestion_answers": r.get("n_suggestion_answers", 0),
                "reply": step["reply"],
                "scenario": r["scenario"],
            }
        )
    try:
        scores = judge.score(items)
        if len(scores) != len(items):
            raise ValueError(f"judge returned {len(scores)} scores for {len(items)} items")
    except Exception as err:  # noqa: BLE001
        if len(records) > 1:
            for r in records:
                _judge_batch(judge, [r])
            return
        records[0]["error"] = "judge: " + error_text(err)
        return
    for r, score in zip(records, scores, strict=True):
        r["judge"] = {k: score.get(k) for k in ("ps", "cc", "agg", "raw")}


class _Judging:
    """Scores finished open-mode records off the rollout loop, then hands them to ``emit``.

    A judge whose model answers items one by one (an ``openai:`` judge: its agent has ``in_flight``) gets
    one item per call from that many threads, so its requests stay in flight like the agent's; any other
    judge (keyword, ``hf:``) gets batches of ``batch_size`` from one thread.
    """

    def __init__(self, judge: Any, batch_size: int, emit: Callable[[list[dict[str, Any]]], None]) -> None:
        workers = getattr(getattr(judge, "agent", None), "in_flight", 0)
        workers = workers if isinstance(workers, int) and workers > 0 else 1
        self.judge = judge
        self.batch_size = 1 if workers > 1 else batch_size
        self.emit = emit
        self.pending: list[dict[str, Any]] = []
        self.futures: list[Future[None]] = []
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge")

    def add(self, record: dict[str, Any]) -> None:
        self.pending.append(record)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.futures.append(self.pool.submit(self._score, batch))
        self.futures = [f for f in self.futures if not f.done() or f.exception() is not None]

    def _score(self, batch: list[dict[str, Any]]) -> None:
        _judge_batch(self.judge, batch)
        self.emit(batch)

    def finish(self) -> None:
        """Judge what is left and wait for every batch (re-raising a failure of the writer)."""
        self.flush()
        for future in self.futures:
            future.result()
        self.pool.shutdown()

    def cancel(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def check_servers(agent: Any, judge: Any) -> None:
    """Probe the agent's and the judge's model servers before the first episode (see ``Agent.check``)."""
    check = getattr(agent, "check", None)
    if callable(check):
        check("agent")
    judge_check = getattr(getattr(judge, "agent", None), "check", None)
    if callable(judge_check):
        judge_check("judge")


def evaluate(
    agent: Agent | str,
    envs: str | Sequence[str] = "all",
    out: str | os.PathLike[str] | None = None,
    batch_size: int = 8,
    env_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
    max_episodes: int | None = None,
    resume: bool = False,
    force: bool = False,
    agent_options: dict[str, Any] | None = None,
    judge: Any = None,
    judge_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Evaluate ``agent`` on ``envs`` and return the :class:`Summary`.

    ``agent`` is an :class:`Agent` or a spec for :func:`make_agent` (built with ``agent_options`` and
    closed at the end). ``env_kwargs`` go to every ``gym.make`` (data_root, data, split, subset, hint,
    reference, history, mode, ...). ``max_episodes`` caps the episodes *per scenario* (the first ones in
    data order). With ``out``, results go to that directory (``config.json``, ``episodes.jsonl``,
    ``summary.json``); ``resume`` finishes an interrupted run there, ``force`` overwrites a different one.
    In open mode (``env_kwargs["mode"] == "open"``) replies are scored by ``judge`` (a judge object, or a
    spec for ``make_judge``, default ``"keyword"``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_episodes is not None and max_episodes < 1:
        raise ValueError(f"max_episodes must be >= 1, got {max_episodes}")
    env_kwargs = dict(env_kwargs or {})
    agent_options = dict(agent_options or {})
    judge_options = dict(judge_options or {})
    names = resolve_envs(envs)
    mode = env_kwargs.get("mode", "mcqa")
    spec = agent if isinstance(agent, str) else agent.name
    judge_spec = None
    if mode == "open":
        judge_spec = (
            judge if isinstance(judge, str) or judge is None else getattr(judge, "name", type(judge).__name__)
        )
        judge_spec = judge_spec or "keyword"
    config = _jsonable(
        {
            "format": FORMAT_VERSION,
            "agent": spec,
            "agent_options": agent_options,
            "envs": names,
            "env_kwargs": env_kwargs,
            "seed": seed,
            "max_episodes": max_episodes,
            "mode": mode,
            "judge": judge_spec,
            "judge_options": judge_options if mode == "open" else {},
        }
    )
    make_env = make_env_factory(env_kwargs)
    ready: dict[str, list[Any]] = {}  # envs built while planning, reused by the engine
    run_dir = RunDir(out) if out is not None else None
    the_agent: Agent | None = None
    the_judge: Any = None
    judging: _Judging | None = None
    try:
        tasks = plan_episodes(names, make_env, seed, max_episodes, keep=ready)
        for name, built in ready.items():  # every image the planned episodes can show: a stat, no decode
            built[0].unwrapped.check_images([t.sample_id for t in tasks if t.scenario == name])
        done = run_dir.prepare(config, resume=resume, force=force) if run_dir else []
        planned_keys = {(t.scenario, t.sample_id) for t in tasks}
        done = [r for r in done if (r["scenario"], int(r["sample_id"])) in planned_keys]
        done_keys = {(r["scenario"], int(r["sample_id"])) for r in done}
        todo = [t for t in tasks if (t.scenario, t.sample_id) not in done_keys]
        if done:
            log.info("resuming: %d of %d episodes already done", len(done), len(tasks))
        the_agent = make_agent(agent, **agent_options) if isinstance(agent, str) else agent
        the_judge = _make_judge(judge, judge_options) if mode == "open" else None
        if todo:
            check_servers(the_agent, the_judge)
        records = list(done)
        progress = progress or Progress()
        planned: dict[str, int] = {n: 0 for n in names}
        for t in tasks:
            planned[t.scenario] += 1
        digest = {n: plan_sha1([t.sample_id for t in tasks if t.scenario == n]) for n in names}
        finished: dict[str, int] = {n: 0 for n in names}
        for r in done:
            finished[r["scenario"]] += 1
        progress.start(planned, finished)
        lock = threading.Lock()  # the judge's threads emit too

        def emit(batch: list[dict[str, Any]]) -> None:
            with lock:
                for record in batch:
                    if run_dir is not None:
                        run_dir.append(record)
                    records.append(record)
                    progress.update(record)

        if the_judge is not None:
            judging = _Judging(the_judge, batch_size, emit)

        def on_finish(record: dict[str, Any]) -> None:
            if judging is None or record.get("error"):
                emit([record])
            else:
                judging.add(record)

        started = time.time()
        t0 = time.perf_counter()
        handed, ready = ready, {}  # the engine owns (and closes) them from here
        run_episodes(
            todo, make_env, the_agent, batch_size=batch_size, on_finish=on_finish, envs=handed,
            on_step=progress.step,
        )  # fmt: skip
        if judging is not None:
            judging.finish()
            judging = None
        wall = time.perf_counter() - t0
        records.sort(key=lambda r: (names.index(r["scenario"]), r["index"]))
        description = the_agent.describe()
    finally:
        if judging is not None:
            judging.cancel()
        for pool in ready.values():
            for env in pool:
                env.close()
        if run_dir is not None:
            run_dir.close()
        if isinstance(agent, str) and the_agent is not None:
            the_agent.close()
        if (judge is None or isinstance(judge, str)) and callable(getattr(the_judge, "close", None)):
            the_judge.close()
    summary = build_summary(
        records=records,
        config=config,
        agent_description=description,
        judge=the_judge,
        planned=planned,
        plan_digest=digest,
        run={
            "out": os.fspath(out) if out is not None else None,
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
            "wall_s": round(wall, 3),
            "episodes_this_session": len(records) - len(done),
            "resumed_from": len(done),
            "turns_this_session": sum(r["turns"] for r in records) - sum(r["turns"] for r in done),
            "turns_per_s": round((sum(r["turns"] for r in records) - sum(r["turns"] for r in done)) / wall, 1)
            if wall > 0
            else None,
            "batch_size": batch_size,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
    )
    if run_dir is not None:
        run_dir.write_summary(summary.data)
    return summary


def build_summary(
    records: list[dict[str, Any]],
    config: dict[str, Any],
    agent_description: dict[str, Any],
    judge: Any,
    planned: dict[str, int],
    run: dict[str, Any],
    plan_digest: dict[str, str] | None = None,
) -> Summary:
    """Assemble ``summary.json``: config, provenance, per-scenario data info (source, subset, split, planned
    episodes and a fingerprint of their ids), metrics; ``run`` holds the parts that legitimately differ
    between an interrupted-and-resumed run and an uninterrupted one."""
    names = list(config["envs"])
    env_kwargs = config["env_kwargs"]
    data: dict[str, dict[str, Any]] = {}
    for name in names:
        first = next((r for r in records if r["scenario"] == name and r.get("data_source") is not None), None)
        data[name] = {
            "data_source": first.get("data_source") if first else None,
            "subset": first.get("subset") if first else None,
            "split": first.get("split") if first else None,
            "planned": planned.get(name, 0),
            "plan_sha1": (plan_digest or {}).get(name),
            "finished": sum(1 for r in records if r["scenario"] == name),
            "errors": sum(1 for r in records if r["scenario"] == name and r.get("error")),
        }
    judge_description = None
    if judge is not None:
        describe = getattr(judge, "describe", None)
        judge_description = describe() if callable(describe) else {"class": type(judge).__name__}
    summary = {
        "format": FORMAT_VERSION,
        "agent": {"spec": config["agent"], "options": config["agent_options"], "describe": agent_description},
        "envs": names,
        "mode": config["mode"],
        "env_kwargs": env_kwargs,
        "flags": settings_flags(env_kwargs),
        "data": data,
        "seed": config["seed"],
        "max_episodes": config["max_episodes"],
        "judge": {"spec": config["judge"], "options": config["judge_options"], "describe": judge_description}
        if config["mode"] == "open"
        else None,
        "version": package_version(),
        "git": git_commit(),
        # Complete: every planned episode has a result (a record that is not an error).
        "complete": all(d["finished"] - d["errors"] == d["planned"] for d in data.values()),
        "metrics": summarize(records, names, seed=config["seed"]),
        "run": run,
    }
    return Summary(_jsonable(summary))

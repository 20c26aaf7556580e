"""The rollout engine: ``reset`` -> agent -> ``step`` until the episode ends, one record per episode.

:func:`rollout` plays one episode on one env. :func:`run_episodes` (also known by its former name
``run_batched``) plays a whole plan over a pool of envs (several per scenario when needed); every caller in
the package goes through it. Each episode advances as soon as its own reply is there: an agent that answers
observations one at a time (:meth:`Agent.submit`, the ``openai:`` agent) keeps its ``in_flight`` requests
busy while work remains; any other agent is handed the ready episodes as one batch per turn
(:meth:`Agent.act`), which is what keeps local model decoding batched. Both build records with the same
:class:`Episode` class, so a record looks the same whichever path produced it, and it does not depend on
the order replies arrive in.

A record (one JSON line of ``episodes.jsonl``)::

    {"scenario": "ROD", "sample_id": 3, "index": 3, "seed": 123, "outcome": "correct", "turns": 2,
     "min_turns": 2, "max_turns": 14, "return": 1.0, "error": null, "data_source": "synthetic",
     "subset": "all", "mode": "mcqa",
     "steps": [{"turn": 0, "frame": 7, "image_path": "...", "prompt": "...", "reply": "A. ...",
                "outcome": "useful_suggestion", "chosen": "...", "reward": 0.5, "oracle": "..."}, ...]}

``steps[k]`` is what the agent saw at turn ``k`` (frame, image path, prompt), what it replied, and what
that reply did. Open mode records add ``acceptable_answers``, ``n_suggestion_answers`` and, once judged,
``judge`` (``{"ps", "cc", "agg", "raw"}``). No image bytes are stored: an image is re-rendered from the env
with ``reset(options={"sample_id": id, "replies": replies[:k]})``.
"""

from __future__ import annotations

import copy
import logging
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Any

from proactive_gym.agents.base import Agent, redact_secrets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """One planned episode: which sample of which scenario, its place in the plan and its reset seed."""

    scenario: str
    sample_id: int | None  # None: the env picks one with its seeded np_random (rollout only)
    index: int
    seed: int | None = None


def error_text(err: BaseException) -> str:
    """A one-paragraph description of an exception for a record: type, message, innermost frame (any
    Authorization / api-key header value in it redacted)."""
    tb = traceback.extract_tb(err.__traceback__)
    where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
    return redact_secrets(f"{type(err).__name__}: {err}{where}")


class Episode:
    """One episode in flight on one env: its current observation and info, and the record being built."""

    __slots__ = ("env", "task", "obs", "info", "record", "done")

    def __init__(self, env: Any, task: Task) -> None:
        self.env = env
        self.task = task
        self.obs: dict[str, Any] = {}
        self.info: dict[str, Any] = {}
        self.done = False
        self.record: dict[str, Any] = {
            "scenario": task.scenario,
            "sample_id": task.sample_id,
            "index": task.index,
            "seed": task.seed,
            "outcome": None,
            "turns": 0,
            "min_turns": None,
            "max_turns": None,
            "return": 0.0,
            "error": None,
            "steps": [],
        }

    def start(self) -> None:
        """Reset the env to this episode's sample."""
        sid = self.task.sample_id
        self.obs, info = self.env.reset(
            seed=self.task.seed, options=None if sid is None else {"sample_id": sid}
        )
        self.info = info
        rec = self.record
        rec["sample_id"] = info.get("sample_id", sid)
        rec["scenario"] = info.get("scenario", rec["scenario"])
        rec["min_turns"] = info.get("min_turns")
        rec["max_turns"] = info.get("max_turns")
        rec["data_source"] = info.get("data_source")
        rec["subset"] = info.get("subset")
        rec["split"] = info.get("split")
        rec["mode"] = info.get("mode")
        if "acceptable_answers" in info:
            rec["acceptable_answers"] = list(info["acceptable_answers"])
            rec["n_suggestion_answers"] = info.get("n_suggestion_answers")

    def step(self, reply: str) -> None:
        """Send ``reply`` to the env and record the turn."""
        if not isinstance(reply, str):
            raise TypeError(f"agent returned {type(reply).__name__} instead of str: {repr(reply)[:200]}")
        seen = self.info
        prompt = self.obs.get("dialogue")
        self.obs, reward, terminated, truncated, info = self.env.step(reply)
        self.info = info
        rec = self.record
        rec["steps"].append(
            {
                "turn": seen.get("turn", len(rec["steps"])),
                "frame": seen.get("frame"),
                "image_path": seen.get("image_path"),
                "prompt": prompt,
                "reply": reply,
                "outcome": info.get("outcome"),
                "chosen": info.get("chosen"),
                "reward": float(reward),
                "oracle": seen.get("oracle"),
            }
        )
        rec["turns"] += 1
        rec["return"] += float(reward)
        rec["outcome"] = info.get("outcome")
        if terminated or truncated:
            self.done = True

    def fail(self, err: BaseException | str) -> None:
        """End the episode as an error (the agent or the env raised)."""
        self.record["error"] = err if isinstance(err, str) else error_text(err)
        self.done = True


def rollout(env: Any, agent: Agent, sample_id: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Play one episode of ``env`` with ``agent`` and return its record.

    ``sample_id`` pins the episode; without it the env picks one with its ``np_random`` (seeded by
    ``seed``, which is passed to ``reset``). Exceptions from the agent or the env propagate (the batched
    runner is the one that records them).
    """
    episode = Episode(env, Task("", sample_id, 0, seed))
    episode.start()
    while not episode.done:
        (reply,) = agent.act([episode.obs], [episode.info])
        episode.step(reply)
    return episode.record


def _act(agent: Agent, batch: list[Episode]) -> list[str | BaseException]:
    """Replies for a batch; when the batch call raises, retry item by item and keep per-item errors."""
    try:
        replies = agent.act([e.obs for e in batch], [e.info for e in batch])
        if len(replies) != len(batch):
            raise ValueError(
                f"agent {agent.name!r} returned {len(replies)} replies for {len(batch)} observations"
            )
        return list(replies)
    except Exception as err:  # noqa: BLE001 - any agent failure becomes a per-episode error
        if len(batch) == 1:
            return [err]
        log.warning("agent %r raised on a batch of %d (%s); retrying one by one", agent.name, len(batch), err)
        return [_act(agent, [e])[0] for e in batch]


def _another_env(existing: list[Any] | None, make_env: Callable[[str], Any], scenario: str) -> Any:
    """One more env of ``scenario``: a deep copy of an existing one that shares its loaded (read-only)
    episode data, which is ~500x cheaper than building it again; else a fresh one. Every episode starts
    with ``reset``, so the copied episode state does not matter."""
    if existing:
        try:
            base = existing[0].unwrapped
            shared = [getattr(base, name, None) for name in ("episodes", "_by_id")]
            return copy.deepcopy(existing[0], {id(obj): obj for obj in shared if obj is not None})
        except Exception as err:  # noqa: BLE001 - an env that cannot be copied is simply built again
            log.debug("cannot copy the %s env (%s); building another", scenario, err)
    return make_env(scenario)


class _EnvPool:
    """Envs per scenario, reused across episodes: a scenario gets a new env only when all of its envs
    are busy, and its envs are closed once its last planned episode finished."""

    def __init__(
        self, tasks: list[Task], make_env: Callable[[str], Any], envs: dict[str, list[Any]] | None
    ) -> None:
        self.make_env = make_env
        self.left: dict[str, int] = {}
        for task in tasks:
            self.left[task.scenario] = self.left.get(task.scenario, 0) + 1
        self.envs = {name: list(pool) for name, pool in (envs or {}).items()}
        self.free = {name: list(pool) for name, pool in self.envs.items()}

    def take(self, scenario: str) -> Any:
        pool = self.free.setdefault(scenario, [])
        if pool:
            return pool.pop()
        env = _another_env(self.envs.get(scenario), self.make_env, scenario)
        self.envs.setdefault(scenario, []).append(env)
        return env

    def give_back(self, scenario: str, env: Any) -> None:
        self.free.setdefault(scenario, []).append(env)
        self.left[scenario] -= 1
        if self.left[scenario] == 0:
            for e in self.envs.pop(scenario, []):
                e.close()
            self.free.pop(scenario, None)

    def close(self) -> None:
        for pool in self.envs.values():
            for env in pool:
                env.close()
        self.envs.clear()
        self.free.clear()


def in_flight_limit(agent: Agent) -> int:
    """How many :meth:`Agent.submit` calls the engine keeps outstanding for ``agent`` (0: the agent is
    driven through :meth:`Agent.act` on batches)."""
    limit = getattr(agent, "in_flight", 0)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else 0


def run_episodes(
    tasks: Iterable[Task],
    make_env: Callable[[str], Any],
    agent: Agent,
    batch_size: int = 1,
    on_finish: Callable[[dict[str, Any]], None] | None = None,
    envs: dict[str, list[Any]] | None = None,
    on_step: Callable[[], None] | None = None,
) -> None:
    """Play every task; ``on_finish(record)`` as each episode ends, ``on_step()`` after each turn.

    The one rollout engine of the package (evaluation, examples, the trainer's before/after evaluation).
    Two ways to drive the agent, chosen by the agent:

    - an agent with ``in_flight > 0`` (the ``openai:`` agent: its ``concurrency``) answers one observation
      at a time through :meth:`Agent.submit`, which returns a future. Each episode advances as soon as its
      own reply arrives: the engine keeps ``max(batch_size, 2 * in_flight)`` episodes going, so the
      agent always has next requests queued (also while some wait for a retry's backoff) and its
      ``in_flight`` slots stay busy while work remains;
    - any other agent (scripted, ``hf:``, a custom ``act(observations, infos)``) gets one
      :meth:`Agent.act` call per turn on the episodes in flight (up to ``batch_size``), all of which are
      ready then; a batch that raises is retried item by item.

    Records do not depend on the mode, the batch size or the order replies arrive in: each episode has its
    own env (reset with the task's seed) while it runs. Envs come from ``envs`` (ready envs per scenario,
    taken over by this function) and then from ``make_env(scenario)``; see :class:`_EnvPool`. An
    exception from the agent or the env ends that episode as an error record; the run goes on.
    ``KeyboardInterrupt`` propagates.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    queue = deque(tasks)
    pool = _EnvPool(list(queue), make_env, envs)
    slots = in_flight_limit(agent)
    limit = max(batch_size, 2 * slots) if slots else batch_size

    def finish(episode: Episode) -> None:
        pool.give_back(episode.task.scenario, episode.env)
        if on_finish is not None:
            on_finish(episode.record)

    def advance(episode: Episode, reply: str | BaseException) -> bool:
        """Step ``episode`` with ``reply``; True while it goes on."""
        if isinstance(reply, BaseException):
            episode.fail(reply)
        else:
            try:
                episode.step(reply)
            except Exception as err:  # noqa: BLE001
                episode.fail(err)
            if on_step is not None:
                on_step()
        if episode.done:
            finish(episode)
            return False
        return True

    def start_next() -> Episode | None:
        task = queue.popleft()
        episode = Episode(pool.take(task.scenario), task)
        try:
            episode.start()
        except Exception as err:  # noqa: BLE001
            episode.fail(err)
            finish(episode)
            return None
        return episode

    try:
        if slots:
            _run_streaming(agent, queue, limit, start_next, advance)
        else:
            active: list[Episode] = []
            while queue or active:
                while queue and len(active) < limit:
                    episode = start_next()
                    if episode is not None:
                        active.append(episode)
                if active:  # empty when every episode started in this round failed at reset
                    replies = _act(agent, active)
                    active = [e for e, r in zip(active, replies, strict=True) if advance(e, r)]
    finally:
        pool.close()


def _run_streaming(
    agent: Agent,
    queue: deque[Task],
    limit: int,
    start_next: Callable[[], Episode | None],
    advance: Callable[[Episode, str | BaseException], bool],
) -> None:
    """The ``submit`` mode of :func:`run_episodes`: one future per episode in flight. Finished futures
    arrive on a queue (``add_done_callback``), so handling a reply costs the same at 16 or 256 in flight."""
    waiting: dict[Future[str], Episode] = {}
    finished: SimpleQueue[Future[str]] = SimpleQueue()

    def submit(episode: Episode) -> None:
        try:
            future = agent.submit(episode.obs, episode.info)
        except Exception as err:  # noqa: BLE001 - e.g. an observation the agent cannot encode
            advance(episode, err)
            return
        waiting[future] = episode
        future.add_done_callback(finished.put)

    try:
        while queue or waiting:
            while queue and len(waiting) < limit:
                episode = start_next()
                if episode is not None:
                    submit(episode)
            if not waiting:
                continue
            future = finished.get()
            episode = waiting.pop(future)
            try:
                reply: str | BaseException = future.result()
            except Exception as err:  # noqa: BLE001 - a failed request ends its episode only
                reply = err
            if advance(episode, reply):
                submit(episode)
    finally:
        for future in waiting:
            future.cancel()


#: The engine's former name (kept: scripts and the trainer call it).
run_batched = run_episodes

"""How well the rollout engine keeps a served model busy: slot utilisation, the client's ceiling, projections.

    python benchmarks/bench_serving.py                    # everything (about 10 minutes on 2 cores)
    python benchmarks/bench_serving.py --only util --in-flight 16,64 --dists lognormal1
    python benchmarks/bench_serving.py --only ceiling     # the client's requests/s on one core
    python benchmarks/bench_serving.py --json results.json

A loopback OpenAI-compatible server runs in its own process (asyncio, pinned to the last CPU): every chat
request waits a latency drawn from a distribution (``constant``, ``lognormal0.5``, ``lognormal1``: mean
``--latency`` seconds, sigma 0.5 or 1), at most ``--capacity`` requests are served at once (the others
queue in the server, like a full vLLM batch), every ``--fail-every``-th request is answered with HTTP 500.
The reply is a letter A-F picked by a hash of the prompt, so episodes run one or more turns, the same
under every engine. The client is ``evaluate()`` with the ``openai:`` agent on the synthetic data (all
seven scenarios, train split), pinned to CPU 0:

- *new engine*: the harness as shipped (``Agent.submit``: each episode sends its next turn as soon as its
  own reply is there);
- *old engine*: the same agent driven through ``act()`` on batches of ``--concurrency`` episodes (what the
  harness did before: every episode of a batch waits for the slowest reply of the batch).

Slot utilisation = busy slot-seconds / (window x in-flight limit), measured by the server: *steady* over
the window from the first request to the last time the in-flight count reached the limit (while work
remains; after it fewer episodes than slots are left, the drain every engine has), and *whole run* from
the first request to the last answer (the drain included: it shrinks as requests per slot grow). The ceiling part runs with zero latency: requests/s of the
whole harness (synthetic scenes, PNG), and of the agent alone on 500x375 frames (the released images'
size: the synthetic scenes upscaled), PNG and JPEG. The projection is the wall time of the paper's 7,557
episodes at the measured turns per episode against a server with a given latency and capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = "bench-model"
PAPER_EPISODES = 7557
DISTS = {"constant": None, "lognormal0.5": 0.5, "lognormal1": 1.0}


# ---------------------------------------------------------------------------------------------- server


class Stats:
    """Server-side bookkeeping: the in-flight integral (busy slot-seconds) over time."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.failed = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.first: float | None = None
        self.last_arrival = 0.0
        self.last_done = 0.0
        self.serving = 0  # requests holding a server slot (= in flight without a capacity limit)
        self.busy = 0.0  # integral of serving dt: busy slot-seconds
        self.busy_at_last_arrival = 0.0
        self.slots = 0  # the client's in-flight limit (set by /configure)
        self.last_full = 0.0  # the last time the in-flight count reached it
        self.busy_at_last_full = 0.0
        self._t = 0.0

    def _advance(self, now: float) -> None:
        if self.first is None:
            self.first = now
        else:
            self.busy += self.serving * (now - self._t)
        self._t = now

    def arrive(self) -> None:
        now = time.perf_counter()
        self._advance(now)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.requests += 1
        self.last_arrival = now
        self.busy_at_last_arrival = self.busy
        if self.in_flight >= self.slots > 0:
            self.last_full = now
            self.busy_at_last_full = self.busy

    def serve(self, delta: int) -> None:
        self._advance(time.perf_counter())
        self.serving += delta

    def leave(self) -> None:
        now = time.perf_counter()
        self._advance(now)
        self.in_flight -= 1
        self.last_done = now

    def report(self) -> dict[str, Any]:
        first = self.first or 0.0
        return {
            "requests": self.requests,
            "failed": self.failed,
            "max_in_flight": self.max_in_flight,
            "window_work_s": self.last_arrival - first,
            "busy_work": self.busy_at_last_arrival,
            "window_full_s": self.last_full - first,
            "busy_full": self.busy_at_last_full,
            "window_all_s": self.last_done - first,
            "busy_all": self.busy,
        }


def serve(args: argparse.Namespace) -> None:
    """The server process: print the port, then serve until killed."""
    if args.pin is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.pin})
    config = {"dist": "constant", "latency": 0.0, "capacity": 0, "fail_every": 0, "seed": 0}
    stats = Stats()
    state: dict[str, Any] = {"rng": random.Random(0), "sem": None}

    def draw() -> float:
        sigma = DISTS[config["dist"]]
        mean = float(config["latency"])
        if mean <= 0:
            return 0.0
        if sigma is None:
            return mean
        return state["rng"].lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)

    def reply_for(body: bytes) -> bytes:
        letter = "ABCDEF"[zlib.crc32(body[-3000:]) % 6]
        payload = {
            "id": "x",
            "object": "chat.completion",
            "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"{letter}."}}],
        }
        return json.dumps(payload).encode()

    async def respond(writer: asyncio.StreamWriter, status: int, payload: bytes) -> None:
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}[status]
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        writer.write(head.encode() + payload)
        await writer.drain()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                if method == "GET" and path.endswith("/models"):
                    await respond(writer, 200, json.dumps({"data": [{"id": MODEL}]}).encode())
                elif method == "GET" and path.endswith("/stats"):
                    await respond(writer, 200, json.dumps(stats.report()).encode())
                elif method == "POST" and path.endswith("/configure"):
                    config.update(json.loads(body))
                    stats.reset()
                    stats.slots = int(config.get("slots", 0))
                    state["rng"] = random.Random(config["seed"])
                    cap = int(config["capacity"])
                    state["sem"] = asyncio.Semaphore(cap) if cap > 0 else None
                    await respond(writer, 200, b"{}")
                elif method == "POST" and path.endswith("/chat/completions"):
                    stats.arrive()
                    n = stats.requests
                    try:
                        if config["fail_every"] and n % int(config["fail_every"]) == 0:
                            stats.failed += 1
                            await respond(writer, 500, b'{"error": {"message": "scripted failure"}}')
                            continue
                        wait = draw()
                        sem = state["sem"] or contextlib.nullcontext()
                        async with sem:
                            stats.serve(+1)
                            if wait:
                                await asyncio.sleep(wait)
                            stats.serve(-1)
                        await respond(writer, 200, reply_for(body))
                    finally:
                        stats.leave()
                else:
                    await respond(writer, 404, b"{}")
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Server:
    """The server subprocess and its control calls."""

    def __init__(self, pin: int | None) -> None:
        cmd = [sys.executable, __file__, "--serve"] + (["--pin", str(pin)] if pin is not None else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{port}/v1"
        import httpx

        self.http = httpx.Client(timeout=30)

    def configure(self, **config: Any) -> None:
        self.http.post(f"{self.url}/configure", json=config).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return dict(self.http.get(f"{self.url}/stats").json())

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------- client


def batch_only(agent: Any) -> Any:
    """The old engine: the same agent, driven through act() on batches (no submit())."""
    from proactive_gym.agents.base import Agent

    class BatchOnly(Agent):
        in_flight = 0

        def __init__(self) -> None:
            self.name = agent.name

        def act(self, observations: list[dict[str, Any]], infos: list[dict[str, Any]]) -> list[str]:
            return list(agent.act(observations, infos))

        def describe(self) -> dict[str, Any]:
            return dict(agent.describe())

    return BatchOnly()


def run_eval(
    server: Server, engine: str, concurrency: int, episodes: int, **agent_options: Any
) -> dict[str, Any]:
    """One evaluate() run; returns the client's wall time, turns and episodes."""
    from proactive_gym.agents import make_agent
    from proactive_gym.evaluation import evaluate

    options = {"base_url": server.url, "concurrency": concurrency, "max_retries": 5, "backoff": 1.0}
    options.update(agent_options)
    agent = make_agent(f"openai:{MODEL}", **options)
    driven = agent if engine == "new" else batch_only(agent)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = evaluate(
            driven,
            envs="all",
            env_kwargs={"data": "synthetic", "split": "train"},
            out=tmp,
            batch_size=1 if engine == "new" else concurrency,
            max_episodes=episodes,
        )
        wall = time.perf_counter() - t0
    agent.close()
    run = summary.data["run"]
    return {
        "wall_s": round(wall, 2),
        "episodes": run["episodes_this_session"],
        "turns": run["turns_this_session"],
        "turns_per_s": round(run["turns_this_session"] / wall, 1),
        "errors": summary.errors,
    }


def utilisation(
    server: Server, engine: str, dist: str, in_flight: int, latency: float, capacity: int
) -> dict[str, Any]:
    episodes = min(400, max(20, 4 * in_flight))  # per scenario: about 40 requests per slot in all
    slots = min(in_flight, capacity) if capacity else in_flight
    server.configure(dist=dist, latency=latency, capacity=capacity, fail_every=0, seed=1, slots=in_flight)
    client = run_eval(server, engine, in_flight, episodes)
    s = server.stats()
    return {
        **client,
        "engine": engine,
        "dist": dist,
        "in_flight": in_flight,
        "requests": s["requests"],
        "max_in_flight": s["max_in_flight"],
        # None: the in-flight count never reached the limit
        "util_steady": round(s["busy_full"] / (s["window_full_s"] * slots), 3)
        if s["window_full_s"] > 0
        else None,
        "util_work": round(s["busy_work"] / (s["window_work_s"] * slots), 3),
        "util_all": round(s["busy_all"] / (s["window_all_s"] * slots), 3),
    }


def failures(server: Server, engine: str) -> dict[str, Any]:
    """Every 7th request fails once (HTTP 500) at 50 ms latency, concurrency 8 (the issue's measure)."""
    server.configure(dist="constant", latency=0.05, capacity=0, fail_every=7, seed=1)
    client = run_eval(server, engine, 8, 30)
    s = server.stats()
    return {**client, "engine": engine, "requests": s["requests"], "failed": s["failed"]}


def frames(n: int) -> list[dict[str, Any]]:
    """First-turn observations of the synthetic scenarios with their image upscaled to 500x375."""
    import gymnasium as gym
    import numpy as np
    from PIL import Image

    import proactive_gym
    from proactive_gym.scenarios import SCENARIOS

    gym.register_envs(proactive_gym)
    out = []
    envs = [gym.make(s.env_id, data="synthetic") for s in SCENARIOS.values()]
    for i in range(n):
        obs, _ = envs[i % len(envs)].reset(seed=i)
        big = Image.fromarray(obs["image"]).resize((500, 375), Image.Resampling.BICUBIC)
        out.append({**obs, "image": np.asarray(big)})
    for env in envs:
        env.close()
    return out


def agent_ceiling(server: Server, image_format: str, concurrency: int, seconds: float) -> float:
    """Requests/s of the agent alone (submit(), ``concurrency`` in flight) on 500x375 frames."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from proactive_gym.agents import make_agent

    pool = frames(28)
    server.configure(dist="constant", latency=0.0, capacity=0, fail_every=0, seed=1)
    agent = make_agent(
        f"openai:{MODEL}", base_url=server.url, concurrency=concurrency, image_format=image_format
    )
    pending = {agent.submit(pool[i % len(pool)], {}) for i in range(concurrency)}
    done_count, i = 0, concurrency
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            future.result()
            done_count += 1
            pending.add(agent.submit(pool[i % len(pool)], {}))
            i += 1
    rate = done_count / (time.perf_counter() - t0)
    wait(pending)
    agent.close()
    return round(rate, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pin", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["util", "failures", "ceiling"], default=None)
    parser.add_argument("--in-flight", default="16,64,256", help="comma list of in-flight limits")
    parser.add_argument("--dists", default="constant,lognormal0.5,lognormal1")
    parser.add_argument("--engines", default="new,old")
    parser.add_argument("--latency", type=float, default=0.5, help="mean latency per request, seconds")
    parser.add_argument("--capacity", type=int, default=0, help="server slots (0: as many as requests)")
    parser.add_argument("--ceiling-seconds", type=float, default=8.0)
    parser.add_argument("--project-latency", type=float, default=0.5, help="projection: seconds per request")
    parser.add_argument("--project-capacity", default="64,256", help="projection: server slots")
    parser.add_argument("--json", default=None)
    parser.add_argument("--report", default=None, help="print the tables of a --json file written before")
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    if args.report:
        report(json.loads(Path(args.report).read_text()), args)
        return

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    client_cpu = cpus[0] if cpus else None
    server_cpu = cpus[-1] if len(cpus) > 1 else None
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})  # the client on one core, the server on another
    results: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "latency_s": args.latency,
        "capacity": args.capacity,
    }
    server = Server(server_cpu)
    try:
        engines = args.engines.split(",")
        if args.only in (None, "util"):
            rows = []
            for dist in args.dists.split(","):
                for n in (int(x) for x in args.in_flight.split(",")):
                    for engine in engines:
                        row = utilisation(server, engine, dist, n, args.latency, args.capacity)
                        rows.append(row)
                        print(json.dumps(row), flush=True)
            results["utilisation"] = rows
        if args.only in (None, "failures"):
            results["failures"] = [failures(server, engine) for engine in engines]
            for row in results["failures"]:
                print(json.dumps(row), flush=True)
        if args.only in (None, "ceiling"):
            server.configure(dist="constant", latency=0.0, capacity=0, fail_every=0, seed=1)
            harness = run_eval(server, "new", 16, 100)
            results["ceiling"] = {
                "harness_synthetic_png_requests_per_s": harness["turns_per_s"],
                "agent_500x375_png_requests_per_s": agent_ceiling(server, "png", 16, args.ceiling_seconds),
                "agent_500x375_jpeg_requests_per_s": agent_ceiling(server, "jpeg", 16, args.ceiling_seconds),
            }
            print(json.dumps(results["ceiling"]), flush=True)
    finally:
        server.close()
    results["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    report(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the tables and the projection."""
    rows = results.get("utilisation", [])
    if rows:
        print(
            f"\nslot utilisation, mean latency {args.latency} s (steady: until the in-flight count last reached the limit / whole run):"
        )
        print(f"{'distribution':<14}{'in flight':>10}  {'new engine':>16}  {'old engine':>16}")
        keys = sorted(
            {(r["dist"], r["in_flight"]) for r in rows}, key=lambda k: (list(DISTS).index(k[0]), k[1])
        )
        for dist, n in keys:
            cell = {}
            for r in rows:
                if (r["dist"], r["in_flight"]) == (dist, n):
                    steady = "-" if r["util_steady"] is None else f"{r['util_steady']:.2f}"
                    cell[r["engine"]] = f"{steady} / {r['util_all']:.2f}"
            print(f"{dist:<14}{n:>10}  {cell.get('new', '-'):>16}  {cell.get('old', '-'):>16}")
    for row in results.get("failures", []):
        print(
            f"every 7th request failing once, 50 ms, concurrency 8, {row['engine']} engine: "
            f"{row['turns_per_s']} turns/s ({row['requests']} requests, {row['failed']} failed, {row['errors']} errors)"
        )
    ceiling = results.get("ceiling")
    if ceiling:
        print(f"client ceiling on one core, zero latency: {json.dumps(ceiling)}")
    new = [r for r in rows if r["engine"] == "new"]
    if new:
        results["projection"] = project(results, args)
        print(f"projection: {json.dumps(results['projection'])}")


def project(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Wall time of the paper's 7,557 episodes at the measured turns per episode, against a server that
    answers in ``--project-latency`` s and serves ``--project-capacity`` requests at once, with that many
    in flight: requests x latency / (slots x utilisation), the utilisation measured (lognormal sigma 1,
    whole run, drain included) at that in-flight limit, else at the largest measured one below it; never
    faster than the client's ceiling (the harness at zero latency)."""
    rows = results["utilisation"]
    new = [r for r in rows if r["engine"] == "new"]
    turns_per_episode = sum(r["turns"] for r in new) / sum(r["episodes"] for r in new)
    requests = PAPER_EPISODES * turns_per_episode
    ceiling = results.get("ceiling", {}).get("harness_synthetic_png_requests_per_s") or math.inf
    out: dict[str, Any] = {
        "episodes": PAPER_EPISODES,
        "turns_per_episode": round(turns_per_episode, 3),
        "latency_s": args.project_latency,
        "client_ceiling_requests_per_s": ceiling,
    }
    for engine in ("new", "old"):
        for cap in (int(c) for c in args.project_capacity.split(",")):
            measured = [
                r
                for r in rows
                if r["engine"] == engine and r["dist"] == "lognormal1" and r["in_flight"] <= cap
            ]
            if not measured:
                continue
            row = max(measured, key=lambda r: r["in_flight"])
            wall = max(requests * args.project_latency / (cap * row["util_all"]), requests / ceiling)
            out[f"{engine}_{cap}_slots_min"] = round(wall / 60, 1)
            out[f"{engine}_{cap}_slots_utilisation"] = {
                "in_flight": row["in_flight"],
                "util_all": row["util_all"],
            }
    return out


if __name__ == "__main__":
    main()

"""Throughput of the model agents: hf: batched vs unbatched, openai: concurrency 16 vs 1.

    python benchmarks/bench_agents.py              # both parts, prints a table (about a minute on 2 cores)
    python benchmarks/bench_agents.py --only hf --json results.json

hf part: the tiny offline Qwen3-VL (proactive_gym.models.build_tiny_qwen3_vl) on the CPU, greedy with 50 new
tokens, on real first-turn observations of the seven synthetic scenarios; replies per second with the
agent's batch_size 8 vs 1 over the same observations (after a warm-up; best of --repeats).
openai part: tests/fake_openai_server.py on 127.0.0.1 with 50 ms latency per request; requests per second
at concurrency 16 vs 1 (each request carries one 224x224 PNG image, as in the benchmark).
Targets (issue 5): batched >= 3x unbatched; concurrency 16 >= 10x concurrency 1.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def observations(n: int) -> list[dict[str, Any]]:
    """First-turn observations cycling over the seven scenarios (synthetic data)."""
    import gymnasium as gym

    import proactive_gym
    from proactive_gym.scenarios import SCENARIOS

    gym.register_envs(proactive_gym)
    envs = [gym.make(s.env_id) for s in SCENARIOS.values()]
    obs = []
    for i in range(n):
        env = envs[i % len(envs)]
        o, _ = env.reset(seed=i)
        obs.append(o)
    for env in envs:
        env.close()
    return obs


def bench_hf(n: int, repeats: int) -> dict[str, Any]:
    """Replies/s of the tiny model at batch 8 and batch 1."""
    import torch

    from proactive_gym.agents import make_agent
    from proactive_gym.models import build_tiny_qwen3_vl

    obs = observations(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_qwen3_vl(Path(tmp) / "tiny", seed=0)
        agent = make_agent(f"hf:{path}", batch_size=8, max_new_tokens=50)
        agent.act(obs[:8], [{}] * 8)  # warm-up
        result: dict[str, Any] = {
            "episodes": n,
            "max_new_tokens": 50,
            "torch_threads": torch.get_num_threads(),
        }
        replies = {}
        for batch in (8, 1):
            agent.batch_size = batch
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                replies[batch] = agent.act(obs, [{}] * n)
                best = min(best, time.perf_counter() - t0)
            result[f"batch{batch}_replies_per_s"] = round(n / best, 1)
        agent.close()
    result["speedup"] = round(result["batch8_replies_per_s"] / result["batch1_replies_per_s"], 2)
    result["same_replies"] = replies[8] == replies[1]
    return result


def bench_openai(latency: float, requests_by_concurrency: dict[int, int]) -> dict[str, Any]:
    """Requests/s against the loopback stub at each concurrency."""
    from fake_openai_server import FakeOpenAIServer

    from proactive_gym.agents import make_agent

    obs_pool = observations(16)
    result: dict[str, Any] = {"latency_s": latency}
    with FakeOpenAIServer(latency=latency) as server:
        for concurrency, n in requests_by_concurrency.items():
            obs = [obs_pool[i % len(obs_pool)] for i in range(n)]
            with make_agent("openai:stub", base_url=server.url, concurrency=concurrency) as agent:
                agent.act(obs[:concurrency], [{}] * concurrency)  # warm-up: open the connections
                t0 = time.perf_counter()
                agent.act(obs, [{}] * n)
                elapsed = time.perf_counter() - t0
            result[f"c{concurrency}_requests_per_s"] = round(n / elapsed, 1)
            result[f"c{concurrency}_max_in_flight"] = server.max_in_flight
    low, high = min(requests_by_concurrency), max(requests_by_concurrency)
    result["speedup"] = round(result[f"c{high}_requests_per_s"] / result[f"c{low}_requests_per_s"], 2)
    return result


def main() -> None:
    """Run the benchmarks and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["hf", "openai"], default=None)
    parser.add_argument("--episodes", type=int, default=32, help="observations for the hf part")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
    }
    if args.only in (None, "hf"):
        results["hf"] = bench_hf(args.episodes, args.repeats)
    if args.only in (None, "openai"):
        results["openai"] = bench_openai(0.05, {1: 40, 16: 480})
    results["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results, indent=2))
    if "hf" in results:
        r = results["hf"]
        print(
            f"hf tiny Qwen3-VL, {r['episodes']} replies x 50 tokens: batch 8 {r['batch8_replies_per_s']}/s, "
            f"batch 1 {r['batch1_replies_per_s']}/s -> {r['speedup']}x (same replies: {r['same_replies']})"
        )
    if "openai" in results:
        r = results["openai"]
        print(
            f"openai stub, 50 ms latency: concurrency 16 {r['c16_requests_per_s']} req/s, concurrency 1 "
            f"{r['c1_requests_per_s']} req/s -> {r['speedup']}x"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

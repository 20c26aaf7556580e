"""Throughput of the model agents: hf: batched vs unbatched, openai: concurrency 16 vs 1.

    python benchmarks/bench_agents.py              # both parts, prints a table (about a minute on 2 cores)
    python benchmarks/bench_agents.py --only hf --json results.json
    python benchmarks/bench_agents.py --only hf --device cuda --obs random --model /tmp/tiny --batch-sizes 1,8,32

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


def random_observations(n: int) -> list[dict[str, Any]]:
    """Observations with random 224x224 images and benchmark-style prompts (no env, no data needed)."""
    import numpy as np

    from proactive_gym.protocol import render_prompt

    rng = np.random.default_rng(0)
    options = [
        "I cannot tell.",
        "Move the block to the left.",
        "Move the block to the right.",
        "Vase.",
        "Mug.",
    ]
    return [
        {
            "image": rng.integers(0, 256, (224, 224, 3), dtype=np.uint8),
            "dialogue": render_prompt("What is the object behind the blocks?", options + ["Apple.", "Pear."]),
        }
        for _ in range(n)
    ]


def bench_hf(
    n: int,
    repeats: int,
    batch_sizes: list[int],
    device: str | None = None,
    dtype: str | None = None,
    model: str | None = None,
    obs_kind: str = "env",
) -> dict[str, Any]:
    """Replies/s of the tiny model (or ``model``) at each batch size, over the same observations."""
    import torch

    from proactive_gym.agents import make_agent
    from proactive_gym.models import build_tiny_qwen3_vl

    obs = observations(n) if obs_kind == "env" else random_observations(n)
    top = max(batch_sizes)
    with tempfile.TemporaryDirectory() as tmp:
        path = model or build_tiny_qwen3_vl(Path(tmp) / "tiny", seed=0)
        agent = make_agent(f"hf:{path}", batch_size=top, max_new_tokens=50, device=device, dtype=dtype)
        agent.act(obs[:top], [{}] * len(obs[:top]))  # warm-up
        result: dict[str, Any] = {
            "episodes": n,
            "max_new_tokens": 50,
            "device": agent.device,
            "dtype": agent.dtype,
            "torch_threads": torch.get_num_threads(),
        }
        on_gpu = agent.device.startswith("cuda")
        if on_gpu:
            result["gpu"] = torch.cuda.get_device_name()
        replies = {}
        for batch in batch_sizes:
            agent.batch_size = batch
            best = best_cpu = float("inf")
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                replies[batch] = agent.act(obs, [{}] * n)
                if on_gpu:
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
                best_cpu = min(best_cpu, time.process_time() - c0)
            result[f"batch{batch}_replies_per_s"] = round(n / best, 1)
            # CPU seconds of this process: much less disturbed by other jobs on a shared machine.
            result[f"batch{batch}_replies_per_cpu_s"] = round(n / best_cpu, 1)
        agent.close()
    low, high = min(batch_sizes), max(batch_sizes)
    result["speedup"] = round(result[f"batch{high}_replies_per_s"] / result[f"batch{low}_replies_per_s"], 2)
    result["speedup_cpu_time"] = round(
        result[f"batch{high}_replies_per_cpu_s"] / result[f"batch{low}_replies_per_cpu_s"], 2
    )
    result["same_replies"] = all(replies[b] == replies[low] for b in batch_sizes)
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
    parser.add_argument("--batch-sizes", default="8,1", help="hf: comma list of agent batch sizes")
    parser.add_argument("--device", default=None, help="hf: device (default: cuda if available, else cpu)")
    parser.add_argument("--dtype", default=None, help="hf: dtype (default: the agent's)")
    parser.add_argument("--model", default=None, help="hf: model directory (default: build the tiny model)")
    parser.add_argument("--obs", choices=["env", "random"], default="env", help="hf: observations to use")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="hf: torch CPU threads (0: torch's default; 1 is steadier on a busy machine)",
    )
    args = parser.parse_args()

    results: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
    }
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.only in (None, "hf"):
        sizes = [int(b) for b in args.batch_sizes.split(",")]
        results["hf"] = bench_hf(
            args.episodes, args.repeats, sizes, args.device, args.dtype, args.model, args.obs
        )
    if args.only in (None, "openai"):
        results["openai"] = bench_openai(0.05, {1: 40, 16: 480})
    results["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results, indent=2))
    if "hf" in results:
        r = results["hf"]
        rates = ", ".join(f"{k[5:-14]}: {v}/s" for k, v in r.items() if k.endswith("_replies_per_s"))
        print(
            f"hf {r['device']} {r['dtype']}, {r['episodes']} replies x 50 tokens, by batch size: {rates} -> "
            f"{r['speedup']}x wall, {r['speedup_cpu_time']}x CPU time (same replies: {r['same_replies']})"
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

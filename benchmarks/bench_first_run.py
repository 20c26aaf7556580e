"""Time the README's main command on a fresh cache, then again: what a new user waits.

    python benchmarks/bench_first_run.py

Runs ``proactive-gym eval --agent perception --envs all`` twice with ``PROACTIVE_GYM_CACHE`` pointed at
an empty temporary folder: the first run generates the synthetic test and train splits and trains the
perception baseline (both cached), the second only loads them and evaluates. Prints the wall time of
each, the machine and the date; the README's quick-start note quotes them.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(cache: Path, out: Path) -> float:
    cmd = [
        sys.executable,
        "-m",
        "proactive_gym",
        "eval",
        "--agent",
        "perception",
        "--envs",
        "all",
        "--out",
        str(out),
    ]
    env = {**os.environ, "PROACTIVE_GYM_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("PROACTIVE_GYM_DATA", None)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="pg-first-run-"))
    try:
        first = run_once(tmp / "cache", tmp / "run1")
        repeat = run_once(tmp / "cache", tmp / "run2")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"first run (fresh cache): {first:.1f} s")
    print(f"repeat run (cached data and baseline): {repeat:.1f} s")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}, {date.today()}"
    )


if __name__ == "__main__":
    main()

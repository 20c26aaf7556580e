"""Wall time and peak memory per process of the same training command on 1 process and on N (``torchrun``).

Runs ``training/grpo.py`` with the tiny model on synthetic QuickDraw + COCO (a short format warm-up on
rank 0, so that the completions parse and the rewards are not all 0, then 20 GRPO steps, with the
evaluation before and after on one held-out scenario), once as ``python training/grpo.py`` and once as
``torchrun --nproc_per_node N training/grpo.py``, at the same global batch, on the CPU (gloo). The peak
resident memory of every training process is sampled with psutil every 0.1 s (torchrun's own launcher
process is not counted). Prints one line per run and the figures' agreement.

    python benchmarks/bench_training_processes.py            # a few minutes on a 2-core CPU
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [
    *("--model", "tiny", "--tiny-image-size", "128", "--max-train-samples", "16", "--max-steps", "20"),
    *("--num-generations", "8", "--per-device-train-batch-size", "8", "--global-batch", "16"),
    *("--max-completion-length", "16", "--eval-envs", "MVP-N", "--eval-max-episodes", "20"),
    *("--eval-max-new-tokens", "16", "--report-to", "none", "--torch-threads", "1", "--save-steps", "1000"),
    *("--sft-steps", "150", "--sft-reply-format", "suggest-letter", "--learning-rate", "2e-3"),
]


def run(processes: int, out: Path) -> dict[str, float]:
    """Run the command on ``processes`` processes; wall time and the peak RSS of each training process."""
    script = str(ROOT / "training" / "grpo.py")
    launcher = [sys.executable] if processes == 1 else [sys.executable, "-m", "torch.distributed.run"]
    if processes > 1:
        launcher += ["--standalone", "--nproc_per_node", str(processes)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*launcher, script, *COMMAND, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=open(out.parent / f"{out.name}.log", "w"),
    )
    root, peaks = psutil.Process(proc.pid), {}
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            workers = [
                p
                for p in tree
                if "grpo.py" in " ".join(p.cmdline()) and "torch.distributed.run" not in " ".join(p.cmdline())
            ]
            for p in workers:
                peaks[p.pid] = max(peaks.get(p.pid, 0), p.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    if proc.returncode:
        raise SystemExit(f"the {processes}-process run failed (exit {proc.returncode}); see {out}.log")
    wall = time.perf_counter() - start
    return {"wall_s": wall, "peak_rss_mib": sorted((v / 2**20 for v in peaks.values()), reverse=True)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=2, help="processes of the torchrun run")
    flags = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for n in (1, flags.processes):
            results[n] = run(n, Path(tmp) / f"p{n}")
            summary = json.loads((Path(tmp) / f"p{n}" / "summary.json").read_text())
            results[n]["figures"] = {k: summary[k] for k in ("reward", "before", "after")}
            results[n]["grpo_s"] = summary["timings_s"]["grpo_s"]
    print(f"training/grpo.py {' '.join(COMMAND)}")
    for n, r in results.items():
        rss = ", ".join(f"{m:.0f}" for m in r["peak_rss_mib"])
        reward = r["figures"]["reward"]
        print(
            f"  {n} process(es): {r['wall_s']:.1f} s wall ({r['grpo_s']:.1f} s of GRPO), peak RSS per process "
            f"{rss} MiB; reward first -> last tenth {reward['first_tenth']:.3f} -> {reward['last_tenth']:.3f}"
        )
    same = results[1]["figures"] == results[flags.processes]["figures"]
    print(f"  identical reward curve and before/after figures: {same} (sampling and dropout draw per rank)")
    print(f"  machine: {os.cpu_count()}-core {platform.machine()} CPU, {datetime.date.today()}")


if __name__ == "__main__":
    main()

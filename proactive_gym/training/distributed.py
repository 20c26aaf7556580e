"""Runs on 1..N processes (``torchrun``, ``accelerate launch`` with any of ``training/configs/``, DeepSpeed
through accelerate): who builds what, and where the other ranks wait.

Every rank trains. Rank 0 alone builds the shared artefacts (the tiny model, the synthetic data cache, the
supervised warm-up models), runs the before/after evaluation (on rank 0 only, not sharded: the harness
then writes one run directory and its figures do not depend on the world size) and writes the adapter's
``before_after.*``, ``run_config.json`` and ``summary.json``; the other ranks wait at a barrier meanwhile.

The rank and world size are read from the launcher's environment (``RANK``, ``WORLD_SIZE``: torchrun,
accelerate and the DeepSpeed launcher all set them) without importing torch, so that the input checks run
and report before anything heavy loads; the process group itself is started by :func:`start` (through
accelerate, which TRL uses too) only after the checks passed.
"""

from __future__ import annotations

import os
from typing import Any


def rank() -> int:
    """This process's global rank (0 without a launcher)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """The number of training processes (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    """Whether this process is rank 0, the one that builds, evaluates and writes."""
    return rank() == 0


def start(timeout_s: int) -> None:
    """Start the process group (a no-op on one process). ``timeout_s``: how long a rank may wait at a
    barrier, i.e. the longest rank-0-only stage (warm-up plus the evaluation before training)."""
    if world_size() == 1:
        return
    from datetime import timedelta

    import torch
    from accelerate import PartialState

    PartialState(cpu=not torch.cuda.is_available(), timeout=timedelta(seconds=timeout_s))


def barrier() -> None:
    """Wait until every rank reaches this point (a no-op on one process)."""
    if world_size() == 1:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def exit_together(timeout_s: int = 120) -> None:
    """Several processes, bad input: wait for every rank before exiting. Each rank refuses the same input
    on its own, but a launcher stops the other ranks as soon as one exits, which could cut rank 0 off before
    it has said why; so the ranks meet once (a CPU-only gloo group) and exit together."""
    if world_size() == 1:
        return
    from datetime import timedelta

    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timedelta(seconds=timeout_s))
    dist.barrier()
    dist.destroy_process_group()


def describe() -> dict[str, Any]:
    """What ``summary.json`` records about the processes of the run."""
    return {"world_size": world_size(), "evaluation": "rank 0 only"}

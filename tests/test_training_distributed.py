"""training/grpo.py on two processes (``torchrun``, gloo on the CPU) against one process, same global batch.

Both runs go through ``tests/scripted_grpo_run.py``: the real run (the tiny model built by rank 0, rows,
env rewards, LoRA, the evaluation before and after) with scripted rollout text, and LoRA dropout 0, so
that nothing depends on how the random draws are split between processes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from training_helpers import REPO

pytest.importorskip("trl")

FIGURES = ("train_rows", "reward", "train_metrics_by_tenth", "before", "after", "episodes_changed")


def _flags(fixture_root, out):
    return [
        *(
            "--model",
            "tiny",
            "--tiny-image-size",
            "64",
            "--data",
            "released",
            "--data-root",
            str(fixture_root),
        ),
        *(
            "--train-split",
            "test",
            "--eval-split",
            "test",
            "--train-envs",
            "QuickDraw",
            "--eval-envs",
            "MVP-N",
        ),
        *("--eval-max-episodes", "2", "--eval-max-new-tokens", "4", "--eval-batch-size", "4"),
        *("--max-steps", "2", "--num-generations", "4", "--per-device-train-batch-size", "4"),
        *("--global-batch", "8", "--max-completion-length", "8", "--lora-dropout", "0"),
        *("--report-to", "none", "--torch-threads", "1", "--save-steps", "1000", "--out", str(out)),
    ]


def _torchrun(processes: int) -> list[str]:
    """``torchrun`` on this machine with a free port (``--standalone``: other jobs may use the default one)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]


@pytest.mark.slow
def test_two_processes_give_the_figures_of_one_and_one_summary(fixture_root, tmp_path):
    from safetensors.torch import load_file

    script = str(REPO / "tests" / "scripted_grpo_run.py")
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, script, *_flags(fixture_root, one)], check=True, capture_output=True)
    done = subprocess.run(
        [*_torchrun(2), script, *_flags(fixture_root, two)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[rank 1] done" in done.stderr and "[rank 0] done" in done.stderr
    assert sorted(p.relative_to(two).as_posix() for p in two.rglob("summary.json")) == [
        "eval-after/summary.json",
        "eval-before/summary.json",
        "summary.json",
    ]
    a, b = (json.loads((run / "summary.json").read_text()) for run in (one, two))
    assert (a["processes"], b["processes"]) == (
        {"world_size": 1, "evaluation": "rank 0 only"},
        {"world_size": 2, "evaluation": "rank 0 only"},
    )
    entropy = [m["train_metrics_by_tenth"].pop("entropy") for m in (a, b)]  # a float mean: rounding aside
    assert entropy[0] == pytest.approx(entropy[1], abs=2e-4)
    assert {k: a[k] for k in FIGURES} == {k: b[k] for k in FIGURES}  # rewards, outcomes, evaluations
    assert sorted(a["before"]) == ["MVP-N", "QuickDraw"] and len(a["reward"]["curve"]) == 2
    assert a["train_metrics_by_tenth"]["outcome/correct"] == [0.25, 0.25]  # one completion in four: "D. Cat."
    wa, wb = (load_file(str(run / "adapter" / "adapter_model.safetensors")) for run in (one, two))
    assert sorted(wa) == sorted(wb)
    moved = max(float(wa[k].abs().max()) for k in wa if "lora_B" in k)
    assert moved > 1e-5  # LoRA B starts at zero: the two steps trained it ...
    assert max(float((wa[k] - wb[k]).abs().max()) for k in wa) < 1e-3 * moved  # ... alike on 1 and 2 ranks


@pytest.mark.slow
def test_bad_input_is_reported_once_under_torchrun(tmp_path):
    script = str(REPO / "training" / "grpo.py")
    done = subprocess.run(
        [*_torchrun(2), script, "--model", "tiny", "--train-envs", "Pong", "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert done.stderr.count("error: --train-envs: unknown scenario 'Pong'") == 1
    assert "exitcode  : 2" in done.stderr
    assert not (tmp_path / "run").exists()

"""Helpers shared by the training tests: scripting GRPO rollouts, checking what a LoRA update changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def fixture_args(fixture_root: Path | str, **overrides: Any) -> Any:
    """Training ``Args`` on the released-format test fixture (its test split trains and evaluates), no
    loggers, seed 0, with ``overrides``."""
    from proactive_gym.training.args import Args

    base = dict(
        data="released",
        data_root=str(fixture_root),
        train_split="test",
        eval_split="test",
        report_to="none",
        seed=0,
    )
    return Args(**{**base, **overrides})


def script_sampler(trainer: Any, policy: Callable[[int, list[int]], str]) -> None:
    """Replace the GRPO trainer's sampler: ``policy(index, prompt_ids) -> text`` gives each completion.

    A random tiny model only emits junk, so every reward would be 0 and no gradient would flow; everything
    after sampling (env rewards, the loss, the LoRA update) stays TRL's and the env's real code."""
    tokenizer = trainer.processing_class.tokenizer

    def generate(prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        return [
            tokenizer.encode(policy(i, ids), add_special_tokens=False) for i, ids in enumerate(prompt_ids)
        ], None

    trainer._generate_single_turn = generate


def lora_snapshot(trainer: Any) -> dict[str, Any]:
    """A copy of every parameter of the trainer's model, by name."""
    import torch

    return {n: p.detach().clone() for n, p in trainer.model.named_parameters() if isinstance(p, torch.Tensor)}


def assert_only_lora_changed(before: dict[str, Any], trainer: Any) -> None:
    """Every LoRA matrix moved, nothing else did, and LoRA sits on the language model's q_proj / k_proj only
    (never in the vision tower)."""
    after = dict(trainer.model.named_parameters())
    lora = [n for n in before if "lora_" in n]
    assert lora and all(("q_proj" in n or "k_proj" in n) and ".language_model." in n for n in lora)
    assert all(not after[n].requires_grad for n in before if "lora_" not in n)
    changed = {n for n in lora if not np.array_equal(before[n].numpy(), after[n].detach().numpy())}
    assert changed == set(lora)  # every LoRA matrix (A and B, q_proj and k_proj, every layer) moved
    assert all(
        np.array_equal(before[n].numpy(), after[n].detach().numpy()) for n in before if "lora_" not in n
    )

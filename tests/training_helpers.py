"""Helpers shared by the training tests: scripting GRPO rollouts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


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

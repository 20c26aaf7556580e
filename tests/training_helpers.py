"""Helpers shared by the tests of training/: loading its scripts as modules, and scripting GRPO rollouts."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def load_training_module(file: str, name: str) -> ModuleType:
    """``training/<file>`` imported as module ``name`` (once: later calls return the same module)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "training" / file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


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

"""Model helpers: the tiny offline Qwen3-VL and a processor loader that knows it.

Everything here imports transformers lazily, so ``import proactive_gym.models`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proactive_gym.models.tiny import PROCESSOR_CLASS_NAME, build_tiny_qwen3_vl, is_image_only_processor_dir

__all__ = ["PROCESSOR_CLASS_NAME", "build_tiny_qwen3_vl", "load_processor"]


def load_processor(model: str | Path, **kwargs: Any) -> Any:
    """Load the processor of ``model`` (hub id or local directory).

    A directory saved by the tiny model (``processor_class`` = ``ImageOnlyQwen3VLProcessor`` in its
    ``processor_config.json``) is loaded with that class, which ``AutoProcessor`` does not know; anything
    else goes through ``transformers.AutoProcessor.from_pretrained(model, **kwargs)``; where that class needs
    torchvision for its video part and torchvision is missing, the same class is loaded for images only
    (:func:`proactive_gym.models.processors.image_only_processor`, which logs one line saying so).
    """
    if is_image_only_processor_dir(model):
        from proactive_gym.models.tiny import image_only_processor_class

        return image_only_processor_class().from_pretrained(str(model), **kwargs)
    from transformers import AutoProcessor

    from proactive_gym.models.processors import image_only_processor, needs_torchvision

    try:
        return AutoProcessor.from_pretrained(str(model), **kwargs)
    except ImportError as err:
        if not needs_torchvision(err):
            raise
        return image_only_processor(model, **kwargs)

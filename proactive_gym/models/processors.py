"""Processors of checkpoints whose stock processor needs torchvision (Qwen2-VL, Qwen2.5-VL, Qwen3-VL).

Those processors hold a video processor, and transformers' video processors need torchvision, which the
project does not install (the prompts carry images only). :func:`image_only_processor` loads the same
processor class without its video part: the tokenizer, the image processor (PIL backend), the chat template
and every other setting come from the checkpoint directory as usual. Where the image processor itself needs
torchvision, there is no such way round, and :data:`TORCHVISION_FIX` says what to install.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TORCHVISION_FIX = "pip install torchvision (the build that matches your torch, see pytorch.org)"


def needs_torchvision(err: BaseException) -> bool:
    """Whether ``err`` is transformers saying that torchvision is missing."""
    return isinstance(err, ImportError) and "torchvision" in str(err).lower()


def image_only_processor(model: str | Path, **kwargs: Any) -> Any:
    """The stock processor class of ``model`` without its video processor, loaded from ``model``.

    Raises ``ImportError`` (naming :data:`TORCHVISION_FIX`) when that class has no video part to drop or
    loading still needs torchvision.
    """
    import transformers
    from transformers import AutoConfig
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    model_type = AutoConfig.from_pretrained(str(model)).model_type
    name = PROCESSOR_MAPPING_NAMES.get(model_type)
    stock = getattr(transformers, name, None) if name else None
    if stock is None or "video_processor" not in inspect.signature(stock.__init__).parameters:
        raise ImportError(f"the processor of {model} needs torchvision: {TORCHVISION_FIX}")

    def __init__(
        self: Any, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None, **kw: Any
    ):
        stock.__init__(
            self, image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template, **kw
        )

    image_only: Any = type(f"ImageOnly{stock.__name__}", (stock,), {"__init__": __init__})
    try:
        processor = image_only.from_pretrained(str(model), **kwargs)
    except ImportError as err:
        raise ImportError(f"the processor of {model} needs torchvision ({err}): {TORCHVISION_FIX}") from None
    logger.info(
        "torchvision is not installed: loaded %s of %s for images only (no video processor)",
        stock.__name__,
        model,
    )
    return processor

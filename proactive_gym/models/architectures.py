"""Tiny random-weight versions of the paper's other architectures, saved as their hub checkpoints are.

The paper trains Qwen2.5-VL-3B and LLaVA-NeXT (Mistral-7B); :mod:`proactive_gym.models.tiny` builds the
tiny Qwen3-VL. The builders here give the same kind of offline stand-in for the other two, so that tests
exercise the exact loading path of a downloaded checkpoint (``config.json`` + ``model.safetensors`` +
tokenizer files + ``preprocessor_config.json`` naming the stock processor class, chat template) without a
download. Like the tiny Qwen3-VL they reuse its BPE tokenizer and their replies are noise.

- :func:`build_tiny_qwen2_5_vl`: a ``Qwen2_5_VLForConditionalGeneration`` whose processor is the stock
  ``Qwen2_5_VLProcessor``, as on the hub; that class needs a video processor and so torchvision, which
  :func:`proactive_gym.models.load_processor` replaces by an image-only processor when it is missing.
- :func:`build_tiny_llava_next`: a ``LlavaNextForConditionalGeneration`` (a Mistral language model and a
  CLIP vision tower) with the stock ``LlavaNextProcessor``.

Everything imports transformers lazily.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

#: Init range of the random weights (as in :mod:`proactive_gym.models.tiny`: greedy replies then depend
#: on the prompt and the image).
_INIT_RANGE = 0.1


def trl_chat_template(name: str) -> str:
    """The text of TRL's chat template ``name`` (``qwen2_5_vl``, ``llava_next``, ...), read without importing TRL."""
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the tiny models use TRL's chat templates: pip install 'proactive_gym[train]'")
    return (Path(next(iter(spec.submodule_search_locations))) / "chat_templates" / f"{name}.jinja").read_text(
        encoding="utf-8"
    )


def _config(config_class: Any, **kwargs: Any) -> Any:
    """``config_class(**kwargs)`` (the config classes take the token ids as free keyword arguments)."""
    return config_class(**kwargs)


def _seeded(model_class: Any, config: Any, seed: int) -> Any:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
    return model.eval()


def build_tiny_qwen2_5_vl(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random-weight Qwen2.5-VL in ``out_dir``, laid out as ``Qwen/Qwen2.5-VL-3B-Instruct`` is:
    the weights, the tokenizer, ``preprocessor_config.json`` (``processor_class`` ``Qwen2_5_VLProcessor``)
    and the chat template (TRL's ``qwen2_5_vl``, which does not render tool calls). Deterministic."""
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from proactive_gym.models.tiny import _build_tokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    template = trl_chat_template("qwen2_5_vl")
    tokenizer = _build_tokenizer(template)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>", "<|endoftext|>")}
    ids.update({t: tokenizer.convert_tokens_to_ids(t) for t in ("<|vision_start|>", "<|vision_end|>")})
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = _config(
        Qwen2_5_VLConfig,
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 2, 2]},
            "pad_token_id": ids["<|endoftext|>"],
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": eos,
            "tie_word_embeddings": True,
            "initializer_range": _INIT_RANGE,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 4,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
            "out_hidden_size": 64,
            "initializer_range": _INIT_RANGE,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
        pad_token_id=ids["<|endoftext|>"],
        eos_token_id=eos,
    )
    model = _seeded(Qwen2_5_VLForConditionalGeneration, config, seed)
    model.generation_config = GenerationConfig(
        eos_token_id=[eos, ids["<|endoftext|>"]], pad_token_id=ids["<|endoftext|>"], do_sample=False
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=14, temporal_patch_size=2, merge_size=2, min_pixels=28 * 28 * 4, max_pixels=112 * 112
    )
    image_processor.save_pretrained(out)
    # The hub's preprocessor_config.json names the stock processor (which wants a video processor too).
    _set_json(out / "preprocessor_config.json", processor_class="Qwen2_5_VLProcessor")
    (out / "chat_template.jinja").write_text(template, encoding="utf-8")
    return out


def build_tiny_llava_next(out_dir: str | Path, seed: int = 0) -> Path:
    """A tiny random-weight LLaVA-NeXT (Mistral language model, CLIP vision tower) in ``out_dir``, saved
    with the stock ``LlavaNextProcessor`` as ``llava-hf/llava-v1.6-mistral-7b-hf`` is. Deterministic."""
    from transformers import (
        GenerationConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextProcessor,
    )
    from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil

    from proactive_gym.models.tiny import _build_tokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    template = trl_chat_template("llava_next")
    tokenizer = _build_tokenizer(template)
    tokenizer.add_special_tokens({"eos_token": "</s>", "additional_special_tokens": ["<image>"]})
    image, eos, pad = (tokenizer.convert_tokens_to_ids(t) for t in ("<image>", "</s>", "<|endoftext|>"))
    side, patch = 56, 14
    pinpoints = [[side, side], [side, 2 * side], [2 * side, side]]
    config = _config(
        LlavaNextConfig,
        text_config={
            "model_type": "mistral",
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "max_position_embeddings": 4096,
            "pad_token_id": pad,
            "eos_token_id": eos,
            "initializer_range": _INIT_RANGE,
        },
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": side,
            "patch_size": patch,
            "projection_dim": 32,
            "initializer_range": _INIT_RANGE,
        },
        image_token_index=image,
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        pad_token_id=pad,
        eos_token_id=eos,
        initializer_range=_INIT_RANGE,
    )
    model = _seeded(LlavaNextForConditionalGeneration, config, seed)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad, do_sample=False)
    model.save_pretrained(out)
    image_processor = LlavaNextImageProcessorPil(
        size={"shortest_edge": side},
        crop_size={"height": side, "width": side},
        image_grid_pinpoints=pinpoints,
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch,
        vision_feature_select_strategy="default",
        chat_template=template,
        image_token="<image>",
        num_additional_image_tokens=1,  # CLIP's class token
    )
    processor.save_pretrained(out)
    return out


def _set_json(path: Path, **items: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(items)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

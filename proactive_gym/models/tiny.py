"""A tiny Qwen3-VL built offline: random weights, a freshly trained tokenizer, the real chat template.

It exists so that tests, demos and CPU training runs exercise the exact code path a real model takes
(``hf:<dir>`` -> processor + ``AutoModelForImageTextToText`` -> chat template -> generate) without any
download. Its replies are noise: it has never been trained.

Usage::

    from proactive_gym.models import build_tiny_qwen3_vl, load_processor
    path = build_tiny_qwen3_vl("/tmp/tiny-qwen3-vl", seed=0)     # a few seconds on a CPU
    # evaluate it like any model:  proactive-gym eval --agent hf:/tmp/tiny-qwen3-vl --envs ROD

What is saved in ``out_dir``: ``config.json`` + ``model.safetensors`` + ``generation_config.json`` (a
``Qwen3VLForConditionalGeneration`` of about 0.5 M parameters), ``tokenizer.json`` and its config (a
byte-level BPE trained on text that covers the benchmark prompts, with the Qwen special tokens, left
padding), ``processor_config.json`` (the PIL Qwen2-VL image processor) and ``chat_template.jinja``
(TRL's ``qwen3_vl`` template, byte for byte, so TRL recognises it and tool calls work).

How it loads: the stock ``Qwen3VLProcessor`` needs a video processor, which needs torchvision. The tiny
model therefore uses :class:`ImageOnlyQwen3VLProcessor` (same behaviour, no video part), whose name is
written as ``processor_class`` in ``processor_config.json``.
:func:`proactive_gym.models.load_processor` reads that marker and uses the subclass (no remote code), and
falls back to ``AutoProcessor`` for every other model; the ``hf:`` agent and the trainer load processors
through it. For standard loaders the directory also ships the class as a processor module
(``processing_image_only_qwen3_vl.py``) with an ``auto_map`` entry in ``processor_config.json``, so
``AutoProcessor.from_pretrained(out_dir, trust_remote_code=True)`` and ``transformers serve out_dir
--trust-remote-code`` get the image processor offline (without it they fall back to the bare tokenizer and
drop every image).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Name written as ``processor_class`` in ``processor_config.json``; the marker the loader looks for.
PROCESSOR_CLASS_NAME = "ImageOnlyQwen3VLProcessor"

#: The processor module written into the model directory for ``AutoProcessor`` (``auto_map``).
PROCESSOR_MODULE = "processing_image_only_qwen3_vl"

# Its source: the same class as :func:`image_only_processor_class`, self-contained (it needs only
# transformers, so any process that trusts the directory's code can load it).
_PROCESSOR_MODULE_SOURCE = f'''"""The tiny model's processor: Qwen3-VL's processor without the video part (no torchvision needed).

Written by proactive_gym.models.build_tiny_qwen3_vl; loaded by AutoProcessor with trust_remote_code=True.
"""

from transformers import Qwen3VLProcessor


class {PROCESSOR_CLASS_NAME}(Qwen3VLProcessor):
    """Qwen3-VL processor for images only."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template, **kwargs)
'''

#: Special tokens of the Qwen chat format, in the order they get ids (right after the BPE vocabulary).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)

#: Size of the trained BPE vocabulary (special tokens and the 256 byte symbols included).
VOCAB_SIZE = 1024

# Text the tokenizer is trained on. It covers the words the benchmark prompts use (questions, proactive
# options, hints, the final instruction, category names, option letters) so prompts tokenize compactly.
_QUESTIONS = (
    "What is the object behind the occluding blocks?",
    "What type of object is in the image?",
    "This is a frame extracted from a video. Answer the following question.",
    "Who is talking in the video?",
    "How many people are in the scene?",
    "Which event is happening?",
    "What product is shown in the image?",
    "What is the class of the object in the image?",
    "What is drawn in this sketch?",
    "What is the object or action shown in this tutorial video?",
    "What is the main object in the image?",
)
_OPTIONS = (
    "Move the occluding object to the left.",
    "Move the occluding object to the right.",
    "Move the blocks.",
    "Rewind the video.",
    "Wait for the occlusion to disappear.",
    "Wait for the object to appear.",
    "Rotate the object.",
    "Change the camera angle.",
    "Increase the brightness.",
    "Increase the contrast.",
    "Increase the saturation.",
    "Deblur the image.",
    "Denoise the image.",
    "Remove JPEG compression.",
    "Increase the resolution.",
    "Remove the artifacts.",
    "Ask for more details.",
    "Add more strokes to the drawing.",
    "Move the camera to the left.",
    "Move the camera to the right.",
    "Move the camera up.",
    "Move the camera down.",
    "Move farther away.",
    "Zoom out.",
    "I cannot tell.",
    "I do not know.",
)
_HINTS = (
    "Hint: moving the occluding object might reveal what is behind it.",
    "Hint: If there is an occlusion, waiting for it to disappear or rewinding the video might reveal "
    "what's behind it.",
    "Hint: rotating the object could provide a more informative view.",
    "Hint: enhancing the image quality could help with classification.",
    "Hint: Adding more details to the quickdraw could help with classification.",
    "Hint: If you cannot answer the question, waiting for it to appear or rewinding the video could help "
    "with classification.",
    "Hint: moving the camera could help with classification.",
    "Hint: zooming out could help with classification.",
)
_CATEGORIES = (
    "Vase. Banana. Apple. Mug. Bottle. Cup. Shoe. Teddy bear. Toy car. Phone. Keyboard. Mouse. Book. Clock. "
    "Scissors. Spoon. Fork. Knife. Bowl. Chair. Person. Dog. Cat. Horse. Bird. Airplane. Bicycle. Boat. Bus. "
    "Train. Truck. Traffic light. Umbrella. Pizza. Cake. Broccoli. Carrot. Orange. Sandwich. Laptop. Tv. "
    "Bed. Couch. Toilet. Sink. Oven. Refrigerator. Tennis racket. Kite. Skateboard. Surfboard. Elephant. "
    "Zebra. Giraffe. Sheep. Cow. Bear. Tree. House. Sun. Star. Fish. Flower. Circle. Square. Triangle. "
    "Goldfish. Tabby cat. Golden retriever. Shampoo. Cereal box. Juice carton. Soap bottle. Coffee can. "
    "Changing a tire. Making pancakes. Tying a tie. Peeling an orange. Cleaning a window. One. Two. Three. "
    "Four. Five. A man. A woman. A child. Wedding. Concert. Meeting. Dinner."
)
_INSTRUCTION = "Choose from the following options. Options:\n"
_FINAL = "Please only return one of the options without any other words."
_JUDGE = (
    "You grade answers. For each acceptable answer write 1 if the reply expresses it, else 0. "
    "End with one comma-separated list such as 1, 0, 1. The reply asks to move the camera."
)


def _letter(i: int) -> str:
    return chr(ord("A") + i)


def _training_corpus() -> list[str]:
    """Deterministic text covering the benchmark prompts (order and content fixed, no randomness)."""
    texts: list[str] = []
    categories = [c.strip() + "." for c in _CATEGORIES.split(".") if c.strip()]
    for q_idx, question in enumerate(_QUESTIONS):
        for o_idx in range(0, len(_OPTIONS), 3):
            shown = list(_OPTIONS[o_idx : o_idx + 3]) + [
                categories[(q_idx * 7 + o_idx + k) % len(categories)] for k in range(4)
            ]
            lines = "".join(f"{_letter(i)}. {text}\n" for i, text in enumerate(shown))
            hint = _HINTS[(q_idx + o_idx) % len(_HINTS)]
            texts.append(f"{question} {hint} {_INSTRUCTION}{lines}{_FINAL}")
            texts.append(f"{question} {_INSTRUCTION}{lines}{_FINAL}")
    letters = [f"{_letter(i)}." for i in range(26)]
    texts.append(" ".join(letters) + "\n" + "\n".join(letters))
    texts.append(" ".join(f"{a} {b}" for a, b in itertools.product(letters[:8], categories[:20])))
    texts.extend(categories)
    texts.extend(_OPTIONS)
    texts.append(_JUDGE)
    texts.append("0123456789 0, 1, 1, 0 {} [] () : ; ' \" - _ / \\ ? ! # * & % $ @ + = < > | ~ `")
    return texts * 3


def _chat_template() -> str:
    """TRL's ``qwen3_vl`` chat template, read from the installed TRL without importing TRL."""
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("The tiny model uses TRL's qwen3_vl chat template: pip install 'proactive_gym[hf]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "chat_templates" / "qwen3_vl.jinja"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: this TRL version does not ship the qwen3_vl chat template"
        )
    return path.read_text(encoding="utf-8")


def _build_tokenizer(chat_template: str) -> Any:
    """Train a byte-level BPE on :func:`_training_corpus` and wrap it as a left-padding fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_training_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in ("<|endoftext|>", "<|im_end|>")],
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def image_only_processor_class() -> Any:
    """Return :class:`ImageOnlyQwen3VLProcessor`: ``Qwen3VLProcessor`` without the video processor.

    Defined lazily so that importing this module does not import transformers.
    """
    global _PROCESSOR_CLASS
    if _PROCESSOR_CLASS is not None:
        return _PROCESSOR_CLASS
    from transformers import Qwen3VLProcessor

    class ImageOnlyQwen3VLProcessor(Qwen3VLProcessor):  # type: ignore[misc, valid-type]
        """Qwen3-VL processor for images only: no video processor, so no torchvision needed."""

        def __init__(
            self, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None, **kwargs: Any
        ):
            super().__init__(
                image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template, **kwargs
            )

        def save_pretrained(self, save_directory: Any, *args: Any, **kwargs: Any) -> Any:
            """Save as usual, plus the processor module and its ``auto_map`` (every copy stays loadable)."""
            out = super().save_pretrained(save_directory, *args, **kwargs)
            _add_processor_module(Path(save_directory))
            return out

    ImageOnlyQwen3VLProcessor.__name__ = ImageOnlyQwen3VLProcessor.__qualname__ = PROCESSOR_CLASS_NAME
    _PROCESSOR_CLASS = ImageOnlyQwen3VLProcessor
    return ImageOnlyQwen3VLProcessor


_PROCESSOR_CLASS: Any = None


# Larger than the usual 0.02 so that the random model's greedy replies depend on the image and the prompt
# (with 0.02 every reply is the same repeated token), which lets tests notice padding or batching bugs.
_INIT_RANGE = 0.1


def _tiny_config(tokenizer: Any) -> Any:
    from transformers import Qwen3VLConfig

    ids = {
        name: tokenizer.convert_tokens_to_ids(tok)
        for name, tok in (
            ("image", "<|image_pad|>"),
            ("video", "<|video_pad|>"),
            ("vstart", "<|vision_start|>"),
            ("vend", "<|vision_end|>"),
            ("pad", "<|endoftext|>"),
            ("eos", "<|im_end|>"),
        )
    }
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": 4096,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [4, 2, 2],
            "mrope_interleaved": True,
        },
        "pad_token_id": ids["pad"],
        "eos_token_id": ids["eos"],
        "tie_word_embeddings": True,
        "initializer_range": _INIT_RANGE,
    }
    vision_config = {
        "depth": 2,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_heads": 4,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": 64,
        "num_position_embeddings": 256,
        "deepstack_visual_indexes": [1],
        "initializer_range": _INIT_RANGE,
    }
    top: dict[str, Any] = {
        "image_token_id": ids["image"],
        "video_token_id": ids["video"],
        "vision_start_token_id": ids["vstart"],
        "vision_end_token_id": ids["vend"],
        "tie_word_embeddings": True,
        "initializer_range": _INIT_RANGE,
        "pad_token_id": ids["pad"],
        "eos_token_id": ids["eos"],
    }
    return Qwen3VLConfig(text_config=text_config, vision_config=vision_config, **top)


def build_tiny_qwen3_vl(out_dir: str | Path, seed: int = 0, image_size: int = 256) -> Path:
    """Build a tiny random-weight Qwen3-VL with tokenizer, processor and chat template in ``out_dir``.

    Deterministic: the same ``seed`` gives byte-identical weights and the same tokenizer. Takes a few
    seconds on a CPU and needs no network. Load it back like any model, e.g. ``make_agent("hf:" + str(path))``
    or :func:`proactive_gym.models.load_processor` + ``AutoModelForImageTextToText.from_pretrained``.

    Args:
        out_dir: Directory to write (created if missing; existing files of the same names are replaced).
        seed: Seed of the weight initialisation (a private ``torch.Generator`` state; the global RNG is
            restored afterwards).
        image_size: Pixel budget of the image processor, as the side of a square: an image is resized
            (aspect ratio kept, sides multiples of 32) to at most ``image_size**2`` pixels, so a square
            image of side 256 gives 64 image tokens, 128 gives 16. A multiple of 32, at least 64.

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.
    """
    import torch
    from transformers import GenerationConfig, Qwen3VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 64 or image_size % 32:
        raise ValueError(
            f"image_size must be a multiple of 32 of at least 64 (e.g. 128, 256), got {image_size!r}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    chat_template = _chat_template()
    tokenizer = _build_tokenizer(chat_template)
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        min_pixels=32 * 32 * 4,
        max_pixels=image_size * image_size,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = image_only_processor_class()(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template
    )

    config = _tiny_config(tokenizer)
    # Seeded init without touching the caller's global RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3VLForConditionalGeneration(config)
    model.eval()
    model.generation_config = GenerationConfig(
        eos_token_id=[
            tokenizer.convert_tokens_to_ids("<|im_end|>"),
            tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        ],
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        do_sample=False,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)  # with the processor module and auto_map (see image_only_processor_class)
    # TRL matches the template byte for byte; make sure the file on disk is exactly TRL's text.
    (out / "chat_template.jinja").write_text(chat_template, encoding="utf-8")
    logger.info(
        "tiny Qwen3-VL (%d parameters) written to %s", sum(p.numel() for p in model.parameters()), out
    )
    return out


def _add_processor_module(out: Path) -> None:
    """Ship the processor class in ``out`` and point ``AutoProcessor`` at it (``auto_map``)."""
    (out / f"{PROCESSOR_MODULE}.py").write_text(_PROCESSOR_MODULE_SOURCE, encoding="utf-8")
    cfg_path = out / "processor_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["auto_map"] = {"AutoProcessor": f"{PROCESSOR_MODULE}.{PROCESSOR_CLASS_NAME}"}
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def is_image_only_processor_dir(path: str | Path) -> bool:
    """True when ``path`` holds a processor saved by :class:`ImageOnlyQwen3VLProcessor` (the marker)."""
    cfg = Path(path) / "processor_config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("processor_class") == PROCESSOR_CLASS_NAME
    except (OSError, ValueError):
        return False

"""Input checks: everything that can be wrong is reported before a model or a dataset loads."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from proactive_gym.training import distributed, parquet
from proactive_gym.training.args import RECIPES, REGEX_PREFIX, REPLY_FORMATS, Args, lora_names, scenario_list


class UsageError(ValueError):
    """Bad input to the trainer: the message says what is wrong and how to fix it."""


EXTRAS = {  # module -> how to get it
    "torch": "pip install 'proactive_gym[train]'",
    "transformers": "pip install 'proactive_gym[train]'",
    "trl": "pip install 'proactive_gym[train]'",
    "peft": "pip install 'proactive_gym[train]'",
    "datasets": "pip install 'proactive_gym[train]'",
    "accelerate": "pip install 'proactive_gym[train]'",
}


def check_args(args: Args) -> None:
    """Validate ``args`` cheaply (no model weights, no dataset): raise :class:`UsageError` on bad input."""
    if args.recipe not in RECIPES:
        raise UsageError(f"unknown --recipe {args.recipe!r}; valid recipes: {', '.join(RECIPES)}")
    for flag, spec in (("--train-envs", args.train_envs), ("--eval-envs", args.eval_envs)):
        if flag == "--eval-envs" and spec.strip().lower() in ("held-out", "none", "all"):
            continue
        try:
            scenario_list(spec)
        except ValueError as err:
            raise UsageError(f"{flag}: {err}") from None
    if args.data not in ("synthetic", "released", "auto", "parquet"):
        raise UsageError(f"unknown --data {args.data!r}; use synthetic, released, auto or parquet")
    if args.data == "released" and not args.data_root:
        raise UsageError(
            "--data released needs --data-root DIR (a released-format data root, SPEC section 2)"
        )
    if args.data == "parquet":
        check_parquet_args(args)
    elif args.train_data:
        raise UsageError(f"--train-data is read only with --data parquet (got --data {args.data})")
    if args.max_train_samples is not None and args.max_train_samples < 1:
        raise UsageError(f"--max-train-samples must be at least 1, not {args.max_train_samples}")
    if args.num_generations < 2:
        raise UsageError("--num-generations must be at least 2 (GRPO compares completions within a group)")
    check_batch(args, distributed.world_size())
    if args.states_per_sample < 1:
        raise UsageError("--states-per-sample must be at least 1")
    if args.sft_reply_format not in REPLY_FORMATS:
        raise UsageError(
            f"--sft-reply-format must be one of {', '.join(REPLY_FORMATS)}, not {args.sft_reply_format!r}"
        )
    if args.sft_reply_format == "hint" and not args.recognizer:
        raise UsageError("--sft-reply-format hint copies the recognizer's letters: add --recognizer")
    if args.recognizer and (args.recipe != "single-turn" or args.data == "parquet"):
        raise UsageError(
            "--recognizer adds its line to env states of the single-turn recipe; it does not apply to "
            f"--recipe {args.recipe} or --data {args.data}"
        )
    if args.recognizer and args.knowledge_samples > 0 and args.sft_reply_format == "hint":
        raise UsageError("--sft-reply-format hint has no target for knowledge rows: set --knowledge-samples 0")
    if args.knowledge_samples < 0:
        raise UsageError(f"--knowledge-samples must be >= 0, not {args.knowledge_samples}")
    if args.vision_pretrain_steps < 0:
        raise UsageError(f"--vision-pretrain-steps must be >= 0, not {args.vision_pretrain_steps}")
    if args.vision_pretrain_steps > 0 and (args.knowledge_samples == 0 or args.sft_steps == 0):
        raise UsageError(
            "--vision-pretrain-steps learns from the knowledge rows: give --knowledge-samples N and "
            "--sft-steps M too (or --vision-pretrain-steps 0)"
        )
    if args.tiny_image_size < 64 or args.tiny_image_size % 32:
        raise UsageError(
            f"--tiny-image-size must be a multiple of 32 of at least 64 (e.g. 128), not {args.tiny_image_size}"
        )
    if args.knowledge_envs.strip().lower() != "all":
        try:
            scenario_list(args.knowledge_envs)
        except (KeyError, ValueError) as err:
            raise UsageError(f"--knowledge-envs: {err}") from None
    if not 0.0 <= args.sft_oracle_fraction <= 1.0:
        raise UsageError("--sft-oracle-fraction must be between 0 and 1")
    if args.lora_target_modules.startswith(REGEX_PREFIX):
        try:
            re.compile(args.lora_target_modules[len(REGEX_PREFIX) :])
        except re.error as err:
            raise UsageError(f"--lora-target-modules: not a regular expression ({err})") from None
    elif not lora_names(args.lora_target_modules):
        raise UsageError("--lora-target-modules: give module names such as q_proj,k_proj (or regex:PATTERN)")
    if args.bf16 not in ("auto", "true", "false"):
        raise UsageError(f"--bf16 must be auto, true or false, not {args.bf16!r}")
    if args.vllm_mode not in ("colocate", "server"):
        raise UsageError(f"--vllm-mode must be colocate or server, not {args.vllm_mode!r}")
    needed = list(EXTRAS)
    if "tensorboard" in args.report_to:
        needed.append("tensorboard")
    if args.use_vllm:
        needed.append("vllm")
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        fixes = {EXTRAS.get(m, f"pip install {m}") for m in missing}
        if "vllm" in missing:
            fixes = (fixes - {"pip install vllm"}) | {"pip install 'trl[vllm]'"}
        raise UsageError(
            f"missing package(s) {', '.join(missing)} for training: {'; '.join(sorted(fixes))}"
            + (" (or --report-to none)" if "tensorboard" in missing else "")
        )
    if args.data == "parquet":
        try:  # the schemas only (pyarrow, installed with datasets); no row is read
            parquet.check_columns(parquet.parquet_files(str(args.train_data)))
        except ValueError as err:
            raise UsageError(f"--train-data: {err}") from None
    if args.model != "tiny":
        check_model(args.model, args.recipe, vision_pretrain=args.vision_pretrain_steps > 0)


def check_batch(args: Args, world_size: int) -> None:
    """The global batch splits into whole micro-batches on ``world_size`` processes and whole groups."""
    per_device = args.per_device_train_batch_size
    if per_device < 1:
        raise UsageError(f"--per-device-train-batch-size must be at least 1, not {per_device}")
    on = f"{world_size} process{'es' if world_size > 1 else ''}"
    if args.gradient_accumulation_steps is None:
        per_step = per_device * world_size
        if args.global_batch < 1 or args.global_batch % per_step:
            fits = max(per_step, round(args.global_batch / per_step) * per_step)
            raise UsageError(
                f"--global-batch {args.global_batch} does not divide into micro-batches of "
                f"--per-device-train-batch-size {per_device} on {on} ({per_step} completions per micro-step); "
                f"use a multiple of {per_step} (e.g. --global-batch {fits}) or another per-device batch size"
            )
    elif args.gradient_accumulation_steps < 1:
        raise UsageError(
            f"--gradient-accumulation-steps must be at least 1, not {args.gradient_accumulation_steps}"
        )
    batch = per_device * args.accumulation_steps(world_size) * world_size
    if batch % args.num_generations:
        raise UsageError(
            f"the global batch of {batch} completions (--per-device-train-batch-size {per_device} x "
            f"{args.accumulation_steps(world_size)} accumulation steps x {on}) is not a multiple of "
            f"--num-generations {args.num_generations}; pick sizes so that it is"
        )


def check_parquet_args(args: Args) -> None:
    """``--data parquet``: a training path that exists, and no option that needs env training rows."""
    if not args.train_data:
        raise UsageError(
            "--data parquet needs --train-data PATH (the authors' train parquet: a .parquet file or a folder "
            "of them, e.g. the data/ folder of tdemin16/ProactiveBench)"
        )
    if not Path(args.train_data).exists():
        raise UsageError(f"--train-data: no such file or folder: {args.train_data}")
    if args.recipe != "single-turn":
        raise UsageError(
            "--data parquet trains the single-turn recipe only (its rows are single states, not episodes); "
            "use --recipe single-turn, or env data (--data synthetic or released) for multi-turn"
        )
    if args.sft_steps > 0:
        raise UsageError(
            "--sft-steps: the format warm-up (and its knowledge phase) replays env states and does not run "
            "on --data parquet rows; use --sft-steps 0"
        )


def check_model(model: str, recipe: str, vision_pretrain: bool = False) -> None:
    """Check that TRL's GRPOTrainer can train ``model`` as a VLM, for multi-turn that it calls tools, and
    for vision pretraining that it is a Qwen3-VL (the only vision tower :func:`vision_pretrain` knows).

    Reads only the config and the processor (small files), never the weights. A processor that needs
    torchvision where it is missing (and has no image-only fallback) is refused here with the install
    command, before any training row is built.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as err:
        raise UsageError(
            f"cannot read the config of --model {model!r}: {err}. Give a Hugging Face id or a "
            "local directory with config.json (or 'tiny')."
        ) from None
    if config.model_type not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        raise UsageError(
            f"TRL's GRPOTrainer cannot train --model {model!r} on ProactiveBench: its model type "
            f"{config.model_type!r} is not an image-text-to-text model in transformers (the prompts are images + "
            "text). Use a VLM such as Qwen/Qwen2.5-VL-3B-Instruct or Qwen/Qwen3-VL-2B-Instruct."
        )
    if vision_pretrain and config.model_type != "qwen3_vl":
        raise UsageError(
            f"--vision-pretrain-steps works on Qwen3-VL models; --model "
            f"{model!r} is a {config.model_type!r}. Use --vision-pretrain-steps 0 (a pretrained VLM has its "
            "own vision encoder)."
        )
    from proactive_gym.models import load_processor
    from proactive_gym.models.processors import TORCHVISION_FIX, needs_torchvision

    try:
        processor = load_processor(model)
    except ImportError as err:
        if not needs_torchvision(err):
            raise
        raise UsageError(
            f"--model {model!r}: its processor needs torchvision, which is missing: {TORCHVISION_FIX}"
        ) from None
    except (OSError, ValueError) as err:
        raise UsageError(
            f"cannot load the processor of --model {model!r}: {err}. A checkpoint directory needs the tokenizer "
            "and preprocessor files next to config.json, as on the hub."
        ) from None
    if recipe == "multi-turn":
        check_tool_calling(processor, model)


def check_tool_calling(processor: Any, model: str) -> None:
    """Raise :class:`UsageError` unless the chat template renders tool calls and TRL can parse them."""
    from trl.chat_template_utils import add_response_schema, supports_tool_calling

    if not supports_tool_calling(processor):
        raise UsageError(
            f"--recipe multi-turn needs a model whose chat template supports tool calling; the template of "
            f"{model!r} does not render tool calls. Use --recipe single-turn (works with every VLM), or a "
            "tool-calling VLM such as Qwen/Qwen3-VL-2B-Instruct."
        )
    tokenizer = getattr(processor, "tokenizer", processor)
    if (
        getattr(tokenizer, "response_template", None) is None
        and getattr(tokenizer, "response_schema", None) is None
    ):
        try:
            add_response_schema(processor)
        except ValueError:
            raise UsageError(
                f"--recipe multi-turn: TRL cannot parse the tool calls of {model!r} (its chat template is not one "
                "TRL knows, and the tokenizer sets no response_template). Use a model TRL lists for tool calling "
                "(Qwen3-VL, ...) or --recipe single-turn."
            ) from None

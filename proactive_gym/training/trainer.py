"""TRL's GRPO: the config, the LoRA config, the trainer of each recipe, and the logged reward curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proactive_gym.training import distributed
from proactive_gym.training.args import Args, lora_target_modules
from proactive_gym.training.checks import check_tool_calling
from proactive_gym.training.episodes import EpisodeFactory
from proactive_gym.training.rewards import EnvReward, MultiTurnReward, ParquetReward
from proactive_gym.training.rows import env_kwargs


def use_bf16(args: Args) -> bool:
    import torch

    if args.bf16 == "auto":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return args.bf16 == "true"


def grpo_config(args: Args, output_dir: Path) -> Any:
    """TRL's ``GRPOConfig`` for ``args``."""
    import torch
    from trl import GRPOConfig

    bf16 = use_bf16(args)
    vllm: dict[str, Any] = {}
    if args.use_vllm:
        vllm = {
            "use_vllm": True,
            "vllm_mode": args.vllm_mode,
            "vllm_gpu_memory_utilization": args.vllm_gpu_memory_utilization,
        }
        if args.vllm_server_base_url:
            vllm["vllm_server_base_url"] = args.vllm_server_base_url
    return GRPOConfig(
        output_dir=str(output_dir),
        num_generations=args.num_generations,
        learning_rate=args.learning_rate,
        lr_scheduler_type=args.lr_scheduler_type,
        warmup_steps=args.warmup_steps,
        weight_decay=args.weight_decay,
        num_train_epochs=args.num_train_epochs,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.per_device_train_batch_size,
        gradient_accumulation_steps=args.accumulation_steps(distributed.world_size()),
        beta=args.beta,
        temperature=args.temperature,
        max_completion_length=args.completion_length(),
        max_tool_calling_iterations=args.max_tool_calls,
        logging_steps=args.logging_steps,
        save_steps=args.save_steps,
        report_to=[] if args.report_to == "none" else args.report_to.split(","),
        seed=args.seed,
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=args.gradient_checkpointing,
        ddp_timeout=args.ddp_timeout,
        model_init_kwargs={"dtype": "bfloat16" if bf16 else "float32"},
        remove_unused_columns=False,
        **vllm,
    )


def lora_config(args: Args) -> Any:
    """PEFT ``LoraConfig`` (the paper: r 16, alpha 16, dropout 0.1 on the language model's q_proj and
    k_proj), or None."""
    if not args.use_lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=lora_target_modules(args.lora_target_modules),
        task_type="CAUSAL_LM",
    )


def make_trainer(args: Args, model_path: str, dataset: Any, output_dir: Path) -> Any:
    """A ready ``GRPOTrainer`` for ``args.recipe`` (single-turn reward or multi-turn tool episodes)."""
    import os

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl import GRPOTrainer

    from proactive_gym.models import load_processor

    processor = load_processor(model_path, padding_side="left")
    kwargs = env_kwargs(args, args.train_split)
    extra: dict[str, Any] = {}
    if args.recipe == "multi-turn":
        check_tool_calling(processor, model_path)
        extra["environment_factory"] = EpisodeFactory(kwargs)
        reward: Any = MultiTurnReward()
    elif args.data == "parquet":
        reward = ParquetReward(args.reward_correct, args.reward_suggestion)
    else:
        reward = EnvReward(kwargs)
    trainer_class = proactive_trainer_class() if args.recipe == "multi-turn" else GRPOTrainer
    return trainer_class(
        model=model_path,
        reward_funcs=[reward],
        args=grpo_config(args, output_dir),
        train_dataset=dataset,
        processing_class=processor,
        peft_config=lora_config(args),
        **extra,
    )


def proactive_trainer_class() -> type:
    """``GRPOTrainer`` with one fix for TRL 1.16's ``environment_factory`` path on VLMs.

    There the prompts are tokenized one by one and the image fields (``pixel_values``, ``image_grid_thw``)
    come back as Python lists; when a tool-calling round reveals no new image for any rollout (every tool
    call was ``answer`` or ``abstain``), TRL's tool loop splits those fields as tensors and fails
    (``'list' object has no attribute 'prod'``). Turning them into tensors, the form the other paths use,
    fixes it.
    """
    import torch
    from trl import GRPOTrainer

    class ProactiveGRPOTrainer(GRPOTrainer):
        def _tokenize_prompts(self, prompts: list) -> Any:
            prompt_ids, images, fields = super()._tokenize_prompts(prompts)
            for key in ("pixel_values", "image_grid_thw"):
                if isinstance(fields.get(key), list):
                    fields[key] = torch.tensor(fields[key])
            return prompt_ids, images, fields

    return ProactiveGRPOTrainer


def reward_curve(log_history: list[dict[str, Any]]) -> list[float]:
    """The mean training reward of every logged step, in order."""
    return [float(entry["reward"]) for entry in log_history if "reward" in entry]


def by_tenth(
    log_history: list[dict[str, Any]], prefixes: tuple[str, ...] = ("reward", "outcome/", "entropy")
) -> dict[str, list[float]]:
    """Mean of every logged training metric starting with one of ``prefixes``, per tenth of the steps."""
    steps = [entry for entry in log_history if "reward" in entry]
    if not steps:
        return {}
    size = max(1, len(steps) // 10)
    chunks = [steps[i : i + size] for i in range(0, len(steps), size)]
    keys = sorted({k for entry in steps for k in entry if k.startswith(prefixes)})
    return {k: [round(sum(e.get(k, 0.0) for e in chunk) / len(chunk), 4) for chunk in chunks] for k in keys}


def tenths(curve: list[float]) -> dict[str, float | None]:
    """Mean reward over the first and the last tenth of the logged steps, and their difference."""
    if not curve:
        return {"first_tenth": None, "last_tenth": None, "gain": None}
    n = max(1, len(curve) // 10)
    first, last = sum(curve[:n]) / n, sum(curve[-n:]) / n
    return {"first_tenth": first, "last_tenth": last, "gain": last - first}

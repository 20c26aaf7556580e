"""The whole run, in the order of ``training/grpo.py``'s docstring, and the command-line entry point."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from proactive_gym.training import parquet
from proactive_gym.training.args import SCENARIO_ORDER, Args, parse_args, scenario_list
from proactive_gym.training.checks import UsageError, check_args
from proactive_gym.training.compare import before_after_table, evaluate_model, paired_changes
from proactive_gym.training.rows import build_rows, env_kwargs, rows_to_dataset
from proactive_gym.training.trainer import by_tenth, make_trainer, reward_curve, tenths
from proactive_gym.training.warmup import format_warmup, knowledge_rows, vision_pretrain

logger = logging.getLogger("proactive_gym.training")

#: Libraries whose numerics decide a run's figures; their versions are saved in ``summary.json``.
VERSIONED_PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "tokenizers", "numpy", "pillow")


def library_versions() -> dict[str, str]:
    """Installed versions of :data:`VERSIONED_PACKAGES`: a run is deterministic for one set of versions
    only (another torch or transformers gives other figures), so every summary records them."""
    from importlib import metadata

    found = {}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def resolve_model(args: Args, out: Path) -> str:
    """The model path to train: ``args.model``, or the tiny VLM built offline under ``out/tiny-model``."""
    if args.model != "tiny":
        return args.model
    from proactive_gym.models import build_tiny_qwen3_vl

    return str(build_tiny_qwen3_vl(out / "tiny-model", seed=args.seed, image_size=args.tiny_image_size))


def run(args: Args) -> dict[str, Any]:
    """The whole run (see the module docstring); returns the summary also written to ``summary.json``."""
    check_args(args)
    if args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    model_path = resolve_model(args, out)
    train = args.train_scenarios()
    if args.data == "parquet":
        try:
            rows = parquet.load_parquet_rows(str(args.train_data), args.max_train_samples, args.seed)
        except parquet.ParquetDataError as err:
            raise UsageError(f"--train-data: {err}") from None
        by_scenario = {
            s: sum(r["scenario"] == s for r in rows) for s in sorted({r["scenario"] for r in rows})
        }
        logger.info(
            "%d training rows from %s, by inferred scenario: %s", len(rows), args.train_data, by_scenario
        )
    else:
        rows = build_rows(
            train,
            env_kwargs(args, args.train_split),
            args.max_train_samples,
            args.states_per_sample,
            args.seed,
        )
        logger.info("%d training rows from %s", len(rows), ", ".join(train))
    knowledge: list[dict[str, Any]] = []
    if args.sft_steps > 0 and args.knowledge_samples > 0:
        names = (
            list(SCENARIO_ORDER)
            if args.knowledge_envs.strip().lower() == "all"
            else scenario_list(args.knowledge_envs)
        )
        knowledge = knowledge_rows(
            names,
            env_kwargs(args, args.train_split),
            args.knowledge_samples,
            args.seed,
            args.sft_reply_format,
        )
        logger.info("%d knowledge rows (reference setting) from %s", len(knowledge), ", ".join(names))
    timings["data_s"] = time.perf_counter() - clock

    if args.vision_pretrain_steps > 0:
        clock = time.perf_counter()
        model_path = str(vision_pretrain(Path(model_path), knowledge, args, out / "vision-model"))
        timings["vision_pretrain_s"] = time.perf_counter() - clock

    if args.sft_steps > 0:
        clock = time.perf_counter()
        model_path = str(format_warmup(Path(model_path), rows, args, out / "warmup-model", knowledge))
        timings["warmup_s"] = time.perf_counter() - clock

    eval_scenarios = (
        [s for s in SCENARIO_ORDER if s in train] if args.eval_in_domain else []
    ) + args.eval_scenarios()
    before: dict[str, dict[str, float]] = {}
    if eval_scenarios and not args.skip_eval:
        clock = time.perf_counter()
        before = evaluate_model(args, model_path, None, eval_scenarios, out / "eval-before")
        timings["eval_before_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    trainer = make_trainer(args, model_path, rows_to_dataset(rows), out / "trainer")
    trainer.train()
    adapter = out / "adapter"
    trainer.save_model(str(adapter))
    timings["grpo_s"] = time.perf_counter() - clock
    curve = reward_curve(trainer.state.log_history)
    metrics_by_tenth = by_tenth(trainer.state.log_history)
    del trainer

    after: dict[str, dict[str, float]] = {}
    changes: dict[str, dict[str, int]] = {}
    if before:
        clock = time.perf_counter()
        after = evaluate_model(
            args, model_path, str(adapter) if args.use_lora else None, eval_scenarios, out / "eval-after"
        )
        timings["eval_after_s"] = time.perf_counter() - clock
        changes = paired_changes(out / "eval-before", out / "eval-after")
        table = before_after_table(before, after, train, changes)
        (out / "before_after.md").write_text(table)
        (adapter / "before_after.md").write_text(table)
        logger.info("before/after:\n%s", table)

    summary = {
        "config": dataclasses.asdict(args),
        "model_path": model_path,
        "train_rows": len(rows),
        "knowledge_rows": len(knowledge),
        "reward": {**tenths(curve), "curve": curve},
        "train_metrics_by_tenth": metrics_by_tenth,
        "before": before,
        "after": after,
        "episodes_changed": changes,
        "in_domain": train,
        "held_out": [s for s in eval_scenarios if s not in train],
        "timings_s": timings,
        "versions": library_versions(),
    }
    for target in (out / "summary.json", adapter / "before_after.json"):
        target.write_text(json.dumps(summary, indent=2))
    (adapter / "run_config.json").write_text(
        json.dumps(
            {"args": dataclasses.asdict(args), "env_kwargs": env_kwargs(args, args.train_split)}, indent=2
        )
    )
    return summary


def main(argv: list[str] | None = None, description: str | None = None) -> int:
    """Command-line entry point (``training/grpo.py``, whose docstring is ``description``): 0 on success,
    2 on bad input."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv, description)
    try:
        summary = run(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    gain = summary["reward"]["gain"]
    logger.info(
        "done: reward first tenth %s -> last tenth %s (gain %s); outputs in %s",
        summary["reward"]["first_tenth"],
        summary["reward"]["last_tenth"],
        gain,
        args.out,
    )
    return 0

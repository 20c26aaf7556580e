"""The whole run, in the order of ``training/grpo.py``'s docstring, and the command-line entry point."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from proactive_gym.training import distributed, parquet
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


def resolve_model(args: Args, out: Path, build: bool = True) -> str:
    """The model path to train: ``args.model``, or the tiny VLM built offline under ``out/tiny-model``
    (built only when ``build``: rank 0 builds it, the other ranks only need its path)."""
    if args.model != "tiny":
        return args.model
    if not build:
        return str(out / "tiny-model")
    from proactive_gym.models import build_tiny_qwen3_vl

    return str(build_tiny_qwen3_vl(out / "tiny-model", seed=args.seed, image_size=args.tiny_image_size))


def trained_model_path(args: Args, out: Path) -> str:
    """The model GRPO starts from: the last supervised stage's output folder, else the base model."""
    if args.sft_steps > 0:
        return str(out / "warmup-model")
    if args.vision_pretrain_steps > 0:
        return str(out / "vision-model")
    return resolve_model(args, out, build=False)


def base_model_record(model_path: str, adapter: Path) -> dict[str, str | None]:
    """What the adapter was trained on: the base model as given (a hub id or a path), its absolute path and
    its path relative to the adapter folder when it is a local folder (the tiny and warm-up models live in
    the run directory, so a moved run directory still finds them), and the SHA-256 of its ``config.json``
    (to check that another copy is the same base). PEFT's ``adapter_config.json`` holds the first only."""
    import hashlib
    import os

    local = Path(model_path)
    if not (local / "config.json").is_file():
        return {
            "name_or_path": model_path,
            "absolute": None,
            "relative_to_adapter": None,
            "config_sha256": None,
        }
    return {
        "name_or_path": model_path,
        "absolute": str(local.resolve()),
        "relative_to_adapter": os.path.relpath(local.resolve(), adapter.resolve()),
        "config_sha256": hashlib.sha256((local / "config.json").read_bytes()).hexdigest(),
    }


def recognizer_of(args: Args) -> Any:
    """The frozen recognizer of ``--recognizer`` (trained on the run's train split, cached), else None."""
    if not args.recognizer:
        return None
    from proactive_gym.training.recognizer import Recognizer, train_root

    return Recognizer.for_train_root(train_root(args))


def training_rows(args: Args) -> list[dict[str, Any]]:
    """The GRPO training rows of the run: env states (:func:`build_rows`) or the train parquet's rows."""
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
        return rows
    train = args.train_scenarios()
    rows = build_rows(
        train,
        env_kwargs(args, args.train_split),
        args.max_train_samples,
        args.states_per_sample,
        args.seed,
        recognizer=recognizer_of(args),
    )
    logger.info("%d training rows from %s", len(rows), ", ".join(train))
    return rows


def run(args: Args) -> dict[str, Any]:
    """The whole run (see ``training/grpo.py``'s docstring) on every rank of the launch; returns the
    summary, which rank 0 writes to ``summary.json`` (see :mod:`~proactive_gym.training.distributed`)."""
    check_args(args)
    distributed.start(args.ddp_timeout)
    main_rank = distributed.is_main()
    if args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    # Rank 0 first: it builds the tiny model and fills the synthetic data cache that the rows come from.
    rows: list[dict[str, Any]] = []
    if main_rank:
        resolve_model(args, out)
        rows = training_rows(args)
    distributed.barrier()
    if not main_rank:
        rows = training_rows(args)
    train = args.train_scenarios()
    knowledge: list[dict[str, Any]] = []
    model_path = trained_model_path(args, out)
    eval_scenarios = (
        [s for s in SCENARIO_ORDER if s in train] if args.eval_in_domain else []
    ) + args.eval_scenarios()
    before: dict[str, dict[str, float]] = {}
    if main_rank:  # the supervised stages and the evaluation before training: rank 0 alone
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
        stage_path = resolve_model(args, out, build=False)
        if args.vision_pretrain_steps > 0:
            clock = time.perf_counter()
            stage_path = str(vision_pretrain(Path(stage_path), knowledge, args, out / "vision-model"))
            timings["vision_pretrain_s"] = time.perf_counter() - clock
        if args.sft_steps > 0:
            clock = time.perf_counter()
            stage_path = str(format_warmup(Path(stage_path), rows, args, out / "warmup-model", knowledge))
            timings["warmup_s"] = time.perf_counter() - clock
        assert stage_path == model_path, (stage_path, model_path)
        if eval_scenarios and not args.skip_eval:
            clock = time.perf_counter()
            before = evaluate_model(args, model_path, None, eval_scenarios, out / "eval-before")
            timings["eval_before_s"] = time.perf_counter() - clock
    distributed.barrier()

    clock = time.perf_counter()
    trainer = make_trainer(args, model_path, rows_to_dataset(rows), out / "trainer")
    trainer.train()
    adapter = out / "adapter"
    trainer.save_model(str(adapter))  # on every rank (ZeRO-3 gathers the weights); rank 0 writes
    timings["grpo_s"] = time.perf_counter() - clock
    curve = reward_curve(trainer.state.log_history)
    metrics_by_tenth = by_tenth(trainer.state.log_history)
    del trainer

    after: dict[str, dict[str, float]] = {}
    changes: dict[str, dict[str, int]] = {}
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
        "processes": distributed.describe(),
    }
    if main_rank:
        if before:
            clock = time.perf_counter()
            after.update(
                evaluate_model(
                    args,
                    model_path,
                    str(adapter) if args.use_lora else None,
                    eval_scenarios,
                    out / "eval-after",
                )
            )
            timings["eval_after_s"] = time.perf_counter() - clock
            changes.update(paired_changes(out / "eval-before", out / "eval-after"))
            table = before_after_table(before, after, train, changes)
            (out / "before_after.md").write_text(table)
            (adapter / "before_after.md").write_text(table)
            logger.info("before/after:\n%s", table)
        for target in (out / "summary.json", adapter / "before_after.json"):
            target.write_text(json.dumps(summary, indent=2))
        config = {
            "args": dataclasses.asdict(args),
            "env_kwargs": env_kwargs(args, args.train_split),
            "base_model": base_model_record(model_path, adapter),
        }
        (adapter / "run_config.json").write_text(json.dumps(config, indent=2))
    distributed.barrier()  # the other ranks return once rank 0 has written everything
    return summary


def main(argv: list[str] | None = None, description: str | None = None) -> int:
    """Command-line entry point (``training/grpo.py``, whose docstring is ``description``): 0 on success,
    2 on bad input."""
    ranked = f"[rank {distributed.rank()}] " if distributed.world_size() > 1 else ""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s {ranked}%(message)s")
    args = parse_args(argv, description)
    try:
        summary = run(args)
    except UsageError as err:
        if distributed.is_main():  # every rank checks the same input; rank 0 alone says what is wrong
            print(f"error: {err}", file=sys.stderr, flush=True)
        distributed.exit_together()
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

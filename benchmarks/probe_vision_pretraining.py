#!/usr/bin/env python
"""How well the CPU demo's vision pretraining recognises the categories, and whether it knows when it
cannot: the figures behind training/README.md's note on QuickDraw.

    python benchmarks/probe_vision_pretraining.py                       # the preset's 400 steps, seed 0
    python benchmarks/probe_vision_pretraining.py --steps 400,800,1200,1600,2000 --out probe.json

Runs ``vision_pretrain`` of training/grpo.py exactly as ``--preset cpu-demo`` does (same tiny model, same
knowledge rows: the clear reference frames of 400 train episodes of each scenario), up to the largest of
``--steps``, and at each of those steps measures its temporary linear head, per scenario, on the *test*
split (episodes never trained on):

- ``acc``: top-1 accuracy over all the knowledge categories (65 for the synthetic data; chance is about
  1/65, not 1/4) on the clear reference frames of the first ``--episodes`` test episodes;
- ``conf clear``: the mean top-1 probability on those clear frames;
- ``conf first``: the mean top-1 probability on the same episodes' first, ambiguous frames.

A head that knows when it cannot tell has ``conf first`` well below ``conf clear``. One CPU thread.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from proactive_gym.training.args import SCENARIO_ORDER, parse_args
from proactive_gym.training.rows import env_kwargs, make_env, prompt_and_images
from proactive_gym.training.run import resolve_model
from proactive_gym.training.warmup import knowledge_rows, pooled_image_features, vision_pretrain


def test_frames(args: Any, episodes: int) -> dict[str, dict[str, list[Any]]]:
    """Per scenario: the clear reference frames with their category, and the first frames, of the first
    ``episodes`` test episodes."""
    kwargs = env_kwargs(args, args.eval_split)
    reference = knowledge_rows(
        list(SCENARIO_ORDER), kwargs, episodes, args.seed, args.sft_reply_format
    )
    frames: dict[str, dict[str, list[Any]]] = {}
    for scenario in SCENARIO_ORDER:
        rows = [r for r in reference if r["scenario"] == scenario]
        env = make_env(scenario, kwargs)
        first = []
        for row in rows:
            obs, _ = env.reset(options={"sample_id": row["sample_id"]})
            first.append(prompt_and_images(obs)[1][-1])
        env.close()
        frames[scenario] = {
            "clear": [r["images"][-1] for r in rows],
            "targets": [r["target"] for r in rows],
            "first": first,
        }
    return frames


def measure(model: Any, head: Any, classes: list[str], processor: Any, frames: dict) -> dict[str, dict]:
    """acc, conf clear and conf first per scenario (see the module docstring)."""
    import torch

    def probabilities(images: list[Any]) -> Any:
        encoded = [processor.image_processor(images=[image], return_tensors="pt") for image in images]
        return torch.softmax(head(pooled_image_features(model, encoded)), dim=1)

    model.eval()
    result = {}
    with torch.no_grad():
        for scenario, f in frames.items():
            clear, first = probabilities(f["clear"]), probabilities(f["first"])
            labels = torch.tensor([classes.index(t) if t in classes else -1 for t in f["targets"]])
            result[scenario] = {
                "acc": round(100 * float((clear.argmax(1) == labels).float().mean()), 1),
                "conf_clear": round(float(clear.max(1).values.mean()), 2),
                "conf_first": round(float(first.max(1).values.mean()), 2),
            }
    model.train()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="400", help="comma-separated steps to measure at (default 400)")
    parser.add_argument("--seed", type=int, default=0, help="the demo's --seed (default 0)")
    parser.add_argument("--episodes", type=int, default=100, help="test episodes per scenario (default 100)")
    parser.add_argument("--tiny-image-size", type=int, default=None, help="default: the preset's")
    parser.add_argument("--out", help="write the figures as JSON here")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # the training loss
    try:
        checkpoints = sorted({int(s) for s in options.steps.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--steps must be comma-separated integers, e.g. 400,800; got {options.steps!r}")
    if not checkpoints or checkpoints[0] < 1:
        parser.error("--steps needs at least one step >= 1")
    flags = [
        "--preset",
        "cpu-demo",
        "--seed",
        str(options.seed),
        "--vision-pretrain-steps",
        str(checkpoints[-1]),
    ]
    if options.tiny_image_size:
        flags += ["--tiny-image-size", str(options.tiny_image_size)]
    args = parse_args(flags)

    import torch

    torch.set_num_threads(args.torch_threads)
    figures: dict[int, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(resolve_model(args, Path(tmp)))
        knowledge = knowledge_rows(
            list(SCENARIO_ORDER),
            env_kwargs(args, args.train_split),
            args.knowledge_samples,
            args.seed,
            args.sft_reply_format,
        )
        frames = test_frames(args, options.episodes)

        def on_step(step: int, model: Any, head: Any, classes: list[str], processor: Any) -> None:
            if step in checkpoints:
                figures[step] = measure(model, head, classes, processor, frames)

        vision_pretrain(model_dir, knowledge, args, Path(tmp) / "vision-model", on_step=on_step)

    print(f"{'steps':>5} {'scenario':<11} {'acc':>5} {'conf clear':>10} {'conf first':>10}")
    for step, by_scenario in figures.items():
        for scenario, f in by_scenario.items():
            print(f"{step:>5} {scenario:<11} {f['acc']:5.1f} {f['conf_clear']:10.2f} {f['conf_first']:10.2f}")
    if options.out:
        Path(options.out).write_text(json.dumps({"seed": options.seed, "figures": figures}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

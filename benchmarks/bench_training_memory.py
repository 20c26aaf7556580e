#!/usr/bin/env python
"""Peak GPU memory and step time of both GRPO recipes, at the paper's per-device settings.

    python benchmarks/bench_training_memory.py --shape qwen3-vl-2b --out bench.json          # needs a GPU

No download: the model is built with random weights and the *architecture and size* of a real VLM (the
shapes below, written from the published configs), with the tiny model's tokenizer and processor and the
real vocabulary size, so the weights, LoRA, optimizer state, logits and activations take the memory they
take with the real model. Images are upscaled to ``--image-pixels`` (the real benchmark's frames are
larger than the synthetic ones). Training rows come from the synthetic QuickDraw + COCO train split.
Random weights never call tools, so in the multi-turn recipe the rollout *text* is scripted (two
interventions, then an answer: three images per rollout); generation, the forward and backward passes and
the LoRA update are real. Each recipe runs ``--steps`` GRPO steps of 8 completions (8 generations, LoRA
r 16 on q_proj and k_proj, bf16) and reports ``torch.cuda.max_memory_allocated`` and seconds per step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from proactive_gym.training.args import Args
from proactive_gym.training.rows import build_rows, env_kwargs, rows_to_dataset
from proactive_gym.training.trainer import make_trainer

#: Text and vision sizes of real Qwen3-VL checkpoints (from their published config.json files).
SHAPES: dict[str, dict[str, Any]] = {
    "qwen3-vl-2b": {
        "text": {
            "hidden_size": 2048,
            "intermediate_size": 6144,
            "num_hidden_layers": 28,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 128,
        },
        "vision": {
            "depth": 24,
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_heads": 16,
            "out_hidden_size": 2048,
            "deepstack_visual_indexes": [5, 11, 17],
        },
    },
    "smoke": {  # a small shape to try the script on a CPU
        "text": {
            "hidden_size": 128,
            "intermediate_size": 256,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 128,
        },
        "vision": {
            "depth": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 2,
            "out_hidden_size": 128,
            "deepstack_visual_indexes": [0],
        },
    },
    "qwen3-vl-8b": {
        "text": {
            "hidden_size": 4096,
            "intermediate_size": 12288,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
        },
        "vision": {
            "depth": 27,
            "hidden_size": 1152,
            "intermediate_size": 4304,
            "num_heads": 16,
            "out_hidden_size": 4096,
            "deepstack_visual_indexes": [8, 16, 24],
        },
    },
}
VOCAB = 151936


def build_shaped_model(shape: str, tiny_dir: Path, out_dir: Path) -> Path:
    """A random bf16 Qwen3-VL of ``shape`` with the tiny model's tokenizer/processor, saved to ``out_dir``."""
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    from proactive_gym.models import load_processor

    config = Qwen3VLConfig.from_pretrained(str(tiny_dir)).to_dict()
    text, vision = dict(config["text_config"]), dict(config["vision_config"])
    text.update(SHAPES[shape]["text"], vocab_size=VOCAB)
    rope = dict(text.get("rope_parameters") or {})
    rope["mrope_section"] = [24, 20, 20]  # the real models' split of head_dim / 2 = 64
    text["rope_parameters"] = rope
    vision.update(SHAPES[shape]["vision"])
    config.update(text_config=text, vision_config=vision)
    model_config = Qwen3VLConfig.from_dict(config)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen3VLForConditionalGeneration(model_config).to(torch.bfloat16)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    load_processor(str(tiny_dir)).save_pretrained(str(out_dir))
    n = sum(p.numel() for p in model.parameters())
    del model
    torch.cuda.empty_cache()
    print(f"{shape}: {n / 1e9:.2f} B parameters", flush=True)
    return out_dir


def run_recipe(
    recipe: str, model_dir: Path, data_root: Path, steps: int, image_pixels: int, work: Path
) -> dict[str, Any]:
    """Peak memory and time per step of ``steps`` GRPO steps of ``recipe``."""
    import torch

    args = Args(
        model=str(model_dir),
        recipe=recipe,
        data="released",
        data_root=str(data_root),
        train_split="train",
        report_to="none",
        max_steps=steps,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        num_generations=8,
        max_train_samples=8,
        states_per_sample=3,
        reward_suggestion=0.75,
        out=str(work),
    )
    rows = build_rows(args.train_scenarios(), env_kwargs(args, "train"), 8, 3, seed=0)
    for row in rows:  # frames at the real benchmark's size
        row["images"] = [_upscale(img, image_pixels) for img in row["images"]]
    trainer = make_trainer(args, str(model_dir), rows_to_dataset(rows), work / recipe)
    processor = trainer.processing_class.image_processor
    processor.size.longest_edge = max(processor.size.longest_edge, image_pixels)  # the pixel budget
    if recipe == "multi-turn":
        tokenizer = trainer.processing_class.tokenizer
        response_id = tokenizer.convert_tokens_to_ids("<tool_response>")

        def policy(ids: list[int]) -> str:
            seen = ids.count(response_id)
            if seen < 2:
                call = {"name": "intervene", "arguments": {"action": "Show me more of the drawing."}}
            elif seen == 2:
                call = {"name": "answer", "arguments": {"category": "Clock."}}
            else:
                return "<|im_end|>"
            return "<tool_call>\n" + json.dumps(call) + "\n</tool_call><|im_end|>"

        def generate(prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
            return [tokenizer.encode(policy(ids), add_special_tokens=False) for ids in prompt_ids], None

        trainer._generate_single_turn = generate
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer.train()
    seconds = (time.perf_counter() - start) / steps
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    history = [e for e in trainer.state.log_history if "reward" in e]
    result = {
        "recipe": recipe,
        "peak_gib": round(peak, 1),
        "s_per_step": round(seconds, 2),
        "completion_tokens_mean": history[-1].get("completions/mean_length"),
        "tool_calls_per_rollout": history[-1].get("tools/call_frequency"),
    }
    del trainer
    torch.cuda.empty_cache()
    return result


def _upscale(image: Any, pixels: int) -> Any:
    w, h = image.size
    scale = (pixels / (w * h)) ** 0.5
    return image.resize((max(32, round(w * scale)), max(32, round(h * scale))))


def main() -> int:
    """Command-line entry point: prints and writes one JSON record per recipe."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen3-vl-2b")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--image-pixels", type=int, default=640 * 480)
    parser.add_argument("--recipes", default="single-turn,multi-turn")
    parser.add_argument("--work", default="/tmp/bench-memory")
    parser.add_argument("--out", default=None)
    opts = parser.parse_args()
    import torch

    from proactive_gym.data.synthetic import generate
    from proactive_gym.models import build_tiny_qwen3_vl

    work = Path(opts.work)
    data_root = work / "data"
    if not (data_root / "train").exists():
        generate(data_root / "train", "train", 0, 16, ["QuickDraw", "COCO"])
    tiny = build_tiny_qwen3_vl(work / "tiny", seed=0)
    model_dir = build_shaped_model(opts.shape, tiny, work / opts.shape)
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    results = {
        "shape": opts.shape,
        "gpu": gpu,
        "image_pixels": opts.image_pixels,
        "torch": torch.__version__,
        "recipes": [],
    }
    for recipe in opts.recipes.split(","):
        results["recipes"].append(
            run_recipe(recipe, model_dir, data_root, opts.steps, opts.image_pixels, work)
        )
        print(json.dumps(results["recipes"][-1]), flush=True)
    if opts.out:
        Path(opts.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

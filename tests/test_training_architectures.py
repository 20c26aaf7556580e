"""The paper's architectures: tiny random-weight Qwen2.5-VL and LLaVA-NeXT (saved as hub checkpoints are) and
the tiny Qwen3-VL load through the project's loader and train two single-turn GRPO steps.

Rollout text is scripted as in test_training.py (a random model only emits junk); the pixel values of the
prompts' images must reach the model's forward pass, every LoRA matrix must move, and LoRA must sit on the
language model only (LLaVA-NeXT's CLIP tower has q_proj / k_proj modules too).
"""

from __future__ import annotations

import importlib.util
import json
import logging

import pytest
from training_helpers import assert_only_lora_changed, lora_snapshot, script_sampler

pytest.importorskip("trl")

from proactive_gym.models import load_processor  # noqa: E402
from proactive_gym.training.args import Args  # noqa: E402
from proactive_gym.training.checks import UsageError, check_model  # noqa: E402
from proactive_gym.training.rows import build_rows, env_kwargs, rows_to_dataset  # noqa: E402
from proactive_gym.training.trainer import make_trainer  # noqa: E402

NO_TORCHVISION = importlib.util.find_spec("torchvision") is None


@pytest.fixture(scope="module")
def tiny_qwen2_5_vl(tmp_path_factory):
    from proactive_gym.models.architectures import build_tiny_qwen2_5_vl

    return str(build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("qwen2_5_vl") / "model", seed=0))


@pytest.fixture(scope="module")
def tiny_llava_next(tmp_path_factory):
    from proactive_gym.models.architectures import build_tiny_llava_next

    return str(build_tiny_llava_next(tmp_path_factory.mktemp("llava_next") / "model", seed=0))


def test_checkpoints_are_laid_out_as_on_the_hub(tiny_qwen2_5_vl, tiny_llava_next):
    from pathlib import Path

    qwen = json.loads((Path(tiny_qwen2_5_vl) / "preprocessor_config.json").read_text())
    assert qwen["processor_class"] == "Qwen2_5_VLProcessor"
    assert json.loads((Path(tiny_qwen2_5_vl) / "config.json").read_text())["model_type"] == "qwen2_5_vl"
    llava = json.loads((Path(tiny_llava_next) / "config.json").read_text())
    assert (llava["model_type"], llava["vision_config"]["model_type"]) == ("llava_next", "clip_vision_model")
    for model in (tiny_qwen2_5_vl, tiny_llava_next):
        assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= {
            p.name for p in Path(model).iterdir()
        }


@pytest.mark.skipif(not NO_TORCHVISION, reason="the fallback is for machines without torchvision")
def test_qwen2_5_vl_without_torchvision_loads_an_image_only_processor(tiny_qwen2_5_vl, caplog):
    from transformers import AutoProcessor

    with pytest.raises(ImportError, match="Torchvision"):  # the stock processor's video part
        AutoProcessor.from_pretrained(tiny_qwen2_5_vl)
    with caplog.at_level(logging.INFO, logger="proactive_gym.models.processors"):
        processor = load_processor(tiny_qwen2_5_vl, padding_side="left")
    assert [r.getMessage() for r in caplog.records] == [
        f"torchvision is not installed: loaded Qwen2_5_VLProcessor of {tiny_qwen2_5_vl} for images only "
        "(no video processor)"
    ]
    assert type(processor).__name__ == "ImageOnlyQwen2_5_VLProcessor"
    assert processor.tokenizer.padding_side == "left" and not hasattr(processor, "video_processor")
    check_model(tiny_qwen2_5_vl, "single-turn")  # the early check loads it the same way


def test_a_processor_that_needs_torchvision_is_refused_early_with_the_install_command(
    tiny_llava_next, monkeypatch
):
    import proactive_gym.models

    def needs(model, **kwargs):
        raise ImportError("LlavaNextImageProcessor requires the Torchvision library but it was not found")

    monkeypatch.setattr(proactive_gym.models, "load_processor", needs)
    with pytest.raises(
        UsageError, match=r"its processor needs torchvision, which is missing: pip install torchvision"
    ):
        check_model(tiny_llava_next, "single-turn")


def test_multi_turn_is_refused_for_a_template_without_tool_calls(tiny_qwen2_5_vl, tiny_llava_next):
    for model in (tiny_qwen2_5_vl, tiny_llava_next):
        check_model(model, "single-turn")
        with pytest.raises(
            UsageError, match="--recipe multi-turn needs a model whose chat template supports"
        ):
            check_model(model, "multi-turn")


@pytest.mark.parametrize("architecture", ["qwen2_5_vl", "llava_next", "qwen3_vl"])
def test_two_grpo_steps_train_the_language_model_lora_and_see_the_pixels(
    architecture, request, fixture_root, tmp_path
):
    model = request.getfixturevalue({"qwen3_vl": "tiny_model"}.get(architecture, f"tiny_{architecture}"))
    args = Args(
        model=model,
        data="released",
        data_root=str(fixture_root),
        train_split="test",
        report_to="none",
        max_steps=2,
        num_generations=4,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        learning_rate=1e-2,
        max_completion_length=8,
    )
    rows = build_rows(["QuickDraw"], env_kwargs(args, "test"), None, 3, seed=0)
    trainer = make_trainer(args, model, rows_to_dataset(rows), tmp_path / "trainer")
    end = trainer.processing_class.tokenizer.eos_token
    script = ["D. Cat.", "A. Add more details.", "B. I cannot tell.", "zzz"]
    script_sampler(trainer, lambda i, ids: script[i % 4] + end)
    seen = []

    def record(module, args_, kwargs):
        if kwargs.get("pixel_values") is not None:
            seen.append(tuple(kwargs["pixel_values"].shape))

    hook = trainer.model.get_base_model().register_forward_pre_hook(record, with_kwargs=True)
    before = lora_snapshot(trainer)
    trainer.train()
    hook.remove()
    assert_only_lora_changed(before, trainer)
    assert seen and all(shape[0] > 0 for shape in seen)  # every forward pass got the prompts' pixels
    steps = [e for e in trainer.state.log_history if "reward" in e]
    assert [e["outcome/correct"] for e in steps] == [
        0.25,
        0.25,
    ]  # "D. Cat." in every group: the env scored it

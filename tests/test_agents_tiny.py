"""The tiny offline Qwen3-VL: deterministic, loads back through the user's path, renders TRL's template."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("trl")

from proactive_gym.models import PROCESSOR_CLASS_NAME, build_tiny_qwen3_vl, load_processor  # noqa: E402


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen3_vl(tmp_path_factory.mktemp("tiny"), seed=0)


def test_files_and_marker(tiny_dir: Path) -> None:
    names = sorted(p.name for p in tiny_dir.iterdir())
    assert names == [
        "chat_template.jinja",
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "processing_image_only_qwen3_vl.py",
        "processor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    proc_cfg = json.loads((tiny_dir / "processor_config.json").read_text())
    assert proc_cfg["processor_class"] == PROCESSOR_CLASS_NAME
    assert proc_cfg["image_processor"]["patch_size"] == 16
    assert proc_cfg["auto_map"] == {"AutoProcessor": f"processing_image_only_qwen3_vl.{PROCESSOR_CLASS_NAME}"}


def test_auto_processor_gets_the_image_processor_offline(tiny_dir: Path, monkeypatch) -> None:
    from PIL import Image
    from transformers import AutoProcessor

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    processor = AutoProcessor.from_pretrained(str(tiny_dir), trust_remote_code=True)
    assert type(processor).__name__ == PROCESSOR_CLASS_NAME
    assert type(processor.image_processor).__name__ == "Qwen2VLImageProcessorPil"
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}]}]
    with_image = [
        {
            "role": "user",
            "content": [{"type": "image", "image": Image.new("RGB", (128, 128))}, *messages[0]["content"]],
        }
    ]
    lengths = [
        len(processor.apply_chat_template(m, tokenize=True, return_dict=True)["input_ids"][0])
        for m in (messages, with_image)
    ]
    assert lengths[1] - lengths[0] == 16 + 2  # 128x128: 16 merged patches, plus vision start and end


def test_same_seed_same_bytes_other_seed_other_weights(tiny_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_qwen3_vl(tmp_path / "again", seed=0)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "chat_template.jinja"):
        assert (again / name).read_bytes() == (tiny_dir / name).read_bytes(), name
    other = build_tiny_qwen3_vl(tmp_path / "other", seed=1)
    assert (other / "model.safetensors").read_bytes() != (tiny_dir / "model.safetensors").read_bytes()
    assert (other / "tokenizer.json").read_bytes() == (tiny_dir / "tokenizer.json").read_bytes()


def test_global_rng_untouched(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_qwen3_vl(tmp_path / "m", seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_processor_tokenizer_and_template(tiny_dir: Path) -> None:
    from PIL import Image
    from trl.chat_template_utils import qwen3_vl_chat_template

    proc = load_processor(tiny_dir)
    assert type(proc).__name__ == PROCESSOR_CLASS_NAME
    assert type(proc.image_processor).__name__ == "Qwen2VLImageProcessorPil"
    assert proc.chat_template == qwen3_vl_chat_template
    tok = proc.tokenizer
    assert tok.padding_side == "left"
    assert tok.pad_token == "<|endoftext|>" and tok.eos_token == "<|im_end|>"
    for special in ("<|im_start|>", "<|image_pad|>", "<tool_call>", "</tool_response>"):
        assert len(tok(special, add_special_tokens=False)["input_ids"]) == 1, special
    text = "What is the object? Choose from the following options. Options:\nA. Vase.\n"
    assert tok.decode(tok(text)["input_ids"]) == text
    # Byte-level: any unicode round-trips.
    assert tok.decode(tok("Ünïcødé ✓")["input_ids"]) == "Ünïcødé ✓"

    image = Image.fromarray(np.zeros((64, 96, 3), dtype=np.uint8))
    messages = [
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Hi"}]}
    ]
    prompt = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt == (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<|im_end|>\n<|im_start|>assistant\n"
    )
    enc = proc(text=[prompt], images=[image], return_tensors="pt")
    # 64x96 pixels -> 4x6 patches of 16 -> 2x3 merged tokens.
    assert enc["image_grid_thw"].tolist() == [[1, 4, 6]]
    assert int((enc["input_ids"] == proc.image_token_id).sum()) == 6


def test_tool_calls_render(tiny_dir: Path) -> None:
    proc = load_processor(tiny_dir)
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Go"}]},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "move", "arguments": {"d": 1}}}],
        },
        {"role": "tool", "content": [{"type": "text", "text": "moved"}]},
    ]
    out = proc.apply_chat_template(messages, tokenize=False)
    assert '<tool_call>\n{"name": "move", "arguments": {"d": 1}}\n</tool_call>' in out
    assert "<tool_response>\nmoved\n</tool_response>" in out


def test_model_loads_and_generates(tiny_dir: Path) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    assert 300_000 < sum(p.numel() for p in model.parameters()) < 1_000_000
    proc = load_processor(tiny_dir)
    prompt = proc.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": "Name it."}]}],
        add_generation_prompt=True,
        tokenize=False,
    )
    enc = proc(text=[prompt], return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=5, do_sample=False, suppress_tokens=[proc.image_token_id])
    assert out.shape[1] <= enc["input_ids"].shape[1] + 5
    assert proc.image_token_id not in out[0, enc["input_ids"].shape[1] :].tolist()


def test_bad_seed(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="seed must be an int"):
        build_tiny_qwen3_vl(tmp_path, seed="0")  # type: ignore[arg-type]

"""The hf: agent with the tiny offline Qwen3-VL, loaded through ``hf:<dir>`` like a user's model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("trl")

import proactive_gym  # noqa: E402,F401  (registers the envs)
from proactive_gym.agents import make_agent  # noqa: E402
from proactive_gym.agents.hf import HFAgent  # noqa: E402
from proactive_gym.models import build_tiny_qwen3_vl  # noqa: E402
from proactive_gym.protocol import render_prompt  # noqa: E402


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen3_vl(tmp_path_factory.mktemp("tiny-hf"), seed=0)


@pytest.fixture(scope="module")
def agent(tiny_dir: Path) -> HFAgent:
    built = make_agent(f"hf:{tiny_dir}", batch_size=8, max_new_tokens=12)
    assert isinstance(built, HFAgent)
    return built


def varied_observations(n: int) -> list[dict]:
    """Different image sizes and prompt lengths, so a batch needs real padding."""
    rng = np.random.default_rng(1)
    sizes = [(224, 224), (160, 320), (96, 96), (224, 300), (64, 200)]
    options = ["Move the block to the left.", "I cannot tell.", "Vase.", "Mug.", "Apple.", "Banana.", "Pear."]
    obs = []
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        question = "What is the object behind the blocks?" + " Look closely." * (i % 4)
        obs.append(
            {
                "image": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                "dialogue": render_prompt(question, options[: 3 + i % 5]),
            }
        )
    return obs


def test_batched_equals_unbatched(agent: HFAgent) -> None:
    obs = varied_observations(10)
    agent.batch_size = 8
    batched = agent.act(obs, [{}] * len(obs))
    agent.batch_size = 1
    try:
        unbatched = agent.act(obs, [{}] * len(obs))
    finally:
        agent.batch_size = 8
    assert batched == unbatched
    assert len(set(batched)) > 1  # replies depend on the input (the tiny model is not constant)
    assert all(isinstance(r, str) for r in batched)
    assert not any("<|image_pad|>" in r or "<|im_end|>" in r for r in batched)


def test_describe(agent: HFAgent, tiny_dir: Path) -> None:
    info = agent.describe()
    assert info["name"] == f"hf:{tiny_dir}"
    assert (info["model"], info["dtype"], info["device"], info["decoding"]) == (
        str(tiny_dir),
        "float32",
        "cpu",
        "greedy",
    )
    assert (info["max_new_tokens"], info["batch_size"], info["adapter"]) == (12, 8, None)
    json.dumps(info)


def test_full_evaluation_batched_and_unbatched(agent: HFAgent, tmp_path: Path) -> None:
    from proactive_gym.evaluation import evaluate

    runs = {}
    for harness_batch in (8, 1):
        agent.batch_size = harness_batch
        out = tmp_path / f"b{harness_batch}"
        summary = evaluate(agent, envs="all", out=out, batch_size=harness_batch, max_episodes=2)
        assert summary.errors == 0
        lines = (out / "episodes.jsonl").read_text().splitlines()
        records = sorted((json.loads(line) for line in lines), key=lambda r: (r["scenario"], r["sample_id"]))
        runs[harness_batch] = [
            (r["scenario"], r["sample_id"], [s["reply"] for s in r["steps"]]) for r in records
        ]
    agent.batch_size = 8
    assert len(runs[8]) == 14  # 7 scenarios x 2 episodes
    assert {r[0] for r in runs[8]} == {"ROD", "VSOD", "MVP-N", "ImageNet-C", "QuickDraw", "ChangeIt", "COCO"}
    assert runs[8] == runs[1]


@pytest.mark.parametrize("setting", [{"history": True}, {"icl_examples": 1}])
def test_multi_image_conversations(agent: HFAgent, setting: dict) -> None:
    """History and in-context examples reach the model as several images in one chat."""
    obs_list = []
    for seed in (0, 1):
        env = gym.make("ProactiveBench/ROD-v0", **setting)
        obs, info = env.reset(seed=seed)
        if setting.get("history"):
            obs, *_ = env.step(info["oracle"])
        assert len(obs["history"]) >= 1
        obs_list.append(obs)
        env.close()
    n_images = [1 + len(o["history"]) for o in obs_list]
    from proactive_gym.agents.messages import conversation_images, observation_messages

    assert [len(conversation_images(observation_messages(o))) for o in obs_list] == n_images
    agent.batch_size = 2
    together = agent.act(obs_list, [{}, {}])
    agent.batch_size = 1
    try:
        alone = agent.act(obs_list, [{}, {}])
    finally:
        agent.batch_size = 8
    assert together == alone


def test_lora_adapter_changes_replies(tiny_dir: Path, tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj"]))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 2.0)
    peft_model.save_pretrained(tmp_path / "adapter")
    obs = varied_observations(4)
    plain = make_agent(f"hf:{tiny_dir}", max_new_tokens=8).act(obs, [{}] * 4)
    adapted_agent = make_agent(f"hf:{tiny_dir}", adapter=str(tmp_path / "adapter"), max_new_tokens=8)
    assert adapted_agent.describe()["adapter"] == str(tmp_path / "adapter")
    adapted = adapted_agent.act(obs, [{}] * 4)
    assert adapted != plain


def test_text_only_conversations_for_the_judge(agent: HFAgent) -> None:
    convs = [
        [
            {"role": "system", "content": "Grade."},
            {"role": "user", "content": [{"type": "text", "text": "x" * k}]},
        ]
        for k in (1, 9, 30)
    ]
    agent.batch_size = 3
    together = agent.generate(convs, max_new_tokens=6)
    agent.batch_size = 1
    try:
        assert agent.generate(convs, max_new_tokens=6) == together
    finally:
        agent.batch_size = 8


# -- bad input: clear errors, before any heavy loading where possible -----------------------------------


def test_missing_directory() -> None:
    with pytest.raises(ValueError, match="model directory /no/such/model does not exist"):
        make_agent("hf:/no/such/model")


def test_directory_without_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a model directory"):
        make_agent(f"hf:{tmp_path}")


def test_bad_adapter_dir(tiny_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a PEFT adapter directory"):
        make_agent(f"hf:{tiny_dir}", adapter=str(tmp_path))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dtype": "float8"}, "dtype must be one of auto, float32, bfloat16, float16"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"max_new_tokens": "50"}, "max_new_tokens must be a positive integer"),
    ],
)
def test_bad_options(tiny_dir: Path, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_agent(f"hf:{tiny_dir}", **options)


def test_no_chat_template(tiny_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "no-template"
    shutil.copytree(tiny_dir, copy)
    (copy / "chat_template.jinja").unlink()
    with pytest.raises(ValueError, match="has no chat template"):
        make_agent(f"hf:{copy}")


def test_text_only_model_refused_as_agent_accepted_as_judge(tiny_dir: Path, tmp_path: Path) -> None:
    """A text-only chat model (no image processor) is refused for the benchmark, accepted as judge."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from proactive_gym.agents.judge import LLMJudge, make_judge
    from proactive_gym.models import load_processor

    text_dir = tmp_path / "text-only"
    tokenizer = load_processor(tiny_dir).tokenizer
    tokenizer.save_pretrained(text_dir)
    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    Qwen3ForCausalLM(config).save_pretrained(text_dir)
    with pytest.raises(ValueError, match="has no image processor, so it cannot see the benchmark's"):
        make_agent(f"hf:{text_dir}")

    judge = make_judge(f"hf:{text_dir}", max_new_tokens=6, batch_size=2)
    assert isinstance(judge, LLMJudge)
    items = [
        {"prompt": "Who?", "acceptable_answers": ["Rewind the video", "The man"], "n_suggestion_answers": 1,
         "reply": reply, "scenario": "VSOD"}
        for reply in ("rewind", "the man", "no idea")
    ]  # fmt: skip
    torch.manual_seed(0)  # the judge samples, as the paper's
    assert judge.describe()["agent"]["sampling"] == {
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 20,
    }
    scores = judge.score(items)
    assert len(scores) == 3
    # A random model prints no 0/1 list of length 2: documented zeros, no crash.
    assert [(s["flags"], s["ps"], s["cc"], s["agg"]) for s in scores] == [(None, 0, 0, 0)] * 3
    assert all(isinstance(s["raw"], str) and s["raw"] for s in scores)
    judge.close()


def test_cuda_without_gpu(tiny_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        make_agent(f"hf:{tiny_dir}", device="cuda")


def test_closed_agent(tiny_dir: Path) -> None:
    closing = make_agent(f"hf:{tiny_dir}", max_new_tokens=2)
    closing.close()
    closing.close()
    with pytest.raises(RuntimeError, match="was closed"):
        closing.act(varied_observations(1), [{}])


def test_ignored_options_warn(tiny_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="proactive_gym.agents.hf"):
        make_agent(f"hf:{tiny_dir}", concurrency=4)
    assert "ignoring options it does not use: concurrency" in caplog.text


def build_tiny_llava(out: Path, tiny_dir: Path) -> Path:
    """A random-weight LLaVA (CLIP vision tower + Llama text model) whose processor AutoProcessor knows."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    from trl.chat_template_utils import llava_next_chat_template

    from proactive_gym.models import load_processor

    tokenizer = load_processor(tiny_dir).tokenizer
    tokenizer.add_tokens(["<image>"], special_tokens=True)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=16, vision_feature_select_strategy="default",
        chat_template=llava_next_chat_template, num_additional_image_tokens=1,
    )  # fmt: skip
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32,
            patch_size=16, projection_dim=32,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, pad_token_id=tokenizer.pad_token_id, initializer_range=0.2,
        ),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )  # fmt: skip
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


def test_another_architecture_through_autoprocessor(tiny_dir: Path, tmp_path: Path) -> None:
    """hf: is not Qwen-specific: a LLaVA model loads through AutoProcessor and batches the same way."""
    path = build_tiny_llava(tmp_path / "llava", tiny_dir)
    llava = make_agent(f"hf:{path}", max_new_tokens=8, batch_size=4)
    assert type(llava.processor).__name__ == "LlavaProcessor"
    assert type(llava.model).__name__ == "LlavaForConditionalGeneration"
    obs = varied_observations(6)
    batched = llava.act(obs, [{}] * 6)
    llava.batch_size = 1
    assert llava.act(obs, [{}] * 6) == batched
    assert len(set(batched)) > 1

"""proactive_gym.training (training/grpo.py): arguments, bad input, training rows, the env reward, and GRPO steps of both recipes.

Everything runs offline on the hand-made released-format fixture and the tiny Qwen3-VL. In the GRPO tests
the rollouts' text is scripted (the trainer's sampler is replaced by a fixed policy) so that every group
mixes rewarded and unrewarded replies: a random model only emits junk, every reward would be 0 and no
gradient would flow. Everything after sampling (tool calls, env rewards, the loss, the LoRA update) is
TRL's and the env's real code.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from training_helpers import REPO, assert_only_lora_changed, fixture_args, lora_snapshot, script_sampler

from proactive_gym.protocol import letter
from proactive_gym.training.args import PRESETS, SCENARIO_ORDER, Args, lora_target_modules, parse_args
from proactive_gym.training.checks import UsageError, check_args, check_model
from proactive_gym.training.compare import before_after_table, paired_changes
from proactive_gym.training.rewards import EnvReward
from proactive_gym.training.rows import (
    build_rows,
    env_kwargs,
    make_env,
    pick_states,
    rows_to_dataset,
    suggestion_path,
)
from proactive_gym.training.run import main, run
from proactive_gym.training.trainer import by_tenth, make_trainer, reward_curve, tenths
from proactive_gym.training.warmup import (
    knowledge_rows,
    oracle_replies,
    reply_form,
    vision_pretrain,
    warmup_target,
)

QUICKDRAW_SUGGESTION = "A. Add more details."


_args = fixture_args


# ----- arguments and bad input ------------------------------------------------------------------------


def test_defaults_are_the_paper_recipe_and_presets_yield_to_flags():
    args = parse_args([])
    assert (args.lora_r, args.lora_alpha, args.lora_dropout, args.lora_target_modules) == (
        16,
        16,
        0.1,
        "q_proj,k_proj",
    )
    assert (args.num_generations, args.learning_rate, args.lr_scheduler_type) == (8, 2e-5, "cosine")
    assert (args.train_envs, args.reward_suggestion, args.report_to) == ("QuickDraw,COCO", 0.5, "tensorboard")
    assert args.eval_scenarios() == ["ROD", "VSOD", "MVP-N", "ImageNet-C", "ChangeIt"]
    demo = parse_args(["--preset", "cpu-demo", "--learning-rate", "0.5", "--use-lora", "false"])
    assert (demo.model, demo.learning_rate, demo.use_lora) == ("tiny", 0.5, False)
    assert demo.max_steps == PRESETS["cpu-demo"]["max_steps"]
    assert (demo.sft_reply_format, demo.knowledge_envs, demo.tiny_image_size) == (
        "suggest-letter",
        "all",
        128,
    )
    assert (demo.vision_pretrain_steps, demo.knowledge_samples, demo.reward_suggestion) == (400, 400, 0.8)
    # the supervised stages are off unless asked for
    assert (args.knowledge_samples, args.vision_pretrain_steps, args.sft_steps) == (0, 0, 0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"train_envs": "QuickDraw,Atari"}, "--train-envs: unknown scenario 'Atari'"),
        ({"eval_envs": "ROD,nope"}, "--eval-envs: unknown scenario 'nope'"),
        ({"recipe": "three-turn"}, "unknown --recipe 'three-turn'"),
        ({"vision_pretrain_steps": 5}, "--vision-pretrain-steps learns from the knowledge rows"),
        ({"vision_pretrain_steps": 5, "sft_steps": 5}, "--vision-pretrain-steps learns from the knowledge"),
        ({"tiny_image_size": 100}, "--tiny-image-size must be a multiple of 32 of at least 64"),
        (
            {"num_generations": 3, "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1},
            "not a multiple of --num-generations 3",
        ),
        ({"data": "released", "data_root": None}, "--data released needs --data-root"),
        ({"knowledge_envs": "ROD,Pong"}, "--knowledge-envs: unknown scenario 'Pong'"),
        ({"knowledge_samples": -1}, "--knowledge-samples must be >= 0"),
        ({"lora_target_modules": "regex:(q_proj"}, "--lora-target-modules: not a regular expression"),
        ({"lora_target_modules": " , "}, "--lora-target-modules: give module names such as q_proj,k_proj"),
        (
            {"sft_reply_format": "emoji"},
            "--sft-reply-format must be one of text, letter, mixed, suggest-letter",
        ),
    ],
)
def test_bad_arguments_get_one_clear_message(overrides, message):
    args = Args(**{"model": "tiny", "report_to": "none", **overrides})
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        check_args(args)


@pytest.mark.parametrize(("world", "expected"), [(1, 64), (4, 16), (8, 8), (16, 4)])
def test_the_global_batch_gives_the_accumulation_steps_of_the_world_size(monkeypatch, world, expected):
    monkeypatch.setenv("WORLD_SIZE", str(world))
    args = Args(model="tiny", report_to="none")  # the paper: 512 completions per step, 8 per device
    check_args(args)
    assert args.accumulation_steps(world) == expected
    assert Args(gradient_accumulation_steps=3).accumulation_steps(world) == 3  # given: it wins


@pytest.mark.parametrize(
    ("world", "overrides", "message"),
    [
        (
            1,
            {"global_batch": 100},
            "--global-batch 100 does not divide into micro-batches of "
            "--per-device-train-batch-size 8 on 1 process (8 completions per micro-step); use a multiple of 8 "
            "(e.g. --global-batch 96)",
        ),
        (
            3,
            {},
            "--global-batch 512 does not divide into micro-batches of --per-device-train-batch-size 8 on "
            "3 processes (24 completions per micro-step); use a multiple of 24 (e.g. --global-batch 504)",
        ),
        (
            2,
            {"global_batch": 12, "per_device_train_batch_size": 2, "num_generations": 8},
            "the global batch of 12 completions (--per-device-train-batch-size 2 x 3 accumulation steps x 2 "
            "processes) is not a multiple of --num-generations 8",
        ),
        (1, {"gradient_accumulation_steps": 0}, "--gradient-accumulation-steps must be at least 1, not 0"),
    ],
)
def test_a_global_batch_that_does_not_fit_the_world_size_is_refused(monkeypatch, world, overrides, message):
    monkeypatch.setenv("WORLD_SIZE", str(world))
    with pytest.raises(UsageError) as caught:
        check_args(Args(**{"model": "tiny", "report_to": "none", **overrides}))
    assert str(caught.value).startswith(message)


def test_lora_names_are_kept_inside_the_language_model():
    pattern = lora_target_modules("q_proj, k_proj")
    assert pattern == r".*\.language_model\..*\.(q_proj|k_proj)"
    paths = [
        "model.language_model.layers.0.self_attn.q_proj",
        "model.language_model.layers.1.self_attn.k_proj",
        "model.language_model.layers.1.self_attn.v_proj",
        "model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj",  # LLaVA-NeXT's CLIP
        "model.visual.blocks.0.attn.qkv",
    ]
    assert [p for p in paths if re.fullmatch(pattern, p)] == paths[:2]
    assert lora_target_modules(r"regex:.*\.(q_proj|k_proj)") == r".*\.(q_proj|k_proj)"  # as given


def test_main_reports_bad_input_without_loading_anything(capsys):
    assert main(["--train-envs", "Pong", "--model", "tiny"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --train-envs: unknown scenario 'Pong'; valid names: ROD, VSOD, MVP-N")
    # In a fresh process: the refusal comes before torch, transformers or trl are imported.
    code = (
        "import sys; from proactive_gym.training.run import main; "
        "rc = main(['--train-envs', 'Pong', '--model', 'tiny']); "
        "print(rc, sorted(m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2 []"


def test_missing_extra_is_named_with_the_fix(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "trl" else real(name, *a)
    )
    with pytest.raises(
        UsageError, match=r"missing package\(s\) trl for training: pip install 'proactive_gym\[train\]'"
    ):
        check_args(Args(model="tiny", report_to="none"))


def test_model_trl_cannot_train_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    with pytest.raises(UsageError, match="TRL's GRPOTrainer cannot train --model .* model type 'bert'"):
        check_model(str(tmp_path), "single-turn")
    llava = tmp_path / "llava"
    llava.mkdir()
    (llava / "config.json").write_text(json.dumps({"model_type": "llava_next"}))
    with pytest.raises(UsageError, match="cannot load the processor of --model .* as on the hub"):
        check_model(str(llava), "single-turn")  # a VLM TRL trains, but no processor files beside it
    with pytest.raises(UsageError, match="--vision-pretrain-steps works on Qwen3-VL models; .* 'llava_next'"):
        check_model(str(llava), "single-turn", vision_pretrain=True)


def test_multi_turn_needs_tool_calling(tiny_model, tmp_path):
    check_model(tiny_model, "multi-turn")  # the tiny model carries TRL's qwen3_vl template: accepted
    check_model(tiny_model, "single-turn", vision_pretrain=True)  # a Qwen3-VL: accepted
    no_tools = tmp_path / "no-tools"
    shutil.copytree(tiny_model, no_tools)
    template = Path(importlib.util.find_spec("trl").origin).parent / "chat_templates" / "qwen2_5_vl.jinja"
    shutil.copy(template, no_tools / "chat_template.jinja")
    check_model(str(no_tools), "single-turn")  # fine for the single-turn recipe
    with pytest.raises(UsageError, match="--recipe multi-turn needs a model whose chat template supports"):
        check_model(str(no_tools), "multi-turn")


# ----- training rows ------------------------------------------------------------------------------------


def test_rows_are_env_states_along_the_suggestion_path(fixture_root):
    kwargs = env_kwargs(_args(fixture_root), "test")
    rows = build_rows(["QuickDraw", "COCO"], kwargs, None, 3, seed=0)
    got = [
        (r["scenario"], r["sample_id"], r["state"], r["path_length"], len(json.loads(r["replies"])))
        for r in rows
    ]
    assert got == [
        ("QuickDraw", 0, 0, 3, 0),
        ("QuickDraw", 0, 2, 3, 2),
        ("QuickDraw", 0, 3, 3, 3),
        ("COCO", 0, 0, 3, 0),
        ("COCO", 0, 2, 3, 2),
        ("COCO", 0, 3, 3, 3),
        ("COCO", 1, 0, 2, 0),
        ("COCO", 1, 1, 2, 1),
        ("COCO", 1, 2, 2, 2),
        ("COCO", 2, 0, 2, 0),
        ("COCO", 2, 1, 2, 1),
        ("COCO", 2, 2, 2, 2),
    ]
    assert json.loads(rows[2]["replies"]) == [QUICKDRAW_SUGGESTION] * 3
    assert json.loads(rows[11]["replies"]) == ["A. Move the camera up.", "B. Move the camera to the left."]
    for row in rows:  # the prompt is exactly what the env shows in that state
        env = make_env(row["scenario"], kwargs)
        obs, info = env.reset(options={"sample_id": row["sample_id"], "replies": json.loads(row["replies"])})
        assert row["prompt"] == [
            {
                "role": "user",
                "content": [{"type": "image", "text": None}, {"type": "text", "text": obs["dialogue"]}],
            }
        ]
        assert np.array_equal(np.asarray(row["images"][0]), obs["image"])
        assert json.loads(row["options"]) == info["options"]


def test_row_building_is_deterministic(fixture_root):
    kwargs = env_kwargs(_args(fixture_root), "test")

    def build(seed):
        rows = build_rows(["COCO", "QuickDraw"], kwargs, 2, 2, seed=seed)
        return [
            ({k: v for k, v in r.items() if k != "images"}, [np.asarray(i).tobytes() for i in r["images"]])
            for r in rows
        ]

    first = build(0)
    assert first == build(0)
    assert [r["sample_id"] for r, _ in first if r["scenario"] == "COCO"] == [0, 0, 1, 1]
    assert [r["sample_id"] for r, _ in build(2) if r["scenario"] == "COCO"] == [0, 0, 2, 2]  # the seed picks
    assert pick_states(7, 3) == [0, 4, 7] and pick_states(1, 3) == [0, 1] and pick_states(5, 1) == [0]


# ----- the reward is the env's -------------------------------------------------------------------------------


def test_reward_replays_replies_through_the_env(fixture_root):
    kwargs = env_kwargs(_args(fixture_root, reward_suggestion=0.75), "test")
    reward = EnvReward(kwargs)
    replies = ["D. Cat.", QUICKDRAW_SUGGESTION, "B. I cannot tell.", "C. Cup.", "a cat, I think", ""]
    logged = {}
    n = len(replies)
    first = reward(
        completions=[[{"role": "assistant", "content": r}] for r in replies],
        scenario=["QuickDraw"] * n,
        sample_id=[0] * n,
        replies=["[]"] * n,
        log_metric=logged.__setitem__,
        prompts=[None] * n,
    )
    assert first == [1.0, 0.75, 0.0, 0.0, 0.0, 0.0]
    assert logged["outcome/correct"] == 1 / 6 and logged["outcome/useful_suggestion"] == 1 / 6
    assert logged["outcome/abstain"] == 1 / 6 and logged["outcome/wrong_answer"] == 1 / 6
    assert logged["outcome/unparsable"] == 2 / 6
    # On the last frame (after three strokes were added) only the category is right.
    last = json.dumps([QUICKDRAW_SUGGESTION] * 3)
    assert reward(
        completions=["D. Cat.", QUICKDRAW_SUGGESTION],
        scenario=["QuickDraw"] * 2,
        sample_id=[0, 0],
        replies=[last, last],
    ) == [1.0, 0.0]
    # The values are the env's own: compare with a fresh env stepping the same replies.
    env = make_env("QuickDraw", kwargs)
    for text, value in zip(replies, first, strict=True):
        env.reset(options={"sample_id": 0})
        assert env.step(text)[1] == value


@pytest.mark.parametrize("settings", [{}, {"history": True}, {"reference": True}])
def test_score_is_reset_then_step_without_decoding_an_image(fixture_root, monkeypatch, settings):
    import proactive_gym.env

    kwargs = {**env_kwargs(_args(fixture_root, reward_suggestion=0.75), "test"), **settings}
    checked = 0
    for scenario in SCENARIO_ORDER:
        env = make_env(scenario, kwargs)
        for sample_id in env.unwrapped.sample_ids[:3]:
            path = [] if settings.get("reference") else suggestion_path(env, sample_id)
            for k in range(len(path) + 1):
                _, info = env.reset(options={"sample_id": sample_id, "replies": path[:k]})
                shown = [f"{letter(i)}. {o}" for i, o in enumerate(info["options"])]
                for reply in [*shown, *info["options"], "zzz", ""]:
                    env.reset(options={"sample_id": sample_id, "replies": path[:k]})
                    _, reward, terminated, truncated, stepped = env.step(reply)
                    with monkeypatch.context() as m:
                        m.setattr(proactive_gym.env, "load_image", lambda *a, **k: pytest.fail("decoded"))
                        replayed = env.unwrapped.score(sample_id, path[:k], reply)
                    assert replayed == (reward, stepped, terminated or truncated)
                    checked += 1
        obs, _ = env.reset(options={"sample_id": env.unwrapped.sample_ids[0]})  # usable as before
        assert obs["image"].ndim == 3
    assert checked > 100


# ----- GRPO steps ----------------------------------------------------------------------------------------


def test_single_turn_grpo_two_steps_train_lora(fixture_root, tiny_model, tmp_path):
    args = _args(
        fixture_root,
        model=tiny_model,
        max_steps=2,
        num_generations=4,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        learning_rate=1e-2,
        max_completion_length=16,
        reward_suggestion=0.5,
    )
    rows = build_rows(["QuickDraw"], env_kwargs(args, "test"), None, 3, seed=0)
    trainer = make_trainer(args, tiny_model, rows_to_dataset(rows), tmp_path / "trainer")
    script = ["D. Cat.", QUICKDRAW_SUGGESTION, "B. I cannot tell.", "zzz"]
    script_sampler(trainer, lambda i, ids: script[i % 4] + "<|im_end|>")
    before = lora_snapshot(trainer)
    trainer.train()
    assert_only_lora_changed(before, trainer)
    steps = [e for e in trainer.state.log_history if "reward" in e]
    assert len(steps) == 2
    for entry in steps:  # per group: correct 1, suggestion 0.5 (0 on the last frame), abstain 0, junk 0
        assert entry["outcome/correct"] == 0.25 and entry["outcome/unparsable"] == 0.25
        assert entry["outcome/abstain"] == 0.25
        assert entry["reward"] == pytest.approx(0.25 + 0.5 * entry["outcome/useful_suggestion"])
    assert reward_curve(trainer.state.log_history) == [e["reward"] for e in steps]


def _per_image(pixels, grid_thw):
    """Split flattened Qwen-VL patches into one bytes blob per image (its grid's patch count)."""
    sizes = [int(t * h * w) for t, h, w in grid_thw.tolist()]
    return [chunk.float().numpy().tobytes() for chunk in pixels.split(sizes)]


def _tool_call(name, arguments):
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call><|im_end|>"


def test_multi_turn_grpo_two_steps_every_revealed_image_reaches_the_forward_pass(
    fixture_root, tiny_model, tmp_path
):
    import torch

    args = _args(
        fixture_root,
        model=tiny_model,
        recipe="multi-turn",
        max_steps=2,
        num_generations=8,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        learning_rate=1e-2,
        max_completion_length=2048,
    )
    rows = build_rows(["QuickDraw"], env_kwargs(args, "test"), None, 1, seed=0)  # the first frame only
    trainer = make_trainer(args, tiny_model, rows_to_dataset(rows), tmp_path / "trainer")
    response_id = trainer.processing_class.tokenizer.convert_tokens_to_ids("<tool_response>")

    def policy(i, ids):  # even rollouts: two interventions then the right answer; odd ones: a wrong guess
        seen = ids.count(response_id)
        if seen == 0:
            return (
                _tool_call("intervene", {"action": "Add more details."})
                if i % 2 == 0
                else "C. Cup.<|im_end|>"
            )
        if seen == 1:
            return _tool_call("intervene", {"action": "Add more details."})
        if seen == 2:
            return _tool_call("answer", {"category": "Cat."})
        return "<|im_end|>"

    script_sampler(trainer, policy)
    expected, seen_pixels, rewards = [], [], []
    reward_fn = trainer.reward_funcs[0]

    def recording_reward(**kwargs):
        values = reward_fn(**kwargs)
        rewards.append(values)
        expected.append(
            [
                list(imgs) + list(env.revealed)
                for imgs, env in zip(kwargs["images"], kwargs["environments"], strict=True)
            ]
        )
        return values

    recording_reward.__name__ = "env_reward"
    trainer.reward_funcs[0] = recording_reward
    visual = next(m for n, m in trainer.model.named_modules() if n.endswith("visual"))

    def record_pixels(module, args, kwargs):
        if torch.is_grad_enabled():  # the training forward (sampling is scripted and runs no model)
            pixels = args[0] if args else kwargs["hidden_states"]
            grid = args[1] if len(args) > 1 else kwargs["grid_thw"]
            seen_pixels.append(_per_image(pixels.detach(), grid))

    visual.register_forward_pre_hook(record_pixels, with_kwargs=True)
    before = lora_snapshot(trainer)
    trainer.train()

    assert_only_lora_changed(before, trainer)
    assert rewards == [[1.0, 0.0] * 4, [1.0, 0.0] * 4]
    assert [[len(imgs) for imgs in step] for step in expected] == [[3, 1] * 4, [3, 1] * 4]
    assert len(seen_pixels) == 2  # one training forward per step, holding every image of every rollout
    processor = trainer.processing_class.image_processor
    for step_images, pixels in zip(expected, seen_pixels, strict=True):
        flat = [img for imgs in step_images for img in imgs]
        want = processor(images=flat, return_tensors="pt")
        # TRL shuffles the rollouts of a generation batch before the forward pass: compare as multisets.
        assert Counter(pixels) == Counter(_per_image(want["pixel_values"], want["image_grid_thw"]))
    # The revealed frames are the env's next frames (the fixture encodes the frame id in the red channel).
    revealed = expected[0][0][1:]
    assert [np.asarray(img)[0, 0, 0] for img in revealed] == [10, 20]  # frames 1 and 2 after frame 0
    assert [e["tools/call_frequency"] for e in trainer.state.log_history if "reward" in e] == [1.5, 1.5]


def test_multi_turn_round_without_any_new_image_trains(fixture_root, tiny_model, tmp_path):
    # Every rollout answers through the `answer` tool at once: no tool round reveals an image (TRL 1.16 fails
    # on this path unless the trainer turns the prompts' image fields into tensors).
    args = _args(
        fixture_root,
        model=tiny_model,
        recipe="multi-turn",
        max_steps=1,
        num_generations=8,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        max_completion_length=512,
    )
    rows = build_rows(["QuickDraw"], env_kwargs(args, "test"), None, 1, seed=0)
    trainer = make_trainer(args, tiny_model, rows_to_dataset(rows), tmp_path / "trainer")
    response_id = trainer.processing_class.tokenizer.convert_tokens_to_ids("<tool_response>")
    answers = ["Cat.", "Cup."]
    script_sampler(
        trainer,
        lambda i, ids: (
            "<|im_end|>" if ids.count(response_id) else _tool_call("answer", {"category": answers[i % 2]})
        ),
    )
    trainer.train()
    step = next(e for e in trainer.state.log_history if "reward" in e)
    assert (step["reward"], step["episode/solved"], step["episode/interventions"]) == (0.5, 0.5, 0.0)


# ----- warm-up, report, end to end -------------------------------------------------------------------------


def test_warmup_targets_mix_uniform_options_and_the_oracle(fixture_root):
    kwargs = env_kwargs(_args(fixture_root), "test")
    env = make_env("QuickDraw", kwargs)
    _, info = env.reset(options={"sample_id": 0})
    oracle = info["oracle"]
    assert oracle == QUICKDRAW_SUGGESTION

    def draws(fraction, reply_format="text", seed=0):
        rng = np.random.default_rng(seed)
        return [warmup_target(info["options"], oracle, fraction, rng, reply_format) for _ in range(600)]

    uniform = draws(0.0)
    assert uniform == draws(0.0)  # deterministic in the seed
    counts = {text: uniform.count(text) for text in sorted(set(uniform))}
    assert sorted(counts) == ["Add more details.", "Cat.", "Cup.", "I cannot tell.", "Lamp.", "Shoe."]
    assert all(70 <= c <= 130 for c in counts.values())  # 100 expected each
    lettered = draws(0.0, "letter")
    assert sorted(set(lettered)) == [
        "A. Add more details.",
        "B. I cannot tell.",
        "C. Cup.",
        "D. Cat.",
        "E. Lamp.",
        "F. Shoe.",
    ]
    assert [t.split(". ", 1)[1] for t in lettered] == uniform  # same draws, other form
    for text in uniform[:6] + lettered[:6]:  # every target is a reply the env parses
        env.reset(options={"sample_id": 0})
        assert env.step(text)[4]["outcome"] != "unparsable"
    assert 380 <= draws(0.6).count("Add more details.") <= 440  # 0.6 * 600 + 0.4 * 600 / 6 = 400 expected
    assert draws(1.0, "letter") == [oracle] * 600
    rows = build_rows(["QuickDraw"], kwargs, None, 3, seed=0)
    assert oracle_replies(rows, kwargs) == [QUICKDRAW_SUGGESTION, QUICKDRAW_SUGGESTION, "D. Cat."]


def test_knowledge_rows_are_reference_states_with_the_correct_category(fixture_root):
    kwargs = env_kwargs(_args(fixture_root), "test")
    rows = knowledge_rows(["QuickDraw", "ROD"], kwargs, 5, seed=0, reply_format="mixed")
    assert [(r["scenario"], r["sample_id"], r["target"]) for r in rows] == [
        ("QuickDraw", 0, "Cat."),
        ("ROD", 0, "Vase."),
        ("ROD", 1, "Banana."),
    ]
    assert json.loads(rows[0]["options"]) == ["Cup.", "Cat.", "Lamp.", "Shoe."]  # categories only
    assert all(r["replies"] == "[]" and len(r["images"]) == 1 for r in rows)
    for row in rows:  # the prompt is the reference env's, and its target is what that env scores correct
        env = make_env(row["scenario"], {**kwargs, "reference": True})
        obs, _ = env.reset(options={"sample_id": row["sample_id"]})
        assert row["prompt"][0]["content"][1]["text"] == obs["dialogue"]
        assert np.array_equal(np.asarray(row["images"][0]), obs["image"])
        assert env.step(row["target"])[4]["outcome"] == "correct"
    again = knowledge_rows(["QuickDraw", "ROD"], kwargs, 5, seed=0, reply_format="mixed")
    assert [{k: v for k, v in r.items() if k != "images"} for r in again] == [
        {k: v for k, v in r.items() if k != "images"} for r in rows
    ]
    one = knowledge_rows(["COCO"], kwargs, 2, seed=0)
    assert [r["sample_id"] for r in one] == [r["sample_id"] for r in knowledge_rows(["COCO"], kwargs, 2, 0)]
    assert len(one) == 2 and len({r["sample_id"] for r in one}) == 2
    assert [r["target"] for r in knowledge_rows(["QuickDraw"], kwargs, 5, 0, "letter")] == ["B. Cat."]


def test_vision_pretraining_trains_the_vision_tower_only(fixture_root, tmp_path):
    pytest.importorskip("trl")
    import torch
    from safetensors.torch import load_file

    from proactive_gym.models import build_tiny_qwen3_vl

    model = build_tiny_qwen3_vl(tmp_path / "tiny", seed=0, image_size=128)
    assert json.loads((model / "processor_config.json").read_text())["image_processor"]["size"] == {
        "longest_edge": 128 * 128,
        "shortest_edge": 64 * 64,
    }
    kwargs = env_kwargs(_args(fixture_root), "test")
    rows = knowledge_rows(["QuickDraw", "ROD", "COCO"], kwargs, 5, seed=0, reply_format="mixed")
    args = _args(fixture_root, vision_pretrain_steps=3, vision_pretrain_batch_size=2)
    first = vision_pretrain(model, rows, args, tmp_path / "a")
    seen = []
    again = vision_pretrain(
        model,
        rows,
        args,
        tmp_path / "b",
        on_step=lambda step, m, head, classes, p: seen.append((step, classes)),
    )
    assert seen == [(k, sorted({r["target"] for r in rows})) for k in (1, 2, 3)]
    before, after = load_file(model / "model.safetensors"), load_file(first / "model.safetensors")
    assert before.keys() == after.keys()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    vision = {k for k in before if ".visual." in k}
    assert changed and changed <= vision  # the language model and the embeddings are untouched
    assert any("patch_embed" in k for k in changed)
    assert all(torch.equal(after[k], t) for k, t in load_file(again / "model.safetensors").items())
    assert (first / "processor_config.json").read_text() == (model / "processor_config.json").read_text()
    with pytest.raises(ValueError, match="image_size must be a multiple of 32"):
        build_tiny_qwen3_vl(tmp_path / "bad", image_size=48)


def test_mixed_reply_form_letters_suggestions_and_names_categories(fixture_root):
    kwargs = env_kwargs(_args(fixture_root), "test")
    env = make_env("QuickDraw", kwargs)
    _, info = env.reset(options={"sample_id": 0})
    options = list(info["options"])
    forms = [reply_form(options, j, "mixed") for j in range(len(options))]
    assert forms == ["A.", "B.", "Cup.", "Cat.", "Lamp.", "Shoe."]
    assert options[1] == "I cannot tell."  # suggest-letter: only the suggestion is a letter
    assert [reply_form(options, j, "suggest-letter") for j in range(len(options))] == [
        "A.",
        "I cannot tell.",
        "Cup.",
        "Cat.",
        "Lamp.",
        "Shoe.",
    ]
    assert reply_form(options, 3, "letter") == "D. Cat." and reply_form(options, 0, "text") == options[0]
    outcomes = []
    for reply in forms[:2] + ["Cat.", "I cannot tell."]:
        env.reset(options={"sample_id": 0})
        outcomes.append(env.step(reply)[4]["outcome"])
    assert outcomes == ["useful_suggestion", "abstain", "correct", "abstain"]


def test_before_after_table_marks_in_domain_and_held_out():
    before = {
        "QuickDraw": {"acc": 10.0, "psr": 0.5},
        "ROD": {"acc": 0.0, "psr": 0.0},
        "COCO": {"acc": 20.0, "psr": 1.0},
    }
    after = {
        "QuickDraw": {"acc": 30.0, "psr": 1.5},
        "ROD": {"acc": 12.5, "psr": 2.0},
        "COCO": {"acc": 40.0, "psr": 1.0},
    }
    assert before_after_table(before, after, ["QuickDraw", "COCO"]).splitlines() == [
        "| scenario | split | acc before | acc after | psr before | psr after |",
        "|---|---|---|---|---|---|",
        "| ROD | held-out | 0.0 | 12.5 | 0.00 | 2.00 |",
        "| QuickDraw | in-domain | 10.0 | 30.0 | 0.50 | 1.50 |",
        "| COCO | in-domain | 20.0 | 40.0 | 1.00 | 1.00 |",
        "| mean | in-domain | 15.0 | 35.0 | 0.75 | 1.25 |",
        "| mean | held-out | 0.0 | 12.5 | 0.00 | 2.00 |",
    ]
    changes = {
        "ROD": {"gained": 5, "lost": 1},
        "QuickDraw": {"gained": 8, "lost": 0},
        "COCO": {"gained": 9, "lost": 1},
    }
    assert before_after_table(before, after, ["QuickDraw", "COCO"], changes).splitlines()[::2] == [
        "| scenario | split | acc before | acc after | psr before | psr after | episodes gained | episodes lost |",
        "| ROD | held-out | 0.0 | 12.5 | 0.00 | 2.00 | 5 | 1 |",
        "| COCO | in-domain | 20.0 | 40.0 | 1.00 | 1.00 | 9 | 1 |",
        "| mean | held-out | 0.0 | 12.5 | 0.00 | 2.00 | 5 | 1 |",
    ]
    assert before_after_table(before, after, ["QuickDraw", "COCO"], changes).splitlines()[5] == (
        "| mean | in-domain | 15.0 | 35.0 | 0.75 | 1.25 | 17 | 1 |"
    )
    assert tenths([0.0] * 10 + [1.0] * 10) == {"first_tenth": 0.0, "last_tenth": 1.0, "gain": 1.0}
    history = [{"reward": 0.0, "outcome/abstain": 0.5, "loss": 1.0}] * 10 + [
        {"reward": 1.0, "outcome/abstain": 0.0}
    ] * 10
    assert by_tenth(history + [{"train_runtime": 3.0}]) == {
        "outcome/abstain": [0.5] * 5 + [0.0] * 5,
        "reward": [0.0] * 5 + [1.0] * 5,
    }


def test_run_end_to_end_writes_adapter_table_and_config(fixture_root, tiny_model, tmp_path):
    args = _args(
        fixture_root,
        model=tiny_model,
        out=str(tmp_path / "run"),
        train_envs="QuickDraw",
        eval_envs="MVP-N",
        max_steps=2,
        num_generations=4,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        max_completion_length=8,
        sft_steps=2,
        sft_batch_size=2,
        eval_max_episodes=1,
        eval_max_new_tokens=8,
    )
    summary = run(args)
    out = Path(args.out)
    assert (out / "adapter" / "adapter_config.json").exists() and (
        out / "warmup-model" / "config.json"
    ).exists()
    assert sorted(summary["before"]) == ["MVP-N", "QuickDraw"] == sorted(summary["after"])
    assert summary["in_domain"] == ["QuickDraw"] and summary["held_out"] == ["MVP-N"]
    table = (out / "adapter" / "before_after.md").read_text()
    assert "episodes gained | episodes lost |" in table
    assert sorted(summary["episodes_changed"]) == ["MVP-N", "QuickDraw"]
    assert "| MVP-N | held-out |" in table and "| QuickDraw | in-domain |" in table
    saved = json.loads((out / "adapter" / "before_after.json").read_text())
    assert saved["config"]["lora_r"] == 16 and saved["config"]["train_envs"] == "QuickDraw"
    assert len(saved["reward"]["curve"]) == 2
    assert saved["versions"]["trl"] == metadata.version("trl")
    assert saved["versions"]["torch"] == metadata.version("torch")
    config = json.loads((out / "adapter" / "run_config.json").read_text())
    assert config["env_kwargs"]["reward"] == {"correct": 1.0, "useful_suggestion": 0.5}
    assert json.loads((out / "eval-after" / "config.json").read_text())["agent_options"]["adapter"] == str(
        out / "adapter"
    )
    base = config["base_model"]
    assert (base["name_or_path"], base["relative_to_adapter"]) == (
        str(out / "warmup-model"),
        "../warmup-model",
    )
    # The run directory moves: the adapter still finds its base through the recorded relative path.
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    moved = shutil.move(str(out), str(tmp_path / "moved"))
    adapter = Path(moved) / "adapter"
    model = AutoModelForImageTextToText.from_pretrained(str(adapter / base["relative_to_adapter"]))
    assert PeftModel.from_pretrained(model, str(adapter)).peft_config["default"].r == 16


def test_paired_changes_count_the_episodes_that_flipped(tmp_path):
    def write(run, outcomes):
        run.mkdir()
        lines = [json.dumps({"scenario": s, "sample_id": i, "outcome": o}) for (s, i), o in outcomes.items()]
        (run / "episodes.jsonl").write_text("\n".join(lines) + "\n")

    write(
        tmp_path / "before",
        {("ROD", 0): "correct", ("ROD", 1): "wrong_answer", ("ROD", 2): "abstain", ("COCO", 0): "correct"},
    )
    write(
        tmp_path / "after",
        {("ROD", 0): "wrong_answer", ("ROD", 1): "correct", ("ROD", 2): "correct", ("COCO", 0): "correct"},
    )
    assert paired_changes(tmp_path / "before", tmp_path / "after") == {
        "COCO": {"gained": 0, "lost": 0},
        "ROD": {"gained": 2, "lost": 1},
    }

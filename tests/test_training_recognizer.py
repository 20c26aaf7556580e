"""The CPU demo's frozen recognizer (proactive_gym/training/recognizer.py): its line, the rows that carry it,
the warm-up targets that copy it, the scripted policy on it, and the no-leak rule (fit on clear frames of a
train split only)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from training_helpers import fixture_args

from proactive_gym.baselines.perception import Classifier, PerceptionModel, _read_entries, clear_frames
from proactive_gym.scenarios import SCENARIOS
from proactive_gym.training.args import Args, parse_args
from proactive_gym.training.checks import UsageError, check_args
from proactive_gym.training.recognizer import (
    HintedAgent,
    Recognizer,
    RecognizerPolicy,
    confidence_digit,
    first_suggestion,
    hint_line,
    train_root,
    with_line,
)
from proactive_gym.training.rows import build_rows, env_kwargs
from proactive_gym.training.warmup import hint_target

OPTIONS = ["Add more details.", "I cannot answer.", "Cat.", "Dog.", "Vase.", "Tree."]


class FixedClassifier:
    """Stands in for a fit Classifier: always the same (best, p)."""

    def __init__(self, best, p):
        self.result = (best, p)

    def best(self, image, candidates):
        assert list(candidates) == OPTIONS[-4:]
        return self.result


def test_confidence_digit_is_floor_of_ten_p_capped_at_nine():
    assert [confidence_digit(p) for p in (0.0, 0.099, 0.1, 0.349, 0.89999, 0.9, 0.95, 1.0)] == [
        0,
        0,
        1,
        3,
        8,
        9,
        9,
        9,
    ]


def test_line_names_best_category_confidence_and_first_non_abstain_suggestion():
    assert first_suggestion(OPTIONS) == 0
    assert first_suggestion(["I cannot answer.", "Move left.", *OPTIONS[-4:]]) == 1
    assert first_suggestion(["I do not know.", *OPTIONS[-4:]]) is None
    assert hint_line(4, 0.87, 0) == "Recognizer: E (8). Suggestion: A."
    assert hint_line(2, 0.93, None) == "Recognizer: C (9). Suggestion: none."
    rec = Recognizer({"QuickDraw": FixedClassifier("Vase.", 0.87)})
    image = np.zeros((4, 4, 3), np.uint8)
    assert rec.read(image, OPTIONS, "QuickDraw") == {"answer": 4, "p": 0.87, "confidence": 8, "suggestion": 0}
    assert rec.line(image, OPTIONS, "QuickDraw") == "Recognizer: E (8). Suggestion: A."
    obs = {"image": image, "dialogue": "Which object?\nA. Add more details."}
    assert with_line(obs, "Recognizer: E (8). Suggestion: A.")["dialogue"] == (
        "Which object?\nA. Add more details.\nRecognizer: E (8). Suggestion: A."
    )
    assert obs["dialogue"] == "Which object?\nA. Add more details."  # the env's observation is not changed


class Echo:
    name = "echo"

    def act(self, observations, infos):
        return [obs["dialogue"].splitlines()[-1] for obs in observations]

    def close(self):
        self.closed = True

    def describe(self):
        return {"name": self.name}


def test_hinted_agent_shows_the_line_and_the_policy_answers_only_when_confident():
    image = np.zeros((4, 4, 3), np.uint8)
    info = {"options": OPTIONS, "scenario": "QuickDraw"}
    sure = Recognizer({"QuickDraw": FixedClassifier("Dog.", 0.95)})
    unsure = Recognizer({"QuickDraw": FixedClassifier("Dog.", 0.85)})
    inner = Echo()
    agent = HintedAgent(inner, unsure)
    assert agent.act([{"image": image, "dialogue": "Q"}], [info]) == ["Recognizer: D (8). Suggestion: A."]
    assert agent.name == "echo+recognizer" and agent.describe()["prompt_line"] == "recognizer"
    agent.close()
    assert inner.closed
    assert RecognizerPolicy(sure).act([{"image": image}], [info]) == ["D."]
    assert RecognizerPolicy(unsure).act([{"image": image}], [info]) == ["A."]
    assert RecognizerPolicy(unsure, threshold=8).act([{"image": image}], [info]) == ["D."]
    no_suggestion = {"options": ["I cannot answer.", *OPTIONS[-4:]], "scenario": "QuickDraw"}
    assert RecognizerPolicy(Recognizer({"QuickDraw": FixedClassifier("Dog.", 0.1)})).act(
        [{"image": image}], [no_suggestion]
    ) == ["C."]  # nothing to ask for: answer


def test_hint_targets_answer_with_probability_confidence_over_nine():
    rng = np.random.default_rng(0)
    sure = {"answer": "E", "confidence": 9, "suggestion": "A"}
    unsure = {"answer": "E", "confidence": 0, "suggestion": "A"}
    assert [hint_target(sure, rng) for _ in range(5)] == ["E."] * 5
    assert [hint_target(unsure, rng) for _ in range(5)] == ["A."] * 5
    assert hint_target({**sure, "answer": None}, rng) == "A."
    half = {"answer": "C", "confidence": 3, "suggestion": "B"}
    rng = np.random.default_rng(7)
    draws = [hint_target(half, rng) for _ in range(900)]
    rng = np.random.default_rng(7)
    expected = ["C." if rng.random() < 3 / 9 else "B." for _ in range(900)]
    assert draws == expected
    assert 250 < draws.count("C.") < 350  # about a third


def test_category_classifiers_are_fit_on_clear_train_frames_only(fixture_root):
    """The no-leak rule: each recognizer classifier is exactly a ridge fit on its scenario's clear frames
    (reference frame; COCO also the last crop) of the given root, and the recognizer keeps nothing else
    (the clarity gates and the fix classifier, which see unclear frames, are dropped)."""
    names = ["QuickDraw", "COCO", "ROD"]
    model = PerceptionModel.train(fixture_root, names)
    for name in names:
        scenario = SCENARIOS[name]
        images, labels = [], []
        for entry in _read_entries(fixture_root, scenario.prefix):
            for image in clear_frames(scenario, fixture_root, entry):
                images.append(image)
                labels.append(entry["answer"])
        expected = Classifier().fit(images, labels)
        got = model.categories[name]
        assert got.labels == expected.labels
        assert np.array_equal(got.weights, expected.weights) and np.array_equal(got.bias, expected.bias)
    rec = Recognizer(model.categories)
    assert set(vars(rec)) == {"categories"} and sorted(rec.categories) == sorted(names)


def test_recognizer_learns_from_the_train_split_never_the_evaluation_split(tmp_path, monkeypatch):
    released = Args(data="released", data_root=str(tmp_path), train_split="train", eval_split="test")
    assert train_root(released) == tmp_path / "train"
    seen = {}

    def fake_ensure(split, *a, **k):
        seen["split"] = split
        return tmp_path / split

    monkeypatch.setattr("proactive_gym.data.synthetic.ensure_synthetic", fake_ensure)
    assert train_root(Args()) == tmp_path / "train" and seen == {"split": "train"}


def test_rows_carry_the_line_and_drop_states_without_a_suggestion(fixture_root):
    kwargs = env_kwargs(Args(data="released", data_root=str(fixture_root)), "test")
    plain = build_rows(["QuickDraw", "COCO"], kwargs, None, 3, 0)
    rec = Recognizer(PerceptionModel.train(fixture_root, ["QuickDraw", "COCO"]).categories)
    hinted = build_rows(["QuickDraw", "COCO"], kwargs, None, 3, 0, recognizer=rec)
    kept = [r for r in plain if first_suggestion(json.loads(r["options"])) is not None]
    dropped = [r for r in plain if first_suggestion(json.loads(r["options"])) is None]
    assert dropped and all(r["scenario"] == "COCO" and r["state"] == r["path_length"] for r in dropped)
    assert [(r["scenario"], r["sample_id"], r["state"]) for r in hinted] == [
        (r["scenario"], r["sample_id"], r["state"]) for r in kept
    ]
    for row, base in zip(hinted, kept, strict=True):
        hint = json.loads(row["hint"])
        line = f"Recognizer: {hint['answer']} ({hint['confidence']}). Suggestion: {hint['suggestion']}."
        text = row["prompt"][-1]["content"][-1]["text"]
        assert text == base["prompt"][-1]["content"][-1]["text"] + "\n" + line
        options = json.loads(row["options"])
        assert hint["suggestion"] == "ABCDEFGH"[first_suggestion(options)]
        image = np.asarray(row["images"][-1])
        assert line == rec.line(image, options, row["scenario"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"sft_reply_format": "hint"}, "add --recognizer"),
        ({"recognizer": True, "recipe": "multi-turn"}, "does not apply to --recipe multi-turn"),
    ],
)
def test_recognizer_settings_are_checked(overrides, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_args(Args(**overrides))


def test_recognizer_preset_trains_on_the_recognizer_line():
    demo = parse_args(["--preset", "cpu-demo-recognizer"])
    assert demo.recognizer and demo.sft_reply_format == "hint" and demo.reward_suggestion == 1.0
    assert (demo.knowledge_samples, demo.vision_pretrain_steps) == (0, 0)
    check_args(demo)


def test_run_with_the_recognizer_trains_and_evaluates_with_the_line(fixture_root, tiny_model, tmp_path):
    """A few GRPO steps through the whole run: hinted rows, the hint warm-up, the hinted evaluation."""
    from proactive_gym.training.run import run

    args = fixture_args(
        fixture_root,
        model=tiny_model,
        out=str(tmp_path / "run"),
        train_envs="QuickDraw,COCO",
        eval_envs="MVP-N",
        recognizer=True,
        sft_reply_format="hint",
        sft_steps=2,
        sft_batch_size=2,
        max_steps=2,
        num_generations=4,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        max_completion_length=4,
        eval_max_episodes=1,
        eval_max_new_tokens=4,
    )
    summary = run(args)
    out = tmp_path / "run"
    assert (out / "adapter" / "adapter_config.json").exists()
    assert sorted(summary["after"]) == ["COCO", "MVP-N", "QuickDraw"]
    assert len(summary["reward"]["curve"]) == 2
    for stage in ("eval-before", "eval-after"):
        agent = json.loads((out / stage / "config.json").read_text())["agent"]
        assert agent.endswith("+recognizer"), agent

"""proactive_gym/training/parquet.py and ``--data parquet`` of training/grpo.py, on tiny parquet files written here.

The files follow the schema the dataset card of tdemin16/ProactiveBench (split train) declares: ``prompt``
(chat messages, image parts with text null), ``ground_truth``, ``proactive_actions``, ``options``,
``images``, plus an extra confidence column that must be ignored. One file carries the labels as plain text
("Cat."), the other with letters ("E. Banana."), since we do not know which form the real files use.
"""

from __future__ import annotations

import json
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from proactive_gym.config import OUTCOMES
from proactive_gym.protocol import render_prompt

pytest.importorskip("datasets")

from training_helpers import REPO, script_sampler

from proactive_gym.training import parquet as pdata
from proactive_gym.training import run as training_run
from proactive_gym.training.args import Args
from proactive_gym.training.checks import UsageError, check_args
from proactive_gym.training.rewards import ParquetReward
from proactive_gym.training.rows import build_rows, env_kwargs, make_env, rows_to_dataset

QD = ["Add more details.", "I cannot tell.", "Cup.", "Cat.", "Lamp.", "Shoe."]
COCO = ["Move the camera up.", "I do not know.", "Move the camera to the left.", "Lemon.", "Banana."]
COCO += ["Cherry.", "Apple."]


def _image(value):
    from PIL import Image

    return Image.fromarray(np.full((8, 10, 3), value, dtype=np.uint8))


def _record(question, options, truth, actions, images=1, lettered=False, value=0):
    """One row of the declared schema; ``lettered`` writes truth, actions and options with their letters."""

    def with_letter(text):
        return f"{chr(65 + options.index(text))}. {text}" if lettered else text

    content = [{"type": "image", "text": None}] * images
    content = content + [{"type": "text", "text": render_prompt(question, options)}]
    return {
        "prompt": [{"role": "user", "content": content}],
        "ground_truth": with_letter(truth),
        "proactive_actions": [with_letter(a) for a in actions],
        "options": [with_letter(o) for o in options],
        "images": [_image(value + k) for k in range(images)],
        "confidence_qwen": 0.5,
    }


def _write(path, records, drop=()):
    from datasets import Dataset, Features, Image, List, Value

    features = Features(
        {
            "prompt": List(
                {"content": List({"type": Value("string"), "text": Value("string")}), "role": Value("string")}
            ),
            "ground_truth": Value("string"),
            "proactive_actions": List(Value("string")),
            "options": List(Value("string")),
            "images": List(Image()),
            "confidence_qwen": Value("float32"),
        }
    )
    data = Dataset.from_list(records, features=features)
    data = data.remove_columns(list(drop)) if drop else data
    path.parent.mkdir(parents=True, exist_ok=True)
    data.to_parquet(str(path))
    return path


DRAWING = "What is the subject of this drawing?"
OBJECT = "What is the object in the image?"


def _qd_first(value=0):
    return _record(DRAWING, QD, "Cat.", ["Add more details."], value=value)


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    """data/train-00000 (text labels: 2 QuickDraw first frames, 1 QuickDraw last frame) and data/train-extra/
    train-00001 (letter labels: 2 COCO rows, 1 with an action no scenario knows)."""
    root = tmp_path_factory.mktemp("parquet") / "data"
    _write(
        root / "train-00000-of-00002.parquet",
        [_qd_first(0), _qd_first(10), _record(DRAWING, QD, "Lamp.", [], value=20)],
    )
    barrel = ["Do a barrel roll.", "I cannot tell.", "Cup.", "Cat.", "Lamp.", "Shoe."]
    _write(
        root / "train-extra" / "train-00001-of-00002.parquet",
        [
            _record(OBJECT, COCO, "Banana.", [COCO[0], COCO[2]], lettered=True, value=30),
            _record(OBJECT, COCO, "Apple.", [COCO[2]], lettered=True, value=40),
            _record(OBJECT, barrel, "Cup.", ["Do a barrel roll."], lettered=True, value=50),
        ],
    )
    return root


# ----- rows ---------------------------------------------------------------------------------------------


def test_rows_follow_the_trainer_format_and_infer_the_scenario(train_dir):
    rows = pdata.load_parquet_rows(train_dir)
    assert [r["scenario"] for r in rows] == ["QuickDraw", "QuickDraw", "QuickDraw", "COCO", "COCO", "unknown"]
    assert [r["ground_truth"] for r in rows] == [
        "Cat.",
        "Cat.",
        "Lamp.",
        "E. Banana.",
        "G. Apple.",
        "C. Cup.",
    ]
    assert json.loads(rows[0]["proactive_actions"]) == ["Add more details."]
    assert json.loads(rows[2]["proactive_actions"]) == []  # last frame: the scenario comes from the options
    assert json.loads(rows[3]["proactive_actions"]) == [
        "A. Move the camera up.",
        "C. Move the camera to the left.",
    ]
    assert json.loads(rows[0]["options"]) == QD and json.loads(rows[3]["options"]) == COCO  # no letters
    assert set(rows[0]) == {"prompt", "images", "ground_truth", "proactive_actions", "options", "scenario"}
    for row, value in zip(rows, [0, 10, 20, 30, 40, 50], strict=True):
        content = row["prompt"][0]["content"]
        assert row["prompt"][0]["role"] == "user" and content[0] == {"type": "image", "text": None}
        assert content[1]["type"] == "text" and content[1]["text"].endswith("without any other words.")
        assert (
            len(row["images"]) == 1
            and np.asarray(row["images"][0]).tolist() == np.asarray(_image(value)).tolist()
        )
    # The same shape as the env rows: a datasets.Dataset takes them as they are.
    assert len(rows_to_dataset(rows)) == 6


def test_a_hub_snapshot_folder_gives_its_train_shards_only(tmp_path):
    data = tmp_path / "snapshot" / "data"
    for name in ("train-00000-of-00001.parquet", "test-00000-of-00001.parquet", "mine.parquet"):
        _write(data / name, [_qd_first(0)])
    assert [f.name for f in pdata.parquet_files(tmp_path / "snapshot")] == [
        "mine.parquet",  # not named as a hub shard: kept
        "train-00000-of-00001.parquet",
    ]
    assert len(pdata.load_parquet_rows(tmp_path / "snapshot")) == 2
    (data / "train-00000-of-00001.parquet").unlink()
    (data / "mine.parquet").unlink()
    with pytest.raises(
        pdata.ParquetDataError,
        match=r"no train .parquet file under .*snapshot \(only shards of the split\(s\) test\)",
    ):
        pdata.parquet_files(tmp_path / "snapshot")


def test_subsampling_is_seeded_and_deterministic(train_dir):
    def pick(seed, n=3):
        return [
            (r["ground_truth"], np.asarray(r["images"][0])[0, 0, 0])
            for r in pdata.load_parquet_rows(train_dir, n, seed)
        ]

    assert pick(0) == pick(0) and len(pick(0)) == 3
    assert len({tuple(pick(s)) for s in range(6)}) > 1  # the seed picks
    everything = pick(0, 6)
    assert pick(1, 10) == everything and len(everything) == 6  # as many as there are or more: all
    assert all(everything.index(a) < everything.index(b) for a, b in pairwise(pick(3)))  # file order


def test_several_images_and_a_mismatch_with_the_placeholders(tmp_path):
    two = _record(DRAWING, QD, "Cat.", ["Add more details."], images=2, value=7)
    rows = pdata.load_parquet_rows(_write(tmp_path / "two.parquet", [two]))
    assert [p["type"] for p in rows[0]["prompt"][0]["content"]] == ["image", "image", "text"]
    assert [np.asarray(i)[0, 0, 0] for i in rows[0]["images"]] == [7, 8]
    bad = {**two, "images": two["images"][:1]}
    file = _write(tmp_path / "bad.parquet", [_qd_first(), bad])
    with pytest.raises(
        pdata.ParquetDataError,
        match=r"bad.parquet, row 1: the prompt has 2 image part\(s\) but the row has 1",
    ):
        pdata.load_parquet_rows(file)


def test_a_ground_truth_not_shown_is_refused_with_its_row(tmp_path):
    file = _write(tmp_path / "t.parquet", [_qd_first(), {**_qd_first(), "ground_truth": "Dog."}])
    with pytest.raises(
        pdata.ParquetDataError, match=r"t.parquet, row 1: ground_truth 'Dog.' is not among the options"
    ):
        pdata.load_parquet_rows(file)


def test_shown_options_come_from_the_prompt_else_from_the_options_column(tmp_path):
    # The options column holds only the categories: the prompt's lettered list is what the model saw.
    categories_only = {**_qd_first(), "options": ["Cup.", "Cat.", "Lamp.", "Shoe."]}
    # No lettered list in the prompt: the options column (letters dropped) is used.
    plain = _record(DRAWING, QD, "Cat.", ["Add more details."], lettered=True)
    plain["prompt"] = [
        {"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": "?"}]}
    ]
    rows = pdata.load_parquet_rows(_write(tmp_path / "t.parquet", [categories_only, plain]))
    assert json.loads(rows[0]["options"]) == json.loads(rows[1]["options"]) == QD
    assert pdata.options_in_prompt(render_prompt("Q?", ["Go.", "B. Dog."])) == ["Go.", "B. Dog."]
    assert pdata.options_in_prompt("Options:\nB. Dog.") is None  # must start at A


def test_scenario_inference_from_action_keywords():
    assert pdata.infer_scenario(["Show me more of the drawing."]) == "QuickDraw"
    assert pdata.infer_scenario(["B. Move farther from the object.", "I cannot tell."]) == "COCO"
    assert pdata.infer_scenario(["Move the camera to the left."]) == "COCO"  # ROD's keywords fit too
    assert pdata.infer_scenario(["Increase the contrast."]) == "ImageNet-C"
    assert pdata.infer_scenario(["Rotate the object."]) == "MVP-N"
    assert pdata.infer_scenario(["Rewind the video."]) == "unknown"  # VSOD or ChangeIt
    assert pdata.infer_scenario(["Add more details.", "Move the camera up."]) == "unknown"
    assert pdata.infer_scenario([]) == pdata.infer_scenario(["I do not know."]) == "unknown"


# ----- the reward -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Cat.", (1.0, "correct")),
        ("D. Cat.", (1.0, "correct")),
        ("D.", (1.0, "correct")),  # a bare letter resolves by position
        ("Add more details.", (0.75, "useful_suggestion")),
        ("A.", (0.75, "useful_suggestion")),
        ("B. I cannot tell.", (0.0, "abstain")),
        ("B.", (0.0, "abstain")),
        ("Cup.", (0.0, "wrong_answer")),
        ("C.", (0.0, "wrong_answer")),
        ("a cat, I think", (0.0, "unparsable")),
        ("Cat", (0.0, "unparsable")),  # strict: the trailing period counts, as in the env
        ("G.", (0.0, "unparsable")),
        ("", (0.0, "unparsable")),
    ],
)
@pytest.mark.parametrize("lettered", [False, True])
def test_score_reply(reply, expected, lettered):
    record = _record(DRAWING, QD, "Cat.", ["Add more details."], lettered=lettered)
    assert (
        pdata.score_reply(
            reply, record["options"], record["ground_truth"], record["proactive_actions"], 1.0, 0.75
        )
        == expected
    )
    assert expected[1] in OUTCOMES


def test_score_reply_useless_suggestion_and_case():
    # Last frame: the suggestion is still shown but is not a proactive action any more.
    assert pdata.score_reply("Add more details.", QD, "cat", [], 1.0, 0.5) == (0.0, "useless_suggestion")
    assert pdata.score_reply("D.", QD, " D. cat ", [], 1.0, 0.5) == (1.0, "correct")  # letter, case, spaces
    # The paper rewards abstaining 0, even if the data listed the abstain option among the actions.
    assert pdata.score_reply("I cannot tell.", QD, "Cat.", ["I cannot tell."], 1.0, 0.5) == (0.0, "abstain")


def test_score_reply_agrees_with_the_env(fixture_root):
    """On every state of the fixture's QuickDraw and COCO episodes, and every shown option in three forms,
    score_reply (labels read off the env) gives the env's own outcome."""
    kwargs = {"split": "test", "data": "released", "data_root": str(fixture_root)}
    rows = build_rows(["QuickDraw", "COCO"], kwargs, None, 4, seed=0)
    checked = 0
    for row in rows:
        env = make_env(row["scenario"], kwargs)
        state = {"sample_id": row["sample_id"], "replies": json.loads(row["replies"])}
        options = json.loads(row["options"])

        def outcome(reply, env=env, state=state):
            env.reset(options=state)
            return env.step(reply)[4]["outcome"]

        truth = next(o for o in options if outcome(o) == "correct")
        useful = [o for o in options if outcome(o) == "useful_suggestion"]
        for j, option in enumerate(options):
            for reply in (option, f"{chr(65 + j)}.", f"{chr(65 + j)}. {option}", "junk"):
                assert pdata.score_reply(reply, options, truth, useful, 1.0, 0.5)[1] == outcome(reply)
                checked += 1
    assert checked > 100


def test_parquet_reward_logs_outcome_shares(train_dir):
    rows = pdata.load_parquet_rows(train_dir)[:1] * 4
    logged = {}
    reward = ParquetReward(1.0, 0.75)
    values = reward(
        completions=[[{"role": "assistant", "content": r}] for r in ["D. Cat.", "A.", "B.", "zzz"]],
        options=[r["options"] for r in rows],
        ground_truth=[r["ground_truth"] for r in rows],
        proactive_actions=[r["proactive_actions"] for r in rows],
        log_metric=logged.__setitem__,
        prompts=[None] * 4,
    )
    assert values == [1.0, 0.75, 0.0, 0.0]
    assert logged == {f"outcome/{name}": 0.0 for name in OUTCOMES} | {
        "outcome/correct": 0.25,
        "outcome/useful_suggestion": 0.25,
        "outcome/abstain": 0.25,
        "outcome/unparsable": 0.25,
    }


# ----- arguments ---------------------------------------------------------------------------------------------


def _args(**overrides):
    return Args(**{"model": "tiny", "report_to": "none", "data": "parquet", **overrides})


def test_bad_parquet_arguments_get_one_clear_message(train_dir, tmp_path):
    _write(tmp_path / "no-options" / "train-0.parquet", [_qd_first()], drop=("options", "images"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    cases = [
        ({}, "--data parquet needs --train-data PATH"),
        (
            {"train_data": str(tmp_path / "nowhere")},
            f"--train-data: no such file or folder: {tmp_path / 'nowhere'}",
        ),
        (
            {"train_data": str(tmp_path / "empty")},
            f"--train-data: no .parquet file under {tmp_path / 'empty'}",
        ),
        ({"train_data": str(tmp_path / "notes.txt")}, "--train-data: .*notes.txt is not a .parquet file"),
        (
            {"train_data": str(tmp_path / "no-options")},
            r"--train-data: .*no-options/train-0.parquet has no column 'options', 'images'; expected the authors' "
            r"train split of the Hugging Face dataset tdemin16/ProactiveBench",
        ),
        (
            {"train_data": str(train_dir), "sft_steps": 5},
            "--sft-steps: the format warm-up .* use --sft-steps 0",
        ),
        (
            {"train_data": str(train_dir), "recipe": "multi-turn"},
            "--data parquet trains the single-turn recipe only",
        ),
        (
            {"train_data": str(train_dir), "data": "synthetic"},
            "--train-data is read only with --data parquet",
        ),
        ({"train_data": str(train_dir), "max_train_samples": 0}, "--max-train-samples must be at least 1"),
    ]
    for overrides, message in cases:
        with pytest.raises(UsageError, match=message):
            check_args(_args(**overrides))
    check_args(_args(train_data=str(train_dir)))  # fine
    check_args(_args(train_data=str(train_dir / "train-00000-of-00002.parquet")))


def test_main_refuses_a_missing_path_before_loading_anything(tmp_path):
    import subprocess

    code = (
        "import sys; from proactive_gym.training.run import main; "
        f"rc = main(['--data', 'parquet', '--train-data', {str(tmp_path / 'nowhere')!r}, '--model', 'tiny']); "
        "print(rc, sorted(m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2 []"
    assert out.stderr.strip() == f"error: --train-data: no such file or folder: {tmp_path / 'nowhere'}"


def test_evaluation_envs_stay_synthetic_or_released():
    assert env_kwargs(_args(train_data="x"), "test")["data"] == "synthetic"
    released = env_kwargs(_args(train_data="x", data_root="/d"), "test")
    assert (released["data"], released["data_root"]) == ("released", "/d")


# ----- one GRPO step ---------------------------------------------------------------------------------------------


def test_run_one_grpo_step_on_parquet_rows(tiny_model, tmp_path, monkeypatch):
    """run() with --data parquet: rows from the file, ParquetReward, one GRPO step on the tiny model whose
    rollout text is scripted (as in test_training.py: a random model only emits junk)."""
    file = _write(tmp_path / "train.parquet", [_qd_first(0), _qd_first(10)])
    script = ["D. Cat.", "Add more details.", "I cannot tell.", "zzz"]
    made = []

    def scripted(*args, **kwargs):
        trainer = real(*args, **kwargs)
        script_sampler(trainer, lambda i, _: script[i % 4] + "<|im_end|>")
        made.append(trainer)
        return trainer

    real = training_run.make_trainer
    monkeypatch.setattr(training_run, "make_trainer", scripted)
    args = _args(
        model=tiny_model,
        train_data=str(file),
        out=str(tmp_path / "run"),
        max_steps=1,
        num_generations=4,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        max_completion_length=8,
        reward_suggestion=0.75,
        skip_eval=True,
    )
    summary = training_run.run(args)
    assert isinstance(made[0].reward_funcs[0], ParquetReward)
    assert summary["train_rows"] == 2 and summary["reward"]["curve"] == [pytest.approx(0.25 + 0.25 * 0.75)]
    step = next(e for e in made[0].state.log_history if "reward" in e)
    assert [step[f"outcome/{n}"] for n in ("correct", "useful_suggestion", "abstain", "unparsable")] == [
        0.25
    ] * 4
    assert (Path(args.out) / "adapter" / "adapter_config.json").exists()

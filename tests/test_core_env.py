"""The Gymnasium contract over the whole registry, bad input, data errors, subsets and env settings."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import proactive_gym
from proactive_gym.data import DataError
from proactive_gym.data import subsets as subsets_mod
from proactive_gym.data.fixtures import write_fixture

ALL = list(proactive_gym.SCENARIOS)


def test_registry_has_the_seven_ids():
    assert proactive_gym.ENV_IDS == [f"ProactiveBench/{n}-v0" for n in ALL]
    assert all(env_id in gym.registry for env_id in proactive_gym.ENV_IDS)


@pytest.mark.parametrize("name", ALL)
def test_check_env(make_env, name):
    env = make_env(name, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        check_env(env.unwrapped)


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_trajectory_and_pickling(make_env, name):
    def run(env, seed):
        rng = np.random.default_rng(seed)
        obs, info = env.reset(seed=seed)
        trace = [(obs["dialogue"], obs["image"].tobytes(), json.dumps(info, sort_keys=True))]
        done = False
        while not done:
            shown = info["options"]
            reply = info["oracle"] if rng.random() < 0.7 else f"{chr(65 + int(rng.integers(len(shown))))}"
            obs, reward, terminated, truncated, info = env.step(reply)
            trace.append((obs["dialogue"], obs["image"].tobytes(), reward, json.dumps(info, sort_keys=True)))
            done = terminated or truncated
        return trace

    a, b = make_env(name), make_env(name)
    for seed in range(4):
        assert run(a, seed) == run(b, seed)
    clone = pickle.loads(pickle.dumps(a))
    assert run(clone, 3) == run(a, 3)


def test_import_does_not_load_torch():
    code = "import sys, proactive_gym; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_make_with_module_prefix(fixture_root):
    env = gym.make("proactive_gym:ProactiveBench/QuickDraw-v0", data_root=fixture_root, subset="all")
    assert env.unwrapped.scenario.name == "QuickDraw"


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "x" * 1_000_000,
        "\x00\x01\x02\xff",
        "\ud800\udfff surrogate",
        "漢字 😀",
        b"\xff\xfe binary",
        None,
        42,
    ],
)
def test_any_reply_is_an_outcome_never_an_exception(make_env, reply):
    env = make_env("ROD")
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(reply)
    assert (info["outcome"], reward, terminated, truncated) == ("unparsable", 0.0, True, False)
    with pytest.raises(gym.error.ResetNeeded):
        env.step("A")
    json.dumps(info)


def test_reset_options_pin_and_replay(make_env):
    env = make_env("ChangeIt")
    obs1, info1 = env.reset(options={"sample_id": 0, "replies": ["A", "A"]})
    env2 = make_env("ChangeIt")
    env2.reset(options={"sample_id": 0})
    env2.step("A")
    obs2, *_, info2 = env2.step("A")
    assert info1 == info2 and obs1["dialogue"] == obs2["dialogue"]
    assert np.array_equal(obs1["image"], obs2["image"])
    with pytest.raises(ValueError, match="end the episode"):
        env.reset(options={"sample_id": 0, "replies": ["B"]})
    with pytest.raises(ValueError, match="already ended"):
        env.reset(options={"sample_id": 0, "replies": ["B", "A"]})
    with pytest.raises(ValueError, match="not an episode of ChangeIt"):
        env.reset(options={"sample_id": 99})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"sampleid": 0})


def test_info_fields(make_env):
    env = make_env("ROD")
    obs, info = env.reset(options={"sample_id": 0})
    assert info == {
        "sample_id": 0,
        "scenario": "ROD",
        "turn": 0,
        "max_turns": 14,
        "frame": 7,
        "image_path": "ROD/vase/s7.png",
        "options": [
            "Move the block to the left.",
            "I cannot tell.",
            "Move the block to the right.",
            "Cup.",
            "Vase.",
            "Lamp.",
            "Shoe.",
        ],
        "outcome": None,
        "chosen": None,
        "solved": False,
        "suggestions": [],
        "min_turns": 3,
        "oracle": "A. Move the block to the left.",
        "subset": "all",
        "data_source": "released",
        "split": "test",
        "mode": "mcqa",
    }


def test_reference_mode(make_env):
    env = make_env("ROD", reference=True)
    obs, info = env.reset(options={"sample_id": 0})
    assert obs["dialogue"].startswith(
        "What type of object is in the image? Choose from the following options. Options:\nA. Cup.\nB. Vase."
    )
    assert info["image_path"] == "ROD/vase/s5.png" and info["options"] == ["Cup.", "Vase.", "Lamp.", "Shoe."]
    obs, reward, terminated, truncated, info = env.step("B")
    assert (info["outcome"], reward, terminated) == ("correct", 1.0, True)
    env = make_env("MVP-N", reference=True)
    _, info = env.reset(options={"sample_id": 0})
    assert info["image_path"] == "MVP-N/p0/0001_1.png"
    env = make_env("COCO", reference=True)
    obs, info = env.reset(options={"sample_id": 0})
    assert obs["image"].shape == (90, 120, 3)
    _, _, _, _, info = env.step("A")
    assert info["outcome"] == "wrong_answer"


def test_open_mode(make_env):
    env = make_env("VSOD", mode="open")
    obs, info = env.reset(options={"sample_id": 0})
    assert (
        obs["dialogue"]
        == "This is a frame extracted from a video. Answer the following question. Who is talking?"
    )
    assert info["acceptable_answers"] == [
        "Wait for the occlusion to disappear",
        "Rewind the video",
        "Move the camera",
        "The man",
    ]
    assert info["n_suggestion_answers"] == 3
    obs, reward, terminated, truncated, info = env.step("Please wait a moment.")
    assert (reward, terminated, info["outcome"]) == (0.0, True, "unjudged")
    hinted = make_env("ROD", mode="open", hint=True).reset(seed=0)[0]["dialogue"]
    assert hinted == (
        "What is the object behind the blocks? If you cannot answer this question, please tell me what I should do to help you."
    )
    expected = {
        "ROD": ["Move the blocks", "Move the camera"],
        "MVP-N": ["Rotate the object", "Move the camera"],
        "ImageNet-C": ["Deblur the image", "Goldfish"],
        "QuickDraw": ["Add more details to the drawing", "Cat"],
        "ChangeIt": ["Wait for the object to appear", "Rewind the video", "Bike"],
        "COCO": ["Move the camera", "Move farther from the object", "Dog"],
    }
    for name, answers in expected.items():
        env = make_env(name, mode="open")
        _, info = env.reset(options={"sample_id": 0})
        assert info["acceptable_answers"] == answers, name


def test_open_mode_sample_order_is_the_papers_seeded_shuffle(make_env):
    import random

    env = make_env("ChangeIt", mode="open", open_samples=2)
    ids = [0, 1, 2]
    random.Random(0).shuffle(ids)
    assert env.unwrapped.sample_ids == ids[:2]


def test_history(make_env):
    env = make_env("ROD", history=True)
    obs, info = env.reset(options={"sample_id": 0})
    assert obs["history"] == () and obs["image"].shape == (224, 298, 3)
    obs, *_ = env.step("A")
    (turn,) = obs["history"]
    assert turn["reply"] == "A" and turn["dialogue"].startswith("What is the object behind the blocks?")
    assert turn["image"].shape == (224, 298, 3) and tuple(turn["image"][0, 0]) == (70, 0, 0)
    assert tuple(obs["image"][0, 0]) == (60, 0, 0)
    obs2, _ = env.reset(options={"sample_id": 0, "replies": ["A"]})
    assert np.array_equal(obs2["history"][0]["image"], turn["image"])
    assert env.observation_space.contains(obs2)
    messages = proactive_gym.protocol.to_messages(obs)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]


def test_render_modes(make_env):
    env = make_env("QuickDraw", render_mode="ansi")
    env.reset(options={"sample_id": 0})
    env.step("A")
    text = env.render()
    assert text.startswith("[QuickDraw sample 0 turn 1]\nWhat is this drawing?") and text.endswith(
        "> A\n= useful_suggestion"
    )
    env = make_env("QuickDraw", render_mode="rgb_array")
    obs, _ = env.reset(options={"sample_id": 0})
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (240, 8 + 420, 3)


# ----- bad data ---------------------------------------------------------------------------------------


def test_no_data_root_for_released(monkeypatch):
    monkeypatch.delenv("PROACTIVE_GYM_DATA", raising=False)
    with pytest.raises(DataError, match="data_root= or PROACTIVE_GYM_DATA"):
        gym.make("ProactiveBench/ROD-v0", data="released")


def test_env_var_data_root(monkeypatch, fixture_root):
    monkeypatch.setenv("PROACTIVE_GYM_DATA", str(fixture_root))
    env = gym.make("ProactiveBench/MVP-N-v0", subset="all")
    assert env.unwrapped.episodes.source == "released" and env.unwrapped.sample_ids == [0]


def test_missing_file(tmp_path):
    write_fixture(tmp_path, prefixes=["QuickDraw"])
    with pytest.raises(
        DataError,
        match=r"Realistic-Occlusion-Dataset_preprocessed.jsonl does not exist.*tdemin16/ProactiveBench",
    ):
        gym.make("ProactiveBench/ROD-v0", data_root=tmp_path)
    with pytest.raises(DataError, match="is not a directory"):
        gym.make("ProactiveBench/ROD-v0", data_root=tmp_path / "nope")


def test_malformed_line_is_named(tmp_path):
    write_fixture(tmp_path, prefixes=["Realistic-Occlusion-Dataset"])
    path = tmp_path / "Realistic-Occlusion-Dataset_preprocessed.jsonl"
    path.write_text(path.read_text() + '{"id": 5, "prompt": \n')
    with pytest.raises(
        DataError,
        match=r"Realistic-Occlusion-Dataset_preprocessed.jsonl: 1 problem\(s\) on 1 line\(s\):\n"
        r"  line 3: found text that is not valid JSON \(Expecting value at column 21\), expected one JSON "
        r"object per line\nFix these lines",
    ):
        gym.make("ProactiveBench/ROD-v0", data_root=tmp_path, subset="all")


def test_entry_missing_a_field(tmp_path):
    write_fixture(tmp_path, prefixes=["coco2014"])
    path = tmp_path / "coco2014_preprocessed.jsonl"
    lines = path.read_text().splitlines()
    entry = json.loads(lines[1])
    del entry["granularity"]
    lines[1] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError, match=r"  line 2, field 'granularity': found nothing, expected an integer from 1 to 499\n"
    ):
        gym.make("ProactiveBench/COCO-v0", data_root=tmp_path, subset="all")


def test_answer_not_in_categories(tmp_path):
    write_fixture(tmp_path, prefixes=["QuickDraw"])
    path = tmp_path / "QuickDraw_preprocessed.jsonl"
    entry = json.loads(path.read_text())
    entry["answer"] = "Dog."
    path.write_text(json.dumps(entry) + "\n")
    with pytest.raises(
        DataError,
        match=r"  line 1, field 'answer': found \"Dog.\" \(a string\), expected one of the categories "
        r"\[\"Cup.\", \"Cat.\", \"Lamp.\", \"Shoe.\"\]\n",
    ):
        gym.make("ProactiveBench/QuickDraw-v0", data_root=tmp_path, subset="all")


def test_image_template_pointing_nowhere(tmp_path):
    write_fixture(tmp_path, prefixes=["QuickDraw"])
    path = tmp_path / "QuickDraw_preprocessed.jsonl"
    entry = json.loads(path.read_text())
    entry["image_template"] = "QuickDraw/elsewhere/{image}.png"
    path.write_text(json.dumps(entry) + "\n")
    with pytest.raises(DataError, match=r"QuickDraw/elsewhere/0000.png not found \(sample 0.*image_template"):
        gym.make("ProactiveBench/QuickDraw-v0", data_root=tmp_path, subset="all")


def test_image_missing_mid_episode_is_a_clear_error(tmp_path):
    write_fixture(tmp_path, prefixes=["QuickDraw"])
    (tmp_path / "QuickDraw/cat/0001.png").unlink()
    env = gym.make("ProactiveBench/QuickDraw-v0", data_root=tmp_path, subset="all")
    env.reset(seed=0)
    with pytest.raises(DataError, match="0001.png not found"):
        env.step("A")


# ----- subsets ----------------------------------------------------------------------------------------


@pytest.fixture
def fake_proactivebench(tmp_path, monkeypatch):
    """A stand-in for the authors' package: a FILTER dict next to an import that would fail."""
    pkg = tmp_path / "site" / "proactivebench"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data_utils.py").write_text(
        "import torch_is_not_installed_here\n"
        'FILTER = {"OcclusionDataSet-MM20": [2], "ChangeIt": [0, 2], "Realistic-Occlusion-Dataset": [1],'
        ' "MVP-N": [0], "ImageNet-C": [0], "QuickDraw": [0], "coco2014": [1, 2]}\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    subsets_mod.paper_subset.cache_clear()
    yield
    subsets_mod.paper_subset.cache_clear()


def test_paper_subset_read_without_importing(fake_proactivebench, fixture_root):
    env = gym.make("ProactiveBench/ChangeIt-v0", data_root=fixture_root)  # subset="auto"
    assert env.unwrapped.sample_ids == [0, 2]
    _, info = env.reset(seed=0)
    assert info["subset"] == "paper"
    env = gym.make("ProactiveBench/VSOD-v0", data_root=fixture_root, subset="paper")
    assert env.unwrapped.sample_ids == [2]
    assert "proactivebench" not in sys.modules


def test_paper_subset_unavailable(monkeypatch, fixture_root):
    monkeypatch.setattr(subsets_mod, "_proactivebench_source", lambda: None)
    subsets_mod.paper_subset.cache_clear()
    with pytest.raises(DataError, match="pip install proactivebench"):
        gym.make("ProactiveBench/ROD-v0", data_root=fixture_root, subset="paper")
    env = gym.make("ProactiveBench/ROD-v0", data_root=fixture_root)
    assert env.unwrapped.episodes.subset == "all" and env.unwrapped.sample_ids == [0, 1]
    subsets_mod.paper_subset.cache_clear()


def test_subset_file(tmp_path, fixture_root):
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps({"coco2014": [0, 2], "ROD": [1]}))
    env = gym.make("ProactiveBench/COCO-v0", data_root=fixture_root, subset_file=str(ids))
    assert env.unwrapped.sample_ids == [0, 2] and env.unwrapped.episodes.subset == f"file:{ids}"
    with pytest.raises(DataError, match="no id list for QuickDraw"):
        gym.make("ProactiveBench/QuickDraw-v0", data_root=fixture_root, subset_file=str(ids))
    bad = tmp_path / "bad.json"
    bad.write_text('{"Rodd": [1]}')
    with pytest.raises(DataError, match="unknown scenario 'Rodd'"):
        gym.make("ProactiveBench/ROD-v0", data_root=fixture_root, subset_file=str(bad))


def test_unknown_settings_are_named(fixture_root):
    with pytest.raises(TypeError, match=r"unknown env setting\(s\) \['hints'\]"):
        gym.make("ProactiveBench/ROD-v0", data_root=fixture_root, hints=True)
    with pytest.raises(ValueError, match="mode must be one of"):
        gym.make("ProactiveBench/ROD-v0", data_root=fixture_root, mode="chat")


# ----- the paper's other settings ---------------------------------------------------------------------


def test_random_invalid_options(make_env):
    env = make_env("ROD", random_options=True)
    obs, info = env.reset(options={"sample_id": 0})
    options = info["options"][:3]
    assert options[1] == "I cannot tell."
    assert options == ["Increase the brightness.", "I cannot tell.", "Wait for the occlusion to disappear."]
    again = make_env("ROD", random_options=True).reset(options={"sample_id": 0})[1]["options"]
    assert again == info["options"]  # deterministic per sample
    obs, reward, terminated, truncated, info = env.step("A")  # any proactive option moves the scene randomly
    assert info["outcome"] == "useful_suggestion" and info["frame"] == 6 and reward == 0.5
    _, _, _, _, info = env.step("C")  # the random action at turn 2 is left again
    assert info["frame"] == 5
    _, _, _, _, info = env.step("B")
    assert info["outcome"] == "abstain"
    # ImageNet-C: the useful fix is gone, any fix lowers the severity, the last turn still wants the category
    env = make_env("ImageNet-C", random_options=True)
    _, info = env.reset(options={"sample_id": 0})
    assert "Deblur the image." not in info["options"]
    steps = [env.step("A") for _ in range(4)]
    assert [s[4]["frame"] for s in steps] == [4, 3, 2, 1]
    _, _, _, _, info = env.step("A")
    assert info["outcome"] == "useless_suggestion"


def test_random_options_leaving_the_video_stops_the_episode(make_env):
    env = make_env("ChangeIt", random_options=True)
    _, info = env.reset(options={"sample_id": 2})  # 3 frames, step 3: any move leaves the video
    assert info["options"][1] == "I cannot tell." and len(info["options"]) == 3 + 4
    obs, reward, terminated, truncated, info = env.step("A")
    assert (info["outcome"], terminated, info["frame"]) == ("useless_suggestion", True, 1)
    assert info["suggestions"] == [] and info["turn"] == 1


def test_in_context_examples(make_env):
    env = make_env("ROD", icl_examples=1)
    obs, info = env.reset(options={"sample_id": 0})
    demo = obs["history"]
    # the other sample (banana, reference 9): one random move, then the answer on the frame it reaches (8,
    # not the reference), as the authors' demo; bare texts as replies
    assert [t["reply"] for t in demo] == ["Move the block to the right.", "Banana."]
    assert demo[0]["dialogue"].startswith("What is the object behind the blocks? Choose from")
    assert demo[0]["image"].shape == (512, 682, 3) and tuple(demo[0]["image"][0, 0]) == (70, 1, 0)
    assert tuple(demo[1]["image"][0, 0]) == (80, 1, 0)
    assert obs["image"].shape == (6, 8, 3)
    obs, *_ = env.step("A")
    assert len(obs["history"]) == 2  # without history=True the query's own turns are not kept
    with pytest.raises(ValueError, match="ROD and MVP-N only"):
        make_env("COCO", icl_examples=1)
    with pytest.raises(ValueError, match="need more than 1 other samples"):
        make_env("ROD", icl_examples=3).reset(options={"sample_id": 0})
    mvpn = make_env("MVP-N", icl_examples=1)
    with pytest.raises(ValueError, match="need more than 0 other samples"):
        mvpn.reset(seed=0)

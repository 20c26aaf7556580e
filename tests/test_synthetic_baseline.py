"""The perception baseline: clear frames carry the answer, first frames do not, and the agent acts sanely."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import proactive_gym  # noqa: F401  (registers the envs)
from proactive_gym.agents import make_agent
from proactive_gym.baselines.perception import PerceptionAgent, PerceptionModel, accuracy_table
from proactive_gym.data.synthetic import generate
from proactive_gym.protocol import is_abstain

NAMES = ["ROD", "MVP-N", "ImageNet-C", "ChangeIt"]


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("baseline")
    train = generate(base / "train", split="train", seed=0, size=240, scenarios=NAMES)
    test = generate(base / "test", split="test", seed=0, size=40, scenarios=NAMES)
    return train, test


@pytest.fixture(scope="module")
def model(roots):
    return PerceptionModel.train(roots[0], NAMES)


def test_reference_frames_are_clear_and_first_frames_are_not(model, roots):
    table = accuracy_table(model, roots[1])
    assert set(table) == set(NAMES)
    for name, row in table.items():
        assert row["n"] == 40
        assert row["reference"] >= 90.0, (name, row)
        assert row["first"] <= 40.0, (name, row)


def test_agent_answers_or_suggests_and_never_abstains(model, roots):
    agent = PerceptionAgent(model=model)
    for name in NAMES:
        env = gym.make(f"ProactiveBench/{name}-v0", data="released", data_root=roots[1], subset="all")
        solved = 0
        for sid in env.unwrapped.sample_ids:
            obs, info = env.reset(options={"sample_id": sid})
            done = False
            while not done:
                visible = {k: v for k, v in info.items() if k != "oracle"}  # the agent never needs it
                reply = agent.act([obs], [visible])[0]
                letter, text = reply.split(". ", 1)
                assert info["options"][ord(letter) - 65] == text and not is_abstain(text)
                if name == "ImageNet-C" and text not in info["options"][-4:]:
                    assert text in info["options"][:-4]
                obs, _, term, trunc, info = env.step(reply)
                done = term or trunc
            solved += info["outcome"] == "correct"
        # better than answering the first frame blindly (chance: 25%)
        assert solved / len(env.unwrapped.sample_ids) >= 0.4, (name, solved)
        env.close()


def test_agent_is_registered_under_its_spec(model):
    agent = make_agent("perception", threshold=0.7, model=model)
    assert isinstance(agent, PerceptionAgent) and agent.name == "perception"
    assert agent.describe()["threshold"] == 0.7


def test_the_trained_model_is_cached_by_what_it_was_trained_on(tmp_path, monkeypatch):
    from proactive_gym.baselines import perception

    root = generate(tmp_path / "train", split="train", seed=0, size=12)
    other = generate(tmp_path / "train-1", split="train", seed=1, size=12)
    cache = tmp_path / "cache"
    first = perception.cached_model(root, cache_dir=cache)
    files = sorted((cache / "perception").iterdir())
    assert [f.name for f in files] == [f"{perception.cache_key(root, list(proactive_gym.SCENARIOS))}.npz"]

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the model is cached")

    monkeypatch.setattr(perception.PerceptionModel, "train", no_training)
    again = perception.cached_model(root, cache_dir=cache)
    assert sorted(again.categories) == sorted(first.categories) == sorted(proactive_gym.SCENARIOS)
    for name, clf in first.categories.items():
        assert clf.labels == again.categories[name].labels
        assert np.array_equal(clf.weights, again.categories[name].weights)
        assert np.array_equal(first.clarity[name].mean, again.clarity[name].mean)
    assert np.array_equal(first.fixes.weights, again.fixes.weights) and first.fixes.labels == again.fixes.labels
    with pytest.raises(AssertionError, match="trained again"):
        perception.cached_model(other, cache_dir=cache)  # other data: another key
    (cache / "perception" / files[0].name).write_bytes(b"not an npz")
    monkeypatch.undo()
    assert perception.cached_model(root, cache_dir=cache).categories.keys() == first.categories.keys()
    assert perception.load_model(files[0]).categories["ROD"].labels == first.categories["ROD"].labels

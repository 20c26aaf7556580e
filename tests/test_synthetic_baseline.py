"""The perception baseline: clear frames carry the answer, first frames do not, and the agent acts sanely."""

from __future__ import annotations

import gymnasium as gym
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

"""Shared fixtures: the hand-made released-format data set of proactive_gym.data.fixtures, and the tiny
offline Qwen3-VL (random weights) the training tests train."""

from __future__ import annotations

import gymnasium as gym
import pytest

import proactive_gym  # noqa: F401  (registers the envs)
from proactive_gym.data.fixtures import write_fixture


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("released"))


@pytest.fixture
def make_env(fixture_root):
    made = []

    def make(name, **kwargs):
        kwargs.setdefault("data_root", fixture_root)
        kwargs.setdefault("subset", "all")
        env = gym.make(f"ProactiveBench/{name}-v0", **kwargs)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Directory of the tiny Qwen3-VL built offline with seed 0 (skipped without the training extra)."""
    pytest.importorskip("trl")
    from proactive_gym.models import build_tiny_qwen3_vl

    return str(build_tiny_qwen3_vl(tmp_path_factory.mktemp("tiny") / "model", seed=0))

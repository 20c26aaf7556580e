"""Gymnasium vector envs: every registered id works with ``gym.make_vec`` in async mode and its default
shared memory, and gives exactly what the sync vector env gives."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest

import proactive_gym  # noqa: F401  (registers the envs)
from proactive_gym.spaces import FreeText, Image, SharedBatch

IDS = sorted(k for k in gym.registry if k.startswith("ProactiveBench/"))


def test_the_registry_holds_the_seven_ids():
    assert IDS == sorted(proactive_gym.ENV_IDS) and len(IDS) == 7


@pytest.mark.parametrize("env_id", IDS)
def test_async_with_shared_memory_matches_sync(env_id, fixture_root):
    kwargs = {"data_root": fixture_root, "subset": "all"}
    venv = gym.make_vec(env_id, 2, vectorization_mode="async", **kwargs)  # shared_memory=True: the default
    ref = gym.make_vec(env_id, 2, vectorization_mode="sync", **kwargs)
    try:
        assert venv.shared_memory
        obs, info = venv.reset(seed=5)
        want, want_info = ref.reset(seed=5)
        for _ in range(4):  # enough for episodes to end and auto-reset
            assert obs["dialogue"] == want["dialogue"] and isinstance(obs["dialogue"], tuple)
            assert len(obs["image"]) == 2
            for got, exp in zip(obs["image"], want["image"], strict=True):
                assert got.dtype == np.uint8 and np.array_equal(got, exp)
            assert list(info["sample_id"]) == list(want_info["sample_id"])
            actions = tuple(want_info["oracle"])
            obs, reward, term, trunc, info = venv.step(actions)
            want, want_reward, want_term, want_trunc, want_info = ref.step(actions)
            assert reward.tolist() == want_reward.tolist() and term.tolist() == want_term.tolist()
            assert trunc.tolist() == want_trunc.tolist()
    finally:
        venv.close()
        ref.close()


def test_shared_batches_are_live_and_copy_to_tuples():
    from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

    space = gym.spaces.Dict({"image": Image(max_pixels=64), "dialogue": FreeText(max_length=8)})
    memory = create_shared_memory(space, n=2)
    batch = read_from_shared_memory(space, memory, n=2)
    assert isinstance(batch["dialogue"], SharedBatch)
    write_to_shared_memory(
        space, 1, {"image": np.full((2, 3, 3), 7, np.uint8), "dialogue": "Ünï 漢😀"}, memory
    )
    assert batch["dialogue"][1] == "Ünï 漢😀" and batch["dialogue"][0] == ""
    snapshot = copy.deepcopy(batch)
    assert type(snapshot["image"]) is tuple and snapshot["image"][1].shape == (2, 3, 3)
    write_to_shared_memory(space, 1, {"image": np.zeros((8, 8, 3), np.uint8), "dialogue": "B."}, memory)
    assert batch["dialogue"][1] == "B." and batch["image"][1].shape == (8, 8, 3)  # live
    assert snapshot["dialogue"][1] == "Ünï 漢😀" and int(snapshot["image"][1].max()) == 7  # a copy
    with pytest.raises(ValueError, match=r"9x9 pixels does not fit .*'shared_memory': False"):
        write_to_shared_memory(space, 0, {"image": np.zeros((9, 9, 3), np.uint8), "dialogue": ""}, memory)

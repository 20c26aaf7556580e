"""The built-in synthetic scenarios: format, dynamics through the real env, determinism, splits, cache."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import proactive_gym  # noqa: F401  (registers the envs)
from proactive_gym.data.synthetic import (
    GENERATOR_VERSION,
    MANIFEST,
    SCENARIO_MODULES,
    SyntheticCacheError,
    ensure_synthetic,
    generate,
    verify,
)
from proactive_gym.data.synthetic.corruptions import FIX_FOR, corrupt
from proactive_gym.protocol import is_abstain
from proactive_gym.scenarios import SCENARIOS
from proactive_gym.scenarios.imagenet_c import FIX_KEYWORDS as FIX_KEYS

SIZE = 8


@pytest.fixture(scope="module")
def test_root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("syn-test"), split="test", seed=0, size=SIZE)


@pytest.fixture(scope="module")
def train_root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("syn-train"), split="train", seed=0, size=SIZE)


def entries(root: Path, name: str) -> list[dict]:
    path = root / f"{SCENARIOS[name].prefix}_preprocessed.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scenario_order_and_prefixes_match_the_core():
    assert list(SCENARIO_MODULES) == list(SCENARIOS)
    assert [m.PREFIX for m in SCENARIO_MODULES.values()] == [s.prefix for s in SCENARIOS.values()]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_records_follow_the_released_format(test_root, name):
    scenario = SCENARIOS[name]
    recs = entries(test_root, name)
    assert [r["id"] for r in recs] == list(range(SIZE))
    for r in recs:
        assert set(scenario.required_fields) <= set(r)
        assert len(r["categories"]) == 4 and len(set(r["categories"])) == 4
        assert all(c.endswith(".") for c in r["categories"]) and r["answer"] in r["categories"]
        assert sum(is_abstain(o) for o in r["options"]) == 1
        useful = [o for o in r["options"] if not is_abstain(o)]
        if name == "ROD":
            assert sorted(useful) == ["Move the block to the left.", "Move the block to the right."]
            assert (r["first_image"], r["num_images"]) == (7, 14)
        elif name in ("VSOD", "ChangeIt"):
            assert "Rewind the video." in useful and len(useful) == 2
            assert any(o.startswith("Wait for the ") for o in useful)
        elif name == "MVP-N":
            assert len(useful) == 1
            assert any(
                k in useful[0].lower() for k in ("rotate", "view", "angle", "orientation", "different")
            )
            assert r["first_image"] == r["valid_images"][0] and r["reference_image"] == r["valid_images"][-1]
        elif name == "ImageNet-C":
            assert len(useful) == 4 and r["quality_answer"] in useful
            assert all(sum(k in o.lower() for k in FIX_KEYS) == 1 for o in useful)
            assert r["quality_answer"] == FIX_FOR[r["corruption"]]
            assert (r["first_image"], r["num_images"], r["reference_image"]) == (5, 5, 1)
        elif name == "QuickDraw":
            assert len(useful) == 1
            assert sum(k in useful[0].lower() for k in ("details", "quickdraw", "drawing", "sketch")) == 1
            assert (r["first_image"], r["reference_image"]) == (0, r["num_images"] - 1)
        elif name == "COCO":
            wanted = {"zoom": ["Move farther from the object."]}.get(r["direction"])
            assert len(useful) == (1 if "_" not in r["direction"] else 2)
            if wanted:
                assert useful == wanted


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_oracle_solves_every_episode_through_the_env_and_abstain_none(test_root, name):
    env = gym.make(f"ProactiveBench/{name}-v0", data="released", data_root=test_root, subset="all")
    assert env.unwrapped.sample_ids == list(range(SIZE))
    for sid in env.unwrapped.sample_ids:
        entry = next(e for e in entries(test_root, name) if e["id"] == sid)
        obs, info = env.reset(options={"sample_id": sid})
        assert info["data_source"] == "released" and obs["image"].ndim == 3
        first = obs["image"]
        done, steps = False, 0
        while not done:
            last_frame = info["frame"]
            obs, reward, term, trunc, info = env.step(info["oracle"])
            done, steps = term or trunc, steps + 1
        assert info["outcome"] == "correct" and steps == info["min_turns"] <= info["max_turns"]
        if name != "COCO":  # the oracle answers on the reference frame
            assert last_frame == entry["reference_image"]
        assert not np.array_equal(first, obs["image"]) or name == "COCO"
        obs, info = env.reset(options={"sample_id": sid})
        abstain = next(o for o in info["options"] if is_abstain(o))
        _, reward, term, _, info = env.step(abstain)
        assert (term, reward, info["outcome"]) == (True, 0.0, "abstain")
    env.close()


def test_coco_first_crop_misses_the_object_and_last_crop_holds_it(test_root):
    scenario = SCENARIOS["COCO"]
    from proactive_gym.baselines.perception import oracle_final_state

    for e in entries(test_root, "COCO"):
        x, y, w, h = e["bbox"]
        first = scenario.crop_box(e, scenario.initial_state(e))
        last = scenario.crop_box(e, oracle_final_state(scenario, e))
        ix = max(0, min(first[2], x + w) - max(first[0], x)) * max(0, min(first[3], y + h) - max(first[1], y))
        assert ix <= (0.16 if e["direction"] != "zoom" else 1.0) * w * h
        assert last[0] <= x and last[1] <= y and last[2] >= x + w - 1 and last[3] >= y + h - 1
        if e["direction"] == "zoom":  # close-up inside the object, last crop = whole image
            assert first[0] >= x and first[2] <= x + w and last == (0, 0, 224, 168)


def test_same_seed_same_bytes_and_scenarios_independent(tmp_path, test_root):
    again = generate(tmp_path / "a", split="test", seed=0, size=SIZE)
    m1 = json.loads((test_root / MANIFEST).read_text())
    m2 = json.loads((again / MANIFEST).read_text())
    assert m1 == m2 and m1["generator_version"] == GENERATOR_VERSION
    alone = generate(tmp_path / "b", split="test", seed=0, size=SIZE, scenarios=["QuickDraw"])
    m3 = json.loads((alone / MANIFEST).read_text())["files"]
    assert m3 and all(m1["files"][k] == v for k, v in m3.items())
    other = json.loads((generate(tmp_path / "c", "test", seed=1, size=SIZE) / MANIFEST).read_text())
    assert other["files"]["QuickDraw_preprocessed.jsonl"] != m1["files"]["QuickDraw_preprocessed.jsonl"]


def test_train_and_test_are_disjoint(test_root, train_root):
    for name in SCENARIOS:
        test, train = entries(test_root, name), entries(train_root, name)
        assert {e["id"] for e in test}.isdisjoint({e["id"] for e in train})
        scenario = SCENARIOS[name]

        def refs(root, recs, scenario=scenario):
            keys = [scenario.image_key(e, scenario.initial_state(e), reference=True) for e in recs]
            return {hashlib.sha256((root / k).read_bytes()).hexdigest() for k in keys}

        assert refs(test_root, test).isdisjoint(refs(train_root, train))


def test_generate_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        generate(tmp_path, size=1)
    with pytest.raises(ValueError, match="unknown scenario"):
        generate(tmp_path / "new", size=1, scenarios=["Nope"])


def test_cache_generates_once_and_repairs_damage(tmp_path, caplog):
    root = ensure_synthetic("test", seed=3, size=2, cache_dir=tmp_path)
    assert root == tmp_path / "synthetic" / GENERATOR_VERSION / "seed3-n2" / "test" and verify(root) == []
    stamp = (root / MANIFEST).stat().st_mtime_ns
    assert ensure_synthetic("test", seed=3, size=2, cache_dir=tmp_path) == root
    assert (root / MANIFEST).stat().st_mtime_ns == stamp  # not regenerated
    files = json.loads((root / MANIFEST).read_text())["files"]
    png = next(root / k for k in files if k.endswith(".png"))
    good = png.read_bytes()
    png.write_bytes(good[:100])  # truncated: caught by the cheap check
    assert verify(root) and ensure_synthetic("test", seed=3, size=2, cache_dir=tmp_path) == root
    assert png.read_bytes() == good and "regenerating" in caplog.text
    flipped = bytearray(good)
    flipped[-20] ^= 0xFF  # same size: only the full check sees it
    png.write_bytes(bytes(flipped))
    assert verify(root) == [] and verify(root, full=True)
    ensure_synthetic("test", seed=3, size=2, cache_dir=tmp_path, full_check=True)
    assert png.read_bytes() == good
    png.unlink()
    assert ensure_synthetic("test", seed=3, size=2, cache_dir=tmp_path) == root and png.read_bytes() == good
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["generator_version"] = "old"
    (root / MANIFEST).write_text(json.dumps(manifest))
    assert "generator version" in verify(root)[0]
    ensure_synthetic("test", seed=3, size=2, cache_dir=tmp_path)
    assert verify(root) == []


def test_interrupted_generation_leaves_nothing_half_written(tmp_path, monkeypatch):
    import proactive_gym.data.synthetic.cache as cache

    def boom(out, **kwargs):
        (Path(out) / "partial.jsonl").write_text("{")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache, "generate", boom)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic("test", seed=4, size=1, cache_dir=tmp_path)
    parent = tmp_path / "synthetic" / GENERATOR_VERSION / "seed4-n1"
    assert not (parent / "test").exists() and not [p for p in parent.iterdir() if "tmp" in p.name]
    monkeypatch.undo()
    (parent / ".test-tmp-killed").mkdir()  # what a SIGKILLed generation leaves behind
    assert verify(ensure_synthetic("test", seed=4, size=1, cache_dir=tmp_path)) == []
    assert sorted(p.name for p in parent.iterdir()) == [".test.lock", "test"]


def test_unwritable_cache_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SyntheticCacheError, match="PROACTIVE_GYM_CACHE"):
        ensure_synthetic("test", size=1, cache_dir=blocker / "cache")


def test_two_threads_share_one_generation(tmp_path):
    results, errors = [], []

    def work():
        try:
            results.append(ensure_synthetic("train", seed=5, size=1, cache_dir=tmp_path))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1 and verify(results[0], full=True) == []
    assert json.loads((results[0] / MANIFEST).read_text())["split"] == "train"


def test_env_uses_the_cache_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("PROACTIVE_GYM_CACHE", str(tmp_path))
    monkeypatch.delenv("PROACTIVE_GYM_DATA", raising=False)
    env = gym.make("ProactiveBench/ChangeIt-v0", data="synthetic", synthetic_size=3)
    obs, info = env.reset(seed=0)
    assert info["data_source"] == "synthetic" and len(env.unwrapped.sample_ids) == 3
    # the env generates only its own scenario; a cached full split is used when there is one
    own = tmp_path / "synthetic" / GENERATOR_VERSION / "seed0-n3" / "test~ChangeIt"
    assert env.unwrapped.episodes.root == own
    assert sorted(p.name for p in own.glob("*.jsonl")) == ["ChangeIt_preprocessed.jsonl"]
    full = ensure_synthetic("test", seed=0, size=3)
    env = gym.make("ProactiveBench/ChangeIt-v0", data="synthetic", synthetic_size=3)
    assert env.unwrapped.episodes.root == full and (full / MANIFEST).is_file()
    assert env.reset(seed=0)[1] == info  # same bytes, same episodes, either way


def test_corruptions_are_reproducible_and_leave_the_global_rng_alone():
    img = np.random.default_rng(0).integers(0, 256, size=(48, 48, 3), dtype=np.uint8)
    np.random.seed(123)
    for name in FIX_FOR:
        a, b = corrupt(img, name, 5, seed=7), corrupt(img, name, 5, seed=7)
        assert a.shape == img.shape and a.dtype == np.uint8 and np.array_equal(a, b), name
    assert not np.array_equal(corrupt(img, "gaussian_noise", 3, 1), corrupt(img, "gaussian_noise", 3, 2))
    assert np.random.randint(1 << 30) == np.random.RandomState(123).randint(1 << 30)
    with pytest.raises(ValueError, match="unknown or unsupported"):
        corrupt(img, "glass_blur", 1, 0)
    with pytest.raises(ValueError, match="severity"):
        corrupt(img, "fog", 6, 0)


def test_same_bytes_in_another_process_with_another_hash_seed(tmp_path, test_root):
    import os
    import subprocess
    import sys

    code = (
        "import sys; from proactive_gym.data.synthetic import generate; generate(sys.argv[1], 'test', 0, 3)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "p")], check=True, env=env)
    theirs = json.loads((tmp_path / "p" / MANIFEST).read_text())["files"]
    mine = json.loads((test_root / MANIFEST).read_text())["files"]
    # the first 3 episodes of each scenario are the same files as in the size-8 run; the JSONL differs in length
    shared = [k for k in theirs if not k.endswith(".jsonl")]
    assert len(shared) > 50 and all(theirs[k] == mine[k] for k in shared)
